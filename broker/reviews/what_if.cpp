#include "broker/reviews/what_if.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "broker/ops/log.hpp"
#include "broker/reviews/batch_review.hpp"
#include "broker/verification/input_archive.hpp"
#include "common/money.hpp"
#include "common/thread_name.hpp"
#include "crypto/hash.hpp"
#include "policies/engine.hpp"

namespace hfv::broker {

using nlohmann::json;

namespace {

std::int64_t benefit_fen(const json& figures) {
  if (!figures.is_object()) return 0;
  const auto it = figures.find("benefit_monthly");
  if (it == figures.end() || !it->is_string()) return 0;
  const auto money = Money::parse(it->get<std::string>());
  return money ? money->fen() : 0;
}

std::string benefit_text(const json& figures) {
  if (!figures.is_object()) return "";
  const auto it = figures.find("benefit_monthly");
  return it != figures.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

}  // namespace

WhatIfTally::WhatIfTally(std::shared_ptr<const WhatIfRequest> request, const ReportKeyHistory* keys)
    : request_(std::move(request)), keys_(keys), prefix_(division_area_prefix(request_->code)) {}

void WhatIfTally::error(const ArchivedVerification& archived, const std::string& code) {
  errors_.push_back({{"verification_id", archived.verification.id}, {"error", code}});
}

void WhatIfTally::add(const ArchivedVerification& archived) {
  const json report = json::parse(archived.verification.response, nullptr, false);
  if (!report.is_object()) {
    error(archived, "archive_tampered");
    return;
  }
  // Which households: those whose report names a jurisdiction in `code`'s
  // area (the household's place, signed in the report and archived).
  const std::string jurisdiction = report.value("jurisdiction", "");
  if (!division_within(jurisdiction, request_->code)) return;
  // The same checks as a replay (open_stored_archive): an archive or a
  // report that is not what was issued is counted and listed, never
  // evaluated.
  auto opened = open_stored_archive(archived, report, keys_);
  if (!opened) {
    error(archived, opened.error().code);
    return;
  }
  // A household decided by a more specific file than the candidate's (a
  // county's own file under a city's candidate) keeps its own rules: the
  // candidate would not replace them.
  const std::string decided_by = opened->document.value("policy_jurisdiction", "");
  if (decided_by != request_->code && division_within(decided_by, request_->code) &&
      division_area_prefix(decided_by).size() > prefix_.size()) {
    ++other_policy_;
    return;
  }
  ++households_;
  const policies::Decision decision = policies::evaluate(*request_->candidate, opened->household);
  const json evaluated = policies::decision_json(decision);
  const std::string old_outcome = report.value("outcome", "");
  const std::string new_outcome = evaluated.value("outcome", "");
  ++transitions_[old_outcome][new_outcome];
  const Date decided = Date().add_days(archived.verification.created_unix / 86400);
  Month& month = months_[decided.to_string().substr(0, 7)];
  ++month.households;
  month.before_fen += benefit_fen(report.value("figures", json::object()));
  month.after_fen += benefit_fen(evaluated.value("figures", json::object()));
  const std::string old_class = report.value("classification", "");
  const std::string new_class = evaluated.value("classification", "");
  if (old_outcome == new_outcome && old_class == new_class) return;
  Changed c;
  c.verification_id = archived.verification.id;
  c.case_id = report.value("case_id", "");
  c.jurisdiction = jurisdiction;
  c.old_outcome = old_outcome;
  c.new_outcome = new_outcome;
  c.old_classification = old_class;
  c.new_classification = new_class;
  c.old_benefit = benefit_text(report.value("figures", json::object()));
  c.new_benefit = benefit_text(evaluated.value("figures", json::object()));
  // Members as the report shows them: masked ID numbers, by member index.
  std::map<std::int64_t, std::string> members;
  for (const auto& s : report.value("sources", json::array())) {
    if (s.is_object() && s.contains("member_index") && s["member_index"].is_number_integer()) {
      members.emplace(s["member_index"].get<std::int64_t>(), s.value("member", ""));
    }
  }
  for (auto& [index, masked] : members) c.members.push_back(std::move(masked));
  // The rules whose result changed, by id (the replay's comparison).
  std::set<std::string> seen;
  const json& old_rules = report.value("rules", json::array());
  const json& new_rules = evaluated["rules"];
  for (const auto& d : decision_differences(report, evaluated)) {
    const std::string field = d.value("field", "");
    if (!field.starts_with("rules[")) continue;
    if (!field.ends_with("].result") && !field.ends_with("]")) continue;
    const std::size_t i = std::stoul(field.substr(6));
    const json& rule = i < new_rules.size() ? new_rules[i] : (i < old_rules.size() ? old_rules[i] : json());
    const std::string id = rule.is_object() ? rule.value("rule", "") : "";
    if (!id.empty() && seen.insert(id).second) c.rules.push_back(id);
  }
  changed_.push_back(std::move(c));
}

json WhatIfTally::result() const {
  json transitions = json::object();
  for (const auto& [from, row] : transitions_) {
    for (const auto& [to, n] : row) transitions[from][to] = n;
  }
  json months = json::array();
  for (const auto& [month, m] : months_) {
    months.push_back({{"month", month},
                      {"households", m.households},
                      {"before", Money::from_fen(m.before_fen).to_string()},
                      {"after", Money::from_fen(m.after_fen).to_string()}});
  }
  json changed = json::array();
  for (const auto& c : changed_) {
    changed.push_back({{"verification_id", c.verification_id},
                       {"case_id", c.case_id},
                       {"jurisdiction", c.jurisdiction},
                       {"members", c.members},
                       {"old_outcome", c.old_outcome},
                       {"new_outcome", c.new_outcome},
                       {"old_classification", c.old_classification},
                       {"new_classification", c.new_classification},
                       {"old_benefit_monthly", c.old_benefit},
                       {"new_benefit_monthly", c.new_benefit},
                       {"rules_changed", c.rules}});
  }
  return {{"code", request_->code},
          {"period", {{"from", request_->from.to_string()}, {"to", request_->to.to_string()}}},
          {"candidate_sha256", request_->candidate_sha256},
          {"candidate_version", request_->candidate->version()},
          {"households_evaluated", households_},
          {"decided_by_other_policy", other_policy_},
          {"errors", errors_},
          {"transitions", transitions},
          {"benefit_per_month", months},
          {"changed", changed}};
}

std::string WhatIfTally::changed_csv() const {
  std::string out =
      "case_id,verification_id,jurisdiction,members,old_outcome,new_outcome,old_classification,"
      "new_classification,old_benefit_monthly,new_benefit_monthly,rules_changed\n";
  for (const auto& c : changed_) {
    for (const std::string* cell : {&c.case_id, &c.verification_id, &c.jurisdiction}) {
      out += csv_text_cell(*cell) + ",";
    }
    out += csv_text_cell(join(c.members, " ")) + ",";
    for (const std::string* cell : {&c.old_outcome, &c.new_outcome, &c.old_classification, &c.new_classification,
                                    &c.old_benefit, &c.new_benefit}) {
      out += csv_text_cell(*cell) + ",";
    }
    out += csv_text_cell(join(c.rules, " ")) + "\n";
  }
  return out;
}

Status run_what_if(ReportStore& store, const WhatIfRequest& request, WhatIfTally& tally, std::size_t page,
                   const std::function<bool(std::int64_t)>& on_page) {
  const std::int64_t from_unix = request.from.days_since_epoch() * 86400;
  const std::int64_t to_unix = (request.to.days_since_epoch() + 1) * 86400;
  std::string after;
  std::int64_t scanned = 0;
  while (true) {
    auto rows = store.archived_page(from_unix, to_unix, after, page);
    if (!rows) return rows.error();
    for (const auto& row : *rows) tally.add(row);
    scanned += static_cast<std::int64_t>(rows->size());
    if (!rows->empty()) after = rows->back().verification.id;
    if (!on_page(scanned) || rows->size() < page) return {};
  }
}

struct WhatIfJobs::Job {
  std::string id;
  std::string principal;
  std::shared_ptr<const WhatIfRequest> request;
  audit::AuditRecord ended;
  std::thread thread;
  // Under WhatIfJobs::mutex_:
  std::string state = "reserved";  // reserved | running | done | failed | stopped
  std::int64_t evaluated = 0;
  std::int64_t total = 0;
  std::string error;
  json result;
  std::string csv;
  bool thread_done = false;
};

WhatIfJobs::WhatIfJobs(ReportStore& store, audit::AuditLog& audit, const ReportKeyHistory* keys, Settings settings)
    : store_(store), audit_(audit), keys_(keys), settings_(settings) {}

WhatIfJobs::~WhatIfJobs() {
  stop();
  std::vector<std::shared_ptr<Job>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, job] : jobs_) all.push_back(job);
  }
  for (auto& job : all) {
    if (job->thread.joinable()) job->thread.join();
  }
}

std::optional<std::string> WhatIfJobs::reserve() {
  std::lock_guard lock(mutex_);
  std::size_t busy = 0;
  for (const auto& [id, job] : jobs_) busy += job->state == "reserved" || job->state == "running" ? 1 : 0;
  if (busy >= settings_.max_running || stopping_) return std::nullopt;
  auto job = std::make_shared<Job>();
  job->id = "wif_" + crypto::to_hex(crypto::random_bytes(12));
  jobs_.emplace(job->id, job);
  return job->id;
}

void WhatIfJobs::release(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = jobs_.find(id);
  if (it != jobs_.end() && it->second->state == "reserved") jobs_.erase(it);
}

void WhatIfJobs::start(const std::string& id, const std::string& principal, WhatIfRequest request,
                       audit::AuditRecord ended) {
  std::lock_guard lock(mutex_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  const std::shared_ptr<Job> job = it->second;
  job->principal = principal;
  job->request = std::make_shared<const WhatIfRequest>(std::move(request));
  job->ended = std::move(ended);
  job->state = "running";
  job->thread = std::thread([this, job] {
    name_this_thread("hfv-what-if");
    run(job);
  });
  // Finished jobs beyond max_kept go, oldest first (their threads have
  // ended or are ending: joining is immediate).
  while (finished_order_.size() > settings_.max_kept) {
    const auto old = jobs_.find(finished_order_.front());
    finished_order_.erase(finished_order_.begin());
    if (old == jobs_.end()) continue;
    if (old->second->thread.joinable()) old->second->thread.join();
    jobs_.erase(old);
  }
}

void WhatIfJobs::run(const std::shared_ptr<Job>& job) {
  WhatIfTally tally(job->request, keys_);
  const auto& request = *job->request;
  const std::int64_t from_unix = request.from.days_since_epoch() * 86400;
  const std::int64_t to_unix = (request.to.days_since_epoch() + 1) * 86400;
  Status status = [&]() -> Status {
    auto total = store_.count_archived(from_unix, to_unix);
    if (!total) return total.error();
    {
      std::lock_guard lock(mutex_);
      job->total = *total;
    }
    return run_what_if(store_, request, tally, settings_.page, [&](std::int64_t scanned) {
      std::lock_guard lock(mutex_);
      job->evaluated = scanned;
      job->total = std::max(job->total, scanned);
      return !stopping_.load();
    });
  }();
  json result = tally.result();
  std::string csv = tally.changed_csv();
  const std::string state = !status ? "failed" : stopping_ ? "stopped" : "done";
  // The end, audited: how many were evaluated, changed, in error.
  audit::AuditRecord ended = job->ended;
  ended.status = state;
  ended.detail = "job=" + job->id + " households=" + std::to_string(tally.households()) +
                 " changed=" + std::to_string(result["changed"].size()) +
                 " errors=" + std::to_string(result["errors"].size()) +
                 (status ? "" : " error=" + status.error().code);
  if (!audit_.append_blocking({ended})) {
    log_event(LogLevel::kError, "audit_failed", {{"what_if", job->id}, {"action", "policy.what_if"}});
  }
  log_event(status ? LogLevel::kInfo : LogLevel::kError, "what_if_ended",
            {{"what_if", job->id}, {"state", state}, {"households", tally.households()}});
  std::lock_guard lock(mutex_);
  job->state = state;
  if (!status) job->error = status.error().code;
  if (status) {
    job->result = std::move(result);
    job->csv = std::move(csv);
  }
  job->thread_done = true;
  finished_order_.push_back(job->id);
}

std::optional<WhatIfView> WhatIfJobs::view(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second->state == "reserved") return std::nullopt;
  const Job& job = *it->second;
  WhatIfView v;
  v.principal = job.principal;
  v.code = job.request->code;
  v.body = {{"job", job.id},
            {"state", job.state},
            {"code", job.request->code},
            {"period", {{"from", job.request->from.to_string()}, {"to", job.request->to.to_string()}}},
            {"candidate_sha256", job.request->candidate_sha256},
            {"evaluated", job.evaluated},
            {"total", job.total}};
  if (!job.error.empty()) v.body["error"] = job.error;
  if (job.state == "done") {
    v.body["result"] = job.result;
    v.csv = job.csv;
  }
  return v;
}

std::size_t WhatIfJobs::running() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [id, job] : jobs_) n += job->state == "running" ? 1 : 0;
  return n;
}

void WhatIfJobs::stop() { stopping_ = true; }

}  // namespace hfv::broker
