// Verifier: one household's verification, start to signed report. Both the
// HTTPS front (POST /v1/verifications, broker/api/) and periodic reviews
// (broker/reviews/batch.hpp) go through it; it answers with an Outcome
// (broker/verification/outcome.hpp), never with HTTP.
//
// The order of a verification is the broker's core promise:
//   1. every field valid; the division code known and inside the caller's
//      jurisdictions; a policy for it; the authorisation found, in force,
//      for this case and every member
//   2. the Idempotency-Key and the fair-use window: a stored answer is
//      returned (an audited read), nobody is asked
//   3. the request's audit record, and one per person read, are durable
//   4. only then: one query per member per allowed source, in parallel
//   5. one audit record per member with what each agency answered
//      ("agency.answers"); evaluation; signed report; report audited
//      in the same append; then the report and review record are stored
// Any refusal at step 1 queries nobody and is itself audited. The caller's
// role and operator header are checked before (broker/api/routes.hpp).
//
// A stored report can be evaluated again from its input archive
// (replay(), broker/verification/input_archive.hpp): the access is audited
// (verification.replay) before the archive is read, its result after.
//
// An appeal (appeal()) re-queries only the disputed pairs, audited before,
// and issues a new report that supersedes the old one.
//
// Threading: verify(), read(), replay() and appeal() run on the I/O thread that owns the
// adapters' HTTP client; blocking store calls go to the `blocking` pool, and
// a household's report is assembled and signed on the `compute` pool (it
// reads only the verification's own request, results and immutable policy).
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/registry.hpp"
#include "audit/audit_log.hpp"
#include "broker/ops/config.hpp"
#include "broker/ops/divisions.hpp"
#include "broker/store/report_store.hpp"
#include "broker/verification/consent.hpp"
#include "broker/verification/input_archive.hpp"
#include "broker/verification/report_key_history.hpp"
#include "broker/verification/outcome.hpp"
#include "broker/verification/peer_client.hpp"
#include "common/cancellation.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/keys.hpp"
#include "policies/engine.hpp"

namespace hfv::broker {

class Metrics;
class ReviewStore;

struct VerifierParts {
  const Config* config = nullptr;
  std::shared_ptr<const policies::PolicySet> policies;
  const DivisionCodes* divisions = nullptr;
  adapters::AdapterSet adapters;
  audit::AuditLog* audit = nullptr;
  AuthorizationStore* authorizations = nullptr;
  ReportStore* reports = nullptr;
  const crypto::Ed25519Signer* signer = nullptr;
  // One key per purpose (broker/store/store_keys.hpp): the consent store's
  // member pseudonyms and the audit log's are not linkable without both.
  crypto::SecretKey consent_pseudonym_key;
  crypto::SecretKey audit_pseudonym_key;
  boost::asio::thread_pool* blocking = nullptr;
  // Optional: each household's report (input archive, JSON, signature) is
  // assembled on this pool, off the I/O thread, one hop per household; on
  // the I/O thread when null.
  boost::asio::thread_pool* compute = nullptr;
  Metrics* metrics = nullptr;      // optional (broker/ops/metrics.hpp): nothing counted when null
  ReviewStore* reviews = nullptr;  // optional (broker/store/review_store.hpp): review data per verification
  // The keys reports were signed with (report_key_history.hpp): a replay
  // checks the stored report's signature first. Optional: unchecked when null.
  const ReportKeyHistory* report_keys = nullptr;
  // How a refusal reads in its audit record's status ("403 consent_expired",
  // docs/audit-log-format.md). The number is HTTP's, so api/ supplies it.
  std::string (*refusal_status)(RefusalReason) = nullptr;
  // The same for a refused appeal, by its error code (AppealOutcome::code).
  std::string (*appeal_refusal_status)(std::string_view code) = nullptr;
  // The same for a refused peer query (PeerOutcome::code).
  std::string (*peer_refusal_status)(std::string_view code) = nullptr;
  // Cross-region verification (docs/cross-region.md): the peer brokers this
  // one asks about members registered in their divisions. Empty: every
  // source is asked of the local agencies, as before peers existed.
  std::vector<std::shared_ptr<PeerClient>> peers;
};

// The client certificate a caller presented (crypto/peer_identity.hpp), as
// its audit records name it (cert_sha256, cert_serial). Empty when the
// broker acts without a connection (a batch's households).
struct CallerCertificate {
  std::string sha256;
  std::string serial;
};

// One request to verify a household.
struct VerifyCall {
  const Principal* principal = nullptr;  // authenticated; never null
  std::string operator_id;               // audited as the operator (checked by the caller)
  CallerCertificate certificate;         // in every audit record of the call
  std::string what;             // what the caller was doing, first in a refusal's audit detail
  std::string body;             // the verification request, JSON (docs/api.md)
  std::string idempotency_key;  // optional; 1-64 token characters
  std::string batch_id;         // a batch household (broker/reviews/batch.hpp); empty: interactive
  // True (batches): an issued Outcome carries the report's summary and no
  // report; the report's JSON is then freed on the compute pool that built
  // it, not on the I/O thread (docs/performance.md). The report is stored
  // and audited the same either way.
  bool summary_only = false;
  // Fired when the caller leaves while a synchronous verification runs; null
  // when nobody watches.
  std::shared_ptr<Cancellation> cancel;
  // Optional, for batches: awaited once, on the I/O thread, after the
  // request is audited and before any agency is asked (the batch holds its
  // household here until its share of the agencies has room). False: the
  // batch was cancelled meanwhile; the verification is called off (audited,
  // Outcome kCancelled) and nobody is asked.
  std::function<boost::asio::awaitable<bool>()> before_queries;
  // Optional, for batches: called once, on the I/O thread, when every agency
  // query of this household has settled (the fan-out is over; the audit,
  // report and stores remain), with the queries that failed. Not called
  // when nobody was asked.
  std::function<void(const std::vector<SourceFailure>& failed)> queries_done;
  // Optional, for batches: asked, on the I/O thread, before each of the
  // household's writes (two audit appends: the request, the answers and
  // report; the state and review stores' writes), how long the write may
  // wait for others to share its transaction (audit::AuditLog::append's
  // may_wait, WriteStart::may_wait). Null: never waits.
  std::function<std::chrono::milliseconds()> writes_may_wait;
};

// The audit record every access by `principal` starts from: who, for which
// centre (its jurisdictions), through which operator, with which certificate.
audit::AuditRecord caller_record(const Principal& principal, const std::string& operator_id,
                                 const CallerCertificate& certificate = {});

// What a replay came to (GET /v1/verifications/{id}/replay, docs/api.md).
struct ReplayOutcome {
  enum class Kind {
    kDone,          // evaluated again: `answer` says whether it is identical
    kNotFound,      // no such verification this caller may see (field "id")
    kForbidden,     // a supervisor outside the report's jurisdiction (field "jurisdiction", audited)
    kNoReport,      // the verification issued no report (running, cancelled, withheld; field "id")
    kFailed,        // the archive cannot be replayed: `code` (input_archive.hpp), loud
    kUnavailable,   // the audit log or the state database cannot be used now
  };
  Kind kind = Kind::kUnavailable;
  ReplayAnswer answer;
  std::string replayed_at;  // kDone: UTC RFC 3339
  std::string code;         // the error code otherwise
  std::string message;      // for the caller; never personal data
  std::string field;
};

// An appeal of a stored report (POST /v1/verifications/{id}/appeals,
// docs/replay-and-what-if.md "Appeals").
struct AppealCall {
  const Principal* principal = nullptr;  // authenticated; never null
  std::string operator_id;
  CallerCertificate certificate;
  std::string id;    // the appealed verification (a token; the caller checked)
  std::string body;  // the appeal, JSON (parse_appeal_request)
};

// What an appeal came to. A refusal changed nothing, asked nobody and
// archived nothing; it is audited (request.refused) when `audited`.
//   code (kRefused): not_found (field id), no_report, already_superseded,
//   archive_missing (409, field id); invalid_json, too_deep, invalid_field
//   (400); invalid_pair, member_mismatch (422, the field names the pair or
//   member); consent_* and member_not_covered as for a verification (403);
//   no_policy (409, field jurisdiction); archive_tampered,
//   archive_unreadable (500: the broker's fault, loud).
//   code (kUnavailable): audit_unavailable, state_unavailable.
struct AppealOutcome {
  enum class Kind { kIssued, kRefused, kUnavailable };
  Kind kind = Kind::kUnavailable;
  std::string verification_id;  // kIssued: the new report's id
  nlohmann::json report;        // kIssued: the new signed report
  std::string code;
  std::string message;  // for the caller; never personal data
  std::string field;
  bool audited = true;
};

// A peer broker's query (POST /v1/peer/queries, docs/cross-region.md).
struct PeerCall {
  const Principal* principal = nullptr;  // authenticated, role peer_broker; never null
  CallerCertificate certificate;
  std::string body;  // the query, JSON (parse_peer_query)
};

// What a peer query came to. A refusal asked nobody; it is audited
// (peer.refused) when `audited`.
//   code (kRefused): invalid_json, too_deep, invalid_field (400, field);
//   origin_centre_mismatch, purpose_not_allowed, authorization_digest_mismatch,
//   consent_not_yet_valid, consent_expired, member_not_covered,
//   source_not_allowed, jurisdiction_not_allowed (403, field).
//   code (kUnavailable): audit_unavailable.
struct PeerOutcome {
  enum class Kind { kAnswered, kRefused, kUnavailable };
  Kind kind = Kind::kUnavailable;
  std::string answer;  // kAnswered: the signed hfv-peer-answer/v1, exact bytes
  std::string code;
  std::string message;  // for the caller; never personal data
  std::string field;
  bool audited = true;
};

class Verifier {
 public:
  explicit Verifier(VerifierParts parts);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  boost::asio::awaitable<Outcome> verify(VerifyCall call);
  // A stored verification of this caller by id (an audited read).
  boost::asio::awaitable<Outcome> read(const Principal& principal, const std::string& operator_id,
                                       const std::string& id, CallerCertificate certificate = {});

  // Replays a stored report from its archive: the case system that owns it,
  // or a supervisor whose jurisdictions cover the report's. Nothing is
  // stored and no agency is asked.
  boost::asio::awaitable<ReplayOutcome> replay(const Principal& principal, const std::string& operator_id,
                                               const std::string& id, CallerCertificate certificate = {});

  // An appeal (the case system that owns the verification): re-queries only
  // the disputed member x source pairs now (the same adapters and fan-out
  // as a verification), keeps the rest of the archived input, evaluates
  // with the policy in force, and issues a new signed report that
  // supersedes the old one (stored with the mark in one transaction).
  // Audited before any agency is asked.
  boost::asio::awaitable<AppealOutcome> appeal(AppealCall call);

  // Answers another centre's broker about members registered here: checks
  // the query (caller, purpose, the authorisation's digest, validity and
  // members, each member's division), audits it (peer.request) before any
  // agency is asked, asks the local agencies, audits what they answered
  // and the answer's digest (peer.answered), and signs the answer with the
  // report key.
  boost::asio::awaitable<PeerOutcome> answer_peer(PeerCall call);

  // Keyed pseudonyms of an ID number: hex HMAC-SHA256 under the consent
  // store's key (authorisations' members) or the audit log's (its member
  // column and every search of it).
  std::string consent_pseudonym(const std::string& id_number) const;
  std::string audit_pseudonym(const std::string& id_number) const;
  // The salt of a member's commitment to an authorisation
  // (consent.hpp member_commitment): hex HMAC-SHA256 of the authorisation
  // id and the ID number under the consent store's key, so no salt is kept.
  std::string member_salt(const std::string& authorization_id, const std::string& id_number) const;

  // The audit records of a refused verification request (`refusal`, a
  // request.refused record) with what its body named, best effort
  // (docs/audit-log-format.md): the case, authorisation, programme and
  // jurisdiction when well-formed (the jurisdiction when it is a known
  // division), and one refusal.subject record per verification member
  // whose ID number is valid (by pseudonym, never the number), all
  // under one request id so a household search shows them as one access.
  // A body that is not JSON names nothing.
  std::vector<audit::AuditRecord> refusal_records(audit::AuditRecord refusal, const std::string& body) const;

  // Replaces the policies (call on the I/O thread); verifications already
  // running keep the set they started with.
  void set_policies(std::shared_ptr<const policies::PolicySet> policies) { parts_.policies = std::move(policies); }
  const policies::PolicySet& policies() const { return *parts_.policies; }
  // Replaces the agencies' adapters (call on the I/O thread): verifications
  // already running finish with the adapters they started with (breaker
  // state and concurrency limits start afresh in the new ones).
  void set_adapters(adapters::AdapterSet adapters) {
    adapters_ = std::make_shared<adapters::AdapterSet>(std::move(adapters));
  }
  // The agencies' adapters, for /metrics (breaker states, counters).
  const adapters::AdapterSet& adapters() const { return *adapters_; }

  // Interactive verifications (not batch households) running now, and when
  // the last one ended: batches yield to them.
  std::size_t interactive_in_flight() const { return activity_->interactive; }
  std::chrono::steady_clock::time_point last_interactive_end() const { return activity_->last_interactive_end; }
  // Asynchronous verifications still running after their 202: a graceful
  // stop waits for them.
  std::size_t background_in_flight() const { return activity_->background; }

 private:
  struct Accepted;
  // Counters shared with running coroutines, not owned by the Verifier
  // alone: a coroutine frame destroyed with the io_context after the
  // Verifier still finds them.
  struct Activity {
    std::size_t interactive = 0;
    std::size_t background = 0;
    std::chrono::steady_clock::time_point last_interactive_end{};
  };
  class InteractiveMark;

  boost::asio::awaitable<Outcome> refuse(const VerifyCall& call, RefusalReason reason, std::string message,
                                         std::string field);
  boost::asio::awaitable<Outcome> execute(std::shared_ptr<Accepted> accepted);
  // `why`: for the audit and the outcome's message (the caller's
  // cancellation's reason when it has one).
  boost::asio::awaitable<Outcome> call_off(Accepted& accepted, std::vector<audit::AuditRecord> rows,
                                           std::string why = "the caller disconnected");
  boost::asio::awaitable<Outcome> answer_stored(const Principal& principal, const std::string& operator_id,
                                                CallerCertificate certificate, const StoredVerification& stored, Replay how,
                                                std::vector<std::string> pseudonyms = {});
  // Every query x every source, in parallel; results in that order.
  boost::asio::awaitable<std::vector<SourceResult>> fan_out(const adapters::AdapterSet& adapters,
                                                            const std::vector<adapters::MemberQuery>& queries,
                                                            const std::vector<Source>& sources,
                                                            adapters::Deadline deadline);
  // Only the given (query, source) pairs (an appeal's), results in that order.
  struct QueryPair {
    std::size_t query = 0;  // index into `queries`
    Source source = Source::kBank;
  };
  boost::asio::awaitable<std::vector<SourceResult>> fan_out(const adapters::AdapterSet& adapters,
                                                            const std::vector<adapters::MemberQuery>& queries,
                                                            const std::vector<QueryPair>& pairs,
                                                            adapters::Deadline deadline);
  // Cross-region fan-out (docs/cross-region.md "Who asks whom"): the local
  // registry first (for each member's registration division), then every
  // member x source routed to a local agency or a peer; peer queries are
  // audited (peer.query) before they are sent, their answers and failures
  // added to `after`. `answered_by` gets the answering centre of each pair.
  boost::asio::awaitable<std::vector<SourceResult>> fan_out_across_regions(
      Accepted& accepted, const std::vector<adapters::MemberQuery>& queries, adapters::Deadline deadline,
      std::vector<audit::AuditRecord>& after, std::map<std::pair<std::size_t, Source>, std::string>& answered_by);
  // What the agencies answered, as the audit keeps it: one "agency.answers"
  // record per member asked about, in member order (of `members`).
  // results[k] is about member member_of(k); record_of(m) is that member's
  // record before its answers (the base with its pseudonym).
  static std::vector<audit::AuditRecord> answers_records(
      const std::vector<SourceResult>& results, std::size_t members,
      const std::function<std::size_t(std::size_t k)>& member_of,
      const std::function<audit::AuditRecord(std::size_t member)>& record_of);
  boost::asio::awaitable<PeerOutcome> refuse_peer(audit::AuditRecord record, std::string code, std::string message,
                                                  std::string field);

  // The audit pseudonyms of the valid ID numbers in body[key][*].id_number
  // (a refused request's members, best effort), each once.
  std::vector<std::string> named_pseudonyms(const nlohmann::json& body, const char* key) const;
  boost::asio::awaitable<AppealOutcome> refuse_appeal(const AppealCall& call, audit::AuditRecord record,
                                                      std::string code, std::string message, std::string field);

  VerifierParts parts_;
  // parts_.adapters, shared with the verifications running on them.
  std::shared_ptr<adapters::AdapterSet> adapters_;
  std::shared_ptr<Activity> activity_ = std::make_shared<Activity>();
};

}  // namespace hfv::broker
