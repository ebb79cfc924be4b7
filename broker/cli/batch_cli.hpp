// `brokerctl review run|status|stats`: periodic reviews from the command line,
// over the broker's HTTPS API with the case system's client certificate.
// `run` submits a batch (an NDJSON file of verification requests, or
// "households due by DATE"), shows a live progress bar until it finishes,
// saves the change list and statistics, and prints a summary with the
// change list's path. `status` shows one batch (optionally until it ends).
// `stats` fetches the statistics of a period (GET /v1/reviews/statistics).
// Kept apart from brokerctl.cpp so other commands can grow there freely.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace hfv::broker {

struct ReviewCli {
  CLI::App* run = nullptr;
  CLI::App* status = nullptr;
  CLI::App* stats = nullptr;
  std::string dir;  // a `brokerd init` directory: url and demo-case-system certificate from it
  std::string url, ca, cert, key, operator_id = "brokerctl";
  std::string households_file, due_by, out_dir, batch_id;
  std::vector<std::string> jurisdictions;
  std::string from, to, stats_jurisdiction, format = "json", stats_out;  // review stats
  int poll_ms = 500;
  bool watch = false;
  bool no_progress = false;
};

// Adds `review run|status|stats` to `app`; options land in `cli`.
void add_review_commands(CLI::App& app, ReviewCli& cli);
// Runs the parsed review command; returns -1 when none was parsed.
int run_review_command(const ReviewCli& cli);

}  // namespace hfv::broker
