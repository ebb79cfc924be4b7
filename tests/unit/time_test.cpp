// common/time.hpp: the one place time becomes text and text becomes time.
#include <catch2/catch.hpp>

#include <chrono>

#include "common/time.hpp"

using namespace std::chrono;

TEST_CASE("unit: time: RFC 3339 timestamps in UTC, to the millisecond and to the second",
          "[time]") {
  const sys_days day = year{2026} / November / 1;
  const system_clock::time_point t = day + hours{8} + minutes{34} + seconds{56} + milliseconds{789};
  CHECK(hfv::utc_timestamp(t) == "2026-11-01T08:34:56.789Z");
  CHECK(hfv::utc_timestamp(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
  CHECK(hfv::format_utc_seconds(0) == "1970-01-01T00:00:00Z");
  CHECK(hfv::format_utc_seconds(-1) == "1969-12-31T23:59:59Z");
  CHECK(hfv::format_utc_seconds(duration_cast<seconds>(t.time_since_epoch()).count()) ==
        "2026-11-01T08:34:56Z");
  const std::string now = hfv::utc_timestamp_now();
  REQUIRE(now.size() == 24);
  CHECK(now[10] == 'T');
  CHECK(now[19] == '.');
  CHECK(now.back() == 'Z');
  // now() and the text of now agree (to the second, either side of a tick).
  const auto before = hfv::unix_seconds_now();
  const auto parsed = hfv::parse_utc_seconds(hfv::utc_timestamp_now());
  REQUIRE(parsed);
  CHECK(*parsed >= before);
  CHECK(*parsed <= hfv::unix_seconds_now());
}

TEST_CASE("unit: time: timestamps parse strictly", "[time]") {
  CHECK(hfv::parse_utc_seconds("1970-01-02") == 86400);
  CHECK(hfv::parse_utc_seconds("2026-11-30T02:00:00.123Z") ==
        hfv::parse_utc_seconds("2026-11-30T02:00:00Z"));
  CHECK(hfv::parse_utc_seconds("2026-11-30 02:00") ==
        hfv::parse_utc_seconds("2026-11-30T02:00:00Z"));
  CHECK(hfv::format_utc_seconds(*hfv::parse_utc_seconds("2026-11-30T02:03:04Z")) ==
        "2026-11-30T02:03:04Z");
  CHECK_FALSE(hfv::parse_utc_seconds("2026-02-30"));
  CHECK_FALSE(hfv::parse_utc_seconds("2026-11-30T25:00:00Z"));
  CHECK_FALSE(hfv::parse_utc_seconds("2026-11-30T02:00:00+08:00"));
  CHECK_FALSE(hfv::parse_utc_seconds("2026-11-30T02:00:00Zjunk"));
  CHECK_FALSE(hfv::parse_utc_seconds("yesterday"));
}
