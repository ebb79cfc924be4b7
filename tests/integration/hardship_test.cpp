// Hardship programmes end to end (real agency-sim and brokerd processes): a
// Harbin household whose income is above the standard is covered as
// expenditure-type poverty when its declared rigid spending brings the rest
// to the standard, and not one fen past it; a declared emergency is
// covered without an income line and carries its follow-up date; bad or
// missing declarations are refused with the field named and ask no agency;
// the audit log's request records count the declarations.
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

// One person answered by every agency: wages of 2000.00 in each month of the
// window before 2024-11-01 (2023-11 .. 2024-10), nothing else. Not marked
// employed, so all of it counts: 2000.00 a month, above Harbin's 860.00.
fs::path write_dataset(const fs::path& dir) {
  const json wages = hfv::testing::monthly_wages("2000.00");
  return hfv::testing::write_persons(dir, "hardship-dataset.json",
                                     {{kId, hfv::testing::answered_person("张伟", {{"tax", wages}})}});
}

const std::string kHash(64, 'd');

}  // namespace

TEST_CASE("e2e: expenditure-type poverty and emergency assistance on declared hardship, bad declarations refused",
          "[integration][e2e][hardship]") {
  hfv::testing::TempDir data{"hfv-hardship-data"};
  Stack s({}, write_dataset(data.path));
  const std::string auth = s.register_authorization("HRB-HS-1", json::array({kId}));
  const json base = {{"case_id", "HRB-HS-1"},    {"programme", "expenditure"},
                     {"jurisdiction", "230100"}, {"area", "urban"},
                     {"reference_date", "2024-11-01"},
                     {"authorization_id", auth}, {"members", json::array({member(kId, "张伟", "applicant")})},
                     {"force", true},            {"obligors", json::array()}};
  const auto post = [&s](const json& body) {
    return https("POST", s.url + "/v1/verifications", s.case_system, body.dump(), s.operator_header());
  };
  const auto with_spending = [&base](const char* monthly) {
    json body = base;
    body["rigid_spending"] = json::array(
        {{{"kind", "hospital_treatment"}, {"amount", monthly}, {"period", "monthly"}, {"evidence_sha256", kHash}}});
    return body;
  };

  // 2000.00 - 1140.00 = 860.00: exactly the standard, covered.
  auto at = post(with_spending("1140.00"));
  INFO(at.body);
  REQUIRE(at.status == 200);
  const json covered = json::parse(at.body);
  CHECK(covered["outcome"] == "eligible");
  CHECK(covered["classification"] == "expenditure_poverty");
  CHECK(covered["figures"]["income_per_capita_monthly"] == "2000.00");
  CHECK(covered["figures"]["income_after_rigid_spending_per_capita_monthly"] == "860.00");
  CHECK_FALSE(covered["figures"].contains("benefit_monthly"));
  CHECK(covered["follow_up_date"].is_null());
  const json& rule = rule_in(covered, "expenditure-poverty");
  CHECK(rule["result"] == "pass");
  CHECK(rule["source"] == "000_74d306e405892d62.txt#expenditure-poverty");
  CHECK(rule["inputs"]["rigid_spending"][0]["evidence_sha256"] == kHash);

  // One fen less spending: 860.01 per person, over the line.
  auto over = post(with_spending("1139.99"));
  INFO(over.body);
  REQUIRE(over.status == 200);
  const json not_covered = json::parse(over.body);
  CHECK(not_covered["outcome"] == "ineligible");
  CHECK(rule_in(not_covered, "expenditure-poverty")["result"] == "fail");

  // 急难型 temporary assistance: no income line, a six-month follow-up.
  json emergency = base;
  emergency["programme"] = "emergency";
  emergency["emergency"] = {{"cause", "public_emergency"}, {"event_date", "2024-10-20"}, {"evidence_sha256", kHash}};
  auto em = post(emergency);
  INFO(em.body);
  REQUIRE(em.status == 200);
  const json helped = json::parse(em.body);
  CHECK(helped["outcome"] == "eligible");
  CHECK(helped["classification"] == "emergency");
  CHECK(helped["follow_up_date"] == "2025-05-01");
  CHECK(rule_in(helped, "emergency-temporary")["result"] == "pass");

  // Bad or missing declarations: 400 naming the field, and no agency is asked.
  const long asked = s.sim_request_count();
  struct Bad {
    json body;
    const char* field;
  };
  json missing = base;
  json misplaced = with_spending("100.00");
  misplaced["programme"] = "dibao";
  json zero = with_spending("0.00");
  json undeclared = emergency;
  undeclared.erase("emergency");
  json late = emergency;
  late["emergency"]["event_date"] = "2024-11-02";
  json grade = with_spending("100.00");
  grade["members"][0]["disabled_serviceman_grade"] = 11;
  json half = base;
  half["programme"] = "dibao";
  half["current_benefit"] = {{"programme", "dibao"}, {"since", "2024-03-01"}, {"monthly_amount", "860.00"}};
  const std::vector<Bad> bad = {{missing, "rigid_spending"},
                                {misplaced, "rigid_spending"},
                                {zero, "rigid_spending[0].amount"},
                                {undeclared, "emergency"},
                                {late, "emergency.event_date"},
                                {grade, "members[0].disabled_serviceman_grade"},
                                {half, "current_benefit.amount_set_on"}};
  for (const auto& b : bad) {
    INFO(b.field);
    auto refused = post(b.body);
    CHECK(refused.status == 400);
    CHECK(json::parse(refused.body)["field"] == b.field);
  }
  CHECK(s.sim_request_count() == asked);

  // The request records count the declarations (their hashes are in the
  // signed reports).
  const auto records = s.audit_records();
  int spending = 0, emergencies = 0;
  for (const auto& record : records) {
    if (record["action"] != "verification.request") continue;
    const std::string detail = record.value("detail", "");
    spending += detail.find(" rigid_spending=1") != std::string::npos ? 1 : 0;
    emergencies += detail.find(" emergency") != std::string::npos ? 1 : 0;
  }
  CHECK(spending == 2);
  CHECK(emergencies == 1);
}
