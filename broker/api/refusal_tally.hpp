// RefusalTally: refusals of callers the broker cannot identify (no client
// certificate, or one no principal is registered for). Anyone who reaches
// the port can send those, so they are not audited one by one (that would
// let them fill the audit disk): each interval's refusals become one audit
// record (`request.refused.unidentified`) with the counts per source
// address, endpoint (the route table's pattern, never the raw path) and
// error code, and a token bucket per source address answers the excess
// with 429 before anything else is done. Pure logic with the clock passed
// in, so it is tested without waiting.
// Thread-safety: not thread-safe; the Service uses it on its I/O thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "audit/audit_log.hpp"
#include "broker/api/rate_limiter.hpp"

namespace hfv::broker {

class RefusalTally {
 public:
  using Clock = std::chrono::steady_clock;
  struct Settings {
    std::chrono::seconds interval{60};
    double rate_per_second = 5;  // per source address
    double burst = 20;
    std::size_t max_addresses = 4096;  // counted one by one per interval; more are "other"
  };
  explicit RefusalTally(Settings settings) : settings_(settings) {}

  enum class Verdict { kAnswer, kThrottle };
  // Counts one refusal of an unidentified caller from `address`;
  // kThrottle when that address is over its rate (answer 429 and nothing
  // more). `wall_time` is the UTC time of the first refusal of an interval,
  // for the record.
  Verdict note(const std::string& address, std::string_view endpoint, std::string_view code, Clock::time_point now,
               const std::string& wall_time);

  // The record for the interval that has ended by `now` (or, with `flush`,
  // the one still running), when it counted anything; the tally starts
  // afresh. When the current interval ends: interval_end().
  std::optional<audit::AuditRecord> take(Clock::time_point now, bool flush = false);
  std::optional<Clock::time_point> interval_end() const;

  std::uint64_t throttled_total() const { return throttled_total_; }

 private:
  Settings settings_;
  RateLimiter buckets_;
  std::optional<Clock::time_point> started_;
  std::string started_wall_;
  std::uint64_t refused_ = 0, throttled_ = 0, throttled_total_ = 0;
  std::map<std::string, std::uint64_t> by_address_, by_endpoint_, by_code_;
};

}  // namespace hfv::broker
