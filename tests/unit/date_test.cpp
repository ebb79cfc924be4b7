#include <catch2/catch.hpp>

#include "common/date.hpp"

using hfv::Date;

TEST_CASE("unit: Date parses only real YYYY-MM-DD dates", "[date]") {
  CHECK(Date::parse("2024-02-29").has_value());
  CHECK_FALSE(Date::parse("2023-02-29").has_value());
  CHECK_FALSE(Date::parse("2023-13-01").has_value());
  CHECK_FALSE(Date::parse("2023-1-01").has_value());
  CHECK_FALSE(Date::parse("20230101").has_value());
  CHECK_FALSE(Date::parse("1899-12-31").has_value());
  CHECK(Date::parse("2026-11-22")->to_string() == "2026-11-22");
}

TEST_CASE("unit: Date orders and adds months with end-of-month clamping", "[date]") {
  CHECK(*Date::parse("2023-01-01") < *Date::parse("2023-01-02"));
  CHECK(Date::parse("2024-01-31")->add_months(1).to_string() == "2024-02-29");
  CHECK(Date::parse("2024-11-30")->add_months(3).to_string() == "2025-02-28");
  CHECK(Date::parse("2024-06-15")->add_months(-6).to_string() == "2023-12-15");
  CHECK(Date::parse("1970-01-02")->days_since_epoch() == 1);
}

TEST_CASE("unit: Date adds days across months, leap days and years", "[date]") {
  CHECK(Date::parse("2024-02-28")->add_days(1).to_string() == "2024-02-29");
  CHECK(Date::parse("2023-02-28")->add_days(1).to_string() == "2023-03-01");
  CHECK(Date::parse("2025-01-01")->add_days(-1).to_string() == "2024-12-31");
  CHECK(Date::parse("2024-11-01")->add_days(60).to_string() == "2024-12-31");
  CHECK(Date::parse("2024-11-01")->add_days(0) == *Date::parse("2024-11-01"));
}
