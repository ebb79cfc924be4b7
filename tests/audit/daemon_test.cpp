// Daemon-level audit tests with real processes (agency-sim, brokerd,
// brokerctl): SIGKILL under concurrent load, a full audit disk, raw ID
// numbers on disk, and the supervisor and citizen endpoints.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "audit/audit_log.hpp"
#include "audit/export.hpp"
#include "crypto/keys.hpp"
#include "tests/integration/process.hpp"
#include "tests/unit/temp_dir.hpp"

namespace fs = std::filesystem;
using hfv::testing::ClientTls;
using hfv::testing::https;
using hfv::testing::Process;
using nlohmann::json;

namespace {

const fs::path kSource = HFV_SOURCE_DIR;
const char* kIds[] = {"230102197503120016", "230102197808050020", "230103195901200035",
                      "230104198206300042", "230104201009150051"};

// agency-sim and an initialised broker directory; brokerd is started per test.
struct Setup {
  hfv::testing::TempDir dir{"hfv-audit-daemon"};
  std::unique_ptr<Process> sim;
  std::unique_ptr<Process> broker;
  fs::path broker_dir = dir.path / "broker";
  std::string url;
  ClientTls case_system, supervisor;
  int starts = 0;

  Setup() {
    sim = std::make_unique<Process>(
        std::vector<std::string>{AGENCY_SIM_BIN, "--dataset",
                                 (kSource / "demo" / "dataset.json").string(), "--listen",
                                 "127.0.0.1:0", "--port-file", (dir.path / "sim.port").string(),
                                 "--request-log", (dir.path / "sim-requests.ndjson").string()},
        dir.path / "sim.log");
    const std::string sim_port = hfv::testing::wait_for_file(dir.path / "sim.port");
    Process init({BROKERD_BIN, "init", "--dir", broker_dir.string(), "--listen", "127.0.0.1:0",
                  "--agency-url", "http://127.0.0.1:" + sim_port.substr(0, sim_port.find('\n'))},
                 dir.path / "init.log");
    REQUIRE(init.stop(0, std::chrono::seconds(60)) == 0);
    const fs::path pki = broker_dir / "pki";
    case_system = {(pki / "ca.pem").string(), (pki / "demo-case-system.pem").string(),
                   (pki / "demo-case-system.key").string()};
    supervisor = {(pki / "ca.pem").string(), (pki / "demo-supervisor.pem").string(),
                  (pki / "demo-supervisor.key").string()};
  }

  // Starts brokerd, optionally through `sh -c` with a shell prefix (limits).
  void start(const std::string& shell_prefix = "") {
    fs::remove(broker_dir / "run" / "brokerd.port");
    const std::string config = (broker_dir / "brokerd.json").string();
    const fs::path log = dir.path / ("brokerd-" + std::to_string(starts++) + ".log");
    if (shell_prefix.empty()) {
      broker = std::make_unique<Process>(
          std::vector<std::string>{BROKERD_BIN, "run", "--config", config}, log);
    } else {
      broker = std::make_unique<Process>(
          std::vector<std::string>{"/bin/sh", "-c",
                                   shell_prefix + " exec '" + std::string(BROKERD_BIN) +
                                       "' run --config '" + config + "'"},
          log);
    }
    const std::string port =
        hfv::testing::wait_for_file(broker_dir / "run" / "brokerd.port", std::chrono::seconds(60));
    url = "https://127.0.0.1:" + port.substr(0, port.find('\n'));
    // The port file appears before the daemon handles signals: one answered
    // request shows the loop (and its SIGTERM handler) is running. A minute
    // is the ceiling for a loaded sanitizer build.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool up = false;
    while (!(up = https("GET", url + "/healthz", supervisor).status == 200) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(up);
  }

  std::vector<std::string> op() const { return {"X-Operator-Id: op-audit-01"}; }

  std::string authorize(const std::string& case_id, const json& ids) {
    json body = {{"case_id", case_id},          {"jurisdiction", "230100"}, {"members", ids},
                 {"categories", "all"},         {"valid_from", "2026-01-01"},
                 {"valid_until", "2027-12-31"}, {"form_sha256", std::string(64, 'c')}};
    auto r = https("POST", url + "/v1/authorizations", case_system, body.dump(), op());
    if (r.status != 201) return "";
    return json::parse(r.body)["authorization_id"].get<std::string>();
  }

  hfv::testing::HttpAnswer verify(const std::string& case_id, const std::string& auth,
                                  const char* id) {
    json body = {
        {"case_id", case_id},
        {"programme", "dibao"},
        {"jurisdiction", "230100"},
        {"area", "urban"},
        {"reference_date", "2024-11-01"},
        {"authorization_id", auth},
        {"force", true},
        {"obligors", json::array()},
        {"members", json::array({{{"id_number", id}, {"name", "x"}, {"relation", "applicant"}}})}};
    return https("POST", url + "/v1/verifications", case_system, body.dump(), op());
  }

  long sim_requests() const {
    const std::string log = hfv::testing::read_file(dir.path / "sim-requests.ndjson");
    return static_cast<long>(std::count(log.begin(), log.end(), '\n'));
  }

  hfv::crypto::SecretKey kek() const {
    auto master = hfv::crypto::load_master_key_file(broker_dir / "keys" / "master.key");
    REQUIRE(master.ok());
    return hfv::crypto::derive_key(*master, hfv::crypto::kPurposeAuditDb);
  }
  fs::path db() const { return broker_dir / "data" / "audit.db"; }
  fs::path anchor() const { return broker_dir / "run" / "audit.anchor"; }
};

}  // namespace

TEST_CASE("audit: SIGKILL under load loses no acknowledged request and the log verifies",
          "[audit][integration][crash]") {
  Setup s;
  std::mt19937 rng(std::random_device{}());
  std::set<std::string> acknowledged;
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    s.start();
    const std::size_t acknowledged_before = acknowledged.size();
    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&, c] {
        const char* id = kIds[c % 5];
        const std::string case_id = "CRASH-" + std::to_string(round) + "-" + std::to_string(c);
        const std::string auth = s.authorize(case_id, json::array({id}));
        if (auth.empty()) return;
        while (!stop) {
          auto r = s.verify(case_id, auth, id);
          if (r.status == 200) {
            std::lock_guard lock(mutex);
            acknowledged.insert(json::parse(r.body)["verification_id"].get<std::string>());
          }
          if (r.status == 0) return;  // the daemon is gone
        }
      });
    }
    // The kill falls at a random moment once this round has acknowledged a
    // verification (an event, however slow the machine), while the four
    // clients keep requests in every stage of flight.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    const auto acknowledged_now = [&] {
      std::lock_guard lock(mutex);
      return acknowledged.size();
    };
    while (acknowledged_now() == acknowledged_before && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 1000)(rng)));
    REQUIRE(s.broker->stop(SIGKILL).has_value());
    stop = true;
    for (auto& t : clients) t.join();
    REQUIRE(acknowledged.size() > acknowledged_before);
  }
  REQUIRE(acknowledged.size() >= kRounds);

  // Restart once more: the anchor accepts the crashed database; then verify.
  s.start();
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  hfv::audit::AuditLogOptions options;
  options.anchor_file = s.anchor();
  auto log = hfv::audit::AuditLog::open(s.db(), s.kek(), options);
  INFO((log ? std::string() : log.error().message));
  REQUIRE(log.ok());
  auto report = (*log)->verify();
  REQUIRE(report.ok());
  INFO(report->problem);
  CHECK(report->ok);
  CHECK(report->anchor_checked);
  auto rows = (*log)->read(1, 10000000);
  REQUIRE(rows.ok());
  std::set<std::string> requested, reported;
  for (const auto& r : *rows) {
    const json body = json::parse(r.body);
    if (body["action"] == "verification.request") requested.insert(body.value("request_id", ""));
    if (body["action"] == "verification.report") reported.insert(body.value("request_id", ""));
  }
  for (const auto& id : acknowledged) {
    CHECK(requested.contains(id));
    CHECK(reported.contains(id));
  }
}

TEST_CASE("audit: A full audit disk refuses verifications with 503 and queries nobody",
          "[audit][integration][durability]") {
  Setup s;
  s.start();
  const std::string auth = s.authorize("FULL-1", json::array({kIds[0]}));
  REQUIRE_FALSE(auth.empty());
  REQUIRE(s.verify("FULL-1", auth, kIds[0]).status == 200);
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  // RLIMIT_FSIZE makes every write past this size fail with EFBIG, as a full
  // disk would (SIGXFSZ ignored so the write returns the error).
  std::uintmax_t largest = 0;
  for (const auto& e : fs::recursive_directory_iterator(s.broker_dir)) {
    if (e.is_regular_file()) largest = std::max(largest, e.file_size());
  }
  const auto blocks = (largest + 96 * 1024) / 512 + 1;
  s.start("trap '' XFSZ; ulimit -f " + std::to_string(blocks) + ";");
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    const long before = s.sim_requests();
    auto r = s.verify("FULL-1", auth, kIds[0]);
    if (r.status == 503) {
      const json body = json::parse(r.body);
      if (body["error"] == "audit_unavailable" &&
          body["message"].get<std::string>().find("no agency is queried") != std::string::npos) {
        refused = true;
        CHECK(s.sim_requests() == before);
      }
    } else {
      REQUIRE(r.status == 200);
    }
  }
  CHECK(refused);
  // Whenever the log cannot be written before the agencies are asked, the
  // request is refused and no agency is asked; when it fails after them, the
  // report is withheld. The background WAL checkpoint (storage/sqlcipher_db.hpp) can
  // make room in the log's files again, and then requests are audited and
  // served again: no restart needed once space is back.
  for (int i = 0; i < 5; ++i) {
    const long before = s.sim_requests();
    const auto r = s.verify("FULL-1", auth, kIds[0]);
    if (r.status == 503) {
      // The state database shares the full disk: it may be the one that
      // cannot be written (the running verification, or its report).
      const json body = json::parse(r.body);
      const std::string error = body["error"];
      const std::string message = body["message"].get<std::string>();
      INFO(error << ": " << message);
      CHECK((error == "audit_unavailable" || error == "state_unavailable"));
      if (message.find("no agency is queried") != std::string::npos ||
          message == "verifications cannot be stored now") {
        CHECK(s.sim_requests() == before);  // refused before anyone was asked
      } else if (error == "audit_unavailable") {
        // The request and its subjects were audited before the agencies
        // were asked; the answers and report could not be: no report leaves.
        CHECK(message.find("report withheld") != std::string::npos);
      } else {
        CHECK(message == "the report could not be stored");  // audited, but not kept: not answered
      }
    } else {
      CHECK(r.status == 200);
    }
  }
}

TEST_CASE("audit: A read-only audit directory stops the daemon before any agency is asked",
          "[audit][integration][durability]") {
  Setup s;
  s.start();
  const std::string auth = s.authorize("RO-1", json::array({kIds[0]}));
  REQUIRE(s.verify("RO-1", auth, kIds[0]).status == 200);
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  const long before = s.sim_requests();
  // The data folder becomes read-only in a mount namespace of the daemon's
  // own (a read-only bind mount; root ignores permission bits, so chmod
  // would prove nothing). Linux refuses to remount a folder read-only while
  // a file in it is open for writing, so the daemon meets it at start.
  const fs::path data = s.broker_dir / "data";
  const fs::path wrap = s.dir.path / "readonly.sh";
  std::ofstream(wrap) << "#!/bin/sh\nset -e\nmount --bind \"$1\" \"$1\"\n"
                         "mount -o remount,bind,ro \"$1\"\nshift\nexec \"$@\"\n";
  const std::string probe = "unshare -m --propagation private /bin/sh '" + wrap.string() + "' '" +
                            data.string() + "' /bin/sh -c '! touch \"$0\"/probe' '" +
                            data.string() + "' 2>/dev/null";
  if (std::system(probe.c_str()) != 0) {
    WARN("mount namespaces are not available here: read-only case not exercised");
    return;
  }
  fs::remove(s.broker_dir / "run" / "brokerd.port");
  Process daemon({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", wrap.string(),
                  data.string(), BROKERD_BIN, "run", "--config",
                  (s.broker_dir / "brokerd.json").string()},
                 s.dir.path / "brokerd-ro.log");
  const auto status = daemon.stop(0, std::chrono::seconds(30));  // signal 0: only wait
  REQUIRE(status.has_value());
  CHECK(*status != 0);
  const std::string log = hfv::testing::read_file(s.dir.path / "brokerd-ro.log");
  CHECK(log.find("audit log") != std::string::npos);
  CHECK_FALSE(fs::exists(s.broker_dir / "run" / "brokerd.port"));
  CHECK(s.sim_requests() == before);
  // Writable again, it starts and the log still verifies.
  s.start();
  auto verified = https("GET", s.url + "/v1/audit/verify", s.supervisor);
  REQUIRE(verified.status == 200);
  CHECK(json::parse(verified.body)["ok"] == true);
}

TEST_CASE("audit: Supervisor API, citizen access log, export and brokerctl work end to end",
          "[audit][integration][api]") {
  Setup s;
  s.start();
  const std::string auth = s.authorize("API-1", json::array({kIds[0], kIds[1]}));
  REQUIRE_FALSE(auth.empty());
  REQUIRE(s.verify("API-1", auth, kIds[0]).status == 200);
  const std::string other = s.authorize("API-2", json::array({kIds[2]}));
  REQUIRE(s.verify("API-2", other, kIds[2]).status == 200);

  // Case systems may not search; supervisors may.
  CHECK(https("GET", s.url + "/v1/audit", s.case_system, "", s.op()).status == 403);
  auto all = https("GET", s.url + "/v1/audit?limit=1000", s.supervisor);
  REQUIRE(all.status == 200);
  CHECK(json::parse(all.body)["count"].get<int>() > 5);
  json search = {{"member_id", kIds[0]}, {"action", "verification.subject"}};
  auto found = https("POST", s.url + "/v1/audit/search", s.supervisor, search.dump());
  REQUIRE(found.status == 200);
  const json hits = json::parse(found.body);
  REQUIRE(hits["count"] == 1);
  CHECK(hits["records"][0]["record"]["case_id"] == "API-1");

  auto verified = https("GET", s.url + "/v1/audit/verify", s.supervisor);
  REQUIRE(verified.status == 200);
  const json v = json::parse(verified.body);
  CHECK(v["ok"] == true);
  CHECK(v["tree_head"]["tree_size"].get<long>() >= v["records"].get<long>() - 1);
  // The live file in WAL mode: every page and every WAL frame SQLite reads.
  CHECK(v["page_check"]["applies"] == true);
  CHECK(v["page_check"]["ok"] == true);
  CHECK(v["page_check"]["pages"].get<long>() > 0);
  CHECK(v["page_check"]["integrity_check"] == true);

  auto proof = https("GET", s.url + "/v1/audit/proof?seq=2", s.supervisor);
  REQUIRE(proof.status == 200);
  CHECK(json::parse(proof.body)["path"].is_array());

  // The citizen's access log: only that person's rows.
  json ask = {{"id_number", kIds[0]}, {"authorization_id", auth}};
  auto access = https("POST", s.url + "/v1/access-log", s.case_system, ask.dump(), s.op());
  REQUIRE(access.status == 200);
  const json accesses = json::parse(access.body)["accesses"];
  REQUIRE(accesses.size() >= 2);
  for (const auto& a : accesses) {
    CHECK(a["case_id"] == "API-1");
    CHECK(a["principal"] == "demo-case-system");
  }
  CHECK(access.body.find("API-2") == std::string::npos);
  json not_covered = {{"id_number", kIds[2]}, {"authorization_id", auth}};
  CHECK(https("POST", s.url + "/v1/access-log", s.case_system, not_covered.dump(), s.op()).status ==
        403);

  // Export, then verify it offline with brokerctl.
  auto exported = https("GET", s.url + "/v1/audit/export?from_seq=1", s.supervisor);
  REQUIRE(exported.status == 200);
  const fs::path export_file = s.dir.path / "export.ndjson";
  { std::ofstream(export_file) << json::parse(exported.body)["ndjson"].get<std::string>(); }
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  const std::string config = (s.broker_dir / "brokerd.json").string();
  Process check({BROKERCTL_BIN, "audit", "verify-export", export_file.string(), "--config", config},
                s.dir.path / "verify-export.log");
  CHECK(check.stop(0, std::chrono::seconds(60)) == 0);
  INFO(hfv::testing::read_file(s.dir.path / "verify-export.log"));
  CHECK(hfv::testing::read_file(s.dir.path / "verify-export.log").find("OK:") != std::string::npos);
  // Its members re-pseudonymised for it (hfv-audit-export/v2).
  CHECK(hfv::testing::read_file(s.dir.path / "verify-export.log").find("members re-pseudonymised for this export") !=
        std::string::npos);

  // brokerctl's own export: a new file only its owner reads, never one written over.
  const fs::path offline_export = s.dir.path / "offline-export.ndjson";
  Process exporting({BROKERCTL_BIN, "audit", "export", "--config", config, "--out", offline_export.string()},
                    s.dir.path / "export.log");
  REQUIRE(exporting.stop(0, std::chrono::seconds(60)) == 0);
  CHECK((fs::status(offline_export).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  const std::string first_export = hfv::testing::read_file(offline_export);
  CHECK_FALSE(first_export.empty());
  Process again({BROKERCTL_BIN, "audit", "export", "--config", config, "--out", offline_export.string()},
                s.dir.path / "export-again.log");
  CHECK(again.stop(0, std::chrono::seconds(60)) != 0);
  CHECK(hfv::testing::read_file(s.dir.path / "export-again.log").find("exists") != std::string::npos);
  CHECK(hfv::testing::read_file(offline_export) == first_export);

  // brokerctl audit verify on a copy of the database, offline.
  const fs::path copy = s.dir.path / "copy.db";
  fs::copy_file(s.db(), copy);
  fs::copy_file(hfv::audit::keyring_path(s.db()), hfv::audit::keyring_path(copy));
  Process offline({BROKERCTL_BIN, "audit", "verify", "--config", config, "--db", copy.string()},
                  s.dir.path / "verify.log");
  CHECK(offline.stop(0, std::chrono::seconds(120)) == 0);
  CHECK(hfv::testing::read_file(s.dir.path / "verify.log").find("OK:") != std::string::npos);
  CHECK(hfv::testing::read_file(s.dir.path / "verify.log").find("pages: all ") != std::string::npos);

  // Another copy with one byte flipped in page 3 (tests/audit/page_check_test.cpp
  // flips every page): brokerctl names the page and fails.
  const fs::path damaged = s.dir.path / "damaged" / "audit.db";
  fs::create_directories(damaged.parent_path());
  fs::copy_file(s.db(), damaged);
  fs::copy_file(hfv::audit::keyring_path(s.db()), hfv::audit::keyring_path(damaged));
  {
    std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
    const std::streamoff at = 2 * 4096 + 1000;
    f.seekg(at);
    const int c = f.get();
    f.seekp(at);
    f.put(static_cast<char>(c ^ 0x5a));
    REQUIRE(f.good());
  }
  Process broken({BROKERCTL_BIN, "audit", "verify", "--config", config, "--db", damaged.string()},
                 s.dir.path / "verify-damaged.log");
  CHECK(broken.stop(0, std::chrono::seconds(120)) == 1);
  INFO(hfv::testing::read_file(s.dir.path / "verify-damaged.log"));
  CHECK(hfv::testing::read_file(s.dir.path / "verify-damaged.log").find("DAMAGED at page 3:") !=
        std::string::npos);

  // Data-key rotation with brokerctl, then the daemon starts on the re-keyed log.
  Process rotate({BROKERCTL_BIN, "audit", "rotate-key", "--config", config, "--data-key"},
                 s.dir.path / "rotate.log");
  CHECK(rotate.stop(0, std::chrono::seconds(60)) == 0);
  s.start();
  CHECK(https("GET", s.url + "/v1/audit/verify", s.supervisor).status == 200);
  REQUIRE(s.broker->stop(SIGTERM) == 0);

  // No raw ID number in plaintext anywhere under the broker's folder.
  for (const auto& e : fs::recursive_directory_iterator(s.dir.path)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (name.starts_with("sim")) continue;  // the simulator's own files
    const std::string content = hfv::testing::read_file(e.path());
    for (const char* id : kIds) {
      INFO(e.path().string());
      CHECK(content.find(id) == std::string::npos);
    }
  }
}

namespace {

// Starts brokerd expecting it to refuse to start: its exit status and log.
std::pair<std::optional<int>, std::string> refused_start(Setup& s) {
  const fs::path log = s.dir.path / ("brokerd-refused-" + std::to_string(s.starts++) + ".log");
  Process refused({BROKERD_BIN, "run", "--config", (s.broker_dir / "brokerd.json").string()}, log);
  const auto rc = refused.stop(0, std::chrono::seconds(60));
  return {rc, hfv::testing::read_file(log)};
}

json read_config(const Setup& s) { return json::parse(hfv::testing::read_file(s.broker_dir / "brokerd.json")); }

void write_config(const Setup& s, const json& config) {
  std::ofstream(s.broker_dir / "brokerd.json", std::ios::trunc) << config.dump(2) << "\n";
}

// Every file of the audit log: database, WAL, keyring, lock, and the anchor.
void wipe_audit_log(const Setup& s) {
  for (const auto& entry : fs::directory_iterator(s.db().parent_path())) {
    if (entry.path().filename().string().starts_with("audit.db")) fs::remove(entry.path());
  }
  fs::remove(s.anchor());
}

}  // namespace

TEST_CASE("audit trust: a wiped audit log is refused at start, never replaced by a new one, and init will not overwrite a log",
          "[audit][integration][trust]") {
  Setup s;
  const json config = read_config(s);
  // brokerd init created the log and pinned its key.
  REQUIRE(config["audit"].contains("public_key"));
  const std::string pinned = config["audit"]["public_key"].get<std::string>();
  REQUIRE(pinned.size() == 64);

  // brokerctl audit init never replaces a log that is there.
  {
    Process again({BROKERCTL_BIN, "audit", "init", "--config", (s.broker_dir / "brokerd.json").string()},
                  s.dir.path / "init-again.log");
    REQUIRE(again.stop(0, std::chrono::seconds(60)) != 0);
    CHECK(hfv::testing::read_file(s.dir.path / "init-again.log").find("already") != std::string::npos);
  }

  s.start();
  REQUIRE_FALSE(s.authorize("case-trust-1", json::array({kIds[0]})).empty());
  REQUIRE(s.broker->stop() == 0);

  // Database, keyring and anchor deleted: the pinned key says a log was there.
  wipe_audit_log(s);
  auto [rc, log] = refused_start(s);
  CHECK(rc == 78);
  CHECK(log.find("audit_log_missing") != std::string::npos);
  CHECK_FALSE(fs::exists(s.db()));  // nothing was created in its place

  // Without the pin, a missing log is still no reason to start a new one.
  json unpinned = config;
  unpinned["audit"].erase("public_key");
  write_config(s, unpinned);
  std::tie(rc, log) = refused_start(s);
  CHECK(rc == 78);
  CHECK(log.find("brokerctl audit init") != std::string::npos);
  CHECK_FALSE(fs::exists(s.db()));

  // A new log made by an operator has a new key: the old pin refuses it,
  // and so does brokerctl audit verify.
  {
    Process init({BROKERCTL_BIN, "audit", "init", "--config", (s.broker_dir / "brokerd.json").string()},
                 s.dir.path / "init-new.log");
    REQUIRE(init.stop(0, std::chrono::seconds(60)) == 0);
    const std::string out = hfv::testing::read_file(s.dir.path / "init-new.log");
    CHECK(out.find("public_key") != std::string::npos);
    CHECK(out.find(pinned) == std::string::npos);
  }
  write_config(s, config);
  std::tie(rc, log) = refused_start(s);
  CHECK(rc == 78);
  CHECK(log.find("audit_key_mismatch") != std::string::npos);
  Process verify({BROKERCTL_BIN, "audit", "verify", "--config", (s.broker_dir / "brokerd.json").string()},
                 s.dir.path / "verify-new.log");
  CHECK(verify.stop(0, std::chrono::seconds(120)) == 1);
  CHECK(hfv::testing::read_file(s.dir.path / "verify-new.log").find("pinned") != std::string::npos);
}

TEST_CASE("consent: a state database copied back from before a revocation does not revive the authorisation",
          "[audit][integration][trust]") {
  Setup s;
  s.start();
  const std::string auth = s.authorize("case-revive-1", json::array({kIds[0]}));
  REQUIRE_FALSE(auth.empty());
  REQUIRE(s.broker->stop() == 0);
  // The state database as it was with the authorisation in force.
  const fs::path data = s.broker_dir / "data";
  const fs::path saved = s.dir.path / "state-copy";
  fs::create_directories(saved);
  for (const auto& entry : fs::directory_iterator(data)) {
    if (entry.path().filename().string().starts_with("state.db")) {
      fs::copy_file(entry.path(), saved / entry.path().filename());
    }
  }

  s.start();
  auto revoked = https("POST", s.url + "/v1/authorizations/" + auth + "/revoke", s.case_system, "{}", s.op());
  REQUIRE(revoked.status == 200);
  REQUIRE(s.broker->stop() == 0);

  // The old copy put back in place of the current state.
  for (const auto& entry : fs::directory_iterator(data)) {
    if (entry.path().filename().string().starts_with("state.db")) fs::remove(entry.path());
  }
  for (const auto& entry : fs::directory_iterator(saved)) fs::copy_file(entry.path(), data / entry.path().filename());

  s.start();
  auto shown = https("GET", s.url + "/v1/authorizations/" + auth, s.case_system, "", s.op());
  REQUIRE(shown.status == 200);
  CHECK(json::parse(shown.body).value("status", std::string()) == "revoked");
  const long asked_before = s.sim_requests();
  auto verified = s.verify("case-revive-1", auth, kIds[0]);
  CHECK(verified.status == 403);
  CHECK(verified.body.find("consent_revoked") != std::string::npos);
  CHECK(s.sim_requests() == asked_before);  // no agency asked
  REQUIRE(s.broker->stop() == 0);
  // The third start's log (brokerd-2.log) says what was found.
  const std::string daemon_log = hfv::testing::read_file(s.dir.path / "brokerd-2.log");
  CHECK(daemon_log.find("consent_state_rolled_back") != std::string::npos);
}
