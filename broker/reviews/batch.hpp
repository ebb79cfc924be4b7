// BatchManager: periodic reviews in bulk (/v1/batches). A batch is a list of
// households — given as NDJSON verification requests, or selected from the
// review store as "every household due by DATE in these jurisdictions" —
// each re-verified through the same verifier as an interactive request
// (broker/verification/verifier.hpp: consent, audit first, fan-out, signed
// report, review record), then compared with the household's previous
// verification. The /v1/batches endpoints are api/'s (broker/api/batches_api.cpp);
// this class answers them with typed values.
//
// Promises:
//  - Durable: a batch and all its items are written before 202 is answered;
//    item results are written in small transactions as they complete. A
//    batch left running by a crash continues when the daemon starts again.
//  - Shared: every broker on one database (the postgresql backend) runs
//    every running batch. A node claims a few households at a time
//    (ReviewStore::claim_items) and renews its claims every third of
//    review.claim_lease; a node that dies stops renewing, and after the
//    lease the others claim its households. The node that finds none left
//    finishes the batch (once: ReviewStore::finish_batch) and writes its
//    outputs. On one node (SQLCipher) the same code claims in memory.
//  - Exactly once: item i of batch B, attempt n, is verified with the
//    Idempotency-Key "B.i.n". A completed verification whose result was not
//    yet written is therefore replayed from the report store (an audited
//    read, no agency query, no second report); one interrupted by the crash
//    is retried under attempt n+1 — unless the audit log shows its report
//    was issued before the crash (issued, not yet stored): then it counts as
//    done ("report_not_stored", outcome from the audit; classification and
//    comparison from the household's review record, which is written before
//    the report is issued and settled at start-up, see review_store.hpp). A
//    household taken over from a dead node whose attempt was still running
//    is settled the same way from the audit (settle_abandoned). The
//    audit shows one verification.report per household per batch (its
//    verification.request says "batch=B"). Not covered: a node that is
//    alive but stalled longer than the lease (e.g. frozen), whose claim
//    another node took, may still issue the report of its attempt.
//  - Throttled: batch households in flight, counted in members (one query
//    per member per agency), never exceed capacity_share of the smallest
//    agency concurrency limit; while interactive requests are in flight the
//    batch uses at most half of that, so interactive work is served first.
//    Failed or timed-out sources halve the batch's concurrency (it grows
//    back by one per clean household); a verifier that is unavailable
//    (audit or state database) and sources that failed as timeout, throttled
//    or circuit open (FailureKind, common/records.hpp) also pause new work
//    with exponential backoff.
//
// Threading: everything runs on the service's I/O thread; blocking store
// calls go to the blocking pool.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "audit/audit_log.hpp"
#include "broker/reviews/batch_review.hpp"
#include "broker/ops/config.hpp"
#include "broker/ops/metrics.hpp"
#include "broker/store/review_store.hpp"
#include "broker/verification/verifier.hpp"

namespace hfv::broker {

// Why a batch request was not answered; api/ gives each kind its status.
struct BatchRefusal {
  enum class Kind {
    kInvalid,      // a field or line of the request (code, field name it)
    kForbidden,    // a household outside the caller's jurisdictions
    kTooLarge,     // more households than a batch may hold
    kNotFound,     // no such batch of this caller
    kUnavailable,  // the audit log or review database failed, or stopping
  };
  Kind kind = Kind::kInvalid;
  std::string code;  // wire error code (docs/api.md "Errors")
  std::string message;
  std::string field;
};
template <class T>
using BatchAnswer = std::variant<T, BatchRefusal>;

// A batch and its items, as stored or as running now.
struct BatchView {
  BatchRow batch;
  std::vector<BatchItem> items;
};

class BatchManager {
 public:
  // `other_requests`: requests the HTTP front is serving now (reads, status
  // polls); while there are some, batches use half their share.
  // `reports`: the verifier's report store (a dead node's abandoned
  // attempt is marked interrupted there).
  BatchManager(boost::asio::any_io_executor executor, Verifier& verifier,
               std::function<std::size_t()> other_requests, ReviewStore& store, ReportStore& reports,
               audit::AuditLog& audit, boost::asio::thread_pool& blocking, const Config& config);
  ~BatchManager();

  // Runs every batch left running, and from then on every batch another
  // node starts in a shared database. Call once, after the service is up.
  void start();
  // Starts no more households; those in flight finish. busy() says whether
  // any are still in flight, or a batch is still writing its end.
  void stop();
  bool busy() const { return preparing_members_ > 0 || in_flight_members_ > 0 || past_fan_out_ > 0 || finishing_ > 0; }

  // POST /v1/batches: the batch's progress once it is durable and started.
  // `certificate`: the caller's, for the batch.create record (the
  // households' records, written without a connection, name none).
  boost::asio::awaitable<BatchAnswer<nlohmann::json>> create(const Principal& principal,
                                                             const std::string& operator_id,
                                                             const std::string& body,
                                                             CallerCertificate certificate = {});
  boost::asio::awaitable<BatchAnswer<nlohmann::json>> progress(const std::string& id, const Principal& principal);
  // Stops starting households (durably); those in flight finish.
  boost::asio::awaitable<BatchAnswer<nlohmann::json>> cancel(const std::string& id, const Principal& principal,
                                                             const std::string& operator_id,
                                                             CallerCertificate certificate = {});
  // The batch and its items, for the change list and statistics.
  boost::asio::awaitable<BatchAnswer<BatchView>> view(const std::string& id, const Principal& principal);

  // Members' worth of agency capacity a batch may use (for docs and tests).
  std::size_t slots() const { return slots_; }
  // Batches running in this process, for /metrics (call on the I/O thread).
  BatchProgress progress_snapshot() const;

 private:
  struct Run;
  boost::asio::awaitable<void> watch();
  boost::asio::awaitable<bool> claim(const std::shared_ptr<Run>& run);
  boost::asio::awaitable<bool> finished_or_held_elsewhere(const std::shared_ptr<Run>& run);
  boost::asio::awaitable<void> finish(std::shared_ptr<Run> run);
  boost::asio::awaitable<void> drive(std::shared_ptr<Run> run);
  // Where a household of a batch is: audited and stored before its agency
  // queries (or waiting for its turn at them), querying, past its fan-out
  // (audit, report, stores), or finished.
  enum class Stage { kPreparing, kQuerying, kPast, kDone };
  // `stage` moves on as the verifier takes the household's turn at the
  // agencies (VerifyCall::before_queries) and ends its queries
  // (VerifyCall::queries_done); `need`: its members.
  boost::asio::awaitable<void> run_item(std::shared_ptr<Run> run, std::size_t position,
                                        std::shared_ptr<Stage> stage, std::size_t need);
  // Holds a household until the agencies' share has room for its members.
  // False: the batch was cancelled meanwhile (VerifyCall::before_queries).
  boost::asio::awaitable<bool> take_turn(std::shared_ptr<Run> run, std::shared_ptr<Stage> stage, std::size_t need);
  // A household finished: what its stage held is given back.
  void leave(Stage& stage, std::size_t need);
  // Waits for capacity_freed(), at most until `at_latest`.
  boost::asio::awaitable<void> wait_for_capacity(boost::asio::steady_timer& timer,
                                                 std::chrono::steady_clock::time_point at_latest);
  // When to look again without a wake-up (kExternalPoll, kCapacityFallback).
  std::chrono::steady_clock::time_point next_look(std::chrono::steady_clock::time_point now) const;
  boost::asio::awaitable<void> flush(std::shared_ptr<Run> run);
  boost::asio::awaitable<void> wait_for_backoff();
  void launch(const std::shared_ptr<Run>& run);
  void count_items(Run& run) const;
  std::chrono::milliseconds poll_interval() const;
  std::size_t allowed() const;
  // How long a household's audit appends and store writes may wait
  // (VerifyCall::writes_may_wait).
  std::chrono::milliseconds writes_may_wait() const;
  // A household gave back capacity: wakes the drivers waiting for it.
  void capacity_freed();
  void record_outcome(bool clean, bool back_off);
  nlohmann::json progress_json(const Run& run) const;
  audit::AuditRecord audit_base(const Principal* principal, const std::string& operator_id,
                                const CallerCertificate& certificate = {}) const;

  boost::asio::any_io_executor executor_;
  Verifier& verifier_;
  std::function<std::size_t()> other_requests_;
  ReviewStore& store_;
  ReportStore& reports_;
  audit::AuditLog& audit_;
  boost::asio::thread_pool& blocking_;
  const Config& config_;
  std::size_t slots_ = 1;
  std::size_t limit_ = 1;  // current concurrency (members), <= slots_
  std::size_t preparing_members_ = 0;  // of households started, before their turn at the agencies
  std::size_t in_flight_members_ = 0;  // of households whose agency queries are still out
  std::size_t past_fan_out_ = 0;       // households past their fan-out (audit, report, stores)
  std::size_t finishing_ = 0;  // batches writing their outputs and end record
  std::chrono::steady_clock::time_point last_start_{};  // of a batch household
  std::chrono::steady_clock::time_point last_turn_{};   // a batch household's turn at the agencies
  std::uint64_t next_turn_ = 0;     // take_turn: tickets given
  std::uint64_t serving_turn_ = 0;  // take_turn: the ticket whose turn is next
  std::chrono::steady_clock::time_point backoff_until_{};
  std::chrono::milliseconds backoff_{0};
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<Run>> runs_;  // batches running in this process
  std::vector<boost::asio::steady_timer*> capacity_waiters_;  // drivers waiting for capacity (capacity_freed)
};

}  // namespace hfv::broker
