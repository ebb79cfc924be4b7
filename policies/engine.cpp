#include "policies/engine.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policies/rules/eval.hpp"

namespace hfv::policies {

using nlohmann::json;

std::string_view rule_result_name(RuleResult r) {
  switch (r) {
    case RuleResult::kPass:
      return "pass";
    case RuleResult::kFail:
      return "fail";
    case RuleResult::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kEligible:
      return "eligible";
    case Outcome::kIneligible:
      return "ineligible";
    case Outcome::kIndeterminate:
      return "indeterminate";
  }
  return "indeterminate";
}

// The rules and helpers evaluate() combines: policies/rules/eval.hpp.
using rules::age_on;
using rules::business;
using rules::compute_income;
using rules::dibao_income;
using rules::div_round;
using rules::Eval;
using rules::gradual_exit;
using rules::Income;
using rules::Line;
using rules::marginal;
using rules::R;
using rules::real_estate;
using rules::review;
using rules::savings_cap;
using rules::single_person;
using rules::single_person_members;
using rules::supplement_members;
using rules::tekun;
using rules::vehicles;
using rules::Wide;
using rules::wide;

namespace {

R all_of(const std::vector<R>& rs) {
  bool unknown = false;
  for (R r : rs) {
    if (r == R::kFail) return R::kFail;
    unknown |= r == R::kUnknown;
  }
  return unknown ? R::kUnknown : R::kPass;
}

R any_of(const std::vector<R>& rs) {
  bool unknown = false;
  for (R r : rs) {
    if (r == R::kPass) return R::kPass;
    unknown |= r == R::kUnknown;
  }
  return unknown ? R::kUnknown : R::kFail;
}
}  // namespace

Decision evaluate(const JurisdictionPolicy& policy, const HouseholdInput& h) {
  Decision d;
  d.policy_version = policy.version();
  d.jurisdiction = policy.jurisdiction();
  d.programme = h.programme;
  const auto standard = policy.dibao_standard(h.area, h.reference_date);
  if (!standard || h.member_count == 0 || h.members.size() != h.member_count) {
    RuleTrace t;
    t.rule = std::string(kRuleDibaoIncome);
    t.clause = policy.rule(kRuleDibaoIncome)->clause;
    t.role = "condition";
    t.explanation =
        !standard ? "no dibao standard in force for this area on " + h.reference_date.to_string()
                  : "no household members to judge";
    d.basis = t.explanation;
    d.rules.push_back(std::move(t));
    return d;
  }
  Eval e{policy, h, h.reference_date, d, standard->value, standard->provenance, h.member_count};
  d.figures["standard_monthly"] = e.standard.to_string();
  const std::string& prog = h.programme;
  const bool is_dibao = prog == "dibao";

  std::vector<RuleTrace> traces;
  // Assets.
  traces.push_back(savings_cap(e));
  if (policy.applies(kRuleVehicles)) vehicles(e, traces);
  if (policy.applies(kRuleRealEstate)) traces.push_back(real_estate(e));
  if (policy.applies(kRuleBusiness)) traces.push_back(business(e));
  // Income.
  std::vector<RuleTrace> adjustments;
  RuleTrace dibao_t =
      e.start(kRuleDibaoIncome, prog == "dibao" || prog == "temporary" ? "alternative"
                                : prog == "marginal"                   ? "classification"
                                                                       : "condition");
  const Income in = compute_income(e, dibao_t, adjustments);
  for (auto& a : adjustments) traces.push_back(std::move(a));
  traces.push_back(dibao_income(e, std::move(dibao_t), in));
  const R dibao_r = traces.back().result;
  d.figures["income_per_capita_monthly"] =
      in.ok ? div_round(in.counted(), in.months * wide(e.n)).to_string() : "";
  if (!in.ok) d.figures.erase("income_per_capita_monthly");

  std::optional<Line> marginal_line;
  const std::string marginal_role = prog == "marginal"    ? "condition"
                                    : prog == "temporary" ? "alternative"
                                                          : "classification";
  RuleTrace marginal_t = marginal(e, in, marginal_role, marginal_line);
  const R marginal_r = marginal_t.result;
  traces.push_back(marginal_t);
  R gradual_r = R::kFail, single_r = R::kFail;
  if (is_dibao && policy.applies(kRuleGradualExit)) {
    traces.push_back(gradual_exit(e, in));
    gradual_r = traces.back().result;
  }
  if (is_dibao && policy.applies(kRuleSinglePerson)) {
    traces.push_back(single_person(e, marginal_t));
    single_r = traces.back().result;
  }
  if (prog == "tekun" && policy.applies(kRuleTekun))
    traces.push_back(tekun(e, policy.applies(kRuleTekunAge)));
  if (prog == "tekun" && policy.applies(kRuleTekunAge)) {
    RuleTrace t = e.start(kRuleTekunAge, "adjustment");
    if (const auto age = e.need(t, policy.integer("tekun_minor_age", e.on), "tekun_minor_age")) {
      json minors = json::array();
      for (std::size_t m = 0; m < e.n; ++m) {
        if (age_on(h.members[m].birth_date, e.on) < age->value) minors.push_back(m);
      }
      t.inputs = {{"members_under_age", minors}};
      t.result = R::kPass;
      t.explanation = minors.empty() ? "no member under " + std::to_string(age->value)
                                     : "members under " + std::to_string(age->value) +
                                           " count as lacking labour capacity for tekun";
    }
    traces.push_back(std::move(t));
  }

  // Outcome: AND of conditions, and OR of alternatives when there are any.
  std::vector<R> conditions, alternatives;
  for (const auto& t : traces) {
    if (t.role == "condition") conditions.push_back(t.result);
    if (t.role == "alternative") alternatives.push_back(t.result);
  }
  R overall = R::kUnknown;
  const bool known_programme = prog == "dibao" || prog == "marginal" || prog == "temporary" ||
                               (prog == "tekun" && policy.applies(kRuleTekun));
  if (known_programme) {
    std::vector<R> all = conditions;
    if (!alternatives.empty()) all.push_back(any_of(alternatives));
    overall = all_of(all);
  }
  d.outcome = overall == R::kPass
                  ? Outcome::kEligible
                  : (overall == R::kFail ? Outcome::kIneligible : Outcome::kIndeterminate);
  std::vector<R> property;
  for (const auto& t : traces) {
    if (t.role == "condition" && t.rule != kRuleDibaoIncome && t.rule != kRuleMarginal &&
        t.rule != kRuleTekun) {
      property.push_back(t.result);
    }
  }
  const R property_r = all_of(property);

  // Classification and benefit.
  const Wide gap_window = wide(e.standard) * in.months * wide(e.n) - in.counted();
  std::vector<std::size_t> supplemented;
  std::optional<Money> benefit;
  if (d.outcome == Outcome::kEligible) {
    if (is_dibao) {
      if (dibao_r == R::kPass) {
        d.classification = "dibao";
        benefit = div_round(gap_window, in.months);
        for (std::size_t m = 0; m < e.n; ++m) supplemented.push_back(m);
        d.basis =
            "assets pass and per-capita income is within the standard: benefit = members x "
            "standard - "
            "household monthly income (gap method), plus supplements";
      } else if (gradual_r == R::kPass) {
        d.classification = "gradual_exit";
        d.basis =
            "employed dibao household whose income rose above the standard: gradual exit period; "
            "the "
            "amount paid during it is set by the case system";
      } else if (single_r == R::kPass) {
        d.classification = "single_person_household";
        Wide total = 0;
        for (std::size_t m : single_person_members(e)) {
          total += std::max<Wide>(0, wide(e.standard) * in.months - in.member_counted[m]);
          supplemented.push_back(m);
        }
        benefit = div_round(total, in.months);
        d.basis =
            "marginal household: seriously ill or severely disabled members covered alone; benefit "
            "= "
            "standard - own monthly income for each, plus supplements";
      }
    } else if (prog == "marginal") {
      d.classification = "marginal";
      d.basis =
          "assets pass and per-capita income is above the standard and below the marginal line; "
          "the "
          "fixed marginal-household allowance is set by the case system";
    } else if (prog == "temporary") {
      d.classification = dibao_r == R::kPass ? "dibao" : "marginal";
      d.basis =
          "financial test for temporary assistance met (low-income household); the amount is "
          "decided "
          "case by case";
    } else if (prog == "tekun") {
      d.classification = "tekun";
      d.basis = "tekun: no labour capacity (or minor), income within the standard, assets pass";
    }
  } else {
    if (property_r == R::kPass && marginal_r == R::kPass) d.classification = "marginal";
    if (prog == "marginal" && property_r == R::kPass && dibao_r == R::kPass)
      d.classification = "dibao";
    d.basis = d.outcome == Outcome::kIneligible
                  ? "a condition fails on known data (see rules with result fail)"
                  : (known_programme
                         ? "a rule that could change the outcome is unknown (see unknown_sources)"
                         : "programme '" + prog + "' is not evaluated by this policy");
    if (d.outcome == Outcome::kIneligible) benefit = Money{};
  }
  // supplement-15: once per qualifying member of a dibao household.
  if (is_dibao && policy.applies(kRuleSupplement)) {
    RuleTrace t = e.start(kRuleSupplement, "adjustment");
    t.parameters.push_back(e.standard_prov);
    const auto share = e.need(t, policy.ratio("supplement_share", e.on), "supplement_share");
    const auto age =
        e.need(t, policy.integer("supplement_elderly_age", e.on), "supplement_elderly_age");
    if (share && age) {
      const auto qualifying = supplement_members(e, age->value);
      const Money each = share->value.of(e.standard);
      Money total;
      json paid = json::array();
      for (std::size_t m : qualifying) {
        if (std::find(supplemented.begin(), supplemented.end(), m) == supplemented.end()) continue;
        total += each;
        paid.push_back(m);
      }
      t.inputs = {{"qualifying_members", qualifying},
                  {"paid_for_members", paid},
                  {"per_member", each.to_string()},
                  {"total", total.to_string()}};
      t.result = R::kPass;
      t.explanation = paid.empty()
                          ? "no supplement paid (no qualifying member in a dibao household)"
                          : std::to_string(paid.size()) + " x " + share->value.text + " x " +
                                e.standard.to_string() + " = " + total.to_string();
      if (benefit && !paid.empty()) *benefit += total;
    }
    traces.push_back(std::move(t));
  }
  if (prog == "tekun" && policy.applies(kRuleTekun)) {
    auto& t = *std::find_if(traces.begin(), traces.end(),
                            [](const RuleTrace& x) { return x.rule == kRuleTekun; });
    const auto k = e.need(t, policy.ratio("tekun_basic_multiple", e.on), "tekun_basic_multiple");
    const auto wage = e.need(t, policy.money("minimum_wage_monthly", e.on), "minimum_wage_monthly");
    if (k && wage) {
      const Money basic = k->value.of(e.standard);
      t.inputs["basic_standard_per_person"] = basic.to_string();
      json care = json::object();
      for (const char* level : {"self_care", "half_care", "full_care"}) {
        const std::string name = std::string("tekun_care_share.") + level;
        if (auto s = e.need(t, policy.ratio(name, e.on), name.c_str())) {
          care[level] = s->value.of(wage->value).to_string();
        }
      }
      t.inputs["care_standard"] = care;
      if (d.outcome == Outcome::kEligible) {
        Money total = basic * static_cast<std::int64_t>(e.n);
        bool care_missing = false;
        for (std::size_t m = 0; m < e.n; ++m) {
          const std::string level = m < h.care_levels.size() ? h.care_levels[m] : "";
          if (care.contains(level)) {
            total += *Money::parse(care[level].get<std::string>());
          } else {
            care_missing = true;
          }
        }
        benefit = total;
        if (care_missing)
          d.basis += "; care standard not included for members without a care level";
      }
    }
  }
  if (benefit) d.figures["benefit_monthly"] = benefit->to_string();
  if (in.ok) d.figures["income_household_monthly"] = div_round(in.counted(), in.months).to_string();

  // Trace in the catalogue's order; review last.
  traces.push_back(review(e, in, in.ok && in.complete()));
  for (const auto& spec : rule_specs()) {
    for (auto& t : traces) {
      if (t.rule == spec.id) d.rules.push_back(std::move(t));
    }
  }
  return d;
}

}  // namespace hfv::policies
