#include "broker/api/refusal_tally.hpp"

#include <algorithm>
#include <vector>

namespace hfv::broker {

namespace {

// "key:count,..." of the `top` largest counts, largest first; "+N more"
// when some are left out.
std::string top_counts(const std::map<std::string, std::uint64_t>& counts, std::size_t top) {
  std::vector<std::pair<std::string, std::uint64_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (std::size_t i = 0; i < sorted.size() && i < top; ++i) {
    out += (out.empty() ? "" : ",") + sorted[i].first + ":" + std::to_string(sorted[i].second);
  }
  if (sorted.size() > top) out += ",+" + std::to_string(sorted.size() - top) + " more";
  return out;
}

}  // namespace

RefusalTally::Verdict RefusalTally::note(const std::string& address, std::string_view endpoint,
                                         std::string_view code, Clock::time_point now,
                                         const std::string& wall_time) {
  if (!started_) {
    started_ = now;
    started_wall_ = wall_time;
  }
  if (buckets_.take(address, settings_.rate_per_second, settings_.burst, now)) {
    ++throttled_;
    ++throttled_total_;
    return Verdict::kThrottle;
  }
  ++refused_;
  const bool known = by_address_.contains(address) || by_address_.size() < settings_.max_addresses;
  ++by_address_[known ? address : std::string("other")];
  ++by_endpoint_[std::string(endpoint)];
  ++by_code_[std::string(code)];
  return Verdict::kAnswer;
}

std::optional<RefusalTally::Clock::time_point> RefusalTally::interval_end() const {
  if (!started_) return std::nullopt;
  return *started_ + settings_.interval;
}

std::optional<audit::AuditRecord> RefusalTally::take(Clock::time_point now, bool flush) {
  if (!started_ || (!flush && now < *started_ + settings_.interval)) return std::nullopt;
  audit::AuditRecord r;
  r.action = "request.refused.unidentified";
  r.principal = "unidentified";
  r.status = "counted";
  r.detail = "from=" + started_wall_ + " refused=" + std::to_string(refused_) +
             " throttled=" + std::to_string(throttled_) + " addresses=" + std::to_string(by_address_.size()) +
             " top=" + top_counts(by_address_, 5) + " endpoints=" + top_counts(by_endpoint_, 8) +
             " codes=" + top_counts(by_code_, 4);
  started_.reset();
  refused_ = throttled_ = 0;
  by_address_.clear();
  by_endpoint_.clear();
  by_code_.clear();
  buckets_ = RateLimiter();  // the buckets of this interval's addresses, not kept for ever
  return r;
}

}  // namespace hfv::broker
