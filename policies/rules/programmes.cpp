// Programme rules: gradual exit, single-person household, supplement members, tekun.
#include "policies/rules/eval.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace hfv::policies::rules {

using nlohmann::json;

namespace {

constexpr int kAdultAge = 18;  // 未成年人: under 18 (law, not a local parameter)

}  // namespace

RuleTrace gradual_exit(Eval& e, const Income& in) {
  RuleTrace t = e.start(kRuleGradualExit, "alternative");
  t.parameters.push_back(e.standard_prov);
  const auto k = e.need(t, e.policy.ratio("gradual_exit_income_multiple", e.on),
                        "gradual_exit_income_multiple");
  if (!k || !in.ok) return t;
  const bool employed = std::any_of(e.h.members.begin(), e.h.members.end(),
                                    [](const MemberFacts& m) { return m.employed; });
  const Line line{k->value.num, k->value.den, e.standard};
  t.inputs = {{"current_dibao_recipient", e.h.current_dibao_recipient},
              {"employed_member", employed},
              {"exit_line_per_capita", line.per_capita().to_string()}};
  if (!e.h.current_dibao_recipient || !employed) {
    t.result = R::kFail;
    t.explanation = "applies only to a current dibao household with an employed member";
    return t;
  }
  set_unknown(t, in.unknown);
  if (compare_income(in, e.n, line) >= 0) {
    t.result = R::kFail;
    t.explanation = "income is not below the exit line " + line.per_capita().to_string();
  } else if (!in.complete()) {
    t.result = R::kUnknown;
    t.explanation = "income known so far is below the exit line, but sources did not answer";
  } else if (compare_income(in, e.n, Line{1, 1, e.standard}) <= 0) {
    t.result = R::kFail;
    t.explanation =
        "income is within the standard: the household stays dibao, no exit period needed";
  } else {
    t.result = R::kPass;
    t.explanation = "employed dibao household with income between the standard and the exit line";
  }
  return t;
}

std::vector<std::size_t> single_person_members(const Eval& e) {
  std::vector<std::size_t> out;
  for (std::size_t m = 0; m < e.n && m < e.h.members.size(); ++m) {
    if (e.h.members[m].serious_illness || severely_disabled(e.h.members[m])) out.push_back(m);
  }
  return out;
}

RuleTrace single_person(Eval& e, const RuleTrace& marginal_trace) {
  RuleTrace t = e.start(kRuleSinglePerson, "alternative");
  const auto covered = single_person_members(e);
  t.inputs = {{"covered_members", covered},
              {"marginal_result", rule_result_name(marginal_trace.result)}};
  t.unknown_sources = marginal_trace.unknown_sources;
  if (covered.empty()) {
    t.result = R::kFail;
    t.explanation =
        "no seriously ill or severely disabled member (grade 1-2, or grade 3 intellectual/mental)";
  } else {
    t.result = marginal_trace.result;
    t.explanation = t.result == R::kPass
                        ? "marginal household: the seriously ill or severely disabled members "
                          "are covered alone"
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

RuleTrace tekun(Eval& e, bool age_rule) {
  RuleTrace t = e.start(kRuleTekun, "condition");
  t.parameters.push_back(e.standard_prov);
  std::optional<InForce<std::int64_t>> minor_age;
  if (age_rule) minor_age = e.need(t, e.policy.integer("tekun_minor_age", e.on), "tekun_minor_age");
  json members = json::array();
  bool all = true;
  for (std::size_t m = 0; m < e.n && m < e.h.members.size(); ++m) {
    const auto& f = e.h.members[m];
    const int age = age_on(f.birth_date, e.on);
    const bool minor = minor_age && age < minor_age->value;
    const bool qualifies = f.labour_capacity == "none" || minor;
    all &= qualifies;
    members.push_back(
        {{"member_index", m},
         {"age", age},
         {"labour_capacity", f.labour_capacity},
         {"qualifies", qualifies},
         {"why", f.labour_capacity == "none" ? "no labour capacity"
                                             : (minor ? "minor" : "labour capacity not 'none'")}});
  }
  t.inputs = {{"members", members}};
  t.result = all ? R::kPass : R::kFail;
  t.explanation =
      all ? "every member lacks labour capacity or is a minor (the no-supporter condition is "
            "confirmed by the case worker)"
          : "a member has labour capacity (or it was not stated as 'none')";
  return t;
}

}  // namespace hfv::policies::rules
