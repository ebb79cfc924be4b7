// BatchManager, creating and reading batches: a request (NDJSON households,
// or "due by DATE") checked line by line and stored whole before it starts;
// progress, cancellation and the stored view for change lists and
// statistics. Answers are typed (BatchAnswer); api/ makes them HTTP.
#include "broker/reviews/batch.hpp"
#include "broker/reviews/batch_run.hpp"

#include <set>

#include "broker/ops/log.hpp"
#include "broker/verification/review_record.hpp"
#include "common/blocking_call.hpp"
#include "common/json_error.hpp"
#include "common/time.hpp"
#include "crypto/hash.hpp"
#include "crypto/keys.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using nlohmann::json;

namespace {

BatchRefusal invalid(std::string code, std::string message, std::string field = "") {
  return {BatchRefusal::Kind::kInvalid, std::move(code), std::move(message), std::move(field)};
}
BatchRefusal unavailable(std::string code, std::string message) {
  return {BatchRefusal::Kind::kUnavailable, std::move(code), std::move(message), ""};
}
BatchRefusal no_such_batch() { return {BatchRefusal::Kind::kNotFound, "not_found", "no such batch", ""}; }

}  // namespace

net::awaitable<BatchAnswer<json>> BatchManager::create(const Principal& principal, const std::string& operator_id,
                                                       const std::string& request_body, CallerCertificate certificate) {
  const Date today = Date::today_utc();
  auto run = std::make_shared<Run>();
  BatchRow& batch = run->batch;
  batch.id = "bat_" + crypto::to_hex(crypto::random_bytes(12));
  batch.principal = principal.name;
  batch.operator_id = operator_id;
  batch.state = BatchState::kRunning;
  batch.created_unix = unix_seconds_now();
  batch.spec = "{}";
  std::set<std::pair<std::string, std::string>> seen;
  auto add = [&](json body, const std::string& case_id, const std::string& jurisdiction) {
    body["force"] = true;  // a review always asks the agencies again
    body.erase("async");
    BatchItem item;
    item.index = static_cast<std::int64_t>(run->items.size());
    item.case_id = case_id;
    item.jurisdiction = jurisdiction;
    item.request_json = body.dump();
    run->items.push_back(std::move(item));
    run->members.push_back(Run::members_of(body));
  };

  const json whole = json::parse(request_body, nullptr, false);
  if (!whole.is_discarded() && whole.is_object() && whole.contains("due_by")) {
    batch.mode = BatchMode::kDue;
    for (const auto& [key, value] : whole.items()) {
      if (key != "due_by" && key != "jurisdictions") {
        co_return invalid("invalid_field", "unknown field", member_field(key));
      }
    }
    const auto due_by = whole["due_by"].is_string() ? Date::parse(whole["due_by"].get<std::string>()) : std::nullopt;
    if (!due_by) co_return invalid("invalid_field", "must be a date YYYY-MM-DD", "due_by");
    std::vector<std::string> places;
    if (whole.contains("jurisdictions")) {
      if (!whole["jurisdictions"].is_array()) {
        co_return invalid("invalid_field", "must be an array of division codes", "jurisdictions");
      }
      for (const auto& j : whole["jurisdictions"]) {
        if (!j.is_string() || j.get<std::string>().size() != 6 || !principal.covers(j.get<std::string>())) {
          co_return invalid("invalid_field",
                                   "each must be a 6-digit division code this caller may verify", "jurisdictions");
        }
        places.push_back(j.get<std::string>());
      }
    }
    batch.spec = json{{"due_by", due_by->to_string()}, {"jurisdictions", places}}.dump();
    auto due = co_await run_blocking(blocking_, [&] { return store_.due(principal.name, due_by->to_string(), places); });
    if (!due) co_return unavailable("state_unavailable", "review data cannot be read now");
    for (const auto& r : *due) {
      if (!principal.covers(r.jurisdiction)) continue;
      const json members = json::parse(r.members_json, nullptr, false);
      if (!members.is_array()) continue;
      json body = {{"case_id", r.case_id},
                   {"programme", r.programme},
                   {"jurisdiction", r.jurisdiction},
                   {"area", r.area},
                   {"reference_date", today.to_string()},
                   {"authorization_id", r.authorization_id},
                   {"members", members}};
      if (auto benefit = current_benefit_of(r, today)) body["current_benefit"] = std::move(*benefit);
      // The obligors declared at the last verification, again: a case worker
      // who learns of a change verifies the household singly with the new
      // figures (docs/api.md, batches).
      if (!r.obligors_json.empty()) {
        if (json obligors = json::parse(r.obligors_json, nullptr, false); obligors.is_array()) {
          body["obligors"] = std::move(obligors);
        }
      }
      add(std::move(body), r.case_id, r.jurisdiction);
    }
  } else {
    batch.mode = BatchMode::kHouseholds;
    std::size_t line_no = 0, start = 0;
    const std::string& text = request_body;
    while (start < text.size()) {
      auto end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start);
      start = end + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      const std::string where = "line " + std::to_string(line_no);
      auto parsed = parse_json_body(line);
      if (auto* e = std::get_if<FieldError>(&parsed)) {
        co_return invalid(e->code, where + ": " + e->message, where);
      }
      const json& body = std::get<json>(parsed);
      auto request_ok = parse_verification_request(body, today);
      if (auto* e = std::get_if<FieldError>(&request_ok)) {
        co_return invalid(e->code, where + ": " + e->message, where + ": " + e->field);
      }
      const auto& v = std::get<VerificationRequest>(request_ok);
      if (!principal.covers(v.jurisdiction)) {
        co_return BatchRefusal{BatchRefusal::Kind::kForbidden, "jurisdiction_not_allowed",
                               where + ": this caller may not verify households in this jurisdiction",
                               where + ": jurisdiction"};
      }
      if (!seen.insert({v.jurisdiction, v.case_id}).second) {
        co_return invalid("duplicate_household", where + ": this case appears twice in the batch",
                                 where + ": case_id");
      }
      if (run->items.size() >= config_.review.max_households) {
        co_return BatchRefusal{BatchRefusal::Kind::kTooLarge, "batch_too_large",
                               "a batch holds at most " + std::to_string(config_.review.max_households) +
                                   " households",
                               ""};
      }
      add(body, v.case_id, v.jurisdiction);
    }
  }
  if (run->items.empty()) {
    co_return invalid("empty_batch",
                             batch.mode == BatchMode::kDue ? "no household is due by that date"
                                                 : "send one verification request per line (NDJSON)");
  }
  batch.total = static_cast<std::int64_t>(run->items.size());

  audit::AuditRecord r = audit_base(&principal, operator_id, certificate);
  r.action = "batch.create";
  r.jurisdiction = run->jurisdiction();
  r.request_id = batch.id;
  r.status = "accepted";
  r.detail = "mode=" + std::string(mode_name(batch.mode)) + " households=" + std::to_string(batch.total);
  std::vector<audit::AuditRecord> rows{r};
  if (!co_await audit_.append(std::move(rows))) {
    co_return unavailable("audit_unavailable", "the audit log cannot be written, so no batch is started");
  }
  auto created = co_await run_blocking(blocking_, [&] { return store_.create_batch(batch, run->items); });
  if (!created) co_return unavailable("state_unavailable", "the batch cannot be stored now");
  if (stopping_) co_return unavailable("stopping", "the broker is stopping; the batch starts when it is back");
  launch(run);
  co_return progress_json(*run);
}

net::awaitable<BatchAnswer<json>> BatchManager::progress(const std::string& id, const Principal& principal) {
  if (auto it = runs_.find(id); it != runs_.end() && it->second->batch.principal == principal.name) {
    co_return progress_json(*it->second);
  }
  auto row = co_await run_blocking(blocking_, [&] { return store_.find_batch(id); });
  if (!row) co_return unavailable("state_unavailable", "batches cannot be read now");
  if (!*row || (*row)->principal != principal.name) co_return no_such_batch();
  auto items = co_await run_blocking(blocking_, [&] { return store_.items(id); });
  if (!items) co_return unavailable("state_unavailable", "batches cannot be read now");
  Run view;
  view.batch = **row;
  view.items = std::move(*items);
  count_items(view);
  view.finished = view.batch.state != BatchState::kRunning;
  co_return progress_json(view);
}

net::awaitable<BatchAnswer<json>> BatchManager::cancel(const std::string& id, const Principal& principal,
                                                       const std::string& operator_id, CallerCertificate certificate) {
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second->batch.principal != principal.name) {
    // Not running here: finished, unknown, or someone else's.
    co_return co_await progress(id, principal);
  }
  auto& run = *it->second;
  if (!run.cancel_requested && run.batch.state == BatchState::kRunning) {
    run.cancel_requested = true;
    capacity_freed();  // its households waiting for their turn are called off now
    audit::AuditRecord r = audit_base(&principal, operator_id, certificate);
    r.action = "batch.cancel";
    r.jurisdiction = run.jurisdiction();
    r.request_id = id;
    r.status = "requested";
    r.detail = "remaining=" + std::to_string(run.items.size() - run.done - run.failed - run.cancelled);
    std::vector<audit::AuditRecord> rows{r};
    // Stopping reads no one's data, so the cancel holds even when the log
    // cannot take its record; the operator is told in the daemon's log.
    if (!co_await audit_.append(std::move(rows))) {
      log_event(LogLevel::kError, "batch_cancel_not_audited", {{"batch_id", id}});
    }
    // Durable at once: a crash from here on must not resume the batch.
    auto saved = co_await run_blocking(blocking_, [&]() -> Status {
      if (auto s = store_.cancel_pending(id); !s) return s;
      return store_.set_batch_state(id, BatchState::kCancelled, 0);
    });
    if (!saved) log_event(LogLevel::kError, "batch_cancel_not_saved", {{"batch_id", id}});
  }
  json j = progress_json(run);
  j["cancel_requested"] = true;
  co_return j;
}

net::awaitable<BatchAnswer<BatchView>> BatchManager::view(const std::string& id, const Principal& principal) {
  if (auto it = runs_.find(id); it != runs_.end() && it->second->batch.principal == principal.name) {
    co_return BatchView{it->second->batch, it->second->items};
  }
  auto row = co_await run_blocking(blocking_, [&] { return store_.find_batch(id); });
  if (!row) co_return unavailable("state_unavailable", "batches cannot be read now");
  if (!*row || (*row)->principal != principal.name) co_return no_such_batch();
  auto stored = co_await run_blocking(blocking_, [&] { return store_.items(id); });
  if (!stored) co_return unavailable("state_unavailable", "batches cannot be read now");
  co_return BatchView{**row, std::move(*stored)};
}

}  // namespace hfv::broker
