// What a verification came to, as the verifier (broker/verification/verifier.hpp)
// says it: a typed value, never an HTTP answer. api/ is the one place that
// turns it into a status code and body (broker/api/verification_http.cpp);
// batches decide on it directly (broker/reviews/batch.cpp).
//
//   issued       a new report, signed and audited
//   replayed     a stored report returned again: the same Idempotency-Key,
//                a repeat within the fair-use window, or a read by id
//   running      accepted and still running (asynchronous, or found running)
//   refused      nothing was asked: a field, the jurisdiction, the policy, the
//                authorisation or the Idempotency-Key said no (audited)
//   unavailable  the broker could not go on safely (audit log or state
//                database unwritable or unreadable); nothing was asked, or
//                the report was withheld
//   cancelled    the caller left before the report (no report exists)
//   interrupted  the broker restarted before this verification finished
//   not_found    no such verification for this caller (reads only)
//
// Thread-safety: plain values.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/records.hpp"

namespace hfv::broker {

enum class RefusalReason {
  kInvalidField,            // a field is missing, malformed or out of range
  kInvalidJson,             // the body is not a JSON object
  kTooDeep,                 // JSON nested beyond the limit
  kJurisdictionNotAllowed,  // outside the caller's division-code prefixes
  kNoPolicy,                // no policy for the jurisdiction
  kConsentNotFound,         // no such authorisation for this caller
  kConsentRevoked,
  kConsentNotYetValid,
  kConsentExpired,
  kConsentOtherCase,        // the authorisation is for another case
  kMemberNotCovered,        // a member the authorisation does not name
  kConsentOtherJurisdiction,    // the authorisation is for another jurisdiction
  kConsentWithoutJurisdiction,  // registered before authorisations named one
  kIdempotencyConflict,     // the Idempotency-Key was used for another request
  // Appeals only (Verifier::appeal):
  kInvalidPair,          // a disputed member x source the verification cannot re-query
  kMemberMismatch,       // a disputed member is not the person the verification read
  kAlreadySuperseded,    // the report was superseded by an appeal already
};
// The wire code ("consent_expired", ...; docs/api.md "Errors").
std::string_view refusal_code(RefusalReason reason);
// The reason for a wire code; kInvalidField for a code not listed above.
RefusalReason refusal_reason(std::string_view code);

struct Refusal {
  RefusalReason reason = RefusalReason::kInvalidField;
  std::string field;    // the request field at fault ("" for the whole body)
  std::string message;  // for the caller; never holds personal data
};

enum class Unavailable {
  kAudit,     // the audit log cannot be written
  kState,     // the state database cannot be read or written
  kInternal,  // a stored answer is unreadable
};

// How a stored verification was found (kNew: it was not).
enum class Replay { kNew, kIdempotent, kRepeat, kRead };

// A source that gave no usable answer, and why (batches back off on it).
struct SourceFailure {
  Source source = Source::kBank;
  FailureKind kind = FailureKind::kNone;
};

// What a batch keeps of an issued report (its decision), without the report.
struct ReportSummary {
  std::string outcome;         // the report's "outcome"
  std::string classification;  // the report's "classification" ("" when it has none)
};

struct Outcome {
  enum class Kind { kIssued, kReplayed, kRunning, kRefused, kUnavailable, kCancelled, kInterrupted, kNotFound };
  Kind kind = Kind::kUnavailable;
  Replay replay = Replay::kNew;
  std::string verification_id;  // empty for refusals made before an id was given
  nlohmann::json report;        // kIssued, kReplayed: the signed report (null with VerifyCall::summary_only)
  ReportSummary summary;        // kIssued, kReplayed: the report's decision, always
  Refusal refusal;              // kRefused
  bool refusal_audited = true;  // kRefused: false when the refusal could not be audited
  Unavailable unavailable = Unavailable::kState;  // kUnavailable
  std::string message;          // kUnavailable, kCancelled: what happened, for the caller
  std::vector<SourceFailure> failed_sources;  // kIssued: every failed source query
  // kReplayed: the report an appeal issued in this one's place, if any
  // (answered beside the report, whose signed bytes never change).
  std::string superseded_by;

  static Outcome refused(Refusal r, bool audited) {
    Outcome o;
    o.kind = Kind::kRefused;
    o.refusal = std::move(r);
    o.refusal_audited = audited;
    return o;
  }
  static Outcome unavailable_because(Unavailable what, std::string message, std::string id = {}) {
    Outcome o;
    o.kind = Kind::kUnavailable;
    o.unavailable = what;
    o.message = std::move(message);
    o.verification_id = std::move(id);
    return o;
  }
};

std::string_view outcome_kind_name(Outcome::Kind kind);
// The wire error code of an unavailable verifier ("audit_unavailable", ...).
std::string_view unavailable_code(Unavailable what);
// The wire error code an outcome is answered or recorded with ("" for a
// report): the refusal's code, unavailable_code(), "verification_cancelled", ...
std::string_view outcome_error_code(const Outcome& outcome);

}  // namespace hfv::broker
