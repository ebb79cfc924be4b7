// The rule engine's internals, shared by its translation units: the exact
// 128-bit arithmetic (Wide), money and age helpers, the evaluation context
// (Eval: policy, household, reference date and the Decision being built),
// the household's counted income (Income) and the per-capita lines it is
// compared with (Line), and the rule functions evaluate() calls. Each rule
// file (policies/rules/*.cpp) holds one section of the rules; evaluate() in
// policies/engine.cpp combines them. Internal to the engine, not part of the
// policies API: include policies/engine.hpp instead.
// Thread-safety: pure functions over an Eval that one evaluate() call owns.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "policies/engine.hpp"

namespace hfv::policies::rules {

// Exact products of money, months, members and ratio terms: 128 bits leave
// no room for overflow whatever an agency reports.
__extension__ typedef __int128 Wide;

inline Wide wide(Money m) { return static_cast<Wide>(m.fen()); }
inline Wide wide(std::size_t n) { return static_cast<Wide>(n); }

using R = RuleResult;

// A rule's part in a programme's outcome (RuleTrace::role):
//   condition       must pass
//   alternative     one of the programme's alternatives must pass
//   classification  decides nothing; names the class of a household that is
//                   not eligible (see the table in policies/engine.cpp)
//   adjustment      changes an amount or who counts; decides nothing
//   schedule        when the household is reviewed; decides nothing
enum class Role { kCondition, kAlternative, kClassification, kAdjustment, kSchedule };

inline std::string_view role_name(Role role) {
  switch (role) {
    case Role::kCondition:
      return "condition";
    case Role::kAlternative:
      return "alternative";
    case Role::kClassification:
      return "classification";
    case Role::kAdjustment:
      return "adjustment";
    case Role::kSchedule:
      return "schedule";
  }
  return "condition";
}

inline int age_on(const Date& birth, const Date& on) {
  int age = on.year() - birth.year();
  if (on.month() < birth.month() || (on.month() == birth.month() && on.day() < birth.day())) --age;
  return age;
}

// 重度残疾人 in the seeds: grade 1-2, or grade 3 intellectual or mental.
inline bool severely_disabled(const MemberFacts& m) {
  if (!m.disability_grade) return false;
  if (*m.disability_grade <= 2) return true;
  return *m.disability_grade == 3 &&
         (m.disability_kind == "intellectual" || m.disability_kind == "mental");
}

// Why a parameter has no value on `on`: past its validity horizon (stale)
// or not yet in force. Names the parameter; never uses the old value.
inline std::string missing_parameter_text(const JurisdictionPolicy& policy, const std::string& name,
                                          const Date& on) {
  if (const auto stale = policy.stale(name, on)) {
    return "parameter " + name + " is stale on " + on.to_string() + ": its value " + stale->value +
           " (from " + stale->from.to_string() + ") was valid until " +
           stale->valid_until->to_string() +
           " and no later value is in force (the centre must add the current one)";
  }
  return "parameter " + name + " not in force on " + on.to_string();
}

inline std::string money_text(Wide fen) {
  return Money::from_fen(static_cast<std::int64_t>(fen)).to_string();
}

// Nearest fen, halves up, for non-negative totals divided by a positive count.
inline Money div_round(Wide fen, Wide divisor) {
  if (fen < 0) fen = 0;
  const Wide q = fen / divisor;
  const Wide r = fen % divisor;
  return Money::from_fen(static_cast<std::int64_t>(r * 2 >= divisor ? q + 1 : q));
}

struct Eval {
  const JurisdictionPolicy& policy;
  const HouseholdInput& h;
  const Date& on;
  Decision& d;
  Money standard;
  Provenance standard_prov;
  std::size_t n = 0;
  std::optional<Programme> programme = std::nullopt;  // nullopt: a name the engine does not know
  std::optional<Date> gradual_exit_until = std::nullopt;  // set when gradual-exit passes
  std::optional<Date> follow_up_date = std::nullopt;      // set when emergency-temporary passes

  const SourceResult* answer(std::size_t member, Source s) const {
    for (const auto& r : h.sources) {
      if (r.member_index == member && r.source == s) return &r;
    }
    return nullptr;
  }
  // Sources (by name) that did not give a complete answer for some member.
  std::set<std::string> unknown_of(std::initializer_list<Source> sources) const {
    std::set<std::string> out;
    for (Source s : sources) {
      for (std::size_t m = 0; m < n; ++m) {
        const SourceResult* r = answer(m, s);
        if (r == nullptr || !is_known(r->status)) out.insert(std::string(source_name(s)));
      }
    }
    return out;
  }
  // Records of members whose answer is complete.
  template <class F>
  void each_known(Source s, F&& f) const {
    for (std::size_t m = 0; m < n; ++m) {
      const SourceResult* r = answer(m, s);
      if (r != nullptr && is_known(r->status)) f(m, r->records);
    }
  }

  RuleTrace start(std::string_view id, Role role) const {
    RuleTrace t;
    const RuleRef* ref = policy.rule(id);
    t.rule = std::string(id);
    t.clause = ref != nullptr ? ref->clause : "";
    t.example = ref != nullptr && ref->example;
    t.note = ref != nullptr ? ref->note : "";
    t.role = std::string(role_name(role));
    return t;
  }
  template <class T>
  std::optional<InForce<T>> need(RuleTrace& t, const std::optional<InForce<T>>& p,
                                 const char* name) const {
    if (p) {
      t.parameters.push_back(p->provenance);
    } else {
      t.result = R::kUnknown;
      t.explanation = missing_parameter_text(policy, name, on);
      add_unknown(t, std::string("parameter:") + name);
    }
    return p;
  }
  // For a rule that passed but whose amounts need parameters read later
  // (after the outcome): unknown, as need() says, unless each is in force.
  void require(RuleTrace& t, std::initializer_list<std::string> names) const {
    for (const auto& name : names) {
      if (policy.param(name, on)) continue;
      t.result = R::kUnknown;
      t.explanation = missing_parameter_text(policy, name, on);
      add_unknown(t, "parameter:" + name);
    }
  }
  // Adds `what` to the trace's unknown_sources once.
  static void add_unknown(RuleTrace& t, const std::string& what) {
    if (std::find(t.unknown_sources.begin(), t.unknown_sources.end(), what) ==
        t.unknown_sources.end()) {
      t.unknown_sources.push_back(what);
    }
  }
};

inline void set_unknown(RuleTrace& t, const std::set<std::string>& unknown) {
  t.unknown_sources.assign(unknown.begin(), unknown.end());
}

// A rule that cannot be judged because the request leaves out a fact only
// the case system can give: unknown, the source `request:<field>`.
inline RuleTrace& not_given(RuleTrace& t, const std::string& field, std::string explanation) {
  t.result = RuleResult::kUnknown;
  Eval::add_unknown(t, "request:" + field);
  t.explanation = std::move(explanation);
  return t;
}

struct Income {
  bool ok = false;  // parameters in force
  std::int64_t months = 0;
  int first = 0, last = 0;        // window as year*12+month-1, inclusive
  std::set<std::string> unknown;  // tax / social_insurance not complete
  bool fee_unknown = false;
  // earnings_after_tax_and_contributions in force and true: income tax
  // withheld and personal social-insurance contributions are deducted.
  bool net = false;
  // The income counted from the answers received is a floor of the
  // household's counted income (a missing answer could only add to it), so
  // known income at or over a line decides against the household. False
  // when `net` and a social-insurance answer is missing: the contributions
  // it would report are deducted, so the known figure could be too high.
  bool known_is_floor = true;
  Wide gross = 0, basic_excluded = 0, road_excluded = 0, deduction = 0, fees_monthly = 0;
  Wide residents_pension = 0;
  // What the agencies report in the window, and what was deducted (zero
  // unless `net`; tax never more than the counted part of its record).
  Wide tax_withheld = 0, contributions = 0, net_deducted = 0;
  std::vector<Wide> member_counted;  // per member, over the window, before fees
  std::set<int> earned_months;
  std::map<int, Wide> by_month;
  Wide counted() const {
    const Wide c = gross - basic_excluded - road_excluded - net_deducted - deduction +
                   fees_monthly * months;
    return c < 0 ? 0 : c;
  }
  bool complete() const { return unknown.empty() && !fee_unknown; }
};

// Income against a per-capita line given as num/den x base: compares
// counted x den with num x base x months x members, exactly.
struct Line {
  Wide num = 1, den = 1;
  Money base;
  Money per_capita() const { return div_round(static_cast<Wide>(base.fen()) * num, den); }
};
// An amount over the window against the line for n members, exactly.
inline int compare_window(Wide amount, std::int64_t months, std::size_t n, const Line& line) {
  const Wide lhs = amount * line.den;
  const Wide rhs = line.num * wide(line.base) * months * wide(n);
  return lhs < rhs ? -1 : (lhs > rhs ? 1 : 0);
}
inline int compare_income(const Income& in, std::size_t n, const Line& line) {
  return compare_window(in.counted(), in.months, n, line);
}

// Asset rules (policies/rules/assets.cpp).
RuleTrace savings_cap(Eval& e);
// Appends vehicle-ownership, then disability-vehicle when the policy lists it.
void vehicles(Eval& e, std::vector<RuleTrace>& out);
RuleTrace real_estate(Eval& e);
RuleTrace business(Eval& e);

// Who counts (policies/rules/household.cpp): the household registry's word
// on every member, traced in the role the programme table gives it.
RuleTrace household_composition(Eval& e, Role role);

// Income rules (policies/rules/income.cpp). compute_income adds the lookback
// parameter and the records outside the window to the dibao-income trace and
// appends the adjustment traces (those the policy lists).
Income compute_income(Eval& e, RuleTrace& dibao, std::vector<RuleTrace>& adjustments);
RuleTrace dibao_income(Eval& e, RuleTrace t, const Income& in);
// `line_out` receives the marginal line used.
RuleTrace marginal(Eval& e, const Income& in, Role role, std::optional<Line>& line_out);

// Programme rules (policies/rules/programmes.cpp), each traced in the role
// the programme table gives it. gradual_exit sets Eval::gradual_exit_until
// when it passes.
RuleTrace gradual_exit(Eval& e, const Income& in, Role role);
std::vector<std::size_t> single_person_members(const Eval& e);
RuleTrace single_person(Eval& e, const RuleTrace& marginal_trace, Role role);
// `age_rule`: the policy lists tekun-age-18, so minors qualify too.
RuleTrace tekun(Eval& e, Role role, bool age_rule);
RuleTrace tekun_age(Eval& e, Role role);
// After the outcome: the tekun basic and care standards, added to the
// tekun-1.3 trace; for an eligible household `benefit` becomes their sum
// and the basis says when a member's care level is missing.
void tekun_standards(Eval& e, RuleTrace& tekun_trace, std::optional<Money>& benefit);
// After the classification: a supplement for each qualifying member among
// `supplemented` (those the benefit covers), added to `benefit` if it is set.
std::vector<std::size_t> supplement_members(const Eval& e, std::int64_t elderly_age);
RuleTrace supplement(Eval& e, Role role, const std::vector<std::size_t>& supplemented,
                     std::optional<Money>& benefit);

// Hardship rules (policies/rules/hardship.cpp), each traced in the role the
// programme table gives it: expenditure-type poverty on the declared rigid
// spending; 急难型 temporary assistance (sets Eval::follow_up_date when it
// passes); and, after the supplements, no re-adjustment within a review
// period, which may replace `benefit` by the current amount.
RuleTrace expenditure_poverty(Eval& e, const Income& in, Role role);
RuleTrace emergency_temporary(Eval& e, Role role);
RuleTrace no_readjustment(Eval& e, Role role, std::optional<Money>& benefit);

// The review rule (policies/rules/review.cpp); sets Decision::next_review.
RuleTrace review(Eval& e, const Income& in, bool income_known);

}  // namespace hfv::policies::rules
