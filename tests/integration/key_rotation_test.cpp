// Report-signing key rotation against the real daemon: a report signed
// before `brokerctl report rotate-key` and one after both verify offline
// against the published key history (broker/verification/report_key_history.hpp).
#include <catch2/catch.hpp>

#include <fstream>

#include "stack.hpp"

using hfv::testing::https;
using hfv::testing::member;
using hfv::testing::Stack;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The signed report's text exactly as the case system received it.
std::string verify_household(Stack& s, const std::string& case_id, const json& members) {
  json ids = json::array();
  for (const auto& m : members) ids.push_back(m["id_number"]);
  const std::string auth = s.register_authorization(case_id, ids);
  const json body = {
      {"case_id", case_id}, {"programme", "dibao"},           {"jurisdiction", "230100"},
      {"area", "urban"},    {"reference_date", "2024-11-01"}, {"authorization_id", auth},
      {"members", members}, {"obligors", json::array()}};
  auto r =
      https("POST", s.url + "/v1/verifications", s.case_system, body.dump(), s.operator_header());
  INFO(r.body);
  REQUIRE(r.status == 200);
  return r.body;
}

int brokerctl(const Stack& s, std::vector<std::string> args, const std::string& log) {
  args.insert(args.begin(), BROKERCTL_BIN);
  hfv::testing::Process p(std::move(args), s.dir.path / log);
  const auto rc = p.stop(0, std::chrono::seconds(60));
  REQUIRE(rc.has_value());
  return *rc;
}

void save(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

}  // namespace

TEST_CASE("rotation: reports signed before and after a report key rotation verify against the published history",
          "[integration][rotation][signature][report]") {
  Stack s;
  const fs::path config = s.broker_dir / "brokerd.json";
  const fs::path before = s.dir.path / "before.json", after = s.dir.path / "after.json";
  save(before,
       verify_household(s, "HRB-R-1",
                        json::array({member("230103195901200035", "王建国", "applicant")})));
  auto old_key = https("GET", s.url + "/v1/keys/report-signing", s.case_system);
  REQUIRE(old_key.status == 200);
  const std::string old_id = json::parse(old_key.body)["key_id"];
  save(s.dir.path / "old.pem", json::parse(old_key.body)["public_key_pem"].get<std::string>());
  auto first_history = https("GET", s.url + "/v1/keys/report-signing/history", s.supervisor);
  REQUIRE(first_history.status == 200);
  CHECK(json::parse(first_history.body)["keys"].size() == 1);

  // Not while brokerd runs: it would go on signing with the retired key.
  CHECK(brokerctl(s, {"report", "rotate-key", "--config", config.string()}, "rotate-running.log") ==
        2);
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  CHECK(brokerctl(s, {"report", "rotate-key", "--config", config.string()}, "rotate.log") == 0);
  CHECK(fs::exists(s.broker_dir / "keys" / "report-signing.history.json"));
  CHECK_FALSE(fs::exists(s.broker_dir / "keys" / "report-signing.key.new"));

  fs::remove(s.broker_dir / "run" / "brokerd.port");
  s.broker = std::make_unique<hfv::testing::Process>(
      std::vector<std::string>{BROKERD_BIN, "run", "--config", config.string()},
      s.dir.path / "brokerd-2.log");
  const std::string port = hfv::testing::wait_for_file(s.broker_dir / "run" / "brokerd.port");
  s.url = "https://127.0.0.1:" + port.substr(0, port.find('\n'));

  save(after, verify_household(s, "HRB-R-2",
                               json::array({member("230102197503120016", "张伟", "applicant"),
                                            member("230102197808050020", "李娜", "spouse")})));
  auto new_key = https("GET", s.url + "/v1/keys/report-signing", s.case_system);
  REQUIRE(new_key.status == 200);
  CHECK(json::parse(new_key.body)["key_id"] != old_id);
  CHECK(json::parse(hfv::testing::read_file(after))["signature"]["key_id"] ==
        json::parse(new_key.body)["key_id"]);
  save(s.dir.path / "new.pem", json::parse(new_key.body)["public_key_pem"].get<std::string>());
  auto history = https("GET", s.url + "/v1/keys/report-signing/history", s.case_system);
  REQUIRE(history.status == 200);
  const json published = json::parse(history.body);
  REQUIRE(published["keys"].size() == 2);
  CHECK(published["keys"][0]["key_id"] == old_id);
  CHECK(published["keys"][0].contains("valid_until"));
  CHECK(published["keys"][1].contains("predecessor_signature"));
  const fs::path history_file = s.dir.path / "history.json";
  save(history_file, history.body);

  const auto verify = [&](const fs::path& report, std::vector<std::string> extra) {
    std::vector<std::string> args = {"report", "verify", report.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return brokerctl(s, args, "verify.log");
  };
  const std::vector<std::string> from_new = {"--history", history_file.string(), "--public-key",
                                             (s.dir.path / "new.pem").string()};
  const std::vector<std::string> from_old = {"--history", history_file.string(), "--public-key",
                                             (s.dir.path / "old.pem").string()};
  // Offline, anchored at the published current key or at the key pinned before.
  CHECK(verify(before, from_new) == 0);
  CHECK(verify(after, from_new) == 0);
  CHECK(verify(before, from_old) == 0);
  CHECK(verify(after, from_old) == 0);
  // Fetched from the daemon as a case system would, anchored at the pinned old key.
  CHECK(verify(before,
               {"--history", s.url + "/v1/keys/report-signing/history", "--ca",
                s.case_system.ca_file, "--cert", s.case_system.cert_file, "--key",
                s.case_system.key_file, "--public-key", (s.dir.path / "old.pem").string()}) == 0);
  // With the broker's files: the history beside its key.
  CHECK(verify(before, {"--config", config.string()}) == 0);
  // One key alone no longer covers both.
  CHECK(verify(before, {"--public-key", (s.dir.path / "new.pem").string()}) == 1);
  CHECK(verify(after, {"--public-key", (s.dir.path / "old.pem").string()}) == 1);

  // A history with the old key's retirement moved later does not verify.
  json forged = published;
  forged["keys"][0]["valid_until"] = "2099-01-01T00:00:00.000Z";
  forged["keys"][1]["valid_from"] = "2099-01-01T00:00:00.000Z";
  const fs::path forged_file = s.dir.path / "forged.json";
  save(forged_file, forged.dump());
  CHECK(verify(before, {"--history", forged_file.string(), "--public-key",
                        (s.dir.path / "new.pem").string()}) == 1);
  // A history not containing the trusted key is refused.
  save(s.dir.path / "stranger.json", first_history.body);
  CHECK(verify(before, {"--history", (s.dir.path / "stranger.json").string(), "--public-key",
                        (s.dir.path / "new.pem").string()}) == 1);

  // brokerd refuses to start on a history that does not verify.
  REQUIRE(s.broker->stop(SIGTERM) == 0);
  save(s.broker_dir / "keys" / "report-signing.history.json", forged.dump());
  hfv::testing::Process refused({BROKERD_BIN, "run", "--config", config.string()},
                                s.dir.path / "brokerd-3.log");
  CHECK(refused.stop(0, std::chrono::seconds(60)) == 78);
  CHECK(hfv::testing::read_file(s.dir.path / "brokerd-3.log").find("signing key history") !=
        std::string::npos);
}
