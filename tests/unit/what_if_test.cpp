// The what-if's request checks and its formula-safe CSV cells
// (broker/reviews/what_if.hpp, docs/api.md "What-if"); the whole job runs
// against the real daemon in tests/integration/what_if_test.cpp.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <variant>

#include "broker/reviews/batch_review.hpp"
#include "broker/reviews/what_if.hpp"

namespace b = hfv::broker;
using nlohmann::json;

namespace {

json harbin_file() {
  std::ifstream in(std::string(HFV_SOURCE_DIR) + "/policies/data/230100.json");
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

// The refusal of `body` for code 230100; fails the test when it is accepted.
b::WhatIfRefusal refusal(const json& body) {
  auto parsed = b::parse_what_if("230100", body.dump());
  REQUIRE(std::holds_alternative<b::WhatIfRefusal>(parsed));
  return std::get<b::WhatIfRefusal>(parsed);
}

}  // namespace

TEST_CASE("what-if request: a loadable candidate of the code over at most 366 days is accepted, with the digest of its canonical text",
          "[what_if]") {
  const json body = {{"policy", harbin_file()}, {"from", "2025-01-01"}, {"to", "2026-01-01"}};
  auto parsed = b::parse_what_if("230100", body.dump());
  REQUIRE(std::holds_alternative<b::WhatIfRequest>(parsed));
  const auto& request = std::get<b::WhatIfRequest>(parsed);
  CHECK(request.candidate->jurisdiction() == "230100");
  CHECK(request.candidate_sha256.size() == 64);
  // Spacing does not change the digest: it is of the canonical text.
  auto spaced = b::parse_what_if("230100", body.dump(2));
  REQUIRE(std::holds_alternative<b::WhatIfRequest>(spaced));
  CHECK(std::get<b::WhatIfRequest>(spaced).candidate_sha256 == request.candidate_sha256);
}

TEST_CASE("what-if request: bad dates, a backwards or over-long period and a malformed or foreign candidate are refused naming the field",
          "[what_if]") {
  const json good = {{"policy", harbin_file()}, {"from", "2026-01-01"}, {"to", "2026-01-31"}};
  json bad = good;
  bad["from"] = "2026-02-30";
  CHECK(refusal(bad).field == "from");
  bad = good;
  bad.erase("to");
  CHECK(refusal(bad).field == "to");
  bad = good;
  bad["to"] = "2025-12-31";
  CHECK(refusal(bad).field == "period");
  bad["to"] = "2027-01-02";  // 367 days
  CHECK(refusal(bad).field == "period");
  bad["to"] = "2027-01-01";  // 366 days: accepted
  CHECK(std::holds_alternative<b::WhatIfRequest>(b::parse_what_if("230100", bad.dump())));
  bad = good;
  bad["policy"].erase("parameters");
  CHECK(refusal(bad).status == 422);
  CHECK(refusal(bad).field == "policy");
  bad["policy"] = "230100.json";
  CHECK(refusal(bad).field == "policy");
  bad = good;
  bad["policy"]["jurisdiction"] = "310000";
  CHECK(refusal(bad).field == "policy");
  bad = good;
  bad["extra"] = 1;
  CHECK(refusal(bad).field == "extra");
  // A member with an empty name (a fuzz target's find): the field still names it.
  bad = good;
  bad[""] = "2026-06-30";
  CHECK(refusal(bad).field == "\"\"");
  CHECK(refusal(bad).message.find("unknown field \"\"") != std::string::npos);
  CHECK(std::get<b::WhatIfRefusal>(b::parse_what_if("230100", "[")).field == "body");
}

TEST_CASE("what-if area: a province holds its cities and districts, a city its districts, a county itself", "[what_if]") {
  CHECK(b::division_within("230102", "230100"));
  CHECK(b::division_within("230100", "230100"));
  CHECK(b::division_within("230102", "230000"));
  CHECK_FALSE(b::division_within("230202", "230100"));
  CHECK(b::division_within("110108", "110108"));
  CHECK_FALSE(b::division_within("110105", "110108"));
}

TEST_CASE("csv text cells: a cell a spreadsheet would read as a formula is prefixed with an apostrophe", "[what_if]") {
  CHECK(b::csv_text_cell("=1+2") == "'=1+2");
  CHECK(b::csv_text_cell("+86") == "'+86");
  CHECK(b::csv_text_cell("-5") == "'-5");
  CHECK(b::csv_text_cell("@SUM(A1)") == "'@SUM(A1)");
  CHECK(b::csv_text_cell("=a,b") == "\"'=a,b\"");
  CHECK(b::csv_text_cell("R-5") == "R-5");
}
