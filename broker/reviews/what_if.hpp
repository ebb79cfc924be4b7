// What-if: a candidate policy file evaluated over a jurisdiction's archived
// decisions of a period (POST /v1/policies/{code}/what-if,
// docs/replay-and-what-if.md). Nobody is asked and nothing is stored: each
// archived input (broker/verification/input_archive.hpp) is opened exactly
// as a replay opens it (open_stored_archive: the stored report's signature,
// the archive's digest against its inputs_sha256), evaluated under the
// candidate, and compared with the stored report (decision_differences).
//
//  - parse_what_if() (what_if_request.hpp): the request, checked before
//    anything runs or is audited as started (pure);
//  - WhatIfTally: one household at a time, the aggregate (pure, not locked:
//    one job's thread owns it);
//  - run_what_if(): walks the period's archive page by page (blocks on the
//    store: call it off the I/O threads);
//  - WhatIfJobs: the running and finished jobs of this process, each on its
//    own worker thread, bounded in number. In memory only: a restart loses
//    them (the result is recomputable). Internally locked: any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "audit/audit_log.hpp"
#include "broker/reviews/what_if_request.hpp"
#include "broker/store/report_store.hpp"
#include "broker/verification/report_key_history.hpp"
#include "common/date.hpp"
#include "common/result.hpp"
#include "policies/policy.hpp"

namespace hfv::broker {

class WhatIfTally {
 public:
  // `keys`: the report-signing key history (null: signatures not checked).
  WhatIfTally(std::shared_ptr<const WhatIfRequest> request, const ReportKeyHistory* keys);
  // One archived decision of the period: outside `code` it is skipped (not
  // counted); a stored report or archive that is not what the decision used
  // is an error; otherwise it is evaluated and compared.
  void add(const ArchivedVerification& archived);
  // The result (docs/api.md "What-if").
  nlohmann::json result() const;
  // The changed cases as CSV (UTF-8, header row, formula-safe cells).
  std::string changed_csv() const;
  std::int64_t households() const { return households_; }

 private:
  struct Changed {
    std::string verification_id, case_id, jurisdiction, old_outcome, new_outcome, old_classification,
        new_classification, old_benefit, new_benefit;
    std::vector<std::string> members;  // masked ID numbers, from the report
    std::vector<std::string> rules;    // ids of the rules whose result changed
  };
  struct Month {
    std::int64_t before_fen = 0, after_fen = 0;
    std::int64_t households = 0;
  };
  void error(const ArchivedVerification& archived, const std::string& code);

  std::shared_ptr<const WhatIfRequest> request_;
  const ReportKeyHistory* keys_;
  std::string prefix_;
  std::int64_t households_ = 0;
  std::int64_t other_policy_ = 0;  // decided by a more specific file than the candidate's
  std::map<std::string, std::map<std::string, std::int64_t>> transitions_;
  std::map<std::string, Month> months_;  // "YYYY-MM" of the decision
  std::vector<nlohmann::json> errors_;
  std::vector<Changed> changed_;
};

// Walks the archived decisions created in the request's period, `page` at a
// time, into `tally`; after each page calls `on_page(scanned so far)`,
// which returns false to stop. Errors: the store's.
Status run_what_if(ReportStore& store, const WhatIfRequest& request, WhatIfTally& tally, std::size_t page,
                   const std::function<bool(std::int64_t)>& on_page);

// A job as GET /v1/policies/{code}/what-if/{job} shows it.
struct WhatIfView {
  std::string principal;  // who started it
  std::string code;
  nlohmann::json body;        // progress, and the result once done
  std::optional<std::string> csv;  // the changed cases, once done
};

class WhatIfJobs {
 public:
  struct Settings {
    std::size_t max_running = 2;   // beyond it: refused (429 + Retry-After)
    std::size_t max_kept = 32;     // finished jobs kept for reading; the oldest goes first
    std::size_t page = 500;        // archived decisions read per store call
  };
  WhatIfJobs(ReportStore& store, audit::AuditLog& audit, const ReportKeyHistory* keys, Settings settings);
  WhatIfJobs(ReportStore& store, audit::AuditLog& audit, const ReportKeyHistory* keys)
      : WhatIfJobs(store, audit, keys, Settings{}) {}
  // Stops every job and waits for its thread.
  ~WhatIfJobs();
  WhatIfJobs(const WhatIfJobs&) = delete;
  WhatIfJobs& operator=(const WhatIfJobs&) = delete;

  // A new job id when fewer than max_running run, else nullopt. The slot is
  // held until start() or release().
  std::optional<std::string> reserve();
  void release(const std::string& id);
  // Starts the reserved job on its own thread (after its start was
  // audited). `ended` is the record appended when it ends (its status and
  // detail are filled in then).
  void start(const std::string& id, const std::string& principal, WhatIfRequest request, audit::AuditRecord ended);
  std::optional<WhatIfView> view(const std::string& id) const;
  std::size_t running() const;
  // Asks every running job to stop (graceful shutdown); they end as "stopped".
  void stop();

 private:
  struct Job;
  void run(const std::shared_ptr<Job>& job);

  ReportStore& store_;
  audit::AuditLog& audit_;
  const ReportKeyHistory* keys_;
  Settings settings_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // reserved, running and finished
  std::vector<std::string> finished_order_;           // oldest first
  std::atomic<bool> stopping_{false};
};

}  // namespace hfv::broker
