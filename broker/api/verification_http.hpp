// The verifier's outcomes as HTTP answers (docs/api.md "Verifications",
// "Errors"): the one place that gives a verification its status code.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "broker/api/service.hpp"
#include "broker/verification/outcome.hpp"

namespace hfv::broker {

// 400, 403, 409 or 422.
unsigned http_status(RefusalReason reason);
// "403 consent_expired": a refusal's status in its audit record
// (docs/audit-log-format.md), for VerifierParts::refusal_status.
std::string refusal_status_text(RefusalReason reason);
ApiResponse http_answer(const Outcome& outcome);

// An appeal's refusal codes (broker/verification/verifier.hpp,
// AppealOutcome): 400, 403, 404, 409, 422 or 500; and as its audit record's
// status ("422 member_mismatch"), for VerifierParts::appeal_refusal_status.
unsigned appeal_http_status(std::string_view code);
std::string appeal_refusal_status_text(std::string_view code);

// A peer query's refusal codes (PeerOutcome): 400 or 403; and as its audit
// record's status, for VerifierParts::peer_refusal_status.
unsigned peer_http_status(std::string_view code);
std::string peer_refusal_status_text(std::string_view code);

}  // namespace hfv::broker
