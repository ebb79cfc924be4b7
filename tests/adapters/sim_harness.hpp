// Test harness for adapter tests: an agency-sim process serving a dataset
// written to a temporary folder (with a request log), and a one-shot runner
// that builds adapters from configuration and drives a query through a real
// HttpClient on its own io_context.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <vector>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "adapters/registry.hpp"
#include "tests/integration/process.hpp"
#include "tests/unit/temp_dir.hpp"

namespace hfv::adapters::testing {

class Sim {
 public:
  explicit Sim(const nlohmann::json& dataset, std::uint64_t seed = 0) : dir_("hfv-adapters") {
    std::ofstream(dir_.path / "dataset.json") << dataset.dump();
    process_ = std::make_unique<hfv::testing::Process>(
        std::vector<std::string>{AGENCY_SIM_BIN, "--dataset", (dir_.path / "dataset.json").string(), "--listen",
                                 "127.0.0.1:0", "--port-file", (dir_.path / "sim.port").string(),
                                 "--request-log", (dir_.path / "requests.ndjson").string(), "--seed",
                                 std::to_string(seed)},
        dir_.path / "sim.log");
    const std::string port = hfv::testing::wait_for_file(dir_.path / "sim.port");
    url_ = "http://127.0.0.1:" + port.substr(0, port.find('\n'));
  }
  const std::string& url() const { return url_; }
  std::string log() const { return hfv::testing::read_file(dir_.path / "sim.log"); }
  // GET /_sim/requests as JSON.
  nlohmann::json counts() const {
    return nlohmann::json::parse(hfv::testing::https("GET", url_ + "/_sim/requests", {}).body);
  }
  void reset_counts() const { hfv::testing::https("POST", url_ + "/_sim/reset-requests", {}); }
  // POST /_sim/faults: {"bank": {...}} replaces the bank's faults, null clears them.
  void set_faults(const nlohmann::json& faults) const {
    const auto answer = hfv::testing::https("POST", url_ + "/_sim/faults", {}, faults.dump());
    if (answer.status != 200) throw std::runtime_error("set_faults: " + answer.body);
  }
  // The request log's lines, parsed; with `agency`, only that agency's.
  std::vector<nlohmann::json> requests(const std::string& agency = "") const {
    std::vector<nlohmann::json> out;
    std::istringstream lines(hfv::testing::read_file(dir_.path / "requests.ndjson"));
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line);
      if (agency.empty() || j["agency"] == agency) out.push_back(std::move(j));
    }
    return out;
  }
 private:
  hfv::testing::TempDir dir_;
  std::unique_ptr<hfv::testing::Process> process_;
  std::string url_;
};

// Settings for one agency at `url` plus `extra` keys.
inline nlohmann::json agency_settings(const std::string& url, const nlohmann::json& extra = nlohmann::json::object()) {
  nlohmann::json s = {{"base_url", url}, {"connect_timeout_ms", 1000}, {"timeout_ms", 3000}};
  for (const auto& [k, v] : extra.items()) s[k] = v;
  return s;
}

inline MemberQuery member(const std::string& id) { return MemberQuery{0, id, "测试", "q-test-1", nullptr}; }

// Runs one query of `source`'s adapter, built from `agencies` config.
// Runs one query against the simulator. When `took` is given it receives the
// time the query itself took (from the deadline's start to its answer), not
// the set-up of the adapters or the io_context's teardown, so a bound on it
// checks the deadline and not a sanitizer's start-up cost.
inline SourceResult run_query(const nlohmann::json& agencies, Source source, const MemberQuery& m,
                              std::chrono::milliseconds budget,
                              std::chrono::steady_clock::duration* took = nullptr) {
  boost::asio::io_context io;
  HttpClient http(io);
  auto parsed = parse_agencies(agencies, "/");
  if (!parsed) throw std::runtime_error(parsed.error().message);
  auto set = build_adapters(*parsed, http);
  if (!set) throw std::runtime_error(set.error().message);
  Adapter* adapter = set->at(source).get();
  SourceResult out;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        const auto started = std::chrono::steady_clock::now();
        out = co_await adapter->query(m, started + budget);
        if (took != nullptr) *took = std::chrono::steady_clock::now() - started;
      },
      boost::asio::detached);
  io.run();
  return out;
}

}  // namespace hfv::adapters::testing
