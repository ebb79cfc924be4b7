#include <catch2/catch.hpp>

#include "common/money.hpp"

using hfv::Money;

TEST_CASE("unit: Money parses decimal-yuan strings exactly", "[money]") {
  CHECK(Money::parse("0")->fen() == 0);
  CHECK(Money::parse("1234.56")->fen() == 123456);
  CHECK(Money::parse("1234.5")->fen() == 123450);
  CHECK(Money::parse("-0.05")->fen() == -5);
  CHECK(Money::parse("999999999999999.99")->fen() == 99999999999999999);
}

TEST_CASE("unit: Money rejects anything that is not a plain decimal amount", "[money]") {
  for (const char* bad : {"", "-", ".5", "1.", "1.234", "1,000.00", " 1.00", "1.00 ", "+1", "1e3", "abc",
                          "1.0a", "--1", "1000000000000000.00"}) {
    INFO(bad);
    CHECK_FALSE(Money::parse(bad).has_value());
  }
}

TEST_CASE("unit: Money formats with two decimals and round-trips", "[money]") {
  CHECK(Money::from_fen(0).to_string() == "0.00");
  CHECK(Money::from_fen(5).to_string() == "0.05");
  CHECK(Money::from_fen(-5).to_string() == "-0.05");
  CHECK(Money::from_fen(123456).to_string() == "1234.56");
  CHECK(Money::from_fen(INT64_MIN).to_string() == "-92233720368547758.08");
  for (const char* s : {"0.00", "1.01", "20640.00", "-3.10"}) CHECK(Money::parse(s)->to_string() == s);
}

TEST_CASE("unit: Per-capita division rounds to the nearest fen, halves away from zero", "[money]") {
  CHECK(Money::from_fen(100).divide_round_half_up(3).fen() == 33);   // 33.33 -> 33
  CHECK(Money::from_fen(200).divide_round_half_up(3).fen() == 67);   // 66.67 -> 67
  CHECK(Money::from_fen(3).divide_round_half_up(2).fen() == 2);      // 1.5 -> 2
  CHECK(Money::from_fen(-3).divide_round_half_up(2).fen() == -2);    // -1.5 -> -2
  CHECK(Money::from_fen(1250050).divide_round_half_up(2).fen() == 625025);
}
