// brokerd on the cluster backend, through real parts: a PostgreSQL server
// (pg_server.hpp), the agency simulator and brokerd as processes (the
// integration tests' Stack with the postgresql storage option). A household
// is verified and read back; with the database's postmaster killed a new
// verification is answered 503 with Retry-After, and once the database is
// back the same brokerd serves again without a restart; a second brokerd
// on the same database reads the first one's report by id, and both write
// the one audit log in PostgreSQL, which verifies. The connection
// string carries a password (the test server trusts every local user, so
// libpq never sends it) that must appear in no log and no answer.
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "../integration/stack.hpp"
#include "broker/ops/metrics.hpp"
#include "pg_server.hpp"

using hfv::testing::ClientTls;
using hfv::testing::https;
using hfv::testing::member;
using hfv::testing::PgServer;
using hfv::testing::read_file;
using hfv::testing::Stack;
using hfv::testing::StorageOption;
using nlohmann::json;

namespace {

constexpr const char* kPassword = "pg-Secret-4e1d9";

using Answer = hfv::testing::HttpAnswer;

// One HTTPS exchange as an operator of the case system (headers kept:
// Retry-After); the ceiling is for a loaded sanitizer build.
Answer exchange(const std::string& method, const std::string& url, const ClientTls& tls,
                const std::string& body = "") {
  return https(method, url, tls, body, {"X-Operator-Id: op-test-01"}, 120000);
}

json verification_body(const std::string& case_id, const std::string& authorization,
                       const json& members) {
  return {
      {"case_id", case_id}, {"programme", "dibao"},           {"jurisdiction", "230100"},
      {"area", "urban"},    {"reference_date", "2024-11-01"}, {"authorization_id", authorization},
      {"members", members}, {"obligors", json::array()}};
}

}  // namespace

TEST_CASE(
    "cluster: brokerd on PostgreSQL verifies, answers 503 with Retry-After while the database is "
    "down, "
    "serves again by itself, and a second broker reads its report",
    "[cluster][daemon][failover]") {
  PgServer pg;
  const int port = pg.port();
  Stack stack({}, {}, StorageOption{pg.conninfo() + " password=" + kPassword, "node-a"});
  // The start-up log names the backend and the node, not the connection string.
  const std::string started = read_file(stack.dir.path / "brokerd.log");
  CHECK(started.find(R"("backend":"postgresql")") != std::string::npos);
  CHECK(started.find(R"("node":"node-a")") != std::string::npos);
  CHECK(started.find("storage_password_in_config") !=
        std::string::npos);  // the warning, without the password

  const json zhang = json::array({member("230102197503120016", "张伟", "applicant"),
                                  member("230102197808050020", "李娜", "spouse")});
  const json first = stack.verify("HRB-PG-1", zhang);
  CHECK(first["outcome"] == "eligible");
  const std::string id = first["verification_id"].get<std::string>();
  const Answer read = exchange("GET", stack.url + "/v1/verifications/" + id, stack.case_system);
  REQUIRE(read.status == 200);
  CHECK(json::parse(read.body) == first);
  // The report is in PostgreSQL, run by node-a, its body sealed.
  CHECK(pg.value("SELECT node FROM verifications WHERE id = $1", {id}) == "node-a");
  CHECK(pg.value("SELECT state FROM verifications WHERE id = $1", {id}) == "done");
  CHECK(pg.value("SELECT response FROM verifications WHERE id = $1", {id}).find("eligible") ==
        std::string::npos);

  // The database goes down (its postmaster killed, its backends gone).
  const json wang = json::array({member("230103195901200035", "王建国", "applicant")});
  const std::string authorization =
      stack.register_authorization("HRB-PG-2", json::array({"230103195901200035"}));
  const std::string body = verification_body("HRB-PG-2", authorization, wang).dump();
  const long asked_before = stack.sim_request_count();
  pg.kill_postmaster();
  pg.wait_orphans_gone();
  // A new verification: 503 state_unavailable with Retry-After. Not
  // audit_unavailable: the verifier reads the authorisation before it
  // audits the request, so nothing is written anywhere and no agency is
  // asked.
  const Answer down = exchange("POST", stack.url + "/v1/verifications", stack.case_system, body);
  INFO(down.body);
  CHECK(down.status == 503);
  CHECK(json::parse(down.body)["error"] == "state_unavailable");
  CHECK(down.headers.count("retry-after") == 1);
  CHECK(stack.sim_request_count() == asked_before);
  // Reading the stored report: 503 too, never 500 or 404.
  const Answer unread = exchange("GET", stack.url + "/v1/verifications/" + id, stack.case_system);
  CHECK(unread.status == 503);
  CHECK(json::parse(unread.body)["error"] == "state_unavailable");
  CHECK(unread.headers.count("retry-after") == 1);
  // Registering an authorisation: 503 as well.
  const Answer unregistered = exchange("POST", stack.url + "/v1/authorizations", stack.case_system,
                                       json{{"case_id", "HRB-PG-3"},
                                            {"jurisdiction", "230100"},
                                            {"members", json::array({"230103195901200035"})},
                                            {"categories", "all"},
                                            {"valid_from", "2026-01-01"},
                                            {"valid_until", "2027-12-31"},
                                            {"form_sha256", std::string(64, 'c')}}
                                           .dump());
  CHECK(unregistered.status == 503);
  CHECK(json::parse(unregistered.body)["error"] == "state_unavailable");
  CHECK(unregistered.headers.count("retry-after") == 1);

  // The database is back (crash recovery, same port): the same brokerd,
  // not restarted, verifies again. Each answer until then is a 503 with
  // Retry-After; the ceiling is for a loaded machine.
  pg.start();
  REQUIRE(pg.port() == port);  // the broker's conninfo names this port
  Answer again;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < until) {
    again = exchange("POST", stack.url + "/v1/verifications", stack.case_system, body);
    if (again.status != 503) break;
    CHECK(again.headers.count("retry-after") == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(again.body);
  REQUIRE(again.status == 200);
  CHECK(stack.broker->running());
  const json second = json::parse(again.body);
  CHECK(second["outcome"] == "ineligible");
  const Answer reread = exchange("GET", stack.url + "/v1/verifications/" + id, stack.case_system);
  REQUIRE(reread.status == 200);
  CHECK(json::parse(reread.body) == first);
  // What an operator watches (docs/operations.md): the outage is in /metrics
  // as reconnections and unavailable calls, beside the calls' times.
  const Answer metrics = exchange("GET", stack.url + "/metrics", stack.supervisor);
  REQUIRE(metrics.status == 200);
  const auto values = hfv::broker::parse_metrics_text(metrics.body);
  const auto value = [&](const std::string& name) {
    const auto it = values.find(name);
    return it == values.end() ? -1.0 : it->second;
  };
  CHECK(value("hfv_db_reconnects_total") >= 1);
  CHECK(value(R"(hfv_db_errors_total{kind="unavailable"})") >= 3);  // the three refused calls at least
  CHECK(value("hfv_db_statement_duration_seconds_count") > 10);
  CHECK(value(R"(hfv_db_statement_duration_seconds_bucket{le="+Inf"})") ==
        value("hfv_db_statement_duration_seconds_count"));

  // A second broker on the same database reads both reports by id.
  auto sibling = stack.start_sibling("node-b");
  const Answer other = exchange("GET", sibling.url + "/v1/verifications/" + id, stack.case_system);
  INFO(other.body);
  REQUIRE(other.status == 200);
  CHECK(json::parse(other.body) == first);
  const Answer other_second = exchange(
      "GET", sibling.url + "/v1/verifications/" + second["verification_id"].get<std::string>(),
      stack.case_system);
  REQUIRE(other_second.status == 200);
  CHECK(json::parse(other_second.body) == second);

  // The first report edited where it is stored (the second's sealed report
  // moved onto its row): a replay and an appeal of it fail loudly as
  // tampered (500), not as a database that is down (503), and the replay
  // is audited.
  const std::string second_id = second["verification_id"].get<std::string>();
  pg.sql("UPDATE verifications SET response = (SELECT response FROM verifications WHERE id = '" + second_id +
         "') WHERE id = '" + id + "'");
  const Answer replayed = exchange("GET", stack.url + "/v1/verifications/" + id + "/replay", stack.supervisor);
  INFO(replayed.body);
  CHECK(replayed.status == 500);
  CHECK(json::parse(replayed.body)["error"] == "archive_tampered");
  const Answer appealed = exchange("POST", stack.url + "/v1/verifications/" + id + "/appeals", stack.case_system, "{}");
  INFO(appealed.body);
  CHECK(appealed.status == 500);
  CHECK(json::parse(appealed.body)["error"] == "archive_tampered");
  CHECK(exchange("GET", stack.url + "/v1/verifications/" + second_id + "/replay", stack.supervisor).status == 200);

  // The password was in no log line and no answer.
  REQUIRE(sibling.process->stop(SIGTERM) == 0);
  // The cluster's one audit log (in PostgreSQL; both brokers stopped, read
  // with the master key): two requests and two reports; node-b's reads are
  // in it too; the attempt answered 503 left no record.
  const auto records = stack.audit_records();
  const auto count = [&](const char* action) {
    return std::count_if(records.begin(), records.end(),
                         [&](const json& r) { return r["action"] == action; });
  };
  CHECK(count("verification.request") == 2);
  CHECK(count("verification.report") == 2);
  CHECK(count("verification.read") >= 2);
  CHECK(std::count_if(records.begin(), records.end(), [&](const json& r) {
          return r["action"] == "verification.replay" && r.value("request_id", "") == id &&
                 r.value("status", "") == "archive_tampered";
        }) == 1);
  // It verifies, against node-a's anchor too.
  auto master = hfv::crypto::load_master_key_file(stack.broker_dir / "keys" / "master.key");
  REQUIRE(master.ok());
  auto verified = hfv::audit::AuditLog::verify_at(
      hfv::audit::LogLocation::shared(pg.conninfo()), hfv::crypto::derive_key(*master, hfv::crypto::kPurposeAuditDb),
      stack.broker_dir / "data" / "audit.anchor");
  REQUIRE(verified.ok());
  CHECK(verified->ok);
  CHECK(verified->anchor_checked);
  CHECK(verified->records == static_cast<std::int64_t>(records.size()));
  for (const char* log : {"brokerd.log", "brokerd-node-b.log"}) {
    INFO(log);
    CHECK(read_file(stack.dir.path / log).find(kPassword) == std::string::npos);
  }
  for (const auto* a : {&down, &unread, &unregistered})
    CHECK(a->body.find(kPassword) == std::string::npos);
}

TEST_CASE(
    "cluster: two brokers on a primary with a synchronous standby: the primary is killed under load, the standby "
    "promoted, every acknowledged report and audit record survives and the brokers serve again without a restart",
    "[cluster][daemon][failover]") {
  PgServer primary({"synchronous_standby_names=standby1"});
  PgServer standby(PgServer::StandbyOf{primary, "standby1"});
  primary.wait_synchronous_standby("standby1");
  const std::string conninfo = hfv::testing::failover_conninfo(primary, standby);
  Stack stack({}, {}, StorageOption{conninfo, "node-a"});
  auto sibling = stack.start_sibling("node-b");
  const json zhang = json::array({member("230102197503120016", "张伟", "applicant"),
                                  member("230102197808050020", "李娜", "spouse")});
  const std::string authorization = stack.register_authorization(
      "HRB-FO-1", json::array({"230102197503120016", "230102197808050020"}));
  json request = verification_body("HRB-FO-1", authorization, zhang);
  request["force"] = true;  // the same household again and again: no repeat suppression
  const std::string body = request.dump();

  // Load through both brokers; every answer is a report or a 503 with Retry-After.
  std::mutex m;
  std::map<std::string, json> acknowledged;  // verification id -> report
  std::atomic<bool> stop{false};
  std::atomic<int> unavailable{0}, unexpected{0};
  auto load = [&](const std::string& url) {
    while (!stop) {
      const Answer a = exchange("POST", url + "/v1/verifications", stack.case_system, body);
      if (a.status == 200) {
        json report = json::parse(a.body);
        std::lock_guard lock(m);
        acknowledged[report["verification_id"].get<std::string>()] = report;
      } else if (a.status == 503 && a.headers.count("retry-after") == 1) {
        ++unavailable;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      } else {
        ++unexpected;
      }
    }
  };
  const auto count = [&] {
    std::lock_guard lock(m);
    return acknowledged.size();
  };
  const auto wait_count = [&](std::size_t n, const char* what) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    while (count() < n) {
      if (std::chrono::steady_clock::now() > until) FAIL(what);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  std::thread a(load, stack.url);
  std::thread b(load, sibling.url);
  wait_count(6, "no reports before the failover");
  primary.kill_postmaster();
  primary.wait_orphans_gone();
  const std::size_t before = count();
  standby.promote();
  wait_count(before + 6, "the brokers did not serve again after the promotion");
  stop = true;
  a.join();
  b.join();
  CHECK(unexpected == 0);
  CHECK(stack.broker->running());
  CHECK(sibling.process->running());

  // Every acknowledged report reads back through either broker, unchanged.
  for (const auto& [id, report] : acknowledged) {
    INFO(id);
    for (const std::string& url : {stack.url, sibling.url}) {
      const Answer r = exchange("GET", url + "/v1/verifications/" + id, stack.case_system);
      REQUIRE(r.status == 200);
      CHECK(json::parse(r.body) == report);
    }
  }
  // And each is in the cluster's audit log on the promoted standby, which
  // verifies against node-a's anchor.
  REQUIRE(sibling.process->stop(SIGTERM) == 0);
  const auto records = stack.audit_records();
  std::set<std::string> reported;
  for (const auto& r : records) {
    if (r["action"] == "verification.report") reported.insert(r.value("request_id", ""));
  }
  for (const auto& [id, report] : acknowledged) {
    INFO(id);
    CHECK(reported.count(id) == 1);
  }
  auto master = hfv::crypto::load_master_key_file(stack.broker_dir / "keys" / "master.key");
  REQUIRE(master.ok());
  auto verified = hfv::audit::AuditLog::verify_at(hfv::audit::LogLocation::shared(conninfo),
                                                  hfv::crypto::derive_key(*master, hfv::crypto::kPurposeAuditDb),
                                                  stack.broker_dir / "data" / "audit.anchor");
  REQUIRE(verified.ok());
  CHECK(verified->ok);
  CHECK(verified->anchor_checked);
}
