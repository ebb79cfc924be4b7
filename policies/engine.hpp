// The rule engine: evaluates a household's normalised records against a
// jurisdiction's policy on a reference date for one programme, and explains
// itself rule by rule (inputs, parameters in force with their references,
// clause). Rule ids, clauses and parameters: docs/policy-files.md; the
// decision formula and a hand-recomputed example: docs/worked-example.md.
//
// Fail closed: a rule that reads a source which failed, timed out, was
// denied or not asked is `unknown`, unless the data it has already decides
// it in the direction missing data cannot change (known assets over a cap,
// known income at or over a line: `fail`). The outcome combines the
// programme's rules with three-valued logic: `eligible` only when they pass
// on complete data, `ineligible` when they fail on known data, otherwise
// `indeterminate`. Money is integer fen; comparisons are exact (limits are
// multiplied out, never divided); only displayed per-capita figures and
// amounts paid are rounded, to the nearest fen with halves rounded up.
// Pure functions, thread-safe.
#pragma once

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/records.hpp"
#include "policies/catalogue.hpp"
#include "policies/policy.hpp"

namespace hfv::policies {

enum class RuleResult { kPass, kFail, kUnknown };
std::string_view rule_result_name(RuleResult r);
enum class Outcome { kEligible, kIneligible, kIndeterminate };
std::string_view outcome_name(Outcome o);

// The programmes a household can be verified for; what decides each is the
// table in policies/engine.cpp. Requests, reports and stored reviews carry
// the wire name ("dibao", "marginal", "tekun", "temporary", "expenditure",
// "emergency"). `expenditure` is expenditure-type poverty (支出型贫困) and
// `emergency` is 急难型 temporary assistance; each is decided only where the
// policy lists its rule.
enum class Programme { kDibao, kMarginal, kTekun, kTemporary, kExpenditure, kEmergency };
inline constexpr std::array<Programme, 6> kAllProgrammes = {
    Programme::kDibao,     Programme::kMarginal,    Programme::kTekun,
    Programme::kTemporary, Programme::kExpenditure, Programme::kEmergency};
std::string_view programme_name(Programme p);
std::optional<Programme> parse_programme(std::string_view name);

// What the request says about each member (not from agencies).
struct MemberFacts {
  Date birth_date;                      // from the ID number
  std::string relation;                 // applicant | spouse | child | ...
  std::optional<int> disability_grade;  // 1-4
  std::string disability_kind;          // e.g. intellectual, mental, physical, visual
  bool serious_illness = false;
  bool employed = false;
  std::string labour_capacity;  // full | partial | none | ""
  // 残疾军人 grade (1-10) and 定期抚恤补助的重点优抚对象 (an entitled-group member
  // receiving regular pensions or subsidies); read by single-person-household
  // where the policy covers them (Harbin, seed 000).
  std::optional<int> disabled_serviceman_grade;
  bool entitled_group_pension = false;
};

// Rigid spending the request declares (expenditure-type poverty): the kind
// (hospital_treatment | rehabilitation | chronic_illness | schooling), the
// amount per month or over the whole income window, and the SHA-256 of the
// supporting document (the broker keeps the hash, never the document).
struct RigidSpending {
  std::string kind;
  Money amount;
  bool monthly = true;  // false: the total over the income look-back window
  std::string evidence_sha256;
};

// A 急难型 temporary-assistance case as the case worker declares it: the
// cause (public_emergency | other), the day the hardship began (not after
// the reference date) and the SHA-256 of the supporting document.
struct Emergency {
  std::string cause;
  Date event_date;
  std::string evidence_sha256;
};

// An obligor's (statutory supporter's) household, for the support-fee rule,
// as the case system declares it (docs/api.md `obligors`: declared figures,
// not a verification of the obligors, whose data the applicant's
// authorisation does not cover).
struct ObligorHousehold {
  std::size_t member_count = 1;
  // Monthly disposable income; nullopt when it is not known.
  std::optional<Money> disposable_income_monthly;
  Money rigid_spending_monthly;      // medical, education
  bool receives_assistance = false;  // itself a dibao or marginal household: no fee assessed
  std::string evidence_sha256;       // the supporting document's SHA-256, when given
};

// What the request says about the benefit the household receives now (a
// review of a current recipient). Only dibao is read today: the gradual-exit
// rule applies to a current dibao household whose income rose above the
// standard.
struct CurrentBenefit {
  Programme programme = Programme::kDibao;
  Date since;  // receiving it since; never after the reference date
  // Set when the household is already in a gradual-exit period that ends on
  // this date: the period is continued, never restarted, and after it the
  // rule fails.
  std::optional<Date> gradual_exit_until;
  // Whether the household reported the rise in income itself (seed 002 §5
  // 主动申报停保); nullopt: the request does not say.
  std::optional<bool> self_reported;
  // The monthly amount paid now and the day it was set (both or neither),
  // read by no-readjustment: within a review period a household whose
  // situation has not clearly changed keeps its level.
  std::optional<Money> monthly_amount;
  std::optional<Date> amount_set_on;
};

struct HouseholdInput {
  std::size_t member_count = 0;
  std::vector<MemberFacts> members;  // member_count entries, in request order
  Area area = Area::kUrban;
  Date reference_date;
  // As the request names it (programme_name); a name parse_programme does
  // not know is traced but not decided (outcome indeterminate).
  std::string programme;
  std::vector<SourceResult> sources;  // every member x source asked
  // The benefit the household receives now; nullopt: none (an applicant),
  // so gradual exit cannot apply.
  std::optional<CurrentBenefit> current_benefit;
  // The obligor households the request declares; nullopt: not declared, so
  // a jurisdiction that assesses support fees cannot decide (unknown); an
  // empty list declares that there are none.
  std::optional<std::vector<ObligorHousehold>> obligors;
  // Optional facts the broker does not send yet (defaults are the cautious
  // reading): each member's tekun care level (self_care | half_care |
  // full_care, by member index).
  std::vector<std::string> care_levels;
  // Declared rigid spending (programme expenditure) and the declared
  // emergency (programme emergency); empty / nullopt: not given, so the rule
  // that reads them is unknown.
  std::vector<RigidSpending> rigid_spending;
  std::optional<Emergency> emergency;
};

struct RuleTrace {
  std::string rule;    // stable id, e.g. "savings-cap-24m"
  std::string clause;  // "<document>#<tag>"
  std::string role;    // condition | alternative | classification | adjustment | schedule
  RuleResult result = RuleResult::kUnknown;
  nlohmann::json inputs = nlohmann::json::object();  // money as decimal-yuan strings
  std::vector<Provenance> parameters;
  std::vector<std::string> unknown_sources;  // sources whose failure made it unknown
  std::string explanation;
  bool example = false;  // the rule is not in this jurisdiction's own documents
  std::string note;
};

struct Decision {
  Outcome outcome = Outcome::kIndeterminate;
  std::string programme;  // HouseholdInput::programme
  std::string classification = "none";
  std::map<std::string, std::string> figures;  // decimal-yuan strings
  // For each figure, the parameter values it was computed from.
  std::map<std::string, std::vector<Provenance>> figure_parameters;
  // Every `example` parameter value that decided the outcome: read by the
  // rules that decided it (and the adjustments feeding them), unless the
  // outcome also follows from a rule resting on no example value
  // (docs/policy-files.md, provisional parameters). Empty: the outcome rests
  // on published values only (or was not decided).
  std::vector<Provenance> provisional_parameters;
  std::vector<RuleTrace> rules;
  std::optional<Date> next_review;
  // Last day of the gradual-exit period, for a household classed
  // gradual_exit: the reference date + gradual_exit_period_months, or the
  // end of the period it is already in (CurrentBenefit::gradual_exit_until).
  std::optional<Date> gradual_exit_until;
  // For an eligible 急难型 temporary-assistance household: the reference
  // date + emergency_follow_up_months, after which a household still in
  // hardship may be verified for dibao or tekun (seed 000 三(一)).
  std::optional<Date> follow_up_date;
  std::string basis;  // how the outcome follows from the rules, in words
  std::string policy_version;
  std::string jurisdiction;
};

Decision evaluate(const JurisdictionPolicy& policy, const HouseholdInput& household);

// The report's decision part: outcome, classification, figures with
// figure_parameters, provisional_parameters, rules (each with its inputs,
// parameters and clause), next_review, policy_version.
nlohmann::json decision_json(const Decision& decision);

}  // namespace hfv::policies
