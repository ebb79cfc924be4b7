// Hardship rules: expenditure-type poverty (支出型贫困), 急难型 temporary
// assistance, and no re-adjustment within a review period
// (docs/policy-files.md "Rules" and "Hardship rules: the readings").
#include "policies/rules/eval.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace hfv::policies::rules {

using nlohmann::json;

namespace {

std::string per_capita_text(Wide window_amount, const Income& in, std::size_t n) {
  return div_round(window_amount, in.months * wide(n)).to_string();
}

}  // namespace

// expenditure-poverty. Reading (each file's note): the declared rigid
// spending of the kinds the policy counts, over the income window (a monthly
// amount x window months, or the window total as declared), is taken off
// the counted income; a household whose counted income is above the
// standard but whose income after that spending is not above
// expenditure_poverty_line_multiple x standard per person is covered. The
// spending is the case worker's declaration, traced with its evidence hash;
// nothing declared: unknown.
RuleTrace expenditure_poverty(Eval& e, const Income& in, Role role) {
  RuleTrace t = e.start(kRuleExpenditurePoverty, role);
  t.parameters.push_back(e.standard_prov);
  const auto kinds =
      e.need(t, e.policy.list("expenditure_poverty_kinds", e.on), "expenditure_poverty_kinds");
  const auto k = e.need(t, e.policy.ratio("expenditure_poverty_line_multiple", e.on),
                        "expenditure_poverty_line_multiple");
  if (!kinds || !k) return t;
  if (!in.ok) {
    t.explanation = "income could not be computed (see dibao-income)";
    return t;
  }
  const Line line{k->value.num, k->value.den, e.standard};
  Wide rigid = 0;
  json items = json::array();
  for (std::size_t i = 0; i < e.h.rigid_spending.size(); ++i) {
    const RigidSpending& s = e.h.rigid_spending[i];
    const Wide in_window = s.monthly ? wide(s.amount) * in.months : wide(s.amount);
    const bool counted =
        std::find(kinds->value.begin(), kinds->value.end(), s.kind) != kinds->value.end();
    if (counted) rigid += in_window;
    items.push_back({{"index", i},
                     {"kind", s.kind},
                     {"amount", s.amount.to_string()},
                     {"period", s.monthly ? "monthly" : "window"},
                     {"in_window", money_text(in_window)},
                     {"counted", counted},
                     {"evidence_sha256", s.evidence_sha256}});
  }
  const Wide net = std::max<Wide>(0, in.counted() - rigid);
  const std::string net_pc = per_capita_text(net, in, e.n);
  const std::string income_pc = per_capita_text(in.counted(), in, e.n);
  t.inputs = {{"rigid_spending", items},
              {"kinds_counted", kinds->value},
              {"counted_income_in_window", money_text(in.counted())},
              {"income_per_capita_monthly", income_pc},
              {"rigid_spending_in_window", money_text(rigid)},
              {"income_after_rigid_spending_in_window", money_text(net)},
              {"income_after_rigid_spending_per_capita_monthly", net_pc},
              {"line_per_capita", line.per_capita().to_string()},
              {"line_in_window",
               money_text(line.num * wide(line.base) * in.months * wide(e.n) / line.den)}};
  if (e.h.rigid_spending.empty()) {
    return not_given(t, "rigid_spending",
                     "the request declares no rigid spending, so expenditure-type poverty cannot be judged");
  }
  e.d.figures["income_after_rigid_spending_per_capita_monthly"] = net_pc;
  set_unknown(t, in.unknown);
  if (in.fee_unknown) t.unknown_sources.emplace_back("obligor");
  if (compare_window(net, in.months, e.n, line) > 0) {
    t.result = R::kFail;
    t.explanation = "income less the declared rigid spending, " + net_pc +
                    " per person, is above the line " + line.per_capita().to_string();
    return t;
  }
  if (!in.complete()) {
    t.result = R::kUnknown;
    t.explanation =
        "income known so far, less the declared rigid spending, is within the line, but sources "
        "did not answer";
    return t;
  }
  if (compare_income(in, e.n, Line{1, 1, e.standard}) <= 0) {
    t.result = R::kFail;
    t.explanation = "income " + income_pc + " per person is within the dibao standard " +
                    e.standard.to_string() +
                    ": a dibao household, not one in expenditure-type poverty";
    return t;
  }
  t.result = R::kPass;
  t.explanation = "income " + income_pc + " per person is above the standard " +
                  e.standard.to_string() + ", but less the declared rigid spending it is " +
                  net_pc + " per person, within the line " + line.per_capita().to_string();
  return t;
}

// emergency-temporary: 急难型 temporary assistance has no income line; the
// hardship is the case worker's declaration (cause, event date, evidence
// hash). Passing sets the follow-up date.
RuleTrace emergency_temporary(Eval& e, Role role) {
  RuleTrace t = e.start(kRuleEmergency, role);
  const auto months =
      e.need(t, e.policy.integer("emergency_follow_up_months", e.on), "emergency_follow_up_months");
  if (!months) return t;
  const auto& em = e.h.emergency;
  if (!em) {
    return not_given(t, "emergency",
                     "the request declares no emergency (cause, event date, evidence), so 急难型 "
                     "temporary assistance cannot be judged");
  }
  const Date follow_up = e.on.add_months(static_cast<int>(months->value));
  t.inputs = {{"cause", em->cause},
              {"event_date", em->event_date.to_string()},
              {"evidence_sha256", em->evidence_sha256},
              {"income_line", "none"},
              {"follow_up_months", months->value},
              {"follow_up_date", follow_up.to_string()}};
  if (em->event_date > e.on) {
    t.result = R::kFail;
    t.explanation = "the declared event is after the reference date";
    return t;
  }
  e.follow_up_date = follow_up;
  t.result = R::kPass;
  t.explanation =
      "the hardship is as the case worker declares it (evidence hash kept); 急难型 temporary "
      "assistance applies no income line, the income rules only classify; on " +
      follow_up.to_string() + " (reference date + " + std::to_string(months->value) +
      " months) a household still in hardship may be verified for dibao or tekun";
  return t;
}

// no-readjustment. Reading (each file's note): a current dibao recipient
// found eligible again and classed dibao keeps the amount it is paid
// (current_benefit.monthly_amount) when the recomputed amount differs from
// it by no more than members x readjustment_tolerance_share x standard and
// the standard in force now is the one in force on the day the amount was
// set (current_benefit.amount_set_on); a change of the standard is not a
// change of the household's situation, and the amount follows it.
RuleTrace no_readjustment(Eval& e, Role role, std::optional<Money>& benefit) {
  RuleTrace t = e.start(kRuleNoReadjustment, role);
  t.parameters.push_back(e.standard_prov);
  const auto share = e.need(t, e.policy.ratio("readjustment_tolerance_share", e.on),
                            "readjustment_tolerance_share");
  if (!share) return t;
  const auto fail = [&t](std::string why) {
    t.result = R::kFail;
    t.explanation = std::move(why);
    return t;
  };
  const auto& current = e.h.current_benefit;
  if (!current || current->programme != Programme::kDibao) {
    return fail(
        "applies only to a current dibao recipient (current_benefit); the amount is "
        "computed afresh");
  }
  if (e.d.outcome != Outcome::kEligible || e.d.classification != "dibao" || !benefit) {
    return fail(
        "the household is not (or not known to be) still a dibao household paid by the "
        "gap; no level to keep");
  }
  const Line tolerance{share->value.num, share->value.den, e.standard};
  const Money recomputed = *benefit;
  t.inputs = {{"recomputed_amount", recomputed.to_string()},
              {"members", e.n},
              {"tolerance",
               div_round(tolerance.num * wide(e.standard) * wide(e.n), tolerance.den).to_string()}};
  if (!current->monthly_amount || !current->amount_set_on) {
    return not_given(t, "current_benefit.monthly_amount",
                     "the request does not give the current monthly amount and the day it was set; "
                     "the recomputed amount is reported");
  }
  const Money kept = *current->monthly_amount;
  const Wide diff = std::max(wide(kept), wide(recomputed)) - std::min(wide(kept), wide(recomputed));
  t.inputs["current_amount"] = kept.to_string();
  t.inputs["amount_set_on"] = current->amount_set_on->to_string();
  t.inputs["difference"] = money_text(diff);
  const auto then = e.policy.dibao_standard(e.h.area, *current->amount_set_on);
  if (!then) {
    return fail("no dibao standard was in force on " + current->amount_set_on->to_string() +
                ", the day the current amount was set; the amount is computed afresh");
  }
  t.parameters.push_back(then->provenance);
  t.inputs["standard_when_set"] = then->value.to_string();
  if (then->value != e.standard) {
    return fail("the standard changed from " + then->value.to_string() + " to " +
                e.standard.to_string() +
                " since the current amount was set; the amount follows the standard");
  }
  if (compare_window(diff, 1, e.n, tolerance) > 0) {
    return fail("the recomputed amount " + recomputed.to_string() + " differs from the current " +
                kept.to_string() + " by " + money_text(diff) + ", more than the tolerance " +
                t.inputs["tolerance"].get<std::string>() +
                ": a clear change, the amount is re-adjusted");
  }
  benefit = kept;
  e.d.figures["benefit_recomputed_monthly"] = recomputed.to_string();
  e.d.basis += "; no clear change within the review period: the current amount " +
               kept.to_string() + " is kept (recomputed " + recomputed.to_string() + ")";
  t.result = R::kPass;
  t.explanation = "the recomputed amount " + recomputed.to_string() + " differs from the current " +
                  kept.to_string() + " by " + money_text(diff) + ", within the tolerance " +
                  t.inputs["tolerance"].get<std::string>() +
                  " (members x share x standard): no clear change, the current level is kept";
  return t;
}

}  // namespace hfv::policies::rules
