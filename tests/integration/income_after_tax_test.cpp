// Income after tax and contributions end to end (real agency-sim and
// brokerd processes): the tax agency's withheld tax and the social-insurance
// agency's own contributions travel through the adapters into the income
// rule, so a Harbin household whose gross wages are above the standard but
// whose net income is exactly at it is eligible; when the social-insurance
// agency fails, the contributions are unknown and the income rule is
// unknown (indeterminate), never judged on the gross figure.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "stack.hpp"

using hfv::testing::https;
using hfv::testing::member;
using hfv::testing::rule_in;
using hfv::testing::Stack;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kId = "230102197503120016";

// Wages of 1160.00 in each month of the window before 2024-11-01 (2023-11 ..
// 2024-10) with 100.00 tax withheld, and 200.00 of own pension contribution
// each month: 1160.00 - 100.00 - 200.00 = 860.00, Harbin's standard.
fs::path write_dataset(const fs::path& dir) {
  json wages = json::array();
  json contributions = json::array();
  for (const auto& period : hfv::testing::window_months()) {
    wages.push_back({{"period", period}, {"item", "wages"}, {"amount", "1160.00"}, {"tax_withheld", "100.00"}});
    contributions.push_back(
        {{"period", period}, {"type", "employee_pension"}, {"base", "2500.00"}, {"personal", "200.00"}});
  }
  const json records = {{"tax", wages},
                        {"social_insurance", {{"contributions", contributions}, {"benefits", json::array()}}}};
  return hfv::testing::write_persons(dir, "income-after-tax-dataset.json",
                                     {{kId, hfv::testing::answered_person("张伟", records)}});
}

}  // namespace

TEST_CASE("e2e: earnings count after the tax withheld and own contributions the agencies report",
          "[integration][e2e][after-tax]") {
  hfv::testing::TempDir data{"hfv-after-tax-data"};
  Stack s({}, write_dataset(data.path));
  const std::string auth = s.register_authorization("HRB-AT-1", json::array({kId}));
  const json request = {{"case_id", "HRB-AT-1"},    {"programme", "dibao"},
                        {"jurisdiction", "230100"}, {"area", "urban"},
                        {"reference_date", "2024-11-01"}, {"authorization_id", auth},
                        {"members", json::array({member(kId, "张伟", "applicant")})},
                        {"force", true},            {"obligors", json::array()}};
  const auto post = [&s, &request] {
    return https("POST", s.url + "/v1/verifications", s.case_system, request.dump(), s.operator_header());
  };

  auto answered = post();
  INFO(answered.body);
  REQUIRE(answered.status == 200);
  const json report = json::parse(answered.body);
  CHECK(report["outcome"] == "eligible");
  CHECK(report["classification"] == "dibao");
  CHECK(report["figures"]["income_per_capita_monthly"] == "860.00");
  const json& income = rule_in(report, "dibao-income");
  CHECK(income["result"] == "pass");
  CHECK(income["inputs"]["gross_income_in_window"] == "13920.00");  // 12 x 1160.00
  CHECK(income["inputs"]["tax_withheld_in_window"] == "1200.00");
  CHECK(income["inputs"]["personal_contributions_in_window"] == "2400.00");
  CHECK(income["inputs"]["tax_and_contributions_deducted"] == "3600.00");
  CHECK(income["inputs"]["counted_income_in_window"] == "10320.00");  // 12 x 860.00
  bool switch_listed = false;
  for (const auto& p : income["parameters"]) {
    if (p["name"] == "earnings_after_tax_and_contributions") {
      switch_listed = true;
      CHECK(p["value"] == "true");
      CHECK(p["example"] == true);
    }
  }
  CHECK(switch_listed);

  // The social-insurance agency fails: the contributions are unknown, and the
  // known 12720.00 (gross less tax) over the standard decides nothing.
  s.set_faults({{"social_insurance", {{"all", "error_500"}}}});
  auto failed = post();
  INFO(failed.body);
  REQUIRE(failed.status == 200);
  const json unknown = json::parse(failed.body);
  CHECK(unknown["outcome"] == "indeterminate");
  const json& unknown_income = rule_in(unknown, "dibao-income");
  CHECK(unknown_income["result"] == "unknown");
  CHECK(unknown_income["unknown_sources"] == json::array({"social_insurance"}));
  CHECK(unknown_income["inputs"]["counted_income_in_window"] == "12720.00");
  CHECK(rule_in(unknown, "marginal-1.5")["result"] == "unknown");
  CHECK_FALSE(unknown["figures"].contains("benefit_monthly"));
}
