// The verifier's outcomes as HTTP answers (docs/api.md "Verifications",
// "Errors"): the one place that gives a verification its status code.
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "broker/api/service.hpp"
#include "broker/verification/outcome.hpp"

namespace hfv::broker {

// 400, 403 or 409.
unsigned http_status(RefusalReason reason);
// "403 consent_expired": a refusal's status in its audit record
// (docs/audit-log-format.md), for VerifierParts::refusal_status.
std::string refusal_status_text(RefusalReason reason);
ApiResponse http_answer(const Outcome& outcome);

}  // namespace hfv::broker
