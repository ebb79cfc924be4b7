// ReportStore: verifications and their final answers, in the state
// database. It backs asynchronous verifications (GET /v1/verifications/{id}),
// idempotency (the same Idempotency-Key from the same principal returns the
// same answer) and fair use (a repeat of the same household within the
// configured window returns the earlier report). A verification belongs to
// the principal that started it; others cannot see it. An issued report is
// stored with its input archive (ArchivedInputs, read by replays:
// broker/verification/input_archive.hpp) and erased with it.
//
// An interface: the embedded backend is broker/store/sqlcipher/. Opening a
// store marks verifications left "running" by a previous process
// "interrupted" (their callers must submit again). Calls block on disk or
// network: call them off the I/O threads (or start them: start_*).
// Implementations are internally locked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/blocking_call.hpp"
#include "common/result.hpp"

namespace hfv::broker {

// A stored verification: running until its report is issued (done), its
// caller left before that (cancelled), or the process ended under it
// (interrupted, set when a store is opened).
enum class VerificationState { kRunning, kDone, kInterrupted, kCancelled };
std::string_view state_name(VerificationState state);
std::optional<VerificationState> parse_verification_state(std::string_view name);

struct StoredVerification {
  std::string id;
  std::string principal;
  std::string idempotency_key;  // may be empty
  std::string request_sha256;   // of the request body
  std::string household_key;    // keyed digest of members + programme + place + date
  VerificationState state = VerificationState::kRunning;
  long http_status = 0;         // final status when done
  std::string response;         // final body (JSON) when done
  std::int64_t created_unix = 0;
  // The report an appeal issued in this one's place (docs/replay-and-what-if.md,
  // appeals); empty while this report stands.
  std::string superseded_by;
};

// What an issued report's decision rested on (broker/verification/
// input_archive.hpp): the archived input text (personal: SQLCipher keeps it
// in the encrypted database, PostgreSQL sealed by the broker like a report's
// body), its digest as the report names it, and the policy file of the
// version the report names (public; kept once per version while a report
// names it).
struct ArchivedInputs {
  std::string text;
  std::string sha256;
  std::string policy_version;
  std::string policy_jurisdiction;  // the policy file's code
  std::string policy_content;       // the policy file's text
};

// A verification with its archive, for a replay: any principal's (the
// caller checks who may see it).
struct ArchivedVerification {
  StoredVerification verification;
  ArchivedInputs inputs;  // text and policy_content empty when not archived
  // The archive row is there but its sealed text does not open (PostgreSQL:
  // edited, moved to another row or sealed under another key): a replay
  // must fail loudly (archive_tampered), after it is audited.
  bool inputs_unopenable = false;
  // Likewise the stored report itself (PostgreSQL): `verification.response`
  // is then empty; a replay, an appeal or a what-if says archive_tampered.
  bool report_unopenable = false;
};

class ReportStore {
 public:
  virtual ~ReportStore() = default;
  virtual Status insert_running(const StoredVerification& v) = 0;
  virtual Status finish(const std::string& id, long http_status, const std::string& response) = 0;
  // An issued report (status 200) and its input archive, in one transaction:
  // a report is never stored without what it rested on. The policy file is
  // added when its version is not kept yet.
  virtual Status finish_issued(const std::string& id, const std::string& report, const ArchivedInputs& inputs) = 0;
  // An appeal's report: finish_issued() for `id` and, in the same
  // transaction, `supersedes` marked superseded by `id`. Error
  // "already_superseded" when `supersedes` is superseded already (a
  // concurrent appeal won): then nothing changed, `id` stays running.
  // Neither a new report without the mark nor the mark without the report.
  virtual Status finish_appeal(const std::string& id, const std::string& report, const ArchivedInputs& inputs,
                               const std::string& supersedes) = 0;
  // insert_running() and finish_issued() started without blocking the
  // caller (the two writes on every verification's way): the embedded store
  // queues them for a writer of its own, which commits several
  // verifications' writes in one transaction, holding one back up to
  // `at.may_wait` for others (storage/write_group.hpp); by default the call
  // runs on `at.pool`. Durable once get() returns ok.
  virtual BlockingCall<Status> start_insert_running(const WriteStart& at, StoredVerification v) {
    return start_blocking(at.pool, at.executor, [this, v = std::move(v)] { return insert_running(v); });
  }
  virtual BlockingCall<Status> start_finish_issued(const WriteStart& at, std::string id, std::string report,
                                                   ArchivedInputs inputs) {
    return start_blocking(at.pool, at.executor,
                          [this, id = std::move(id), report = std::move(report), inputs = std::move(inputs)] {
                            return finish_issued(id, report, inputs);
                          });
  }
  // Returns once every write started before has completed (its get() can
  // resume): call it before the executors they resume on are destroyed.
  virtual void drain_started_writes() {}
  // The caller disconnected and no report was issued: the row stays (GET
  // answers 410) but lets go of its Idempotency-Key, so the caller's retry
  // with the same key runs a new verification instead of replaying nothing.
  virtual Status cancel(const std::string& id) = 0;
  // Retention (docs/operations.md): erases finished verifications (their
  // stored report or error, and their input archive) created before
  // `created_before_unix`, and the archived policy files no remaining
  // report names; running ones stay. Returns how many were erased.
  virtual Result<std::int64_t> purge_before(std::int64_t created_before_unix) = 0;
  // A verification another node left running and will not finish (its
  // claim on a batch item ran out, see review_store.hpp): running ->
  // interrupted, like those of a process that ended. No change otherwise.
  virtual Status interrupt(const std::string& id) = 0;
  virtual Result<std::optional<StoredVerification>> find(const std::string& id,
                                                         const std::string& principal) = 0;
  // A verification by id whoever started it, with its input archive and the
  // archived policy file of its version (replay; the caller decides who may
  // see it). A report whose sealed column does not open is an error
  // (corrupt_state); an archive that does not open is flagged.
  virtual Result<std::optional<ArchivedVerification>> find_archived(const std::string& id) = 0;
  // The archived decisions of a period, for a what-if (broker/reviews/
  // what_if.hpp), one page at a time so memory stays bounded: issued
  // reports (done, 200) with an input archive row whose verification was
  // created in [from_unix, to_unix), any principal's and any jurisdiction's
  // (the jurisdiction is inside the archive), ordered by id, those after
  // `after_id` ("" from the first), at most `limit`. inputs.policy_content
  // is left empty: a what-if evaluates with its own candidate. A report
  // whose sealed body does not open is an error (corrupt_state); an
  // archive that does not open is flagged, as in find_archived.
  virtual Result<std::vector<ArchivedVerification>> archived_page(std::int64_t from_unix, std::int64_t to_unix,
                                                                  const std::string& after_id,
                                                                  std::size_t limit) = 0;
  // How many archived_page() walks through for the period (a what-if's `total`).
  virtual Result<std::int64_t> count_archived(std::int64_t from_unix, std::int64_t to_unix) = 0;
  virtual Result<std::optional<StoredVerification>> find_by_key(const std::string& principal,
                                                                const std::string& key) = 0;
  // The newest completed (200) verification of this household by this
  // principal created at or after `since_unix`, not superseded.
  virtual Result<std::optional<StoredVerification>> latest_done(const std::string& principal,
                                                                const std::string& household_key,
                                                                std::int64_t since_unix) = 0;
};

}  // namespace hfv::broker
