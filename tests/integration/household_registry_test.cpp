// End to end through real parts (agency simulator and brokerd as processes):
// the household registry's answer reaches the report. A member the registry
// reports deceased or moved out, or does not know, is named in the
// household-composition rule and the outcome is not `eligible`; a registry
// the authorisation does not allow makes the rule unknown, never pass.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "stack.hpp"

namespace fs = std::filesystem;
using hfv::testing::https;
using hfv::testing::member;
using hfv::testing::Stack;
using nlohmann::json;

namespace {

// Four people with nothing to their name; the registry knows three of them.
const char* const kNormal = "230102197503120016";
const char* const kDeceased = "230102197808050020";
const char* const kUnregistered = "230103195901200035";
const char* const kMoved = "230104198206300042";

fs::path write_dataset(const fs::path& dir) {
  auto hukou = [](const char* name, const char* division, const char* status) {
    return json{{"hukou", {{"name", name}, {"division", division}, {"status", status}}}};
  };
  json persons = {{kNormal, hukou("张伟", "230102", "normal")},
                  {kDeceased, hukou("李娜", "230102", "deceased")},
                  {kUnregistered, json::object()},
                  {kMoved, hukou("刘芳", "230104", "moved")}};
  fs::create_directories(dir);
  const fs::path file = dir / "registry-dataset.json";
  std::ofstream(file) << json{{"persons", persons}}.dump();
  return file;
}

json verify(Stack& s, const std::string& case_id, const json& members, const json& categories) {
  json ids = json::array();
  for (const auto& m : members) ids.push_back(m["id_number"]);
  const json auth_body = {{"case_id", case_id},        {"jurisdiction", "230100"}, {"members", ids},
                          {"categories", categories},  {"valid_from", "2026-01-01"},
                          {"valid_until", "2027-12-31"}, {"form_sha256", std::string(64, 'e')}};
  auto auth = https("POST", s.url + "/v1/authorizations", s.case_system, auth_body.dump(), s.operator_header());
  INFO(auth.body);
  REQUIRE(auth.status == 201);
  const json body = {{"case_id", case_id},
                     {"programme", "dibao"},
                     {"jurisdiction", "230100"},
                     {"area", "urban"},
                     {"reference_date", "2024-11-01"},
                     {"authorization_id", json::parse(auth.body)["authorization_id"]},
                     {"members", members},
                     {"obligors", json::array()},
                     {"force", true}};
  auto r = https("POST", s.url + "/v1/verifications", s.case_system, body.dump(), s.operator_header());
  INFO(r.body);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

json composition(const json& report) {
  for (const auto& r : report["rules"]) {
    if (r["rule"] == "household-composition") return r;
  }
  FAIL("no household-composition rule in the report");
  return {};
}

std::string hukou_status(const json& report, int member_index) {
  for (const auto& s : report["sources"]) {
    if (s["source"] == "hukou" && s["member_index"] == member_index) return s["status"];
  }
  return "";
}

}  // namespace

TEST_CASE("e2e: a member the registry reports deceased, moved out or does not know is named and the "
          "outcome is not eligible",
          "[integration][e2e][household-composition]") {
  hfv::testing::TempDir data("hfv-registry-data");
  Stack s({}, write_dataset(data.path));

  // Everyone registered: the rule passes and the poor household is eligible.
  const json ok = verify(s, "HRB-H-0", json::array({member(kNormal, "张伟", "applicant")}), "all");
  CHECK(ok["outcome"] == "eligible");
  const json pass = composition(ok);
  CHECK(pass["result"] == "pass");
  CHECK(pass["role"] == "condition");
  CHECK(pass["source"] == "000_74d306e405892d62.txt#household-population");
  CHECK(pass["inputs"]["members"][0]["registry_status"] == "normal");
  CHECK(pass["inputs"]["members"][0]["division"] == "230102");

  struct Row {
    const char* case_id;
    const char* id;
    const char* name;
    const char* registry_status;
    const char* source_status;
    const char* says;
  };
  for (const Row& r : {Row{"HRB-H-1", kDeceased, "李娜", "deceased", "ok", "member 1: registry reports deceased"},
                       Row{"HRB-H-2", kMoved, "刘芳", "moved", "ok", "member 1: registry reports moved out"},
                       Row{"HRB-H-3", kUnregistered, "王建国", "not_registered", "not_found",
                           "member 1: not known to the registry"}}) {
    INFO(r.registry_status);
    const json report =
        verify(s, r.case_id, json::array({member(kNormal, "张伟", "applicant"), member(r.id, r.name, "spouse")}), "all");
    CHECK(report["outcome"] == "indeterminate");
    CHECK_FALSE(report["figures"].contains("benefit_monthly"));
    CHECK(hukou_status(report, 1) == r.source_status);
    const json rule = composition(report);
    CHECK(rule["result"] == "unknown");
    CHECK(rule["unknown_sources"] == json::array());  // the registry answered: a case worker decides
    CHECK(rule["explanation"].get<std::string>().find(r.says) != std::string::npos);
    CHECK(rule["inputs"]["members"][0]["registry_status"] == "normal");
    CHECK(rule["inputs"]["members"][1]["registry_status"] == r.registry_status);
    CHECK(rule["inputs"]["members"][1]["source_status"] == r.source_status);
    CHECK(rule["inputs"]["members_confirmed"] == 1);
    CHECK(rule["inputs"]["members_counted_in_per_capita"] == 2);
  }

  // The registry not allowed by the authorisation: denied, so unknown, never pass.
  const json denied = verify(s, "HRB-H-4", json::array({member(kNormal, "张伟", "applicant")}),
                             json::array({"tax", "social_insurance", "real_estate", "vehicle", "bank", "securities",
                                          "business", "provident_fund", "insurance", "internet_finance"}));
  CHECK(denied["outcome"] == "indeterminate");
  CHECK(hukou_status(denied, 0) == "denied");
  const json unknown = composition(denied);
  CHECK(unknown["result"] == "unknown");
  CHECK(unknown["unknown_sources"] == json::array({"hukou"}));
  CHECK(unknown["inputs"]["members"][0]["registry_status"] == "unknown");
  CHECK(unknown["inputs"]["members"][0]["source_status"] == "denied");
}
