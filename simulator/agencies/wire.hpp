// Small helpers the simulated agencies share: JSON replies, strict checks of
// dataset values (decimal-yuan amounts, ISO dates), request-body parsing and
// a validator for list-shaped dataset records. Each agency still answers in
// its own wire shape; only these mechanics are common.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "simulator/agency.hpp"

namespace hfv::sim::wire {

std::string dump(const Json& j);
Reply json_reply(int status, const Json& body);

// -?digits(.d{1,2})?
bool is_decimal_yuan(std::string_view s);
// YYYY-MM-DD naming a real day.
bool is_iso_date(std::string_view s);
bool is_json_media_type(std::string_view content_type);
// An integer JSON value >= 1.
std::optional<std::uint64_t> positive_integer(const Json& v);

// The body of a JSON POST, or nullopt if the content type is not JSON or
// the body is not a JSON object.
std::optional<Json> json_object_body(const AgencyRequest& request);

// Validates a list of record objects: every field in `strings` must be a
// non-empty string, `amounts` decimal-yuan strings, `dates` YYYY-MM-DD;
// fields in `optional_strings` may be absent; anything else is an error.
std::optional<std::string> validate_list(const Json& records, std::initializer_list<const char*> strings,
                                         std::initializer_list<const char*> amounts,
                                         std::initializer_list<const char*> dates,
                                         std::initializer_list<const char*> optional_strings);

// Decimal-yuan string to integer fen ("12.3" -> 1230). Precondition: is_decimal_yuan.
std::int64_t yuan_to_fen(std::string_view s);

// A decimal-yuan string that is not negative.
bool is_non_negative_yuan(std::string_view s);
// YYYY-MM with a month 01-12 and a year from 1900.
bool is_year_month(std::string_view s);
// Integer fen as "1234.56" (always two decimals; "-0.05" for negatives).
std::string fen_to_yuan(std::int64_t fen);

// Checks that `r` (at `at`, e.g. "[2]") is an object holding every key of
// `required`, and no key outside `required` and `optional`. Returns the
// problem, or nullopt.
std::optional<std::string> check_keys(const Json& r, const std::string& at,
                                      std::initializer_list<const char*> required,
                                      std::initializer_list<const char*> optional);
// `r[key]` is a string drawn from `allowed`; nullopt when it is.
std::optional<std::string> check_enum(const Json& r, const std::string& at, const char* key,
                                      std::initializer_list<const char*> allowed);
// `r[key]` is a non-empty string.
std::optional<std::string> check_string(const Json& r, const std::string& at, const char* key);
// `r[key]` is a non-negative decimal-yuan string.
std::optional<std::string> check_amount(const Json& r, const std::string& at, const char* key);
// "[i]" for list position i.
std::string index_at(std::size_t i);

}  // namespace hfv::sim::wire
