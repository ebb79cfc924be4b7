// The review rule: review cycle and next review date (docs/policy-files.md "Rules").
#include "policies/rules/eval.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

namespace hfv::policies::rules {

using nlohmann::json;

namespace {

constexpr int kSevereGrade = 2;  // 重残 in review categories: disability grade 1-2

bool has_labour_capacity(const MemberFacts& m) {
  return m.labour_capacity == "full" || m.labour_capacity == "partial" || m.employed;
}

}  // namespace

RuleTrace review(Eval& e, const Income& in, bool income_known) {
  RuleTrace t = e.start(kRuleReview, Role::kSchedule);
  const auto list = e.need(t, e.policy.cycles("review_cycles", e.on), "review_cycles");
  if (!list) return t;
  std::map<std::string, bool> holds;
  const bool any_labour = std::any_of(e.h.members.begin(), e.h.members.end(), has_labour_capacity);
  const bool all_none =
      std::all_of(e.h.members.begin(), e.h.members.end(),
                  [](const MemberFacts& m) { return m.labour_capacity == "none"; });
  const auto window = static_cast<std::size_t>(in.months);
  const bool earned_all = in.ok && in.earned_months.size() == window && window > 0;
  const bool earned_some = in.ok && !in.earned_months.empty() && !earned_all;
  bool unchanged = in.ok && in.by_month.size() == window && window > 0;
  if (unchanged) {
    for (const auto& [idx, amount] : in.by_month)
      unchanged &= amount == in.by_month.begin()->second && amount > 0;
  }
  holds["tekun"] = e.programme == Programme::kTekun && e.d.outcome == Outcome::kEligible;
  holds["marginal"] = e.d.classification == "marginal";
  holds["expenditure_poverty"] = e.d.classification == "expenditure_poverty";
  holds["no_income_no_labour"] = in.ok && in.counted() == 0 && all_none && !e.h.members.empty();
  // 重病、重残 (seed 002 §14): a seriously ill member, or a severely disabled
  // one, read as disability grade 1-2 of any kind (the seed gives no
  // definition; grades 3-4 are not 重残 here).
  holds["illness_or_disability"] =
      std::any_of(e.h.members.begin(), e.h.members.end(), [](const MemberFacts& m) {
        return m.serious_illness || (m.disability_grade && *m.disability_grade <= kSevereGrade);
      });
  holds["unchanged_income"] = unchanged;
  holds["stable_income"] = earned_all;
  holds["irregular_income"] = earned_some;
  holds["unstable_with_labour"] = earned_some && any_labour;
  holds["default"] = true;
  t.inputs = {{"categories_that_hold", json::array()}};
  for (const auto& [cat, yes] : holds) {
    if (yes) t.inputs["categories_that_hold"].push_back(cat);
  }
  std::int64_t months = 0;
  std::string chosen;
  if (!income_known) {
    // Income-based categories cannot be judged: review as early as any
    // category in the schedule would require.
    months = list->value.front().months;
    for (const auto& c : list->value) months = std::min(months, c.months);
    chosen = "(shortest: income sources incomplete)";
    set_unknown(t, in.unknown);
    t.result = R::kUnknown;
  } else {
    for (const auto& c : list->value) {
      if (holds[c.category]) {
        months = c.months;
        chosen = c.category;
        break;
      }
    }
    t.result = R::kPass;
  }
  const Date next = e.on.add_months(static_cast<int>(months));
  t.inputs["category"] = chosen;
  t.inputs["months"] = months;
  t.inputs["next_review"] = next.to_string();
  t.explanation = "reviewed every " + std::to_string(months) + " months (" + chosen +
                  "): next review " + next.to_string();
  e.d.next_review = next;
  return t;
}

}  // namespace hfv::policies::rules
