#include <catch2/catch.hpp>

#include "broker/api/rate_limiter.hpp"
#include "broker/api/refusal_tally.hpp"

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

TEST_CASE("unit: refusals of unidentified callers are tallied per interval, one record each, the excess of an address throttled",
          "[rate-limit][audit]") {
  using hfv::broker::RefusalTally;
  RefusalTally::Settings settings;
  settings.interval = 60s;
  settings.rate_per_second = 1;
  settings.burst = 5;
  settings.max_addresses = 3;
  RefusalTally tally(settings);
  const auto t0 = RefusalTally::Clock::time_point{} + 1h;
  CHECK_FALSE(tally.interval_end().has_value());
  CHECK_FALSE(tally.take(t0, true).has_value());  // nothing counted: no record

  // One address: its burst answered, the rest throttled.
  int answered = 0;
  for (int i = 0; i < 300; ++i) {
    if (tally.note("192.0.2.7", "/v1/verifications", "client_certificate_required", t0, "2026-12-04T10:00:00.000Z") ==
        RefusalTally::Verdict::kAnswer) {
      ++answered;
    }
  }
  CHECK(answered == 5);
  CHECK(tally.throttled_total() == 295);
  // Other addresses have buckets of their own; past max_addresses they are "other".
  for (const char* a : {"192.0.2.8", "192.0.2.9", "192.0.2.10", "192.0.2.11"}) {
    CHECK(tally.note(a, "other", "unknown_client_certificate", t0 + 1s, "") == RefusalTally::Verdict::kAnswer);
  }
  REQUIRE(tally.interval_end() == t0 + 60s);
  CHECK_FALSE(tally.take(t0 + 59s).has_value());  // the interval is still running
  const auto record = tally.take(t0 + 60s);
  REQUIRE(record.has_value());
  CHECK(record->action == "request.refused.unidentified");
  CHECK(record->detail.starts_with("from=2026-12-04T10:00:00.000Z refused=9 throttled=295 addresses=4 "));
  CHECK(record->detail.find("top=192.0.2.7:5,") != std::string::npos);
  CHECK(record->detail.find("other:2") != std::string::npos);  // 192.0.2.10 and .11
  CHECK(record->detail.find("endpoints=/v1/verifications:5,other:4") != std::string::npos);
  CHECK(record->detail.find("codes=client_certificate_required:5,unknown_client_certificate:4") != std::string::npos);
  // A new interval starts afresh, buckets included.
  CHECK_FALSE(tally.interval_end().has_value());
  CHECK(tally.note("192.0.2.7", "/v1/audit", "client_certificate_required", t0 + 61s, "") ==
        RefusalTally::Verdict::kAnswer);
  const auto flushed = tally.take(t0 + 62s, true);
  REQUIRE(flushed.has_value());
  CHECK(flushed->detail.find("refused=1 throttled=0") != std::string::npos);
}
