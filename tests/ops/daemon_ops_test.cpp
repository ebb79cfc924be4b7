// Operations against the real daemon: /metrics fetched over mutual TLS from
// brokerd run as a process and checked by promtool (Prometheus's own
// text-format parser and linter); the daemon's stderr is JSON lines without
// personal data; brokerctl status and reload; --help on every command.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>
#include <map>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <array>
#include <fstream>

#include "../integration/stack.hpp"
#include "broker/api/routes.hpp"
#include "run.hpp"
#include "broker/ops/metrics.hpp"

namespace fs = std::filesystem;
using hfv::testing::https;
using hfv::testing::member;
using hfv::testing::Stack;
using nlohmann::json;

namespace {

using hfv::testing::quote;
using hfv::testing::Ran;
using hfv::testing::run;

std::string ctl_access(const Stack& stack, const char* who) {
  const fs::path pki = stack.broker_dir / "pki";
  return " --config " + quote(stack.broker_dir / "brokerd.json") + " --cert " +
         quote(pki / (std::string(who) + ".pem")) + " --key " + quote(pki / (std::string(who) + ".key"));
}

std::map<std::string, double> scrape(const Stack& stack) {
  auto r = https("GET", stack.url + "/metrics", stack.supervisor);
  REQUIRE(r.status == 200);
  return hfv::broker::parse_metrics_text(r.body);
}

}  // namespace

TEST_CASE("ops: /metrics from the running daemon parses with promtool and counts the work done",
          "[ops][integration]") {
  Stack stack;
  (void)stack.verify("HRB-M-1", json::array({member("230102197503120016", "张伟", "applicant"),
                                             member("230102197808050020", "李娜", "spouse")}));

  // Who may read it: admin and supervisor principals only.
  auto anonymous = https("GET", stack.url + "/metrics", stack.no_cert);
  CHECK(anonymous.status == 401);
  auto case_system = https("GET", stack.url + "/metrics", stack.case_system);
  CHECK(case_system.status == 403);
  auto post = https("POST", stack.url + "/metrics", stack.supervisor, "{}");
  CHECK(post.status == 405);

  auto r = https("GET", stack.url + "/metrics", stack.supervisor);
  REQUIRE(r.status == 200);
  INFO(r.body);

  // A real Prometheus text-format parser (and its linter) accepts it.
  const std::string promtool = PROMTOOL_BIN;
  REQUIRE_FALSE(promtool.empty());  // Debian package "prometheus" (scripts/install-deps)
  const fs::path file = stack.dir.path / "metrics.txt";
  std::ofstream(file, std::ios::binary) << r.body;
  const Ran check = run(promtool + " check metrics < " + quote(file));
  INFO(check.output);
  CHECK(check.exit_code == 0);
  CHECK(check.output.empty());

  // No raw path, ID number or name ends up in a label.
  CHECK(r.body.find("230102197503120016") == std::string::npos);
  CHECK(r.body.find("HRB-M-1") == std::string::npos);

  const auto m = hfv::broker::parse_metrics_text(r.body);
  auto at = [&](const std::string& key) {
    INFO(key);
    REQUIRE(m.count(key) == 1);
    return m.at(key);
  };
  CHECK(at(R"(hfv_http_requests_total{endpoint="/v1/verifications",method="POST",status="200"})") >= 1);
  CHECK(at(R"(hfv_http_requests_total{endpoint="/v1/authorizations",method="POST",status="201"})") >= 1);
  CHECK(at(R"(hfv_http_requests_total{endpoint="/metrics",method="GET",status="403"})") == 1);
  CHECK(at(R"(hfv_http_requests_total{endpoint="/metrics",method="GET",status="401"})") == 1);
  CHECK(at("hfv_verification_duration_seconds_count") == 1);
  CHECK(at(R"(hfv_verification_duration_seconds_bucket{le="+Inf"})") == 1);
  CHECK(at("hfv_audit_append_duration_seconds_count") >= 3);  // start, request, queries, report
  CHECK(at("hfv_audit_append_failures_total") == 0);
  CHECK(at("hfv_audit_last_sequence") >= 3);
  CHECK(at("hfv_requests_in_flight") == 1);  // this scrape
  CHECK(at("hfv_policies_loaded") >= 1);
  CHECK(at(R"(hfv_agency_queries_total{agency="bank",result="ok"})") >= 1);
  CHECK(at(R"(hfv_agency_query_duration_seconds_count{agency="bank"})") == 2);  // one per member
  CHECK(at(R"(hfv_agency_breaker_state{agency="bank",state="closed"})") == 1);
  CHECK(at(R"(hfv_agency_breaker_state{agency="bank",state="open"})") == 0);
  CHECK(at(R"(hfv_agency_requests_in_flight{agency="bank"})") == 0);
  CHECK(at(R"(hfv_agency_http_requests_total{agency="bank"})") >= 2);
  CHECK(at(R"(hfv_agency_breaker_opens_total{agency="bank"})") == 0);

  // The daemon's log: JSON objects only, without the household's data.
  REQUIRE(stack.broker->stop(SIGTERM) == 0);
  std::istringstream log(hfv::testing::read_file(stack.dir.path / "brokerd.log"));
  std::string line;
  int lines = 0;
  bool saw_verification = false;
  while (std::getline(log, line)) {
    if (line.empty()) continue;
    ++lines;
    INFO(line);
    const json j = json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j.contains("ts"));
    CHECK(j.contains("level"));
    CHECK(j.contains("event"));
    for (const char* personal : {"230102197503120016", "230102197808050020", "张伟", "李娜", "HRB-M-1",
                                 "op-test-01"}) {
      CHECK(line.find(personal) == std::string::npos);
    }
    if (j.value("event", "") == "request" && j.value("endpoint", "") == "/v1/verifications") {
      saw_verification = true;
      CHECK(j["principal"] == "demo-case-system");  // the configured name, not the certificate subject
    }
  }
  CHECK(lines >= 4);
  CHECK(saw_verification);
}

TEST_CASE("ops: log_level from the config silences info lines", "[ops][integration]") {
  Stack stack([](json& config, const fs::path&) { config["log_level"] = "warn"; });
  auto r = https("GET", stack.url + "/healthz", stack.no_cert);
  CHECK(r.status == 200);
  REQUIRE(stack.broker->stop(SIGTERM) == 0);
  const std::string log = hfv::testing::read_file(stack.dir.path / "brokerd.log");
  CHECK(log.find("\"event\":\"started\"") == std::string::npos);
  CHECK(log.find("\"event\":\"request\"") == std::string::npos);
}

TEST_CASE("ops: the daemon names its long-lived threads by role for top and perf and bench/run",
          "[ops][integration]") {
  Stack stack;
  REQUIRE(https("GET", stack.url + "/healthz", stack.no_cert).status == 200);
  std::string pid = hfv::testing::read_file(stack.broker_dir / "run" / "brokerd.pid");
  pid = pid.substr(0, pid.find('\n'));
  std::map<std::string, int> names;
  for (const auto& task : fs::directory_iterator(fs::path("/proc") / pid / "task")) {
    std::string name = hfv::testing::read_file(task.path() / "comm");
    names[name.substr(0, name.find('\n'))] += 1;
  }
  INFO("threads by name: " << json(names).dump());
  CHECK(names["brokerd"] >= 1);  // the I/O thread keeps the process's name (curl's resolver threads may too)
  CHECK(names["hfv-audit"] == 1);
  CHECK(names["hfv-blocking"] == 2);
  CHECK(names["hfv-compute"] >= 1);
}

TEST_CASE("ops: brokerctl status reports a running daemon and refuses a case-system certificate",
          "[ops][integration]") {
  Stack stack;
  const Ran ok = run(std::string(BROKERCTL_BIN) + " status" + ctl_access(stack, "demo-supervisor"));
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find("up (healthz ok)") != std::string::npos);
  CHECK(ok.output.find("pid: ") != std::string::npos);
  CHECK(ok.output.find("policies: ") != std::string::npos);
  CHECK(ok.output.find("bank=closed") != std::string::npos);

  const Ran refused = run(std::string(BROKERCTL_BIN) + " status" + ctl_access(stack, "demo-case-system"));
  INFO(refused.output);
  CHECK(refused.exit_code == 1);
  CHECK(refused.output.find("HTTP 403") != std::string::npos);

  REQUIRE(stack.broker->stop(SIGTERM) == 0);
  const Ran down = run(std::string(BROKERCTL_BIN) + " status --config " + quote(stack.broker_dir / "brokerd.json"));
  INFO(down.output);
  CHECK(down.exit_code == 1);
  CHECK(down.output.find("DOWN") != std::string::npos);
}

TEST_CASE("ops: brokerctl status and /metrics show policies stale today or within 60 days",
          "[ops][integration][horizon]") {
  // Copies of the five files whose newest standards end relative to today:
  // Haidian's ended yesterday (stale since today), Harbin's ends in 30 days
  // (stale from day 31, inside the 60-day warning), the others' in 400 days.
  const hfv::Date today = hfv::Date::today_utc();
  Stack stack([&today](json& config, const fs::path& dir) {
    fs::copy(config["policies_dir"].get<std::string>(), dir / "policies", fs::copy_options::recursive);
    config["policies_dir"] = (dir / "policies").string();
    for (const char* code : {"230100", "610700", "110108", "410500", "310000"}) {
      const fs::path file = dir / "policies" / (std::string(code) + ".json");
      json policy = json::parse(hfv::testing::read_file(file));
      const long days = std::string(code) == "110108" ? -1 : (std::string(code) == "230100" ? 30 : 400);
      const std::string until = today.add_days(days).to_string();
      for (const char* area : {"urban", "rural"}) {
        policy["parameters"]["dibao_standard_monthly"][area].back()["valid_until"] = until;
      }
      policy["parameters"]["minimum_wage_monthly"].back()["valid_until"] = today.add_days(400).to_string();
      std::ofstream(file, std::ios::trunc) << policy.dump(2);
    }
  });
  const std::string since = today.to_string();
  const std::string from = today.add_days(31).to_string();

  auto r = https("GET", stack.url + "/metrics", stack.supervisor);
  REQUIRE(r.status == 200);
  INFO(r.body);
  const fs::path file = stack.dir.path / "metrics.txt";
  std::ofstream(file, std::ios::binary) << r.body;
  const Ran check = run(std::string(PROMTOOL_BIN) + " check metrics < " + quote(file));
  INFO(check.output);
  CHECK(check.exit_code == 0);
  const auto m = hfv::broker::parse_metrics_text(r.body);
  CHECK(m.at(R"(hfv_policies_stale{state="stale"})") == 1);
  CHECK(m.at(R"(hfv_policies_stale{state="stale_soon"})") == 1);
  const auto seconds = [](const hfv::Date& d) { return static_cast<double>(d.days_since_epoch()) * 86400.0; };
  CHECK(m.at(R"(hfv_policy_parameter_stale_from_timestamp_seconds{jurisdiction="110108",)"
             R"(parameter="dibao_standard_monthly.urban",state="stale"})") == seconds(today));
  CHECK(m.at(R"(hfv_policy_parameter_stale_from_timestamp_seconds{jurisdiction="230100",)"
             R"(parameter="dibao_standard_monthly.rural",state="stale_soon"})") == seconds(today.add_days(31)));
  std::size_t series = 0;
  for (const auto& [key, value] : m) series += key.starts_with("hfv_policy_parameter_stale_from") ? 1 : 0;
  CHECK(series == 4);  // urban and rural of the two: nothing else

  const Ran status = run(std::string(BROKERCTL_BIN) + " status" + ctl_access(stack, "demo-supervisor"));
  INFO(status.output);
  CHECK(status.exit_code == 0);
  CHECK(status.output.find("stale policies: 110108 (dibao_standard_monthly.rural since " + since +
                           "; dibao_standard_monthly.urban since " + since + ")\n") != std::string::npos);
  CHECK(status.output.find("stale within 60 days: 230100 (dibao_standard_monthly.rural from " + from +
                           "; dibao_standard_monthly.urban from " + from + ")\n") != std::string::npos);

  // A verification in Haidian today finds the standard stale: never eligible.
  const std::string id = "110108199001011231";
  json auth = {{"case_id", "HD-STALE-1"},  {"jurisdiction", "110108"}, {"members", json::array({id})}, {"categories", "all"},
               {"valid_from", since},      {"valid_until", today.add_days(30).to_string()},
               {"form_sha256", std::string(64, 'c')}};
  auto a = https("POST", stack.url + "/v1/authorizations", stack.case_system, auth.dump(), stack.operator_header());
  REQUIRE(a.status == 201);
  json body = {{"case_id", "HD-STALE-1"}, {"programme", "dibao"}, {"jurisdiction", "110108"}, {"area", "urban"},
               {"reference_date", since}, {"authorization_id", json::parse(a.body)["authorization_id"]},
               {"members", json::array({member(id.c_str(), "王芳", "applicant")})}};
  auto v = https("POST", stack.url + "/v1/verifications", stack.case_system, body.dump(), stack.operator_header());
  INFO(v.body);
  REQUIRE(v.status == 200);
  const json report = json::parse(v.body);
  CHECK(report["outcome"] == "indeterminate");
  REQUIRE(report["rules"].size() == 1);
  CHECK(report["rules"][0]["result"] == "unknown");
  CHECK(report["rules"][0]["unknown_sources"] == json::array({"parameter:dibao_standard_monthly.urban"}));
  CHECK(report["rules"][0]["explanation"].get<std::string>().find("dibao_standard_monthly.urban is stale on " +
                                                                  since) != std::string::npos);
}

TEST_CASE("ops: brokerctl reload applies valid policy files and reports a refused reload",
          "[ops][integration]") {
  Stack stack([](json& config, const fs::path& dir) {
    fs::copy(config["policies_dir"].get<std::string>(), dir / "policies", fs::copy_options::recursive);
    config["policies_dir"] = (dir / "policies").string();
  });
  hfv::testing::wait_for_file(stack.broker_dir / "run" / "brokerd.pid");
  const std::string reload = std::string(BROKERCTL_BIN) + " reload --wait 20" + ctl_access(stack, "demo-supervisor");

  const Ran ok = run(reload);
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find("OK: configuration reloaded") != std::string::npos);
  CHECK(ok.output.find("policies=") != std::string::npos);
  CHECK(scrape(stack).at(R"(hfv_policy_reloads_total{result="ok"})") == 1);

  std::ofstream(stack.broker_dir / "policies" / "999999.json") << "{ not json";
  const Ran refused = run(reload);
  INFO(refused.output);
  CHECK(refused.exit_code == 1);
  CHECK(refused.output.find("REFUSED") != std::string::npos);
  CHECK(refused.output.find("999999.json") != std::string::npos);  // the reason names the file
  const auto after = scrape(stack);
  CHECK(after.at(R"(hfv_policy_reloads_total{result="refused"})") == 1);
  CHECK(after.at(R"(hfv_policy_reloads_total{result="ok"})") == 1);

  // A stale pid file is not obeyed.
  REQUIRE(stack.broker->stop(SIGTERM) == 0);
  CHECK_FALSE(fs::exists(stack.broker_dir / "run" / "brokerd.pid"));
  std::ofstream(stack.broker_dir / "run" / "brokerd.pid") << ::getpid() << "\n";
  const Ran stale = run(std::string(BROKERCTL_BIN) + " reload --config " + quote(stack.broker_dir / "brokerd.json"));
  INFO(stale.output);
  CHECK(stale.exit_code == 2);
  CHECK(stale.output.find("not brokerd") != std::string::npos);
}

TEST_CASE("ops: every brokerctl command and subcommand has --help", "[ops]") {
  // Walk the command tree as the help texts describe it.
  std::vector<std::string> pending = {""};
  std::set<std::string> seen;
  while (!pending.empty()) {
    const std::string command = pending.back();
    pending.pop_back();
    seen.insert(command);
    const Ran help = run(std::string(BROKERCTL_BIN) + (command.empty() ? "" : " " + command) + " --help");
    INFO("brokerctl " << command << " --help\n" << help.output);
    CHECK(help.exit_code == 0);
    CHECK(help.output.find("Usage:") != std::string::npos);
    std::istringstream lines(help.output);
    std::string line;
    bool in_subcommands = false;
    while (std::getline(lines, line)) {
      if (line.rfind("Subcommands:", 0) == 0) {
        in_subcommands = true;
        continue;
      }
      if (!in_subcommands) continue;
      if (line.empty() || line[0] != ' ') {
        in_subcommands = false;
        continue;
      }
      std::istringstream words(line);
      std::string name;
      words >> name;
      if (!name.empty()) pending.push_back(command.empty() ? name : command + " " + name);
    }
  }
  for (const char* expected : {"status", "reload", "report", "report verify", "audit", "audit verify", "keys",
                               "keys public"}) {
    INFO(expected);
    CHECK(seen.count(expected) == 1);
  }
  const Ran brokerd = run(std::string(BROKERD_BIN) + " --help");
  CHECK(brokerd.exit_code == 0);
  CHECK(brokerd.output.find("usage:") != std::string::npos);
}

TEST_CASE("ops: /metrics counts every route of the table under its own endpoint label",
          "[ops][integration]") {
  Stack stack;
  // One call per row of the route table, as a caller the row allows (case
  // systems with their operator header), on a path the pattern matches.
  std::set<std::string> expected;
  for (const auto& r : hfv::broker::route_table()) {
    std::string path(r.pattern);
    for (std::size_t open; (open = path.find('{')) != std::string::npos;) {
      path.replace(open, path.find('}', open) - open + 1, "x1");
    }
    if (path.ends_with("*")) path.replace(path.size() - 1, 1, "index.html");
    const bool case_system = r.callers.allows(hfv::broker::Role::kCaseSystem) &&
                             !r.callers.allows(hfv::broker::Role::kSupervisor);
    const auto& tls = r.callers.without_certificate() ? stack.no_cert
                      : case_system                   ? stack.case_system
                                                      : stack.supervisor;
    const std::string body = r.method == "POST" ? "{}" : "";
    auto answer = https(std::string(r.method), stack.url + path, tls, body,
                        case_system ? stack.operator_header() : std::vector<std::string>{});
    INFO(r.method << " " << path << " -> " << answer.status);
    CHECK(answer.status != 0);
    expected.insert("endpoint=\"" + std::string(r.pattern) + "\",method=\"" + std::string(r.method) + "\"");
  }
  const auto m = scrape(stack);
  std::set<std::string> seen;
  for (const auto& [key, value] : m) {
    if (!key.starts_with("hfv_http_requests_total{")) continue;
    const auto status = key.find(",status=");
    REQUIRE(status != std::string::npos);
    seen.insert(key.substr(std::string("hfv_http_requests_total{").size(),
                           status - std::string("hfv_http_requests_total{").size()));
  }
  for (const auto& label : expected) {
    INFO("no series for " << label);
    CHECK(seen.contains(label));
  }
  for (const auto& label : seen) {
    INFO("series not of the route table (or not called): " << label);
    CHECK(expected.contains(label));
  }
}

namespace {

// The shipped policy files with the horizons of their dated standards moved
// to 400 days from today (as the horizon test above does): the shipped
// example standards are past their horizons on today's date, and a stale
// policy makes the broker not ready.
void fresh_policies(json& config, const fs::path& dir) {
  const std::string until = hfv::Date::today_utc().add_days(400).to_string();
  fs::copy(config["policies_dir"].get<std::string>(), dir / "policies", fs::copy_options::recursive);
  config["policies_dir"] = (dir / "policies").string();
  for (const auto& entry : fs::directory_iterator(dir / "policies")) {
    json policy = json::parse(hfv::testing::read_file(entry.path()));
    for (const char* area : {"urban", "rural"}) {
      policy["parameters"]["dibao_standard_monthly"][area].back()["valid_until"] = until;
    }
    policy["parameters"]["minimum_wage_monthly"].back()["valid_until"] = until;
    std::ofstream(entry.path(), std::ios::trunc) << policy.dump(2);
  }
}

// GET /readyz without a certificate, as a load balancer asks.
std::pair<long, json> readyz(const Stack& stack) {
  auto r = https("GET", stack.url + "/readyz", stack.no_cert);
  INFO(r.body);
  const json body = json::parse(r.body, nullptr, false);
  REQUIRE(body.is_object());
  return {r.status, body};
}

// A 503 whose one failing check is `failing`, for `reason`.
void check_not_ready_for(long status, const json& body, const std::string& failing, const std::string& reason) {
  INFO(body.dump());
  CHECK(status == 503);
  CHECK(body["ready"] == false);
  for (const std::string check : {"audit", "state", "policies", "agencies"}) {
    INFO(check);
    CHECK(body["checks"][check]["ok"] == (check != failing));
  }
  CHECK(body["checks"][failing]["reason"] == reason);
}

}  // namespace

TEST_CASE("ops: /readyz answers 200 with every check ok while /healthz stays liveness", "[ops][integration][readyz]") {
  Stack stack(fresh_policies);
  (void)stack.verify("HRB-R-1", json::array({member("230102197503120016", "张伟", "applicant")}));
  const auto [status, body] = readyz(stack);
  INFO(body.dump());
  CHECK(status == 200);
  CHECK(body["ready"] == true);
  for (const char* check : {"audit", "state", "policies", "agencies"}) {
    INFO(check);
    CHECK(body["checks"][check]["ok"] == true);
  }
  auto health = https("GET", stack.url + "/healthz", stack.no_cert);
  CHECK(health.status == 200);
  CHECK(json::parse(health.body) == json{{"status", "ok"}});
  // Counted under its own label; probes are not audited (nothing is read).
  CHECK(scrape(stack).at(R"(hfv_http_requests_total{endpoint="/readyz",method="GET",status="200"})") == 1);
}

TEST_CASE("ops: /readyz answers 503 when every agency's breaker is open after the simulator stopped",
          "[ops][integration][readyz]") {
  Stack stack([](json& config, const fs::path& dir) {
    fresh_policies(config, dir);
    for (auto& [name, agency] : config["agencies"].items()) {
      agency["breaker_failures"] = 1;
      agency["breaker_cooldown_ms"] = 600000;  // stays open for the test
      agency["max_attempts"] = 1;
    }
  });
  CHECK(readyz(stack).first == 200);
  const std::string auth = stack.register_authorization("HRB-R-2", json::array({"230102197503120016"}));
  REQUIRE(stack.sim->stop(SIGTERM) == 0);  // every agency is now unreachable
  json body = {{"case_id", "HRB-R-2"},        {"programme", "dibao"},     {"jurisdiction", "230100"},
               {"area", "urban"},             {"reference_date", "2024-11-01"},
               {"authorization_id", auth},
               {"members", json::array({member("230102197503120016", "张伟", "applicant")})}};
  auto v = https("POST", stack.url + "/v1/verifications", stack.case_system, body.dump(), stack.operator_header());
  INFO(v.body);
  CHECK(v.status != 0);
  // The failures are counted by the breakers as the verification's queries
  // end: by the time it is answered every breaker is open.
  const auto [status, ready] = readyz(stack);
  check_not_ready_for(status, ready, "agencies", "every agency's circuit breaker is open");
  CHECK(https("GET", stack.url + "/healthz", stack.no_cert).status == 200);  // still alive
}

TEST_CASE("ops: /readyz answers 503 naming a policy stale today", "[ops][integration][readyz]") {
  const hfv::Date today = hfv::Date::today_utc();
  Stack stack([&today](json& config, const fs::path& dir) {
    fresh_policies(config, dir);
    const fs::path file = dir / "policies" / "110108.json";
    json policy = json::parse(hfv::testing::read_file(file));
    for (const char* area : {"urban", "rural"}) {
      policy["parameters"]["dibao_standard_monthly"][area].back()["valid_until"] = today.add_days(-1).to_string();
    }
    std::ofstream(file, std::ios::trunc) << policy.dump(2);
  });
  const auto [status, body] = readyz(stack);
  check_not_ready_for(status, body, "policies", "stale today: 110108");
}

TEST_CASE("ops: every metric the example alert rules and Grafana dashboard use is on a running daemon's /metrics",
          "[ops][integration][monitoring]") {
  const fs::path examples = hfv::testing::kSource / "packaging" / "examples" / "monitoring";
  const std::string rules = hfv::testing::read_file(examples / "hfv-alerts.yml");
  const std::string dashboard_text = hfv::testing::read_file(examples / "grafana-dashboard.json");

  // The rules parse as Prometheus rules (promtool, as CI's package check runs it).
  const Ran check = run(std::string(PROMTOOL_BIN) + " check rules " + quote(examples / "hfv-alerts.yml"));
  INFO(check.output);
  CHECK(check.exit_code == 0);

  // The dashboard is a Grafana dashboard: valid JSON, panels with unique
  // ids and a place, every query a Prometheus expression.
  const json dashboard = json::parse(dashboard_text, nullptr, false);
  REQUIRE_FALSE(dashboard.is_discarded());
  CHECK(dashboard.value("title", "") == "hfv broker");
  REQUIRE(dashboard["panels"].is_array());
  std::set<int> ids;
  std::size_t queries = 0;
  for (const auto& panel : dashboard["panels"]) {
    INFO(panel.dump());
    CHECK(ids.insert(panel["id"].get<int>()).second);
    CHECK(panel["gridPos"].contains("w"));
    if (panel["type"] == "row") continue;
    REQUIRE(panel["targets"].is_array());
    for (const auto& target : panel["targets"]) {
      CHECK_FALSE(target.value("expr", "").empty());
      ++queries;
    }
  }
  CHECK(queries >= 20);

  // A daemon that did some work, so that histograms and per-agency series exist.
  Stack stack;
  (void)stack.verify("HRB-MON-1", json::array({member("230102197503120016", "张伟", "applicant")}));
  (void)https("GET", stack.url + "/readyz", stack.no_cert);
  auto scraped = https("GET", stack.url + "/metrics", stack.supervisor);
  REQUIRE(scraped.status == 200);
  const std::string& text = scraped.body;
  // A name is exposed when a sample line starts with it, or its family is
  // declared (series that exist only once something happens: a CRL, a
  // plaintext agency), or it is a histogram's _bucket/_sum/_count.
  auto exposed = [&text](const std::string& name) {
    for (const std::string& form : {"\n" + name + "{", "\n" + name + " ", "# TYPE " + name + " "}) {
      if (text.find(form) != std::string::npos) return true;
    }
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (name.ends_with(suffix)) {
        const std::string family = name.substr(0, name.size() - std::strlen(suffix));
        if (text.find("# TYPE " + family + " histogram") != std::string::npos) return true;
      }
    }
    return false;
  };
  const std::regex metric_name(R"(\b(hfv|process)_[a-z0-9_]*[a-z0-9])");
  std::set<std::string> names;
  for (const std::string* source : {&rules, &dashboard_text}) {
    for (std::sregex_iterator it(source->begin(), source->end(), metric_name), end; it != end; ++it) {
      names.insert(it->str());
    }
  }
  CHECK(names.size() >= 25);

  // What the daemon sets from its configuration and TLS material at start:
  // the server certificate's expiry (in the future), agencies over http://
  // (the test stack's simulator is plain HTTP).
  const auto m = hfv::broker::parse_metrics_text(text);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  REQUIRE(m.count(R"(hfv_tls_not_after_timestamp_seconds{what="server_certificate"})") == 1);
  CHECK(m.at(R"(hfv_tls_not_after_timestamp_seconds{what="server_certificate"})") > now);
  CHECK(m.at(R"(hfv_agency_plaintext{agency="bank"})") == 1);
  CHECK(m.at(R"(hfv_config_reloads_total{result="refused"})") == 0);
  for (const auto& name : names) {
    // The hfv_db_* families exist with the postgresql backend only: the
    // "(postgresql)" run of this test checks them.
    if (name.starts_with("hfv_db_") && !stack.on_postgresql()) continue;
    INFO(name << " is used by packaging/examples/monitoring but not on /metrics");
    CHECK(exposed(name));
  }
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // this test and brokerd are built alike (the asan preset)
#else
constexpr bool kSanitized = false;
#endif

TEST_CASE("ops: the running daemon dumps no core, and neither its environment nor its memory holds the master key once the keys are derived",
          "[ops][integration][keys]") {
  Stack stack;
  std::string hex = hfv::testing::read_file(stack.broker_dir / "keys" / "master.key");
  hex = hex.substr(0, hex.find('\n'));
  REQUIRE(hex.size() == 64);
  REQUIRE(stack.broker->stop(SIGTERM) == 0);
  // Again, with the key in HFV_MASTER_KEY, as an operator may start it.
  REQUIRE(::setenv("HFV_MASTER_KEY", hex.c_str(), 1) == 0);  // NOLINT(concurrency-mt-unsafe): no threads yet
  fs::remove(stack.broker_dir / "run" / "brokerd.port");  // the next start writes its own port
  stack.broker = std::make_unique<hfv::testing::Process>(
      std::vector<std::string>{BROKERD_BIN, "run", "--config", (stack.broker_dir / "brokerd.json").string()},
      stack.dir.path / "brokerd-env.log");
  ::unsetenv("HFV_MASTER_KEY");  // NOLINT(concurrency-mt-unsafe): as above
  const std::string pid = [&] {
    std::string text = hfv::testing::wait_for_file(stack.broker_dir / "run" / "brokerd.pid");
    return text.substr(0, text.find('\n'));
  }();
  const std::string port = hfv::testing::wait_for_file(stack.broker_dir / "run" / "brokerd.port");
  stack.url = "https://127.0.0.1:" + port.substr(0, port.find('\n'));
  REQUIRE(https("GET", stack.url + "/healthz", stack.no_cert).status == 200);  // listening: every key derived
  CHECK(hfv::testing::read_file(stack.dir.path / "brokerd-env.log").find(R"("source":"env")") != std::string::npos);
  const fs::path proc = fs::path("/proc") / pid;

  // No core file, whatever the system's default.
  const std::string limits = hfv::testing::read_file(proc / "limits");
  const std::regex core(R"(Max core file size\s+0\s+0\s)");
  CHECK(std::regex_search(limits, core));

  // The variable's value is overwritten in place, not only unset.
  const std::string environment = hfv::testing::read_file(proc / "environ");
  REQUIRE_FALSE(environment.empty());
  CHECK(environment.find(hex) == std::string::npos);

  // Nowhere in its writable memory: neither the key nor its hex (read as
  // root, or as the owner while the daemon is dumpable; it is not, so a
  // non-root run cannot look and says so).
  std::array<std::uint8_t, 32> raw{};
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  std::ifstream maps(proc / "maps");
  std::FILE* mem = std::fopen((proc / "mem").c_str(), "rb");
  if (mem == nullptr) {
    WARN("cannot read " << (proc / "mem").string() << " (not root): the memory scan is skipped");
    return;
  }
  std::size_t scanned = 0;
  const std::string key_bytes(raw.begin(), raw.end());
  for (std::string line; std::getline(maps, line);) {
    unsigned long long from = 0, to = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%llx-%llx %4s", &from, &to, perms) != 3 || perms[0] != 'r' || perms[1] != 'w') continue;
    if (line.find("[vvar]") != std::string::npos) continue;
    // A sanitizer's shadow is reserved in terabytes, never written with
    // data of the daemon's own: not read.
    if (to - from > (1ULL << 30)) continue;
    INFO(line);
    // In chunks that overlap by less than a key, so none is missed at a seam.
    constexpr std::size_t kChunk = 4 << 20;
    std::string chunk(kChunk, '\0');
    for (unsigned long long at = from; at < to;) {
      const std::size_t want = static_cast<std::size_t>(std::min<unsigned long long>(kChunk, to - at));
      if (::fseeko(mem, static_cast<off_t>(at), SEEK_SET) != 0) break;
      const std::size_t got = std::fread(chunk.data(), 1, want, mem);
      std::clearerr(mem);
      if (got == 0) break;
      const std::string_view seen(chunk.data(), got);
      CHECK(seen.find(key_bytes) == std::string_view::npos);
      // Under AddressSanitizer its runtime keeps a copy of the initial
      // environment (it reads /proc/self/environ for its own options),
      // which the daemon cannot reach: the hex is looked for without it.
      if (!kSanitized) CHECK(seen.find(hex) == std::string_view::npos);
      scanned += got;
      if (got < want || at + got >= to) break;
      at += got - (hex.size() - 1);
    }
  }
  std::fclose(mem);
  CHECK(scanned > 1000000);  // the heap and stacks were read
}
