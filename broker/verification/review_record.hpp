// What a completed verification leaves for later reviews: its review record
// (broker/store/review_store.hpp) — outcome, classification, per-capita
// figures in fen, masked holdings, failed sources, when it is next due.
// Kept apart from I/O so it is unit-testable.
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
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
// The request's `obligors` array again, as docs/api.md writes it.
nlohmann::json obligors_json(const std::vector<policies::ObligorHousehold>& obligors);

// The record of a verification. For an eligible dibao household classed
// dibao or gradual_exit, benefit_since is the request's current_benefit.since,
// else the record's reference date: so the first of consecutive dibao
// records sets it and each due-by review carries it forward.
ReviewRecord review_record_of(const std::string& verification_id, const std::string& principal,
                              const VerificationRequest& request, const policies::Decision& decision,
                              const std::vector<SourceResult>& sources, const std::string& batch_id);

// The `current_benefit` a due-by review sends for the household whose
// latest record is `previous`, or nullopt (not receiving dibao): set when
// that record is an eligible dibao verification classed dibao, or classed
// gradual_exit with its period not over on `today` (then it carries
// gradual_exit_until, so the period is continued, not restarted). since =
// the record's benefit_since (the earliest of its consecutive dibao
// records), else, for records written before that was kept, its reference
// date.
std::optional<nlohmann::json> current_benefit_of(const ReviewRecord& previous, const Date& today);

}  // namespace hfv::broker
