// What-if (issue 19), through real parts: the agency simulator and brokerd
// on each storage backend. Twenty households across the five jurisdictions
// are verified; Harbin's include two whose bank balance lies just above the
// savings cap (24 months of the 860.00 standard: 20640.00) and one far above
// it. A candidate Harbin file that raises the standard to 960.00 (cap
// 23040.00) must list exactly the two near the cap as changed, ineligible to
// eligible, and only Harbin's households are evaluated; no agency is asked
// (the simulator's request log is unchanged); bad input is refused naming
// the field and starts nothing; a tampered archive row is an error, never
// evaluated; a supervisor of another jurisdiction is refused
// (docs/replay-and-what-if.md).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "broker/ops/config.hpp"
#include "common/date.hpp"
#include "crypto/pki.hpp"
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

namespace {

// Starts a what-if and follows it to its end; the last progress answer.
json run_what_if(Client& client, const std::string& url, const std::string& code, const json& body) {
  const auto started = client.send("POST", url + "/v1/policies/" + code + "/what-if", body.dump());
  INFO(started.body.substr(0, 1000));
  REQUIRE(started.status == 202);
  const json accepted = json::parse(started.body);
  const std::string job = accepted["job"];
  CHECK(job.starts_with("wif_"));
  CHECK(accepted.contains("evaluated"));
  json last;
  REQUIRE(hfv::testing::eventually(
      [&] {
        const auto r = client.send("GET", url + "/v1/policies/" + code + "/what-if/" + job);
        if (r.status != 200) return false;
        last = json::parse(r.body);
        return last["state"] != "running";
      },
      std::chrono::seconds(60)));
  INFO(last.dump().substr(0, 2000));
  REQUIRE(last["state"] == "done");
  CHECK(last["evaluated"] == last["total"]);
  return last;
}

std::set<std::string> changed_cases(const json& progress) {
  std::set<std::string> out;
  for (const auto& c : progress["result"]["changed"]) out.insert(c["case_id"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE(
    "what-if: a raised Harbin standard lists exactly the households constructed to change, asks no "
    "agency, refuses bad input naming the field, and shows a tampered archive row as an error",
    "[integration][what_if]") {
  hfv::testing::TempDir data("hfv-what-if");
  // Harbin (230100) households are 0, 5, 10 and 15; 1 and 6 are Weinan's.
  batch::Dataset d = batch::make_dataset(20, 0, 960000);
  d.applicant_balance = {{5, "22000.00"}, {15, "22500.00"}, {10, "30000.00"}, {1, "22000.00"}, {6, "22000.00"}};
  d.write(data.path / "dataset.json", false);
  Stack s(
      [&](json& config, const fs::path& dir) {
        batch::configure(config, dir);
        hfv::crypto::DevPkiOptions extra;
        extra.dir = dir / "pki";
        extra.client_names = {"shanghai-supervisor"};
        REQUIRE(hfv::crypto::create_dev_pki(extra).ok());
        config["principals"].push_back({{"name", "shanghai-supervisor"},
                                        {"certificate_cn", "shanghai-supervisor"},
                                        {"role", "supervisor"},
                                        {"jurisdictions", {"31"}},
                                        {"rate_per_second", 1000000},
                                        {"burst", 1000000}});
      },
      data.path / "dataset.json");
  const fs::path pki = s.broker_dir / "pki";
  Client cs(s.case_system);
  Client sup(s.supervisor);  // the whole centre
  Client recorded(s.supervisor);  // its exchanges are checked against docs/openapi.yaml (tests/openapi)
  recorded.record = true;
  Client shanghai(hfv::testing::ClientTls{(pki / "ca.pem").string(), (pki / "shanghai-supervisor.pem").string(),
                                          (pki / "shanghai-supervisor.key").string()});
  batch::register_households(s, cs, d);
  StateDb db(s);

  std::map<std::string, json> reports;  // case id -> report
  for (std::size_t h = 0; h < d.households.size(); ++h) {
    const auto r = cs.send("POST", s.url + "/v1/verifications", batch::ndjson(d, h, h + 1));
    INFO(r.body.substr(0, 500));
    REQUIRE(r.status == 200);
    const json report = json::parse(r.body);
    reports[report["case_id"].get<std::string>()] = report;
  }
  // As constructed: the two near the cap and the one far above it are
  // refused now, the others in Harbin eligible.
  CHECK(reports["R-5"]["outcome"] == "ineligible");
  CHECK(reports["R-15"]["outcome"] == "ineligible");
  CHECK(reports["R-10"]["outcome"] == "ineligible");
  CHECK(reports["R-0"]["outcome"] == "eligible");
  CHECK(db.archived_rows() == 20);

  auto config = hfv::broker::load_config(s.broker_dir / "brokerd.json");
  REQUIRE(config.ok());
  const json harbin_file = json::parse(hfv::testing::read_file(config->verification.policies_dir / "230100.json"));
  json candidate = harbin_file;
  bool raised = false;
  for (auto& entry : candidate["parameters"]["dibao_standard_monthly"]["urban"]) {
    if (entry["from"] == "2024-01-01") {
      entry["value"] = "960.00";
      raised = true;
    }
  }
  REQUIRE(raised);
  candidate["version"] = "230100/2026.4-candidate";
  const hfv::Date today = hfv::Date::today_utc();
  const json period = {{"from", today.add_days(-1).to_string()}, {"to", today.add_days(1).to_string()}};
  json body = period;
  body["policy"] = candidate;
  const long sim_requests = s.sim_request_count();

  // The rules in force as a candidate change nothing.
  json same = period;
  same["policy"] = harbin_file;
  const json unchanged = run_what_if(sup, s.url, "230100", same);
  CHECK(unchanged["result"]["households_evaluated"] == 4);
  CHECK(unchanged["result"]["changed"].empty());
  CHECK(unchanged["result"]["errors"].empty());

  // The raised standard: exactly the two near the cap change, ineligible to
  // eligible because of the savings cap; only Harbin's four are evaluated.
  const json raised_run = run_what_if(recorded, s.url, "230100", body);
  const json& result = raised_run["result"];
  CHECK(result["households_evaluated"] == 4);
  CHECK(result["errors"].empty());
  CHECK(changed_cases(raised_run) == std::set<std::string>{"R-5", "R-15"});
  CHECK(result["transitions"]["ineligible"]["eligible"] == 2);
  CHECK(result["transitions"]["ineligible"]["ineligible"] == 1);
  CHECK(result["transitions"]["eligible"]["eligible"] == 1);
  CHECK(result["code"] == "230100");
  CHECK(result["period"] == period);
  CHECK(result["candidate_sha256"].get<std::string>().size() == 64);
  for (const auto& c : result["changed"]) {
    CHECK(c["old_outcome"] == "ineligible");
    CHECK(c["new_outcome"] == "eligible");
    const auto& rules = c["rules_changed"];
    CHECK(std::find(rules.begin(), rules.end(), "savings-cap-24m") != rules.end());
    REQUIRE(c["members"].size() == 1);
    CHECK(c["members"][0].get<std::string>().find('*') != std::string::npos);  // masked
  }
  // Benefits per month: the two newly eligible and the raised standard add.
  REQUIRE(result["benefit_per_month"].size() == 1);
  const json& month = result["benefit_per_month"][0];
  CHECK(month["month"] == today.to_string().substr(0, 7));
  CHECK(std::stod(month["after"].get<std::string>()) > std::stod(month["before"].get<std::string>()) + 1000);
  // Never a raw ID number, in the JSON or the CSV.
  const auto csv = recorded.send("GET", s.url + "/v1/policies/230100/what-if/" +
                                            raised_run["job"].get<std::string>() + "?format=csv");
  REQUIRE(csv.status == 200);
  CHECK(csv.body.starts_with("case_id,verification_id,"));
  CHECK(std::count(csv.body.begin(), csv.body.end(), '\n') == 3);
  CHECK(csv.body.find("R-5,") != std::string::npos);
  CHECK(csv.body.find("R-15,") != std::string::npos);
  for (const auto& hh : d.households) {
    for (const auto& id : hh.ids) {
      CHECK(raised_run.dump().find(id) == std::string::npos);
      CHECK(csv.body.find(id) == std::string::npos);
    }
  }
  // A period without decisions evaluates nothing.
  json empty = body;
  empty["from"] = "2020-01-01";
  empty["to"] = "2020-01-31";
  CHECK(run_what_if(sup, s.url, "230100", empty)["result"]["households_evaluated"] == 0);

  // Bad input: refused naming the field, audited as a refusal, starts nothing.
  const std::string start = s.url + "/v1/policies/230100/what-if";
  auto refused = [&](const json& bad, unsigned status, const std::string& field) {
    const auto r = recorded.send("POST", start, bad.dump());
    INFO(r.body);
    CHECK(r.status == status);
    CHECK(json::parse(r.body)["field"] == field);
    CHECK(r.body.find("\"job\"") == std::string::npos);
  };
  json bad = body;
  bad["policy"] = {{"jurisdiction", "230100"}};
  refused(bad, 422, "policy");
  bad["policy"] = json::parse(hfv::testing::read_file(config->verification.policies_dir / "310000.json"));
  refused(bad, 422, "policy");  // another jurisdiction's file
  bad = body;
  bad["from"] = "2026-13-01";
  refused(bad, 400, "from");
  bad = body;
  bad.erase("to");
  refused(bad, 400, "to");
  bad = body;
  bad["from"] = "2026-03-01";
  bad["to"] = "2026-02-01";
  refused(bad, 400, "period");
  bad["from"] = "2025-01-01";
  bad["to"] = "2026-02-01";
  refused(bad, 400, "period");  // over 366 days
  const auto not_json = sup.send("POST", start, "{");
  CHECK(not_json.status == 400);
  CHECK(json::parse(not_json.body)["field"] == "body");

  // Another jurisdiction's supervisor, and a case system: refused.
  const auto foreign = shanghai.send("POST", start, body.dump());
  CHECK(foreign.status == 403);
  CHECK(json::parse(foreign.body)["error"] == "jurisdiction_not_allowed");
  const auto foreign_read =
      shanghai.send("GET", s.url + "/v1/policies/230100/what-if/" + raised_run["job"].get<std::string>());
  CHECK(foreign_read.status == 403);
  const auto moved_read =
      shanghai.send("GET", s.url + "/v1/policies/310000/what-if/" + raised_run["job"].get<std::string>());
  CHECK(moved_read.status == 404);
  CHECK(cs.send("POST", start, body.dump()).status == 403);

  // A tampered archive row: an error, listed, never evaluated.
  const std::string victim = reports["R-5"]["verification_id"];
  db.tamper(victim, reports["R-0"]["verification_id"]);
  const json after_tamper = run_what_if(sup, s.url, "230100", body);
  CHECK(after_tamper["result"]["households_evaluated"] == 3);
  REQUIRE(after_tamper["result"]["errors"].size() == 1);
  CHECK(after_tamper["result"]["errors"][0]["verification_id"] == victim);
  CHECK(after_tamper["result"]["errors"][0]["error"] == "archive_tampered");
  CHECK(changed_cases(after_tamper) == std::set<std::string>{"R-15"});

  // No agency was asked by any of it; nothing was archived.
  CHECK(s.sim_request_count() == sim_requests);
  CHECK(db.archived_rows() == 20);

  // Each job was audited before it started (the candidate's digest, the
  // code, the period) and when it ended; the refusals as refusals.
  int started = 0;
  int done = 0;
  int refusals = 0;
  for (const auto& r : s.audit_records()) {
    if (r.value("action", "") == "policy.what_if" && r.value("status", "") == "started") {
      ++started;
      CHECK(r.value("jurisdiction", "") == "230100");
      CHECK(r.value("detail", "").find("period=") != std::string::npos);
      CHECK(r.value("digest", "").size() == 64);
    }
    if (r.value("action", "") == "policy.what_if" && r.value("status", "") == "done") ++done;
    if (r.value("action", "") == "request.refused" &&
        r.value("detail", "").find("/v1/policies/{jurisdiction}/what-if") != std::string::npos) {
      ++refusals;
    }
  }
  CHECK(started == 4);
  CHECK(done == 4);
  CHECK(refusals == 6 + 1 + 1 + 1 + 1);  // bad input, the unparsable body, two foreign, the case system
}
