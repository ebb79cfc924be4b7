// End to end through real parts: the agency simulator and brokerd run as
// processes; the test is a case system speaking HTTPS with a client
// certificate; afterwards the audit log is opened with and without its key
// (on either storage backend: stack.hpp). Nothing here is mocked.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "audit/audit_log.hpp"
#include "crypto/keys.hpp"
#include "stack.hpp"

namespace fs = std::filesystem;
using hfv::testing::ClientTls;
using hfv::testing::https;
using hfv::testing::Process;
using nlohmann::json;

using hfv::testing::Stack;
using hfv::testing::member;

TEST_CASE("e2e: three households give three outcomes, and the audit log is encrypted and complete",
          "[integration][e2e]") {
  Stack stack;


  const json eligible = stack.verify("HRB-T-1", json::array({member("230102197503120016", "张伟", "applicant"),
                                                             member("230102197808050020", "李娜", "spouse")}));
  CHECK(eligible["outcome"] == "eligible");
  CHECK(eligible["figures"]["monetary_assets_per_capita"] == "6250.25");  // (8200.50 + 4300.00) / 2
  CHECK(eligible["figures"]["savings_cap_per_capita"] == "20640.00");    // 24 x 860.00
  CHECK(eligible["signature"]["alg"] == "Ed25519");

  const json over = stack.verify("HRB-T-2", json::array({member("230103195901200035", "王建国", "applicant")}));
  CHECK(over["outcome"] == "ineligible");
  CHECK(over["rules"][0]["result"] == "fail");

  const json failed = stack.verify("HRB-T-3", json::array({member("230104198206300042", "刘芳", "applicant"),
                                                           member("230104201009150051", "刘洋", "child")}));
  CHECK(failed["outcome"] == "indeterminate");
  bool bank_failure_reported = false;
  for (const auto& s : failed["sources"]) {
    if (s["source"] == "bank" && s["member_index"] == 0) {
      CHECK(s["status"] == "error");
      bank_failure_reported = true;
    }
  }
  CHECK(bank_failure_reported);
  CHECK(failed["rules"][0]["unknown_sources"] == json::array({"bank"}));

  // Refusals query nobody.
  const long before = stack.sim_request_count();
  auto no_cert = https("POST", stack.url + "/v1/verifications", stack.no_cert, "{}", stack.operator_header());
  CHECK(no_cert.status == 401);
  CHECK(json::parse(no_cert.body)["error"] == "client_certificate_required");
  auto wrong_role = https("POST", stack.url + "/v1/verifications", stack.supervisor, "{}", stack.operator_header());
  CHECK(wrong_role.status == 403);
  auto bad_field = https("POST", stack.url + "/v1/verifications", stack.case_system,
                         R"({"case_id":"HRB-T-9","programme":"dibao","jurisdiction":"230100","area":"urban",
                             "reference_date":"2024-11-01","authorization_id":"auth_x",
                             "members":[{"id_number":"230102197503120017","name":"x","relation":"applicant"}]})",
                         stack.operator_header());
  CHECK(bad_field.status == 400);
  CHECK(json::parse(bad_field.body)["field"] == "members[0].id_number");
  auto no_consent = https("POST", stack.url + "/v1/verifications", stack.case_system,
                          R"({"case_id":"HRB-T-9","programme":"dibao","jurisdiction":"230100","area":"urban",
                              "reference_date":"2024-11-01","authorization_id":"auth_missing",
                              "members":[{"id_number":"230102197503120016","name":"x","relation":"applicant"}]})",
                          stack.operator_header());
  CHECK(no_consent.status == 403);
  CHECK(json::parse(no_consent.body)["error"] == "consent_not_found");
  CHECK(stack.sim_request_count() == before);

  // Graceful stop, then read the audit log.
  REQUIRE(stack.broker->stop(SIGTERM) == 0);
  if (!stack.on_postgresql()) {
    // SQLCipher encrypts the whole file: not even SQLite's header is clear.
    const std::string head =
        hfv::testing::read_file(stack.broker_dir / "data" / "audit.db").substr(0, 16);
    CHECK(head != std::string("SQLite format 3\0", 16));
  } else {
    // PostgreSQL does not encrypt at rest, so there is no file to look at:
    // the broker seals what is personal itself (docs/operations.md, "What
    // the broker seals"). A dump of the whole database holds no ID number,
    // name or amount; the audit log's tables, like the SQLCipher file, hold
    // no case or operator either (authorizations keep the case id in clear).
    REQUIRE(stack.database);
    const auto dump = [&stack](std::vector<std::string> only) {
      std::vector<std::string> args = {"--data-only", "--host=127.0.0.1", "--username=hfv",
                                       "--port=" + std::to_string(stack.database->port())};
      args.insert(args.end(), only.begin(), only.end());
      args.push_back("postgres");
      return stack.database->run_tool("pg_dump", args);
    };
    const std::string everything = dump({});
    CHECK(everything.find("COPY public.verifications") != std::string::npos);
    for (const char* secret : {"230102197503120016", "230102197808050020", "230103195901200035",
                               "230104198206300042", "230104201009150051", "张伟", "李娜", "王建国",
                               "刘芳", "刘洋", "6250.25", "8200.50", "4300.00"}) {
      INFO(secret);
      CHECK(everything.find(secret) == std::string::npos);
    }
    const std::string audit = dump({"--table=audit_*"});
    CHECK(audit.find("COPY public.audit_records") != std::string::npos);
    for (const char* secret : {"HRB-T-1", "HRB-T-2", "HRB-T-3", "op-test-01"}) {
      INFO(secret);
      CHECK(audit.find(secret) == std::string::npos);
    }
  }

  auto master = hfv::crypto::load_master_key_file(stack.broker_dir / "keys" / "master.key");
  REQUIRE(master.ok());
  auto wrong = hfv::audit::AuditLog::open(stack.audit_location(), hfv::crypto::SecretKey::random());
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == "bad_key");

  auto log = hfv::audit::AuditLog::open(
      stack.audit_location(), hfv::crypto::derive_key(*master, hfv::crypto::kPurposeAuditDb));
  REQUIRE(log.ok());
  auto chain = (*log)->verify();
  REQUIRE(chain.ok());
  CHECK(chain->ok);
  auto rows = (*log)->read(1, 10000);
  REQUIRE(rows.ok());
  std::map<std::string, int> actions;
  std::map<std::string, std::int64_t> first_answers_seq, request_seq;
  std::size_t answers = 0;
  for (const auto& r : *rows) {
    const json body = json::parse(r.body);
    const std::string action = body["action"];
    ++actions[action];
    const std::string id = body.value("request_id", "");
    if (action == "verification.request") request_seq[id] = r.seq;
    if (action == "agency.answers") {
      if (!first_answers_seq.contains(id)) first_answers_seq[id] = r.seq;
      answers += body["answers"].size();
    }
    // No raw ID number is ever stored in the log.
    for (const char* raw : {"230102197503120016", "230103195901200035", "230104198206300042"}) {
      CHECK(r.body.find(raw) == std::string::npos);
    }
  }
  CHECK(actions["verification.request"] == 3);
  CHECK(actions["verification.report"] == 3);
  CHECK(actions["request.refused"] >= 3);  // the identified callers' refusals, one record each
  CHECK(actions["request.refused.unidentified"] == 1);  // the one without a certificate, tallied
  CHECK(actions["daemon.start"] == 1);
  CHECK(actions["daemon.stop"] == 1);
  // One record per member (5), each listing every configured agency's answer.
  CHECK(actions["agency.answers"] == 5);
  CHECK(actions["agency.query"] == 0);
  CHECK(answers % 5 == 0);
  CHECK(answers >= 5);
  // Each request's record comes before its answers' records. (That it was
  // durable before the first agency was asked is checked where the query can
  // be observed: verifier_test's audit_seq_at_query.)
  REQUIRE(request_seq.size() == 3);
  for (const auto& [id, seq] : request_seq) CHECK(seq < first_answers_seq.at(id));

  // Raw ID numbers are not in the daemon's log either.
  const std::string daemon_log = hfv::testing::read_file(stack.dir.path / "brokerd.log");
  CHECK(daemon_log.find("230102197503120016") == std::string::npos);
  CHECK(daemon_log.find("\"event\":\"started\"") != std::string::npos);
}
