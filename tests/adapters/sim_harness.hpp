// Test harness for adapter tests: an agency-sim process serving a dataset
// written to a temporary folder, and a one-shot runner that builds adapters
// from configuration and drives a query through a real HttpClient on its
// own io_context.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "adapters/registry.hpp"
#include "tests/integration/process.hpp"
#include "tests/unit/temp_dir.hpp"

namespace hfv::adapters::testing {

class Sim {
 public:
  explicit Sim(const nlohmann::json& dataset) : dir_("hfv-adapters") {
    std::ofstream(dir_.path / "dataset.json") << dataset.dump();
    process_ = std::make_unique<hfv::testing::Process>(
        std::vector<std::string>{AGENCY_SIM_BIN, "--dataset", (dir_.path / "dataset.json").string(), "--listen",
                                 "127.0.0.1:0", "--port-file", (dir_.path / "sim.port").string()},
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

inline MemberQuery member(const std::string& id) { return MemberQuery{0, id, "测试", "q-test-1"}; }

// Runs one query of `source`'s adapter, built from `agencies` config.
inline SourceResult run_query(const nlohmann::json& agencies, Source source, const MemberQuery& m,
                              std::chrono::milliseconds budget) {
  boost::asio::io_context io;
  HttpClient http(io);
  auto set = build_adapters(agencies, "/", http);
  if (!set) throw std::runtime_error(set.error().message);
  Adapter* adapter = set->at(source).get();
  SourceResult out;
  const auto deadline = std::chrono::steady_clock::now() + budget;
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { out = co_await adapter->query(m, deadline); },
      boost::asio::detached);
  io.run();
  return out;
}

}  // namespace hfv::adapters::testing
