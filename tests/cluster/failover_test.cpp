// Failover on real servers: a PostgreSQL primary with a synchronous
// standby (pg_basebackup, streaming replication, synchronous_standby_names
// naming it), writers under load appending audit records and finishing
// reports through a multi-host connection string; the primary's postmaster
// is killed with SIGKILL and the standby promoted. Every acknowledged audit
// record and report is on the promoted standby, the audit log verifies
// there, and the same writers (no reopen) go on by themselves; while no
// server takes writes they are told "db_unavailable", never that a record
// was written.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "audit/audit_log.hpp"
#include "broker/store/postgresql/report_store.hpp"
#include "pg_server.hpp"

namespace audit = hfv::audit;
namespace b = hfv::broker;
using hfv::testing::PgServer;
using hfv::testing::TempDir;

namespace {

const hfv::crypto::SecretKey kKek = hfv::crypto::SecretKey::random();
const hfv::crypto::SecretKey kColumns = hfv::crypto::SecretKey::random();

// Waits (bounded for a loaded machine) until `done` holds.
template <class Done>
void wait_until(Done done, const char* what) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) FAIL(what);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

audit::AuditRecord record(int writer, int n) {
  audit::AuditRecord r;
  r.action = "agency.query";
  r.principal = "CN=case-system";
  r.case_id = "F-" + std::to_string(writer) + "-" + std::to_string(n);
  r.member = "m" + std::to_string(n);
  r.source = "bank";
  r.status = "ok";
  return r;
}

b::StoredVerification running(const std::string& id) {
  b::StoredVerification v;
  v.id = id;
  v.principal = "case-system";
  v.idempotency_key = "key-" + id;
  v.request_sha256 = std::string(64, 'a');
  v.household_key = "household-" + id;
  v.created_unix = 100;
  return v;
}

}  // namespace

TEST_CASE("cluster: the primary is killed under load and the synchronous standby promoted: nothing acknowledged is lost",
          "[cluster][failover]") {
  PgServer primary({"synchronous_standby_names=standby1"});
  PgServer standby(PgServer::StandbyOf{primary, "standby1"});
  primary.wait_synchronous_standby("standby1");
  const std::string conninfo = hfv::testing::failover_conninfo(primary, standby);

  TempDir dir{"hfv-failover"};
  audit::AuditLogOptions options;
  options.anchor_file = dir.path / "audit.anchor";
  options.head_interval = std::chrono::milliseconds(50);
  auto log = audit::AuditLog::open(audit::LogLocation::shared(conninfo), kKek, options);
  REQUIRE(log.ok());
  auto reports = b::PostgresqlReportStore::open(conninfo, kColumns, "node-a");
  REQUIRE(reports.ok());

  // Two audit writers and one report writer, each retrying what failed.
  std::mutex m;
  std::set<std::int64_t> acknowledged_seqs;
  std::set<std::string> acknowledged_reports;
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  auto audit_writer = [&](int w) {
    for (int n = 0; !stop; ++n) {
      auto seq = (*log)->append_blocking({record(w, n)});
      if (!seq) {
        ++refused;
        CHECK(seq.error().code == "db_unavailable");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      std::lock_guard lock(m);
      acknowledged_seqs.insert(*seq);
    }
  };
  auto report_writer = [&] {
    for (int n = 0; !stop; ++n) {
      const std::string id = "ver_" + std::to_string(n);
      auto s = (*reports)->insert_running(running(id));
      if (s) s = (*reports)->finish(id, 200, R"({"report":")" + id + R"("})");
      if (!s) {
        ++refused;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      std::lock_guard lock(m);
      acknowledged_reports.insert(id);
    }
  };
  std::vector<std::thread> writers;
  writers.emplace_back(audit_writer, 1);
  writers.emplace_back(audit_writer, 2);
  writers.emplace_back(report_writer);
  auto count = [&] {
    std::lock_guard lock(m);
    return acknowledged_seqs.size() + acknowledged_reports.size();
  };
  wait_until([&] { return count() >= 100; }, "no load before the failover");

  primary.kill_postmaster();
  primary.wait_orphans_gone();
  const auto before_promotion = count();
  standby.promote();
  // Service resumes by itself: the same log and store, not reopened.
  wait_until([&] { return count() >= before_promotion + 100; }, "writes did not resume on the promoted standby");
  stop = true;
  for (auto& t : writers) t.join();
  CHECK(refused > 0);  // the switch was seen, as refusals, not as writes

  // Every acknowledged audit record and report is on the promoted standby.
  const auto seqs = standby.column("SELECT seq FROM audit_records ORDER BY seq");
  std::set<std::int64_t> stored;
  for (const auto& s : seqs) stored.insert(std::stoll(s));
  for (auto seq : acknowledged_seqs) {
    INFO(seq);
    CHECK(stored.count(seq) == 1);
  }
  for (const auto& id : acknowledged_reports) {
    INFO(id);
    auto found = (*reports)->find(id, "case-system");
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    CHECK((*found)->response == R"({"report":")" + id + R"("})");
  }
  log->reset();  // a final head, anchored
  auto report = audit::AuditLog::verify_at(audit::LogLocation::shared(conninfo), kKek, options.anchor_file);
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(report->anchor_checked);
  CHECK(report->records == static_cast<std::int64_t>(stored.size()));
}
