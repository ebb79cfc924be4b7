// The wire names of a verification's typed outcome (outcome.hpp): kept
// apart from the verifier so that request parsing (request.cpp, also built
// into the fuzz targets) can name a refusal without the verifier.
#include "broker/verification/outcome.hpp"

namespace hfv::broker {

std::string_view refusal_code(RefusalReason reason) {
  switch (reason) {
    case RefusalReason::kInvalidField: return "invalid_field";
    case RefusalReason::kInvalidJson: return "invalid_json";
    case RefusalReason::kTooDeep: return "too_deep";
    case RefusalReason::kJurisdictionNotAllowed: return "jurisdiction_not_allowed";
    case RefusalReason::kNoPolicy: return "no_policy";
    case RefusalReason::kConsentNotFound: return "consent_not_found";
    case RefusalReason::kConsentRevoked: return "consent_revoked";
    case RefusalReason::kConsentNotYetValid: return "consent_not_yet_valid";
    case RefusalReason::kConsentExpired: return "consent_expired";
    case RefusalReason::kConsentOtherCase: return "consent_other_case";
    case RefusalReason::kMemberNotCovered: return "member_not_covered";
    case RefusalReason::kConsentOtherJurisdiction: return "consent_other_jurisdiction";
    case RefusalReason::kConsentWithoutJurisdiction: return "consent_without_jurisdiction";
    case RefusalReason::kIdempotencyConflict: return "idempotency_conflict";
    case RefusalReason::kInvalidPair: return "invalid_pair";
    case RefusalReason::kMemberMismatch: return "member_mismatch";
    case RefusalReason::kAlreadySuperseded: return "already_superseded";
  }
  return "invalid_field";
}

RefusalReason refusal_reason(std::string_view code) {
  for (int i = 0; i <= static_cast<int>(RefusalReason::kAlreadySuperseded); ++i) {
    const auto reason = static_cast<RefusalReason>(i);
    if (refusal_code(reason) == code) return reason;
  }
  return RefusalReason::kInvalidField;
}

std::string_view outcome_kind_name(Outcome::Kind kind) {
  switch (kind) {
    case Outcome::Kind::kIssued: return "issued";
    case Outcome::Kind::kReplayed: return "replayed";
    case Outcome::Kind::kRunning: return "running";
    case Outcome::Kind::kRefused: return "refused";
    case Outcome::Kind::kUnavailable: return "unavailable";
    case Outcome::Kind::kCancelled: return "cancelled";
    case Outcome::Kind::kInterrupted: return "interrupted";
    case Outcome::Kind::kNotFound: return "not_found";
  }
  return "unavailable";
}

std::string_view unavailable_code(Unavailable what) {
  switch (what) {
    case Unavailable::kAudit: return "audit_unavailable";
    case Unavailable::kState: return "state_unavailable";
    case Unavailable::kInternal: return "internal_error";
  }
  return "internal_error";
}

std::string_view outcome_error_code(const Outcome& o) {
  switch (o.kind) {
    case Outcome::Kind::kRefused: return refusal_code(o.refusal.reason);
    case Outcome::Kind::kUnavailable: return unavailable_code(o.unavailable);
    case Outcome::Kind::kCancelled: return "verification_cancelled";
    case Outcome::Kind::kInterrupted: return "verification_interrupted";
    case Outcome::Kind::kRunning: return "verification_running";
    case Outcome::Kind::kNotFound: return "not_found";
    case Outcome::Kind::kIssued:
    case Outcome::Kind::kReplayed: return "";
  }
  return "internal_error";
}

}  // namespace hfv::broker
