// Periodic reviews in bulk against real processes: agency-sim serving a
// generated dataset and brokerd, driven over mutual TLS like a case system.
//  - 10,000 households across the five jurisdictions: a baseline batch,
//    then the dataset changes (planted: outcome, new vehicle / property /
//    business, assets moved, failed sources) and a batch of all households;
//    the counts add up and the change list names exactly the planted changes.
//  - SIGKILL during a batch, restart: it completes and the audit log shows
//    exactly one issued report per household of the batch.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "audit/audit_log.hpp"
#include "crypto/keys.hpp"
#include "tests/batch/batch_fixture.hpp"
#include "tests/integration/stack.hpp"

namespace fs = std::filesystem;
using hfv::testing::https;
using hfv::testing::Process;
using hfv::testing::Stack;
using nlohmann::json;

using namespace hfv::testing::batch;

namespace {

// Every record of the (stopped) daemon's audit log, in order, with its body parsed.
void for_each_audit_record(const Stack& stack,
                           const std::function<void(const hfv::audit::StoredRecord&, const json&)>& visit) {
  auto master = hfv::crypto::load_master_key_file(stack.broker_dir / "keys" / "master.key");
  REQUIRE(master.ok());
  auto log = hfv::audit::AuditLog::open(stack.audit_location(),
                                        hfv::crypto::derive_key(*master, hfv::crypto::kPurposeAuditDb));
  REQUIRE(log.ok());
  for (std::int64_t from = 1;;) {
    auto rows = (*log)->read(from, 5000);
    REQUIRE(rows.ok());
    if (rows->empty()) return;
    for (const auto& r : *rows) {
      visit(r, json::parse(r.body));
      from = r.seq + 1;
    }
  }
}

// Milliseconds since the epoch of an audit timestamp (UTC RFC 3339 with
// milliseconds, "2026-12-02T07:52:07.336Z").
std::int64_t audit_ms(const std::string& ts) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0;
  REQUIRE(std::sscanf(ts.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &y, &mo, &d, &h, &mi, &s, &ms) == 7);
  const std::chrono::sys_days day{std::chrono::year{y} / mo / d};
  return (day.time_since_epoch() / std::chrono::milliseconds(1)) + ((h * 60 + mi) * 60 + s) * 1000 + ms;
}

std::string first_line_after_header(const std::string& csv) {
  const auto start = csv.find('\n') + 1;
  return csv.substr(start, csv.find('\n', start) - start);
}

}  // namespace

// Hidden ("[.]") from discovery; tests/batch/CMakeLists.txt registers it with
// CTest in the builds without sanitizers (about 1 min release, 3½ min dev).
// By hand: build/dev/tests/batch/batch_integration_tests "[slow]"
TEST_CASE("batch: 10000 households across five jurisdictions, counts add up, the change list matches the plants",
          "[.][slow][integration][batch]") {
  hfv::testing::TempDir data("hfv-batch-data");
  Dataset d = make_dataset(10000, 600, 0);
  d.write(data.path / "before.json", false);
  d.write(data.path / "after.json", true);
  std::ofstream(data.path / "empty.json") << R"({"persons": {}})";
  Stack stack(configure, data.path / "empty.json");
  restart_sim(stack, data.path / "before.json", "sim-before");
  Client client(stack.case_system);
  register_households(stack, client, d);

  // Baseline: the first 600 households, before anything changed.
  const std::string baseline = start_batch(client, stack.url, ndjson(d, 0, d.baseline));
  const Watched first = wait_for(client, stack.url, baseline);
  REQUIRE(first.last["state"] == "done");
  REQUIRE(first.last["done"] == d.baseline);
  CHECK(first.last["households_with_changes"] == 0);

  // The agencies' data changes: the simulator restarts on the same port.
  restart_sim(stack, data.path / "after.json", "sim-after");

  const auto started = std::chrono::steady_clock::now();
  const std::string id = start_batch(client, stack.url, ndjson(d, 0, d.households.size()));
  const Watched w = wait_for(client, stack.url, id);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  WARN("10000 households in " << seconds << " s (" << 10000 / seconds << " households/s)");
  const json& p = w.last;
  REQUIRE(p["state"] == "done");
  CHECK(p["total"] == 10000);
  CHECK(p["failed"] == 0);
  CHECK(p["remaining"] == 0);
  CHECK(p["done"].get<long>() + p["failed"].get<long>() + p["cancelled"].get<long>() == 10000);
  CHECK(w.best_rate > 0);
  CHECK(w.saw_eta);

  // Statistics add up.
  auto s = client.send("GET", stack.url + "/v1/batches/" + id + "/statistics");
  REQUIRE(s.status == 200);
  const json stats = json::parse(s.body);
  long by_outcome = 0;
  for (const auto& [k, v] : stats["by_outcome"].items()) by_outcome += v.get<long>();
  CHECK(by_outcome == 10000);
  long by_classification = 0;
  for (const auto& [k, v] : stats["by_classification"].items()) by_classification += v.get<long>();
  CHECK(by_classification == 10000);
  for (const auto& place : kPlaces) CHECK(stats["by_jurisdiction"][place[0]]["households"] == 2000);
  std::size_t faults = 0;
  for (std::size_t h = 0; h < d.households.size(); ++h) faults += d.plant(h) == kFault ? 1 : 0;
  CHECK(stats["failed_sources_by_agency"].value("bank", 0L) == static_cast<long>(faults));
  CHECK(stats["average_latency_ms"].get<long>() > 0);
  auto svg = client.send("GET", stack.url + "/v1/batches/" + id + "/statistics?format=svg");
  REQUIRE(svg.status == 200);
  CHECK(svg.body.find("<svg") == 0);
  CHECK(svg.body.find(">410500<") != std::string::npos);

  // The change list names exactly the planted changes.
  auto c = client.send("GET", stack.url + "/v1/batches/" + id + "/changes");
  REQUIRE(c.status == 200);
  const json changes = json::parse(c.body);
  std::map<std::string, std::set<std::string>> found;
  int last_severity = 99;
  bool ordered = true;
  for (const auto& change : changes["changes"]) {
    found[change["case_id"].get<std::string>()].insert(change["kind"].get<std::string>());
    ordered &= change["severity"].get<int>() <= last_severity;
    last_severity = change["severity"].get<int>();
  }
  CHECK(ordered);
  std::size_t planted = 0;
  for (std::size_t h = 0; h < d.households.size(); ++h) {
    const Plant plant = d.plant(h);
    const std::string& case_id = d.households[h].case_id;
    INFO("household " << case_id << " plant " << plant);
    const std::set<std::string> kinds = found.contains(case_id) ? found[case_id] : std::set<std::string>{};
    switch (plant) {
      case kOverCap:
        CHECK(kinds.contains("outcome"));
        CHECK(kinds.contains("assets_per_capita"));
        break;
      case kVehicle: CHECK(kinds.contains("new_vehicle")); break;
      case kProperty: CHECK(kinds.contains("new_real_estate")); break;
      case kBusiness: CHECK(kinds.contains("new_business")); break;
      case kAssetsMoved: CHECK(kinds == std::set<std::string>{"assets_per_capita"}); break;
      case kFault: CHECK(kinds == std::set<std::string>{"sources_failed"}); break;
      case kUnchanged:
      case kNone: CHECK(kinds.empty()); break;
    }
    if (plant != kUnchanged && plant != kNone) ++planted;
  }
  CHECK(found.size() == planted);
  CHECK(changes["households_with_changes"] == planted);
  CHECK(p["households_with_changes"] == planted);

  auto csv = client.send("GET", stack.url + "/v1/batches/" + id + "/changes?format=csv");
  REQUIRE(csv.status == 200);
  CHECK(csv.body.starts_with("severity,kind,case_id,"));
  CHECK(first_line_after_header(csv.body).starts_with("5,outcome,"));
  CHECK(static_cast<std::size_t>(std::count(csv.body.begin(), csv.body.end(), '\n')) ==
        changes["changes"].size() + 1);

  // The daemon also left the outputs for case workers.
  REQUIRE(p.contains("files"));
  CHECK(fs::exists(p["files"]["changes_csv"].get<std::string>()));
  CHECK(json::parse(hfv::testing::read_file(p["files"]["statistics_json"].get<std::string>()))["done"] == 10000);
  // No raw ID number in the daemon's log.
  const std::string daemon_log = hfv::testing::read_file(stack.dir.path / "brokerd.log");
  CHECK(daemon_log.find(d.households[0].ids[0]) == std::string::npos);
}

TEST_CASE("batch: agencies never have more of a batch's queries at once than its share of their limit",
          "[integration][batch]") {
  // A household leaves the batch's share of the agencies when its queries
  // are over, not when its report is stored: the next households query
  // while earlier ones are audited and stored. The agencies must still
  // never see more than the share: half of max_concurrent 16, 8 members.
  hfv::testing::TempDir data("hfv-batch-share");
  Dataset d = make_dataset(60, 0, 700000);
  d.write(data.path / "dataset.json", false);
  Stack stack(configure_with_agency_limit(16), data.path / "dataset.json");
  restart_sim(stack, data.path / "dataset.json", "sim-share", 20);  // each answer takes 20 ms
  Client client(stack.case_system);
  register_households(stack, client, d);
  stack.post_to_sim("/_sim/reset-requests", json::object());
  const std::string id = start_batch(client, stack.url, ndjson(d, 0, d.households.size()));
  const Watched w = wait_for(client, stack.url, id, std::chrono::seconds(300));
  REQUIRE(w.last["state"] == "done");
  CHECK(w.last["done"] == static_cast<long>(d.households.size()));
  const json counts = stack.sim_requests();
  INFO(counts.dump());
  REQUIRE(counts["max_in_flight"].size() >= 6);
  for (const auto& [agency, peak] : counts["max_in_flight"].items()) {
    CHECK(peak.get<int>() >= 1);
    CHECK(peak.get<int>() <= 8);
  }
}

// Interactive first (review.yield_after_interactive_ms): agencies answer
// after 100 ms; a batch runs at its full share, then a case worker's
// verification arrives, which takes about 1.5 s (the bank sends its
// applicant's answer slowly). While it runs, the batch starts at most one
// household a second (the audit's verification.request times show it),
// where in the same time just before, it started many.
TEST_CASE("batch: while an interactive verification runs, batches start at most one household a second",
          "[integration][batch]") {
  hfv::testing::TempDir data("hfv-batch-yield");
  // 150 households at a pace the agencies set (a share of 4 queries each
  // at once, 100 ms an answer: 30-40 households of 1 or 2 members a
  // second), so the batch still has households to start when the
  // interactive verification begins, however far a loaded sanitizer
  // build's stored households lag behind the started ones (with a share of
  // 32 the whole batch once started within 0.5 s, 3.7 s before the eighth
  // household was stored, the signal to begin then).
  Dataset d = make_dataset(150, 0, 600000);
  d.write(data.path / "dataset.json", false);
  std::ofstream(data.path / "empty.json") << R"({"persons": {}})";
  Stack stack(configure_with_agency_limit(8), data.path / "empty.json");
  restart_sim(stack, data.path / "dataset.json", "sim-slow", 100);
  Client client(stack.case_system);
  register_households(stack, client, d);

  const std::size_t last = d.households.size() - 1;
  // The bank answers the last household's applicant slowly (the
  // simulator restarted on the same port: sim.port still names it).
  stack.set_faults(
      json{{"bank", {{"slow_body_ms", 1500}, {"persons", {{d.households[last].ids[0], "slow_body"}}}}}});
  const std::string id = start_batch(client, stack.url, ndjson(d, 0, last));
  REQUIRE(wait_for_done(client, stack.url, id, 3, std::chrono::milliseconds(10)) >= 3);
  Client worker(stack.case_system);
  std::string body = ndjson(d, last, last + 1);
  body.pop_back();  // the newline
  auto interactive = worker.send("POST", stack.url + "/v1/verifications", body);
  INFO(interactive.body.substr(0, 500));
  REQUIRE(interactive.status == 200);
  const Watched w = wait_for(client, stack.url, id, std::chrono::seconds(300));
  REQUIRE(w.last["state"] == "done");
  CHECK(w.last["done"] == static_cast<long>(last));

  REQUIRE(stack.broker->stop(SIGTERM) == 0);
  std::vector<std::int64_t> batch_starts;
  std::string interactive_id;
  std::int64_t began = 0, ended = 0;
  for_each_audit_record(stack, [&](const hfv::audit::StoredRecord& r, const json& record) {
    const std::string action = record.value("action", "");
    const bool in_batch = record.value("detail", "").find("batch=" + id) != std::string::npos;
    if (action == "verification.request" && in_batch) batch_starts.push_back(audit_ms(r.ts));
    if (action == "verification.request" && !in_batch && record.value("case_id", "") == d.households[last].case_id) {
      interactive_id = record["request_id"].get<std::string>();
      began = audit_ms(r.ts);
    }
    if (action == "verification.report" && !interactive_id.empty() && record.value("request_id", "") == interactive_id) {
      ended = audit_ms(r.ts);
    }
  });
  REQUIRE(began > 0);
  REQUIRE(ended > began);
  const std::int64_t length = ended - began;
  REQUIRE(length > 1400);  // the bank's slow answer
  auto starts_between = [&](std::int64_t from, std::int64_t to) {
    return std::count_if(batch_starts.begin(), batch_starts.end(),
                         [&](std::int64_t t) { return t > from && t < to; });
  };
  // The rule: while it runs, a batch household starts only when none is in
  // flight and the last started at least a second before, so starts are
  // a second apart and a window of `length` ms holds at most
  // floor(length / 1000) + 1 of them. Audit times trail the decisions by a
  // jitter (up to kJitter on a loaded sanitizer build): starts are counted
  // from kJitter after the interactive verification began, which leaves out
  // households decided before it but audited late, and the window those
  // counted starts were decided in is then at most `length` long again.
  constexpr std::int64_t kJitter = 500;
  const auto during = starts_between(began + kJitter, ended);
  // Before it, the batch ran at its full share: at least 3 starts in twice
  // its length (one such window once held 2 on a 2-core machine loaded by
  // parallel builds, at about a tenth of the unloaded rate).
  const auto before = starts_between(began - 2 * length, began);
  const auto [earliest, latest] = std::minmax_element(batch_starts.begin(), batch_starts.end());
  const std::string span = batch_starts.empty()
                               ? std::string("-")
                               : std::to_string(*earliest - began) + " .. " + std::to_string(*latest - began);
  INFO("batch households started: " << batch_starts.size() << ", at " << span
                                    << " ms from the interactive's start");
  INFO("interactive verification " << length << " ms; batch households started in twice that time before: " << before
                                   << ", during (from " << kJitter << " ms in): " << during);
  // And the batch had households left to start all the while: some
  // started after the interactive verification ended, so `during` counts a
  // batch held back, not one that had nothing left.
  const auto after = starts_between(ended, std::numeric_limits<std::int64_t>::max());
  INFO("batch households started after it ended: " << after);
  CHECK(before >= 3);
  CHECK(after >= 1);
  CHECK(during <= length / 1000 + 1);
}

TEST_CASE("batch: SIGKILL during a batch, restart, every household is verified exactly once",
          "[integration][batch]") {
  hfv::testing::TempDir data("hfv-batch-kill");
  Dataset d = make_dataset(1500, 0, 500000);
  d.write(data.path / "dataset.json", false);
  std::ofstream(data.path / "empty.json") << R"({"persons": {}})";
  Stack stack(configure, data.path / "empty.json");
  restart_sim(stack, data.path / "dataset.json", "sim-data");
  Client client(stack.case_system);
  register_households(stack, client, d);

  const std::string id = start_batch(client, stack.url, ndjson(d, 0, d.households.size()));
  // Kill once some households are done and many are still to do.
  const long done_at_kill = wait_for_done(client, stack.url, id, 200, std::chrono::milliseconds(5));
  REQUIRE(done_at_kill >= 200);
  {
    // Batch progress in /metrics (for operators), read with the supervisor's certificate.
    Client supervisor(stack.supervisor);
    auto m = supervisor.send("GET", stack.url + "/metrics");
    REQUIRE(m.status == 200);
    INFO(m.body.substr(0, 2000));
    CHECK(m.body.find("\nhfv_batches_running 1\n") != std::string::npos);
    CHECK(m.body.find("hfv_batch_households{state=\"total\"} 1500\n") != std::string::npos);
    CHECK(m.body.find("\nhfv_batch_members_in_flight ") != std::string::npos);
  }
  REQUIRE(stack.broker->stop(SIGKILL) == 128 + SIGKILL);
  fs::remove(stack.broker_dir / "run" / "brokerd.port");
  stack.broker = std::make_unique<Process>(
      std::vector<std::string>{BROKERD_BIN, "run", "--config", (stack.broker_dir / "brokerd.json").string()},
      stack.dir.path / "brokerd2.log");
  const std::string port = hfv::testing::wait_for_file(stack.broker_dir / "run" / "brokerd.port");
  stack.url = "https://127.0.0.1:" + port.substr(0, port.find('\n'));
  Client after(stack.case_system);

  const Watched w = wait_for(after, stack.url, id);
  REQUIRE(w.last["state"] == "done");
  CHECK(w.last["done"] == 1500);
  CHECK(w.last["failed"] == 0);
  CHECK(w.last["done"].get<long>() > done_at_kill);
  CHECK(hfv::testing::read_file(stack.dir.path / "brokerd2.log").find("batch_resumed") != std::string::npos);
  {
    // The batch endpoints' answers, recorded for the OpenAPI check.
    after.record = true;
    for (const std::string path : {"", "/changes", "/statistics"}) {
      CHECK(after.send("GET", stack.url + "/v1/batches/" + id + path).status == 200);
    }
    after.record = false;
  }

  // brokerctl: status of the finished batch, and a small review run with
  // its progress, summary and change list path.
  {
    const fs::path out = data.path / "status.txt";
    Process status({BROKERCTL_BIN, "review", "status", id, "--dir", stack.broker_dir.string()}, out);
    REQUIRE(status.stop(0, std::chrono::seconds(60)) == 0);
    CHECK(hfv::testing::read_file(out).find("\"done\": 1500") != std::string::npos);
  }
  {
    std::ofstream(data.path / "small.ndjson") << ndjson(d, 0, 12);
    const fs::path log = data.path / "run.txt";
    Process run({BROKERCTL_BIN, "review", "run", "--dir", stack.broker_dir.string(), "--households",
                 (data.path / "small.ndjson").string(), "--out", (data.path / "small-out").string(), "--poll-ms",
                 "100"},
                log);
    REQUIRE(run.stop(0, std::chrono::seconds(120)) == 0);
    const std::string text = hfv::testing::read_file(log);
    INFO(text);
    CHECK(text.find("households 12: done 12, failed 0") != std::string::npos);
    CHECK(text.find("change list: " + (data.path / "small-out" / "changes.json").string()) != std::string::npos);
    CHECK(text.find("100.0%") != std::string::npos);  // the progress bar reached the end
    CHECK(fs::exists(data.path / "small-out" / "changes.csv"));
    CHECK(fs::exists(data.path / "small-out" / "statistics.svg"));
  }

  // Refusals: a bad line is named, a case twice, nothing due.
  {
    after.record = true;
    const std::string two = ndjson(d, 0, 2);
    auto bad = after.send("POST", stack.url + "/v1/batches", two.substr(0, two.find('\n') + 1) + "{\"case_id\": 1}\n");
    CHECK(bad.status == 400);
    CHECK(json::parse(bad.body)["field"].get<std::string>().starts_with("line 2"));
    auto twice = after.send("POST", stack.url + "/v1/batches", ndjson(d, 0, 1) + ndjson(d, 0, 1));
    CHECK(twice.status == 400);
    CHECK(json::parse(twice.body)["error"] == "duplicate_household");
    auto none = after.send("POST", stack.url + "/v1/batches", R"({"due_by": "2022-12-01"})");
    CHECK(none.status == 400);
    CHECK(json::parse(none.body)["error"] == "empty_batch");
    auto unknown = after.send("GET", stack.url + "/v1/batches/bat_000000000000000000000000");
    CHECK(unknown.status == 404);
    after.record = false;
  }
  long due_done = -1;  // households the due-by batch verified before it was cancelled
  // Due by a date: the latest verification of every household in 230100;
  // cancelled at once, households in flight finish and the rest are cancelled.
  {
    after.record = true;
    const std::string due = start_batch(after, stack.url, R"({"due_by": "2099-12-31", "jurisdictions": ["230100"]})");
    auto cancel = after.send("DELETE", stack.url + "/v1/batches/" + due);
    after.record = false;
    REQUIRE(cancel.status == 200);
    CHECK(json::parse(cancel.body)["cancel_requested"] == true);
    const Watched c = wait_for(after, stack.url, due, std::chrono::seconds(120));
    CHECK(c.last["state"] == "cancelled");
    CHECK(c.last["mode"] == "due");
    CHECK(c.last["total"] == 1500 / 5);  // each 230100 household once, by its latest verification
    CHECK(c.last["cancelled"].get<long>() > 0);
    due_done = c.last["done"].get<long>();
    CHECK(c.last["done"].get<long>() + c.last["failed"].get<long>() + c.last["cancelled"].get<long>() ==
          c.last["total"].get<long>());
    after.record = true;
    auto again = after.send("POST", stack.url + "/v1/batches/" + due + "/cancel");
    after.record = false;
    CHECK(again.status == 200);
    CHECK(json::parse(again.body)["state"] == "cancelled");
  }

  // Statistics of the period (today, whatever the centre's local day):
  // every verification issued above, each household once.
  {
    const std::string period = "/v1/reviews/statistics?from=" + utc_day(-1) + "&to=" + utc_day(1);
    after.record = true;
    auto r = after.send("GET", stack.url + period);
    auto csv = after.send("GET", stack.url + period + "&format=csv");
    auto svg = after.send("GET", stack.url + period + "&format=svg&jurisdiction=2301");
    auto backwards = after.send("GET", stack.url + "/v1/reviews/statistics?from=" + utc_day(1) + "&to=" + utc_day(-1));
    auto missing = after.send("GET", stack.url + "/v1/reviews/statistics?from=" + utc_day(0));
    auto long_period = after.send("GET", stack.url + "/v1/reviews/statistics?from=2025-01-01&to=2026-12-31");
    auto bad_format = after.send("GET", stack.url + period + "&format=png");
    auto unknown = after.send("GET", stack.url + period + "&case_id=C-1");
    after.record = false;
    INFO(r.body.substr(0, 3000));
    REQUIRE(r.status == 200);
    const json stats = json::parse(r.body);
    const long verifications_today = stats["verifications"].get<long>();
    CHECK(verifications_today == 1500 + 12 + due_done);
    CHECK(stats["verifications_in_batches"] == verifications_today);
    CHECK(stats["verifications_interactive"] == 0);
    CHECK(stats["households"] == 1500);
    long by_outcome = 0;
    for (const auto& [outcome, n] : stats["by_outcome"].items()) by_outcome += n.get<long>();
    CHECK(by_outcome == 1500);
    REQUIRE(stats["by_jurisdiction"].size() == 5);
    for (const auto& place : kPlaces) CHECK(stats["by_jurisdiction"][place[0]]["households"] == 300);
    CHECK(stats["latency_measured"] == verifications_today);
    CHECK(stats["average_latency_ms"].get<long>() > 0);
    long by_month = 0;
    for (const auto& [month, m] : stats["by_month"].items()) by_month += m["verifications"].get<long>();
    CHECK(by_month == verifications_today);
    CHECK(r.body.find("C-") == std::string::npos);  // counts only
    CHECK(csv.status == 200);
    CHECK(csv.body.find("\nperiod,households,1500\n") != std::string::npos);
    CHECK(csv.body.find("\njurisdiction,310000,300\n") != std::string::npos);
    CHECK(svg.status == 200);
    CHECK(svg.body.starts_with("<svg"));
    CHECK(svg.body.find(">230100<") != std::string::npos);
    CHECK(svg.body.find(">310000<") == std::string::npos);  // only the jurisdiction asked for
    for (const auto* refused : {&backwards, &missing, &long_period, &bad_format, &unknown}) {
      CHECK(refused->status == 400);
    }
    CHECK(json::parse(backwards.body)["field"] == "to");
    CHECK(json::parse(missing.body)["field"] == "to");
    CHECK(json::parse(bad_format.body)["field"] == "format");
    CHECK(json::parse(unknown.body)["field"] == "case_id");

    // brokerctl review stats: the same figures from the command line.
    const fs::path csv_file = data.path / "period.csv";
    Process cli({BROKERCTL_BIN, "review", "stats", "--dir", stack.broker_dir.string(), "--from", utc_day(-1), "--to",
                 utc_day(1), "--format", "csv", "--out", csv_file.string()},
                data.path / "stats.txt");
    REQUIRE(cli.stop(0, std::chrono::seconds(60)) == 0);
    CHECK(hfv::testing::read_file(csv_file).find("\nperiod,households,1500\n") != std::string::npos);
    Process backwards_cli({BROKERCTL_BIN, "review", "stats", "--dir", stack.broker_dir.string(), "--from", utc_day(1),
                           "--to", utc_day(-1)},
                          data.path / "stats-bad.txt");
    CHECK(backwards_cli.stop(0, std::chrono::seconds(60)) == 2);
    CHECK(hfv::testing::read_file(data.path / "stats-bad.txt").find("HTTP 400 invalid_field") != std::string::npos);

    // A supervisor sees every caller's verifications in the supervisor's
    // jurisdictions (the demo supervisor: 2301) and nothing outside them.
    Client supervisor(stack.supervisor);
    supervisor.record = true;
    auto theirs = supervisor.send("GET", stack.url + period);
    auto outside = supervisor.send("GET", stack.url + period + "&jurisdiction=31");
    supervisor.record = false;
    REQUIRE(theirs.status == 200);
    const json seen = json::parse(theirs.body);
    CHECK(seen["households"] == 300);
    CHECK(seen["by_jurisdiction"].size() == 1);
    CHECK(seen["by_jurisdiction"].contains("230100"));
    CHECK(outside.status == 403);
    CHECK(json::parse(outside.body)["error"] == "jurisdiction_not_allowed");
  }

  // The audit: one issued report per household of the batch.
  REQUIRE(stack.broker->stop(SIGTERM) == 0);
  std::map<std::string, std::string> case_of;  // verification id -> case id, for this batch
  std::map<std::string, int> reports;          // case id -> issued reports
  long statistics_reads = 0;
  for_each_audit_record(stack, [&](const hfv::audit::StoredRecord&, const json& body) {
    const std::string action = body.value("action", "");
    if (action == "verification.request" && body.value("detail", "").find("batch=" + id) != std::string::npos) {
      case_of[body["request_id"].get<std::string>()] = body["case_id"].get<std::string>();
    }
    if (action == "statistics.read") ++statistics_reads;
    if (action == "verification.report" && case_of.contains(body.value("request_id", ""))) {
      ++reports[case_of[body["request_id"].get<std::string>()]];
    }
  });
  CHECK(reports.size() == 1500);
  // Every statistics read that read records was audited: four by the case
  // system (one through brokerctl), one by the supervisor (its read outside its jurisdictions was
  // refused, and audited as such; malformed periods read nothing).
  CHECK(statistics_reads == 5);
  int not_once = 0;
  for (const auto& [case_id, n] : reports) not_once += n == 1 ? 0 : 1;
  CHECK(not_once == 0);
}
