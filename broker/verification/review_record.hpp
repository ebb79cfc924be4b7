// What a completed verification leaves for later reviews: its review record
// (broker/store/review_store.hpp) — outcome, classification, per-capita
// figures in fen, masked holdings, failed sources, when it is next due.
// Kept apart from I/O so it is unit-testable.
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "broker/store/review_store.hpp"
#include "broker/verification/request.hpp"
#include "common/records.hpp"
#include "policies/engine.hpp"

namespace hfv::broker {

// The request's members as JSON, in the request's own field names, so a
// due-by review can send them again.
nlohmann::json members_json(const std::vector<Member>& members);

ReviewRecord review_record_of(const std::string& verification_id, const std::string& principal,
                              const VerificationRequest& request, const policies::Decision& decision,
                              const std::vector<SourceResult>& sources, const std::string& batch_id);

}  // namespace hfv::broker
