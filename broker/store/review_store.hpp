// ReviewStore: what periodic reviews need, in its own database:
//  - one ReviewRecord per completed verification (household, place,
//    programme, outcome, classification, key figures in fen, holdings seen,
//    failed sources, review cycle and next_review), so a review can find the
//    households due and compare a re-verification with the previous one;
//  - durable batch state (batches and their items), so a batch survives a
//    crash: items are the unit of work and each remembers its attempt count
//    (the attempt is part of the Idempotency-Key used for it, see batch.hpp).
// The household's members, with their ID numbers, are kept here because a
// due-by review must ask the agencies again; they never leave this database
// except into a verification request.
//
// A household is identified by (principal, jurisdiction, case_id): the case
// a case system keeps for it. "Previous verification" means the latest
// record of the same household written before.
//
// Several brokers may share one store (the postgresql backend): a batch's
// items are then claimed by the node that verifies them, for a lease it
// renews while it works, so a node's death releases its claims to the
// others (claim_items below). Pending review records belong to the node
// that wrote them (pending() lists only this node's).
//
// An interface: the embedded backend is broker/store/sqlcipher/, the cluster
// backend broker/store/postgresql/. Calls block
// on disk or network: call them off the I/O threads. Implementations are
// internally locked.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/audit_log.hpp"
#include "broker/store/report_store.hpp"
#include "common/blocking_call.hpp"
#include "common/result.hpp"

namespace hfv::broker {

struct ReviewRecord {
  std::int64_t seq = 0;  // assigned by the store, increasing
  std::string verification_id;
  std::string principal;
  std::string case_id;
  std::string jurisdiction;
  std::string programme;
  std::string area;
  std::string reference_date;
  std::string authorization_id;
  std::string members_json;    // the request's members array (raw ID numbers: stays in this DB)
  std::string outcome;         // eligible | ineligible | indeterminate
  std::string classification;  // dibao | marginal | gradual_exit | none | ...
  std::optional<std::int64_t> income_per_capita_fen;
  std::optional<std::int64_t> assets_per_capita_fen;
  std::optional<std::int64_t> benefit_fen;
  std::vector<std::string> real_estate;     // masked certificate numbers seen
  std::vector<std::string> vehicles;        // masked plates
  std::vector<std::string> businesses;      // masked USCCs
  std::vector<std::string> failed_sources;  // source names that failed or timed out (any member)
  std::int64_t review_months = 0;
  std::string review_category;
  std::string next_review;  // YYYY-MM-DD, empty if the policy gave none
  // For an eligible dibao household classed dibao or gradual_exit: the date
  // it has received dibao since (the request's current_benefit.since, else
  // this record's reference date), so consecutive dibao records carry the
  // earliest one forward. Empty otherwise, and in records written before it
  // was kept.
  std::string benefit_since;
  std::string gradual_exit_until;  // YYYY-MM-DD for a gradual_exit household, else empty
  // The request's `obligors` array as declared (docs/api.md), which a batch
  // review sends again; empty when the request declared none (not even []).
  std::string obligors_json;
  std::string batch_id;     // empty for interactive verifications
  std::int64_t completed_unix = 0;
  // From the first agency query to the decision (agencies and rules), for
  // the periodic statistics; absent in records written before it was kept.
  std::optional<std::int64_t> latency_ms;
};

// A batch: running until every item is done or failed, or it is cancelled.
enum class BatchState { kRunning, kCancelled, kDone };
// How its households were given: a list in the request, or "due by DATE".
enum class BatchMode { kHouseholds, kDue };
// An item (one household): pending until verified; kRunning exists only in
// memory while it is verified (the store keeps it pending, so a crash
// retries it).
enum class ItemState { kPending, kRunning, kDone, kFailed, kCancelled };
std::string_view state_name(BatchState state);
std::string_view mode_name(BatchMode mode);
std::string_view state_name(ItemState state);
std::optional<BatchState> parse_batch_state(std::string_view name);
std::optional<BatchMode> parse_batch_mode(std::string_view name);
std::optional<ItemState> parse_item_state(std::string_view name);

struct BatchRow {
  std::string id;
  std::string principal;
  std::string operator_id;
  BatchMode mode = BatchMode::kHouseholds;
  std::string spec;   // JSON: the due_by / jurisdictions selection, or {}
  BatchState state = BatchState::kRunning;
  std::int64_t total = 0;
  std::int64_t created_unix = 0;
  std::int64_t finished_unix = 0;
};

struct BatchItem {
  std::int64_t index = 0;
  std::string case_id;
  std::string jurisdiction;
  std::string request_json;       // the verification request body sent for it
  ItemState state = ItemState::kPending;
  std::int64_t attempt = 0;
  std::string verification_id;
  std::int64_t http_status = 0;  // no longer written (0); kept for older databases
  std::string error;
  std::int64_t latency_ms = 0;
  std::string outcome;
  std::string classification;
  std::int64_t severity = 0;                // highest change severity, 0: none
  std::string changes_json = "[]";          // change list entries for this household
  std::vector<std::string> failed_sources;  // agencies that failed for this household
};

struct ItemCounts {
  std::int64_t pending = 0, done = 0, failed = 0, cancelled = 0;
};
// From (state name, count) rows as a store reads them; an unknown state
// is an error.
Result<ItemCounts> count_items(const std::vector<std::pair<std::string, std::int64_t>>& rows);

// What one retention pass erased.
struct PurgeCounts {
  std::int64_t reviews = 0;
  std::int64_t batches = 0;
};

class ReviewStore {
 public:
  virtual ~ReviewStore() = default;

  // --- reviews
  // A verification's record is written "pending" before its report is
  // issued (audited), and marked issued right after; only issued records
  // count for previous() and due(). So a crash between the audit and the
  // report store loses no review: settle_pending_reviews() (below) decides
  // at start-up what the audit says of each pending record.
  virtual Status record(const ReviewRecord& r) = 0;  // issued at once
  virtual Status record_pending(const ReviewRecord& r) = 0;
  virtual Status mark_issued(const std::string& verification_id) = 0;
  virtual Status drop_pending(const std::string& verification_id) = 0;
  // record_pending() and mark_issued() started without blocking the caller,
  // as ReportStore::start_insert_running(): the embedded store groups
  // several verifications' writes in one transaction, by default the call
  // runs on `at.pool`. Durable once get() returns ok.
  virtual BlockingCall<Status> start_record_pending(const WriteStart& at, ReviewRecord r) {
    return start_blocking(at.pool, at.executor, [this, r = std::move(r)] { return record_pending(r); });
  }
  virtual BlockingCall<Status> start_mark_issued(const WriteStart& at, std::string verification_id) {
    return start_blocking(at.pool, at.executor,
                          [this, id = std::move(verification_id)] { return mark_issued(id); });
  }
  // Returns once every write started before has completed (its get() can
  // resume): call it before the executors they resume on are destroyed.
  virtual void drain_started_writes() {}
  // Retention (docs/operations.md): erases review records completed before
  // `before_unix`, and finished batches (done or cancelled) that ended
  // before it with their items (the batch outputs). Returns the counts.
  virtual Result<PurgeCounts> purge_before(std::int64_t before_unix) = 0;
  // This node's pending records.
  virtual Result<std::vector<ReviewRecord>> pending() = 0;
  virtual Result<std::optional<ReviewRecord>> find(const std::string& verification_id) = 0;
  // The issued record of case `case_id` verified by batch `batch_id`, if any
  // (by the record's batch id column): a household whose report was issued
  // before a crash, found after the restart settled its record.
  virtual Result<std::optional<ReviewRecord>> issued_in_batch(const std::string& batch_id,
                                                              const std::string& case_id) = 0;
  // The latest record of the same household written before `before_seq`.
  virtual Result<std::optional<ReviewRecord>> previous(const ReviewRecord& current) = 0;
  // The latest record of every household of `principal` whose next_review is
  // on or before `due_by`, in the given jurisdictions (all if empty).
  virtual Result<std::vector<ReviewRecord>> due(const std::string& principal,
                                                const std::string& due_by,
                                                const std::vector<std::string>& jurisdictions) = 0;
  // The issued records completed in [from_unix, to_unix), oldest first,
  // without their members (the periodic statistics need no ID numbers).
  // `principal` empty: every caller's records.
  virtual Result<std::vector<ReviewRecord>> issued_between(std::int64_t from_unix,
                                                           std::int64_t to_unix,
                                                           const std::string& principal) = 0;

  // --- batches
  // Creates the batch and all its items in one transaction.
  virtual Status create_batch(const BatchRow& batch, const std::vector<BatchItem>& items) = 0;
  virtual Result<std::optional<BatchRow>> find_batch(const std::string& id) = 0;
  virtual Result<std::vector<BatchRow>> batches_in_state(BatchState state) = 0;
  virtual Status set_batch_state(const std::string& id, BatchState state,
                                 std::int64_t finished_unix) = 0;
  virtual Result<std::vector<BatchItem>> items(const std::string& batch_id) = 0;
  // Writes the given items' outcome fields (state, attempt, verification_id,
  // status, error, latency, outcome, classification, severity, changes) in
  // one transaction.
  virtual Status update_items(const std::string& batch_id, const std::vector<BatchItem>& items) = 0;
  // Marks every pending item of the batch cancelled.
  virtual Status cancel_pending(const std::string& batch_id) = 0;
  // Running -> done or cancelled, once: false when the batch was no longer
  // running (another node finished or cancelled it first).
  virtual Result<bool> finish_batch(const std::string& id, BatchState state, std::int64_t finished_unix) = 0;

  // --- claims: which node verifies which item
  // Claims for this node up to `limit` pending items of the batch, lowest
  // index first, that no node holds: never claimed, released, or whose
  // holder's lease ran out. Each is held for `lease` from now (the
  // database's clock) and returned as stored (its attempt count included).
  virtual Result<std::vector<BatchItem>> claim_items(const std::string& batch_id, std::size_t limit,
                                                     std::chrono::milliseconds lease) = 0;
  // Extends this node's claims on the batch's pending items by `lease`.
  virtual Status renew_claims(const std::string& batch_id, std::chrono::milliseconds lease) = 0;
  // Lets go of every claim of this node on pending items (stopping: others
  // take them at once instead of after the lease).
  virtual Status release_claims() = 0;
  // How many items of the batch are in each state, as stored.
  virtual Result<ItemCounts> item_counts(const std::string& batch_id) = 0;
};

// After a restart: every pending review record whose report the audit log
// holds as issued ("verification.report" with its verification id) is marked
// issued; the others (the report was never issued) are dropped. Returns how
// many were marked issued and how many dropped.
struct SettledReviews {
  std::int64_t issued = 0;
  std::int64_t dropped = 0;
};
Result<SettledReviews> settle_pending_reviews(ReviewStore& reviews, const audit::AuditLog& audit);

// A verification another node started for a batch item and abandoned (it
// died holding the item's claim): if the audit log holds its report as
// issued, its review record is marked issued and returned; otherwise the
// verification is marked interrupted, its pending review record dropped,
// and nothing returned (the household was not verified).
Result<std::optional<ReviewRecord>> settle_abandoned(ReviewStore& reviews, ReportStore& reports,
                                                     const audit::AuditLog& audit,
                                                     const std::string& verification_id);

// Whether the audit log holds the report of verification `verification_id`
// of case `case_id` as issued.
Result<bool> report_issued(const audit::AuditLog& audit, const std::string& case_id,
                           const std::string& verification_id);

}  // namespace hfv::broker
