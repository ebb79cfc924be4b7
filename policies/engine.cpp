#include "policies/engine.hpp"

#include <algorithm>
#include <set>

namespace hfv::policies {

using nlohmann::json;

std::string_view rule_result_name(RuleResult r) {
  switch (r) {
    case RuleResult::kPass: return "pass";
    case RuleResult::kFail: return "fail";
    case RuleResult::kUnknown: return "unknown";
  }
  return "unknown";
}

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kEligible: return "eligible";
    case Outcome::kIneligible: return "ineligible";
    case Outcome::kIndeterminate: return "indeterminate";
  }
  return "indeterminate";
}

namespace {

// savings-cap-24m (seed 000, 合理核算家庭经济状况): per-capita monetary assets
// must not exceed `months` x the monthly standard. Compared exactly as
// total <= cap_per_capita x members (no division).
RuleTrace savings_cap(const JurisdictionPolicy& policy, const HouseholdInput& h, Decision& d) {
  RuleTrace t;
  t.rule = std::string(kRuleSavingsCap);
  t.clause = policy.seed() + "#savings-cap-24m";
  const auto standard = policy.dibao_standard(h.area, h.reference_date);
  const auto months = policy.savings_cap_months(h.reference_date);
  const auto sources = policy.monetary_sources(h.reference_date);
  if (!standard || !months || !sources) {
    t.result = RuleResult::kUnknown;
    t.explanation = "no parameter in force on " + h.reference_date.to_string();
    return t;
  }
  t.parameters = {standard->provenance, months->provenance, sources->provenance};
  const Money cap_per_capita = standard->value * months->value;
  const auto members = static_cast<std::int64_t>(h.member_count);

  Money known_total;
  std::set<std::string> unknown;
  json per_source = json::object();
  for (Source src : sources->value) {
    Money source_total;
    for (std::size_t m = 0; m < h.member_count; ++m) {
      auto it = std::find_if(h.sources.begin(), h.sources.end(), [&](const SourceResult& r) {
        return r.member_index == m && r.source == src;
      });
      // Not asked, failed or timed out: this member's holdings are unknown.
      if (it == h.sources.end() || !is_known(it->status)) {
        unknown.insert(std::string(source_name(src)));
        continue;
      }
      for (const auto& a : it->records.holdings) source_total += a.amount;
    }
    per_source[std::string(source_name(src))] = source_total.to_string();
    known_total += source_total;
  }
  t.unknown_sources.assign(unknown.begin(), unknown.end());
  t.inputs = {{"members", members},
              {"monetary_assets_known_total", known_total.to_string()},
              {"monetary_assets_by_source", per_source},
              {"savings_cap_per_capita", cap_per_capita.to_string()},
              {"savings_cap_household", (cap_per_capita * members).to_string()}};
  d.figures["monetary_assets_per_capita"] = known_total.divide_round_half_up(members).to_string();
  d.figures["savings_cap_per_capita"] = cap_per_capita.to_string();
  d.figures["standard_monthly"] = standard->value.to_string();

  // Unknown sources can only add assets: a total already over the cap fails.
  if (known_total > cap_per_capita * members) {
    t.result = RuleResult::kFail;
    t.explanation = "monetary assets " + known_total.to_string() + " exceed " +
                    std::to_string(members) + " x " + cap_per_capita.to_string();
  } else if (!unknown.empty()) {
    t.result = RuleResult::kUnknown;
    t.explanation = "assets known so far are within the cap, but some sources did not answer";
  } else {
    t.result = RuleResult::kPass;
    t.explanation = "monetary assets " + known_total.to_string() + " do not exceed " +
                    std::to_string(members) + " x " + cap_per_capita.to_string();
  }
  return t;
}

}  // namespace

Decision evaluate(const JurisdictionPolicy& policy, const HouseholdInput& household) {
  Decision d;
  d.policy_version = policy.version();
  bool any_fail = false;
  bool any_unknown = false;
  for (const auto& rule : policy.rules()) {
    RuleTrace t;
    if (rule == kRuleSavingsCap) t = savings_cap(policy, household, d);
    any_fail |= t.result == RuleResult::kFail;
    any_unknown |= t.result == RuleResult::kUnknown;
    d.rules.push_back(std::move(t));
  }
  if (household.member_count == 0) any_unknown = true;  // nothing to judge
  d.outcome = any_fail ? Outcome::kIneligible
                       : (any_unknown ? Outcome::kIndeterminate : Outcome::kEligible);
  d.classification = d.outcome == Outcome::kEligible ? household.programme : "none";
  return d;
}

json decision_json(const Decision& d) {
  json rules = json::array();
  for (const auto& t : d.rules) {
    json params = json::array();
    for (const auto& p : t.parameters) {
      params.push_back({{"name", p.name}, {"value", p.value}, {"effective_from", p.from.to_string()},
                        {"reference", p.reference}, {"example", p.example}});
    }
    rules.push_back({{"rule", t.rule},
                     {"result", std::string(rule_result_name(t.result))},
                     {"source", t.clause},
                     {"inputs", t.inputs},
                     {"parameters", params},
                     {"unknown_sources", t.unknown_sources},
                     {"explanation", t.explanation}});
  }
  return {{"outcome", std::string(outcome_name(d.outcome))},
          {"classification", d.classification},
          {"figures", d.figures},
          {"rules", rules},
          {"next_review", nullptr},
          {"policy_version", d.policy_version}};
}

}  // namespace hfv::policies
