#include "broker/cli/batch_cli.hpp"

#include "broker/cli/cli_http.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace hfv::broker {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using Answer = CliAnswer;

struct Endpoint {
  std::string url, ca, cert, key, operator_id;
};

// Review calls may wait on a busy daemon: a longer timeout than status.
Answer call(const Endpoint& e, const std::string& method, const std::string& path, const std::string& body = "",
            const std::string& content_type = "application/json") {
  CliRequest r;
  r.method = method;
  r.url = e.url + path;
  r.body = body;
  r.headers = {"Content-Type: " + content_type, "X-Operator-Id: " + e.operator_id};
  r.ca_file = e.ca;
  r.cert_file = e.cert;
  r.key_file = e.key;
  r.timeout_seconds = 120;
  return cli_http(r);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int fail(const std::string& what) {
  (void)std::fprintf(stderr, "brokerctl: %s\n", what.c_str());
  return 2;
}

std::string api_error(const Answer& a) {
  if (a.status == 0) return "cannot reach the broker: " + a.error;
  const json j = json::parse(a.body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    return "HTTP " + std::to_string(a.status) + " " + j.value("error", "") + ": " + j.value("message", "") +
           (j.contains("field") ? " (" + j.value("field", "") + ")" : "");
  }
  return "HTTP " + std::to_string(a.status);
}

Endpoint endpoint_of(const ReviewCli& cli) {
  Endpoint e{cli.url, cli.ca, cli.cert, cli.key, cli.operator_id};
  if (!cli.dir.empty()) {
    const fs::path d(cli.dir);
    if (e.url.empty()) {
      std::string port = read_text((d / "run" / "brokerd.port").string());
      port = port.substr(0, port.find('\n'));
      e.url = "https://127.0.0.1:" + port;
    }
    if (e.ca.empty()) e.ca = (d / "pki" / "ca.pem").string();
    if (e.cert.empty()) e.cert = (d / "pki" / "demo-case-system.pem").string();
    if (e.key.empty()) e.key = (d / "pki" / "demo-case-system.key").string();
  }
  return e;
}

// One line: [#########.........]  45.0%  4500/10000  failed 3  250.1/s  ETA 22s
std::string bar(const json& p) {
  const double total = std::max<double>(1, p.value("total", 0.0));
  const double finished = p.value("done", 0.0) + p.value("failed", 0.0) + p.value("cancelled", 0.0);
  const int width = 30;
  const int filled = static_cast<int>(width * finished / total);
  std::string line = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                     std::string(static_cast<std::size_t>(width - filled), '.') + "]";
  char buf[200];
  std::string eta = "-";
  if (p.contains("eta_s") && p["eta_s"].is_number()) eta = std::to_string(p["eta_s"].get<long>()) + "s";
  (void)std::snprintf(buf, sizeof buf, " %5.1f%%  %ld/%ld  failed %ld  %.1f/s  ETA %s",
                      100.0 * finished / total, static_cast<long>(finished),
                      static_cast<long>(total), p.value("failed", 0L), p.value("rate_per_s", 0.0),
                      eta.c_str());
  return line + buf;
}

void summary(const json& p, const json& stats, const std::string& changes_path) {
  std::printf("batch %s: %s\n", p.value("batch_id", "").c_str(), p.value("state", "").c_str());
  std::printf("  households %ld: done %ld, failed %ld, cancelled %ld\n", p.value("total", 0L), p.value("done", 0L),
              p.value("failed", 0L), p.value("cancelled", 0L));
  if (stats.is_object()) {
    std::string outcomes;
    for (const auto& [k, v] : stats["by_outcome"].items()) outcomes += " " + k + " " + std::to_string(v.get<long>());
    std::printf("  outcomes:%s\n", outcomes.empty() ? " -" : outcomes.c_str());
    std::string failed;
    for (const auto& [k, v] : stats["failed_sources_by_agency"].items()) {
      failed += " " + k + " " + std::to_string(v.get<long>());
    }
    std::printf("  failed sources:%s\n", failed.empty() ? " none" : failed.c_str());
    std::printf("  average latency %ld ms\n", stats.value("average_latency_ms", 0L));
  }
  std::printf("  households with changes: %ld\n", p.value("households_with_changes", 0L));
  if (!changes_path.empty()) std::printf("  change list: %s\n", changes_path.c_str());
}

// Polls until the batch is no longer running, drawing the bar.
int follow(const Endpoint& e, const std::string& id, const ReviewCli& cli, json& last) {
  const bool tty = isatty(STDERR_FILENO) == 1;
  auto last_line = std::chrono::steady_clock::now() - std::chrono::hours(1);
  int failures = 0;
  for (;;) {
    const Answer a = call(e, "GET", "/v1/batches/" + id);
    if (a.status != 200) {
      if (++failures > 20) return fail(api_error(a));
      std::this_thread::sleep_for(std::chrono::milliseconds(cli.poll_ms));
      continue;
    }
    failures = 0;
    last = json::parse(a.body, nullptr, false);
    if (!last.is_object()) return fail("unexpected answer from the broker");
    const bool running = last.value("state", "") == "running";
    if (!cli.no_progress) {
      const auto now = std::chrono::steady_clock::now();
      if (tty) {
        (void)std::fprintf(stderr, "\r%s", bar(last).c_str());
        if (!running) (void)std::fprintf(stderr, "\n");
      } else if (!running || now - last_line > std::chrono::seconds(2)) {
        (void)std::fprintf(stderr, "%s\n", bar(last).c_str());
        last_line = now;
      }
      (void)std::fflush(stderr);
    }
    if (!running) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(cli.poll_ms));
  }
}

// Saves the change list (JSON, CSV) and statistics (JSON, CSV, SVG) under
// `dir`; returns the change list's path (JSON), or "" on failure.
std::string save_outputs(const Endpoint& e, const std::string& id, const fs::path& dir, json& stats) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return "";
  const std::pair<const char*, const char*> files[] = {{"/changes", "changes.json"},
                                                       {"/changes?format=csv", "changes.csv"},
                                                       {"/statistics", "statistics.json"},
                                                       {"/statistics?format=csv", "statistics.csv"},
                                                       {"/statistics?format=svg", "statistics.svg"}};
  for (const auto& [path, name] : files) {
    const Answer a = call(e, "GET", "/v1/batches/" + id + path);
    if (a.status != 200) return "";
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out << a.body;
    if (!out) return "";
    fs::permissions(dir / name, fs::perms::owner_read | fs::perms::owner_write, ec);
    if (std::string(name) == "statistics.json") stats = json::parse(a.body, nullptr, false);
  }
  return (dir / "changes.json").string();
}

int finish(const Endpoint& e, const std::string& id, const ReviewCli& cli, const json& progress) {
  json stats;
  const fs::path dir = cli.out_dir.empty() ? fs::path("review-" + id) : fs::path(cli.out_dir);
  const std::string changes = save_outputs(e, id, dir, stats);
  if (changes.empty()) {
    (void)std::fprintf(stderr, "brokerctl: could not save the change list under %s\n", dir.c_str());
  }
  summary(progress, stats, changes);
  const std::string state = progress.value("state", "");
  return state == "done" ? 0 : (state == "cancelled" ? 3 : 1);
}

int review_run(const ReviewCli& cli) {
  const Endpoint e = endpoint_of(cli);
  if (e.url.empty()) return fail("--url or --dir is required");
  std::string body;
  std::string content_type = "application/x-ndjson";
  if (!cli.households_file.empty()) {
    if (!fs::exists(cli.households_file)) return fail("cannot read " + cli.households_file);
    body = read_text(cli.households_file);
  } else {
    json spec = {{"due_by", cli.due_by}, {"jurisdictions", cli.jurisdictions}};
    body = spec.dump();
    content_type = "application/json";
  }
  const Answer created = call(e, "POST", "/v1/batches", body, content_type);
  if (created.status != 202) return fail("batch not started: " + api_error(created));
  const json j = json::parse(created.body, nullptr, false);
  const std::string id = j.value("batch_id", "");
  (void)std::fprintf(
      stderr,
      "batch %s started: %ld households (it runs in the broker; Ctrl-C only stops watching)\n",
      id.c_str(), j.value("total", 0L));
  json progress;
  if (int rc = follow(e, id, cli, progress); rc != 0) return rc;
  return finish(e, id, cli, progress);
}

int review_status(const ReviewCli& cli) {
  const Endpoint e = endpoint_of(cli);
  if (e.url.empty()) return fail("--url or --dir is required");
  if (cli.watch) {
    json progress;
    if (int rc = follow(e, cli.batch_id, cli, progress); rc != 0) return rc;
    return finish(e, cli.batch_id, cli, progress);
  }
  const Answer a = call(e, "GET", "/v1/batches/" + cli.batch_id);
  if (a.status != 200) return fail(api_error(a));
  const json p = json::parse(a.body, nullptr, false);
  std::printf("%s\n", bar(p).c_str());
  std::printf("%s\n", p.dump(2).c_str());
  return 0;
}

int review_stats(const ReviewCli& cli) {
  const Endpoint e = endpoint_of(cli);
  if (e.url.empty()) return fail("--url or --dir is required");
  // Dates and division codes only: nothing here needs escaping in a URL.
  for (const std::string* v : {&cli.from, &cli.to, &cli.stats_jurisdiction}) {
    if (v->find_first_not_of("0123456789-") != std::string::npos) {
      return fail("--from and --to are dates YYYY-MM-DD, --jurisdiction a division code: got \"" + *v + "\"");
    }
  }
  std::string path = "/v1/reviews/statistics?from=" + cli.from + "&to=" + cli.to + "&format=" + cli.format;
  if (!cli.stats_jurisdiction.empty()) path += "&jurisdiction=" + cli.stats_jurisdiction;
  const Answer a = call(e, "GET", path);
  if (a.status != 200) return fail(api_error(a));
  std::string text = a.body;
  if (cli.format == "json") {
    const json j = json::parse(a.body, nullptr, false);
    if (!j.is_object()) return fail("unexpected answer from the broker");
    text = j.dump(2) + "\n";
  }
  if (cli.stats_out.empty()) {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
      return fail("cannot write the statistics to standard output");
    }
    return 0;
  }
  std::ofstream out(cli.stats_out, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) return fail("cannot write " + cli.stats_out);
  (void)std::fprintf(stderr, "statistics %s to %s saved: %s\n", cli.from.c_str(), cli.to.c_str(),
                     cli.stats_out.c_str());
  return 0;
}

void endpoint_options(CLI::App* cmd, ReviewCli& cli, bool progress = true) {
  cmd->add_option("--dir", cli.dir, "a `brokerd init` directory (url and demo case-system certificate from it)");
  cmd->add_option("--url", cli.url, "broker base URL, e.g. https://127.0.0.1:8443");
  cmd->add_option("--ca", cli.ca, "CA certificate (PEM)");
  cmd->add_option("--cert", cli.cert, "case-system client certificate (PEM)");
  cmd->add_option("--key", cli.key, "its private key (PEM)");
  cmd->add_option("--operator", cli.operator_id, "X-Operator-Id sent with each request");
  if (!progress) return;
  cmd->add_option("--poll-ms", cli.poll_ms, "progress poll interval")->check(CLI::Range(50, 60000));
  cmd->add_flag("--no-progress", cli.no_progress, "no progress bar");
}

}  // namespace

void add_review_commands(CLI::App& app, ReviewCli& cli) {
  auto* review = app.add_subcommand("review", "periodic reviews in bulk (batches)");
  review->require_subcommand(1);
  cli.run = review->add_subcommand("run", "start a batch, show its progress, save the change list and statistics");
  endpoint_options(cli.run, cli);
  auto* households = cli.run->add_option("--households", cli.households_file,
                                         "NDJSON file: one verification request per line");
  auto* due = cli.run->add_option("--due-by", cli.due_by, "every household due for review by this date (YYYY-MM-DD)");
  households->excludes(due);
  cli.run->add_option("--jurisdiction", cli.jurisdictions, "with --due-by: only these division codes (repeatable)");
  cli.run->add_option("--out", cli.out_dir, "where to save the outputs (default ./review-<batch id>)");
  cli.run->callback([&cli] {
    if (cli.households_file.empty() && cli.due_by.empty()) throw CLI::RequiredError("--households or --due-by");
  });
  cli.status = review->add_subcommand("status", "show a batch's progress");
  endpoint_options(cli.status, cli);
  cli.status->add_option("batch_id", cli.batch_id, "the batch id (bat_...)")->required();
  cli.status->add_flag("--watch", cli.watch, "follow until it ends, then save outputs and summarise");
  cli.status->add_option("--out", cli.out_dir, "with --watch: where to save the outputs");
  cli.stats = review->add_subcommand("stats", "statistics of a period: households by outcome, failed sources, latency");
  endpoint_options(cli.stats, cli, /*progress=*/false);
  cli.stats->add_option("--from", cli.from, "first day (YYYY-MM-DD, the centre's local day)")->required();
  cli.stats->add_option("--to", cli.to, "last day, inclusive (at most 366 days after --from)")->required();
  cli.stats->add_option("--jurisdiction", cli.stats_jurisdiction, "only this division code prefix (2, 4 or 6 digits)");
  cli.stats->add_option("--format", cli.format, "json, csv or svg")->check(CLI::IsMember({"json", "csv", "svg"}));
  cli.stats->add_option("--out", cli.stats_out, "write to this file instead of standard output");
}

int run_review_command(const ReviewCli& cli) {
  if (cli.run != nullptr && cli.run->parsed()) return review_run(cli);
  if (cli.status != nullptr && cli.status->parsed()) return review_status(cli);
  if (cli.stats != nullptr && cli.stats->parsed()) return review_stats(cli);
  return -1;
}

}  // namespace hfv::broker
