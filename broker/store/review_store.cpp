#include "broker/store/review_store.hpp"

#include <nlohmann/json.hpp>

namespace hfv::broker {

using nlohmann::json;

std::string_view state_name(BatchState state) {
  switch (state) {
    case BatchState::kRunning: return "running";
    case BatchState::kCancelled: return "cancelled";
    case BatchState::kDone: return "done";
  }
  return "unknown";
}

std::string_view mode_name(BatchMode mode) {
  switch (mode) {
    case BatchMode::kHouseholds: return "households";
    case BatchMode::kDue: return "due";
  }
  return "unknown";
}

std::string_view state_name(ItemState state) {
  switch (state) {
    case ItemState::kPending: return "pending";
    case ItemState::kRunning: return "running";
    case ItemState::kDone: return "done";
    case ItemState::kFailed: return "failed";
    case ItemState::kCancelled: return "cancelled";
  }
  return "unknown";
}

std::optional<BatchState> parse_batch_state(std::string_view name) {
  for (auto s : {BatchState::kRunning, BatchState::kCancelled, BatchState::kDone}) {
    if (state_name(s) == name) return s;
  }
  return std::nullopt;
}

std::optional<BatchMode> parse_batch_mode(std::string_view name) {
  for (auto m : {BatchMode::kHouseholds, BatchMode::kDue}) {
    if (mode_name(m) == name) return m;
  }
  return std::nullopt;
}

std::optional<ItemState> parse_item_state(std::string_view name) {
  for (auto s : {ItemState::kPending, ItemState::kRunning, ItemState::kDone, ItemState::kFailed,
                 ItemState::kCancelled}) {
    if (state_name(s) == name) return s;
  }
  return std::nullopt;
}

Result<ItemCounts> count_items(const std::vector<std::pair<std::string, std::int64_t>>& rows) {
  ItemCounts counts;
  for (const auto& [name, n] : rows) {
    const auto state = parse_item_state(name);
    if (!state || *state == ItemState::kRunning) return make_error("corrupt_state", "a batch item's state is unknown");
    (*state == ItemState::kPending     ? counts.pending
     : *state == ItemState::kDone      ? counts.done
     : *state == ItemState::kFailed    ? counts.failed
                                       : counts.cancelled) += n;
  }
  return counts;
}

Result<bool> report_issued(const audit::AuditLog& audit, const std::string& case_id,
                           const std::string& verification_id) {
  // The report of a verification, if it was issued, is audited under the
  // household's case id.
  audit::AuditQuery q;
  q.case_id = case_id;
  q.action = "verification.report";
  q.limit = 1000;
  bool issued = false;
  auto scanned = audit.scan(q, [&](const audit::StoredRecord& row) {
    const json body = json::parse(row.body, nullptr, false);
    issued = body.is_object() && body.value("request_id", "") == verification_id &&
             body.value("status", "") == "issued";
    return !issued;
  });
  if (!scanned) return scanned.error();
  return issued;
}

Result<std::optional<ReviewRecord>> settle_abandoned(ReviewStore& reviews, ReportStore& reports,
                                                     const audit::AuditLog& audit,
                                                     const std::string& verification_id) {
  // The review record is written (pending) before the report is issued: no
  // record, no report.
  auto record = reviews.find(verification_id);
  if (!record) return record.error();
  if (*record) {
    auto issued = report_issued(audit, (*record)->case_id, verification_id);
    if (!issued) return issued.error();
    if (*issued) {
      if (auto s = reviews.mark_issued(verification_id); !s) return s.error();
      return record;
    }
  }
  if (auto s = reports.interrupt(verification_id); !s) return s.error();
  if (auto s = reviews.drop_pending(verification_id); !s) return s.error();
  return std::optional<ReviewRecord>();
}

Result<SettledReviews> settle_pending_reviews(ReviewStore& reviews, const audit::AuditLog& audit) {
  auto pending = reviews.pending();
  if (!pending) return pending.error();
  SettledReviews settled;
  for (const auto& r : *pending) {
    auto issued = report_issued(audit, r.case_id, r.verification_id);
    if (!issued) return issued.error();
    auto s = *issued ? reviews.mark_issued(r.verification_id) : reviews.drop_pending(r.verification_id);
    if (!s) return s.error();
    ++(*issued ? settled.issued : settled.dropped);
  }
  return settled;
}

}  // namespace hfv::broker
