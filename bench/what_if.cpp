// hfv-bench-what-if: a what-if's evaluation loop over N archived decisions
// (issue 19; docs/performance.md). Fills a SQLCipher state database with N
// issued reports and their input archives: copies, with new ids, of four
// Harbin households verified with the policy in force (a bank balance far
// under, just over, and far over the savings cap, and a two-member one),
// each report signed as the daemon signs it. Then times run_what_if (the
// job's loop: pages of the store, each report's signature and archive
// digest checked, the candidate evaluated and compared) with a candidate
// that raises Harbin's standard. Prints JSON: households/s, and how long
// the fill and the count took.
//   hfv-bench-what-if POLICIES_DIR [N]
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <memory>
#include <variant>
#include <vector>

#include "bench/bench_household.hpp"
#include "broker/reviews/what_if.hpp"
#include "broker/store/sqlcipher/report_store.hpp"
#include "broker/verification/input_archive.hpp"
#include "broker/verification/report_key_history.hpp"
#include "broker/verification/report_signature.hpp"
#include "common/id_number.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/keys.hpp"
#include "policies/engine.hpp"
#include "storage/sqlcipher_db.hpp"

using namespace hfv;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

policies::HouseholdInput household(int members, std::int64_t balance_yuan) {
  std::vector<policies::MemberFacts> facts(static_cast<std::size_t>(members));
  for (std::size_t m = 0; m < facts.size(); ++m) {
    facts[m].birth_date = *Date::parse("1960-05-01");
    facts[m].relation = m == 0 ? "applicant" : "spouse";
  }
  return bench::household_of(std::move(facts), [&](std::size_t, SourceResult& r) {
    if (r.source != Source::kBank) return;
    r.status = SourceStatus::kOk;
    r.records.holdings.push_back({"中国工商银行", "6222***********0010", Money::from_yuan(balance_yuan), std::nullopt});
  });
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <class T>
T take(Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "hfv-bench-what-if: %s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return std::move(*r);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hfv-bench-what-if POLICIES_DIR [N]\n");
    return 2;
  }
  const fs::path policies_dir = argv[1];
  const long n = argc > 2 ? std::stol(argv[2]) : 100000;
  const auto policy = take(policies::load_policy_file(policies_dir / "230100.json"), "policy");
  const fs::path dir = fs::temp_directory_path() / ("hfv-bench-what-if-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path db_path = dir / "state.db";
  const crypto::SecretKey key = crypto::SecretKey::random();
  std::array<std::uint8_t, 32> seed{};
  seed[0] = 7;
  const auto signer = crypto::Ed25519Signer::from_seed(seed);
  const broker::ReportKeyHistory history = broker::initial_report_key_history(signer.public_key());

  // The templates: decided now with the policy in force, as the daemon would.
  struct Template {
    policies::HouseholdInput input;
    json decision;
  };
  std::vector<Template> templates;
  for (auto [members, balance] : {std::pair{1, 3000L}, std::pair{1, 22000L}, std::pair{1, 30000L}, std::pair{2, 6000L}}) {
    Template t{household(members, balance), {}};
    t.decision = policies::decision_json(policies::evaluate(policy, t.input));
    templates.push_back(std::move(t));
  }

  // The store's schema, then one transaction of N copies (the daemon
  // writes one per report; a bench fill need not wait for N fsyncs).
  take(broker::SqlcipherReportStore::open(db_path, key), "store").reset();
  const auto fill_start = std::chrono::steady_clock::now();
  {
    auto db = take(storage::SqlcipherDb::open(db_path, key, false), "state database");
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    (void)db->exec("BEGIN;");
    (void)db->run("INSERT INTO policy_versions (version, jurisdiction, content) VALUES (?,?,?);",
                  {policy.version(), policy.jurisdiction(), policy.content()});
    for (long i = 0; i < n; ++i) {
      char id[32];
      std::snprintf(id, sizeof id, "ver_%024lx", static_cast<unsigned long>(i));
      const Template& t = templates[static_cast<std::size_t>(i) % templates.size()];
      const std::string text = broker::archive_text(id, "230100", policy, t.input);
      json report = {{"verification_id", id},
                     {"case_id", "B-" + std::to_string(i)},
                     {"programme", "dibao"},
                     {"jurisdiction", "230100"},
                     {"area", "urban"},
                     {"reference_date", "2024-11-01"},
                     {"generated_at", "2026-12-05T08:00:00.000Z"}};
      report.update(t.decision);
      json sources = json::array();
      for (std::size_t m = 0; m < t.input.members.size(); ++m) {
        sources.push_back({{"member", mask_id_number("230102196005010010")}, {"member_index", m}, {"source", "bank"},
                           {"status", "ok"}});
      }
      report["sources"] = sources;
      report["inputs_sha256"] = broker::inputs_sha256(text);
      broker::sign_report(report, signer);
      if (!db->run("INSERT INTO verifications (id, principal, idempotency_key, request_sha256, household_key,"
                   " state, http_status, response, created_unix) VALUES (?,?,?,?,?,'done',200,?,?);",
                   {std::string(id), std::string("bench"), std::string(), std::string(64, '0'), std::string(64, '1'),
                    report.dump(), now})
               .ok() ||
          !db->run("INSERT INTO verification_inputs (id, inputs, inputs_sha256, policy_version) VALUES (?,?,?,?);",
                   {std::string(id), text, broker::inputs_sha256(text), policy.version()})
               .ok()) {
        std::fprintf(stderr, "hfv-bench-what-if: fill failed\n");
        return 1;
      }
    }
    if (!db->exec("COMMIT;").ok()) return 1;
  }
  const double fill_s = seconds_since(fill_start);

  auto store = take(broker::SqlcipherReportStore::open(db_path, key), "store");
  json candidate = json::parse(policy.content());
  for (auto& entry : candidate["parameters"]["dibao_standard_monthly"]["urban"]) {
    if (entry["from"] == "2024-01-01") entry["value"] = "960.00";
  }
  const hfv::Date today = hfv::Date::today_utc();
  const json body = {{"policy", candidate}, {"from", today.add_days(-1).to_string()}, {"to", today.add_days(1).to_string()}};
  auto parsed = broker::parse_what_if("230100", body.dump());
  if (!std::holds_alternative<broker::WhatIfRequest>(parsed)) {
    std::fprintf(stderr, "hfv-bench-what-if: candidate refused: %s\n", std::get<broker::WhatIfRefusal>(parsed).message.c_str());
    return 1;
  }
  auto request = std::make_shared<const broker::WhatIfRequest>(std::get<broker::WhatIfRequest>(std::move(parsed)));
  const std::int64_t from_unix = request->from.days_since_epoch() * 86400;
  const std::int64_t to_unix = (request->to.days_since_epoch() + 1) * 86400;

  const auto count_start = std::chrono::steady_clock::now();
  const std::int64_t total = take(store->count_archived(from_unix, to_unix), "count");
  const double count_s = seconds_since(count_start);
  broker::WhatIfTally tally(request, &history);
  const auto run_start = std::chrono::steady_clock::now();
  const Status ran = broker::run_what_if(*store, *request, tally, 500, [](std::int64_t) { return true; });
  const double run_s = seconds_since(run_start);
  if (!ran) {
    std::fprintf(stderr, "hfv-bench-what-if: %s\n", ran.error().message.c_str());
    return 1;
  }
  const json result = tally.result();
  store.reset();
  fs::remove_all(dir);
  if (tally.households() != n || total != n || !result["errors"].empty()) {
    std::fprintf(stderr, "hfv-bench-what-if: evaluated %lld of %ld (errors %zu)\n",
                 static_cast<long long>(tally.households()), n, result["errors"].size());
    return 1;
  }
  std::printf("%s\n", json{{"archived_decisions", n},
                           {"households_per_s", static_cast<double>(n) / run_s},
                           {"evaluation_s", run_s},
                           {"changed", result["changed"].size()},
                           {"count_s", count_s},
                           {"fill_s", fill_s}}
                          .dump()
                          .c_str());
  return 0;
}
