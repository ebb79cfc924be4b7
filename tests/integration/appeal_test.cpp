// Appeals (issue 19), through real parts: the agency simulator and brokerd
// on each storage backend. A household is verified while one agency holds a
// wrong record of one member; the simulator's record is corrected; the
// appeal re-queries exactly that member at that agency (the simulator's
// request log shows one new request), and the new signed report supersedes
// the old one, names the appeal and reflects the corrected record. Both
// reports verify offline, GET on the old one names its successor beside
// the unchanged report, the citizen's access log shows the appeal, bad
// input is refused naming the field and changes nothing, and the
// superseded report cannot be appealed again (docs/replay-and-what-if.md).
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crypto/hash.hpp"
#include "tests/integration/stack.hpp"
#include "tests/integration/state_db.hpp"

namespace fs = std::filesystem;
using hfv::testing::https;
using hfv::testing::Stack;
using nlohmann::json;

namespace {

constexpr const char* kZhangWei = "230102197503120016";  // the applicant
constexpr const char* kLiNa = "230102197808050020";      // the spouse, whose bank record is disputed
constexpr const char* kWangJianguo = "230103195901200035";

// 李娜's one account at 中国建设银行 as the demo dataset has it, with `balance`.
json li_na_bank(const char* balance) {
  return json::array(
      {{{"bank", "中国建设银行"}, {"account", "6217000010001234567"}, {"balance", balance}, {"as_of", "2024-11-01"}}});
}

// The simulator's request log, one JSON object a line.
std::vector<json> request_log(const Stack& s) {
  std::vector<json> out;
  std::ifstream in(s.dir.path / "sim-requests.ndjson");
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

json appeal_body(std::size_t member_index, const char* id, const char* name, const json& sources) {
  return {{"disputed", json::array({{{"member_index", member_index}, {"id_number", id}, {"name", name},
                                     {"sources", sources}}})},
          {"evidence_sha256", json::array({std::string(64, 'e')})},
          {"reason", "建设银行已出具更正后的余额证明"}};
}

}  // namespace

TEST_CASE(
    "appeal: only the disputed member and source are queried again, the new signed report supersedes the old "
    "one and reflects the corrected record, and bad input changes nothing",
    "[integration][appeal]") {
  Stack s(hfv::testing::relax_rate_limit);
  hfv::testing::StateDb db(s);
  const auto op = s.operator_header();
  const std::string auth = s.register_authorization("APL-1", {kZhangWei, kLiNa});
  // A second household whose authorisation allows every source but
  // internet finance: that source was never asked, so it cannot be appealed.
  const json categories = {"hukou",     "tax",      "social_insurance", "real_estate", "vehicle",
                           "bank",      "securities", "business",       "provident_fund", "insurance"};
  const json registration = {{"case_id", "APL-2"},
                             {"jurisdiction", "230100"},
                             {"members", {kWangJianguo}},
                             {"categories", categories},
                             {"valid_from", "2026-01-01"},
                             {"valid_until", "2027-12-31"},
                             {"form_sha256", std::string(64, 'c')}};
  const auto registered = https("POST", s.url + "/v1/authorizations", s.case_system, registration.dump(), op);
  REQUIRE(registered.status == 201);
  json narrow = hfv::testing::couple_request(json::parse(registered.body)["authorization_id"], "APL-2");
  narrow["members"] = json::array({hfv::testing::member(kWangJianguo, "王建国", "applicant")});
  const auto narrowed = https("POST", s.url + "/v1/verifications", s.case_system, narrow.dump(), op);
  INFO(narrowed.body.substr(0, 500));
  REQUIRE(narrowed.status == 200);
  const std::string narrow_id = json::parse(narrowed.body)["verification_id"];


  // The bank wrongly answers 300,000.00 for 李娜: the household is over the cap.
  s.set_records(kLiNa, "bank", li_na_bank("300000.00"));
  const auto first = https("POST", s.url + "/v1/verifications", s.case_system,
                           hfv::testing::couple_request(auth, "APL-1").dump(), op);
  INFO(first.body.substr(0, 1000));
  REQUIRE(first.status == 200);
  const std::string old_text = first.body;
  const json old_report = json::parse(old_text);
  const std::string old_id = old_report["verification_id"];
  CHECK(old_report["outcome"] == "ineligible");
  CHECK(db.archived_rows() == 2);

  // The bank corrects its record (4,300.00, as the demo dataset has it).
  s.set_records(kLiNa, "bank", li_na_bank("4300.00"));
  const std::size_t asked_before = request_log(s).size();
  const std::string appeals = s.url + "/v1/verifications/" + old_id + "/appeals";

  // Bad input: each refused naming the field; nobody asked, nothing archived.
  struct Bad {
    std::string url;
    json body;
    long status;
    std::string error;
    std::string field;
  };
  const json bank = {"bank"};
  json bad_evidence = appeal_body(1, kLiNa, "李娜", bank);
  bad_evidence["evidence_sha256"] = json::array({"ABC"});
  json long_reason = appeal_body(1, kLiNa, "李娜", bank);
  long_reason["reason"] = std::string(201, 'x');
  const std::vector<Bad> bad = {
      {s.url + "/v1/verifications/ver_000000000000000000000000/appeals", appeal_body(1, kLiNa, "李娜", bank), 404,
       "not_found", "id"},
      {appeals, bad_evidence, 400, "invalid_field", "evidence_sha256[0]"},
      {appeals, long_reason, 400, "invalid_field", "reason"},
      {appeals, appeal_body(1, kLiNa, "李娜", {"bnak"}), 422, "invalid_pair", "disputed[0].sources[0]"},
      {s.url + "/v1/verifications/" + narrow_id + "/appeals", appeal_body(0, kWangJianguo, "王建国", {"internet_finance"}),
       422, "invalid_pair", "disputed[0].sources[0]"},
      {appeals, appeal_body(5, kLiNa, "李娜", bank), 422, "invalid_pair", "disputed[0].member_index"},
      // 张伟's ID number for member 1: not the person the verification read as member 1.
      {appeals, appeal_body(1, kZhangWei, "张伟", bank), 422, "member_mismatch", "disputed[0].id_number"},
  };
  for (const auto& c : bad) {
    const auto r = https("POST", c.url, s.case_system, c.body.dump(), op);
    INFO(c.field << ": " << r.body);
    CHECK(r.status == c.status);
    const json answer = json::parse(r.body, nullptr, false);
    REQUIRE(answer.is_object());
    CHECK(answer["error"] == c.error);
    CHECK(answer["field"] == c.field);
  }
  CHECK(request_log(s).size() == asked_before);
  CHECK(db.archived_rows() == 2);

  // The appeal: 李娜's bank record, with the citizen's evidence.
  const auto appealed = https("POST", appeals, s.case_system, appeal_body(1, kLiNa, "李娜", bank).dump(), op);
  INFO(appealed.body.substr(0, 2000));
  REQUIRE(appealed.status == 201);
  const std::string new_text = appealed.body;
  const json new_report = json::parse(new_text);
  const std::string new_id = new_report["verification_id"];
  CHECK(new_id != old_id);
  CHECK(appealed.headers.at("location") == "/v1/verifications/" + new_id);
  CHECK(new_report["supersedes"] == old_id);
  CHECK(new_report["outcome"] == "eligible");
  CHECK(new_report["case_id"] == "APL-1");
  CHECK(new_report["appeal"]["disputed"] ==
        json::array({{{"member_index", 1}, {"member", "230102********0020"}, {"source", "bank"}}}));
  CHECK(new_report["appeal"]["evidence_sha256"] == json::array({std::string(64, 'e')}));
  CHECK(new_report["appeal"]["reason"] == "建设银行已出具更正后的余额证明");
  CHECK(new_report["appeal"]["policy"] == "in_force");
  CHECK_FALSE(new_report["appeal"]["appealed_at"].get<std::string>().empty());
  CHECK(new_report["inputs_sha256"].get<std::string>().size() == 64);
  CHECK(new_report["inputs_sha256"] != old_report["inputs_sha256"]);
  // Every other source entry is the old report's, unchanged.
  REQUIRE(new_report["sources"].size() == old_report["sources"].size());
  int replaced = 0;
  for (std::size_t i = 0; i < old_report["sources"].size(); ++i) {
    const json& was = old_report["sources"][i];
    const json& now = new_report["sources"][i];
    if (was["member_index"] == 1 && was["source"] == "bank") {
      CHECK(now["appealed"] == true);
      CHECK(now["status"] == "ok");
      CHECK(now["evidence_sha256"] != was["evidence_sha256"]);
      ++replaced;
    } else {
      CHECK(now == was);
    }
  }
  CHECK(replaced == 1);
  CHECK(db.archived_rows() == 3);

  // Exactly one new agency request: the bank, about 李娜.
  const auto log = request_log(s);
  REQUIRE(log.size() == asked_before + 1);
  CHECK(log.back()["agency"] == "bank");
  CHECK(log.back()["person_sha256"] == hfv::crypto::to_hex(hfv::crypto::sha256(std::string(kLiNa))));

  // GET old: the old report's bytes as issued, its successor beside them.
  const auto old_again = https("GET", s.url + "/v1/verifications/" + old_id, s.case_system, "", op);
  REQUIRE(old_again.status == 200);
  CHECK(old_again.body == old_text);
  CHECK(old_again.headers.at("x-hfv-superseded-by") == new_id);
  const auto new_again = https("GET", s.url + "/v1/verifications/" + new_id, s.case_system, "", op);
  REQUIRE(new_again.status == 200);
  CHECK(new_again.body == new_text);
  CHECK(new_again.headers.count("x-hfv-superseded-by") == 0);

  // Both reports verify offline with the broker's public key.
  auto key = https("GET", s.url + "/v1/keys/report-signing", s.case_system);
  REQUIRE(key.status == 200);
  const fs::path pem = s.dir.path / "broker-public.pem";
  std::ofstream(pem) << json::parse(key.body)["public_key_pem"].get<std::string>();
  for (const auto& [name, text] : {std::pair{"old", old_text}, std::pair{"new", new_text}}) {
    const fs::path saved = s.dir.path / (std::string(name) + "-report.json");
    std::ofstream(saved) << text;
    const fs::path out = s.dir.path / (std::string(name) + "-verify.txt");
    hfv::testing::Process p({BROKERCTL_BIN, "report", "verify", saved.string(), "--public-key", pem.string()}, out);
    INFO(name << ": " << hfv::testing::read_file(out));
    CHECK(p.stop(0, std::chrono::seconds(30)) == 0);
  }

  // The new report has its own archive: it replays identical.
  const auto replayed = https("GET", s.url + "/v1/verifications/" + new_id + "/replay", s.case_system, "", op);
  REQUIRE(replayed.status == 200);
  CHECK(json::parse(replayed.body)["identical"] == true);

  // The superseded report cannot be appealed again; nobody is asked.
  const auto again = https("POST", appeals, s.case_system, appeal_body(1, kLiNa, "李娜", bank).dump(), op);
  CHECK(again.status == 409);
  CHECK(json::parse(again.body)["error"] == "already_superseded");
  CHECK(json::parse(again.body)["field"] == "id");
  CHECK(request_log(s).size() == asked_before + 1);

  // 李娜's access log (read for her by the case system) shows the appeal of
  // her bank record and the new verification.
  const auto access = https("POST", s.url + "/v1/access-log", s.case_system,
                            json{{"id_number", kLiNa}, {"authorization_id", auth}}.dump(), op);
  REQUIRE(access.status == 200);
  int appeal_entries = 0;
  int new_queries = 0;
  const json accesses = json::parse(access.body)["accesses"];
  for (const auto& a : accesses) {
    if (a["action"] == "appeal.subject" && a.value("source", "") == "bank" && a.value("request_id", "") == new_id)
      ++appeal_entries;
    if (a["action"] == "agency.query" && a.value("request_id", "") == new_id) ++new_queries;
  }
  CHECK(appeal_entries == 1);
  CHECK(new_queries == 1);

  // The audit log: the appeal durable before its one agency query, both
  // reports issued, each refusal recorded as one.
  std::int64_t appeal_seq = 0;
  std::int64_t query_seq = 0;
  int issued = 0;
  int refused = 0;
  std::int64_t seq = 0;
  for (const auto& r : s.audit_records()) {
    ++seq;
    const std::string action = r.value("action", "");
    if (action == "verification.appeal" && r.value("request_id", "") == new_id) {
      appeal_seq = seq;
      CHECK(r.value("detail", "").find("appeal_of=" + old_id + " disputed=1:bank evidence_sha256=") == 0);
    }
    if (action == "agency.answers" && r.value("request_id", "") == new_id) {
      query_seq = seq;
      CHECK(r.value("source", "") == "bank");  // the disputed pair only
      CHECK(r["answers"].size() == 1);
    }
    if (action == "verification.report" && r.value("status", "") == "issued" && r.value("case_id", "") == "APL-1") {
      ++issued;
    }
    if (action == "request.refused" && r.value("detail", "").starts_with("POST /v1/verifications/{id}/appeals")) {
      ++refused;
    }
  }
  CHECK(appeal_seq > 0);
  CHECK(query_seq > appeal_seq);
  CHECK(issued == 2);
  CHECK(refused == static_cast<int>(bad.size()) + 1);
}
