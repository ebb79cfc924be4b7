// A running broker stack for integration tests: the real agency simulator
// and the real brokerd as processes, set up with `brokerd init`, plus helpers
// to act as the demo case system over mutual TLS.
#pragma once

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "../cluster/pg_server.hpp"
#include "../unit/temp_dir.hpp"
#include "audit/audit_log.hpp"
#include "crypto/keys.hpp"
#include "process.hpp"

namespace hfv::testing {

namespace fs = std::filesystem;
using nlohmann::json;

inline const fs::path kSource = HFV_SOURCE_DIR;

// Which backend keeps the broker's records (docs/configuration.md,
// "storage"): the embedded SQLCipher files written by `brokerd init` (the
// default), or a PostgreSQL database (tests/cluster/pg_server.hpp).
struct StorageOption {
  std::string conninfo;         // empty: SQLCipher; otherwise a libpq connection string
  std::string node = "node-a";  // the broker's node name in the shared database
};

// The backend a Stack built with the default storage option uses:
// HFV_TEST_STORAGE=postgresql runs the same tests on PostgreSQL (CTest
// registers them a second time so: tests/CMakeLists.txt, hfv_test).
inline bool postgresql_from_environment() {
  const char* backend = std::getenv("HFV_TEST_STORAGE");
  return backend != nullptr && std::string(backend) == "postgresql";
}

// Writes the storage option into a brokerd.json (state_db goes: the
// postgresql backend keeps no state file).
inline void apply_storage(json& config, const StorageOption& storage) {
  if (storage.conninfo.empty()) return;
  config.erase("state_db");
  // The audit log is in PostgreSQL too; the broker keeps only its anchor.
  config.erase("audit_db");
  config["audit"]["anchor_file"] = "data/audit.anchor";
  // The key init pinned is its SQLCipher log's; the shared log in this
  // test's own PostgreSQL is made by the first broker to start.
  config["audit"].erase("public_key");
  config["audit"]["create_if_missing"] = true;
  config["storage"] = {{"backend", "postgresql"},
                       {"postgresql", {{"conninfo", storage.conninfo}, {"node", storage.node}}}};
}

struct Stack {
  // `adjust_config` may edit brokerd.json (written by init) before the daemon starts.
  hfv::testing::TempDir dir{"hfv-e2e"};
  // The stack's own PostgreSQL server, when the environment asks for one
  // (postgresql_from_environment). Declared before the processes so that it
  // is destroyed after them: the broker stops before its database does.
  std::unique_ptr<PgServer> database;
  std::unique_ptr<Process> sim;
  std::unique_ptr<Process> broker;
  std::string url;
  ClientTls case_system, no_cert, supervisor;
  fs::path broker_dir;
  StorageOption storage_;

  // `storage`: the backend (default: SQLCipher, or a PostgreSQL server of
  // the stack's own under HFV_TEST_STORAGE=postgresql), set before
  // `adjust_config` runs.
  explicit Stack(const std::function<void(json&, const fs::path&)>& adjust_config = {}, const fs::path& dataset = {},
                 const StorageOption& storage = {})
      : storage_(storage) {
    if (storage_.conninfo.empty() && postgresql_from_environment()) {
      database = std::make_unique<PgServer>();
      storage_.conninfo = database->conninfo();
    }
    sim = std::make_unique<Process>(
        std::vector<std::string>{AGENCY_SIM_BIN, "--dataset", (dataset.empty() ? kSource / "demo" / "dataset.json" : dataset).string(),
                                 "--listen", "127.0.0.1:0", "--port-file", (dir.path / "sim.port").string(),
                                 "--request-log", (dir.path / "sim-requests.ndjson").string()},
        dir.path / "sim.log");
    const std::string sim_port = hfv::testing::wait_for_file(dir.path / "sim.port");
    broker_dir = dir.path / "broker";
    Process init({BROKERD_BIN, "init", "--dir", broker_dir.string(), "--listen", "127.0.0.1:0",
                  "--agency-url", "http://127.0.0.1:" + sim_port.substr(0, sim_port.find('\n'))},
                 dir.path / "init.log");
    REQUIRE(init.stop(0, std::chrono::seconds(30)) == 0);
    if (adjust_config || on_postgresql()) {
      json config = json::parse(read_file(broker_dir / "brokerd.json"));
      apply_storage(config, storage_);
      if (adjust_config) adjust_config(config, broker_dir);
      std::ofstream(broker_dir / "brokerd.json", std::ios::trunc) << config.dump(2);
    }
    broker = std::make_unique<Process>(
        std::vector<std::string>{BROKERD_BIN, "run", "--config", (broker_dir / "brokerd.json").string()},
        dir.path / "brokerd.log");
    const std::string port = hfv::testing::wait_for_file(broker_dir / "run" / "brokerd.port");
    url = "https://127.0.0.1:" + port.substr(0, port.find('\n'));
    const fs::path pki = broker_dir / "pki";
    case_system = {(pki / "ca.pem").string(), (pki / "demo-case-system.pem").string(),
                   (pki / "demo-case-system.key").string()};
    supervisor = {(pki / "ca.pem").string(), (pki / "demo-supervisor.pem").string(),
                  (pki / "demo-supervisor.key").string()};
    no_cert = {(pki / "ca.pem").string(), "", ""};
  }

  bool on_postgresql() const { return !storage_.conninfo.empty(); }

  // Where the broker's audit log is, on either backend.
  hfv::audit::LogLocation audit_location() const {
    return on_postgresql() ? hfv::audit::LogLocation::shared(storage_.conninfo)
                           : hfv::audit::LogLocation::sqlcipher(broker_dir / "data" / "audit.db");
  }

  std::vector<std::string> operator_header() const { return {"X-Operator-Id: op-test-01"}; }

  std::string register_authorization(const std::string& case_id, const json& ids,
                                     const std::string& jurisdiction = "230100") {
    json body = {{"case_id", case_id},     {"jurisdiction", jurisdiction}, {"members", ids}, {"categories", "all"},
                 {"valid_from", "2026-01-01"}, {"valid_until", "2027-12-31"}, {"form_sha256", std::string(64, 'c')}};
    auto r = https("POST", url + "/v1/authorizations", case_system, body.dump(), operator_header());
    REQUIRE(r.status == 201);
    return json::parse(r.body)["authorization_id"].get<std::string>();
  }

  json verify(const std::string& case_id, const json& members) {
    json ids = json::array();
    for (const auto& m : members) ids.push_back(m["id_number"]);
    const std::string auth = register_authorization(case_id, ids);
    json body = {{"case_id", case_id},        {"programme", "dibao"},  {"jurisdiction", "230100"},
                 {"area", "urban"},           {"reference_date", "2024-11-01"},
                 {"authorization_id", auth}, {"members", members}, {"obligors", json::array()}};
    auto r = https("POST", url + "/v1/verifications", case_system, body.dump(), operator_header());
    INFO(r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }

  // The simulator's plain-HTTP address (its control endpoints: /_sim/...).
  std::string sim_url() const {
    const std::string port = read_file(dir.path / "sim.port");
    return "http://127.0.0.1:" + port.substr(0, port.find('\n'));
  }

  // POST to one of the simulator's control endpoints (/_sim/...), which
  // must answer 200. Plain HTTP to the simulator, not an API exchange: not
  // recorded.
  void post_to_sim(const std::string& path, const json& body) const { (void)sim_exchange(path, body.dump()); }

  // GET /_sim/requests: the simulator's request counts, and the most
  // requests each agency has had in flight at once (max_in_flight).
  json sim_requests() const { return json::parse(sim_exchange("/_sim/requests", std::nullopt)); }

  // One plain-HTTP exchange with the simulator's control endpoints: POST
  // `body`, or GET without one. Must answer 200; returns the answer's body.
  std::string sim_exchange(const std::string& path, const std::optional<std::string>& body) const {
    CURL* curl = curl_easy_init();
    const std::string target = sim_url() + path;
    std::string answer;
    curl_easy_setopt(curl, CURLOPT_URL, target.c_str());
    if (body) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->c_str());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char* d, size_t sz, size_t n, void* u) {
      static_cast<std::string*>(u)->append(d, sz * n);
      return sz * n;
    });
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    long status = 0;
    if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    INFO(answer);
    REQUIRE(status == 200);
    return answer;
  }

  // POST /_sim/faults: replaces the named agencies' faults (null clears one).
  void set_faults(const json& faults) const { post_to_sim("/_sim/faults", faults); }

  // POST /_sim/records: replaces one person's records at one agency (an
  // agency correcting its data).
  void set_records(const std::string& id_number, const std::string& source, const json& records) const {
    post_to_sim("/_sim/records", {{"id_number", id_number}, {"source", source}, {"records", records}});
  }

  // Stops brokerd and reads its whole audit log back (the records' JSON
  // bodies, in order), as a supervisor with the master key would.
  std::vector<json> audit_records() {
    REQUIRE(broker->stop(SIGTERM) == 0);
    auto master = hfv::crypto::load_master_key_file(broker_dir / "keys" / "master.key");
    REQUIRE(master.ok());
    auto log = hfv::audit::AuditLog::open(
        audit_location(), hfv::crypto::derive_key(*master, hfv::crypto::kPurposeAuditDb));
    REQUIRE(log.ok());
    auto rows = (*log)->read(1, 1000000);
    REQUIRE(rows.ok());
    std::vector<json> out;
    for (const auto& r : *rows) out.push_back(json::parse(r.body));
    return out;
  }

  // A second brokerd beside this one: the same keys, certificates, agencies
  // and configuration, but its own port, pid file, audit log and node name
  // (`node`). With the postgresql backend it shares this broker's records
  // (a cluster of two); it needs a storage option with a conninfo.
  struct Sibling {
    std::unique_ptr<Process> process;
    std::string url;
  };
  Sibling start_sibling(const std::string& node) {
    json config = json::parse(read_file(broker_dir / "brokerd.json"));
    REQUIRE(config.contains("storage"));  // two brokers on one SQLCipher file is not a cluster
    config["storage"]["postgresql"]["node"] = node;
    config["port_file"] = "run/" + node + ".port";
    config["pid_file"] = "run/" + node + ".pid";
    config["audit"]["anchor_file"] = "run/audit-" + node + ".anchor";
    const fs::path file = broker_dir / ("brokerd-" + node + ".json");
    std::ofstream(file, std::ios::trunc) << config.dump(2);
    Sibling sibling;
    sibling.process = std::make_unique<Process>(std::vector<std::string>{BROKERD_BIN, "run", "--config", file.string()},
                                                dir.path / ("brokerd-" + node + ".log"));
    const std::string port = hfv::testing::wait_for_file(broker_dir / "run" / (node + ".port"));
    sibling.url = "https://127.0.0.1:" + port.substr(0, port.find('\n'));
    return sibling;
  }

  long sim_request_count() const {
    const std::string log = hfv::testing::read_file(dir.path / "sim-requests.ndjson");
    return static_cast<long>(std::count(log.begin(), log.end(), '\n'));
  }
};

inline json member(const char* id, const char* name, const char* relation) {
  return {{"id_number", id}, {"name", name}, {"relation", relation}};
}

// A keep-alive HTTPS client (one TLS session for thousands of requests),
// sending JSON as `operator_id`; `timeout_seconds` bounds each exchange.
class KeepAliveClient {
 public:
  KeepAliveClient(const ClientTls& tls, const std::string& operator_id, long timeout_seconds)
      : curl_(curl_easy_init()) {
    headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    headers_ = curl_slist_append(headers_, ("X-Operator-Id: " + operator_id).c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_CAINFO, tls.ca_file.c_str());
    curl_easy_setopt(curl_, CURLOPT_SSLCERT, tls.cert_file.c_str());
    curl_easy_setopt(curl_, CURLOPT_SSLKEY, tls.key_file.c_str());
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, timeout_seconds);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
      static_cast<std::string*>(u)->append(d, s * n);
      return s * n;
    });
  }
  ~KeepAliveClient() {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(curl_);
  }
  KeepAliveClient(const KeepAliveClient&) = delete;
  KeepAliveClient& operator=(const KeepAliveClient&) = delete;
  HttpAnswer send(const std::string& method, const std::string& url, const std::string& body = "") {
    HttpAnswer a;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "GET") {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &a.body);
    if (curl_easy_perform(curl_) == CURLE_OK) curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &a.status);
    if (record) {
      // For the OpenAPI check (tests/openapi): an NDJSON body is left out,
      // the checker validates JSON request bodies only.
      const bool json_body = nlohmann::json::accept(body);
      record_exchange(method, url, json_body ? body : "", a);
    }
    return a;
  }
  bool record = false;  // write exchanges for the OpenAPI check (a few, not every poll)

 private:
  CURL* curl_;
  curl_slist* headers_ = nullptr;
};

// The Harbin couple of the demo dataset (张伟, applicant, and 李娜, spouse)
// as a dibao verification request under `auth`.
inline json couple_request(const std::string& auth, const std::string& case_id) {
  return {{"case_id", case_id},
          {"programme", "dibao"},
          {"jurisdiction", "230100"},
          {"area", "urban"},
          {"reference_date", "2024-11-01"},
          {"authorization_id", auth},
          {"obligors", json::array()},
          {"members", json::array({member("230102197503120016", "张伟", "applicant"),
                                   member("230102197808050020", "李娜", "spouse")})}};
}

// A Stack config edit: no principal is ever rate limited (tests that send
// many requests).
inline void relax_rate_limit(json& config, const fs::path& /*dir*/) {
  for (auto& p : config["principals"]) {
    p["rate_per_second"] = 1000000;
    p["burst"] = 1000000;
  }
}

// The 12 months of the income window before the tests' reference date
// 2024-11-01: 2023-11 .. 2024-10.
inline std::vector<std::string> window_months() {
  return {"2023-11", "2023-12", "2024-01", "2024-02", "2024-03", "2024-04",
          "2024-05", "2024-06", "2024-07", "2024-08", "2024-09", "2024-10"};
}

// Tax records: wages of `amount` (yuan) in each month of the window.
inline json monthly_wages(const char* amount) {
  json wages = json::array();
  for (const auto& period : window_months()) {
    wages.push_back({{"period", period}, {"item", "wages"}, {"amount", amount}});
  }
  return wages;
}

// One person's answers from every agency in the simulator's dataset format:
// a normal registration in `division`, the given records, nothing else.
// `records` sets any agency's answer ("tax", "vehicle", "bank", ...).
inline json answered_person(const char* name, const json& records = json::object(),
                            const char* division = "230102") {
  json person = {{"hukou", {{"name", name}, {"division", division}, {"status", "normal"}}},
                 {"tax", json::array()},
                 {"social_insurance", {{"contributions", json::array()}, {"benefits", json::array()}}},
                 {"real_estate", json::array()},
                 {"vehicle", json::array()},
                 {"bank", json::array()},
                 {"securities", json::array()},
                 {"business", json::array()},
                 {"provident_fund", {{"balance", "0.00"}, {"monthly_deposit", "0.00"}}},
                 {"insurance", json::array()},
                 {"internet_finance", json::array()}};
  for (const auto& [agency, answer] : records.items()) person[agency] = answer;
  return person;
}

// Writes a simulator dataset {"persons": {id: person, ...}} to dir/file.
inline fs::path write_persons(const fs::path& dir, const std::string& file, const json& persons) {
  fs::create_directories(dir);
  const fs::path path = dir / file;
  std::ofstream(path) << json{{"persons", persons}}.dump();
  return path;
}

// The trace of rule `id` in a report; fails the test when it is not there.
inline const json& rule_in(const json& report, const std::string& id) {
  for (const auto& r : report["rules"]) {
    if (r["rule"] == id) return r;
  }
  FAIL("rule " << id << " not in the report");
  return report;
}

}  // namespace hfv::testing
