// RateLimiter: one token bucket per principal. take() spends a token if one
// is available; otherwise it says how long until the next one. Pure logic
// with the clock passed in, so it is tested without waiting.
// Thread-safety: not thread-safe; the Service uses it on its I/O thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>

namespace hfv::broker {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  // nullopt if allowed; otherwise the wait until a token is available.
  std::optional<std::chrono::milliseconds> take(const std::string& key, double rate_per_second, double burst,
                                                Clock::time_point now);

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point last;
  };
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace hfv::broker
