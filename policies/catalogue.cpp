#include "policies/catalogue.hpp"

#include <algorithm>
#include <string>

namespace hfv::policies {

namespace {

#define HFV_S0 "000_74d306e405892d62.txt#"
#define HFV_S1 "001_26e3ccaad77ddb0b.txt#"
#define HFV_S2 "002_b86fb5830263699b.txt#"
#define HFV_S3 "003_91bc1ece9bf1afc9.txt#"
#define HFV_S4 "004_2002961d590718da.txt#"
#define HFV_PM "parameters.md#"

using K = ParamKind;

// Every "<kind>-<grade>" a policy file may list, kinds x grades 1-4.
std::vector<std::string_view> disability_grades() {
  static const std::vector<std::string> storage = [] {
    std::vector<std::string> out;
    for (auto kind : disability_kinds()) {
      for (char grade = '1'; grade <= '4'; ++grade) out.push_back(std::string(kind) + "-" + grade);
    }
    return out;
  }();
  return {storage.begin(), storage.end()};
}

}  // namespace

const std::vector<std::string_view>& disability_kinds() {
  static const std::vector<std::string_view> kinds = {
      "visual", "hearing", "speech", "physical", "intellectual", "mental", "multiple"};
  return kinds;
}

bool is_disability_kind(std::string_view kind) {
  const auto& kinds = disability_kinds();
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

const std::vector<ParamSpec>& param_specs() {
  static const std::vector<ParamSpec> specs = {
      {"dibao_standard_monthly.urban", K::kMoney, 0, 0, {}},
      {"dibao_standard_monthly.rural", K::kMoney, 0, 0, {}},
      {"minimum_wage_monthly", K::kMoney, 0, 0, {}},
      {"monetary_asset_sources",
       K::kList,
       1,
       5,
       {"bank", "securities", "insurance", "internet_finance", "provident_fund"}},
      {"savings_cap_months", K::kInteger, 1, 120, {}},
      {"savings_cap_fixed_per_capita.small_household", K::kMoney, 0, 0, {}},
      {"savings_cap_fixed_per_capita.large_household", K::kMoney, 0, 0, {}},
      {"savings_cap_comparison", K::kText, 0, 0, {"at_most", "below"}},
      {"disability_vehicle_price_cap_months", K::kInteger, 1, 120, {}},
      {"vehicle_disqualifying_types", K::kList, 0, 4, {"car", "motorcycle", "truck", "vessel"}},
      {"vehicle_case_worker_types", K::kList, 0, 4, {"car", "motorcycle", "truck", "vessel"}},
      {"vehicle_mobility_aid_exempt", K::kBool, 0, 0, {}},
      {"real_estate_non_residential_allowed", K::kBool, 0, 0, {}},
      {"real_estate_case_worker_uses", K::kList, 0, 2, {"commercial", "other"}},
      {"real_estate_max_homes", K::kInteger, 0, 10, {}},
      {"real_estate_extra_home_area_per_capita_m2", K::kArea, 0, 0, {}},
      {"business_subscribed_capital_limit", K::kMoney, 0, 0, {}},
      {"income_lookback_months", K::kInteger, 1, 36, {}},
      {"earnings_after_tax_and_contributions", K::kBool, 0, 0, {}},
      {"basic_pension_basic_part_exempt", K::kBool, 0, 0, {}},
      {"employment_cost_deduction_monthly", K::kMoney, 0, 0, {}},
      {"marginal_line_basis", K::kText, 0, 0, {"standard_multiple", "minimum_wage"}},
      {"marginal_income_multiple", K::kRatio, 0, 0, {}},
      {"gradual_exit_employment_required", K::kBool, 0, 0, {}},
      {"gradual_exit_self_report_required", K::kBool, 0, 0, {}},
      {"gradual_exit_upper_bound", K::kText, 0, 0, {"income_multiple", "none"}},
      {"gradual_exit_income_multiple", K::kRatio, 0, 0, {}},
      {"gradual_exit_period_months", K::kInteger, 1, 36, {}},
      {"single_person_disabled_serviceman_max_grade", K::kInteger, 1, 10, {}},
      {"single_person_entitled_group_pension", K::kBool, 0, 0, {}},
      {"expenditure_poverty_kinds",
       K::kList,
       1,
       4,
       {"hospital_treatment", "rehabilitation", "chronic_illness", "schooling"}},
      {"expenditure_poverty_line_multiple", K::kRatio, 0, 0, {}},
      {"readjustment_tolerance_share", K::kRatio, 0, 0, {}},
      {"emergency_follow_up_months", K::kInteger, 1, 24, {}},
      {"supplement_share", K::kRatio, 0, 0, {}},
      {"supplement_elderly_age", K::kInteger, 40, 100, {}},
      {"tekun_basic_multiple", K::kRatio, 0, 0, {}},
      {"tekun_basic_standard_monthly.urban", K::kMoney, 0, 0, {}},
      {"tekun_basic_standard_monthly.rural", K::kMoney, 0, 0, {}},
      {"tekun_no_labour_capacity_disabilities", K::kList, 0, 28, disability_grades()},
      {"tekun_care_share.self_care", K::kRatio, 0, 0, {}},
      {"tekun_care_share.half_care", K::kRatio, 0, 0, {}},
      {"tekun_care_share.full_care", K::kRatio, 0, 0, {}},
      {"tekun_minor_age", K::kInteger, 14, 25, {}},
      {"support_living_cost_share", K::kRatio, 0, 0, {}},
      {"review_cycles",
       K::kCycles,
       1,
       60,
       {"tekun", "no_income_no_labour", "illness_or_disability", "unchanged_income",
        "stable_income", "irregular_income", "unstable_with_labour", "marginal",
        "expenditure_poverty", "default"}},
  };
  return specs;
}

const ParamSpec* find_param_spec(std::string_view name) {
  for (const auto& s : param_specs()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// Clause ids are the seed's prefix macro followed by the tag: the literals
// are concatenated on purpose.
// NOLINTBEGIN(bugprone-suspicious-missing-comma)
const std::vector<RuleSpec>& rule_specs() {
  // Each clause is a document prefix macro joined to its tag on purpose.
  // NOLINTBEGIN(bugprone-suspicious-missing-comma)
  static const std::vector<RuleSpec> specs = {
      {kRuleSavingsCap,
       {HFV_S0 "savings-cap-24m", HFV_PM "shanghai-assets", HFV_PM "beijing-assets",
        HFV_PM "henan-assets", HFV_PM "shaanxi-assets"},
       {"dibao_standard_monthly.urban", "dibao_standard_monthly.rural", "monetary_asset_sources",
        "savings_cap_comparison"},
       {}},
      {kRuleDisabilityVehicle,
       {HFV_S0 "disability-vehicle"},
       {"disability_vehicle_price_cap_months"},
       {kRuleVehicles}},
      {kRuleVehicles,
       {HFV_S0 "disability-vehicle", HFV_PM "shanghai-assets", HFV_PM "beijing-assets",
        HFV_PM "henan-assets", HFV_PM "shaanxi-assets"},
       {"vehicle_disqualifying_types", "vehicle_mobility_aid_exempt"},
       {}},
      {kRuleRealEstate,
       {HFV_PM "shanghai-assets", HFV_PM "beijing-assets", HFV_PM "henan-assets",
        HFV_PM "shaanxi-assets"},
       {"real_estate_non_residential_allowed", "real_estate_max_homes"},
       {}},
      {kRuleBusiness, {HFV_PM "henan-assets"}, {"business_subscribed_capital_limit"}, {}},
      {kRuleHouseholdComposition,
       {HFV_S0 "household-population", HFV_S1 "s8-verification", HFV_S2 "s13-identity-check",
        HFV_S3 "s22-verification-sources", HFV_S4 "s20-verification-sources"},
       {},
       {}},
      {kRuleBasicPension,
       {HFV_S1 "s1-basic-pension-exempt"},
       {"basic_pension_basic_part_exempt"},
       {kRuleDibaoIncome}},
      {kRuleRoadRelief, {HFV_S0 "one-off-road-relief"}, {}, {kRuleDibaoIncome}},
      {kRuleEmploymentCost,
       {HFV_S0 "employment-cost", HFV_S1 "s1-employment-cost", HFV_S3 "s11-employment-cost",
        HFV_S4 "s8-income-exemption"},
       {"employment_cost_deduction_monthly"},
       {kRuleDibaoIncome}},
      {kRuleSupportFee,
       {HFV_S0 "support-fee"},
       {"minimum_wage_monthly", "support_living_cost_share"},
       {kRuleDibaoIncome}},
      {kRuleDibaoIncome,
       {HFV_S0 "dibao-gap", HFV_S1 "s2-dibao-standard", HFV_S2 "s1-dibao-standard",
        HFV_S3 "s4-dibao-gap", HFV_S4 "s3-basic-living"},
       {"income_lookback_months", "earnings_after_tax_and_contributions"},
       {}},
      {kRuleMarginal,
       {HFV_S0 "marginal-1.5", HFV_S1 "s1-marginal-definition", HFV_PM "beijing-low-income",
        HFV_PM "henan-assets", HFV_PM "shanghai-low-income-2x"},
       {"marginal_line_basis"},
       {kRuleDibaoIncome}},
      {kRuleGradualExit,
       {HFV_S0 "gradual-exit", HFV_S1 "s1-gradual-exit", HFV_S2 "s5-gradual-exit",
        HFV_S3 "s11-gradual-exit", HFV_S4 "s8-gradual-exit"},
       {"gradual_exit_employment_required", "gradual_exit_self_report_required",
        "gradual_exit_upper_bound", "gradual_exit_period_months"},
       {kRuleDibaoIncome}},
      {kRuleSinglePerson,
       {HFV_S0 "single-person-household", HFV_S1 "s1-single-person-household",
        HFV_S3 "s4-single-person-household"},
       {},
       {kRuleMarginal}},
      {kRuleExpenditurePoverty,
       {HFV_S0 "expenditure-poverty", HFV_S4 "s3-expenditure-poverty"},
       {"expenditure_poverty_kinds", "expenditure_poverty_line_multiple"},
       {kRuleDibaoIncome}},
      {kRuleSupplement,
       {HFV_S0 "supplement-15"},
       {"supplement_share", "supplement_elderly_age"},
       {kRuleDibaoIncome}},
      {kRuleNoReadjustment,
       {HFV_S0 "no-readjustment", HFV_S3 "s7-no-readjustment"},
       {"readjustment_tolerance_share"},
       {kRuleDibaoIncome}},
      {kRuleTekun,
       {HFV_S0 "tekun-1.3", HFV_S1 "s2-tekun-1.3-care", HFV_S2 "s1-tekun", HFV_S3 "s5-tekun-care",
        HFV_PM "shanghai-tekun-1.3"},
       {"tekun_basic_multiple", "minimum_wage_monthly", "tekun_care_share.self_care",
        "tekun_care_share.half_care", "tekun_care_share.full_care"},
       {kRuleDibaoIncome}},
      {kRuleTekunAge,
       {HFV_S0 "tekun-age-18", HFV_S3 "s5-tekun-age-18", HFV_S4 "s3-tekun-age-18"},
       {"tekun_minor_age"},
       {kRuleTekun}},
      {kRuleEmergency,
       {HFV_S0 "emergency-temporary"},
       {"emergency_follow_up_months"},
       {kRuleDibaoIncome}},
      {kRuleReview,
       {HFV_S0 "review-cycle", HFV_S1 "s3-dynamic-monitoring", HFV_S2 "s14-review-cycle",
        HFV_S3 "s7-review-cycle", HFV_S4 "s4-review-cycle"},
       {"review_cycles"},
       {}},
  };
  // NOLINTEND(bugprone-suspicious-missing-comma)
  return specs;
}
// NOLINTEND(bugprone-suspicious-missing-comma)

const RuleSpec* find_rule_spec(std::string_view id) {
  for (const auto& r : rule_specs()) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

#undef HFV_S0
#undef HFV_S1
#undef HFV_S2
#undef HFV_S3
#undef HFV_S4
#undef HFV_PM

const std::vector<std::string_view>& periodic_parameters() {
  static const std::vector<std::string_view> names = {
      "dibao_standard_monthly.urban", "dibao_standard_monthly.rural", "minimum_wage_monthly"};
  return names;
}

const std::vector<std::string_view>& mandatory_rules() {
  static const std::vector<std::string_view> rules = {kRuleSavingsCap, kRuleHouseholdComposition,
                                                      kRuleDibaoIncome, kRuleReview};
  return rules;
}

}  // namespace hfv::policies
