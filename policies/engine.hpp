// The rule engine: evaluates a household's normalised records against a
// jurisdiction's policy on a reference date, and explains itself rule by
// rule (inputs, parameters in force with their references, clause).
//
// Fail closed: a rule whose inputs include a source that failed, timed out
// or was not asked yields `unknown`; the outcome is `indeterminate` unless a
// rule already fails on complete data (then `ineligible`). A household is
// `eligible` only when every rule the policy applies passes on complete data.
// Pure functions, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/records.hpp"
#include "policies/policy.hpp"

namespace hfv::policies {

enum class RuleResult { kPass, kFail, kUnknown };
std::string_view rule_result_name(RuleResult r);
enum class Outcome { kEligible, kIneligible, kIndeterminate };
std::string_view outcome_name(Outcome o);

// What the request says about each member (not from agencies).
struct MemberFacts {
  Date birth_date;              // from the ID number
  std::string relation;         // applicant | spouse | child | ...
  std::optional<int> disability_grade;  // 1-4
  std::string disability_kind;  // e.g. intellectual, mental, physical
  bool serious_illness = false;
  bool employed = false;
  std::string labour_capacity;  // full | partial | none | ""
};

struct HouseholdInput {
  std::size_t member_count = 0;
  std::vector<MemberFacts> members;  // member_count entries, in request order
  Area area = Area::kUrban;
  Date reference_date;
  std::string programme;              // dibao | marginal | tekun | temporary
  std::vector<SourceResult> sources;  // every member x source asked
};

struct RuleTrace {
  std::string rule;    // stable id, e.g. "savings-cap-24m"
  std::string clause;  // "<seed file>#<tag>"
  RuleResult result = RuleResult::kUnknown;
  nlohmann::json inputs;  // money as decimal-yuan strings
  std::vector<Provenance> parameters;
  std::vector<std::string> unknown_sources;  // sources whose failure made it unknown
  std::string explanation;
};

struct Decision {
  Outcome outcome = Outcome::kIndeterminate;
  std::string classification = "none";
  std::map<std::string, std::string> figures;  // decimal-yuan strings
  std::vector<RuleTrace> rules;
  std::string policy_version;
};

Decision evaluate(const JurisdictionPolicy& policy, const HouseholdInput& household);

// The report's decision part: outcome, classification, figures, rules (each
// with its inputs, parameters and clause), next_review, policy_version.
nlohmann::json decision_json(const Decision& decision);

// Rule ids.
inline constexpr std::string_view kRuleSavingsCap = "savings-cap-24m";

}  // namespace hfv::policies
