#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "broker/ops/config.hpp"
#include "temp_dir.hpp"

namespace b = hfv::broker;
using nlohmann::json;

namespace {
json minimal() {
  return {{"listen", "127.0.0.1:0"},
          {"tls", {{"ca_file", "pki/ca.pem"}, {"cert_file", "pki/server.pem"}, {"key_file", "pki/server.key"}}},
          {"master_key_file", "keys/master.key"},
          {"signing_key_file", "keys/report-signing.key"},
          {"audit_db", "data/audit.db"},
          {"state_db", "data/state.db"},
          {"policies_dir", "/policies"},
          {"principals", json::array({{{"name", "cs"}, {"certificate_cn", "cs"}, {"role", "case_system"},
                                      {"jurisdictions", {"2301"}}}})}};
}
hfv::Result<b::Config> load(const hfv::testing::TempDir& dir, const json& j) {
  std::ofstream(dir.path / "brokerd.json") << j.dump();
  return b::load_config(dir.path / "brokerd.json");
}
}  // namespace

TEST_CASE("unit: Config resolves relative paths against its own folder", "[config]") {
  hfv::testing::TempDir dir;
  auto c = load(dir, minimal());
  REQUIRE(c.ok());
  CHECK(c->storage.master_key_file == dir.path / "keys/master.key");
  CHECK(c->verification.policies_dir == "/policies");
  CHECK(c->server.listen_port == 0);
  REQUIRE(c->principal_for_cn("cs") != nullptr);
  CHECK(c->principal_for_cn("cs")->covers("230102"));
  CHECK_FALSE(c->principal_for_cn("cs")->covers("110108"));
  CHECK(c->principal_for_cn("nobody") == nullptr);
}

TEST_CASE("unit: Config errors name the key", "[config]") {
  hfv::testing::TempDir dir;
  struct Case {
    std::function<void(json&)> mutate;
    const char* key;
  };
  const std::vector<Case> cases = {
      {[](json& j) { j["colour"] = 1; }, "colour: unknown key"},
      {[](json& j) { j.erase("master_key_file"); }, "master_key_file: missing"},
      {[](json& j) { j["listen"] = "127.0.0.1"; }, "listen:"},
      {[](json& j) { j["listen"] = "127.0.0.1:70000"; }, "listen:"},
      {[](json& j) { j["principals"][0]["role"] = "god"; }, "principals[0].role"},
      {[](json& j) { j["principals"][0]["jurisdictions"] = {"230"}; }, "principals[0].jurisdictions"},
      {[](json& j) { j["principals"].push_back(j["principals"][0]); }, "principals[1].certificate_cn"},
      {[](json& j) { j["verification_deadline_ms"] = 5; }, "verification_deadline_ms"},
      {[](json& j) { j["agencies"] = {{"astrology", {{"base_url", "https://a"}}}}; }, "agencies.astrology: unknown agency"},
      {[](json& j) { j["agencies"] = {{"bank", {{"base_url", "ftp://a"}}}}; }, "agencies.bank: 'base_url'"},
  };
  for (const auto& c : cases) {
    INFO(c.key);
    json j = minimal();
    c.mutate(j);
    auto loaded = load(dir, j);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message.find(c.key) != std::string::npos);
  }
}

TEST_CASE("unit: Config parses each section once, agencies included, with defaults derived from other keys",
          "[config]") {
  hfv::testing::TempDir dir;
  json j = minimal();
  j["agencies"] = {{"bank", {{"base_url", "https://bank.example/"}, {"max_concurrent", 7}, {"ca_file", "pki/b.pem"}}}};
  j["review"] = {{"batch_capacity_share", 0.25}, {"backoff_initial_ms", 300}};
  j["audit"] = {{"retention_days", 200}};
  auto c = load(dir, j);
  REQUIRE(c.ok());
  REQUIRE(c->agencies.size() == 1);
  const auto& bank = c->agencies.at("bank");
  CHECK(bank.base_url == "https://bank.example");  // trailing slash dropped
  CHECK(bank.resilience.max_concurrent == 7);
  CHECK(bank.tls.ca_file == (dir.path / "pki/b.pem").string());
  CHECK(c->review.capacity_share_permille == 250);
  CHECK(c->review.backoff_initial == std::chrono::milliseconds(300));
  CHECK(c->review.backoff_max == std::chrono::milliseconds(10000));
  CHECK(c->audit.retention_days == 200);
  CHECK(c->audit.anchor_file == dir.path / "data/audit.db.anchor");
  CHECK(c->storage.review_db == dir.path / "data/review.db");
  CHECK(c->review.output_dir == dir.path / "data/batches");
}
