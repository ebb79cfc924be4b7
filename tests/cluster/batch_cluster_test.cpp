// Two brokers on one PostgreSQL database under load, through real parts
// (pg_server.hpp, the agency simulator, two brokerd processes): both nodes
// verify a batch's households while case workers' verifications keep
// arriving at one of them; that one is killed with SIGKILL in the middle.
// Every report it acknowledged reads back unchanged through the other; the
// other takes over its batch households once their claims' lease runs out
// and finishes the batch. The shared audit log shows exactly one issued
// report per household of the batch, and verifies.
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "audit/audit_log.hpp"
#include "broker/ops/metrics.hpp"
#include "crypto/keys.hpp"
#include "pg_server.hpp"
#include "tests/batch/batch_fixture.hpp"
#include "tests/integration/stack.hpp"

namespace fs = std::filesystem;
using hfv::testing::PgServer;
using hfv::testing::Stack;
using hfv::testing::StorageOption;
using hfv::testing::batch::Client;
using nlohmann::json;
namespace batch = hfv::testing::batch;

TEST_CASE("cluster: a batch runs on two brokers, one is SIGKILLed, the other finishes it with every household once",
          "[cluster][batch][failover]") {
  PgServer pg;
  hfv::testing::TempDir data("hfv-batch-cluster");
  // 300 households for the batch, 60 more for interactive verifications.
  batch::Dataset d = batch::make_dataset(360, 0, 700000);
  d.write(data.path / "dataset.json", false);
  std::ofstream(data.path / "empty.json") << R"({"persons": {}})";
  // A short lease, so the survivor takes the dead node's households over
  // within seconds (the default is 30 s).
  auto configure = [](json& config, const fs::path& dir) {
    batch::configure(config, dir);
    config["review"]["claim_lease_ms"] = 3000;
    // Batches use the gaps between interactive verifications at once, so
    // node-a has batch households in flight when it is killed.
    config["review"]["yield_after_interactive_ms"] = 0;
  };
  Stack stack(configure, data.path / "empty.json", StorageOption{pg.conninfo(), "node-a"});
  // Agencies answer after 20 ms: the batch lasts long enough to kill a node in it.
  batch::restart_sim(stack, data.path / "dataset.json", "sim-data", 20);
  Client client(stack.case_system);
  batch::register_households(stack, client, d);
  auto sibling = stack.start_sibling("node-b");

  const std::string id = batch::start_batch(client, stack.url, batch::ndjson(d, 0, 300));
  // Both nodes work on it: node-b, which was not asked, picks it up.
  Client on_b(stack.case_system);
  // Meanwhile a case worker verifies households through node-a, one every
  // tenth of a second or so (the load's pace, not a timing check), until the
  // kill; what it acknowledged (200 and a report) is kept.
  std::vector<std::string> interactive;
  {
    std::istringstream lines(batch::ndjson(d, 300, 360));
    for (std::string line; std::getline(lines, line);) interactive.push_back(line);
  }
  std::mutex acked_mutex;
  std::map<std::string, json> acknowledged;  // verification id -> report as answered
  std::atomic<bool> stop_load{false};
  std::thread load([&] {
    Client worker(stack.case_system);
    for (std::size_t n = 0; !stop_load; ++n) {
      const auto r = worker.send("POST", stack.url + "/v1/verifications", interactive[n % interactive.size()]);
      if (r.status == 200) {  // otherwise the kill cut it: not acknowledged
        json report = json::parse(r.body);
        const std::string verification = report["verification_id"].get<std::string>();
        std::lock_guard lock(acked_mutex);
        acknowledged[verification] = std::move(report);
      } else if (r.status == 0) {
        break;  // node-a is gone
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const long done_at_kill = batch::wait_for_done(client, stack.url, id, 60, std::chrono::milliseconds(20));
  REQUIRE(done_at_kill >= 60);
  // Kill node-a while it holds batch households, whatever the machine's
  // pace: freeze the agencies (SIGSTOP: no answer leaves them), let node-a
  // finish what they had already answered (its in-flight gauge holds still
  // over three scrapes), and kill it once batch members are still in
  // flight; otherwise thaw and try again.
  Client scraper(stack.supervisor);
  auto in_flight_on_a = [&]() -> double {
    const auto r = scraper.send("GET", stack.url + "/metrics");
    REQUIRE(r.status == 200);
    return hfv::broker::parse_metrics_text(r.body).at("hfv_batch_members_in_flight");
  };
  bool holding = false;
  for (int round = 0; round < 50 && !holding; ++round) {
    stack.sim->signal(SIGSTOP);
    double settled = in_flight_on_a();
    for (int same = 0, reads = 0; same < 3 && reads < 200; ++reads) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const double now = in_flight_on_a();
      same = now == settled ? same + 1 : 0;
      settled = now;
    }
    holding = settled > 0;
    if (!holding) {
      stack.sim->signal(SIGCONT);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  REQUIRE(holding);
  REQUIRE(stack.broker->stop(SIGKILL) == 128 + SIGKILL);
  stack.sim->signal(SIGCONT);
  stop_load = true;
  load.join();
  // Every acknowledged report, through the surviving node.
  CHECK_FALSE(acknowledged.empty());
  for (const auto& [verification, report] : acknowledged) {
    const auto r = on_b.send("GET", sibling.url + "/v1/verifications/" + verification);
    INFO(verification);
    REQUIRE(r.status == 200);
    CHECK(json::parse(r.body) == report);
  }

  const batch::Watched w = batch::wait_for(on_b, sibling.url, id);
  INFO(w.last.dump());
  REQUIRE(w.last["state"] == "done");
  CHECK(w.last["done"] == 300);
  CHECK(w.last["failed"] == 0);
  CHECK(w.last["total"] == 300);
  CHECK(on_b.send("GET", sibling.url + "/v1/batches/" + id + "/changes").status == 200);
  const std::string b_log = hfv::testing::read_file(stack.dir.path / "brokerd-node-b.log");
  CHECK(b_log.find("batch_resumed") != std::string::npos);
  CHECK(b_log.find(R"("event":"batch_finished")") != std::string::npos);
  // node-a died with households in flight: node-b settled what they left
  // (from the audit) before verifying them again or counting them done.
  CHECK(b_log.find("batch_household_taken_over") != std::string::npos);
  REQUIRE(sibling.process->stop(SIGTERM) == 0);

  // The one audit log of the cluster: exactly one issued report per
  // household of the batch, whichever node verified it.
  auto master = hfv::crypto::load_master_key_file(stack.broker_dir / "keys" / "master.key");
  REQUIRE(master.ok());
  const auto where = hfv::audit::LogLocation::shared(pg.conninfo());
  const auto key = hfv::crypto::derive_key(*master, hfv::crypto::kPurposeAuditDb);
  auto log = hfv::audit::AuditLog::open(where, key);
  REQUIRE(log.ok());
  auto rows = (*log)->read(1, 1000000);
  REQUIRE(rows.ok());
  std::map<std::string, std::string> case_of;  // verification id -> case id, for this batch's requests
  std::map<std::string, int> reports;          // case id -> issued reports
  long finished = 0;
  for (const auto& row : *rows) {
    const json r = json::parse(row.body);
    if (r["action"] == "verification.request" &&
        r.value("detail", "").find("batch=" + id) != std::string::npos) {
      case_of[r["request_id"].get<std::string>()] = r["case_id"].get<std::string>();
    }
    if (r["action"] == "verification.report" && r["status"] == "issued") {
      auto it = case_of.find(r["request_id"].get<std::string>());
      if (it != case_of.end()) ++reports[it->second];
    }
    if (r["action"] == "batch.finished" && r["request_id"] == id) ++finished;
  }
  CHECK(finished == 1);  // finished once, by one node
  CHECK(reports.size() == 300);
  std::set<std::string> twice;
  for (const auto& [case_id, n] : reports) {
    if (n != 1) twice.insert(case_id);
  }
  INFO("households reported more than once: " << twice.size());
  CHECK(twice.empty());
  auto verified = hfv::audit::AuditLog::verify_at(where, key, stack.broker_dir / "data" / "audit.anchor");
  REQUIRE(verified.ok());
  CHECK(verified->ok);
  CHECK(verified->records == static_cast<std::int64_t>(rows->size()));
}
