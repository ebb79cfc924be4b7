// Gradual exit end to end (real agency-sim and brokerd processes): a
// Harbin household whose employed member's income rose above the standard
// is classed gradual_exit, with the period's last day, when the request says
// it is a current dibao recipient, and is not without that; a bad
// current_benefit is refused with the field named and asks no agency.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "stack.hpp"

using hfv::testing::https;
using hfv::testing::member;
using hfv::testing::Stack;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kId = "230102197503120016";

// One person answered by every agency: wages of 1870.00 in each month of
// the window before 2024-11-01 (2023-11 .. 2024-10), nothing else. Harbin
// deducts 870.00 employment cost a month, so 1000.00 per person counts:
// above the standard 860.00, below the exit line 1.5 x 860.00 = 1290.00.
fs::path write_dataset(const fs::path& dir) {
  const json wages = hfv::testing::monthly_wages("1870.00");
  return hfv::testing::write_persons(dir, "gradual-exit-dataset.json",
                                     {{kId, hfv::testing::answered_person("张伟", {{"tax", wages}})}});
}

}  // namespace

TEST_CASE("e2e: a current dibao recipient whose income rose above the standard gets a gradual-exit period",
          "[integration][e2e][gradual-exit]") {
  hfv::testing::TempDir data{"hfv-gradual-data"};
  Stack s({}, write_dataset(data.path));
  const std::string auth = s.register_authorization("HRB-GE-1", json::array({kId}));
  json employed = member(kId, "张伟", "applicant");
  employed["employed"] = true;
  const json base = {{"case_id", "HRB-GE-1"},        {"programme", "dibao"}, {"jurisdiction", "230100"},
                     {"area", "urban"},              {"reference_date", "2024-11-01"},
                     {"authorization_id", auth},     {"members", json::array({employed})},
                     {"force", true},                {"obligors", json::array()}};
  const auto post = [&s](const json& body) {
    return https("POST", s.url + "/v1/verifications", s.case_system, body.dump(), s.operator_header());
  };

  // Without current_benefit: an applicant above the standard, not a recipient.
  auto plain = post(base);
  INFO(plain.body);
  REQUIRE(plain.status == 200);
  const json without = json::parse(plain.body);
  CHECK(without["figures"]["income_per_capita_monthly"] == "1000.00");
  CHECK(without["outcome"] == "ineligible");
  CHECK(without["classification"] == "marginal");
  CHECK(without["gradual_exit_until"].is_null());
  const json& applicant = hfv::testing::rule_in(without, "gradual-exit");
  CHECK(applicant["result"] == "fail");
  CHECK(applicant["inputs"]["current_benefit"].is_null());

  // The same household as a current recipient since 2022-03-01.
  json as_recipient = base;
  as_recipient["current_benefit"] = {{"programme", "dibao"}, {"since", "2022-03-01"}};
  auto recipient = post(as_recipient);
  INFO(recipient.body);
  REQUIRE(recipient.status == 200);
  const json with = json::parse(recipient.body);
  CHECK(with["outcome"] == "eligible");
  CHECK(with["classification"] == "gradual_exit");
  CHECK(with["gradual_exit_until"] == "2025-05-01");  // 2024-11-01 + 6 months (example period)
  const json& exit = hfv::testing::rule_in(with, "gradual-exit");
  CHECK(exit["result"] == "pass");
  CHECK(exit["source"] == "000_74d306e405892d62.txt#gradual-exit");
  CHECK(exit["inputs"]["current_benefit"]["since"] == "2022-03-01");
  CHECK(exit["inputs"]["gradual_exit_until"] == "2025-05-01");

  // Bad current_benefit: 400 naming the field, and no agency is asked.
  const long asked = s.sim_request_count();
  json late = as_recipient;
  late["current_benefit"]["since"] = "2024-11-02";
  auto refused = post(late);
  CHECK(refused.status == 400);
  CHECK(json::parse(refused.body)["field"] == "current_benefit.since");
  json other = as_recipient;
  other["current_benefit"]["programme"] = "tekun";
  auto refused_programme = post(other);
  CHECK(refused_programme.status == 400);
  CHECK(json::parse(refused_programme.body)["field"] == "current_benefit.programme");
  CHECK(s.sim_request_count() == asked);
}
