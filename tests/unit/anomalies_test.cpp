#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "broker/supervision/anomalies.hpp"
#include "broker/ops/config.hpp"
#include "temp_dir.hpp"

namespace b = hfv::broker;
using nlohmann::json;

namespace {

// Builds a log in seq order. Times are UTC; the default rules use UTC+8 and
// working hours 08:00-18:00 Monday to Friday. 2026-11-30 is a Monday.
struct Log {
  std::vector<b::AnomalyRecord> records;
  std::int64_t next = 1;
  b::AnomalyRecord& add(std::string action, std::string ts, std::string principal = "cs",
                        std::string op = "op-1") {
    b::AnomalyRecord r;
    r.seq = next++;
    r.ts = std::move(ts);
    r.action = std::move(action);
    r.principal = std::move(principal);
    r.operator_id = std::move(op);
    records.push_back(r);
    return records.back();
  }
  void authorize(const std::string& auth, const std::string& case_id, const std::string& ts,
                 const std::string& principal = "cs") {
    auto& r = add("authorization.register", ts, principal);
    r.authorization_id = auth;
    r.case_id = case_id;
  }
  // A verification with one member: request and subject records.
  void verify(const std::string& ts, const std::string& case_id, const std::string& auth,
              const std::string& member, const std::string& op = "op-1",
              const std::string& principal = "cs") {
    auto& req = add("verification.request", ts, principal, op);
    req.case_id = case_id;
    req.authorization_id = auth;
    req.status = "accepted";
    auto& sub = add("verification.subject", ts, principal, op);
    sub.case_id = case_id;
    sub.authorization_id = auth;
    sub.member = member;
  }
};

b::AnomalyReport run(const Log& log, const b::AnomalyRules& rules = {},
                     std::vector<b::RelativeLink> links = {},
                     std::string from = "2026-11-30T00:00:00.000Z",
                     std::string to = "2026-12-07T00:00:00.000Z") {
  b::AnomalyInput in;
  in.records = log.records;
  in.from_ts = std::move(from);
  in.to_ts = std::move(to);
  in.links = std::move(links);
  return b::detect_anomalies(in, rules);
}

std::vector<b::AnomalyFlag> of_kind(const b::AnomalyReport& r, const std::string& kind) {
  std::vector<b::AnomalyFlag> out;
  std::copy_if(r.flags.begin(), r.flags.end(), std::back_inserter(out),
               [&](const b::AnomalyFlag& f) { return f.kind == kind; });
  return out;
}

const std::string kPersonA(64, 'a');
const std::string kPersonB(64, 'b');
// 10:00 local on Monday 2026-11-30.
const std::string kWorkTime = "2026-11-30T02:00:00.000Z";

}  // namespace

TEST_CASE("unit: anomalies: a clean day raises no flag", "[anomalies]") {
  Log log;
  log.authorize("auth-1", "case-1", "2026-11-30T01:00:00.000Z");
  log.verify(kWorkTime, "case-1", "auth-1", kPersonA);
  auto& q = log.add("agency.query", kWorkTime);
  q.source = "bank";
  q.status = "ok";
  const auto report = run(log);
  CHECK(report.flags.empty());
  CHECK(report.stats["bucket"] == "day");
  CHECK(report.stats["volume_by_principal"]["cs"]["2026-11-30"] == 1);
  CHECK(report.stats["agencies"]["bank"]["total"] == 1);
  CHECK(report.stats["agencies"]["bank"]["failed"] == 0);
}

TEST_CASE("unit: anomalies: an agency.answers record counts once per agency it lists, beside an older "
          "log's agency.query",
          "[anomalies]") {
  Log log;
  log.authorize("auth-1", "case-1", "2026-11-30T01:00:00.000Z");
  log.verify(kWorkTime, "case-1", "auth-1", kPersonA);
  auto& old = log.add("agency.query", kWorkTime);  // as older logs hold it
  old.source = "bank";
  old.status = "timeout";
  // The record's merged view, as the console's scan reads it.
  const json body = {{"action", "agency.answers"},
                     {"principal", "cs"},
                     {"source", "bank,tax,vehicle"},
                     {"answers", json::array({{{"source", "bank"}, {"status", "ok"}},
                                              {{"source", "tax"}, {"status", "error"}},
                                              {{"source", "vehicle"}, {"status", "not_found"}}})}};
  log.records.push_back(b::anomaly_record(log.next++, kWorkTime, body));
  REQUIRE(log.records.back().answers.size() == 3);
  const auto report = run(log);
  const json& agencies = report.stats["agencies"];
  CHECK(agencies["bank"]["total"] == 2);
  CHECK(agencies["bank"]["failed"] == 1);
  CHECK(agencies["bank"]["statuses"]["ok"] == 1);
  CHECK(agencies["bank"]["statuses"]["timeout"] == 1);
  CHECK(agencies["tax"]["total"] == 1);
  CHECK(agencies["tax"]["failed"] == 1);
  CHECK(agencies["vehicle"]["statuses"]["not_found"] == 1);
  CHECK_FALSE(agencies.contains("bank,tax,vehicle"));
  CHECK(report.stats["volume_by_source"]["bank"]["2026-11-30"] == 2);
  CHECK(report.stats["volume_by_source"]["tax"]["2026-11-30"] == 1);
}

TEST_CASE("unit: anomalies: verification without a valid authorisation", "[anomalies]") {
  Log log;
  log.authorize("auth-1", "case-1", "2026-11-20T01:00:00.000Z");
  log.authorize("auth-other", "case-9", "2026-11-20T01:00:00.000Z", "other-system");
  log.verify(kWorkTime, "case-1", "auth-1", kPersonA);        // fine
  log.verify(kWorkTime, "case-2", "auth-1", kPersonB);        // other case
  log.verify(kWorkTime, "case-3", "auth-missing", kPersonB);  // never registered
  log.verify(kWorkTime, "case-9", "auth-other", kPersonB);    // another principal's
  log.verify(kWorkTime, "case-4", "", kPersonB);              // no id at all
  auto& revoke = log.add("authorization.revoke", kWorkTime);
  revoke.authorization_id = "auth-1";
  log.verify("2026-11-30T03:00:00.000Z", "case-1", "auth-1", kPersonA);  // after revocation
  auto& refused = log.add("request.refused", kWorkTime, "cs", "op-2");
  refused.status = "403 consent_not_found";

  const auto flags = of_kind(run(log), "no_authorization");
  std::map<std::string, b::AnomalyFlag> by_reason;
  for (const auto& f : flags) by_reason[f.subject] = f;
  REQUIRE(by_reason.size() == 6);
  CHECK(by_reason.at("authorization_other_case").seqs == std::vector<std::int64_t>{5});
  CHECK(by_reason.at("authorization_other_case").severity == "high");
  CHECK(by_reason.at("authorization_not_registered").facts["cases"] == json::array({"case-3"}));
  CHECK(by_reason.at("authorization_of_other_principal").evidence_count == 1);
  CHECK(by_reason.at("missing_authorization_id").evidence_count == 1);
  CHECK(by_reason.at("authorization_revoked").seqs == std::vector<std::int64_t>{14});
  CHECK(by_reason.at("refused_without_consent").severity == "medium");
  CHECK(by_reason.at("refused_without_consent").operator_id == "op-2");
}

TEST_CASE("unit: anomalies: the same person across cases", "[anomalies]") {
  Log log;
  for (const char* c : {"case-1", "case-2", "case-3"})
    log.authorize(std::string("auth-") + c, c, kWorkTime);
  log.verify(kWorkTime, "case-1", "auth-case-1", kPersonA, "op-1");
  log.verify(kWorkTime, "case-2", "auth-case-2", kPersonA, "op-2");
  log.verify(kWorkTime, "case-1", "auth-case-1", kPersonB,
             "op-1");  // B twice in one case: not a flag
  log.verify(kWorkTime, "case-1", "auth-case-1", kPersonB, "op-1");
  b::AnomalyRules rules;
  SECTION("below the threshold of three cases nothing is flagged") {
    CHECK(of_kind(run(log, rules), "repeated_person").empty());
  }
  SECTION("the third case raises it, naming both operators") {
    log.verify(kWorkTime, "case-3", "auth-case-3", kPersonA, "op-1");
    const auto flags = of_kind(run(log, rules), "repeated_person");
    REQUIRE(flags.size() == 1);
    CHECK(flags[0].subject == kPersonA);
    CHECK(flags[0].facts["cases"] == 3);
    CHECK(flags[0].facts["operators"] == json::array({"op-1", "op-2"}));
    CHECK(flags[0].operator_id.empty());  // more than one operator
    CHECK(flags[0].evidence_count == 3);
  }
  SECTION("a lower configured threshold flags two cases") {
    rules.repeat_cases = 2;
    const auto flags = of_kind(run(log, rules), "repeated_person");
    REQUIRE(flags.size() == 1);
    CHECK(flags[0].subject == kPersonA);
  }
}

TEST_CASE("unit: anomalies: queries outside working hours, in local time", "[anomalies]") {
  Log log;
  log.authorize("auth-1", "case-1", "2026-11-29T00:00:00.000Z");
  log.verify("2026-11-30T00:30:00.000Z", "case-1", "auth-1", kPersonA);  // 08:30 local: working
  log.verify("2026-11-30T09:59:00.000Z", "case-1", "auth-1", kPersonA);  // 17:59 local: working
  log.verify("2026-11-30T10:00:00.000Z", "case-1", "auth-1", kPersonA);  // 18:00 local: after hours
  log.verify("2026-11-30T14:30:00.000Z", "case-1", "auth-1", kPersonA);  // 22:30 local, same day
  log.verify("2026-11-30T23:10:00.000Z", "case-1", "auth-1",
             kPersonA);  // 07:10 Tue local: before hours
  log.verify("2026-12-05T03:00:00.000Z", "case-1", "auth-1", kPersonA);  // Saturday 11:00 local
  auto flags = of_kind(run(log), "out_of_hours");
  REQUIRE(flags.size() == 3);
  CHECK(flags[0].subject == "2026-11-30");
  CHECK(flags[0].evidence_count == 2);
  CHECK(flags[0].facts["reason"] == "after_hours");
  CHECK(flags[0].facts["local_times"] == json::array({"18:00", "22:30"}));
  CHECK(flags[1].subject == "2026-12-01");
  CHECK(flags[1].facts["reason"] == "before_hours");
  CHECK(flags[2].facts["reason"] == "rest_day");

  b::AnomalyRules rules;
  rules.holidays = {"2026-11-30"};
  rules.work_days = {1, 2, 3, 4, 5, 6};
  rules.work_start_minute = 7 * 60;
  flags = of_kind(run(log, rules), "out_of_hours");
  REQUIRE(flags.size() ==
          1);  // Monday is a holiday; Tuesday 07:10 and Saturday are working time now
  CHECK(flags[0].facts["reason"] == "holiday");
  CHECK(flags[0].evidence_count == 4);

  rules = {};
  rules.utc_offset_minutes =
      0;  // the same records read as UTC: 00:30 and 23:10 Monday, and Saturday
  flags = of_kind(run(log, rules), "out_of_hours");
  REQUIRE(flags.size() == 2);
  CHECK(flags[0].facts["local_times"] == json::array({"00:30", "23:10"}));
  CHECK(flags[0].facts["reason"] == "before_hours");
  CHECK(flags[1].facts["reason"] == "rest_day");
}

TEST_CASE("unit: anomalies: an operator's volume far above their usual", "[anomalies]") {
  Log log;
  log.authorize("auth-1", "case-1", "2026-10-01T00:00:00.000Z");
  // Baseline: two a day for the 28 days before the window (mean 2).
  for (int d = 2; d <= 29; ++d) {
    const std::string day = "2026-11-" + std::string(d < 10 ? "0" : "") + std::to_string(d);
    for (int i = 0; i < 2; ++i) log.verify(day + "T02:00:00.000Z", "case-1", "auth-1", kPersonA);
  }
  b::AnomalyRules rules;
  rules.volume_min = 5;
  SECTION("three times the mean is not yet far above it") {
    for (int i = 0; i < 6; ++i) log.verify(kWorkTime, "case-1", "auth-1", kPersonA);
    CHECK(of_kind(run(log, rules), "volume_spike").empty());
  }
  SECTION("seven in a day against a mean of two is flagged") {
    for (int i = 0; i < 7; ++i) log.verify(kWorkTime, "case-1", "auth-1", kPersonA);
    log.verify(kWorkTime, "case-1", "auth-1", kPersonA, "op-2");  // another operator, no history
    const auto flags = of_kind(run(log, rules), "volume_spike");
    REQUIRE(flags.size() == 1);
    CHECK(flags[0].operator_id == "op-1");
    CHECK(flags[0].facts["count"] == 7);
    CHECK(flags[0].facts["baseline_mean"] == 2.0);
    CHECK(flags[0].facts["threshold"] == 6.0);
  }
  SECTION("an operator without history is flagged only from volume_min") {
    for (int i = 0; i < 4; ++i) log.verify(kWorkTime, "case-1", "auth-1", kPersonB, "op-new");
    CHECK(of_kind(run(log, rules), "volume_spike").empty());
    log.verify(kWorkTime, "case-1", "auth-1", kPersonB, "op-new");
    const auto flags = of_kind(run(log, rules), "volume_spike");
    REQUIRE(flags.size() == 1);
    CHECK(flags[0].operator_id == "op-new");
  }
}

TEST_CASE("unit: anomalies: relatives only through explicit links", "[anomalies]") {
  Log log;
  log.authorize("auth-1", "case-1", kWorkTime);
  log.verify(kWorkTime, "case-1", "auth-1", kPersonA, "op-1");
  log.verify(kWorkTime, "case-1", "auth-1", kPersonA, "op-2");
  log.verify(kWorkTime, "case-1", "auth-1", kPersonB, "op-1");
  CHECK(of_kind(run(log), "relative_queried").empty());
  const std::vector<b::RelativeLink> links = {{"cs", "op-1", kPersonA, "spouse"},
                                              {"other-system", "op-2", kPersonA, "parent"}};
  const auto flags = of_kind(run(log, {}, links), "relative_queried");
  REQUIRE(flags.size() == 1);  // op-2's link is for another principal
  CHECK(flags[0].operator_id == "op-1");
  CHECK(flags[0].subject == kPersonA);
  CHECK(flags[0].severity == "high");
  CHECK(flags[0].facts["relations"] == json::array({"spouse"}));
  CHECK(flags[0].seqs == std::vector<std::int64_t>{3});
}

TEST_CASE("unit: anomalies: refused requests by principal", "[anomalies]") {
  Log log;
  for (int i = 0; i < 4; ++i)
    log.add("request.refused", kWorkTime, "noisy").status = "400 invalid_field";
  log.add("request.refused", kWorkTime, "quiet").status = "429 rate_limited";
  log.add("request.refused", "2026-11-01T02:00:00.000Z", "noisy").status =
      "400 invalid_field";  // before the window
  b::AnomalyRules rules;
  rules.refusals_min = 4;
  const auto report = run(log, rules);
  const auto flags = of_kind(report, "refusals");
  REQUIRE(flags.size() == 1);
  CHECK(flags[0].principal == "noisy");
  CHECK(flags[0].facts["count"] == 4);
  CHECK(flags[0].facts["codes"]["invalid_field"] == 4);
  CHECK(report.stats["refusals_by_principal"]["quiet"]["rate_limited"] == 1);
  CHECK(report.stats["refusals_by_principal"]["noisy"]["invalid_field"] == 4);
}

TEST_CASE("unit: anomalies: charts bucket by hour for short windows and count agency failures",
          "[anomalies]") {
  Log log;
  for (const char* status : {"ok", "not_found", "timeout", "error"}) {
    auto& q = log.add("agency.query", kWorkTime);
    q.source = "tax";
    q.status = status;
  }
  const auto report = run(log, {}, {}, "2026-11-30T00:00:00.000Z", "2026-12-01T00:00:00.000Z");
  CHECK(report.stats["bucket"] == "hour");
  CHECK(report.stats["volume_by_source"]["tax"]["2026-11-30 10:00"] == 4);
  CHECK(report.stats["agencies"]["tax"]["failed"] == 2);
  CHECK(report.stats["agencies"]["tax"]["statuses"]["timeout"] == 1);
}

TEST_CASE("unit: anomalies: configuration and the relations file", "[anomalies]") {
  hfv::testing::TempDir dir;
  auto rules = b::parse_anomaly_rules({{"working_hours", "08:30-17:30"},
                                       {"working_days", {1, 2, 3, 4, 5, 6}},
                                       {"repeat_cases", 2},
                                       {"relations_file", "relations.json"}},
                                      dir.path);
  REQUIRE(rules.ok());
  CHECK(rules->work_start_minute == 8 * 60 + 30);
  CHECK(rules->work_end_minute == 17 * 60 + 30);
  CHECK(rules->work_days.size() == 6);
  CHECK(rules->relations_file == dir.path / "relations.json");
  CHECK_FALSE(b::parse_anomaly_rules({{"working_hours", "18:00-08:00"}}, dir.path).ok());
  CHECK_FALSE(b::parse_anomaly_rules({{"repeat_cases", 1}}, dir.path).ok());
  CHECK_FALSE(b::parse_anomaly_rules({{"surname_matching", true}}, dir.path).ok());

  const auto file = dir.path / "relations.json";
  std::ofstream(file) << json{{"format", "hfv-relative-links/v1"},
                              {"links",
                               {{{"operator", "op-1"},
                                 {"relative_id_number", "11010519491231002X"},
                                 {"relation", "parent"}},
                                {{"operator", "op-2"},
                                 {"principal", "cs"},
                                 {"relative_pseudonym", kPersonB},
                                 {"relation", "spouse"}}}}}
                             .dump();
  ::chmod(file.c_str(), 0644);
  auto pseudonym = [](const std::string& id) { return "p:" + id.substr(0, 2); };
  auto unsafe = b::load_relative_links(file, pseudonym);
  REQUIRE_FALSE(unsafe.ok());
  CHECK(unsafe.error().code == "relations_unsafe");
  ::chmod(file.c_str(), 0640);
  auto links = b::load_relative_links(file, pseudonym);
  REQUIRE(links.ok());
  REQUIRE(links->size() == 2);
  CHECK((*links)[0].member == "p:11");
  CHECK((*links)[0].principal.empty());
  CHECK((*links)[1].member == kPersonB);
  std::ofstream(file, std::ios::trunc)
      << R"({"format":"hfv-relative-links/v1","links":[{"operator":"op-1","relative_id_number":"110105194912310021","relation":"x"}]})";
  auto bad = b::load_relative_links(file, pseudonym);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("110105") == std::string::npos);  // never quotes the ID number
}

TEST_CASE("unit: anomalies: the daemon configuration reads the anomalies object",
          "[anomalies][config]") {
  hfv::testing::TempDir dir;
  json config = {
      {"listen", "127.0.0.1:0"},
      {"tls", {{"ca_file", "ca.pem"}, {"cert_file", "server.pem"}, {"key_file", "server.key"}}},
      {"master_key_file", "master.key"},
      {"signing_key_file", "signing.key"},
      {"audit_db", "audit.db"},
      {"state_db", "state.db"},
      {"policies_dir", "/policies"},
      {"principals", json::array({{{"name", "sup"},
                                   {"certificate_cn", "sup"},
                                   {"role", "supervisor"},
                                   {"jurisdictions", {"2301"}}}})}};
  auto load = [&](const json& j) {
    std::ofstream(dir.path / "brokerd.json", std::ios::trunc) << j.dump();
    return b::load_config(dir.path / "brokerd.json");
  };
  auto defaults = load(config);
  REQUIRE(defaults.ok());
  CHECK(defaults->anomaly_rules.repeat_cases == 3);
  CHECK(defaults->anomaly_rules.relations_file.empty());
  config["anomalies"] = {{"repeat_cases", 2}, {"relations_file", "links.json"}};
  auto set = load(config);
  REQUIRE(set.ok());
  CHECK(set->anomaly_rules.repeat_cases == 2);
  CHECK(set->anomaly_rules.relations_file == dir.path / "links.json");
  config["anomalies"] = {{"working_hours", "9-5"}};
  auto bad = load(config);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("anomalies.working_hours") != std::string::npos);
}
