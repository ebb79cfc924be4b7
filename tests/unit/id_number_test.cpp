#include <catch2/catch.hpp>

#include "common/id_number.hpp"

using hfv::Date;
using hfv::IdNumberProblem;

namespace {
const Date kToday = *Date::parse("2026-11-22");
}

TEST_CASE("unit: ID check character follows ISO 7064 MOD 11-2", "[id]") {
  // GB 11643-1999's published example.
  CHECK(hfv::id_check_character("11010519491231002") == 'X');
  CHECK(hfv::validate_id_number("11010519491231002X", kToday) == IdNumberProblem::kNone);
  CHECK(hfv::validate_id_number("230102197503120016", kToday) == IdNumberProblem::kNone);
}

TEST_CASE("unit: ID validation names what is wrong", "[id]") {
  CHECK(hfv::validate_id_number("23010219750312001", kToday) == IdNumberProblem::kLength);
  CHECK(hfv::validate_id_number("2301021975031200a6", kToday) == IdNumberProblem::kCharacters);
  CHECK(hfv::validate_id_number("11010519491231002x", kToday) == IdNumberProblem::kCharacters);
  CHECK(hfv::validate_id_number("230102197503120017", kToday) == IdNumberProblem::kChecksum);
  // Check digits made valid for impossible / future birth dates.
  const std::string feb30 = std::string("23010219750230001") + hfv::id_check_character("23010219750230001");
  CHECK(hfv::validate_id_number(feb30, kToday) == IdNumberProblem::kBirthDate);
  const std::string future = std::string("23010220301231001") + hfv::id_check_character("23010220301231001");
  CHECK(hfv::validate_id_number(future, kToday) == IdNumberProblem::kFutureBirth);
}

TEST_CASE("unit: Masked ID numbers keep only the first six and last four", "[id]") {
  CHECK(hfv::mask_id_number("230102197503120016") == "230102********0016");
  CHECK(hfv::mask_id_number("12345") == "*****");
}
