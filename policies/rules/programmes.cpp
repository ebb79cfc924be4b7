// Programme rules: gradual exit, single-person household, supplements, tekun.
#include "policies/rules/eval.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hfv::policies::rules {

using nlohmann::json;

namespace {

constexpr int kAdultAge = 18;  // 未成年人: under 18 (law, not a local parameter)

}  // namespace

RuleTrace gradual_exit(Eval& e, const Income& in, Role role) {
  RuleTrace t = e.start(kRuleGradualExit, role);
  t.parameters.push_back(e.standard_prov);
  const auto employment = e.need(t, e.policy.flag("gradual_exit_employment_required", e.on),
                                 "gradual_exit_employment_required");
  const auto self_report = e.need(t, e.policy.flag("gradual_exit_self_report_required", e.on),
                                  "gradual_exit_self_report_required");
  const auto bound =
      e.need(t, e.policy.text("gradual_exit_upper_bound", e.on), "gradual_exit_upper_bound");
  const auto period =
      e.need(t, e.policy.integer("gradual_exit_period_months", e.on), "gradual_exit_period_months");
  std::optional<InForce<Ratio>> k;
  if (bound && bound->value == "income_multiple") {
    k = e.need(t, e.policy.ratio("gradual_exit_income_multiple", e.on),
               "gradual_exit_income_multiple");
    if (!k) return t;
  }
  if (!employment || !self_report || !bound || !period) return t;
  if (!in.ok) {
    t.explanation = "income could not be computed (see dibao-income)";
    return t;
  }
  const auto& current = e.h.current_benefit;
  const bool employed = std::any_of(e.h.members.begin(), e.h.members.end(),
                                    [](const MemberFacts& m) { return m.employed; });
  json current_json = nullptr;
  if (current) {
    current_json = {{"programme", programme_name(current->programme)},
                    {"since", current->since.to_string()}};
    if (current->gradual_exit_until) {
      current_json["gradual_exit_until"] = current->gradual_exit_until->to_string();
    }
    if (current->self_reported) current_json["self_reported"] = *current->self_reported;
  }
  t.inputs = {{"current_benefit", current_json},
              {"employed_member", employed},
              {"employment_required", employment->value},
              {"self_report_required", self_report->value},
              {"upper_bound", bound->value},
              {"period_months", period->value}};
  std::optional<Line> line;
  if (k) {
    line = Line{k->value.num, k->value.den, e.standard};
    t.inputs["exit_line_per_capita"] = line->per_capita().to_string();
  }
  const auto fail = [&t](std::string why) {
    t.result = R::kFail;
    t.explanation = std::move(why);
    return t;
  };
  // The request's facts decide first; they need no agency data.
  if (!current || current->programme != Programme::kDibao || current->since > e.on) {
    return fail("applies only to a current dibao recipient (current_benefit)");
  }
  if (current->gradual_exit_until && *current->gradual_exit_until < e.on) {
    return fail("the gradual-exit period ended on " + current->gradual_exit_until->to_string());
  }
  if (employment->value && !employed) {
    return fail("applies only to a dibao household with an employed member");
  }
  if (self_report->value && current->self_reported == false) {
    return fail("applies only where the household reported the change in income itself");
  }
  set_unknown(t, in.unknown);
  if (line && compare_income(in, e.n, *line) >= 0) {
    if (in.known_is_floor) {
      return fail("income is not below the exit line " + line->per_capita().to_string());
    }
    t.result = R::kUnknown;
    t.explanation =
        "income known so far is not below the exit line, but earnings count after personal "
        "contributions and a social-insurance answer is missing: the income is not known";
    return t;
  }
  if (!in.complete()) {
    t.result = R::kUnknown;
    t.explanation = "income known so far is within the exit limits, but sources did not answer";
    return t;
  }
  if (compare_income(in, e.n, Line{1, 1, e.standard}) <= 0) {
    return fail("income is within the standard: the household stays dibao, no exit period needed");
  }
  if (self_report->value && !current->self_reported) {
    return not_given(t, "current_benefit.self_reported",
                     "the request does not say whether the household reported the change in income "
                     "itself");
  }
  const Date until = current->gradual_exit_until
                         ? *current->gradual_exit_until
                         : e.on.add_months(static_cast<int>(period->value));
  t.inputs["gradual_exit_until"] = until.to_string();
  e.gradual_exit_until = until;
  t.result = R::kPass;
  t.explanation = "current dibao household with income above the standard" +
                  std::string(line ? " and below the exit line" : "") +
                  ": gradual-exit period until " + until.to_string() +
                  (current->gradual_exit_until ? " (the period it is in)"
                                               : " (reference date + " +
                                                     std::to_string(period->value) + " months)");
  return t;
}

namespace {

// The categories a policy adds to the single-person household (Harbin, seed
// 000 三: 1-6 grade disabled servicemen and entitled-group members receiving
// regular pensions), in force on the reference date; nullopt: not covered.
struct SinglePersonExtras {
  std::optional<InForce<std::int64_t>> serviceman_max_grade;
  std::optional<InForce<bool>> entitled_group_pension;
};

SinglePersonExtras single_person_extras(const Eval& e) {
  return {e.policy.integer("single_person_disabled_serviceman_max_grade", e.on),
          e.policy.flag("single_person_entitled_group_pension", e.on)};
}

// Why a member is covered alone, or "" when not.
std::string single_person_reason(const MemberFacts& m, const SinglePersonExtras& x) {
  if (m.serious_illness) return "seriously ill";
  if (severely_disabled(m)) return "severely disabled";
  if (x.serviceman_max_grade && m.disabled_serviceman_grade &&
      *m.disabled_serviceman_grade <= x.serviceman_max_grade->value) {
    return "disabled serviceman of grade " + std::to_string(*m.disabled_serviceman_grade) +
           " (1-" + std::to_string(x.serviceman_max_grade->value) + ")";
  }
  if (x.entitled_group_pension && x.entitled_group_pension->value && m.entitled_group_pension) {
    return "entitled-group member receiving regular pensions or subsidies";
  }
  return "";
}

}  // namespace

std::vector<std::size_t> single_person_members(const Eval& e) {
  const SinglePersonExtras extras = single_person_extras(e);
  std::vector<std::size_t> out;
  for (std::size_t m = 0; m < e.n && m < e.h.members.size(); ++m) {
    if (!single_person_reason(e.h.members[m], extras).empty()) out.push_back(m);
  }
  return out;
}

RuleTrace single_person(Eval& e, const RuleTrace& marginal_trace, Role role) {
  RuleTrace t = e.start(kRuleSinglePerson, role);
  const SinglePersonExtras extras = single_person_extras(e);
  std::string categories =
      "seriously ill or severely disabled member (grade 1-2, or grade 3 intellectual/mental)";
  if (extras.serviceman_max_grade) {
    t.parameters.push_back(extras.serviceman_max_grade->provenance);
    categories += ", no disabled serviceman of grade 1-" +
                  std::to_string(extras.serviceman_max_grade->value);
  }
  if (extras.entitled_group_pension) {
    t.parameters.push_back(extras.entitled_group_pension->provenance);
    if (extras.entitled_group_pension->value) {
      categories += ", no entitled-group member receiving regular pensions or subsidies";
    }
  }
  json covered = json::array();
  json why = json::array();
  for (std::size_t m = 0; m < e.n && m < e.h.members.size(); ++m) {
    const std::string reason = single_person_reason(e.h.members[m], extras);
    if (reason.empty()) continue;
    covered.push_back(m);
    why.push_back({{"member_index", m}, {"why", reason}});
  }
  t.inputs = {{"covered_members", covered},
              {"covered_why", why},
              {"marginal_result", rule_result_name(marginal_trace.result)}};
  t.unknown_sources = marginal_trace.unknown_sources;
  if (covered.empty()) {
    t.result = R::kFail;
    t.explanation = "no " + categories;
  } else {
    t.result = marginal_trace.result;
    t.explanation = t.result == R::kPass
                        ? "marginal household: the members named in covered_why are covered alone"
                        : "the household is not (or not known to be) a marginal household";
  }
  return t;
}

std::vector<std::size_t> supplement_members(const Eval& e, std::int64_t elderly_age) {
  std::vector<std::size_t> out;
  for (std::size_t m = 0; m < e.n && m < e.h.members.size(); ++m) {
    const auto& f = e.h.members[m];
    const int age = age_on(f.birth_date, e.on);
    if (severely_disabled(f) || f.serious_illness || age >= elderly_age || age < kAdultAge)
      out.push_back(m);
  }
  return out;
}

// supplement-15: once per qualifying member of a dibao household.
RuleTrace supplement(Eval& e, Role role, const std::vector<std::size_t>& supplemented,
                     std::optional<Money>& benefit) {
  RuleTrace t = e.start(kRuleSupplement, role);
  t.parameters.push_back(e.standard_prov);
  const auto share = e.need(t, e.policy.ratio("supplement_share", e.on), "supplement_share");
  const auto age =
      e.need(t, e.policy.integer("supplement_elderly_age", e.on), "supplement_elderly_age");
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
    t.explanation = paid.empty() ? "no supplement paid (no qualifying member in a dibao household)"
                                 : std::to_string(paid.size()) + " x " + share->value.text + " x " +
                                       e.standard.to_string() + " = " + total.to_string();
    if (benefit && !paid.empty()) *benefit += total;
  }
  return t;
}

// Who lacks labour capacity, member by member: a minor (tekun-age-18); a
// disability the policy's tekun_no_labour_capacity_disabilities lists
// (Harbin, seed 000 二: it decides whatever the request says); otherwise
// the request's labour_capacity. Not stated and not decided otherwise: the
// member's capacity is unknown, and so is the rule (never a guess).
RuleTrace tekun(Eval& e, Role role, bool age_rule) {
  RuleTrace t = e.start(kRuleTekun, role);
  t.parameters.push_back(e.standard_prov);
  std::optional<InForce<std::int64_t>> minor_age;
  if (age_rule) minor_age = e.need(t, e.policy.integer("tekun_minor_age", e.on), "tekun_minor_age");
  const auto disabilities = e.policy.list("tekun_no_labour_capacity_disabilities", e.on);
  if (disabilities) t.parameters.push_back(disabilities->provenance);
  json members = json::array();
  std::vector<std::size_t> capable;
  std::vector<std::size_t> not_stated;
  for (std::size_t m = 0; m < e.n && m < e.h.members.size(); ++m) {
    const auto& f = e.h.members[m];
    const int age = age_on(f.birth_date, e.on);
    const bool minor = minor_age && age < minor_age->value;
    std::string listed_disability;
    if (disabilities && f.disability_grade && !f.disability_kind.empty()) {
      const std::string pair = f.disability_kind + "-" + std::to_string(*f.disability_grade);
      if (std::find(disabilities->value.begin(), disabilities->value.end(), pair) !=
          disabilities->value.end()) {
        listed_disability = pair;
      }
    }
    json qualifies;
    std::string why;
    if (minor) {
      qualifies = true;
      why = "minor";
    } else if (!listed_disability.empty()) {
      qualifies = true;
      why = "disability " + listed_disability +
            " is listed as no labour capacity (tekun_no_labour_capacity_disabilities)";
      if (!f.labour_capacity.empty() && f.labour_capacity != "none") {
        why += "; the request says '" + f.labour_capacity + "', the list decides";
      }
    } else if (f.labour_capacity == "none") {
      qualifies = true;
      why = "no labour capacity";
    } else if (f.labour_capacity.empty()) {
      qualifies = nullptr;
      why = "labour capacity not stated in the request";
      not_stated.push_back(m);
    } else {
      qualifies = false;
      why = "labour capacity '" + f.labour_capacity + "'";
      capable.push_back(m);
    }
    members.push_back({{"member_index", m},
                       {"age", age},
                       {"labour_capacity", f.labour_capacity},
                       {"qualifies", qualifies},
                       {"why", why}});
  }
  t.inputs = {{"members", members}};
  if (!capable.empty()) {
    t.result = R::kFail;
    t.explanation = "a member has labour capacity (member " + std::to_string(capable.front()) + ")";
  } else if (!not_stated.empty()) {
    t.result = R::kUnknown;
    for (std::size_t m : not_stated) {
      t.unknown_sources.push_back("request:members[" + std::to_string(m) + "].labour_capacity");
    }
    t.explanation =
        "the request does not state the labour capacity of every member who is neither a minor "
        "nor listed by disability; a case worker states it and verifies again";
  } else {
    t.result = R::kPass;
    t.explanation =
        "every member lacks labour capacity or is a minor (the no-supporter condition is "
        "confirmed by the case worker)";
    // The tekun standards (tekun_standards, after the outcome) read these: a
    // household is not eligible on amounts that cannot be computed.
    e.require(t, {"tekun_basic_multiple", "minimum_wage_monthly", "tekun_care_share.self_care",
                  "tekun_care_share.half_care", "tekun_care_share.full_care"});
  }
  return t;
}

RuleTrace tekun_age(Eval& e, Role role) {
  RuleTrace t = e.start(kRuleTekunAge, role);
  if (const auto age = e.need(t, e.policy.integer("tekun_minor_age", e.on), "tekun_minor_age")) {
    json minors = json::array();
    for (std::size_t m = 0; m < e.n; ++m) {
      if (age_on(e.h.members[m].birth_date, e.on) < age->value) minors.push_back(m);
    }
    t.inputs = {{"members_under_age", minors}};
    t.result = R::kPass;
    t.explanation = minors.empty() ? "no member under " + std::to_string(age->value)
                                   : "members under " + std::to_string(age->value) +
                                         " count as lacking labour capacity for tekun";
  }
  return t;
}

// The basic standard per person: the figure the jurisdiction published
// (tekun_basic_standard_monthly.<area>) when it was set for the dibao
// standard in force, i.e. takes effect on or after that standard's date;
// otherwise tekun_basic_multiple x standard, and the trace says why.
void tekun_standards(Eval& e, RuleTrace& t, std::optional<Money>& benefit) {
  const auto wage = e.need(t, e.policy.money("minimum_wage_monthly", e.on), "minimum_wage_monthly");
  const std::string published_name =
      "tekun_basic_standard_monthly." + std::string(area_name(e.h.area));
  const auto published = e.policy.money(published_name, e.on);
  std::optional<Money> basic;
  if (published && !(published->provenance.from < e.standard_prov.from)) {
    t.parameters.push_back(published->provenance);
    basic = published->value;
    t.inputs["basic_standard_basis"] = "published figure " + published->value.to_string() + " (" +
                                       published_name + ", in force since " +
                                       published->provenance.from.to_string() + ")";
  } else if (const auto k = e.need(t, e.policy.ratio("tekun_basic_multiple", e.on),
                                   "tekun_basic_multiple")) {
    basic = k->value.of(e.standard);
    std::string why;
    if (published) {
      why = "the published figure " + published->value.to_string() + " dates from " +
            published->provenance.from.to_string() + ", before the standard in force since " +
            e.standard_prov.from.to_string();
    } else {
      why = "no published figure in force";
    }
    t.inputs["basic_standard_basis"] = k->value.text + " x standard " + e.standard.to_string() +
                                       " = " + basic->to_string() + " (" + why + ")";
  }
  if (!basic || !wage) return;
  t.inputs["basic_standard_per_person"] = basic->to_string();
  json care = json::object();
  for (const char* level : {"self_care", "half_care", "full_care"}) {
    const std::string name = std::string("tekun_care_share.") + level;
    if (auto s = e.need(t, e.policy.ratio(name, e.on), name.c_str())) {
      care[level] = s->value.of(wage->value).to_string();
    }
  }
  t.inputs["care_standard"] = care;
  if (e.d.outcome != Outcome::kEligible) return;
  Money total = *basic * static_cast<std::int64_t>(e.n);
  bool care_missing = false;
  for (std::size_t m = 0; m < e.n; ++m) {
    const std::string level = m < e.h.care_levels.size() ? e.h.care_levels[m] : "";
    if (care.contains(level)) {
      total += *Money::parse(care[level].get<std::string>());
    } else {
      care_missing = true;
    }
  }
  benefit = total;
  if (care_missing) e.d.basis += "; care standard not included for members without a care level";
}

}  // namespace hfv::policies::rules
