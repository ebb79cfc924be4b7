// hfv-witness and brokerd as real processes (issue 22, finding 2): a
// daemon's signed heads are cosigned and `brokerctl audit verify` checks
// the cosignatures; a consistent rollback of database, keyring and anchor,
// and a wipe of all three, are refused by the witness and flagged by
// `audit verify`; the witness's state survives its restart; after a
// rotation of the log's signing key, a witness given the new vkey ("vkeys")
// goes on cosigning the same origin.
#include <catch2/catch.hpp>

#include <regex>

#include "audit/checkpoint.hpp"
#include "tests/integration/stack.hpp"

namespace {

namespace fs = std::filesystem;

using hfv::testing::HttpAnswer;
using hfv::testing::Process;
using hfv::testing::read_file;
using hfv::testing::Stack;
using hfv::testing::wait_for_file;
using nlohmann::json;

// Runs a command to its end; returns (exit status, output).
std::pair<int, std::string> run_tool(const std::vector<std::string>& argv, const fs::path& log) {
  Process p(argv, log);
  const auto status = p.stop(0, std::chrono::seconds(120));  // signal 0: only wait
  REQUIRE(status.has_value());
  return {*status, read_file(log)};
}

// Waits until `file` holds `text` (a log line, a state change).
bool wait_for_text(const fs::path& file, const std::string& text,
                   std::chrono::seconds timeout = std::chrono::seconds(90)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (read_file(file).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

struct Witness {
  fs::path dir;
  std::string name = "audit-office.test/witness";
  std::string vkey;
  std::string url;
  std::unique_ptr<Process> process;
  int starts = 0;

  explicit Witness(const fs::path& d) : dir(d) {
    fs::create_directories(dir);
    auto [status, out] = run_tool({WITNESS_BIN, "--init-key", (dir / "witness.key").string(), "--name", name},
                                  dir / "init.log");
    REQUIRE(status == 0);
    vkey = out.substr(0, out.find('\n'));
    REQUIRE(vkey.starts_with(name + "+"));
    CHECK((fs::status(dir / "witness.key").permissions() & fs::perms::group_read) == fs::perms::none);
  }
  void configure(const std::string& origin, const std::string& log_vkey) const {
    const json config = {{"name", name},
                         {"key_file", "witness.key"},
                         {"state_file", "state.json"},
                         {"listen", "127.0.0.1:0"},
                         {"port_file", "witness.port"},
                         {"logs", json::array({{{"origin", origin}, {"vkey", log_vkey}}})}};
    std::ofstream(dir / "witness.json", std::ios::trunc) << config.dump(2);
  }
  // Starts it; again on the same port (the broker's configuration names it).
  void start() {
    if (!url.empty()) {
      json config = json::parse(read_file(dir / "witness.json"));
      config["listen"] = url.substr(std::string("http://").size());
      std::ofstream(dir / "witness.json", std::ios::trunc) << config.dump(2);
    }
    fs::remove(dir / "witness.port");
    process = std::make_unique<Process>(
        std::vector<std::string>{WITNESS_BIN, "--config", (dir / "witness.json").string()},
        dir / ("witness-" + std::to_string(++starts) + ".log"));
    const std::string port = wait_for_file(dir / "witness.port");
    url = "http://127.0.0.1:" + port.substr(0, port.find('\n'));
  }
  HttpAnswer latest(const std::string& origin) const {
    return hfv::testing::https("GET", url + "/" + hfv::audit::origin_hash(origin) + "/checkpoint", {});
  }
  // The size of the latest checkpoint it cosigned for `origin`; 0: none.
  std::uint64_t latest_size(const std::string& origin) const {
    const auto answer = latest(origin);
    if (answer.status != 200) return 0;
    auto note = hfv::audit::note::parse_note(answer.body);
    REQUIRE(note);
    auto checkpoint = hfv::audit::parse_checkpoint(note->text);
    REQUIRE(checkpoint);
    return checkpoint->size;
  }
};

void restart_broker(Stack& s, const std::string& log_name) {
  fs::remove(s.broker_dir / "run" / "brokerd.port");
  s.broker = std::make_unique<Process>(
      std::vector<std::string>{BROKERD_BIN, "run", "--config", (s.broker_dir / "brokerd.json").string()},
      s.dir.path / log_name);
  const std::string port = wait_for_file(s.broker_dir / "run" / "brokerd.port");
  s.url = "https://127.0.0.1:" + port.substr(0, port.find('\n'));
}

// The anchor file of the Stack's broker (on PostgreSQL: apply_storage's).
fs::path anchor_of(const Stack& s) {
  return s.on_postgresql() ? s.broker_dir / "data" / "audit.anchor" : s.broker_dir / "run" / "audit.anchor";
}

std::uint64_t anchored_size(const Stack& s) {
  return json::parse(read_file(anchor_of(s)))["tree_head"]["tree_size"].get<std::uint64_t>();
}

// The tree size of the witness's checkpoint kept in the cluster's table
// (postgresql backend), "" when there is none.
std::string table_size(const Stack& s, const std::string& origin, const std::string& witness) {
  return s.database->value("SELECT tree_size FROM audit_cosigned WHERE origin = $1 AND witness = $2",
                           {origin, witness});
}

// Waits until the table holds a checkpoint of the witness's.
bool wait_for_table(const Stack& s, const std::string& origin, const std::string& witness) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < until) {
    if (!table_size(s, origin, witness).empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The audit log's files: database (and WAL), keyring, anchor.
std::vector<fs::path> audit_files(const Stack& s) {
  const fs::path data = s.broker_dir / "data";
  return {data / "audit.db", data / "audit.db-wal", data / "audit.db-shm", data / "audit.db.keyring",
          s.broker_dir / "run" / "audit.anchor"};
}

}  // namespace

TEST_CASE("witness: heads are cosigned and verified, and a rollback or a wipe of the audit log is refused and flagged",
          "[witness][integration]") {
  Stack s;
  const fs::path cosigned = hfv::audit::cosigned_path(anchor_of(s));
  const std::string config = (s.broker_dir / "brokerd.json").string();

  // The log's origin and key, for the witness's configuration.
  auto [vkey_status, vkey_out] = run_tool({BROKERCTL_BIN, "audit", "vkey", "--config", config}, s.dir.path / "vkey.log");
  REQUIRE(vkey_status == 0);
  std::smatch m;
  REQUIRE(std::regex_search(vkey_out, m, std::regex("origin: (\\S+)\nvkey: (\\S+)\n")));
  const std::string origin = m[1];
  const std::string log_vkey = m[2];
  CHECK(origin.starts_with("hfv/audit/"));

  Witness w(s.dir.path / "witness");
  w.configure(origin, log_vkey);
  w.start();

  // The broker with the witness.
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  {
    json c = json::parse(read_file(config));
    c["audit"]["witnesses"] = json::array({{{"name", w.name}, {"url", w.url}, {"vkey", w.vkey}}});
    std::ofstream(config, std::ios::trunc) << c.dump(2);
  }
  restart_broker(s, "brokerd-2.log");

  // (a) Its heads are cosigned, kept beside the anchor (on PostgreSQL in
  // the cluster's table too), and verified.
  REQUIRE(wait_for_text(cosigned, w.name));
  if (s.on_postgresql()) REQUIRE(wait_for_table(s, origin, w.name));
  s.verify("WIT-1", json::array({hfv::testing::member("230102197503120016", "张伟", "applicant")}));
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  const std::uint64_t old_size = anchored_size(s);
  // The shutdown head reaches the witness before the daemon exits.
  CHECK(w.latest_size(origin) == old_size);
  if (s.on_postgresql()) {
    CHECK(table_size(s, origin, w.name) == std::to_string(old_size));
    // audit verify reads the table, not this node's file.
    fs::remove(cosigned);
  }
  {
    auto [status, out] = run_tool({BROKERCTL_BIN, "audit", "verify", "--config", config}, s.dir.path / "verify-a.log");
    INFO(out);
    CHECK(status == 0);
    CHECK(out.find("witness " + w.name + ": its latest checkpoint: " + std::to_string(old_size) +
                   " records, consistent with this log, cosignature verified") != std::string::npos);
    if (s.on_postgresql()) {
      CHECK(out.find("witness " + w.name + ": the cosigned checkpoint stored in PostgreSQL: " +
                     std::to_string(old_size) + " records, consistent with this log, cosignature verified") !=
            std::string::npos);
    }
    CHECK(out.find("FAILED") == std::string::npos);
  }
  if (s.on_postgresql()) {
    // Two nodes of the cluster sending heads of the one log to the same
    // witness: none refused, the table follows the witness's latest.
    restart_broker(s, "brokerd-3.log");
    auto sibling = s.start_sibling("node-b");
    s.verify("WIT-2", json::array({hfv::testing::member("230103195901200035", "王建国", "applicant")}));
    const std::string first_url = s.url;
    s.url = sibling.url;
    s.verify("WIT-3", json::array({hfv::testing::member("230102197808050020", "李娜", "applicant")}));
    s.url = first_url;
    REQUIRE(s.broker->stop(SIGTERM) == 0);
    REQUIRE(sibling.process->stop(SIGTERM) == 0);
    const std::string logs =
        read_file(s.dir.path / "brokerd-3.log") + read_file(s.dir.path / "brokerd-node-b.log");
    CHECK(logs.find("\"event\":\"audit_witness_refused\"") == std::string::npos);
    CHECK(logs.find("\"event\":\"audit_witness_bad_cosignature\"") == std::string::npos);
    const std::uint64_t latest = w.latest_size(origin);
    CHECK(latest > old_size);
    CHECK(table_size(s, origin, w.name) == std::to_string(latest));
    auto [status, out] = run_tool({BROKERCTL_BIN, "audit", "verify", "--config", config}, s.dir.path / "verify-a2.log");
    INFO(out);
    CHECK(status == 0);
    CHECK(out.find("FAILED") == std::string::npos);
    // The rollback and wipe below are of the SQLCipher log's file set.
    return;
  }

  // (b) Rollback: keep a consistent copy of database, keyring and anchor,
  // let the log grow (the witness sees it), then put the copy back.
  const fs::path copy = s.dir.path / "copy";
  fs::create_directories(copy);
  for (const auto& f : audit_files(s)) {
    if (fs::exists(f)) fs::copy_file(f, copy / f.filename());
  }
  restart_broker(s, "brokerd-3.log");
  s.verify("WIT-2", json::array({hfv::testing::member("230103195901200035", "王建国", "applicant")}));
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  const std::uint64_t grown = anchored_size(s);
  REQUIRE(grown > old_size);
  CHECK(w.latest_size(origin) == grown);
  for (const auto& f : audit_files(s)) {
    fs::remove(f);
    if (fs::exists(copy / f.filename())) fs::copy_file(copy / f.filename(), f);
  }
  restart_broker(s, "brokerd-4.log");
  // The restored log opens (its anchor matches it), but the witness, which
  // saw a bigger tree, cosigns nothing: the daemon raises the alarm.
  REQUIRE(wait_for_text(s.dir.path / "brokerd-4.log", "\"event\":\"audit_witness_refused\""));
  CHECK(read_file(s.dir.path / "brokerd-4.log").find(w.name) != std::string::npos);
  CHECK(w.latest_size(origin) == grown);
  {
    auto [status, out] = run_tool({BROKERCTL_BIN, "audit", "verify", "--config", config}, s.dir.path / "verify-b.log");
    INFO(out);
    CHECK(status == 1);
    CHECK(out.find("FAILED: witness " + w.name + ": ROLLED BACK: its latest checkpoint is a cosigned tree of " +
                   std::to_string(grown) + " records") != std::string::npos);
  }
  REQUIRE(s.broker->stop(SIGTERM) == 0);

  // (d) The witness's state survives its restart; it still refuses the
  // stale and the malformed.
  REQUIRE(w.process->stop(SIGTERM) == 0);
  w.start();
  CHECK(w.latest_size(origin) == grown);
  const auto served = w.latest(origin);
  auto stale = hfv::testing::https("POST", w.url + "/add-checkpoint", {}, "old 0\n\n" + served.body);
  CHECK(stale.status == 409);
  CHECK(stale.body == std::to_string(grown) + "\n");
  CHECK(stale.headers["content-type"] == "text/x.tlog.size");
  CHECK(hfv::testing::https("POST", w.url + "/add-checkpoint", {}, "old x\n\nnonsense").status == 400);

  // (c) Wipe: database, keyring, anchor and cosigned checkpoints deleted.
  // With the log's key pinned (brokerd init pins it) the daemon refuses to
  // start rather than begin a new log.
  for (const auto& f : audit_files(s)) fs::remove(f);
  fs::remove(cosigned);
  {
    fs::remove(s.broker_dir / "run" / "brokerd.port");
    Process refused({BROKERD_BIN, "run", "--config", config}, s.dir.path / "brokerd-5-pinned.log");
    CHECK(refused.stop(0, std::chrono::seconds(60)) == 78);
    CHECK(read_file(s.dir.path / "brokerd-5-pinned.log").find("audit_log_missing") != std::string::npos);
    CHECK_FALSE(fs::exists(s.broker_dir / "data" / "audit.db"));
  }
  // Whoever also edits the configuration (pin removed, creation allowed)
  // gets a new log under a new key started; the witness knows only the old
  // one and refuses its heads.
  {
    json c = json::parse(read_file(config));
    c["audit"].erase("public_key");
    c["audit"]["create_if_missing"] = true;
    std::ofstream(config, std::ios::trunc) << c.dump(2);
  }
  restart_broker(s, "brokerd-5.log");
  const bool alarm = wait_for_text(s.dir.path / "brokerd-5.log", "\"event\":\"audit_witness_refused\"");
  INFO(read_file(s.dir.path / "brokerd-5.log"));
  REQUIRE(alarm);
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  {
    auto [status, out] = run_tool({BROKERCTL_BIN, "audit", "verify", "--config", config}, s.dir.path / "verify-c.log");
    INFO(out);
    CHECK(status == 1);
    CHECK(out.find("FAILED: witness " + w.name + ": has cosigned no checkpoint for") != std::string::npos);
    // The old log, under its pinned origin, is still known to the witness.
    CHECK(w.latest_size(origin) == grown);
  }
}

TEST_CASE("witness: after a rotation of the log's signing key, the witness given the new vkey goes on cosigning the "
          "same origin from its state, and audit verify passes",
          "[witness][integration][keys]") {
  Stack s;
  const fs::path cosigned = hfv::audit::cosigned_path(anchor_of(s));
  const std::string config = (s.broker_dir / "brokerd.json").string();
  auto [vkey_status, vkey_out] = run_tool({BROKERCTL_BIN, "audit", "vkey", "--config", config}, s.dir.path / "vkey.log");
  REQUIRE(vkey_status == 0);
  std::smatch m;
  REQUIRE(std::regex_search(vkey_out, m, std::regex("origin: (\\S+)\nvkey: (\\S+)\n")));
  const std::string origin = m[1];
  const std::string old_vkey = m[2];

  Witness w(s.dir.path / "witness");
  w.configure(origin, old_vkey);
  w.start();
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  {
    json c = json::parse(read_file(config));
    c["audit"]["witnesses"] = json::array({{{"name", w.name}, {"url", w.url}, {"vkey", w.vkey}}});
    std::ofstream(config, std::ios::trunc) << c.dump(2);
  }
  restart_broker(s, "brokerd-2.log");
  REQUIRE(wait_for_text(cosigned, w.name));
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  const std::uint64_t old_size = anchored_size(s);
  CHECK(w.latest_size(origin) == old_size);

  // Rotate (brokerd stopped): same origin, a new vkey to give the witness.
  auto [rotated, rotate_out] = run_tool(
      {BROKERCTL_BIN, "audit", "rotate-key", "--signing-key", "--config", config}, s.dir.path / "rotate.log");
  INFO(rotate_out);
  REQUIRE(rotated == 0);
  REQUIRE(std::regex_search(rotate_out, m, std::regex("origin \\(unchanged\\): (\\S+)\n.*\"vkeys\"\\): (\\S+)\n")));
  CHECK(m[1] == origin);
  const std::string new_vkey = m[2];
  CHECK(new_vkey != old_vkey);
  {
    auto [status, out] = run_tool({BROKERCTL_BIN, "audit", "vkey", "--config", config}, s.dir.path / "vkey-2.log");
    CHECK(status == 0);
    CHECK(out == "origin: " + origin + "\nvkey: " + new_vkey + "\nretired vkey: " + old_vkey + "\n");
  }
  REQUIRE(w.process->stop(SIGTERM) == 0);
  {
    json c = json::parse(read_file(w.dir / "witness.json"));
    c["logs"] = json::array({{{"origin", origin}, {"vkeys", json::array({new_vkey, old_vkey})}}});
    std::ofstream(w.dir / "witness.json", std::ios::trunc) << c.dump(2);
  }
  w.start();

  restart_broker(s, "brokerd-3.log");
  s.verify("WIT-R1", json::array({hfv::testing::member("230102197503120016", "张伟", "applicant")}));
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  const std::uint64_t new_size = anchored_size(s);
  CHECK(new_size > old_size);
  CHECK(w.latest_size(origin) == new_size);  // consistent with what it cosigned under the old key
  CHECK(read_file(s.dir.path / "brokerd-3.log").find("\"event\":\"audit_witness_refused\"") == std::string::npos);
  auto [status, out] = run_tool({BROKERCTL_BIN, "audit", "verify", "--config", config}, s.dir.path / "verify.log");
  INFO(out);
  CHECK(status == 0);
  CHECK(out.find("witness " + w.name + ": its latest checkpoint: " + std::to_string(new_size) +
                 " records, consistent with this log, cosignature verified") != std::string::npos);
  CHECK(out.find("FAILED") == std::string::npos);
}
