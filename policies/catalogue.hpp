// The catalogue of what this build knows: rule ids (in evaluation order),
// the clauses each rule may cite, the parameters each rule needs, and the
// parameter schema (type and range of every key a policy file may hold).
// The loader validates files against it; the engine evaluates the rules it
// names. Constant data, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hfv::policies {

// Bump whenever a rule's code changes meaning; it is part of policy_version.
inline constexpr std::string_view kEngineVersion = "e4";

// Rule ids (stable; they appear in every report). Named after the digest
// (shared/docs/policy-rules.md); a jurisdiction's figures are parameters, so
// e.g. Shanghai applies `marginal-1.5` with its multiple 2.
inline constexpr std::string_view kRuleSavingsCap = "savings-cap-24m";
inline constexpr std::string_view kRuleDisabilityVehicle = "disability-vehicle";
inline constexpr std::string_view kRuleVehicles = "vehicle-ownership";
inline constexpr std::string_view kRuleRealEstate = "real-estate";
inline constexpr std::string_view kRuleBusiness = "business-capital";
inline constexpr std::string_view kRuleHouseholdComposition = "household-composition";
inline constexpr std::string_view kRuleBasicPension = "basic-pension-exempt";
inline constexpr std::string_view kRuleRoadRelief = "one-off-road-relief";
inline constexpr std::string_view kRuleEmploymentCost = "employment-cost";
inline constexpr std::string_view kRuleSupportFee = "support-fee";
inline constexpr std::string_view kRuleDibaoIncome = "dibao-income";
inline constexpr std::string_view kRuleMarginal = "marginal-1.5";
inline constexpr std::string_view kRuleGradualExit = "gradual-exit";
inline constexpr std::string_view kRuleSinglePerson = "single-person-household";
inline constexpr std::string_view kRuleExpenditurePoverty = "expenditure-poverty";
inline constexpr std::string_view kRuleSupplement = "supplement-15";
inline constexpr std::string_view kRuleNoReadjustment = "no-readjustment";
inline constexpr std::string_view kRuleTekun = "tekun-1.3";
inline constexpr std::string_view kRuleTekunAge = "tekun-age-18";
inline constexpr std::string_view kRuleEmergency = "emergency-temporary";
inline constexpr std::string_view kRuleReview = "review-cycle";

enum class ParamKind { kMoney, kInteger, kRatio, kText, kBool, kList, kCycles, kArea };

struct ParamSpec {
  std::string_view name;  // "group.key" for grouped parameters
  ParamKind kind;
  std::int64_t min = 0;  // integers: range; money: max in yuan (0 = default cap)
  std::int64_t max = 0;
  std::vector<std::string_view> allowed;  // text / list / cycle categories
};

struct RuleSpec {
  std::string_view id;
  std::vector<std::string_view> clauses;      // the clauses this rule may cite
  std::vector<std::string_view> needs;        // parameters that must be in the file
  std::vector<std::string_view> needs_rules;  // rules that must be listed too
};

// The kinds of disability a request may name (disability_kind), after the
// categories of GB/T 26341-2010 残疾人残疾分类和分级: 视力 visual, 听力 hearing,
// 言语 speech, 肢体 physical, 智力 intellectual, 精神 mental, 多重 multiple.
// Policy files name a kind and grade as "<kind>-<grade>" (grades 1-4).
const std::vector<std::string_view>& disability_kinds();
bool is_disability_kind(std::string_view kind);

const std::vector<ParamSpec>& param_specs();
const ParamSpec* find_param_spec(std::string_view name);
// Every rule, in evaluation (and trace) order.
const std::vector<RuleSpec>& rule_specs();
const RuleSpec* find_rule_spec(std::string_view id);
// Rules every policy file must list.
const std::vector<std::string_view>& mandatory_rules();
// Parameters re-published periodically (the dibao standard is reset every
// year, the minimum wage at least every two years): a file holding one must
// give every value a validity horizon (stale_after_months or valid_until),
// so an old value is never used after its time.
const std::vector<std::string_view>& periodic_parameters();

}  // namespace hfv::policies
