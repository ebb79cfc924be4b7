#include <catch2/catch.hpp>

#include "broker/api/rate_limiter.hpp"

using hfv::broker::RateLimiter;
using namespace std::chrono_literals;

TEST_CASE("unit: rate limiter allows a burst, then the rate", "[rate-limit]") {
  RateLimiter limiter;
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  for (int i = 0; i < 3; ++i) CHECK_FALSE(limiter.take("cs", 2.0, 3.0, t0).has_value());
  auto wait = limiter.take("cs", 2.0, 3.0, t0);
  REQUIRE(wait.has_value());
  CHECK(*wait == 500ms);                                      // one token at 2/s
  CHECK_FALSE(limiter.take("other", 2.0, 3.0, t0).has_value());  // buckets are per principal
  CHECK(limiter.take("cs", 2.0, 3.0, t0 + 400ms).has_value());
  CHECK_FALSE(limiter.take("cs", 2.0, 3.0, t0 + 600ms).has_value());
  // Never more than the burst, however long the pause.
  for (int i = 0; i < 3; ++i) CHECK_FALSE(limiter.take("cs", 2.0, 3.0, t0 + 1h).has_value());
  CHECK(limiter.take("cs", 2.0, 3.0, t0 + 1h).has_value());
}
