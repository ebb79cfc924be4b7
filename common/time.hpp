// Time as text, in one place: UTC only, the formats of the audit log,
// reports, logs and the API. Thread-safety: pure functions (the *_now ones
// read the system clock).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hfv {

// Seconds since 1970-01-01T00:00:00Z, now.
std::int64_t unix_seconds_now();

// RFC 3339 in UTC with milliseconds: "2026-11-22T08:01:02.345Z".
std::string utc_timestamp(std::chrono::system_clock::time_point t);
std::string utc_timestamp_now();

// RFC 3339 in UTC to the second: "2026-11-22T08:01:02Z".
std::string format_utc_seconds(std::int64_t unix_seconds);

// Seconds since the epoch of "YYYY-MM-DD" (midnight UTC) or
// "YYYY-MM-DD[T ]HH:MM[:SS[.fraction]][Z]" read as UTC; nullopt for anything
// else (an offset other than Z, an impossible date or time).
std::optional<std::int64_t> parse_utc_seconds(std::string_view text);

}  // namespace hfv
