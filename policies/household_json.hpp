// The engine's input as JSON: what a decision rested on, archived with each
// issued report (broker/verification/input_archive.hpp) so the decision can
// be evaluated again (replay; later what-if and appeals). Exactly the
// HouseholdInput fields the engine reads: the request's facts per member
// (birth date, not the ID number), and per member and source the status and
// normalised records; no raw agency answer, no timing, no evidence digest
// of an answer. Money is integer fen, dates "YYYY-MM-DD".
//
// parse_household_input(household_input_json(h)) gives back h, field for
// field, and the JSON is canonical (same input, same bytes), so its digest
// names the input. The parser is strict: any missing, mistyped or unknown
// value fails with the key named. Pure functions, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "policies/engine.hpp"

namespace hfv::policies {

nlohmann::json household_input_json(const HouseholdInput& household);
Result<HouseholdInput> parse_household_input(const nlohmann::json& document);

// One source's normalised records, in the same form and as strictly (a
// peer broker's answer carries them: docs/cross-region.md). Errors:
// records_unreadable, naming the key under `path`.
nlohmann::json normalised_records_json(const NormalisedRecords& records);
Result<NormalisedRecords> parse_normalised_records(const nlohmann::json& document, const std::string& path);
// A status by its wire name (status_name), or nothing.
std::optional<SourceStatus> parse_source_status(std::string_view name);

}  // namespace hfv::policies
