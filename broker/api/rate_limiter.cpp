#include "broker/api/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace hfv::broker {

std::optional<std::chrono::milliseconds> RateLimiter::take(const std::string& key, double rate_per_second,
                                                           double burst, Clock::time_point now) {
  auto [it, created] = buckets_.try_emplace(key, Bucket{burst, now});
  Bucket& b = it->second;
  if (!created) {
    const double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst, b.tokens + std::max(0.0, elapsed) * rate_per_second);
    b.last = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  const double wait_s = (1.0 - b.tokens) / rate_per_second;
  return std::chrono::milliseconds(static_cast<long>(std::ceil(wait_s * 1000.0)));
}

}  // namespace hfv::broker
