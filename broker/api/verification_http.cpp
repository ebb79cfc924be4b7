#include "broker/api/verification_http.hpp"

#include "broker/api/service_internal.hpp"

namespace hfv::broker {

using detail::error_response;

unsigned http_status(RefusalReason reason) {
  switch (reason) {
    case RefusalReason::kInvalidField:
    case RefusalReason::kInvalidJson:
    case RefusalReason::kTooDeep:
    case RefusalReason::kNoPolicy: return 400;
    case RefusalReason::kJurisdictionNotAllowed:
    case RefusalReason::kConsentNotFound:
    case RefusalReason::kConsentRevoked:
    case RefusalReason::kConsentNotYetValid:
    case RefusalReason::kConsentExpired:
    case RefusalReason::kConsentOtherCase:
    case RefusalReason::kMemberNotCovered:
    case RefusalReason::kConsentOtherJurisdiction:
    case RefusalReason::kConsentWithoutJurisdiction: return 403;
    case RefusalReason::kIdempotencyConflict:
    case RefusalReason::kAlreadySuperseded: return 409;
    case RefusalReason::kInvalidPair:
    case RefusalReason::kMemberMismatch: return 422;
  }
  return 400;
}

std::string refusal_status_text(RefusalReason reason) {
  return std::to_string(http_status(reason)) + " " + std::string(refusal_code(reason));
}

unsigned appeal_http_status(std::string_view code) {
  if (code == "not_found") return 404;
  if (code == "no_report" || code == "archive_missing" || code == "no_policy") return 409;
  if (code == "archive_tampered" || code == "archive_unreadable") return 500;
  if (code == "invalid_field" || code == "invalid_json" || code == "too_deep") return 400;
  return http_status(refusal_reason(code));  // the consent checks' and the appeal's own codes
}

std::string appeal_refusal_status_text(std::string_view code) {
  return std::to_string(appeal_http_status(code)) + " " + std::string(code);
}

unsigned peer_http_status(std::string_view code) {
  return code == "invalid_field" || code == "invalid_json" || code == "too_deep" ? 400 : 403;
}

std::string peer_refusal_status_text(std::string_view code) {
  return std::to_string(peer_http_status(code)) + " " + std::string(code);
}

namespace {

ApiResponse running_answer(const Outcome& o) {
  ApiResponse r{202, {{"verification_id", o.verification_id}, {"status", "running"}}, {}};
  r.headers.emplace_back("Location", "/v1/verifications/" + o.verification_id);
  if (o.replay != Replay::kNew) r.headers.emplace_back("Retry-After", "1");  // found running: poll
  return r;
}

ApiResponse unavailable_answer(const Outcome& o) {
  const unsigned status = o.unavailable == Unavailable::kInternal ? 500 : 503;
  ApiResponse r = error_response(status, std::string(outcome_error_code(o)), o.message);
  if (!o.verification_id.empty()) r.headers.emplace_back("X-HFV-Verification-Id", o.verification_id);
  return r;
}

}  // namespace

ApiResponse http_answer(const Outcome& o) {
  switch (o.kind) {
    case Outcome::Kind::kIssued:
    case Outcome::Kind::kReplayed: {
      ApiResponse r{200, o.report, {}};
      r.headers.emplace_back("X-HFV-Verification-Id", o.verification_id);
      if (o.replay == Replay::kRepeat) r.headers.emplace_back("X-HFV-Repeat-Of", o.verification_id);
      // Beside the report, never in it: its signed bytes stay as issued.
      if (!o.superseded_by.empty()) r.headers.emplace_back("X-HFV-Superseded-By", o.superseded_by);
      return r;
    }
    case Outcome::Kind::kRunning: return running_answer(o);
    case Outcome::Kind::kRefused: {
      ApiResponse r = error_response(http_status(o.refusal.reason), std::string(outcome_error_code(o)),
                                     o.refusal.message, o.refusal.field);
      if (!o.refusal_audited) r.body["audit"] = "unavailable";
      return r;
    }
    case Outcome::Kind::kUnavailable: return unavailable_answer(o);
    case Outcome::Kind::kCancelled:
      // Found cancelled: gone for good (410). Cancelled now, because the
      // caller left: nobody reads the answer; the status is for the access
      // log only (nginx's 499 "client closed request").
      return error_response(o.replay == Replay::kNew ? 499 : 410, std::string(outcome_error_code(o)), o.message);
    case Outcome::Kind::kInterrupted:
      return error_response(503, std::string(outcome_error_code(o)),
                            "the broker restarted before this verification finished; submit it again");
    case Outcome::Kind::kNotFound: return error_response(404, "not_found", "no such verification");
  }
  return error_response(500, "internal_error", "unknown outcome");
}

}  // namespace hfv::broker
