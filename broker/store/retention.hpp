// Retention of the broker's own records (docs/operations.md, "Retention"):
// stored reports (with their input archives), ended authorisations, review records and finished batches older than their
// configured periods are erased, as the audit log erases its records'
// personal fields. Each pass that erases something is audited with counts,
// never contents (action `retention.purge`).
//
// run_retention is one blocking pass (never on an io_context thread: it
// appends to the audit log blocking). RetentionTimer runs a pass at start
// and then hourly on a thread of its own until destroyed; destroy it
// before the stores and the log it uses.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <thread>

#include "audit/audit_log.hpp"
#include "broker/store/authorization_store.hpp"
#include "broker/store/report_store.hpp"
#include "broker/store/review_store.hpp"
#include "common/result.hpp"

namespace hfv::broker {

struct RetentionPeriods {
  int reports_days = 183;  // 0: kept
  int reviews_days = 183;  // review records and finished batches; 0: kept
  // Batches' output folders (change lists, statistics: review.output_dir),
  // erased with reviews_days by their last change; empty: none.
  std::filesystem::path batch_outputs;
};

struct RetentionPass {
  std::int64_t reports = 0;
  std::int64_t authorizations = 0;  // ended (expired or revoked) more than reports_days ago
  PurgeCounts reviews;
  std::int64_t batch_outputs = 0;  // output folders erased
};

// `reviews` and `authorizations` may be null (not purged). `now_unix`: the
// present, injected. Authorisations are deleted reports_days after they
// ended (valid_until passed, or revoked): the reports made under them are
// gone by then too.
Result<RetentionPass> run_retention(ReportStore& reports, ReviewStore* reviews, audit::AuditLog& log,
                                    const RetentionPeriods& periods, std::int64_t now_unix,
                                    AuthorizationStore* authorizations = nullptr);

class RetentionTimer {
 public:
  RetentionTimer(ReportStore& reports, ReviewStore* reviews, audit::AuditLog& log, RetentionPeriods periods,
                 AuthorizationStore* authorizations = nullptr);
  ~RetentionTimer();
  RetentionTimer(const RetentionTimer&) = delete;
  RetentionTimer& operator=(const RetentionTimer&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hfv::broker
