// BatchManager: periodic reviews in bulk (/v1/batches). A batch is a list of
// households — given as NDJSON verification requests, or selected from the
// review store as "every household due by DATE in these jurisdictions" —
// each re-verified through the same path as an interactive request
// (Service::verify_in_batch: consent, audit first, fan-out, signed report,
// review record), then compared with the household's previous verification.
//
// Promises:
//  - Durable: a batch and all its items are written before 202 is answered;
//    item results are written in small transactions as they complete. A
//    batch left running by a crash continues when the daemon starts again.
//  - Exactly once: item i of batch B, attempt n, is verified with the
//    Idempotency-Key "B.i.n". A completed verification whose result was not
//    yet written is therefore replayed from the report store (an audited
//    read, no agency query, no second report); one interrupted by the crash
//    is retried under attempt n+1 — unless the audit log shows its report
//    was issued before the crash (issued, not yet stored): then it counts as
//    done ("report_not_stored", outcome from the audit; classification and
//    comparison from the household's review record, which is written before
//    the report is issued and settled at start-up, see review_store.hpp). The
//    audit shows one verification.report per household per batch (its
//    verification.request says "batch=B").
//  - Throttled: batch households in flight, counted in members (one query
//    per member per agency), never exceed capacity_share of the smallest
//    agency concurrency limit; while interactive requests are in flight the
//    batch uses at most half of that, so interactive work is served first.
//    Failed or timed-out sources halve the batch's concurrency (it grows
//    back by one per clean household); 429/503 answers, agency timeouts and
//    open circuit breakers also pause new work with exponential backoff.
//
// Threading: everything runs on the service's I/O thread; blocking store
// calls go to the blocking pool.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "audit/audit_log.hpp"
#include "broker/reviews/batch_review.hpp"
#include "broker/ops/config.hpp"
#include "broker/ops/metrics.hpp"
#include "broker/store/review_store.hpp"
#include "broker/api/service.hpp"

namespace hfv::broker {

class BatchManager {
 public:
  BatchManager(boost::asio::any_io_executor executor, Service& service, ReviewStore& store,
               audit::AuditLog& audit, boost::asio::thread_pool& blocking, const Config& config);
  ~BatchManager();

  // Resumes every batch left running. Call once, after the service is up.
  void start();
  // Starts no more households; those in flight finish. busy() says whether
  // any are still in flight.
  void stop();
  bool busy() const { return in_flight_members_ > 0; }

  // Every path under /v1/batches (the caller has checked role and operator).
  boost::asio::awaitable<ApiResponse> handle(const ApiRequest& request, const Principal& principal,
                                             const std::string& path);

  // Members' worth of agency capacity a batch may use (for docs and tests).
  std::size_t slots() const { return slots_; }
  // Batches running in this process, for /metrics (call on the I/O thread).
  BatchProgress progress_snapshot() const;

 private:
  struct Run;
  boost::asio::awaitable<ApiResponse> create(const ApiRequest& request, const Principal& principal);
  boost::asio::awaitable<ApiResponse> progress(const std::string& id, const Principal& principal);
  boost::asio::awaitable<ApiResponse> cancel(const ApiRequest& request, const std::string& id,
                                             const Principal& principal);
  boost::asio::awaitable<ApiResponse> report(const std::string& id, const Principal& principal,
                                             const std::string& what, const std::string& format);
  boost::asio::awaitable<void> drive(std::shared_ptr<Run> run);
  boost::asio::awaitable<void> run_item(std::shared_ptr<Run> run, std::size_t position);
  boost::asio::awaitable<void> flush(std::shared_ptr<Run> run);
  void launch(std::shared_ptr<Run> run);
  std::size_t allowed() const;
  void record_outcome(bool clean, bool back_off);
  nlohmann::json progress_json(const Run& run) const;
  audit::AuditRecord audit_base(const Principal* principal, const std::string& operator_id) const;
  // Blocking: the (verification id, outcome) of a report the audit log shows
  // was issued for `case_id` by a verification this batch started.
  Result<std::optional<std::pair<std::string, std::string>>> issued_in_batch(const std::string& batch_id,
                                                                          const std::string& case_id) const;

  boost::asio::any_io_executor executor_;
  Service& service_;
  ReviewStore& store_;
  audit::AuditLog& audit_;
  boost::asio::thread_pool& blocking_;
  const Config& config_;
  std::size_t slots_ = 1;
  std::size_t limit_ = 1;  // current concurrency (members), <= slots_
  std::size_t in_flight_members_ = 0;
  std::chrono::steady_clock::time_point last_start_{};  // of a batch household
  std::chrono::steady_clock::time_point backoff_until_{};
  std::chrono::milliseconds backoff_{0};
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<Run>> runs_;  // batches running in this process
};

}  // namespace hfv::broker
