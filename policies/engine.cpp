#include "policies/engine.hpp"

#include <algorithm>
#include <set>

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

namespace {

// Exact products of money, months, members and ratio terms: 128 bits leave
// no room for overflow whatever an agency reports.
__extension__ typedef __int128 Wide;

Wide wide(Money m) { return static_cast<Wide>(m.fen()); }
Wide wide(std::size_t n) { return static_cast<Wide>(n); }

constexpr int kAdultAge = 18;  // 未成年人: under 18 (law, not a local parameter)

using R = RuleResult;

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

int age_on(const Date& birth, const Date& on) {
  int age = on.year() - birth.year();
  if (on.month() < birth.month() || (on.month() == birth.month() && on.day() < birth.day())) --age;
  return age;
}

// 重度残疾人 in the seeds: grade 1-2, or grade 3 intellectual or mental.
bool severely_disabled(const MemberFacts& m) {
  if (!m.disability_grade) return false;
  if (*m.disability_grade <= 2) return true;
  return *m.disability_grade == 3 &&
         (m.disability_kind == "intellectual" || m.disability_kind == "mental");
}

bool has_labour_capacity(const MemberFacts& m) {
  return m.labour_capacity == "full" || m.labour_capacity == "partial" || m.employed;
}

std::string money_text(Wide fen) {
  return Money::from_fen(static_cast<std::int64_t>(fen)).to_string();
}

// Nearest fen, halves up, for non-negative totals divided by a positive count.
Money div_round(Wide fen, Wide divisor) {
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

  RuleTrace start(std::string_view id, std::string role) const {
    RuleTrace t;
    const RuleRef* ref = policy.rule(id);
    t.rule = std::string(id);
    t.clause = ref != nullptr ? ref->clause : "";
    t.example = ref != nullptr && ref->example;
    t.note = ref != nullptr ? ref->note : "";
    t.role = std::move(role);
    return t;
  }
  template <class T>
  std::optional<InForce<T>> need(RuleTrace& t, const std::optional<InForce<T>>& p,
                                 const char* name) const {
    if (p) {
      t.parameters.push_back(p->provenance);
    } else {
      t.result = R::kUnknown;
      t.explanation = std::string("parameter ") + name + " not in force on " + on.to_string();
      t.unknown_sources.push_back(std::string("parameter:") + name);
    }
    return p;
  }
};

void set_unknown(RuleTrace& t, const std::set<std::string>& unknown) {
  t.unknown_sources.assign(unknown.begin(), unknown.end());
}

// ---------------------------------------------------------------- assets

RuleTrace savings_cap(Eval& e) {
  RuleTrace t = e.start(kRuleSavingsCap, "condition");
  t.parameters.push_back(e.standard_prov);
  const auto sources = e.need(t, e.policy.monetary_sources(e.on), "monetary_asset_sources");
  const auto comparison =
      e.need(t, e.policy.text("savings_cap_comparison", e.on), "savings_cap_comparison");
  if (!sources || !comparison) return t;
  Money cap_per_capita;
  std::string cap_basis;
  if (e.policy.parameters().contains("savings_cap_months")) {
    const auto months = e.need(t, e.policy.savings_cap_months(e.on), "savings_cap_months");
    if (!months) return t;
    cap_per_capita = e.standard * months->value;
    cap_basis = std::to_string(months->value) + " x standard " + e.standard.to_string();
  } else {
    const char* tier = e.n <= 2 ? "savings_cap_fixed_per_capita.small_household"
                                : "savings_cap_fixed_per_capita.large_household";
    const auto fixed = e.need(t, e.policy.money(tier, e.on), tier);
    if (!fixed) return t;
    cap_per_capita = fixed->value;
    cap_basis = std::string("fixed amount for a household of ") + (e.n <= 2 ? "1-2" : "3 or more");
  }
  const bool strict = comparison->value == "below";
  const Wide cap_household = wide(cap_per_capita) * wide(e.n);

  Wide known_total = 0;
  json per_source = json::object();
  for (Source src : sources->value) {
    Wide source_total = 0;
    e.each_known(src, [&](std::size_t, const NormalisedRecords& r) {
      for (const auto& a : r.holdings) source_total += wide(a.amount);
      if (src == Source::kProvidentFund && r.provident_fund)
        source_total += wide(r.provident_fund->balance);
    });
    per_source[std::string(source_name(src))] = money_text(source_total);
    known_total += source_total;
  }
  std::set<std::string> unknown;
  for (Source src : sources->value) {
    for (auto& u : e.unknown_of({src})) unknown.insert(u);
  }
  set_unknown(t, unknown);
  t.inputs = {{"members", e.n},
              {"monetary_assets_known_total", money_text(known_total)},
              {"monetary_assets_by_source", per_source},
              {"savings_cap_basis", cap_basis},
              {"comparison", strict ? "total < cap x members" : "total <= cap x members"},
              {"savings_cap_per_capita", cap_per_capita.to_string()},
              {"savings_cap_household", money_text(cap_household)}};
  e.d.figures["monetary_assets_per_capita"] = div_round(known_total, wide(e.n)).to_string();
  e.d.figures["savings_cap_per_capita"] = cap_per_capita.to_string();

  const bool over = strict ? known_total >= cap_household : known_total > cap_household;
  const std::string relation = std::string(strict ? " below " : " within ") + std::to_string(e.n) +
                               " x " + cap_per_capita.to_string() + " = " +
                               money_text(cap_household);
  // Unknown sources can only add assets: a total already over the cap fails.
  if (over) {
    t.result = R::kFail;
    t.explanation = "monetary assets " + money_text(known_total) + " are not" + relation;
  } else if (!unknown.empty()) {
    t.result = R::kUnknown;
    t.explanation = "assets known so far (" + money_text(known_total) +
                    ") are within the cap, but some sources did not answer";
  } else {
    t.result = R::kPass;
    t.explanation = "monetary assets " + money_text(known_total) + " are" + relation;
  }
  return t;
}

// Vehicles: one pass classifies every vehicle; disability-vehicle explains
// the exemption, vehicle-ownership decides.
void vehicles(Eval& e, std::vector<RuleTrace>& out) {
  const bool disability_rule = e.policy.applies(kRuleDisabilityVehicle);
  RuleTrace dv = e.start(kRuleDisabilityVehicle, "adjustment");
  RuleTrace vo = e.start(kRuleVehicles, "condition");
  const auto types =
      e.need(vo, e.policy.list("vehicle_disqualifying_types", e.on), "vehicle_disqualifying_types");
  const auto aid_exempt =
      e.need(vo, e.policy.flag("vehicle_mobility_aid_exempt", e.on), "vehicle_mobility_aid_exempt");
  std::optional<InForce<std::int64_t>> cap_months;
  if (disability_rule) {
    dv.parameters.push_back(e.standard_prov);
    cap_months = e.need(dv, e.policy.integer("disability_vehicle_price_cap_months", e.on),
                        "disability_vehicle_price_cap_months");
  }
  if (!types || !aid_exempt || (disability_rule && !cap_months)) {
    out.push_back(std::move(vo));
    if (disability_rule) out.push_back(std::move(dv));
    return;
  }
  const Money price_cap = cap_months ? e.standard * cap_months->value : Money{};
  std::vector<std::size_t> qualifying;
  for (std::size_t m = 0; m < e.n && m < e.h.members.size(); ++m) {
    if (e.h.members[m].serious_illness || severely_disabled(e.h.members[m]))
      qualifying.push_back(m);
  }
  json listed = json::array();
  json claims = json::array();
  int disqualifying = 0;
  int aid_not_exempt = 0;
  e.each_known(Source::kVehicle, [&](std::size_t m, const NormalisedRecords& r) {
    for (const auto& v : r.vehicles) {
      std::string verdict;
      const bool counts =
          std::find(types->value.begin(), types->value.end(), v.type) != types->value.end();
      if (!counts) {
        verdict = "not a disqualifying type here";
      } else if (v.mobility_aid && aid_exempt->value) {
        std::string why;
        bool exempt = true;
        if (qualifying.empty()) {
          exempt = false;
          why = "no seriously ill or severely disabled member";
        } else if (disability_rule && v.purchase_price > price_cap) {
          exempt = false;
          why = "purchase price " + v.purchase_price.to_string() + " exceeds " +
                price_cap.to_string();
        } else {
          why = disability_rule ? "purchase price " + v.purchase_price.to_string() + " within " +
                                      price_cap.to_string()
                                : "disability mobility vehicle";
        }
        claims.push_back({{"member_index", m},
                          {"plate", v.plate_masked},
                          {"purchase_price", v.purchase_price.to_string()},
                          {"exempt", exempt},
                          {"why", why}});
        verdict = exempt ? "exempt: " + why : "not exempt: " + why;
        if (!exempt) {
          ++aid_not_exempt;
          ++disqualifying;
        }
      } else {
        verdict = "disqualifying";
        ++disqualifying;
      }
      listed.push_back({{"member_index", m},
                        {"plate", v.plate_masked},
                        {"type", v.type},
                        {"purchase_price", v.purchase_price.to_string()},
                        {"mobility_aid", v.mobility_aid},
                        {"verdict", verdict}});
    }
  });
  const auto unknown = e.unknown_of({Source::kVehicle});
  std::vector<std::size_t> q = qualifying;
  vo.inputs = {{"vehicles", listed}, {"qualifying_members", q}};
  set_unknown(vo, unknown);
  if (disqualifying > 0) {
    vo.result = R::kFail;
    vo.explanation =
        std::to_string(disqualifying) + " vehicle(s) of a disqualifying type and not exempt";
  } else if (!unknown.empty()) {
    vo.result = R::kUnknown;
    vo.explanation =
        "no disqualifying vehicle known, but the vehicle registry did not answer for every member";
  } else {
    vo.result = R::kPass;
    vo.explanation = "no disqualifying vehicle";
  }
  if (disability_rule) {
    dv.inputs = {
        {"claims", claims}, {"price_cap", price_cap.to_string()}, {"qualifying_members", q}};
    set_unknown(dv, unknown);
    if (aid_not_exempt > 0) {
      dv.result = R::kFail;
      dv.explanation =
          std::to_string(aid_not_exempt) + " mobility vehicle(s) do not qualify for the exemption";
    } else if (!unknown.empty()) {
      dv.result = R::kUnknown;
      dv.explanation = "the vehicle registry did not answer for every member";
    } else {
      dv.result = R::kPass;
      dv.explanation = claims.empty() ? "no vehicle claims the exemption"
                                      : "every mobility vehicle is priced within " +
                                            std::to_string(cap_months->value) +
                                            " x standard = " + price_cap.to_string();
    }
  }
  out.push_back(std::move(vo));
  if (disability_rule) out.push_back(std::move(dv));
}

RuleTrace real_estate(Eval& e) {
  RuleTrace t = e.start(kRuleRealEstate, "condition");
  const auto non_res = e.need(t, e.policy.flag("real_estate_non_residential_allowed", e.on),
                              "real_estate_non_residential_allowed");
  const auto max_homes =
      e.need(t, e.policy.integer("real_estate_max_homes", e.on), "real_estate_max_homes");
  if (!non_res || !max_homes) return t;
  const auto area_limit = e.policy.area("real_estate_extra_home_area_per_capita_m2", e.on);
  if (area_limit) t.parameters.push_back(area_limit->provenance);
  std::set<std::string> homes;
  int non_residential = 0;
  Wide area_centi_percent = 0;  // sum of area (0.01 m2) x share (%)
  e.each_known(Source::kRealEstate, [&](std::size_t, const NormalisedRecords& r) {
    for (const auto& p : r.real_estate) {
      if (p.use == "residential") {
        homes.insert(p.certificate_masked);
        area_centi_percent += static_cast<Wide>(p.area_centi_m2) * p.share_percent;
      } else {
        ++non_residential;
      }
    }
  });
  const auto unknown = e.unknown_of({Source::kRealEstate});
  set_unknown(t, unknown);
  const auto home_count = static_cast<std::int64_t>(homes.size());
  const Wide area_centi = area_centi_percent / 100;
  t.inputs = {{"homes", home_count},
              {"non_residential", non_residential},
              {"residential_area_m2_owned", money_text(area_centi)},
              {"members", e.n}};
  if (non_residential > 0 && !non_res->value) {
    t.result = R::kFail;
    t.explanation = "owns non-residential property";
  } else if (home_count > max_homes->value + 1) {
    t.result = R::kFail;
    t.explanation = std::to_string(home_count) + " homes exceed the allowance";
  } else if (home_count == max_homes->value + 1) {
    if (!area_limit) {
      t.result = R::kUnknown;
      t.unknown_sources.push_back("parameter:real_estate_extra_home_area_per_capita_m2");
      t.explanation =
          "one home more than allowed; whether it is tolerated depends on the local average "
          "per-capita housing area, which the policy file does not give";
    } else if (area_centi_percent > static_cast<Wide>(area_limit->value.centi) * 100 * wide(e.n)) {
      t.result = R::kFail;
      t.explanation = "an extra home with per-capita area above the limit";
    } else {
      t.result = unknown.empty() ? R::kPass : R::kUnknown;
      t.explanation = "an extra home, per-capita area within the limit";
    }
  } else {
    t.result = unknown.empty() ? R::kPass : R::kUnknown;
    t.explanation = unknown.empty()
                        ? "property within the allowance"
                        : "property known so far is within the allowance, but the registry "
                          "did not answer for every member";
  }
  return t;
}

RuleTrace business(Eval& e) {
  RuleTrace t = e.start(kRuleBusiness, "condition");
  const auto limit = e.need(t, e.policy.money("business_subscribed_capital_limit", e.on),
                            "business_subscribed_capital_limit");
  if (!limit) return t;
  Wide total = 0;
  int count = 0;
  e.each_known(Source::kBusiness, [&](std::size_t, const NormalisedRecords& r) {
    for (const auto& b : r.businesses) {
      if (b.status == "revoked" || b.status == "cancelled") continue;
      total += wide(b.subscribed_capital);
      ++count;
    }
  });
  const auto unknown = e.unknown_of({Source::kBusiness});
  set_unknown(t, unknown);
  t.inputs = {{"active_businesses", count}, {"subscribed_capital_total", money_text(total)}};
  if (total >= wide(limit->value)) {
    t.result = R::kFail;
    t.explanation =
        "subscribed capital " + money_text(total) + " is not below " + limit->value.to_string();
  } else {
    t.result = unknown.empty() ? R::kPass : R::kUnknown;
    t.explanation =
        "subscribed capital " + money_text(total) + " is below " + limit->value.to_string() +
        (unknown.empty() ? "" : " so far; the business registry did not answer for every member");
  }
  return t;
}

// ---------------------------------------------------------------- income

struct Income {
  bool ok = false;  // parameters in force
  std::int64_t months = 0;
  int first = 0, last = 0;        // window as year*12+month-1, inclusive
  std::set<std::string> unknown;  // tax / social_insurance not complete
  bool fee_unknown = false;
  Wide gross = 0, basic_excluded = 0, road_excluded = 0, deduction = 0, fees_monthly = 0;
  Wide residents_pension = 0;
  std::vector<Wide> member_counted;  // per member, over the window, before fees
  std::set<int> earned_months;
  std::map<int, Wide> by_month;
  Wide counted() const {
    const Wide c = gross - basic_excluded - road_excluded - deduction + fees_monthly * months;
    return c < 0 ? 0 : c;
  }
  bool complete() const { return unknown.empty() && !fee_unknown; }
};

Income compute_income(Eval& e, RuleTrace& dibao, std::vector<RuleTrace>& adjustments) {
  Income in;
  const auto lookback =
      e.need(dibao, e.policy.integer("income_lookback_months", e.on), "income_lookback_months");
  if (!lookback) return in;
  in.months = lookback->value;
  const int ref = e.on.year() * 12 + static_cast<int>(e.on.month()) - 1;
  in.last = ref - 1;
  in.first = ref - static_cast<int>(in.months);
  in.unknown = e.unknown_of({Source::kTax, Source::kSocialInsurance});
  in.member_counted.assign(e.n, 0);

  const bool road_rule = e.policy.applies(kRuleRoadRelief);
  std::optional<InForce<bool>> basic_exempt;
  if (e.policy.applies(kRuleBasicPension))
    basic_exempt = e.policy.flag("basic_pension_basic_part_exempt", e.on);
  std::optional<InForce<Money>> cost;
  if (e.policy.applies(kRuleEmploymentCost))
    cost = e.policy.money("employment_cost_deduction_monthly", e.on);

  std::vector<Wide> earned(e.n, 0);
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
        if ((rec.kind == IncomeKind::kWages || rec.kind == IncomeKind::kBusiness) &&
            rec.amount > Money{}) {
          earned[m] += wide(rec.amount);
          in.earned_months.insert(idx);
        }
        in.member_counted[m] += counted;
      }
    });
  }
  // Employment cost: per employed member, up to the deduction per month of
  // the window, never more than that member's earned income.
  json deductions = json::array();
  if (cost) {
    for (std::size_t m = 0; m < e.n && m < e.h.members.size(); ++m) {
      if (!e.h.members[m].employed) continue;
      const Wide ded = std::min(earned[m], wide(cost->value) * in.months);
      in.deduction += ded;
      in.member_counted[m] -= ded;
      deductions.push_back(
          {{"member_index", m}, {"earned", money_text(earned[m])}, {"deducted", money_text(ded)}});
    }
  }
  dibao.inputs["income_records_outside_window"] = static_cast<std::int64_t>(outside);

  // Adjustment traces.
  auto income_unknown = [&](RuleTrace& t, const std::string& applied) {
    set_unknown(t, in.unknown);
    t.result = in.unknown.empty() ? R::kPass : R::kUnknown;
    t.explanation = in.unknown.empty() ? applied : applied + " (income sources incomplete)";
  };
  if (e.policy.applies(kRuleBasicPension)) {
    RuleTrace t = e.start(kRuleBasicPension, "adjustment");
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
    RuleTrace t = e.start(kRuleRoadRelief, "adjustment");
    t.inputs = {{"road_accident_relief_excluded", money_text(in.road_excluded)}};
    income_unknown(t, "one-off road-traffic-accident relief not counted as income");
    adjustments.push_back(std::move(t));
  }
  if (e.policy.applies(kRuleEmploymentCost)) {
    RuleTrace t = e.start(kRuleEmploymentCost, "adjustment");
    if (e.need(t, cost, "employment_cost_deduction_monthly")) {
      t.inputs = {{"window_months", in.months},
                  {"deductions", deductions},
                  {"total_deducted", money_text(in.deduction)}};
      income_unknown(t, "necessary employment costs deducted for employed members");
    }
    adjustments.push_back(std::move(t));
  }
  if (e.policy.applies(kRuleSupportFee)) {
    RuleTrace t = e.start(kRuleSupportFee, "adjustment");
    const auto wage =
        e.need(t, e.policy.money("minimum_wage_monthly", e.on), "minimum_wage_monthly");
    const auto share =
        e.need(t, e.policy.ratio("support_living_cost_share", e.on), "support_living_cost_share");
    if (wage && share) {
      const Money living = share->value.of(wage->value);
      json fees = json::array();
      for (std::size_t i = 0; i < e.h.obligors.size(); ++i) {
        const auto& o = e.h.obligors[i];
        json f = {{"obligor", i}, {"members", o.member_count}};
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
      t.inputs = {{"obligors", fees}, {"support_fee_monthly_total", money_text(in.fees_monthly)}};
      t.result = in.fee_unknown ? R::kUnknown : R::kPass;
      if (in.fee_unknown) t.unknown_sources.push_back("obligor");
      t.explanation = e.h.obligors.empty()
                          ? "no obligor households submitted; no support fee assessed"
                          : "support fees assessed and counted as household income";
    }
    adjustments.push_back(std::move(t));
  }
  in.ok = true;
  return in;
}

// Income against a per-capita line given as num/den x base: compares
// counted x den with num x base x months x members, exactly.
struct Line {
  Wide num = 1, den = 1;
  Money base;
  Money per_capita() const { return div_round(static_cast<Wide>(base.fen()) * num, den); }
};
int compare_income(const Income& in, std::size_t n, const Line& line) {
  const Wide lhs = in.counted() * line.den;
  const Wide rhs = line.num * wide(line.base) * in.months * wide(n);
  return lhs < rhs ? -1 : (lhs > rhs ? 1 : 0);
}

RuleTrace dibao_income(Eval& e, RuleTrace t, const Income& in) {
  t.parameters.insert(t.parameters.begin(), e.standard_prov);
  if (!in.ok) return t;
  set_unknown(t, in.unknown);
  if (in.fee_unknown) t.unknown_sources.push_back("obligor");
  const Wide limit = wide(e.standard) * in.months * wide(e.n);
  const auto first = Date::from_ymd(in.first / 12, static_cast<unsigned>(in.first % 12 + 1), 1);
  const auto last = Date::from_ymd(in.last / 12, static_cast<unsigned>(in.last % 12 + 1), 1);
  t.inputs.update(
      {{"window", first->to_string().substr(0, 7) + " to " + last->to_string().substr(0, 7)},
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
  if (in.counted() > limit) {
    t.result = R::kFail;
    t.explanation = "counted income exceeds the standard: " + cmp;
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
RuleTrace marginal(Eval& e, const Income& in, const std::string& role,
                   std::optional<Line>& line_out) {
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
  if (in.fee_unknown) t.unknown_sources.push_back("obligor");
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
  if (vs_line >= 0) {
    t.result = R::kFail;
    t.explanation = "income " + per_capita + " per person is not below the marginal line " +
                    line.per_capita().to_string();
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

// ---------------------------------------------------------------- review

RuleTrace review(Eval& e, const Income& in, bool income_known) {
  RuleTrace t = e.start(kRuleReview, "schedule");
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
  holds["tekun"] = e.d.programme == "tekun" && e.d.outcome == Outcome::kEligible;
  holds["marginal"] = e.d.classification == "marginal";
  holds["no_income_no_labour"] = in.ok && in.counted() == 0 && all_none && !e.h.members.empty();
  holds["illness_or_disability"] = std::any_of(
      e.h.members.begin(), e.h.members.end(),
      [](const MemberFacts& m) { return m.serious_illness || m.disability_grade.has_value(); });
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

json decision_json(const Decision& d) {
  json rules = json::array();
  for (const auto& t : d.rules) {
    json params = json::array();
    for (const auto& p : t.parameters) {
      params.push_back({{"name", p.name},
                        {"value", p.value},
                        {"effective_from", p.from.to_string()},
                        {"reference", p.reference},
                        {"example", p.example}});
    }
    json r = {{"rule", t.rule},
              {"result", std::string(rule_result_name(t.result))},
              {"source", t.clause},
              {"role", t.role},
              {"inputs", t.inputs},
              {"parameters", params},
              {"unknown_sources", t.unknown_sources},
              {"explanation", t.explanation},
              {"example", t.example}};
    if (!t.note.empty()) r["note"] = t.note;
    rules.push_back(std::move(r));
  }
  return {{"outcome", std::string(outcome_name(d.outcome))},
          {"classification", d.classification},
          {"figures", d.figures},
          {"rules", rules},
          {"basis", d.basis},
          {"next_review", d.next_review ? json(d.next_review->to_string()) : json(nullptr)},
          {"policy_version", d.policy_version}};
}

}  // namespace hfv::policies
