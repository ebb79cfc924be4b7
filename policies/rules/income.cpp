// Income rules: counted income and its adjustments, dibao income, the marginal line.
#include "policies/rules/eval.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hfv::policies::rules {

using nlohmann::json;

namespace {

constexpr const char* kNetParam = "earnings_after_tax_and_contributions";

// "YYYY-MM" of a window index (year * 12 + month - 1).
std::string month_text(int idx) {
  return Date::from_ymd(idx / 12, static_cast<unsigned>(idx % 12 + 1), 1)->to_string().substr(0, 7);
}

// Why known income over a line does not decide: it is not a floor.
std::string not_a_floor(const std::string& what) {
  return "income known so far " + what +
         ", but earnings count after personal contributions and a social-insurance answer is "
         "missing: the contributions it would report are not deducted, so the income is not "
         "known (never judged on gross)";
}

}  // namespace

Income compute_income(Eval& e, RuleTrace& dibao, std::vector<RuleTrace>& adjustments) {
  Income in;
  const auto lookback =
      e.need(dibao, e.policy.integer("income_lookback_months", e.on), "income_lookback_months");
  if (!lookback) return in;
  in.months = lookback->value;
  const auto net = e.need(dibao, e.policy.flag(kNetParam, e.on), kNetParam);
  if (!net) return in;
  in.net = net->value;
  const int ref = e.on.year() * 12 + static_cast<int>(e.on.month()) - 1;
  in.last = ref - 1;
  in.first = ref - static_cast<int>(in.months);
  in.unknown = e.unknown_of({Source::kTax, Source::kSocialInsurance});
  in.known_is_floor = !in.net || e.unknown_of({Source::kSocialInsurance}).empty();
  in.member_counted.assign(e.n, 0);

  const bool road_rule = e.policy.applies(kRuleRoadRelief);
  std::optional<InForce<bool>> basic_exempt;
  if (e.policy.applies(kRuleBasicPension))
    basic_exempt = e.policy.flag("basic_pension_basic_part_exempt", e.on);
  std::optional<InForce<Money>> cost;
  if (e.policy.applies(kRuleEmploymentCost))
    cost = e.policy.money("employment_cost_deduction_monthly", e.on);

  // Earnings (wages, business income) per member per month of the window,
  // the tax withheld on them, and each member's personal contributions per
  // month (deducted from the month's earnings before the employment cost
  // where `net`, so no fen is deducted twice).
  std::vector<std::map<int, Wide>> earned(e.n);
  std::vector<std::map<int, Wide>> earned_tax(e.n);
  std::vector<std::map<int, Wide>> contributed(e.n);
  std::vector<Wide> member_tax(e.n, 0);
  std::vector<Wide> member_contributions(e.n, 0);
  Wide outside = 0;
  for (Source s : {Source::kTax, Source::kSocialInsurance}) {
    e.each_known(s, [&](std::size_t m, const NormalisedRecords& r) {
      for (const auto& rec : r.income) {
        const int idx = rec.year * 12 + static_cast<int>(rec.month) - 1;
        if (idx < in.first || idx > in.last) {
          ++outside;
          continue;
        }
        Wide counted = wide(rec.amount);
        in.gross += wide(rec.amount);
        in.by_month[idx] += wide(rec.amount);
        if (rec.kind == IncomeKind::kResidentsPension) {
          in.residents_pension += wide(rec.amount);
          if (basic_exempt && basic_exempt->value) {
            const Wide part = std::min(wide(rec.basic_part), wide(rec.amount));
            in.basic_excluded += part;
            counted -= part;
          }
        }
        if (rec.kind == IncomeKind::kRoadAccidentRelief && road_rule) {
          in.road_excluded += wide(rec.amount);
          counted -= wide(rec.amount);
        }
        // Tax withheld, never more than the part of the record that counts.
        const Wide tax = std::min(wide(rec.tax_withheld), counted);
        in.tax_withheld += wide(rec.tax_withheld);
        member_tax[m] += tax;
        const bool earnings = rec.kind == IncomeKind::kWages || rec.kind == IncomeKind::kBusiness;
        if (earnings && rec.amount > Money{}) {
          earned[m][idx] += wide(rec.amount);
          earned_tax[m][idx] += tax;
          in.earned_months.insert(idx);
        }
        in.member_counted[m] += counted;
      }
      for (const auto& c : r.contributions) {
        const int idx = c.year * 12 + static_cast<int>(c.month) - 1;
        if (idx < in.first || idx > in.last) continue;
        in.contributions += wide(c.personal);
        member_contributions[m] += wide(c.personal);
        contributed[m][idx] += wide(c.personal);
      }
    });
  }
  json net_by_member = json::array();
  for (std::size_t m = 0; m < e.n; ++m) {
    if (in.net) {
      in.net_deducted += member_tax[m] + member_contributions[m];
      in.member_counted[m] -= member_tax[m] + member_contributions[m];
    }
    net_by_member.push_back({{"member_index", m},
                             {"tax_withheld", money_text(member_tax[m])},
                             {"personal_contributions", money_text(member_contributions[m])}});
  }
  // A month's earnings as the employment cost sees them: after tax and the
  // member's own contributions that month where `net`, never below zero.
  const auto month_earnings = [&](std::size_t m, int idx, Wide amount) -> Wide {
    if (!in.net) return amount;
    Wide left = amount - earned_tax[m][idx];
    if (const auto c = contributed[m].find(idx); c != contributed[m].end()) left -= c->second;
    return left < 0 ? 0 : left;
  };
  // Employment cost: for each member the request marks employed, in each
  // month of the window with earnings, the monthly deduction but never more
  // than that month's earnings (after its tax and the member's own
  // contributions where `net`); a month without earnings gets none. Every
  // income record is one calendar month (the adapters refuse other spans),
  // so no window total ever has to be spread over months.
  json deductions = json::array();
  if (cost) {
    for (std::size_t m = 0; m < e.n && m < e.h.members.size(); ++m) {
      if (!e.h.members[m].employed) continue;
      Wide member_earned = 0;
      Wide member_deducted = 0;
      json by_month = json::array();
      for (const auto& [idx, amount] : earned[m]) {
        const Wide base = month_earnings(m, idx, amount);
        const Wide ded = std::min(base, wide(cost->value));
        member_earned += amount;
        member_deducted += ded;
        json month = {{"month", month_text(idx)},
                      {"earned", money_text(amount)},
                      {"deducted", money_text(ded)}};
        if (in.net) month["earned_after_tax_and_contributions"] = money_text(base);
        by_month.push_back(std::move(month));
      }
      in.deduction += member_deducted;
      in.member_counted[m] -= member_deducted;
      deductions.push_back({{"member_index", m},
                            {"months_with_earnings", earned[m].size()},
                            {"earned", money_text(member_earned)},
                            {"deducted", money_text(member_deducted)},
                            {"by_month", by_month}});
    }
  }
  dibao.inputs["income_records_outside_window"] = static_cast<std::int64_t>(outside);
  dibao.inputs["earnings_after_tax_and_contributions"] = in.net;
  dibao.inputs["tax_withheld_in_window"] = money_text(in.tax_withheld);
  dibao.inputs["personal_contributions_in_window"] = money_text(in.contributions);
  dibao.inputs["tax_and_contributions_deducted"] = money_text(in.net_deducted);
  dibao.inputs["tax_and_contributions_by_member"] = std::move(net_by_member);

  // Adjustment traces.
  auto income_unknown = [&](RuleTrace& t, const std::string& applied) {
    set_unknown(t, in.unknown);
    t.result = in.unknown.empty() ? R::kPass : R::kUnknown;
    t.explanation = in.unknown.empty() ? applied : applied + " (income sources incomplete)";
  };
  if (e.policy.applies(kRuleBasicPension)) {
    RuleTrace t = e.start(kRuleBasicPension, Role::kAdjustment);
    if (e.need(t, basic_exempt, "basic_pension_basic_part_exempt")) {
      t.inputs = {{"residents_pension_in_window", money_text(in.residents_pension)},
                  {"basic_part_excluded", money_text(in.basic_excluded)}};
      income_unknown(t, basic_exempt->value
                            ? "basic part of the residents' pension not counted as income"
                            : "exemption not in force on this date: the basic part counts");
    }
    adjustments.push_back(std::move(t));
  }
  if (road_rule) {
    RuleTrace t = e.start(kRuleRoadRelief, Role::kAdjustment);
    t.inputs = {{"road_accident_relief_excluded", money_text(in.road_excluded)}};
    income_unknown(t, "one-off road-traffic-accident relief not counted as income");
    adjustments.push_back(std::move(t));
  }
  if (e.policy.applies(kRuleEmploymentCost)) {
    RuleTrace t = e.start(kRuleEmploymentCost, Role::kAdjustment);
    if (e.need(t, cost, "employment_cost_deduction_monthly")) {
      t.inputs = {{"window_months", in.months},
                  {"deduction_per_month", cost->value.to_string()},
                  {"deductions", deductions},
                  {"total_deducted", money_text(in.deduction)}};
      income_unknown(t, "necessary employment costs deducted for employed members: up to " +
                            cost->value.to_string() +
                            " in each month with earnings, never more than that month's earnings" +
                            (in.net ? " after tax and personal contributions" : ""));
    }
    adjustments.push_back(std::move(t));
  }
  if (e.policy.applies(kRuleSupportFee)) {
    RuleTrace t = e.start(kRuleSupportFee, Role::kAdjustment);
    const auto wage =
        e.need(t, e.policy.money("minimum_wage_monthly", e.on), "minimum_wage_monthly");
    const auto share =
        e.need(t, e.policy.ratio("support_living_cost_share", e.on), "support_living_cost_share");
    // Without them no fee can be assessed: the counted income is incomplete
    // (a fee only adds income, so known income over a line still fails).
    if (!wage) in.unknown.insert("parameter:minimum_wage_monthly");
    if (!share) in.unknown.insert("parameter:support_living_cost_share");
    if (wage && share) {
      const Money living = share->value.of(wage->value);
      json fees = json::array();
      const auto& obligors = e.h.obligors;
      if (!obligors) in.fee_unknown = true;
      for (std::size_t i = 0; obligors && i < obligors->size(); ++i) {
        const auto& o = (*obligors)[i];
        json f = {{"obligor", i}, {"members", o.member_count}};
        if (!o.evidence_sha256.empty()) f["evidence_sha256"] = o.evidence_sha256;
        if (o.receives_assistance) {
          f["fee"] = "0.00";
          f["why"] = "obligor household is itself a dibao or marginal household";
        } else if (!o.disposable_income_monthly) {
          in.fee_unknown = true;
          f["fee"] = nullptr;
          f["why"] = "obligor household's income unknown";
        } else {
          const Wide fee = wide(*o.disposable_income_monthly) - wide(o.rigid_spending_monthly) -
                           wide(living) * wide(o.member_count);
          const Wide paid = fee > 0 ? fee : 0;
          in.fees_monthly += paid;
          f["disposable_income"] = o.disposable_income_monthly->to_string();
          f["rigid_spending"] = o.rigid_spending_monthly.to_string();
          f["living_cost_per_person"] = living.to_string();
          f["fee"] = money_text(paid);
        }
        fees.push_back(std::move(f));
      }
      t.inputs = {{"obligors", obligors ? fees : json(nullptr)},
                  {"support_fee_monthly_total", money_text(in.fees_monthly)}};
      t.result = in.fee_unknown ? R::kUnknown : R::kPass;
      if (in.fee_unknown) t.unknown_sources.push_back("request:obligors");
      if (!obligors) {
        t.explanation =
            "this jurisdiction assesses support fees and the request does not declare the obligor households "
            "(an empty list declares that there are none): a case worker must supply them";
      } else if (obligors->empty()) {
        t.explanation = "the request declares no obligor households; no support fee assessed";
      } else {
        t.explanation = in.fee_unknown ? "an obligor household's income is not known"
                                       : "support fees assessed from the declared figures and counted as household income";
      }
    }
    adjustments.push_back(std::move(t));
  }
  in.ok = true;
  return in;
}

RuleTrace dibao_income(Eval& e, RuleTrace t, const Income& in) {
  t.parameters.insert(t.parameters.begin(), e.standard_prov);
  if (!in.ok) return t;
  set_unknown(t, in.unknown);
  if (in.fee_unknown) t.unknown_sources.push_back("request:obligors");
  const Wide limit = wide(e.standard) * in.months * wide(e.n);
  t.inputs.update(
      {{"window", month_text(in.first) + " to " + month_text(in.last)},
       {"window_months", in.months},
       {"members", e.n},
       {"gross_income_in_window", money_text(in.gross)},
       {"excluded", money_text(in.basic_excluded + in.road_excluded)},
       {"employment_cost_deducted", money_text(in.deduction)},
       {"support_fees_in_window", money_text(in.fees_monthly * in.months)},
       {"counted_income_in_window", money_text(in.counted())},
       {"limit_in_window", money_text(limit)},
       {"income_per_capita_monthly", div_round(in.counted(), in.months * wide(e.n)).to_string()}});
  const std::string cmp = money_text(in.counted()) + " vs " + std::to_string(e.n) + " x " +
                          std::to_string(in.months) + " x " + e.standard.to_string() + " = " +
                          money_text(limit);
  if (in.counted() > limit && in.known_is_floor) {
    t.result = R::kFail;
    t.explanation = "counted income exceeds the standard: " + cmp;
  } else if (in.counted() > limit) {
    t.result = R::kUnknown;
    t.explanation = not_a_floor("exceeds the standard (" + cmp + ")");
  } else if (!in.complete()) {
    t.result = R::kUnknown;
    t.explanation =
        "income known so far is within the standard (" + cmp + "), but sources did not answer";
  } else {
    t.result = R::kPass;
    t.explanation = "per-capita income within the standard: " + cmp;
  }
  return t;
}

// S < income < line (strict at both ends, so income exactly at the line is
// not marginal). Returns the trace; `line_out` receives the line used.
RuleTrace marginal(Eval& e, const Income& in, Role role, std::optional<Line>& line_out) {
  RuleTrace t = e.start(kRuleMarginal, role);
  t.parameters.push_back(e.standard_prov);
  const auto basis = e.need(t, e.policy.text("marginal_line_basis", e.on), "marginal_line_basis");
  if (!basis || !in.ok) return t;
  Line line;
  if (basis->value == "minimum_wage") {
    const auto wage =
        e.need(t, e.policy.money("minimum_wage_monthly", e.on), "minimum_wage_monthly");
    if (!wage) return t;
    line.base = wage->value;
  } else {
    const auto k =
        e.need(t, e.policy.ratio("marginal_income_multiple", e.on), "marginal_income_multiple");
    if (!k) return t;
    line = Line{k->value.num, k->value.den, e.standard};
  }
  line_out = line;
  set_unknown(t, in.unknown);
  if (in.fee_unknown) t.unknown_sources.push_back("request:obligors");
  const int vs_line = compare_income(in, e.n, line);
  const int vs_standard = compare_income(in, e.n, Line{1, 1, e.standard});
  const std::string per_capita = div_round(in.counted(), in.months * wide(e.n)).to_string();
  t.inputs = {{"income_per_capita_monthly", per_capita},
              {"standard", e.standard.to_string()},
              {"line_per_capita", line.per_capita().to_string()},
              {"line_basis", basis->value},
              {"counted_income_in_window", money_text(in.counted())},
              {"line_in_window",
               money_text(line.num * wide(line.base) * in.months * wide(e.n) / line.den)}};
  e.d.figures["marginal_line_per_capita"] = line.per_capita().to_string();
  if (vs_line >= 0 && in.known_is_floor) {
    t.result = R::kFail;
    t.explanation = "income " + per_capita + " per person is not below the marginal line " +
                    line.per_capita().to_string();
  } else if (vs_line >= 0) {
    t.result = R::kUnknown;
    t.explanation = not_a_floor("is not below the marginal line " + line.per_capita().to_string());
  } else if (!in.complete()) {
    t.result = R::kUnknown;
    t.explanation = "income known so far is below the marginal line, but sources did not answer";
  } else if (vs_standard <= 0) {
    t.result = R::kFail;
    t.explanation =
        "income " + per_capita + " per person is within the dibao standard, not above it";
  } else {
    t.result = R::kPass;
    t.explanation = "income " + per_capita + " per person is above the standard " +
                    e.standard.to_string() + " and below the marginal line " +
                    line.per_capita().to_string();
  }
  return t;
}

}  // namespace hfv::policies::rules
