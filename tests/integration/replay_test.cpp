// Exact replay (issue 19), through real parts: the agency simulator and
// brokerd on each storage backend, a real state database. 100 households
// across the five jurisdictions are verified; every report names the
// archive of what its decision rested on (inputs_sha256) and replays
// identical, with the policy version it names, also after a reload of the
// policy files; a tampered archive row makes the replay fail loudly; an
// unknown id is refused naming the field; a refused request archives
// nothing (docs/replay-and-what-if.md).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "broker/ops/config.hpp"
#include "broker/store/store_keys.hpp"
#include "crypto/keys.hpp"
#include "storage/postgresql_db.hpp"
#include "storage/sqlcipher_db.hpp"
#include "tests/batch/batch_fixture.hpp"
#include "tests/integration/stack.hpp"
#include "tests/integration/state_db.hpp"
#include "tests/ops/run.hpp"

namespace fs = std::filesystem;
namespace batch = hfv::testing::batch;
using batch::Client;
using hfv::testing::Stack;
using hfv::testing::StateDb;
using nlohmann::json;


TEST_CASE(
    "replay: 100 verifications across the five jurisdictions replay identical, also after a policy "
    "reload, and a tampered archive fails loudly",
    "[integration][replay]") {
  hfv::testing::TempDir data("hfv-replay");
  batch::Dataset d = batch::make_dataset(100, 0, 930000);
  d.write(data.path / "dataset.json", false);
  Stack s(
      [&](json& config, const fs::path& dir) {
        batch::configure(config, dir);
        fs::copy(config["policies_dir"].get<std::string>(), dir / "policies",
                 fs::copy_options::recursive);
        config["policies_dir"] = (dir / "policies").string();
      },
      data.path / "dataset.json");
  Client cs(s.case_system);
  Client sup(s.supervisor);
  Client recorded(s.case_system);  // its exchanges are checked against docs/openapi.yaml (tests/openapi)
  recorded.record = true;
  batch::register_households(s, cs, d);
  StateDb db(s);

  // A refused request archives nothing.
  json refused = json::parse(batch::ndjson(d, 0, 1));
  refused["jurisdiction"] = "999999";
  const auto no = cs.send("POST", s.url + "/v1/verifications", refused.dump());
  REQUIRE(no.status == 400);
  CHECK(json::parse(no.body)["field"] == "jurisdiction");
  CHECK(db.archived_rows() == 0);

  std::vector<json> reports;
  std::map<std::string, int> by_jurisdiction;
  for (std::size_t h = 0; h < d.households.size(); ++h) {
    const auto r = cs.send("POST", s.url + "/v1/verifications", batch::ndjson(d, h, h + 1));
    INFO(r.body.substr(0, 500));
    REQUIRE(r.status == 200);
    json report = json::parse(r.body);
    CHECK(report["inputs_sha256"].get<std::string>().size() == 64);
    ++by_jurisdiction[report["jurisdiction"].get<std::string>()];
    reports.push_back(std::move(report));
  }
  CHECK(by_jurisdiction.size() == 5);
  CHECK(db.archived_rows() == 100);
  // What the archive costs: a few KB per report (11 sources per member).
  const std::int64_t mean_bytes = db.mean_archive_bytes();
  CHECK(mean_bytes > 500);
  CHECK(mean_bytes < 32 * 1024);
  if (std::getenv("HFV_REPLAY_SIZES") != nullptr) WARN("mean archive bytes " << mean_bytes);

  // Every report replays identical, by its case system; a supervisor of its
  // jurisdiction (the demo supervisor: the whole centre) too. Nothing is
  // archived by a replay.
  std::map<std::string, std::string> versions;  // jurisdiction -> version its reports name
  int identical = 0;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const json& report = reports[i];
    const std::string id = report["verification_id"];
    Client& who = i % 10 == 0 ? sup : cs;
    const auto r = who.send("GET", s.url + "/v1/verifications/" + id + "/replay");
    INFO(r.body.substr(0, 2000));
    REQUIRE(r.status == 200);
    const json answer = json::parse(r.body);
    CHECK(answer["policy_version"] == report["policy_version"]);
    CHECK(answer["differences"].empty());
    CHECK_FALSE(answer["replayed_at"].get<std::string>().empty());
    if (answer["identical"] == true) ++identical;
    versions[report["jurisdiction"]] = report["policy_version"];
  }
  CHECK(identical == 100);
  CHECK(db.archived_rows() == 100);

  // A reload replaces Harbin's policy file: new verifications name the new
  // version, and the old reports still replay identical with theirs.
  const fs::path harbin = s.broker_dir / "policies" / "230100.json";
  std::string text = hfv::testing::read_file(harbin);
  const auto at = text.find("\"230100/2026.4\"");
  REQUIRE(at != std::string::npos);
  text.replace(at, std::string("\"230100/2026.4\"").size(), "\"230100/2026.4-replay\"");
  std::ofstream(harbin, std::ios::trunc) << text;
  const auto reloaded =
      hfv::testing::run(std::string(BROKERCTL_BIN) + " reload --wait 60 --config " +
                        hfv::testing::quote(s.broker_dir / "brokerd.json"));
  INFO(reloaded.output);
  REQUIRE(reloaded.exit_code == 0);
  const auto fresh = recorded.send("POST", s.url + "/v1/verifications", batch::ndjson(d, 0, 1));
  REQUIRE(fresh.status == 200);
  const json fresh_report = json::parse(fresh.body);
  CHECK(fresh_report["policy_version"] != versions["230100"]);
  CHECK(fresh_report["policy_version"].get<std::string>().starts_with("230100/2026.4-replay+"));
  int harbin_replayed = 0;
  for (const auto& report : reports) {
    if (report["jurisdiction"] != "230100") continue;
    const auto r = cs.send("GET", s.url + "/v1/verifications/" +
                                      report["verification_id"].get<std::string>() + "/replay");
    INFO(r.body.substr(0, 2000));
    REQUIRE(r.status == 200);
    const json answer = json::parse(r.body);
    CHECK(answer["identical"] == true);
    CHECK(answer["policy_version"] == versions["230100"]);
    ++harbin_replayed;
  }
  CHECK(harbin_replayed == 20);
  const auto fresh_replay =
      recorded.send("GET", s.url + "/v1/verifications/" +
                         fresh_report["verification_id"].get<std::string>() + "/replay");
  REQUIRE(fresh_replay.status == 200);
  CHECK(json::parse(fresh_replay.body)["identical"] == true);
  CHECK(json::parse(fresh_replay.body)["policy_version"] == fresh_report["policy_version"]);

  // Bad input: an unknown id is refused naming the field.
  const auto unknown =
      recorded.send("GET", s.url + "/v1/verifications/ver_000000000000000000000000/replay");
  CHECK(unknown.status == 404);
  CHECK(json::parse(unknown.body)["field"] == "id");

  // A tampered archive row: the replay fails loudly, never "identical: false".
  const std::string victim = reports[3]["verification_id"];
  db.tamper(victim, reports[4]["verification_id"]);
  const auto tampered = recorded.send("GET", s.url + "/v1/verifications/" + victim + "/replay");
  INFO(tampered.body);
  CHECK(tampered.status == 500);
  CHECK(json::parse(tampered.body)["error"] == "archive_tampered");
  CHECK(tampered.body.find("identical") == std::string::npos);
  CHECK(hfv::testing::eventually([&] {
    return hfv::testing::read_file(s.dir.path / "brokerd.log").find("replay_failed") !=
           std::string::npos;
  }));
  // An edited stored report (SQLCipher; on PostgreSQL its sealed body would
  // not open): its signature fails, the replay is refused just as loudly.
  if (!s.on_postgresql()) {
    const std::string edited = reports[6]["verification_id"];
    db.edit_report(edited);
    const auto r = cs.send("GET", s.url + "/v1/verifications/" + edited + "/replay");
    INFO(r.body);
    CHECK(r.status == 500);
    CHECK(json::parse(r.body)["error"] == "archive_tampered");
    CHECK(r.body.find("signature") != std::string::npos);
  }
  // The others still replay.
  CHECK(cs.send("GET", s.url + "/v1/verifications/" +
                           reports[5]["verification_id"].get<std::string>() + "/replay")
            .status == 200);

  // Offline from a backup (SQLCipher; PostgreSQL has its own backups):
  // `brokerctl report replay` gives the same answers.
  if (!s.on_postgresql()) {
    const fs::path backup = data.path / "backup";
    const std::string config = hfv::testing::quote(s.broker_dir / "brokerd.json");
    const auto made = hfv::testing::run(std::string(BROKERCTL_BIN) + " backup --config " + config +
                                        " --to " + hfv::testing::quote(backup));
    INFO(made.output);
    REQUIRE(made.exit_code == 0);
    const std::string replay = std::string(BROKERCTL_BIN) + " report replay --config " + config +
                               " --from " + hfv::testing::quote(backup) + " ";
    const auto same = hfv::testing::run(replay + reports[5]["verification_id"].get<std::string>());
    INFO(same.output);
    CHECK(same.exit_code == 0);
    const json answer = json::parse(same.output, nullptr, false);
    REQUIRE(answer.is_object());
    CHECK(answer["identical"] == true);
    CHECK(answer["policy_version"] == reports[5]["policy_version"]);
    const auto loud = hfv::testing::run(replay + victim);
    INFO(loud.output);
    CHECK(loud.exit_code == 1);
    CHECK(loud.output.find("archive_tampered") != std::string::npos);
    const auto unknown_offline = hfv::testing::run(replay + "ver_000000000000000000000000");
    CHECK(unknown_offline.exit_code == 1);
    CHECK(unknown_offline.output.find("not_found") != std::string::npos);
  }

  // Each replay was audited before it ran (who, which report), and its result after.
  std::map<std::string, int> replays;
  std::vector<std::string> victim_statuses;
  for (const auto& r : s.audit_records()) {
    if (r.value("action", "") != "verification.replay") continue;
    ++replays[r.value("status", "")];
    if (r.value("request_id", "") == victim) victim_statuses.push_back(r.value("status", ""));
  }
  // Replayed once before the edit, once after.
  CHECK(victim_statuses ==
        std::vector<std::string>{"started", "identical", "started", "archive_tampered"});
  const int edited_report = s.on_postgresql() ? 0 : 1;
  CHECK(replays["started"] == 100 + 20 + 1 + 1 + 1 + edited_report);
  CHECK(replays["identical"] == 100 + 20 + 1 + 1);
  CHECK(replays["archive_tampered"] == 1 + edited_report);
}
