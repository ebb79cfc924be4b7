// Anomaly flags over the audit log, for supervisors (GET /v1/audit/anomalies
// and the console, docs/console.md). Pure logic: detect_anomalies() reads
// records already fetched from the log (see AnomalyInput) and returns flags
// plus the summary counts the console draws as charts. It touches no disk
// and no clock, so every flag is unit-testable with hand-made records.
//
// Flags (kinds), each with the evidence records' sequence numbers:
//   no_authorization  a verification whose authorisation is missing from the
//                     log, revoked before it, or registered for another case
//                     or principal; and refusals for lack of consent
//   repeated_person   one person (member pseudonym) read in >= repeat_cases
//                     distinct cases within the window
//   out_of_hours      verifications outside the configured working hours
//                     (local time = UTC + utc_offset_minutes), per operator-day
//   volume_spike      an operator's verifications on one day above
//                     max(volume_min, volume_factor x their daily mean over
//                     the volume_baseline_days before that day)
//   relative_queried  an operator read a person explicitly linked to them as a
//                     relative in the relations file (never inferred from
//                     names or addresses)
//   refusals          a principal with >= refusals_min refused requests
//
// Thread-safety: plain values and a pure function.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "broker/ops/anomaly_rules.hpp"
#include "common/result.hpp"

namespace hfv::broker {

// The fields of one audit record that the detector reads.
struct AnomalyRecord {
  std::int64_t seq = 0;
  std::string ts;  // UTC RFC 3339 with milliseconds, as in the log
  std::string action, principal, operator_id, case_id, authorization_id, member, source, status;
  // An "agency.answers" record's (source, status) per agency it lists.
  std::vector<std::pair<std::string, std::string>> answers;
};
// From a stored record's merged JSON view (audit::StoredRecord::body).
AnomalyRecord anomaly_record(std::int64_t seq, const std::string& ts, const nlohmann::json& body);

// An explicit link: this operator (of this principal, or of any principal when
// empty) is a relative of the person with this member pseudonym.
struct RelativeLink {
  std::string principal;
  std::string operator_id;
  std::string member;    // pseudonym
  std::string relation;  // as declared, e.g. "spouse"; shown to the supervisor
};

// Reads the relations file. ID numbers in it are turned into pseudonyms by
// `pseudonym` and not kept. Refuses a file readable by others than owner and
// group (it names people). Errors never quote the file's content.
Result<std::vector<RelativeLink>> load_relative_links(
    const std::filesystem::path& file,
    const std::function<std::string(const std::string&)>& pseudonym);

struct AnomalyInput {
  // Sorted by seq. Must hold every record of the kinds the detector reads
  // (verification.request/.subject, agency.answers and the older
  // agency.query, request.refused) with
  // from_ts - volume_baseline_days <= ts < to_ts, and every
  // authorization.register/.revoke before to_ts.
  std::vector<AnomalyRecord> records;
  std::string from_ts, to_ts;  // the window flags are reported for
  std::vector<RelativeLink> links;
};

struct AnomalyFlag {
  std::string kind;      // as listed above
  std::string severity;  // high | medium | low
  std::string principal;
  std::string operator_id;          // may be empty
  std::string subject;              // the person (pseudonym), day or code the flag is about
  std::vector<std::int64_t> seqs;   // evidence, at most kMaxEvidence, ascending
  std::int64_t evidence_count = 0;  // all evidence records, even beyond the cap
  nlohmann::json facts = nlohmann::json::object();  // the numbers that explain it
};

inline constexpr std::size_t kMaxEvidence = 50;

struct AnomalyReport {
  std::vector<AnomalyFlag> flags;  // high first, then by kind and first evidence
  // Chart data: {"bucket": "hour"|"day", "volume_by_principal": {p: {bucket: n}},
  // "volume_by_source": {s: {bucket: n}}, "refusals_by_principal": {p: {code: n}},
  // "agencies": {s: {"total", "failed", "statuses": {status: n}}}}.
  nlohmann::json stats;
};

AnomalyReport detect_anomalies(const AnomalyInput& input, const AnomalyRules& rules);

nlohmann::json anomaly_flag_json(const AnomalyFlag& flag);

}  // namespace hfv::broker
