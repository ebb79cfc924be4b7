// Support fee end to end (real agency-sim and brokerd processes): a Harbin
// applicant with no income of their own, whose adult child's household is
// declared in `obligors`. Not declaring the obligors leaves the support-fee
// rule and the income rule unknown and the outcome indeterminate (never a
// pass on nothing given); a declared fee exactly at the standard keeps the
// household eligible and one fen past it does not; a bad declaration is
// refused with the field named and asks no agency; the audit log's request
// records count the declared obligor households.
#include <catch2/catch.hpp>

#include <fstream>
#include <functional>
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

// One person every agency answers with nothing: no income, no assets.
fs::path write_dataset(const fs::path& dir) {
  return hfv::testing::write_persons(dir, "support-fee-dataset.json", {{kId, hfv::testing::answered_person("张伟")}});
}

// One obligor household of one person: Harbin's fee is disposable income
// minus rigid spending minus the minimum wage (2080.00 on 2024-11-01) per
// obligor household member.
json one_obligor(const char* income) {
  return json::array({{{"members", 1},
                       {"disposable_income_monthly", income},
                       {"rigid_spending_monthly", "100.00"},
                       {"evidence_sha256", std::string(64, 'a')}}});
}

}  // namespace

TEST_CASE("e2e: support fee from declared obligor households decides at the standard, and undeclared is unknown",
          "[integration][e2e][support-fee]") {
  hfv::testing::TempDir data{"hfv-support-data"};
  Stack s({}, write_dataset(data.path));
  const std::string auth = s.register_authorization("HRB-SF-1", json::array({kId}));
  const json base = {{"case_id", "HRB-SF-1"},    {"programme", "dibao"},         {"jurisdiction", "230100"},
                     {"area", "urban"},          {"reference_date", "2024-11-01"}, {"authorization_id", auth},
                     {"members", json::array({member(kId, "张伟", "applicant")})}, {"force", true}};
  const auto post = [&s](const json& body) {
    return https("POST", s.url + "/v1/verifications", s.case_system, body.dump(), s.operator_header());
  };

  // No obligors given: Harbin assesses support, so nothing passes on it.
  auto undeclared = post(base);
  INFO(undeclared.body);
  REQUIRE(undeclared.status == 200);
  const json u = json::parse(undeclared.body);
  CHECK(u["outcome"] == "indeterminate");
  CHECK(rule_in(u, "support-fee")["result"] == "unknown");
  CHECK(rule_in(u, "dibao-income")["result"] == "unknown");
  bool names_the_request = false;
  for (const auto& src : rule_in(u, "support-fee")["unknown_sources"]) {
    names_the_request = names_the_request || src == "request:obligors";
  }
  CHECK(names_the_request);

  // Declared none: the rule passes and the household is eligible.
  json none = base;
  none["obligors"] = json::array();
  auto declared_none = post(none);
  REQUIRE(declared_none.status == 200);
  const json n = json::parse(declared_none.body);
  CHECK(rule_in(n, "support-fee")["result"] == "pass");
  CHECK(n["outcome"] == "eligible");

  // A fee of exactly the standard (860.00): 3040.00 - 100.00 - 2080.00.
  json at_line = base;
  at_line["obligors"] = one_obligor("3040.00");
  auto at = post(at_line);
  INFO(at.body);
  REQUIRE(at.status == 200);
  const json a = json::parse(at.body);
  CHECK(rule_in(a, "support-fee")["inputs"]["support_fee_monthly_total"] == "860.00");
  CHECK(a["figures"]["income_per_capita_monthly"] == "860.00");
  CHECK(a["outcome"] == "eligible");
  // One fen more of fee puts the household past the line.
  json past_line = base;
  past_line["obligors"] = one_obligor("3040.01");
  auto past = post(past_line);
  REQUIRE(past.status == 200);
  const json p = json::parse(past.body);
  CHECK(rule_in(p, "support-fee")["inputs"]["support_fee_monthly_total"] == "860.01");
  CHECK(rule_in(p, "dibao-income")["result"] == "fail");
  CHECK(p["outcome"] == "ineligible");

  // Bad declarations: 400 naming the field, and no agency is asked.
  const long asked = s.sim_request_count();
  const std::vector<std::pair<std::function<void(json&)>, std::string>> bad = {
      {[](json& b) { b["obligors"][0]["disposable_income_monthly"] = "12.345"; },
       "obligors[0].disposable_income_monthly"},
      {[](json& b) { b["obligors"][0].erase("rigid_spending_monthly"); }, "obligors[0].rigid_spending_monthly"},
      {[](json& b) { b["obligors"][0]["members"] = 0; }, "obligors[0].members"},
      {[](json& b) { b["obligors"][0]["evidence_sha256"] = "not-a-hash"; }, "obligors[0].evidence_sha256"},
      {[](json& b) { b["obligors"][0]["id_number"] = kId; }, "obligors[0].id_number"},
      {[](json& b) { b["obligors"] = "none"; }, "obligors"},
  };
  for (const auto& [edit, field] : bad) {
    json body = at_line;
    edit(body);
    auto r = post(body);
    INFO(field << ": " << r.body);
    CHECK(r.status == 400);
    CHECK(json::parse(r.body)["field"] == field);
  }
  CHECK(s.sim_request_count() == asked);

  // The audit log's request records say how many obligor households were declared.
  const auto records = s.audit_records();
  int none_declared = 0, one_declared = 0;
  for (const auto& record : records) {
    if (record["action"] != "verification.request") continue;
    const std::string detail = record.value("detail", "");
    none_declared += detail.find(" obligors=0") != std::string::npos ? 1 : 0;
    one_declared += detail.find(" obligors=1") != std::string::npos ? 1 : 0;
  }
  CHECK(none_declared == 1);
  CHECK(one_declared == 2);
}
