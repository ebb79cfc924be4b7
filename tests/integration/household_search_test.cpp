// The supervisors' household search (POST /v1/audit/household-search)
// against the real daemon and simulator: a refused attempt, a successful
// verification and a re-read of its report, all for one household, appear
// in one search by one member's ID number, one row per access, newest
// first, with caller, operator, purpose and outcome; and the ID number
// itself is neither answered nor logged.
#include <catch2/catch.hpp>

#include "stack.hpp"

using hfv::testing::https;
using hfv::testing::member;
using hfv::testing::Stack;
using nlohmann::json;

namespace {

constexpr const char* kApplicant = "230102197503120016";
constexpr const char* kSpouse = "230102197808050020";

json household_body(const std::string& case_id, const std::string& auth) {
  return hfv::testing::couple_request(auth, case_id);
}

// The index in `accesses` of the first row with this kind, or -1.
int index_of(const json& accesses, const std::string& kind) {
  for (std::size_t i = 0; i < accesses.size(); ++i) {
    if (accesses[i].value("kind", "") == kind) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

TEST_CASE("household search: a refusal, a verification and a report read in one search by one member",
          "[integration][audit]") {
  Stack s;
  const std::string case_id = "HRB-HS-1";
  // A refused attempt: an authorisation that does not exist.
  auto refused = https("POST", s.url + "/v1/verifications", s.case_system,
                       household_body(case_id, "auth_missing").dump(), s.operator_header());
  INFO(refused.body);
  REQUIRE(refused.status == 403);
  // Then the household's authorisation and a verification that succeeds.
  const std::string auth = s.register_authorization(case_id, json::array({kApplicant, kSpouse}));
  auto issued = https("POST", s.url + "/v1/verifications", s.case_system, household_body(case_id, auth).dump(),
                      s.operator_header());
  INFO(issued.body);
  REQUIRE(issued.status == 200);
  const std::string verification_id = json::parse(issued.body)["verification_id"];
  // A re-read of the stored report.
  auto read = https("GET", s.url + "/v1/verifications/" + verification_id, s.case_system, "", s.operator_header());
  REQUIRE(read.status == 200);

  // One search by the spouse's ID number alone.
  auto found = https("POST", s.url + "/v1/audit/household-search", s.supervisor,
                     json{{"member_id", kSpouse}}.dump());
  INFO(found.body);
  REQUIRE(found.status == 200);
  CHECK(found.body.find(kSpouse) == std::string::npos);
  CHECK(found.body.find(kApplicant) == std::string::npos);
  const json answer = json::parse(found.body);
  CHECK(answer["members"].size() == 2);  // both members, from one member's number
  const json& accesses = answer["accesses"];
  const int read_at = index_of(accesses, "report_read");
  const int issued_at = index_of(accesses, "verification");
  const int refused_at = index_of(accesses, "refusal");
  REQUIRE(read_at >= 0);
  REQUIRE(issued_at >= 0);
  REQUIRE(refused_at >= 0);
  CHECK(read_at < issued_at);  // newest first
  CHECK(issued_at < refused_at);
  for (std::size_t i = 1; i < accesses.size(); ++i) CHECK(accesses[i - 1]["ts"] >= accesses[i]["ts"]);

  const json& r = accesses[static_cast<std::size_t>(refused_at)];
  CHECK(r["outcome"] == "refused");
  CHECK(r.value("reason", "").find("consent_not_found") != std::string::npos);
  CHECK(r["principal"] == "demo-case-system");
  CHECK(r["operator"] == "op-test-01");
  CHECK(r["case_id"] == case_id);
  CHECK(r["programme"] == "dibao");
  CHECK(r["authorization_id"] == "auth_missing");
  CHECK(r["members"].size() == 2);

  const json& v = accesses[static_cast<std::size_t>(issued_at)];
  CHECK(v["outcome"] == "issued");
  CHECK(v["request_id"] == verification_id);
  CHECK_FALSE(v.value("result", "").empty());
  CHECK(v["principal"] == "demo-case-system");
  CHECK(v["operator"] == "op-test-01");
  CHECK(v["case_id"] == case_id);
  CHECK(v["programme"] == "dibao");
  CHECK(v["authorization_id"] == auth);

  const json& g = accesses[static_cast<std::size_t>(read_at)];
  CHECK(g["outcome"] == "report_read");
  CHECK(g["request_id"] == verification_id);
  CHECK(g["case_id"] == case_id);
  CHECK(g["operator"] == "op-test-01");
  CHECK(g["programme"] == "dibao");
  CHECK(g["members"].size() == 2);

  // The same household by its case id; bad input answered with its field.
  auto by_case = https("POST", s.url + "/v1/audit/household-search", s.supervisor,
                       json{{"case_id", case_id}}.dump());
  REQUIRE(by_case.status == 200);
  CHECK(json::parse(by_case.body)["count"].get<std::size_t>() >= 3);
  auto bad = https("POST", s.url + "/v1/audit/household-search", s.supervisor,
                   json{{"member_id", "230102197808050021"}}.dump());
  CHECK(bad.status == 400);
  CHECK(json::parse(bad.body)["field"] == "member_id");
  auto bad_range = https("POST", s.url + "/v1/audit/household-search", s.supervisor,
                         json{{"member_id", kSpouse}, {"from", "yesterday"}}.dump());
  CHECK(bad_range.status == 400);
  CHECK(json::parse(bad_range.body)["field"] == "from");
  auto not_a_supervisor = https("POST", s.url + "/v1/audit/household-search", s.case_system,
                                json{{"member_id", kSpouse}}.dump(), s.operator_header());
  CHECK(not_a_supervisor.status == 403);

  // The search is itself audited, by pseudonym; no ID number in any record.
  const auto records = s.audit_records();
  bool searched = false;
  for (const auto& rec : records) {
    const std::string text = rec.dump();
    CHECK(text.find(kSpouse) == std::string::npos);
    CHECK(text.find(kApplicant) == std::string::npos);
    if (rec.value("action", "") == "audit.household_search") searched = true;
  }
  CHECK(searched);
  CHECK(hfv::testing::read_file(s.dir.path / "brokerd.log").find(kSpouse) == std::string::npos);
}

TEST_CASE("console: a browser without a client certificate gets a page saying what it needs", "[integration][console]") {
  Stack s;
  auto page = https("GET", s.url + "/console/index.html", s.no_cert, "", {"Accept: text/html,application/xhtml+xml"});
  CHECK(page.status == 401);
  CHECK(page.headers["content-type"].find("text/html") != std::string::npos);
  CHECK(page.body.find("需要核对中心签发的客户端证书") != std::string::npos);
  CHECK(page.body.find("client certificate issued by the centre is required") != std::string::npos);
  // An API client asking for JSON gets the JSON error as before.
  auto api = https("GET", s.url + "/console/index.html", s.no_cert, "", {"Accept: application/json"});
  CHECK(api.status == 401);
  CHECK(json::parse(api.body)["error"] == "client_certificate_required");
  // Both refusals are counted in the tally of unidentified callers' refusals
  // (one record for the interval, written at the latest when the daemon stops).
  int tallies = 0;
  for (const auto& rec : s.audit_records()) {
    if (rec.value("action", "") != "request.refused.unidentified") continue;
    ++tallies;
    const std::string detail = rec.value("detail", "");
    CHECK(detail.find(" refused=2 throttled=0 ") != std::string::npos);
    CHECK(detail.find("endpoints=/console/*:2") != std::string::npos);
    CHECK(detail.find("codes=client_certificate_required:2") != std::string::npos);
  }
  CHECK(tallies == 1);
}
