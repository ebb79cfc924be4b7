#include "policies/engine.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
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

std::string_view programme_name(Programme p) {
  switch (p) {
    case Programme::kDibao:
      return "dibao";
    case Programme::kMarginal:
      return "marginal";
    case Programme::kTekun:
      return "tekun";
    case Programme::kTemporary:
      return "temporary";
    case Programme::kExpenditure:
      return "expenditure";
    case Programme::kEmergency:
      return "emergency";
  }
  return "dibao";
}

std::optional<Programme> parse_programme(std::string_view name) {
  for (Programme p : kAllProgrammes) {
    if (programme_name(p) == name) return p;
  }
  return std::nullopt;
}

// The rules and helpers evaluate() combines: policies/rules/eval.hpp.
using rules::business;
using rules::compute_income;
using rules::dibao_income;
using rules::div_round;
using rules::emergency_temporary;
using rules::Eval;
using rules::expenditure_poverty;
using rules::gradual_exit;
using rules::household_composition;
using rules::Income;
using rules::Line;
using rules::marginal;
using rules::no_readjustment;
using rules::R;
using rules::real_estate;
using rules::review;
using rules::Role;
using rules::role_name;
using rules::savings_cap;
using rules::single_person;
using rules::single_person_members;
using rules::supplement;
using rules::tekun;
using rules::tekun_age;
using rules::tekun_standards;
using rules::vehicles;
using rules::Wide;
using rules::wide;

namespace {

struct Settlement;

struct RuleRole {
  std::string_view rule;
  Role role;
};

struct ProgrammeRules {
  std::optional<Programme> programme;  // nullopt: a name the engine does not know
  // The rules the programme adds to the asset rules, in their roles. Both
  // income lines (dibao-income, marginal-1.5) and household-composition are
  // in every row; any other rule is traced only where the policy lists it.
  std::vector<RuleRole> rules;
  // Classification, basis and benefit of an eligible household.
  void (*settle)(Settlement&) = nullptr;
  // The programme is decided only where the policy lists this rule ("": always).
  std::string_view needs_rule = {};

  std::optional<Role> role_of(std::string_view rule) const {
    for (const auto& r : rules) {
      if (r.rule == rule) return r.role;
    }
    return std::nullopt;
  }
};

void settle_dibao(Settlement& s);
void settle_marginal(Settlement& s);
void settle_temporary(Settlement& s);
void settle_tekun(Settlement& s);
void settle_expenditure(Settlement& s);
void settle_emergency(Settlement& s);

// What decides each programme. Every programme's conditions start with the
// asset rules the policy lists (savings-cap-24m, vehicle-ownership,
// real-estate, business-capital); a row adds household-composition (in
// every row: who counts in the per-capita figures), the income lines and
// the programme's own rules, each in its role (rules::Role). The outcome,
// in three-valued logic (engine.hpp), is
//     every condition passes AND (some alternative passes, when there are any)
// which gives, with "members" for household-composition,
//     dibao        assets AND members AND (dibao-income OR gradual-exit OR single-person-household)
//     marginal     assets AND members AND marginal-1.5
//     temporary    assets AND members AND (dibao-income OR marginal-1.5)
//     tekun        assets AND members AND dibao-income AND tekun-1.3
//     expenditure  assets AND members AND expenditure-poverty
//     emergency    assets AND members AND emergency-temporary (no income line)
// An eligible household is classed and paid by its row's settle function;
// one that is not eligible is classed by a classification rule that passes
// while the assets pass (dibao-income: "dibao", marginal-1.5: "marginal").
const std::vector<ProgrammeRules>& programme_table() {
  static const std::vector<ProgrammeRules> table = {
      {.programme = Programme::kDibao,
       .rules = {{kRuleHouseholdComposition, Role::kCondition},
                 {kRuleDibaoIncome, Role::kAlternative},
                 {kRuleGradualExit, Role::kAlternative},
                 {kRuleSinglePerson, Role::kAlternative},
                 {kRuleMarginal, Role::kClassification},
                 {kRuleSupplement, Role::kAdjustment},
                 {kRuleNoReadjustment, Role::kAdjustment}},
       .settle = settle_dibao},
      {.programme = Programme::kMarginal,
       .rules = {{kRuleHouseholdComposition, Role::kCondition},
                 {kRuleMarginal, Role::kCondition},
                 {kRuleDibaoIncome, Role::kClassification}},
       .settle = settle_marginal},
      {.programme = Programme::kTemporary,
       .rules = {{kRuleHouseholdComposition, Role::kCondition},
                 {kRuleDibaoIncome, Role::kAlternative},
                 {kRuleMarginal, Role::kAlternative}},
       .settle = settle_temporary},
      {.programme = Programme::kTekun,
       .rules = {{kRuleHouseholdComposition, Role::kCondition},
                 {kRuleDibaoIncome, Role::kCondition},
                 {kRuleTekun, Role::kCondition},
                 {kRuleTekunAge, Role::kAdjustment},
                 {kRuleMarginal, Role::kClassification}},
       .settle = settle_tekun,
       .needs_rule = kRuleTekun},
      {.programme = Programme::kExpenditure,
       .rules = {{kRuleHouseholdComposition, Role::kCondition},
                 {kRuleExpenditurePoverty, Role::kCondition},
                 {kRuleDibaoIncome, Role::kClassification},
                 {kRuleMarginal, Role::kClassification}},
       .settle = settle_expenditure,
       .needs_rule = kRuleExpenditurePoverty},
      {.programme = Programme::kEmergency,
       .rules = {{kRuleHouseholdComposition, Role::kCondition},
                 {kRuleEmergency, Role::kCondition},
                 {kRuleDibaoIncome, Role::kClassification},
                 {kRuleMarginal, Role::kClassification}},
       .settle = settle_emergency,
       .needs_rule = kRuleEmergency},
  };
  return table;
}

// A programme name the engine does not know: traced, never decided.
const ProgrammeRules& unknown_programme() {
  static const ProgrammeRules row = {.programme = std::nullopt,
                                     .rules = {{kRuleHouseholdComposition, Role::kCondition},
                                               {kRuleDibaoIncome, Role::kCondition},
                                               {kRuleMarginal, Role::kClassification}}};
  return row;
}

const ProgrammeRules& rules_for(std::optional<Programme> programme) {
  for (const auto& row : programme_table()) {
    if (programme && row.programme == programme) return row;
  }
  return unknown_programme();
}

// The class a passing classification rule names.
std::string_view class_of(std::string_view rule) {
  return rule == kRuleDibaoIncome ? "dibao" : (rule == kRuleMarginal ? "marginal" : "none");
}

// Once the outcome is known: the traces to read, and the benefit and the
// members it covers, which an eligible household's settle function sets.
struct Settlement {
  Eval& e;
  const Income& in;
  const std::vector<RuleTrace>& traces;
  std::optional<Money> benefit;
  std::vector<std::size_t> supplemented;  // members the benefit covers (supplement-15)

  // A rule the programme did not trace counts as failed.
  R result(std::string_view rule) const {
    for (const auto& t : traces) {
      if (t.rule == rule) return t.result;
    }
    return R::kFail;
  }
};

void settle_dibao(Settlement& s) {
  Eval& e = s.e;
  const Income& in = s.in;
  if (s.result(kRuleDibaoIncome) == R::kPass) {
    e.d.classification = "dibao";
    const Wide gap_window = wide(e.standard) * in.months * wide(e.n) - in.counted();
    s.benefit = div_round(gap_window, in.months);
    for (std::size_t m = 0; m < e.n; ++m) s.supplemented.push_back(m);
    e.d.basis =
        "assets pass and per-capita income is within the standard: benefit = members x "
        "standard - household monthly income (gap method), plus supplements";
  } else if (s.result(kRuleGradualExit) == R::kPass) {
    e.d.classification = "gradual_exit";
    e.d.gradual_exit_until = e.gradual_exit_until;
    e.d.basis =
        "current dibao household whose income rose above the standard, on this jurisdiction's "
        "conditions: gradual-exit period until gradual_exit_until; the amount paid during it is "
        "set by the case system";
  } else if (s.result(kRuleSinglePerson) == R::kPass) {
    e.d.classification = "single_person_household";
    Wide total = 0;
    for (std::size_t m : single_person_members(e)) {
      total += std::max<Wide>(0, wide(e.standard) * in.months - in.member_counted[m]);
      s.supplemented.push_back(m);
    }
    s.benefit = div_round(total, in.months);
    e.d.basis =
        "marginal household: seriously ill or severely disabled members covered alone; benefit "
        "= standard - own monthly income for each, plus supplements";
  }
}

void settle_marginal(Settlement& s) {
  s.e.d.classification = "marginal";
  s.e.d.basis =
      "assets pass and per-capita income is above the standard and below the marginal line; "
      "the fixed marginal-household allowance is set by the case system";
}

void settle_temporary(Settlement& s) {
  s.e.d.classification = s.result(kRuleDibaoIncome) == R::kPass ? "dibao" : "marginal";
  s.e.d.basis =
      "financial test for temporary assistance met (low-income household); the amount is "
      "decided case by case";
}

void settle_tekun(Settlement& s) {
  s.e.d.classification = "tekun";
  s.e.d.basis = "tekun: no labour capacity (or minor), income within the standard, assets pass";
}

void settle_expenditure(Settlement& s) {
  s.e.d.classification = "expenditure_poverty";
  s.e.d.basis =
      "expenditure-type poverty: income above the standard, but within the line once the declared "
      "rigid spending is taken off; the amount is set by the case system";
}

void settle_emergency(Settlement& s) {
  s.e.d.classification = "emergency";
  s.e.d.follow_up_date = s.e.follow_up_date;
  s.e.d.basis =
      "急难型 temporary assistance: assets pass and the emergency is declared; no income line; the "
      "amount is decided case by case; follow up on follow_up_date (dibao or tekun if still in "
      "hardship)";
}

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

// Every condition AND (any alternative, when there are any), by the roles
// the traces carry.
R combine(const std::vector<RuleTrace>& traces) {
  std::vector<R> conditions;
  std::vector<R> alternatives;
  for (const auto& t : traces) {
    if (t.role == role_name(Role::kCondition)) conditions.push_back(t.result);
    if (t.role == role_name(Role::kAlternative)) alternatives.push_back(t.result);
  }
  if (!alternatives.empty()) conditions.push_back(any_of(alternatives));
  return all_of(conditions);
}

// ---- provisional parameters and the parameters behind each figure ------

void add_unique(std::vector<Provenance>& out, const Provenance& p) {
  for (const auto& q : out) {
    if (q.name == p.name && q.from == p.from) return;
  }
  out.push_back(p);
}

const RuleTrace* find_trace(const std::vector<RuleTrace>& traces, std::string_view rule) {
  for (const auto& t : traces) {
    if (t.rule == rule) return &t;
  }
  return nullptr;
}

// The rules whose parameters a rule's result also rests on: the income
// rules compare the counted income (the window is in dibao-income's trace;
// exclusions, deductions and support fees are adjustments);
// single-person-household is the marginal test for some members;
// vehicle-ownership reads the disability-vehicle exemption; tekun-1.3 the
// minor age.
std::vector<std::string_view> fed_by(std::string_view rule) {
  std::vector<std::string_view> income = {kRuleDibaoIncome, kRuleBasicPension, kRuleRoadRelief,
                                          kRuleEmploymentCost, kRuleSupportFee};
  if (rule == kRuleDibaoIncome || rule == kRuleMarginal || rule == kRuleGradualExit) return income;
  if (rule == kRuleSinglePerson) {
    income.push_back(kRuleMarginal);
    return income;
  }
  if (rule == kRuleVehicles) return {kRuleDisabilityVehicle};
  if (rule == kRuleTekun) return {kRuleTekunAge};
  return {};
}

// Whether an income adjustment's parameters shaped the counted income: not
// when it had nothing to act on (no residents' pension in the window, no
// deduction made, no obligor household assessed, no vehicle claimed as a
// disability vehicle). Read from the inputs the rules trace
// (policies/rules/income.cpp, assets.cpp); when they are not there, it did.
bool adjustment_applied(const RuleTrace& t) {
  const auto input = [&t](const char* key) {
    return t.inputs.contains(key) && t.inputs[key].is_string() ? t.inputs[key].get<std::string>()
                                                                : std::string("?");
  };
  if (t.rule == kRuleBasicPension) return input("residents_pension_in_window") != "0.00";
  if (t.rule == kRuleEmploymentCost) return input("total_deducted") != "0.00";
  // The disability-vehicle exemption: only where a vehicle was claimed or
  // left open under it (policies/rules/assets.cpp).
  if (t.rule == kRuleDisabilityVehicle && t.result == R::kPass && t.inputs.contains("claims") &&
      t.inputs["claims"].is_array()) {
    return !t.inputs["claims"].empty();
  }
  if (t.rule == kRuleSupportFee && t.inputs.contains("obligors") && t.inputs["obligors"].is_array()) {
    const auto& obligors = t.inputs["obligors"];
    return t.result != R::kPass || std::any_of(obligors.begin(), obligors.end(), [](const json& o) {
             return o.contains("living_cost_per_person");
           });
  }
  return true;
}

// Whether one of a rule's own parameters acted on its result. The after-tax
// switch did not where the window has no tax withheld and no own
// contributions: on or off, the counted income is the same. An unknown
// result rests on it (a missing contributions answer is unknown because the
// switch is on). Every other parameter acts.
bool parameter_acted(const RuleTrace& t, const Provenance& p) {
  if (p.name != "earnings_after_tax_and_contributions" || t.result == R::kUnknown) return true;
  const auto nonzero = [&t](const char* key) {
    return !(t.inputs.contains(key) && t.inputs[key].is_string() && t.inputs[key].get<std::string>() == "0.00");
  };
  return nonzero("tax_withheld_in_window") || nonzero("personal_contributions_in_window");
}

// The example values a rule's result rests on: its own and its feeders'.
std::vector<Provenance> examples_of(const std::vector<RuleTrace>& traces, const RuleTrace& t) {
  std::vector<Provenance> out;
  const auto add = [&out](const RuleTrace& r) {
    for (const auto& p : r.parameters) {
      if (p.example && parameter_acted(r, p)) add_unique(out, p);
    }
  };
  add(t);
  for (auto rule : fed_by(t.rule)) {
    const RuleTrace* f = find_trace(traces, rule);
    if (f != nullptr && (f->role != role_name(Role::kAdjustment) || adjustment_applied(*f))) add(*f);
  }
  return out;
}

// The example values the outcome rests on, from the traces as they were
// combined. An outcome that follows from several rules (two failing
// conditions, two passing alternatives) rests on an example value only if
// every one of them does; then all their example values are listed.
//   eligible       every condition, and the passing alternatives
//   ineligible     each failing condition; all alternatives when all fail
//   indeterminate  the unknown conditions, and the unknown alternatives
//                  when none passes
std::vector<Provenance> provisional_parameters(const std::vector<RuleTrace>& traces, R overall) {
  std::vector<const RuleTrace*> conditions;
  std::vector<const RuleTrace*> alternatives;
  for (const auto& t : traces) {
    if (t.role == role_name(Role::kCondition)) conditions.push_back(&t);
    if (t.role == role_name(Role::kAlternative)) alternatives.push_back(&t);
  }
  const auto count = [&alternatives](R r) {
    return std::count_if(alternatives.begin(), alternatives.end(),
                         [r](const RuleTrace* t) { return t->result == r; });
  };
  std::vector<Provenance> out;
  const auto add = [&out](const std::vector<Provenance>& values) {
    for (const auto& p : values) add_unique(out, p);
  };
  // Ways the outcome follows, each with the example values it rests on.
  std::vector<std::vector<Provenance>> ways;
  const auto add_ways = [&]() {
    for (const auto& w : ways) {
      if (w.empty()) return;  // one way rests on published values only
    }
    for (const auto& w : ways) add(w);
  };
  switch (overall) {
    case R::kPass:
      for (const RuleTrace* c : conditions) add(examples_of(traces, *c));
      for (const RuleTrace* a : alternatives) {
        if (a->result == R::kPass) ways.push_back(examples_of(traces, *a));
      }
      add_ways();
      break;
    case R::kFail:
      for (const RuleTrace* c : conditions) {
        if (c->result == R::kFail) ways.push_back(examples_of(traces, *c));
      }
      if (!alternatives.empty() && count(R::kFail) == static_cast<long>(alternatives.size())) {
        std::vector<Provenance> all;
        for (const RuleTrace* a : alternatives) {
          for (const auto& p : examples_of(traces, *a)) add_unique(all, p);
        }
        ways.push_back(all);
      }
      add_ways();
      break;
    case R::kUnknown:
      for (const RuleTrace* c : conditions) {
        if (c->result == R::kUnknown) add(examples_of(traces, *c));
      }
      if (count(R::kPass) == 0) {
        for (const RuleTrace* a : alternatives) {
          if (a->result == R::kUnknown) add(examples_of(traces, *a));
        }
      }
      break;
  }
  return out;
}

// The parameters each figure of the decision was computed from.
std::map<std::string, std::vector<Provenance>> figure_parameters(const Decision& d,
                                                                 const Provenance& standard) {
  const auto params = [&d](std::string_view rule) {
    const RuleTrace* t = find_trace(d.rules, rule);
    return t != nullptr ? t->parameters : std::vector<Provenance>{};
  };
  const auto is_standard = [](const Provenance& p) {
    return p.name.starts_with("dibao_standard_monthly.");
  };
  std::map<std::string, std::vector<Provenance>> out;
  out["standard_monthly"] = {standard};
  for (const auto& p : params(kRuleSavingsCap)) {
    if (p.name == "monetary_asset_sources") add_unique(out["monetary_assets_per_capita"], p);
    if (is_standard(p) || p.name == "savings_cap_months" ||
        p.name.starts_with("savings_cap_fixed_per_capita.")) {
      add_unique(out["savings_cap_per_capita"], p);
    }
  }
  // Counted income: the window and the adjustments that acted on it.
  std::vector<Provenance> income;
  if (const RuleTrace* t = find_trace(d.rules, kRuleDibaoIncome); t != nullptr) {
    for (const auto& p : t->parameters) {
      if (!is_standard(p) && parameter_acted(*t, p)) add_unique(income, p);
    }
  }
  for (auto rule : {kRuleBasicPension, kRuleRoadRelief, kRuleEmploymentCost, kRuleSupportFee}) {
    const RuleTrace* t = find_trace(d.rules, rule);
    if (t == nullptr || !adjustment_applied(*t)) continue;
    for (const auto& p : t->parameters) add_unique(income, p);
  }
  out["income_per_capita_monthly"] = income;
  out["income_household_monthly"] = income;
  const auto line = params(kRuleMarginal);
  const bool wage_line = std::any_of(line.begin(), line.end(), [](const Provenance& p) {
    return p.name == "minimum_wage_monthly";
  });
  for (const auto& p : line) {
    if (!(wage_line && is_standard(p))) add_unique(out["marginal_line_per_capita"], p);
  }
  // The benefit of an eligible household, by how it was computed.
  auto& benefit = out["benefit_monthly"];
  if (d.outcome == Outcome::kEligible) {
    if (d.classification == "tekun") {
      for (const auto& p : params(kRuleTekun)) add_unique(benefit, p);
    } else if (d.classification == "dibao" || d.classification == "single_person_household") {
      add_unique(benefit, standard);
      for (const auto& p : income) add_unique(benefit, p);
      for (const auto& p : params(kRuleSupplement)) add_unique(benefit, p);
    }
  }
  // Only the figures the decision has.
  for (auto it = out.begin(); it != out.end();) {
    it = d.figures.contains(it->first) ? std::next(it) : out.erase(it);
  }
  return out;
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
    t.role = std::string(role_name(Role::kCondition));
    const std::string standard_name = "dibao_standard_monthly." + std::string(area_name(h.area));
    t.explanation = "no household members to judge";
    if (!standard) {
      // Every rule reads the standard: none can be decided without it.
      t.explanation = "no dibao standard in force for this area: " +
                      rules::missing_parameter_text(policy, standard_name, h.reference_date);
      t.unknown_sources.push_back("parameter:" + standard_name);
    }
    d.basis = t.explanation;
    d.rules.push_back(std::move(t));
    return d;
  }
  const std::optional<Programme> programme = parse_programme(h.programme);
  const ProgrammeRules& row = rules_for(programme);
  // The role of a rule the row lists and the policy applies.
  const auto own = [&](std::string_view rule) -> std::optional<Role> {
    return policy.applies(rule) ? row.role_of(rule) : std::nullopt;
  };
  Eval e{policy, h, h.reference_date, d, standard->value, standard->provenance, h.member_count};
  e.programme = programme;
  d.figures["standard_monthly"] = e.standard.to_string();

  std::vector<RuleTrace> traces;
  // Assets: conditions of every programme.
  traces.push_back(savings_cap(e));
  if (policy.applies(kRuleVehicles)) vehicles(e, traces);
  if (policy.applies(kRuleRealEstate)) traces.push_back(real_estate(e));
  if (policy.applies(kRuleBusiness)) traces.push_back(business(e));
  std::vector<R> assets;
  for (const auto& t : traces) {
    if (t.role == role_name(Role::kCondition)) assets.push_back(t.result);
  }
  const R assets_r = all_of(assets);

  // Who counts: the registry's word on every member.
  if (const auto role = own(kRuleHouseholdComposition))
    traces.push_back(household_composition(e, *role));

  // Income: both lines, in the roles the row gives them.
  std::vector<RuleTrace> adjustments;
  RuleTrace dibao_t = e.start(kRuleDibaoIncome, *row.role_of(kRuleDibaoIncome));
  const Income in = compute_income(e, dibao_t, adjustments);
  for (auto& a : adjustments) traces.push_back(std::move(a));
  traces.push_back(dibao_income(e, std::move(dibao_t), in));
  if (in.ok) {
    d.figures["income_per_capita_monthly"] =
        div_round(in.counted(), in.months * wide(e.n)).to_string();
  }
  std::optional<Line> marginal_line;
  const RuleTrace marginal_t = marginal(e, in, *row.role_of(kRuleMarginal), marginal_line);
  traces.push_back(marginal_t);

  // The programme's own rules.
  if (const auto role = own(kRuleGradualExit)) traces.push_back(gradual_exit(e, in, *role));
  if (const auto role = own(kRuleSinglePerson))
    traces.push_back(single_person(e, marginal_t, *role));
  if (const auto role = own(kRuleTekun))
    traces.push_back(tekun(e, *role, policy.applies(kRuleTekunAge)));
  if (const auto role = own(kRuleTekunAge)) traces.push_back(tekun_age(e, *role));
  if (const auto role = own(kRuleExpenditurePoverty))
    traces.push_back(expenditure_poverty(e, in, *role));
  if (const auto role = own(kRuleEmergency)) traces.push_back(emergency_temporary(e, *role));

  // Outcome.
  const bool decided = row.programme && (row.needs_rule.empty() || policy.applies(row.needs_rule));
  const R overall = decided ? combine(traces) : R::kUnknown;
  if (decided) d.provisional_parameters = provisional_parameters(traces, overall);
  d.outcome = overall == R::kPass
                  ? Outcome::kEligible
                  : (overall == R::kFail ? Outcome::kIneligible : Outcome::kIndeterminate);

  // Classification and benefit.
  Settlement s{e, in, traces, std::nullopt, {}};
  if (d.outcome == Outcome::kEligible) {
    row.settle(s);
  } else {
    for (const auto& [rule, role] : row.rules) {
      const bool names_class = role == Role::kClassification && s.result(rule) == R::kPass;
      if (names_class && assets_r == R::kPass) d.classification = std::string(class_of(rule));
    }
    d.basis =
        d.outcome == Outcome::kIneligible
            ? "a condition fails on known data (see rules with result fail)"
            : (decided ? "a rule that could change the outcome is unknown (see unknown_sources)"
                       : "programme '" + h.programme + "' is not evaluated by this policy");
    if (d.outcome == Outcome::kIneligible) s.benefit = Money{};
  }
  if (const auto role = own(kRuleSupplement))
    traces.push_back(supplement(e, *role, s.supplemented, s.benefit));
  if (const auto role = own(kRuleNoReadjustment))
    traces.push_back(no_readjustment(e, *role, s.benefit));
  for (auto& t : traces) {
    if (t.rule == kRuleTekun) tekun_standards(e, t, s.benefit);
  }
  if (s.benefit) d.figures["benefit_monthly"] = s.benefit->to_string();
  if (in.ok) d.figures["income_household_monthly"] = div_round(in.counted(), in.months).to_string();

  // Trace in the catalogue's order; review last.
  traces.push_back(review(e, in, in.ok && in.complete()));
  for (const auto& spec : rule_specs()) {
    for (auto& t : traces) {
      if (t.rule == spec.id) d.rules.push_back(std::move(t));
    }
  }
  d.figure_parameters = figure_parameters(d, e.standard_prov);
  return d;
}

}  // namespace hfv::policies
