// The input archive: what an issued report's decision rested on, kept so the
// decision can be evaluated again (docs/replay-and-what-if.md). For every
// issued report the verifier stores, with the report and under the same
// retention (broker/store/report_store.hpp), the engine's input as
// policies/household_json.hpp writes it (normalised agency records and the
// request's facts; never a raw answer, an ID number or a name), and the
// report names the archive's SHA-256 in `inputs_sha256` (signed with the
// rest). The policy file the report's `policy_version` names is kept too,
// once per version, so a replay uses the rules the decision used after a
// reload, a restart or offline from a backup.
//
// Archived text (format hfv-inputs/v1), canonical JSON:
//   {"format": "hfv-inputs/v1", "verification_id", "jurisdiction" (the
//    household's), "policy_jurisdiction" (the code of the policy file that
//    decided, maybe its city or province), "policy_version", "household"}
// inputs_sha256 = lowercase hex SHA-256 of exactly those bytes.
//
// replay_stored() is the whole replay, pure, shared by the daemon
// (GET /v1/verifications/{id}/replay) and `brokerctl report replay`: it
// fails loudly (an error, never `identical: false`) when the archive is not
// the one the report names, cannot be read, or the policy version cannot be
// loaded as it was. Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "broker/store/report_store.hpp"
#include "broker/verification/report_key_history.hpp"
#include "common/result.hpp"
#include "policies/engine.hpp"
#include "policies/policy.hpp"

namespace hfv::broker {

inline constexpr std::string_view kInputsFormat = "hfv-inputs/v1";

// The archived text of one decision's input.
std::string archive_text(const std::string& verification_id, const std::string& jurisdiction,
                         const policies::JurisdictionPolicy& policy,
                         const policies::HouseholdInput& household);
// Lowercase hex SHA-256 of the archived text (the report's inputs_sha256).
std::string inputs_sha256(std::string_view text);

struct ReplayAnswer {
  bool identical = false;
  std::string policy_version;
  // One entry per difference: {"field": "outcome" | "classification" |
  // "figures.<name>" | "rules[<i>].result" | ..., "report": ..., "replay": ...}
  nlohmann::json differences = nlohmann::json::array();
};

// Field-by-field differences between a report's decision part and a
// decision_json() of another evaluation (the ReplayAnswer's `differences`);
// rules are compared one by one, in order.
nlohmann::json decision_differences(const nlohmann::json& report, const nlohmann::json& evaluated);

// What a stored report's decision rested on, opened only if it is what was
// issued: the stored report and the archive row open (not edited, moved or
// sealed under another key), the stored report's signature verifies with the key of `history`
// its key_id names (not checked when `history` is null), the archived
// text's digest is the report's inputs_sha256, its format hfv-inputs/v1,
// its verification id, policy version and jurisdiction the report's. `report` is the
// stored report, parsed. One check for everyone who reads an archive — a
// replay, a what-if (broker/reviews/what_if.hpp), an appeal (the verifier)
// — in this order. Errors (code, message without personal data):
//   archive_tampered    the report or the row does not open, the signature fails, or the
//                       archived text is not the one the report names
//   archive_missing     the report names no inputs_sha256 (issued before
//                       the archive existed) or no archive row was found
//   archive_unreadable  it is the one named, but not in a format this
//                       build reads
// or the household parser's.
struct OpenedArchive {
  nlohmann::json document;  // the whole archived text, parsed
  policies::HouseholdInput household;
};
Result<OpenedArchive> open_stored_archive(const ArchivedVerification& found, const nlohmann::json& report,
                                          const ReportKeyHistory* history);

// Evaluates an opened archive again with `policy_content` (the archived
// policy file of the report's version) and compares the decision with
// `report`: outcome, classification, figures and every rule (its result,
// inputs and parameters), the review and exit dates, the basis and
// policy_version. Error policy_unavailable: the policy file of the
// report's version is not archived, or loading it now gives another
// version (e.g. the engine's rules changed since).
Result<ReplayAnswer> replay_decision(const nlohmann::json& report, const OpenedArchive& opened,
                                     const std::string& policy_content);

// The replay of a stored verification, as the daemon and `brokerctl report
// replay` do it: open_stored_archive() then replay_decision(). Loud (an
// error, never `identical: false`) whenever the archive or the report is
// not what was issued.
Result<ReplayAnswer> replay_stored(const ArchivedVerification& found, const nlohmann::json& report,
                                   const ReportKeyHistory* history);

}  // namespace hfv::broker
