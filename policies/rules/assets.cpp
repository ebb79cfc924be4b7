// Asset rules: savings cap, vehicles, real estate, business (docs/policy-files.md "Rules").
#include "policies/rules/eval.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hfv::policies::rules {

using nlohmann::json;

RuleTrace savings_cap(Eval& e) {
  RuleTrace t = e.start(kRuleSavingsCap, Role::kCondition);
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
//
// Where disability-vehicle is listed (seed 000), the exemption is defined by
// the vehicle's purpose: bought for a seriously ill or severely disabled
// member's treatment, rehabilitation or travel, priced within the cap. The
// registry shows a purpose only for a vehicle registered as a disability
// mobility vehicle (mobility_aid). Any other vehicle of a disqualifying type,
// in a household with such a member and priced within the cap, may still be
// one (a seriously ill member's car is an ordinary car): a case worker
// decides, so the rule is unknown, never fail and never pass. A type in
// vehicle_case_worker_types (not in vehicle_disqualifying_types, which wins)
// is also left to a case worker: no source the jurisdiction has says it
// disqualifies.
void vehicles(Eval& e, std::vector<RuleTrace>& out) {
  const bool disability_rule = e.policy.applies(kRuleDisabilityVehicle);
  RuleTrace dv = e.start(kRuleDisabilityVehicle, Role::kAdjustment);
  RuleTrace vo = e.start(kRuleVehicles, Role::kCondition);
  const auto types =
      e.need(vo, e.policy.list("vehicle_disqualifying_types", e.on), "vehicle_disqualifying_types");
  const auto aid_exempt =
      e.need(vo, e.policy.flag("vehicle_mobility_aid_exempt", e.on), "vehicle_mobility_aid_exempt");
  const auto review_types = e.policy.list("vehicle_case_worker_types", e.on);
  if (review_types) vo.parameters.push_back(review_types->provenance);
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
  const auto listed_in = [](const std::optional<InForce<std::vector<std::string>>>& list,
                            const std::string& type) {
    return list && std::find(list->value.begin(), list->value.end(), type) != list->value.end();
  };
  std::vector<std::size_t> qualifying;
  for (std::size_t m = 0; m < e.n && m < e.h.members.size(); ++m) {
    if (e.h.members[m].serious_illness || severely_disabled(e.h.members[m]))
      qualifying.push_back(m);
  }
  json listed = json::array();
  json claims = json::array();
  int disqualifying = 0;
  int aid_not_exempt = 0;
  int case_worker = 0;   // vehicles left to a case worker (either reason)
  int purpose_open = 0;  // of which: a possible disability vehicle whose purpose is not shown
  e.each_known(Source::kVehicle, [&](std::size_t m, const NormalisedRecords& r) {
    for (const auto& v : r.vehicles) {
      const bool counts = listed_in(types, v.type);
      const bool review = !counts && listed_in(review_types, v.type);
      std::string verdict;
      // Not exempt: disqualifying where the type counts, else a case worker's.
      const auto not_exempt = [&](const std::string& why) {
        if (counts) {
          ++disqualifying;
          verdict = "disqualifying: " + why;
        } else {
          ++case_worker;
          verdict = "case worker: a " + v.type + " (no source here says the type disqualifies); " +
                    why;
        }
      };
      if (!counts && !review) {
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
                          {"registered_mobility_aid", true},
                          {"exempt", exempt},
                          {"why", why}});
        if (exempt) {
          verdict = "exempt: " + why;
        } else {
          ++aid_not_exempt;
          not_exempt("not exempt: " + why);
        }
      } else if (counts && disability_rule && !qualifying.empty() &&
                 v.purchase_price <= price_cap) {
        const std::string why =
            "purchase price " + v.purchase_price.to_string() + " within " + price_cap.to_string() +
            " and the household has a seriously ill or severely disabled member; whether it was "
            "bought for that member's treatment, rehabilitation or travel is not in the registry";
        claims.push_back({{"member_index", m},
                          {"plate", v.plate_masked},
                          {"purchase_price", v.purchase_price.to_string()},
                          {"registered_mobility_aid", false},
                          {"exempt", nullptr},
                          {"why", why}});
        ++case_worker;
        ++purpose_open;
        verdict = "case worker: " + why;
      } else if (counts) {
        ++disqualifying;
        verdict = "disqualifying";
        if (disability_rule && !qualifying.empty()) {
          verdict += ": purchase price " + v.purchase_price.to_string() + " exceeds " +
                     price_cap.to_string();
        }
      } else {
        not_exempt("not registered as a disability mobility vehicle");
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
  } else if (case_worker > 0) {
    // The registry answered for these vehicles: a case worker decides, so no
    // source is named unless another member's answer is missing too.
    vo.result = R::kUnknown;
    vo.explanation = std::to_string(case_worker) +
                     " vehicle(s) a case worker must judge (see each vehicle's verdict)" +
                     (unknown.empty() ? "" : "; the vehicle registry did not answer for every member");
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
    } else if (purpose_open > 0) {
      dv.result = R::kUnknown;
      dv.explanation = std::to_string(purpose_open) +
                       " vehicle(s) priced within the cap may have been bought for a seriously ill "
                       "or severely disabled member; the registry does not show the purpose, so a "
                       "case worker decides";
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

// Non-residential property disqualifies where the policy says so, except
// uses in real_estate_case_worker_uses: whether such property ("other": a
// parking space, storage, land use right ...) is what the jurisdiction's rule
// means is a case worker's judgement, so it makes the rule unknown, never
// fail on its own.
RuleTrace real_estate(Eval& e) {
  RuleTrace t = e.start(kRuleRealEstate, Role::kCondition);
  const auto non_res = e.need(t, e.policy.flag("real_estate_non_residential_allowed", e.on),
                              "real_estate_non_residential_allowed");
  const auto max_homes =
      e.need(t, e.policy.integer("real_estate_max_homes", e.on), "real_estate_max_homes");
  if (!non_res || !max_homes) return t;
  const auto area_limit = e.policy.area("real_estate_extra_home_area_per_capita_m2", e.on);
  if (area_limit) t.parameters.push_back(area_limit->provenance);
  const auto review_uses = e.policy.list("real_estate_case_worker_uses", e.on);
  if (review_uses) t.parameters.push_back(review_uses->provenance);
  std::set<std::string> homes;
  int non_residential = 0;
  int case_worker = 0;  // non-residential property of a use a case worker judges
  Wide area_centi_percent = 0;  // sum of area (0.01 m2) x share (%)
  e.each_known(Source::kRealEstate, [&](std::size_t, const NormalisedRecords& r) {
    for (const auto& p : r.real_estate) {
      if (p.use == "residential") {
        homes.insert(p.certificate_masked);
        area_centi_percent += static_cast<Wide>(p.area_centi_m2) * p.share_percent;
      } else if (review_uses && std::find(review_uses->value.begin(), review_uses->value.end(),
                                          p.use) != review_uses->value.end()) {
        ++case_worker;
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
  if (review_uses) t.inputs["case_worker_property"] = case_worker;
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
  if (t.result != R::kFail && case_worker > 0 && !non_res->value) {
    t.result = R::kUnknown;
    t.explanation += "; " + std::to_string(case_worker) +
                     " property record(s) of a use no source here classes (e.g. \"other\"): a "
                     "case worker decides whether it counts as non-residential property";
  }
  return t;
}

RuleTrace business(Eval& e) {
  RuleTrace t = e.start(kRuleBusiness, Role::kCondition);
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

}  // namespace hfv::policies::rules
