// Policy engine tests: loading and validation, each rule with its
// boundaries, each jurisdiction's differences, fail-closed behaviour, and
// the decision JSON. Amounts in comments are worked out by hand.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "policies/engine.hpp"

using hfv::Date;
using hfv::IncomeKind;
using hfv::IncomeRecord;
using hfv::Money;
using hfv::Source;
using hfv::SourceResult;
using hfv::SourceStatus;
using nlohmann::json;
namespace p = hfv::policies;
namespace fs = std::filesystem;

namespace {

const fs::path kPolicies = fs::path(HFV_SOURCE_DIR) / "policies" / "data";

const p::PolicySet& all_policies() {
  static const auto set = p::PolicySet::load_dir(kPolicies);
  if (!set.ok()) FAIL(set.error().message);
  return *set;
}

const p::JurisdictionPolicy& policy(const std::string& code) {
  auto found = all_policies().find(code);
  REQUIRE(found.ok());
  return **found;
}
const p::JurisdictionPolicy& harbin() { return policy("230100"); }

// A reference date on which a jurisdiction's dated parameters are in force:
// each file's newest dibao standard is valid for 12 months
// (stale_after_months), so Harbin (860.00 from 2024-01-01), Haidian and
// Shanghai (from 2024-07-01) on 2024-11-01, Hanzhong (from 2025-10-01) on
// 2025-11-01 and Anyang (the Henan floor from 2022-01-01) on 2022-11-01.
const char* in_force(const std::string& code) {
  if (code == "610700") return "2025-11-01";
  if (code == "410500") return "2022-11-01";
  return "2024-11-01";
}

Money yuan(const char* text) { return *Money::parse(text); }

// A household builder: every member has an answer from all eleven sources,
// like the demo's simulator: the household registry's is a normal
// registration, every other source's not_found unless records are added.
struct House {
  p::HouseholdInput h;
  House(std::size_t members, const char* date = "2024-11-01", const char* programme = "dibao") {
    h.member_count = members;
    h.area = p::Area::kUrban;
    h.reference_date = *Date::parse(date);
    h.programme = programme;
    h.obligors.emplace();  // declared: none (a test of an undeclared list resets it)
    for (std::size_t m = 0; m < members; ++m) {
      p::MemberFacts f;
      f.birth_date = *Date::parse("1980-06-15");
      f.relation = m == 0 ? "applicant" : "spouse";
      h.members.push_back(f);
      for (Source s : hfv::kAllSources) {
        SourceResult r;
        r.member_index = m;
        r.source = s;
        r.status = SourceStatus::kNotFound;
        if (s == Source::kHukou) {
          r.status = SourceStatus::kOk;
          r.records.hukou = hfv::HukouRecord{"230102", "normal"};
        }
        h.sources.push_back(r);
      }
    }
  }
  SourceResult& at(std::size_t m, Source s) {
    for (auto& r : h.sources) {
      if (r.member_index == m && r.source == s) return r;
    }
    FAIL("no such answer");
    return h.sources.front();
  }
  House& bank(std::size_t m, const char* amount) {
    auto& r = at(m, Source::kBank);
    r.status = SourceStatus::kOk;
    r.records.holdings.push_back({"bank", "****1234", yuan(amount), std::nullopt});
    return *this;
  }
  House& fail(std::size_t m, Source s, SourceStatus status = SourceStatus::kTimeout) {
    auto& r = at(m, s);
    r.status = status;
    r.records = {};
    return *this;
  }
  // The same monthly income in each of the 12 months before the reference
  // date (2023-11 .. 2024-10 for 2024-11-01) unless other months are given.
  House& income(std::size_t m, IncomeKind kind, const char* monthly, const char* basic = "0.00",
                std::vector<std::pair<int, unsigned>> months = {}) {
    if (months.empty()) {
      const Date ref = h.reference_date;
      for (int i = 12; i >= 1; --i) {
        const Date d = ref.add_months(-i);
        months.push_back({d.year(), d.month()});
      }
    }
    auto& r =
        at(m, kind == IncomeKind::kResidentsPension ? Source::kSocialInsurance : Source::kTax);
    r.status = SourceStatus::kOk;
    for (auto [y, mo] : months)
      r.records.income.push_back(IncomeRecord{y, mo, kind, yuan(monthly), yuan(basic)});
    return *this;
  }
  // Tax records of `kind` with the income tax withheld on each.
  House& taxed(std::size_t m, IncomeKind kind, const char* monthly, const char* withheld,
               std::vector<std::pair<int, unsigned>> months = {}) {
    const std::size_t before = at(m, Source::kTax).records.income.size();
    income(m, kind, monthly, "0.00", std::move(months));
    auto& records = at(m, Source::kTax).records.income;
    for (std::size_t i = before; i < records.size(); ++i) records[i].tax_withheld = yuan(withheld);
    return *this;
  }
  // Social-insurance contributions: the member's own share of `base`, in
  // each of the window's 12 months unless other months are given.
  House& contribution(std::size_t m, const char* type, const char* base, const char* personal,
                      std::vector<std::pair<int, unsigned>> months = {}) {
    if (months.empty()) {
      for (int i = 12; i >= 1; --i) {
        const Date d = h.reference_date.add_months(-i);
        months.push_back({d.year(), d.month()});
      }
    }
    auto& r = at(m, Source::kSocialInsurance);
    r.status = SourceStatus::kOk;
    for (auto [y, mo] : months)
      r.records.contributions.push_back({y, mo, type, yuan(base), yuan(personal)});
    return *this;
  }
  House& vehicle(std::size_t m, const char* type, const char* price, bool aid) {
    auto& r = at(m, Source::kVehicle);
    r.status = SourceStatus::kOk;
    r.records.vehicles.push_back({"黑A****1", type, yuan(price), std::nullopt, aid});
    return *this;
  }
  House& property(std::size_t m, const char* cert, const char* use, std::int64_t centi_m2) {
    auto& r = at(m, Source::kRealEstate);
    r.status = SourceStatus::kOk;
    r.records.real_estate.push_back({cert, use, centi_m2, 100});
    return *this;
  }
  House& business(std::size_t m, const char* capital) {
    auto& r = at(m, Source::kBusiness);
    r.status = SourceStatus::kOk;
    r.records.businesses.push_back({"9123****", "shareholder", yuan(capital), "active"});
    return *this;
  }
  p::MemberFacts& member(std::size_t m) { return h.members.at(m); }
  p::Decision eval(const std::string& code) const { return p::evaluate(policy(code), h); }
};

const p::RuleTrace& rule(const p::Decision& d, std::string_view id) {
  for (const auto& t : d.rules) {
    if (t.rule == id) return t;
  }
  FAIL("rule " << id << " not in the trace");
  return d.rules.front();
}

struct TempDir {
  fs::path path =
      fs::temp_directory_path() / ("hfv-policy-" + std::to_string(std::random_device{}()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

json read_file(const std::string& code) {
  std::ifstream in(kPolicies / (code + ".json"));
  return json::parse(in);
}

}  // namespace

// ------------------------------------------------------------------ loading

TEST_CASE("policies: The five jurisdictions of the seeds load", "[policy][load]") {
  CHECK(all_policies().size() == 5);
  for (const char* code : {"230100", "610700", "110108", "410500", "310000"}) {
    INFO(code);
    const auto& pol = policy(code);
    CHECK(pol.jurisdiction() == code);
    CHECK(pol.version().rfind(pol.file_version() + "+e", 0) == 0);
    CHECK(pol.rules().front().id == "savings-cap-24m");
    CHECK(pol.rules().back().id == "review-cycle");
  }
}

TEST_CASE("policies: The parameter in force is the latest one not after the reference date",
          "[policy]") {
  const auto& pol = harbin();
  CHECK(pol.dibao_standard(p::Area::kUrban, *Date::parse("2021-12-31"))->value.to_string() ==
        "732.00");
  CHECK(pol.dibao_standard(p::Area::kUrban, *Date::parse("2023-01-01"))->value.to_string() ==
        "835.00");
  const auto later = pol.dibao_standard(p::Area::kUrban, *Date::parse("2024-11-01"));
  CHECK(later->value.to_string() == "860.00");
  CHECK(later->provenance.example);  // unverified value is marked
  CHECK_FALSE(pol.dibao_standard(p::Area::kRural, *Date::parse("2022-06-01")).has_value());
}

TEST_CASE("policies: A jurisdiction without a policy file is refused, not given another's rules",
          "[policy]") {
  auto missing =
      all_policies().find("230102");  // a Harbin district: no fallback unless a file says so
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == "no_policy");
  CHECK_FALSE(all_policies().find("110000").ok());  // Haidian's file does not cover Beijing
  CHECK_FALSE(all_policies().find("440300").ok());
}

TEST_CASE("policies: A district falls back to its city only where the city's file says so",
          "[policy][load]") {
  TempDir dir;
  json file = read_file("230100");
  file["applies_to_subdivisions"] = true;
  std::ofstream(dir.path / "230100.json") << file.dump();
  auto set = p::PolicySet::load_dir(dir.path);
  REQUIRE(set.ok());
  auto district = set->find("230102");
  REQUIRE(district.ok());
  CHECK((*district)->jurisdiction() == "230100");
  CHECK_FALSE(set->find("230000").ok());  // a province never falls to a city
  CHECK_FALSE(set->find("610702").ok());
}

TEST_CASE("policies: Bad policy files are refused with the file and key named", "[policy][load]") {
  struct Case {
    const char* what;
    std::function<void(json&)> mutate;
    const char* key;
  };
  auto params = [](json& j) -> json& { return j["parameters"]; };
  const std::vector<Case> cases = {
      {"unknown top-level key", [](json& j) { j["colour"] = 1; }, "colour: unknown key"},
      {"unknown parameter", [&](json& j) { params(j)["bonus"] = json::array(); },
       "parameters.bonus: unknown key"},
      {"unknown grouped parameter",
       [&](json& j) { params(j)["tekun_care_share"]["partial"] = json::array(); },
       "parameters.tekun_care_share.partial: unknown key"},
      {"missing months", [&](json& j) { params(j).erase("savings_cap_months"); },
       "parameters.savings_cap_months"},
      {"missing parameter a rule needs", [&](json& j) { params(j).erase("supplement_share"); },
       "parameters.supplement_share: missing (needed by rule supplement-15)"},
      {"negative standard",
       [&](json& j) { params(j)["dibao_standard_monthly"]["urban"][0]["value"] = "-1.00"; },
       "parameters.dibao_standard_monthly.urban[0].value: must not be negative"},
      {"negative deduction",
       [&](json& j) { params(j)["employment_cost_deduction_monthly"][0]["value"] = "-5.00"; },
       "parameters.employment_cost_deduction_monthly[0].value"},
      {"overlapping dates",
       [&](json& j) { params(j)["dibao_standard_monthly"]["urban"][1]["from"] = "2021-01-01"; },
       "parameters.dibao_standard_monthly.urban: two values take effect on 2021-01-01"},
      {"no reference", [&](json& j) { params(j)["savings_cap_months"][0].erase("reference"); },
       "parameters.savings_cap_months[0].reference"},
      {"bad date", [&](json& j) { params(j)["savings_cap_months"][0]["from"] = "2023-02-30"; },
       "parameters.savings_cap_months[0].from"},
      {"months out of range", [&](json& j) { params(j)["savings_cap_months"][0]["value"] = 0; },
       "parameters.savings_cap_months[0].value"},
      {"bad ratio", [&](json& j) { params(j)["marginal_income_multiple"][0]["value"] = "1,5"; },
       "parameters.marginal_income_multiple[0].value"},
      {"unknown rule",
       [](json& j) {
         j["rules"].push_back({{"id", "free-money"}, {"clause", "x#y"}});
       },
       "unknown rule id \"free-money\""},
      {"rule as a bare string", [](json& j) { j["rules"] = {"savings-cap-24m"}; },
       "rules[0]: must be an object"},
      {"clause the rule cannot cite",
       [](json& j) { j["rules"][0]["clause"] = "002_b86fb5830263699b.txt#savings-cap-24m"; },
       "rules[0].clause"},
      {"mandatory rule missing", [](json& j) { j["rules"].erase(j["rules"].size() - 1); },
       "rules: must list \"review-cycle\""},
      {"rule listed twice", [](json& j) { j["rules"].push_back(j["rules"][0]); }, "listed twice"},
      {"unknown source",
       [&](json& j) {
         params(j)["monetary_asset_sources"][0]["value"] = {"bank", "gold"};
       },
       "parameters.monetary_asset_sources[0].value"},
      {"review list without default",
       [&](json& j) {
         params(j)["review_cycles"][0]["value"] = {{{"category", "tekun"}, {"months", 12}}};
       },
       "parameters.review_cycles[0].value"},
      {"two savings-cap forms",
       [&](json& j) {
         params(j)["savings_cap_fixed_per_capita"] = {
             {"small_household", {{{"from", "2023-01-01"}, {"value", "1.00"}, {"reference", "r"}}}},
             {"large_household",
              {{{"from", "2023-01-01"}, {"value", "1.00"}, {"reference", "r"}}}}};
       },
       "parameters.savings_cap_months: give either"},
      {"gradual exit without a period",
       [&](json& j) { params(j).erase("gradual_exit_period_months"); },
       "parameters.gradual_exit_period_months: missing (needed by rule gradual-exit)"},
      {"gradual-exit bound without its multiple",
       [&](json& j) { params(j).erase("gradual_exit_income_multiple"); },
       "parameters.gradual_exit_income_multiple: missing (gradual_exit_upper_bound is "
       "income_multiple)"},
      {"unknown gradual-exit bound",
       [&](json& j) { params(j)["gradual_exit_upper_bound"][0]["value"] = "twice"; },
       "parameters.gradual_exit_upper_bound[0].value"},
      {"gradual-exit period out of range",
       [&](json& j) { params(j)["gradual_exit_period_months"][0]["value"] = 0; },
       "parameters.gradual_exit_period_months[0].value"},
      {"no after-tax switch",
       [&](json& j) { params(j).erase("earnings_after_tax_and_contributions"); },
       "parameters.earnings_after_tax_and_contributions: missing (needed by rule dibao-income)"},
      {"after-tax switch not a boolean",
       [&](json& j) { params(j)["earnings_after_tax_and_contributions"][0]["value"] = "yes"; },
       "parameters.earnings_after_tax_and_contributions[0].value"},
      {"wrong file name", [](json& j) { j["jurisdiction"] = "230101"; }, "jurisdiction"},
      {"old format", [](json& j) { j["format"] = "hfv-policy/v1"; }, "format"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    TempDir dir;
    json file = read_file("230100");
    c.mutate(file);
    std::ofstream(dir.path / "230100.json") << file.dump();
    auto loaded = p::PolicySet::load_dir(dir.path);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().code == "bad_policy_file");
    CHECK(loaded.error().message.find("230100.json") != std::string::npos);
    CHECK(loaded.error().message.find(c.key) != std::string::npos);
  }
}

TEST_CASE("policies: policy_version changes when a file's meaning changes", "[policy][load]") {
  TempDir dir;
  json file = read_file("230100");
  std::ofstream(dir.path / "230100.json") << file.dump();
  auto before = p::PolicySet::load_dir(dir.path);
  file["parameters"]["savings_cap_months"][0]["value"] = 25;
  std::ofstream(dir.path / "230100.json") << file.dump();
  auto after = p::PolicySet::load_dir(dir.path);
  REQUIRE(before.ok());
  REQUIRE(after.ok());
  CHECK((*before->find("230100"))->version() != (*after->find("230100"))->version());
  CHECK((*before->find("230100"))->version() == harbin().version());
}

TEST_CASE("policies: parameters_json lists the values in force with their references",
          "[policy][api]") {
  const json j = p::parameters_json(harbin(), *Date::parse("2024-11-01"));
  CHECK(j["jurisdiction"] == "230100");
  CHECK(j["policy_version"] == harbin().version());
  json urban;
  for (const auto& e : j["parameters"]) {
    if (e["name"] == "dibao_standard_monthly.urban") urban = e;
  }
  CHECK(urban["value"] == "860.00");
  CHECK(urban["effective_from"] == "2024-01-01");
  CHECK(urban["example"] == true);
  CHECK_FALSE(urban["reference"].get<std::string>().empty());
  CHECK(j["rules"][0]["source"] == "000_74d306e405892d62.txt#savings-cap-24m");
  const json early = p::parameters_json(harbin(), *Date::parse("2022-06-01"));
  CHECK(std::find(early["not_in_force"].begin(), early["not_in_force"].end(),
                  "dibao_standard_monthly.rural") != early["not_in_force"].end());
}

// ------------------------------------------------------- validity horizons

TEST_CASE("policies: A standard is used through its horizon and is stale the day after",
          "[policy][horizon]") {
  // The newest dibao standard of each file is valid for 12 months
  // (stale_after_months): its last day, the day before, and the day after.
  struct Row {
    const char* code;
    const char* last_day;
    const char* urban;
    const char* rural;
  };
  for (const Row& r : {Row{"230100", "2024-12-31", "860.00", "648.00"},
                       Row{"110108", "2025-06-30", "1450.00", "1450.00"},
                       Row{"310000", "2025-06-30", "1595.00", "1595.00"},
                       Row{"410500", "2022-12-31", "630.00", "420.00"},
                       Row{"610700", "2026-09-30", "675.00", "475.00"}}) {
    for (const p::Area area : {p::Area::kUrban, p::Area::kRural}) {
      const std::string name = "dibao_standard_monthly." + std::string(p::area_name(area));
      INFO(r.code << " " << name);
      const Date last = *Date::parse(r.last_day);
      const auto run = [&](const Date& on) {
        House h(1, on.to_string().c_str());
        h.h.area = area;
        return h.eval(r.code);
      };
      for (const Date& on : {last.add_days(-1), last}) {
        INFO(on.to_string());
        const auto d = run(on);
        CHECK(d.outcome == p::Outcome::kEligible);  // no income, no assets
        CHECK(d.figures.at("standard_monthly") == (area == p::Area::kUrban ? r.urban : r.rural));
        const auto in_force = policy(r.code).dibao_standard(area, on);
        REQUIRE(in_force.has_value());
        REQUIRE(in_force->provenance.valid_until.has_value());
        CHECK(in_force->provenance.valid_until->to_string() == r.last_day);
      }
      // The day after: no value in force, never the old one; the rule that
      // needs it is unknown and names it; nothing is paid.
      const auto after = run(last.add_days(1));
      CHECK(after.outcome == p::Outcome::kIndeterminate);
      CHECK_FALSE(after.figures.contains("standard_monthly"));
      CHECK_FALSE(after.figures.contains("benefit_monthly"));
      const auto& t = rule(after, "dibao-income");
      CHECK(t.result == p::RuleResult::kUnknown);
      CHECK(t.unknown_sources == std::vector<std::string>{"parameter:" + name});
      CHECK(t.explanation.find(name + " is stale on " + last.add_days(1).to_string()) !=
            std::string::npos);
      CHECK(t.explanation.find(std::string("was valid until ") + r.last_day) != std::string::npos);
      for (const auto& other : after.rules) CHECK(other.result != p::RuleResult::kPass);
      CHECK_FALSE(policy(r.code).dibao_standard(area, last.add_days(1)).has_value());
      const auto stale = policy(r.code).stale(name, last.add_days(1));
      REQUIRE(stale.has_value());
      CHECK(stale->value == (area == p::Area::kUrban ? r.urban : r.rural));
    }
  }
}

TEST_CASE("policies: A value replaced only after its horizon leaves a stale gap",
          "[policy][horizon]") {
  // Harbin: 732.00 from 2021-01-01 (valid 12 months), 835.00 only from
  // 2023-01-01 (one page says 2022-01-01): 2022 has no standard in force.
  const auto& pol = harbin();
  const std::string urban = "dibao_standard_monthly.urban";
  CHECK(pol.dibao_standard(p::Area::kUrban, *Date::parse("2021-12-31"))->value.to_string() ==
        "732.00");
  CHECK_FALSE(pol.dibao_standard(p::Area::kUrban, *Date::parse("2022-01-01")).has_value());
  const auto gap = pol.stale(urban, *Date::parse("2022-12-31"));
  REQUIRE(gap.has_value());
  CHECK(gap->value == "732.00");
  CHECK(gap->valid_until->to_string() == "2021-12-31");
  CHECK(pol.dibao_standard(p::Area::kUrban, *Date::parse("2023-01-01"))->value.to_string() ==
        "835.00");
  CHECK_FALSE(pol.stale(urban, *Date::parse("2023-01-01")).has_value());
  // Before the first value a parameter is not in force, which is not stale.
  CHECK_FALSE(pol.stale(urban, *Date::parse("2020-12-31")).has_value());
  // Heilongjiang's minimum wage: 1860.00 from 2021-04-01 is valid for 36
  // months, 2080.00 only from 2024-05-01: April 2024 has none.
  const auto april = pol.stale("minimum_wage_monthly", *Date::parse("2024-04-01"));
  REQUIRE(april.has_value());
  CHECK(april->valid_until->to_string() == "2024-03-31");
  CHECK(pol.money("minimum_wage_monthly", *Date::parse("2024-03-31"))->value.to_string() ==
        "1860.00");
  CHECK_FALSE(pol.money("minimum_wage_monthly", *Date::parse("2024-04-30")).has_value());
  CHECK(pol.money("minimum_wage_monthly", *Date::parse("2024-05-01"))->value.to_string() ==
        "2080.00");
  // Parameters from the policy documents have no horizon: in force until
  // a later value replaces them.
  const auto months = pol.savings_cap_months(*Date::parse("2099-01-01"));
  REQUIRE(months.has_value());
  CHECK_FALSE(months->provenance.valid_until.has_value());
}

TEST_CASE("policies: A stale minimum wage makes the rules that need it unknown, never pass",
          "[policy][horizon][fail-closed]") {
  // Harbin 2024-04-15: the standard 860.00 is in force, the minimum wage is
  // not (April 2024, above).
  const char* on = "2024-04-15";
  // dibao: the support fee needs the minimum wage, so the counted income is
  // not known even with no obligor.
  House h(1, on);
  auto d = h.eval("230100");
  CHECK(d.outcome == p::Outcome::kIndeterminate);
  CHECK(rule(d, "support-fee").result == p::RuleResult::kUnknown);
  CHECK(rule(d, "support-fee").explanation.find("minimum_wage_monthly is stale on 2024-04-15") !=
        std::string::npos);
  CHECK(rule(d, "dibao-income").result == p::RuleResult::kUnknown);
  CHECK(rule(d, "dibao-income").unknown_sources ==
        std::vector<std::string>{"parameter:minimum_wage_monthly"});
  // Known income over the standard still fails: a fee only adds income.
  House rich(1, on);
  rich.income(0, IncomeKind::kWages, "2000.00");
  auto r = rich.eval("230100");
  CHECK(rule(r, "dibao-income").result == p::RuleResult::kFail);
  CHECK(r.outcome == p::Outcome::kIneligible);
  // tekun: eligible on the facts, but its care standard needs the wage.
  House tk(1, on, "tekun");
  tk.member(0).labour_capacity = "none";
  tk.h.care_levels = {"full_care"};
  auto t = tk.eval("230100");
  CHECK(t.outcome == p::Outcome::kIndeterminate);
  CHECK(rule(t, "tekun-1.3").result == p::RuleResult::kUnknown);
  CHECK(rule(t, "tekun-1.3").unknown_sources ==
        std::vector<std::string>{"parameter:minimum_wage_monthly"});
  CHECK_FALSE(t.figures.contains("benefit_monthly"));
  // A day later in May both are in force again.
  House may(1, "2024-05-01", "tekun");
  may.member(0).labour_capacity = "none";
  may.h.care_levels = {"full_care"};
  CHECK(may.eval("230100").outcome == p::Outcome::kEligible);
}

TEST_CASE("policies: A value's own valid_until overrides the file's horizon",
          "[policy][horizon][load]") {
  TempDir dir;
  json file = read_file("230100");
  auto& urban = file["parameters"]["dibao_standard_monthly"]["urban"];
  urban[urban.size() - 1]["valid_until"] = "2025-03-31";  // e.g. a notice that says so
  std::ofstream(dir.path / "230100.json") << file.dump();
  auto set = p::PolicySet::load_dir(dir.path);
  REQUIRE(set.ok());
  const auto& pol = **set->find("230100");
  CHECK(pol.dibao_standard(p::Area::kUrban, *Date::parse("2025-03-31"))->value.to_string() ==
        "860.00");
  CHECK_FALSE(pol.dibao_standard(p::Area::kUrban, *Date::parse("2025-04-01")).has_value());
  // The rural value keeps the file's 12 months.
  CHECK_FALSE(pol.dibao_standard(p::Area::kRural, *Date::parse("2025-01-01")).has_value());
  CHECK(pol.version() != harbin().version());  // a horizon is part of the file's meaning
}

TEST_CASE("policies: Bad or missing horizons are refused with the key named",
          "[policy][horizon][load]") {
  struct Case {
    const char* what;
    std::function<void(json&)> mutate;
    const char* key;
  };
  const std::vector<Case> cases = {
      {"no horizon for a periodic parameter", [](json& j) { j.erase("stale_after_months"); },
       "parameters.dibao_standard_monthly.rural[0].valid_until: missing"},
      {"the minimum wage without one",
       [](json& j) { j["stale_after_months"].erase("minimum_wage_monthly"); },
       "parameters.minimum_wage_monthly[0].valid_until: missing"},
      {"horizon for a parameter the file lacks",
       [](json& j) { j["stale_after_months"]["business_subscribed_capital_limit"] = 12; },
       "stale_after_months.business_subscribed_capital_limit: names no parameter"},
      {"horizon of 0 months", [](json& j) { j["stale_after_months"]["minimum_wage_monthly"] = 0; },
       "stale_after_months.minimum_wage_monthly: must be an integer from 1 to 120"},
      {"horizon as text",
       [](json& j) { j["stale_after_months"]["dibao_standard_monthly"] = "12"; },
       "stale_after_months.dibao_standard_monthly: must be an integer"},
      {"horizons not an object", [](json& j) { j["stale_after_months"] = 12; },
       "stale_after_months: must be an object"},
      {"valid_until before from",
       [](json& j) {
         j["parameters"]["dibao_standard_monthly"]["urban"][0]["valid_until"] = "2020-12-31";
       },
       "parameters.dibao_standard_monthly.urban[0].valid_until: before `from`"},
      {"valid_until not a date",
       [](json& j) { j["parameters"]["savings_cap_months"][0]["valid_until"] = "2025-02-30"; },
       "parameters.savings_cap_months[0].valid_until: not a YYYY-MM-DD date"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    TempDir dir;
    json file = read_file("230100");
    c.mutate(file);
    std::ofstream(dir.path / "230100.json") << file.dump();
    auto loaded = p::PolicySet::load_dir(dir.path);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().code == "bad_policy_file");
    CHECK(loaded.error().message.find(c.key) != std::string::npos);
  }
  // Every value of a periodic parameter with its own valid_until needs no
  // file-wide horizon; a rule parameter may have one too.
  TempDir dir;
  json file = read_file("230100");
  file["stale_after_months"].erase("minimum_wage_monthly");
  for (auto& e : file["parameters"]["minimum_wage_monthly"]) e["valid_until"] = "2030-12-31";
  file["parameters"]["savings_cap_months"][0]["valid_until"] = "2028-05-29";
  std::ofstream(dir.path / "230100.json") << file.dump();
  auto set = p::PolicySet::load_dir(dir.path);
  REQUIRE(set.ok());
  const auto& pol = **set->find("230100");
  CHECK(pol.savings_cap_months(*Date::parse("2028-05-29")).has_value());
  CHECK_FALSE(pol.savings_cap_months(*Date::parse("2028-05-30")).has_value());
}

TEST_CASE("policies: Parameters stale in a period, for status and metrics", "[policy][horizon]") {
  const auto& pol = harbin();
  // 60 days from 2024-11-01: nothing goes stale (the standards last to 2024-12-31).
  CHECK(pol.stale_between(*Date::parse("2024-11-01"), *Date::parse("2024-12-31")).empty());
  // One day later the window reaches 2025-01-01: both standards go stale then.
  const auto soon = pol.stale_between(*Date::parse("2024-11-02"), *Date::parse("2025-01-01"));
  REQUIRE(soon.size() == 2);
  CHECK(soon[0].value.name == "dibao_standard_monthly.rural");
  CHECK(soon[1].value.name == "dibao_standard_monthly.urban");
  CHECK(soon[1].value.value == "860.00");
  CHECK(soon[1].stale_from.to_string() == "2025-01-01");
  CHECK_FALSE(soon[1].next_from.has_value());
  // Long stale by 2026: since 2025-01-01.
  const auto later = pol.stale_between(*Date::parse("2026-12-03"), *Date::parse("2027-01-31"));
  REQUIRE(later.size() == 2);
  CHECK(later[0].stale_from.to_string() == "2025-01-01");
  // A gap that a later value closes: April 2024's minimum wage.
  const auto gap = pol.stale_between(*Date::parse("2024-04-10"), *Date::parse("2024-04-20"));
  REQUIRE(gap.size() == 1);
  CHECK(gap[0].value.name == "minimum_wage_monthly");
  CHECK(gap[0].stale_from.to_string() == "2024-04-01");
  CHECK(gap[0].next_from->to_string() == "2024-05-01");
  CHECK(pol.stale_between(*Date::parse("2024-05-01"), *Date::parse("2024-06-29")).empty());
}

TEST_CASE("policies: parameters_json shows horizons and stale values", "[policy][horizon][api]") {
  const json in = p::parameters_json(harbin(), *Date::parse("2024-11-01"));
  CHECK(in["stale"].empty());
  for (const auto& e : in["parameters"]) {
    if (e["name"] == "dibao_standard_monthly.urban") CHECK(e["valid_until"] == "2024-12-31");
    if (e["name"] == "savings_cap_months") CHECK_FALSE(e.contains("valid_until"));
  }
  const json out = p::parameters_json(harbin(), *Date::parse("2025-01-01"));
  REQUIRE(out["stale"].size() == 2);
  CHECK(out["stale"][1] == json{{"name", "dibao_standard_monthly.urban"},
                                {"value", "860.00"},
                                {"effective_from", "2024-01-01"},
                                {"valid_until", "2024-12-31"},
                                {"reference", harbin().parameters()
                                                  .at("dibao_standard_monthly.urban")
                                                  .back()
                                                  .reference},
                                {"example", true}});
  for (const auto& e : out["parameters"]) CHECK(e["name"] != "dibao_standard_monthly.urban");
  for (const auto& n : out["not_in_force"]) CHECK(n != "dibao_standard_monthly.urban");
}

// ------------------------------------------------------------------ assets

TEST_CASE("policies: Savings cap: exactly at the cap passes, one fen over fails",
          "[policy][savings-cap]") {
  // Harbin 2024: 24 x 860.00 = 20640.00 per person; two people: 41280.00.
  House at(2);
  at.bank(0, "20000.00").bank(0, "640.00").bank(1, "20640.00");
  auto d = at.eval("230100");
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(rule(d, "savings-cap-24m").result == p::RuleResult::kPass);
  CHECK(d.figures.at("savings_cap_per_capita") == "20640.00");
  CHECK(d.figures.at("monetary_assets_per_capita") == "20640.00");

  House over(2);
  over.bank(0, "20000.00").bank(0, "640.00").bank(1, "20640.01");
  auto o = over.eval("230100");
  CHECK(o.outcome == p::Outcome::kIneligible);
  CHECK(rule(o, "savings-cap-24m").result == p::RuleResult::kFail);
}

TEST_CASE("policies: Savings cap differs by jurisdiction", "[policy][savings-cap]") {
  struct Row {
    const char* code;
    std::size_t members;
    const char* per_member;
    p::Outcome expected;
  };
  const std::vector<Row> rows = {
      // Anyang: 36 x 630.00 = 22680.00, strictly below.
      {"410500", 1, "22679.99", p::Outcome::kEligible},
      {"410500", 1, "22680.00", p::Outcome::kIneligible},
      // Harbin: at most 24 x 860.00 = 20640.00; Anyang's 22679.99 is over it.
      {"230100", 1, "22679.99", p::Outcome::kIneligible},
      // Shanghai: fixed 33000.00 per person for 1-2 persons, 30000.00 for 3+.
      {"310000", 2, "33000.00", p::Outcome::kEligible},
      {"310000", 2, "33000.01", p::Outcome::kIneligible},
      {"310000", 3, "30000.00", p::Outcome::kEligible},
      {"310000", 3, "30000.01", p::Outcome::kIneligible},
      // Haidian 2024: 24 x 1450.00 = 34800.00 (example).
      {"110108", 1, "34800.00", p::Outcome::kEligible},
  };
  for (const auto& r : rows) {
    INFO(r.code << " " << r.members << " x " << r.per_member);
    House h(r.members, in_force(r.code));
    for (std::size_t m = 0; m < r.members; ++m) h.bank(m, r.per_member);
    CHECK(h.eval(r.code).outcome == r.expected);
  }
}

TEST_CASE("policies: Savings cap uses the standard in force on the reference date",
          "[policy][savings-cap]") {
  // 2023-06: 24 x 835.00 = 20040.00; 20640.00 is over that cap but under 2024's.
  House h2023(1, "2023-06-01");
  h2023.bank(0, "20640.00");
  CHECK(h2023.eval("230100").outcome == p::Outcome::kIneligible);
  House h2024(1, "2024-06-01");
  h2024.bank(0, "20640.00");
  CHECK(h2024.eval("230100").outcome == p::Outcome::kEligible);
}

TEST_CASE("policies: Per-capita figures round to the nearest fen, halves up", "[policy][money]") {
  struct Row {
    std::size_t members;
    const char* total;
    const char* per_capita;
  };
  for (const Row& r : std::vector<Row>{{3, "100.00", "33.33"},
                                       {3, "200.00", "66.67"},
                                       {2, "0.03", "0.02"},
                                       {2, "0.01", "0.01"},
                                       {3, "0.01", "0.00"},
                                       {2, "12500.50", "6250.25"}}) {
    House h(r.members);
    h.bank(0, r.total);
    CHECK(h.eval("230100").figures.at("monetary_assets_per_capita") == r.per_capita);
  }
}

TEST_CASE("policies: Disability vehicle priced exactly at the cap is exempt (Harbin)",
          "[policy][vehicle]") {
  struct Row {
    const char* price;
    bool disabled_member;
    p::Outcome expected;
  };
  // Price cap: 24 x 860.00 = 20640.00.
  for (const Row& r : std::vector<Row>{{"20640.00", true, p::Outcome::kEligible},
                                       {"20640.01", true, p::Outcome::kIneligible},
                                       {"15000.00", false, p::Outcome::kIneligible}}) {
    INFO(r.price << " disabled=" << r.disabled_member);
    House h(2);
    if (r.disabled_member) h.member(1).disability_grade = 1;
    h.vehicle(1, "car", r.price, true);
    auto d = h.eval("230100");
    CHECK(d.outcome == r.expected);
    CHECK(rule(d, "disability-vehicle").result ==
          (r.expected == p::Outcome::kEligible ? p::RuleResult::kPass : p::RuleResult::kFail));
  }
}

TEST_CASE("policies: Vehicle rules differ by jurisdiction", "[policy][vehicle]") {
  struct Row {
    const char* code;
    const char* type;
    bool aid;
    p::Outcome expected;
  };
  const std::vector<Row> rows = {
      {"230100", "car", false, p::Outcome::kIneligible},
      {"230100", "motorcycle", false, p::Outcome::kIneligible},
      {"410500", "motorcycle", false,
       p::Outcome::kEligible},  // Anyang: ordinary motorcycle excepted
      {"110108", "motorcycle", false, p::Outcome::kIneligible},  // Beijing: any motor vehicle
      {"310000", "motorcycle", false, p::Outcome::kEligible},    // Shanghai: cars only
      {"310000", "car", true, p::Outcome::kEligible},            // disability car, no price cap
      {"310000", "car", false, p::Outcome::kIneligible},
      {"610700", "car", true, p::Outcome::kIneligible},  // Hanzhong: owning a car disqualifies
  };
  for (const auto& r : rows) {
    INFO(r.code << " " << r.type << " aid=" << r.aid);
    House h(1, in_force(r.code));
    h.member(0).disability_grade = 2;
    h.vehicle(0, r.type, "90000.00", r.aid);
    CHECK(h.eval(r.code).outcome == r.expected);
  }
}

TEST_CASE("policies: A seriously ill member's vehicle whose purpose the registry cannot show is unknown (Harbin)",
          "[policy][vehicle]") {
  // Seed 000 defines the exempt vehicle by its purpose. Cap: 24 x 860.00 =
  // 20640.00 urban, 24 x 648.00 = 15552.00 rural (2026).
  struct Row {
    p::Area area;
    const char* price;
    bool ill;             // member 1 seriously ill
    int grade;            // member 1's disability grade (0: none)
    bool aid;             // registered as a disability mobility vehicle
    p::RuleResult result;  // vehicle-ownership and disability-vehicle
    p::Outcome outcome;
  };
  const auto U = p::Area::kUrban;
  const auto Rr = p::Area::kRural;
  const auto unknown = p::RuleResult::kUnknown;
  const auto fail = p::RuleResult::kFail;
  const auto pass = p::RuleResult::kPass;
  const std::vector<Row> rows = {
      // An ordinary car of a seriously ill member's household, within the cap: a case worker.
      {U, "20640.00", true, 0, false, unknown, p::Outcome::kIndeterminate},
      {U, "20640.01", true, 0, false, fail, p::Outcome::kIneligible},
      {Rr, "15552.00", true, 0, false, unknown, p::Outcome::kIndeterminate},
      {Rr, "15552.01", true, 0, false, fail, p::Outcome::kIneligible},
      // The same for a severely disabled member's ordinary car.
      {U, "20640.00", false, 1, false, unknown, p::Outcome::kIndeterminate},
      {U, "20640.00", false, 3, false, fail, p::Outcome::kIneligible},  // grade-3 physical: not severe
      // No seriously ill or severely disabled member: the car disqualifies.
      {U, "15000.00", false, 0, false, fail, p::Outcome::kIneligible},
      // Registered as a disability vehicle: the purpose is shown; a seriously ill
      // member qualifies as much as a disabled one.
      {U, "20640.00", true, 0, true, pass, p::Outcome::kEligible},
      {U, "20640.01", true, 0, true, fail, p::Outcome::kIneligible},
      {Rr, "15552.00", true, 0, true, pass, p::Outcome::kEligible},
      {Rr, "15552.01", true, 0, true, fail, p::Outcome::kIneligible},
  };
  for (const auto& r : rows) {
    INFO(p::area_name(r.area) << " " << r.price << " ill=" << r.ill << " grade=" << r.grade
                              << " aid=" << r.aid);
    House h(2);
    h.h.area = r.area;
    h.member(1).serious_illness = r.ill;
    if (r.grade > 0) {
      h.member(1).disability_grade = r.grade;
      h.member(1).disability_kind = "physical";
    }
    h.vehicle(0, "car", r.price, r.aid);
    const auto d = h.eval("230100");
    CHECK(d.outcome == r.outcome);
    const auto& vo = rule(d, "vehicle-ownership");
    const auto& dv = rule(d, "disability-vehicle");
    CHECK(vo.result == r.result);
    CHECK(dv.result == (r.result == fail && !r.aid ? pass : r.result));
    if (r.result == unknown) {
      // The registry answered: nothing is missing but a case worker's judgement.
      CHECK(vo.unknown_sources.empty());
      CHECK(vo.inputs.at("vehicles").at(0).at("verdict").get<std::string>().rfind(
                "case worker", 0) == 0);
      CHECK(dv.inputs.at("claims").at(0).at("exempt").is_null());
      CHECK_FALSE(d.figures.contains("benefit_monthly"));
    }
  }
  // Elsewhere the exemption is a registered disability car, not a purpose
  // (parameters.md rules): an ordinary car of an ill member's household fails.
  House sh(2);
  sh.member(1).serious_illness = true;
  sh.vehicle(0, "car", "10000.00", false);
  CHECK(rule(sh.eval("310000"), "vehicle-ownership").result == fail);
  // A known disqualifying vehicle decides even while another is left open.
  House both(2);
  both.member(1).serious_illness = true;
  both.vehicle(0, "car", "20000.00", false).vehicle(1, "car", "30000.00", false);
  CHECK(both.eval("230100").outcome == p::Outcome::kIneligible);
  // A registry that did not answer for the other member is still named.
  House open(2);
  open.member(1).serious_illness = true;
  open.vehicle(0, "car", "20000.00", false).fail(1, Source::kVehicle);
  const auto o = open.eval("230100");
  CHECK(rule(o, "vehicle-ownership").result == unknown);
  CHECK(rule(o, "vehicle-ownership").unknown_sources == std::vector<std::string>{"vehicle"});
}

TEST_CASE("policies: Anyang leaves trucks, vessels and 'other' property to a case worker",
          "[policy][vehicle][real-estate]") {
  // No source Anyang has says a truck, a vessel or property of use "other"
  // disqualifies: unknown (a case worker), never a definitive fail.
  struct Row {
    std::vector<const char*> types;
    p::RuleResult result;
    p::Outcome outcome;
  };
  const std::vector<Row> rows = {
      {{"truck"}, p::RuleResult::kUnknown, p::Outcome::kIndeterminate},
      {{"vessel"}, p::RuleResult::kUnknown, p::Outcome::kIndeterminate},
      {{"truck", "vessel"}, p::RuleResult::kUnknown, p::Outcome::kIndeterminate},
      {{"car"}, p::RuleResult::kFail, p::Outcome::kIneligible},
      {{"truck", "car"}, p::RuleResult::kFail, p::Outcome::kIneligible},  // fail beats unknown
      {{"motorcycle"}, p::RuleResult::kPass, p::Outcome::kEligible},
  };
  for (const auto& r : rows) {
    House h(1, in_force("410500"));
    for (const char* type : r.types) h.vehicle(0, type, "50000.00", false);
    INFO(r.types.size() << " vehicle(s), first " << r.types.front());
    const auto d = h.eval("410500");
    CHECK(rule(d, "vehicle-ownership").result == r.result);
    CHECK(rule(d, "vehicle-ownership").unknown_sources.empty());
    CHECK(d.outcome == r.outcome);
  }
  // A truck registered as a disability vehicle of a grade-2 member is exempt.
  House aid(1, in_force("410500"));
  aid.member(0).disability_grade = 2;
  aid.vehicle(0, "truck", "50000.00", true);
  CHECK(aid.eval("410500").outcome == p::Outcome::kEligible);
  // Harbin and Beijing count trucks as disqualifying motor vehicles.
  House truck(1);
  truck.vehicle(0, "truck", "50000.00", false);
  CHECK(truck.eval("230100").outcome == p::Outcome::kIneligible);
  CHECK(truck.eval("110108").outcome == p::Outcome::kIneligible);

  House other(1, in_force("410500"));
  other.property(0, "豫****9", "other", 1500);
  auto o = other.eval("410500");
  CHECK(rule(o, "real-estate").result == p::RuleResult::kUnknown);
  CHECK(rule(o, "real-estate").unknown_sources.empty());
  CHECK(rule(o, "real-estate").inputs.at("case_worker_property") == 1);
  CHECK(o.outcome == p::Outcome::kIndeterminate);
  // With a home as well: still the case worker's; with a shop: fail.
  other.property(0, "豫****1", "residential", 6000);
  CHECK(other.eval("410500").outcome == p::Outcome::kIndeterminate);
  other.property(0, "豫****2", "commercial", 3000);
  CHECK(rule(other.eval("410500"), "real-estate").result == p::RuleResult::kFail);
  // Three homes fail whatever else is open.
  House homes(1, in_force("410500"));
  homes.property(0, "a", "residential", 100)
      .property(0, "b", "residential", 100)
      .property(0, "c", "residential", 100)
      .property(0, "d", "other", 100);
  CHECK(homes.eval("410500").outcome == p::Outcome::kIneligible);
  // Beijing's file keeps "other" as non-residential property.
  House bj(1);
  bj.property(0, "京****9", "other", 1500);
  CHECK(rule(bj.eval("110108"), "real-estate").result == p::RuleResult::kFail);
}

TEST_CASE("policies: Real-estate and business rules (Anyang)", "[policy][real-estate][business]") {
  const char* on = in_force("410500");
  House shop(1, on);
  shop.property(0, "豫****1", "commercial", 3000);
  CHECK(shop.eval("410500").outcome == p::Outcome::kIneligible);
  House harbin_shop(1);
  harbin_shop.property(0, "黑****1", "commercial", 3000);
  CHECK(harbin_shop.eval("230100").outcome ==
        p::Outcome::kEligible);  // Harbin's seed sets no property rule

  House two_homes(2, on);
  two_homes.property(0, "豫****1", "residential", 6000).property(1, "豫****2", "residential", 4000);
  auto d = two_homes.eval("410500");
  CHECK(d.outcome ==
        p::Outcome::kIndeterminate);  // local average area not in the file: a case worker decides
  CHECK(rule(d, "real-estate").unknown_sources ==
        std::vector<std::string>{"parameter:real_estate_extra_home_area_per_capita_m2"});

  House three_homes(1, on);
  three_homes.property(0, "a", "residential", 100)
      .property(0, "b", "residential", 100)
      .property(0, "c", "residential", 100);
  CHECK(three_homes.eval("410500").outcome == p::Outcome::kIneligible);

  House capital_below(1, on), capital_at(1, on);
  capital_below.business(0, "199999.99");
  capital_at.business(0, "200000.00");
  CHECK(capital_below.eval("410500").outcome == p::Outcome::kEligible);
  CHECK(capital_at.eval("410500").outcome == p::Outcome::kIneligible);
}

// ------------------------------------------------------- household registry

TEST_CASE("policies: A member the registry reports deceased, moved out or does not know",
          "[policy][household-composition]") {
  // Harbin 2024, 2 members, no income: eligible while both are registered.
  House ok(2);
  auto base = ok.eval("230100");
  CHECK(base.outcome == p::Outcome::kEligible);
  const auto& pass = rule(base, "household-composition");
  CHECK(pass.result == p::RuleResult::kPass);
  CHECK(pass.role == "condition");
  CHECK(pass.inputs.at("members_confirmed") == 2);
  CHECK(pass.inputs.at("members").at(1) == json{{"member_index", 1},
                                                {"source_status", "ok"},
                                                {"registry_status", "normal"},
                                                {"division", "230102"}});

  struct Row {
    const char* status;  // the registry's record, or "" for not_found
    const char* registry_status;
    const char* says;
  };
  for (const Row& r : {Row{"deceased", "deceased", "member 1: registry reports deceased"},
                       Row{"moved", "moved", "member 1: registry reports moved out"},
                       Row{"", "not_registered", "member 1: not known to the registry"}}) {
    INFO(r.registry_status);
    House h(2);
    auto& answer = h.at(1, Source::kHukou);
    if (*r.status != '\0') {
      answer.records.hukou->status = r.status;
    } else {
      answer.status = SourceStatus::kNotFound;
      answer.records = {};
    }
    for (const char* programme : {"dibao", "marginal", "tekun", "temporary"}) {
      INFO(programme);
      h.h.programme = programme;
      auto d = h.eval("230100");
      CHECK(d.outcome != p::Outcome::kEligible);
      const auto& t = rule(d, "household-composition");
      CHECK(t.result == p::RuleResult::kUnknown);
      CHECK(t.role == "condition");
      CHECK(t.unknown_sources.empty());  // the registry answered: a case worker decides
      CHECK(t.explanation.find(r.says) != std::string::npos);
      CHECK(t.inputs.at("members").at(1).at("registry_status") == r.registry_status);
      CHECK(t.inputs.at("members").at(0).at("registry_status") == "normal");
      CHECK(t.inputs.at("members_confirmed") == 1);
      // Still counted: the figures are the household as submitted.
      CHECK(t.inputs.at("members_counted_in_per_capita") == 2);
      CHECK(rule(d, "dibao-income").inputs.at("members") == 2);
    }
    h.h.programme = "dibao";
    auto d = h.eval("230100");
    CHECK(d.outcome == p::Outcome::kIndeterminate);  // never eligible, never failed on this alone
    CHECK_FALSE(d.figures.contains("benefit_monthly"));
    // A condition failing on known data still makes it ineligible.
    h.bank(0, "50000.00");
    CHECK(h.eval("230100").outcome == p::Outcome::kIneligible);
  }
}

TEST_CASE("policies: No registry answer makes household-composition unknown, never pass",
          "[policy][household-composition][fail-closed]") {
  for (SourceStatus s : {SourceStatus::kTimeout, SourceStatus::kError, SourceStatus::kDenied}) {
    INFO(hfv::status_name(s));
    House h(2);
    h.fail(0, Source::kHukou, s);
    auto d = h.eval("230100");
    CHECK(d.outcome == p::Outcome::kIndeterminate);
    const auto& t = rule(d, "household-composition");
    CHECK(t.result == p::RuleResult::kUnknown);
    CHECK(t.unknown_sources == std::vector<std::string>{"hukou"});
    CHECK(t.inputs.at("members").at(0).at("registry_status") == "unknown");
    CHECK(t.inputs.at("members").at(0).at("source_status") == hfv::status_name(s));
    CHECK(t.explanation.find("member 0") != std::string::npos);
  }
  // Not asked at all.
  House h(1);
  auto& v = h.h.sources;
  v.erase(std::remove_if(v.begin(), v.end(),
                         [](const SourceResult& r) { return r.source == Source::kHukou; }),
          v.end());
  auto d = h.eval("230100");
  CHECK(d.outcome == p::Outcome::kIndeterminate);
  CHECK(rule(d, "household-composition").inputs.at("members").at(0).at("source_status") ==
        "not_asked");
  // An ok answer without a registration record is no answer.
  House empty(1);
  empty.at(0, Source::kHukou).records = {};
  CHECK(rule(empty.eval("230100"), "household-composition").result == p::RuleResult::kUnknown);
  // Both at once: a disputed member and a missing answer are both named.
  House both(2);
  both.at(0, Source::kHukou).records.hukou->status = "deceased";
  both.fail(1, Source::kHukou);
  const auto bd = both.eval("230100");
  const auto& t = rule(bd, "household-composition");
  CHECK(t.unknown_sources == std::vector<std::string>{"hukou"});
  CHECK(t.explanation.find("member 0: registry reports deceased") != std::string::npos);
  CHECK(t.explanation.find("member 1 (timeout)") != std::string::npos);
}

TEST_CASE("policies: Every jurisdiction applies household-composition with its clause",
          "[policy][household-composition]") {
  struct Row {
    const char* code;
    const char* date;
    const char* clause;
    bool example;
  };
  for (const Row& r :
       {Row{"230100", "2024-11-01", "000_74d306e405892d62.txt#household-population", true},
        Row{"610700", "2025-11-01", "001_26e3ccaad77ddb0b.txt#s8-verification", true},
        Row{"110108", "2024-11-01", "002_b86fb5830263699b.txt#s13-identity-check", true},
        Row{"410500", "2022-11-01", "003_91bc1ece9bf1afc9.txt#s22-verification-sources", false},
        Row{"310000", "2024-11-01", "004_2002961d590718da.txt#s20-verification-sources", false}}) {
    INFO(r.code);
    const auto* ref = policy(r.code).rule("household-composition");
    REQUIRE(ref != nullptr);
    CHECK(ref->clause == r.clause);
    CHECK(ref->example == r.example);
    CHECK(ref->note.find("still counts in the per-capita figures") != std::string::npos);
    House ok(1, r.date);
    CHECK(ok.eval(r.code).outcome == p::Outcome::kEligible);
    House moved(1, r.date);
    moved.at(0, Source::kHukou).records.hukou->status = "moved";
    auto d = moved.eval(r.code);
    CHECK(d.outcome == p::Outcome::kIndeterminate);
    CHECK(rule(d, "household-composition").clause == r.clause);
  }
  // A file that leaves the rule out is refused.
  TempDir dir;
  json file = read_file("230100");
  auto& rules = file["rules"];
  rules.erase(std::remove_if(rules.begin(), rules.end(),
                             [](const json& r) { return r["id"] == "household-composition"; }),
              rules.end());
  std::ofstream(dir.path / "230100.json") << file.dump();
  auto set = p::PolicySet::load_dir(dir.path);
  REQUIRE_FALSE(set.ok());
  CHECK(set.error().message.find("household-composition") != std::string::npos);
}

// ------------------------------------------------------------------ income

TEST_CASE("policies: Dibao income test at the standard, and one fen over", "[policy][income]") {
  // Harbin 2024, 1 member: 12 x 860.00 = 10320.00 in the window.
  House at(1);
  at.income(0, IncomeKind::kWages, "860.00");
  auto d = at.eval("230100");
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(d.classification == "dibao");
  CHECK(d.figures.at("income_per_capita_monthly") == "860.00");
  CHECK(d.figures.at("benefit_monthly") == "0.00");

  House over(1);
  over.income(0, IncomeKind::kWages, "860.00");
  over.income(0, IncomeKind::kOther, "0.01", "0.00", {{2024, 10}});
  auto o = over.eval("230100");
  CHECK(o.outcome == p::Outcome::kIneligible);
  CHECK(o.classification == "marginal");
  CHECK(rule(o, "dibao-income").result == p::RuleResult::kFail);
}

TEST_CASE("policies: Only the look-back window's months count", "[policy][income]") {
  House h(1);
  // 2024-11 (the reference month) and 2023-10 (13 months back) are outside.
  h.income(0, IncomeKind::kWages, "5000.00", "0.00", {{2024, 11}, {2023, 10}});
  h.income(0, IncomeKind::kWages, "1200.00", "0.00", {{2023, 11}});
  auto d = h.eval("230100");
  CHECK(d.figures.at("income_per_capita_monthly") == "100.00");  // 1200.00 / 12
  CHECK(rule(d, "dibao-income").inputs.at("income_records_outside_window") == 2);
  CHECK(rule(d, "dibao-income").inputs.at("window") == "2023-11 to 2024-10");
  CHECK(d.figures.at("benefit_monthly") == "760.00");  // 860.00 - 100.00
}

TEST_CASE("policies: Marginal is strictly between the standard and the line",
          "[policy][marginal]") {
  struct Row {
    const char* code;
    const char* monthly;
    p::Outcome expected;
  };
  const std::vector<Row> rows = {
      // Harbin: 1.5 x 860.00 = 1290.00; exactly at the line is not marginal.
      {"230100", "1290.00", p::Outcome::kIneligible},
      {"230100", "1289.99", p::Outcome::kEligible},
      {"230100", "860.00", p::Outcome::kIneligible},  // within the standard: dibao, not marginal
      {"230100", "860.01", p::Outcome::kEligible},
      // Shanghai: 2 x 1595.00 = 3190.00.
      {"310000", "3189.99", p::Outcome::kEligible},
      {"310000", "3190.00", p::Outcome::kIneligible},
      {"310000", "2600.00", p::Outcome::kEligible},  // over 1.5 x, under 2 x
      // Haidian: below the minimum wage 2420.00 (Beijing, from 2023-09-01).
      {"110108", "2419.99", p::Outcome::kEligible},
      {"110108", "2420.00", p::Outcome::kIneligible},
  };
  for (const auto& r : rows) {
    INFO(r.code << " " << r.monthly);
    House h(1, in_force(r.code), "marginal");
    h.income(0, IncomeKind::kOther, r.monthly);
    auto d = h.eval(r.code);
    CHECK(d.outcome == r.expected);
    if (r.expected == p::Outcome::kEligible) CHECK(d.classification == "marginal");
  }
}

TEST_CASE("policies: Basic part of the residents' pension is excluded where the rule says so",
          "[policy][income]") {
  // 900.00 a month, of which 300.00 basic part. Hanzhong 2025-11: standard
  // 675.00; counted 600.00 -> dibao, benefit 75.00. Harbin has no such rule.
  House hz(1, "2025-11-01");
  hz.income(0, IncomeKind::kResidentsPension, "900.00", "300.00");
  auto d = hz.eval("610700");
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(d.figures.at("income_per_capita_monthly") == "600.00");
  CHECK(d.figures.at("benefit_monthly") == "75.00");
  CHECK(rule(d, "basic-pension-exempt").inputs.at("basic_part_excluded") == "3600.00");

  House hb(1);
  hb.income(0, IncomeKind::kResidentsPension, "900.00", "300.00");
  CHECK(hb.eval("230100").outcome == p::Outcome::kIneligible);  // 900.00 > 860.00

  // After the 14th Five-Year Plan the exemption lapses (dated parameter;
  // 2026-06-01 is inside the 675.00 standard's twelve months).
  House later(1, "2026-06-01");
  later.income(0, IncomeKind::kResidentsPension, "600.00", "300.00");
  auto l = later.eval("610700");
  CHECK(l.figures.at("income_per_capita_monthly") == "600.00");
  CHECK(rule(l, "basic-pension-exempt").inputs.at("basic_part_excluded") == "0.00");
}

TEST_CASE("policies: One-off road-accident relief is not income in Harbin", "[policy][income]") {
  // Relief paid in March of the reference date's year (inside the window).
  auto make = [](const char* code) {
    House h(1, in_force(code));
    h.income(0, IncomeKind::kRoadAccidentRelief, "50000.00", "0.00",
             {{h.h.reference_date.year(), 3}});
    return h.eval(code);
  };
  CHECK(make("230100").outcome == p::Outcome::kEligible);
  CHECK(make("410500").outcome ==
        p::Outcome::kIneligible);  // Anyang's seed has no such exclusion
}

TEST_CASE("policies: Employment cost is deducted for employed members", "[policy][income]") {
  // Shanghai 2024: standard 1595.00, deduction 870.00. Wages 2400.00 - 870.00
  // = 1530.00 <= 1595.00: dibao, benefit 65.00.
  House h(1);
  h.member(0).employed = true;
  h.member(0).labour_capacity = "full";
  h.income(0, IncomeKind::kWages, "2400.00");
  auto d = h.eval("310000");
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(d.figures.at("income_per_capita_monthly") == "1530.00");
  CHECK(d.figures.at("benefit_monthly") == "65.00");
  // Haidian's seed has no deduction: 2400.00 > 1450.00.
  CHECK(h.eval("110108").outcome == p::Outcome::kIneligible);
  // Not employed: no deduction.
  House idle(1);
  idle.income(0, IncomeKind::kWages, "2400.00");
  CHECK(idle.eval("310000").outcome == p::Outcome::kIneligible);
}

TEST_CASE(
    "policies: Employment cost is deducted per month with earnings, up to that month's earnings",
    "[policy][income][employment-cost]") {
  // Shanghai 2024: standard 1595.00, deduction 870.00, window 2023-11 to
  // 2024-10; 1 member: limit 12 x 1595.00 = 19140.00 in the window.
  const std::vector<std::pair<int, unsigned>> half_year = {{2024, 5}, {2024, 6}, {2024, 7},
                                                           {2024, 8}, {2024, 9}, {2024, 10}};
  auto part_year = [&](const char* monthly) {
    House h(1);
    h.member(0).employed = true;
    h.income(0, IncomeKind::kWages, monthly, "0.00", half_year);
    return h;
  };
  // Six months of 4060.00: 6 x (4060.00 - 870.00) = 19140.00, exactly the
  // limit. The whole-window reading would deduct 12 x 870.00 = 10440.00 and
  // count 13920.00.
  auto at = part_year("4060.00").eval("310000");
  CHECK(at.outcome == p::Outcome::kEligible);
  CHECK(rule(at, "dibao-income").result == p::RuleResult::kPass);
  CHECK(rule(at, "dibao-income").inputs.at("counted_income_in_window") == "19140.00");
  CHECK(at.figures.at("benefit_monthly") == "0.00");
  const auto& ded = rule(at, "employment-cost").inputs.at("deductions").at(0);
  CHECK(ded.at("member_index") == 0);
  CHECK(ded.at("months_with_earnings") == 6);
  CHECK(ded.at("earned") == "24360.00");
  CHECK(ded.at("deducted") == "5220.00");  // 6 x 870.00
  CHECK(ded.at("by_month").size() == 6);
  CHECK(ded.at("by_month").at(0) == json{{"month", "2024-05"},
                                         {"earned", "4060.00"},
                                         {"deducted", "870.00"},
                                         {"earned_after_tax_and_contributions", "4060.00"}});
  CHECK(rule(at, "employment-cost").inputs.at("total_deducted") == "5220.00");
  // One fen more in one month: one fen over the limit.
  House over = part_year("4060.00");
  over.income(0, IncomeKind::kWages, "0.01", "0.00", {{2024, 10}});
  auto o = over.eval("310000");
  CHECK(o.outcome == p::Outcome::kIneligible);
  CHECK(rule(o, "dibao-income").inputs.at("counted_income_in_window") == "19140.01");
  CHECK(rule(o, "employment-cost").inputs.at("total_deducted") == "5220.00");

  // A month's deduction is never more than its earnings: 869.99 is deducted
  // whole, 870.00 whole, and 870.01 leaves 0.01 counted.
  struct Row {
    const char* earned;
    const char* deducted;
    const char* counted;
  };
  for (const Row& r : {Row{"869.99", "869.99", "0.00"}, Row{"870.00", "870.00", "0.00"},
                       Row{"870.01", "870.00", "0.01"}}) {
    INFO(r.earned);
    House h(1);
    h.member(0).employed = true;
    h.income(0, IncomeKind::kWages, r.earned, "0.00", {{2024, 3}});
    auto d = h.eval("310000");
    CHECK(rule(d, "employment-cost").inputs.at("total_deducted") == r.deducted);
    CHECK(rule(d, "dibao-income").inputs.at("counted_income_in_window") == r.counted);
  }

  // Wages and business income in one month are that month's earnings: one
  // deduction, not one per record. Other income is not earnings.
  House mixed(1);
  mixed.member(0).employed = true;
  mixed.income(0, IncomeKind::kWages, "500.00", "0.00", {{2024, 3}});
  mixed.income(0, IncomeKind::kBusiness, "500.00", "0.00", {{2024, 3}});
  mixed.income(0, IncomeKind::kProperty, "900.00", "0.00", {{2024, 4}});
  auto m = mixed.eval("310000");
  const auto& md = rule(m, "employment-cost").inputs.at("deductions").at(0);
  CHECK(md.at("months_with_earnings") == 1);
  CHECK(md.at("earned") == "1000.00");
  CHECK(md.at("deducted") == "870.00");
  CHECK(rule(m, "dibao-income").inputs.at("counted_income_in_window") == "1030.00");

  // Each member's own months: a spouse who is not marked employed gets no
  // deduction, and the employed member's months without earnings get none.
  House two(2);
  two.member(0).employed = true;
  two.income(0, IncomeKind::kWages, "1000.00", "0.00", {{2024, 1}});
  two.income(1, IncomeKind::kWages, "1000.00");
  auto t = two.eval("310000");
  CHECK(rule(t, "employment-cost").inputs.at("total_deducted") == "870.00");
  CHECK(rule(t, "employment-cost").inputs.at("deductions").size() == 1);
  CHECK(rule(t, "dibao-income").inputs.at("counted_income_in_window") == "12130.00");

  // The same reading in every jurisdiction that lists the rule.
  for (const char* code : {"230100", "610700", "410500", "310000"}) {
    INFO(code);
    House h(1, in_force(code));
    h.member(0).employed = true;
    const int year = h.h.reference_date.year();  // September and October before it
    h.income(0, IncomeKind::kWages, "2000.00", "0.00", {{year, 9}, {year, 10}});
    CHECK(rule(h.eval(code), "employment-cost").inputs.at("total_deducted") == "1740.00");
  }
}

TEST_CASE("policies: Support fees from obligors count as income (Harbin)",
          "[policy][support-fee]") {
  // Minimum wage 2080.00 (2024-05-01): fee = 5000.00 - 500.00 - 2080.00 = 2420.00.
  House h(1);
  h.h.obligors->push_back({1, yuan("5000.00"), yuan("500.00"), false, std::string(64, 'a')});
  auto d = h.eval("230100");
  CHECK(rule(d, "support-fee").inputs.at("support_fee_monthly_total") == "2420.00");
  CHECK(rule(d, "support-fee").inputs.at("obligors").at(0).at("evidence_sha256") == std::string(64, 'a'));
  CHECK(d.outcome == p::Outcome::kIneligible);

  House assisted(1);
  assisted.h.obligors->push_back({1, yuan("5000.00"), yuan("500.00"), true, ""});
  CHECK(assisted.eval("230100").outcome == p::Outcome::kEligible);

  House unknown(1);
  unknown.h.obligors->push_back({1, std::nullopt, Money{}, false, ""});
  auto u = unknown.eval("230100");
  CHECK(u.outcome == p::Outcome::kIndeterminate);
  CHECK(rule(u, "support-fee").result == p::RuleResult::kUnknown);
}

TEST_CASE("policies: Support fee boundary, one fen of fee, and the undeclared list (Harbin)",
          "[policy][support-fee]") {
  // Harbin urban standard 860.00 (2024-01-01) for one person, no income of
  // its own: a fee of 860.00 keeps the household at the line (eligible where
  // income equal to S is inside), 860.01 puts it one fen past.
  // Living cost = minimum wage 2080.00 (2024-05-01) (share 100%): fee = income - 100.00 - 2080.00.
  auto with_fee = [](const char* income) {
    House h(1);
    h.h.obligors->push_back({1, yuan(income), yuan("100.00"), false, ""});
    return h.eval("230100");
  };
  const auto at_line = with_fee("3040.00");
  CHECK(rule(at_line, "support-fee").inputs.at("support_fee_monthly_total") == "860.00");
  CHECK(rule(at_line, "dibao-income").result == p::RuleResult::kPass);
  const auto past = with_fee("3040.01");
  CHECK(rule(past, "support-fee").inputs.at("support_fee_monthly_total") == "860.01");
  CHECK(rule(past, "dibao-income").result == p::RuleResult::kFail);
  // A fee below zero is no fee.
  CHECK(rule(with_fee("2000.00"), "support-fee").inputs.at("support_fee_monthly_total") == "0.00");

  // Not declared: the rule cannot pass, and neither can the income rule.
  House undeclared(1);
  undeclared.h.obligors.reset();
  const auto u = undeclared.eval("230100");
  CHECK(rule(u, "support-fee").result == p::RuleResult::kUnknown);
  CHECK(rule(u, "support-fee").inputs.at("obligors").is_null());
  CHECK(rule(u, "dibao-income").result == p::RuleResult::kUnknown);
  CHECK(u.outcome == p::Outcome::kIndeterminate);
  // Declared none: the rule passes with nothing assessed.
  House none(1);
  const auto n = none.eval("230100");
  CHECK(rule(n, "support-fee").result == p::RuleResult::kPass);
  CHECK(n.outcome == p::Outcome::kEligible);
  // A jurisdiction that does not assess support fees does not ask for them.
  House elsewhere(1, in_force("610700"));
  elsewhere.h.obligors.reset();
  CHECK(elsewhere.eval("610700").outcome == p::Outcome::kEligible);
}

// ------------------------------------------------------------ classification

TEST_CASE("policies: Benefit by the gap method plus the 15% supplement (Harbin)",
          "[policy][benefit]") {
  // Two adults, one minor (born 2015): 3 x 860.00 = 2580.00, income 300.00
  // a month, supplement 15% x 860.00 = 129.00 for the minor.
  House h(3);
  h.member(2).birth_date = *Date::parse("2015-03-01");
  h.income(0, IncomeKind::kWages, "300.00");
  auto d = h.eval("230100");
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(d.figures.at("benefit_monthly") == "2409.00");  // 2580.00 - 300.00 + 129.00
  CHECK(rule(d, "supplement-15").inputs.at("total") == "129.00");
  // Several categories in one person: paid once.
  House both(1);
  both.member(0).birth_date = *Date::parse("1950-01-01");
  both.member(0).serious_illness = true;
  CHECK(both.eval("230100").figures.at("benefit_monthly") == "989.00");  // 860.00 + 129.00
  // Anyang has no 15% figure: gap only (630.00).
  House ay(1, in_force("410500"));
  ay.member(0).birth_date = *Date::parse("1950-01-01");
  CHECK(ay.eval("410500").figures.at("benefit_monthly") == "630.00");
}

TEST_CASE("policies: Single-person household inside a marginal household",
          "[policy][single-person]") {
  // Harbin, 2 members, income 2000.00 a month: 1000.00 per person, between
  // 860.00 and 1290.00. Member 1 (grade-1 disabled, no income) is covered alone.
  House h(2);
  h.member(1).disability_grade = 1;
  h.income(0, IncomeKind::kWages, "2000.00");
  auto d = h.eval("230100");
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(d.classification == "single_person_household");
  CHECK(d.figures.at("benefit_monthly") == "989.00");  // 860.00 - 0.00 + 129.00 supplement
  // Grade-3 physical disability does not qualify; grade-3 intellectual does.
  h.member(1).disability_grade = 3;
  h.member(1).disability_kind = "physical";
  CHECK(h.eval("230100").outcome == p::Outcome::kIneligible);
  h.member(1).disability_kind = "intellectual";
  CHECK(h.eval("230100").outcome == p::Outcome::kEligible);
  // Shanghai's seed has no single-person rule.
  House sh(2);
  sh.member(1).disability_grade = 1;
  sh.income(0, IncomeKind::kWages, "3600.00");  // 1800.00 per person: above 1595.00
  CHECK(sh.eval("310000").outcome == p::Outcome::kIneligible);
}

// A current dibao recipient since 2022-03-01 (before every reference date used).
p::CurrentBenefit recipient(const char* since = "2022-03-01") {
  p::CurrentBenefit b;
  b.since = *Date::parse(since);
  return b;
}

std::string plus_fen(const char* amount, std::int64_t fen) {
  return Money::from_fen(yuan(amount).fen() + fen).to_string();
}

TEST_CASE("policies: Gradual exit at the standard and the exit line, one fen each side, urban and rural",
          "[policy][gradual-exit]") {
  // Reference in_force(code), one employed member who reported the change, income
  // of a kind the employment cost does not touch. Lines: 1.5 x S except
  // Hanzhong, which has no upper bound (seed 001 §(一)).
  struct Row {
    const char* code;
    p::Area area;
    const char* standard;
    const char* line;  // "": no upper bound
  };
  const std::vector<Row> rows = {
      {"230100", p::Area::kUrban, "860.00", "1290.00"},
      {"230100", p::Area::kRural, "648.00", "972.00"},
      {"610700", p::Area::kUrban, "675.00", ""},
      {"610700", p::Area::kRural, "475.00", ""},
      {"110108", p::Area::kUrban, "1450.00", "2175.00"},
      {"110108", p::Area::kRural, "1450.00", "2175.00"},
      {"410500", p::Area::kUrban, "630.00", "945.00"},
      {"410500", p::Area::kRural, "420.00", "630.00"},
      {"310000", p::Area::kUrban, "1595.00", "2392.50"},
      {"310000", p::Area::kRural, "1595.00", "2392.50"},
  };
  for (const auto& r : rows) {
    const auto run = [&r](const std::string& monthly) {
      House h(1, in_force(r.code));
      h.h.area = r.area;
      h.member(0).employed = true;
      h.income(0, IncomeKind::kOther, monthly.c_str());
      h.h.current_benefit = recipient();
      h.h.current_benefit->self_reported = true;
      return h.eval(r.code);
    };
    INFO(r.code << " " << p::area_name(r.area));
    // At the standard the household stays dibao: no exit period.
    const auto at_standard = run(r.standard);
    CHECK(at_standard.classification == "dibao");
    CHECK(rule(at_standard, "gradual-exit").result == p::RuleResult::kFail);
    CHECK_FALSE(at_standard.gradual_exit_until.has_value());
    // One fen above it: gradual exit until the reference date + 6 months
    // (2024-11-01: 2025-05-01).
    const std::string until = Date::parse(in_force(r.code))->add_months(6).to_string();
    const auto above = run(plus_fen(r.standard, 1));
    CHECK(above.outcome == p::Outcome::kEligible);
    CHECK(above.classification == "gradual_exit");
    REQUIRE(above.gradual_exit_until.has_value());
    CHECK(above.gradual_exit_until->to_string() == until);
    CHECK(p::decision_json(above)["gradual_exit_until"] == until);
    CHECK(rule(above, "gradual-exit").inputs["gradual_exit_until"] == until);
    if (*r.line != '\0') {
      const auto below_line = run(plus_fen(r.line, -1));
      CHECK(below_line.classification == "gradual_exit");
      const auto at_line = run(r.line);
      CHECK(at_line.outcome == p::Outcome::kIneligible);
      CHECK(rule(at_line, "gradual-exit").result == p::RuleResult::kFail);
      CHECK_FALSE(at_line.gradual_exit_until.has_value());
    } else {
      const auto far_above = run(plus_fen(r.standard, yuan(r.standard).fen() * 9));  // 10 x S
      CHECK(far_above.classification == "gradual_exit");
      CHECK_FALSE(rule(far_above, "gradual-exit").inputs.contains("exit_line_per_capita"));
    }
  }
}

TEST_CASE("policies: Gradual exit conditions differ by jurisdiction", "[policy][gradual-exit]") {
  // Income inside each jurisdiction's exit band on in_force(code) (urban).
  struct Row {
    const char* code;
    const char* inside;
    bool employment_required;
    bool self_report_required;
  };
  const std::vector<Row> rows = {
      {"230100", "1000.00", false, false},  // seed 000: all urban and rural recipients
      {"610700", "1000.00", false, false},  // seed 001 §(一): income above S, nothing more
      {"110108", "1800.00", true, true},    // seed 002 §5: 实现就业并主动申报停保
      {"410500", "800.00", true, false},    // seed 003 §11: 对已就业的低保对象
      {"310000", "2000.00", true, false},   // seed 004 §8 under employment assistance (example)
  };
  for (const auto& r : rows) {
    INFO(r.code);
    const auto house = [&r](bool employed, std::optional<bool> reported) {
      House h(1, in_force(r.code));
      h.member(0).employed = employed;
      h.income(0, IncomeKind::kOther, r.inside);
      h.h.current_benefit = recipient();
      h.h.current_benefit->self_reported = reported;
      return h;
    };
    // Not a current recipient: an applicant above the standard gets no exit period.
    House applicant = house(true, true);
    applicant.h.current_benefit.reset();
    const auto a = applicant.eval(r.code);
    CHECK(a.outcome == p::Outcome::kIneligible);
    CHECK(rule(a, "gradual-exit").result == p::RuleResult::kFail);
    CHECK(rule(a, "gradual-exit").inputs["current_benefit"].is_null());
    // Nobody employed.
    const auto idle = house(false, true).eval(r.code);
    CHECK(idle.classification == (r.employment_required ? "marginal" : "gradual_exit"));
    CHECK(idle.outcome ==
          (r.employment_required ? p::Outcome::kIneligible : p::Outcome::kEligible));
    // The request does not say whether the household reported the change:
    // where that is a condition the rule is unknown, never pass.
    const auto unsaid = house(true, std::nullopt).eval(r.code);
    const auto& t = rule(unsaid, "gradual-exit");
    if (r.self_report_required) {
      CHECK(unsaid.outcome == p::Outcome::kIndeterminate);
      CHECK(t.result == p::RuleResult::kUnknown);
      CHECK(t.unknown_sources == std::vector<std::string>{"request:current_benefit.self_reported"});
    } else {
      CHECK(unsaid.classification == "gradual_exit");
    }
    // It says the household did not report it.
    const auto unreported = house(true, false).eval(r.code);
    CHECK(unreported.outcome ==
          (r.self_report_required ? p::Outcome::kIneligible : p::Outcome::kEligible));
    // The readings are in the trace: conditions as inputs, and the period
    // length marked example everywhere (no source the project has sets it).
    const auto ok = house(true, true).eval(r.code);
    CHECK(ok.classification == "gradual_exit");
    const auto& g = rule(ok, "gradual-exit");
    CHECK(g.inputs["employment_required"] == r.employment_required);
    CHECK(g.inputs["self_report_required"] == r.self_report_required);
    CHECK(g.inputs["period_months"] == 6);
    CHECK_FALSE(g.note.empty());
    for (const auto& prm : g.parameters) {
      if (prm.name == "gradual_exit_period_months") CHECK(prm.example);
    }
  }
}

TEST_CASE("policies: Gradual-exit readings that are judgements are marked example",
          "[policy][gradual-exit]") {
  struct Row {
    const char* code;
    const char* bound;
    bool bound_example;
    bool employment_example;
  };
  const std::vector<Row> rows = {
      {"230100", "income_multiple", true, false},  // seed 000 states no bound
      {"610700", "none", false, false},            // seed 001 §(一): above S, no bound
      {"110108", "income_multiple", true, false},  // seed 002 §5 states no bound
      {"410500", "income_multiple", false, false},  // seed 003 §11: 1至1.5倍
      {"310000", "income_multiple", true, true},   // seed 004 §8 states no condition at all
  };
  for (const auto& r : rows) {
    INFO(r.code);
    const Date on = *Date::parse(in_force(r.code));
    const auto& pol = policy(r.code);
    const auto bound = pol.text("gradual_exit_upper_bound", on);
    REQUIRE(bound.has_value());
    CHECK(bound->value == r.bound);
    CHECK(bound->provenance.example == r.bound_example);
    CHECK(pol.flag("gradual_exit_employment_required", on)->provenance.example ==
          r.employment_example);
    CHECK(pol.integer("gradual_exit_period_months", on)->provenance.example);
    CHECK(pol.ratio("gradual_exit_income_multiple", on).has_value() ==
          (std::string(r.bound) == "income_multiple"));
  }
}

TEST_CASE("policies: A gradual-exit period is continued, not restarted, and ends on its last day",
          "[policy][gradual-exit]") {
  // Harbin, 1000.00 per person: inside the band; reference 2024-11-01.
  const auto run = [](const char* since, const char* until) {
    House h(1);
    h.income(0, IncomeKind::kOther, "1000.00");
    h.h.current_benefit = recipient(since);
    if (until != nullptr) h.h.current_benefit->gradual_exit_until = *Date::parse(until);
    return h.eval("230100");
  };
  const auto continued = run("2022-03-01", "2025-01-31");
  CHECK(continued.classification == "gradual_exit");
  CHECK(continued.gradual_exit_until->to_string() == "2025-01-31");
  const auto last_day = run("2022-03-01", "2024-11-01");
  CHECK(last_day.classification == "gradual_exit");
  CHECK(last_day.gradual_exit_until->to_string() == "2024-11-01");
  const auto ended = run("2022-03-01", "2024-10-31");
  CHECK(ended.outcome == p::Outcome::kIneligible);
  CHECK(rule(ended, "gradual-exit").explanation == "the gradual-exit period ended on 2024-10-31");
  // Receiving since the reference date counts; since the day after does not.
  CHECK(run("2024-11-01", nullptr).classification == "gradual_exit");
  CHECK(run("2024-11-02", nullptr).outcome == p::Outcome::kIneligible);
}

TEST_CASE("policies: The worked example's gradual-exit variant (docs/worked-example.md)",
          "[policy][gradual-exit]") {
  House h(3);
  h.member(0).employed = true;
  h.member(2).birth_date = *Date::parse("2016-04-01");
  h.member(2).relation = "child";
  h.income(0, IncomeKind::kWages, "4000.00");
  h.income(1, IncomeKind::kRoadAccidentRelief, "8000.00", "0.00", {{2024, 3}});
  auto without = h.eval("230100");
  CHECK(without.outcome == p::Outcome::kIneligible);
  CHECK(without.classification == "marginal");
  h.h.current_benefit = recipient();
  auto d = h.eval("230100");
  CHECK(d.figures.at("income_per_capita_monthly") == "1043.33");
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(d.classification == "gradual_exit");
  CHECK(d.gradual_exit_until->to_string() == "2025-05-01");
  CHECK_FALSE(d.figures.contains("benefit_monthly"));
}

TEST_CASE("policies: The worked example's after-tax variant (docs/worked-example.md)",
          "[policy][income][after-tax]") {
  // Member 0 pays 210.00 of own contributions a month on a base of 2000.00
  // (pension 160.00, medical 40.00, unemployment 10.00); no tax withheld.
  House h(3);
  h.member(0).employed = true;
  h.member(2).birth_date = *Date::parse("2016-09-01");
  h.member(2).relation = "child";
  h.bank(0, "18000.00").bank(1, "12000.00");
  h.taxed(0, IncomeKind::kWages, "2000.00", "0.00");
  h.contribution(0, "employee_pension", "2000.00", "160.00");
  h.contribution(0, "medical", "2000.00", "40.00");
  h.contribution(0, "unemployment", "2000.00", "10.00");
  h.income(1, IncomeKind::kRoadAccidentRelief, "8000.00", "0.00", {{2026, 3}});
  const auto d = h.eval("230100");
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(rule(d, "dibao-income").inputs.at("tax_and_contributions_deducted") == "2520.00");
  CHECK(rule(d, "employment-cost").inputs.at("total_deducted") == "10440.00");  // 1790.00 > 870.00
  CHECK(rule(d, "dibao-income").inputs.at("counted_income_in_window") == "11040.00");
  CHECK(d.figures.at("income_per_capita_monthly") == "306.67");
  CHECK(d.figures.at("benefit_monthly") == "1789.00");  // 1660.00 gap + 129.00 supplement
  // The social-insurance answer failing: the contributions are unknown.
  h.fail(0, Source::kSocialInsurance);
  const auto f = h.eval("230100");
  CHECK(rule(f, "dibao-income").result == p::RuleResult::kUnknown);
  CHECK(f.outcome == p::Outcome::kIndeterminate);
}

TEST_CASE("policies: Gradual exit is unknown on missing income, and fails on known income over the line",
          "[policy][gradual-exit][fail-closed]") {
  // Harbin: the tax answer is missing; what is known is inside the band.
  House h(1);
  h.income(0, IncomeKind::kResidentsPension, "1000.00");
  h.fail(0, Source::kTax);
  h.h.current_benefit = recipient();
  auto d = h.eval("230100");
  CHECK(rule(d, "dibao-income").result == p::RuleResult::kFail);  // known income above S
  CHECK(rule(d, "gradual-exit").result == p::RuleResult::kUnknown);
  CHECK(d.outcome == p::Outcome::kIndeterminate);  // the exit period could still apply
  CHECK(rule(d, "gradual-exit").unknown_sources == std::vector<std::string>{"tax"});
  // Known income at the exit line decides it whatever is missing.
  House over(1);
  over.income(0, IncomeKind::kResidentsPension, "1290.00");
  over.fail(0, Source::kTax);
  over.h.current_benefit = recipient();
  const auto o = over.eval("230100");
  CHECK(rule(o, "gradual-exit").result == p::RuleResult::kFail);
  CHECK(o.outcome == p::Outcome::kIneligible);
}

// ------------------------------------------------ hardship rules (issue 13 item 9)

// A declared rigid-spending entry (programme expenditure).
p::RigidSpending spending(const char* kind, const std::string& amount, bool monthly = true) {
  return {kind, yuan(amount.c_str()), monthly, std::string(64, 'a')};
}

TEST_CASE("policies: Expenditure-type poverty at the line and one fen past it, urban and rural",
          "[policy][expenditure]") {
  // One member, not employed, income of 2000.00 a month (so no employment
  // cost): above the standard everywhere. Declared spending brings the rest
  // to exactly the standard (the line, multiple 1), or one fen over it.
  struct Row {
    const char* code;
    p::Area area;
    const char* standard;
  };
  const std::vector<Row> rows = {{"230100", p::Area::kUrban, "860.00"},
                                 {"230100", p::Area::kRural, "648.00"},
                                 {"310000", p::Area::kUrban, "1595.00"},
                                 {"310000", p::Area::kRural, "1595.00"}};
  for (const auto& r : rows) {
    INFO(r.code << " " << p::area_name(r.area));
    const auto run = [&r](const std::vector<p::RigidSpending>& declared,
                          const std::string& income = "2000.00") {
      House h(1, "2024-11-01", "expenditure");
      h.h.area = r.area;
      h.income(0, IncomeKind::kWages, income.c_str());
      h.h.rigid_spending = declared;
      return h.eval(r.code);
    };
    const std::int64_t gap = yuan("2000.00").fen() - yuan(r.standard).fen();
    // Monthly spending: income less spending = the standard exactly: covered.
    const auto at = run({spending("hospital_treatment", Money::from_fen(gap).to_string())});
    CHECK(at.outcome == p::Outcome::kEligible);
    CHECK(at.classification == "expenditure_poverty");
    CHECK(rule(at, "expenditure-poverty").result == p::RuleResult::kPass);
    CHECK(at.figures.at("income_after_rigid_spending_per_capita_monthly") == r.standard);
    CHECK_FALSE(at.figures.contains("benefit_monthly"));  // set by the case system
    // One fen less spending a month: income after it is one fen over the line.
    const auto over = run({spending("hospital_treatment", Money::from_fen(gap - 1).to_string())});
    CHECK(over.outcome == p::Outcome::kIneligible);
    CHECK(rule(over, "expenditure-poverty").result == p::RuleResult::kFail);
    CHECK(over.figures.at("income_after_rigid_spending_per_capita_monthly") ==
          plus_fen(r.standard, 1));
    // The same as window totals (12 months), over two kinds; one fen short
    // over the whole window is past the line.
    const std::string window = Money::from_fen(gap * 12 - 10000).to_string();
    const auto at_window =
        run({spending("schooling", window, false), spending("chronic_illness", "100.00", false)});
    CHECK(at_window.outcome == p::Outcome::kEligible);
    CHECK(rule(at_window, "expenditure-poverty").inputs["rigid_spending_in_window"] ==
          Money::from_fen(gap * 12).to_string());
    const auto over_window =
        run({spending("schooling", window, false), spending("chronic_illness", "99.99", false)});
    CHECK(over_window.outcome == p::Outcome::kIneligible);
    // The standard's side: income one fen above it is covered with one fen
    // of spending; income exactly at it is a dibao household, not this.
    CHECK(run({spending("rehabilitation", "0.01")}, plus_fen(r.standard, 1)).classification ==
          "expenditure_poverty");
    const auto within = run({spending("rehabilitation", "0.01")}, r.standard);
    CHECK(within.outcome == p::Outcome::kIneligible);
    CHECK(within.classification == "dibao");
    CHECK(rule(within, "expenditure-poverty").explanation.find("within the dibao standard") !=
          std::string::npos);
  }
}

TEST_CASE("policies: Expenditure-type poverty traces the declaration, and Shanghai reviews it quarterly",
          "[policy][expenditure][review]") {
  // Two members, 4000.00 a month (2000.00 each). Shanghai: hospital 810.00 a
  // month leaves 3190.00 = 2 x 1595.00; Harbin: 2280.00 leaves 2 x 860.00.
  const auto house = [](std::vector<p::RigidSpending> declared, const char* date = "2024-11-01") {
    House h(2, date, "expenditure");
    h.income(0, IncomeKind::kWages, "4000.00");
    h.h.rigid_spending = std::move(declared);
    return h;
  };
  const auto sh = house({spending("hospital_treatment", "810.00")}).eval("310000");
  CHECK(sh.classification == "expenditure_poverty");
  CHECK(rule(sh, "review-cycle").inputs["category"] == "expenditure_poverty");
  CHECK(sh.next_review->to_string() == "2025-02-01");  // seed 004 §4: every quarter
  const auto& t = rule(sh, "expenditure-poverty");
  CHECK(t.clause == "004_2002961d590718da.txt#s3-expenditure-poverty");
  CHECK(t.inputs["rigid_spending"][0]["evidence_sha256"] == std::string(64, 'a'));
  CHECK(t.inputs["rigid_spending"][0]["in_window"] == "9720.00");  // 12 x 810.00
  CHECK(t.inputs["rigid_spending"][0]["counted"] == true);
  CHECK(t.inputs["income_after_rigid_spending_in_window"] == "38280.00");
  bool example_multiple = false;
  for (const auto& prov : t.parameters) {
    if (prov.name == "expenditure_poverty_line_multiple") example_multiple = prov.example;
  }
  CHECK(example_multiple);  // no source gives the figure
  const auto hrb = house({spending("chronic_illness", "2280.00")}).eval("230100");
  CHECK(hrb.classification == "expenditure_poverty");
  CHECK(hrb.next_review->to_string() == "2025-11-01");  // Harbin has no quarterly cycle for it
  CHECK(rule(hrb, "expenditure-poverty").clause ==
        "000_74d306e405892d62.txt#expenditure-poverty");
  // Jurisdictions whose documents do not have it do not decide the programme.
  for (const char* code : {"610700", "110108", "410500"}) {
    INFO(code);
    const auto d = house({spending("hospital_treatment", "3000.00")}, in_force(code)).eval(code);
    CHECK(d.outcome == p::Outcome::kIndeterminate);
    CHECK(d.basis.find("not evaluated") != std::string::npos);
  }
}

TEST_CASE("policies: Only the kinds of rigid spending a policy counts are taken off",
          "[policy][expenditure]") {
  TempDir dir;
  json file = read_file("310000");
  file["parameters"]["expenditure_poverty_kinds"][0]["value"] = {"hospital_treatment"};
  std::ofstream(dir.path / "310000.json") << file.dump();
  auto set = p::PolicySet::load_dir(dir.path);
  REQUIRE(set.ok());
  House h(1, "2024-11-01", "expenditure");
  h.income(0, IncomeKind::kWages, "2000.00");
  h.h.rigid_spending = {spending("schooling", "405.00")};
  auto d = p::evaluate(**set->find("310000"), h.h);
  CHECK(d.outcome == p::Outcome::kIneligible);
  CHECK(rule(d, "expenditure-poverty").inputs["rigid_spending"][0]["counted"] == false);
  CHECK(rule(d, "expenditure-poverty").inputs["rigid_spending_in_window"] == "0.00");
  h.h.rigid_spending = {spending("hospital_treatment", "405.00")};
  CHECK(p::evaluate(**set->find("310000"), h.h).outcome == p::Outcome::kEligible);
  // A file listing the rule without its parameters is refused.
  file["parameters"].erase("expenditure_poverty_line_multiple");
  std::ofstream(dir.path / "310000.json") << file.dump();
  auto bad = p::PolicySet::load_dir(dir.path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("expenditure_poverty_line_multiple") != std::string::npos);
}

TEST_CASE("policies: Expenditure-type poverty is unknown without a declaration or with income missing",
          "[policy][expenditure][fail-closed]") {
  House none(1, "2024-11-01", "expenditure");
  none.income(0, IncomeKind::kWages, "1000.00");
  auto d = none.eval("230100");
  CHECK(rule(d, "expenditure-poverty").result == p::RuleResult::kUnknown);
  CHECK(rule(d, "expenditure-poverty").unknown_sources ==
        std::vector<std::string>{"request:rigid_spending"});
  CHECK(d.outcome == p::Outcome::kIndeterminate);
  // Income known so far within the line after spending, but tax did not answer.
  House missing(1, "2024-11-01", "expenditure");
  missing.income(0, IncomeKind::kResidentsPension, "1000.00");
  missing.fail(0, Source::kTax);
  missing.h.rigid_spending = {spending("hospital_treatment", "140.00")};
  auto m = missing.eval("230100");
  CHECK(rule(m, "expenditure-poverty").result == p::RuleResult::kUnknown);
  CHECK(rule(m, "expenditure-poverty").unknown_sources == std::vector<std::string>{"tax"});
  CHECK(m.outcome == p::Outcome::kIndeterminate);
  // Known income already past the line after spending decides it.
  missing.h.rigid_spending = {spending("hospital_treatment", "139.99")};
  auto f = missing.eval("230100");
  CHECK(rule(f, "expenditure-poverty").result == p::RuleResult::kFail);
  CHECK(f.outcome == p::Outcome::kIneligible);
}

// A current dibao recipient paid `amount` since it was set on `set_on`.
p::CurrentBenefit paid(const std::string& amount, const char* set_on = "2024-05-01") {
  p::CurrentBenefit b = recipient();
  b.monthly_amount = yuan(amount.c_str());
  b.amount_set_on = *Date::parse(set_on);
  return b;
}

TEST_CASE("policies: No re-adjustment within a review period: at the tolerance and one fen past it",
          "[policy][no-readjustment]") {
  // No income, no supplement (members born 1980): the recomputed amount is
  // members x S; the tolerance members x 0.1 x S (example).
  struct Row {
    const char* code;
    p::Area area;
    std::size_t members;
    const char* recomputed;
    const char* tolerance;
  };
  const std::vector<Row> rows = {
      {"230100", p::Area::kUrban, 1, "860.00", "86.00"},
      {"230100", p::Area::kRural, 1, "648.00", "64.80"},
      {"230100", p::Area::kUrban, 2, "1720.00", "172.00"},
      {"410500", p::Area::kUrban, 1, "630.00", "63.00"},
      {"410500", p::Area::kRural, 3, "1260.00", "126.00"},
  };
  for (const auto& r : rows) {
    INFO(r.code << " " << p::area_name(r.area) << " " << r.members);
    const auto run = [&r](const std::string& current) {
      House h(r.members, in_force(r.code));
      h.h.area = r.area;
      // Set within the standard in force (Anyang's from 2022-01-01).
      h.h.current_benefit = paid(current, r.code == std::string("410500") ? "2022-05-01" : "2024-05-01");
      return h.eval(r.code);
    };
    const std::int64_t tol = yuan(r.tolerance).fen();
    for (const std::int64_t sign : {1, -1}) {
      const std::string at = plus_fen(r.recomputed, sign * tol);
      const auto kept = run(at);
      CHECK(kept.outcome == p::Outcome::kEligible);
      CHECK(rule(kept, "no-readjustment").result == p::RuleResult::kPass);
      CHECK(kept.figures.at("benefit_monthly") == at);
      CHECK(kept.figures.at("benefit_recomputed_monthly") == r.recomputed);
      CHECK(rule(kept, "no-readjustment").inputs["tolerance"] == r.tolerance);
      const auto changed = run(plus_fen(r.recomputed, sign * (tol + 1)));
      CHECK(rule(changed, "no-readjustment").result == p::RuleResult::kFail);
      CHECK(changed.figures.at("benefit_monthly") == r.recomputed);
      CHECK_FALSE(changed.figures.contains("benefit_recomputed_monthly"));
    }
  }
}

TEST_CASE("policies: No re-adjustment keeps nothing when the standard changed or nothing was given",
          "[policy][no-readjustment][fail-closed]") {
  // Harbin's standard was 835.00 on 2023-06-01 and is 860.00 on 2024-11-01:
  // the amount follows the standard even inside the tolerance.
  House h(1);
  h.h.current_benefit = paid("835.00", "2023-06-01");
  auto moved = h.eval("230100");
  CHECK(rule(moved, "no-readjustment").result == p::RuleResult::kFail);
  CHECK(rule(moved, "no-readjustment").inputs["standard_when_set"] == "835.00");
  CHECK(moved.figures.at("benefit_monthly") == "860.00");
  // Set on the day the 860.00 standard took effect: kept.
  h.h.current_benefit = paid("835.00", "2024-01-01");
  CHECK(h.eval("230100").figures.at("benefit_monthly") == "835.00");
  // A recipient without the amount: unknown, the recomputed amount stands,
  // and the outcome is not touched (the rule only adjusts).
  h.h.current_benefit = recipient();
  auto unknown = h.eval("230100");
  CHECK(rule(unknown, "no-readjustment").result == p::RuleResult::kUnknown);
  CHECK(rule(unknown, "no-readjustment").unknown_sources ==
        std::vector<std::string>{"request:current_benefit.monthly_amount"});
  CHECK(unknown.outcome == p::Outcome::kEligible);
  CHECK(unknown.figures.at("benefit_monthly") == "860.00");
  // An applicant: nothing to keep.
  h.h.current_benefit.reset();
  CHECK(rule(h.eval("230100"), "no-readjustment").result == p::RuleResult::kFail);
  // A recipient who is now in a gradual-exit period keeps no level.
  House rose(1);
  rose.income(0, IncomeKind::kOther, "1000.00");
  rose.h.current_benefit = paid("860.00");
  auto exit = rose.eval("230100");
  CHECK(exit.classification == "gradual_exit");
  CHECK(rule(exit, "no-readjustment").result == p::RuleResult::kFail);
  CHECK_FALSE(exit.figures.contains("benefit_monthly"));
  // Jurisdictions whose documents do not have the rule recompute.
  House hz(1, in_force("610700"));
  hz.h.current_benefit = paid("700.00", "2025-10-01");
  auto d = hz.eval("610700");
  CHECK(d.figures.at("benefit_monthly") == "675.00");
  CHECK(std::none_of(d.rules.begin(), d.rules.end(),
                     [](const p::RuleTrace& t) { return t.rule == "no-readjustment"; }));
}

TEST_CASE("policies: The worked example's no-readjustment variant (docs/worked-example.md)",
          "[policy][no-readjustment]") {
  House h(3);
  h.member(0).birth_date = *Date::parse("1984-04-01");
  h.member(0).employed = true;
  h.member(1).birth_date = *Date::parse("1986-07-01");
  h.member(2).birth_date = *Date::parse("2016-09-01");
  h.member(2).relation = "child";
  h.bank(0, "18000.00").bank(1, "12000.00");
  h.income(0, IncomeKind::kWages, "2000.00");
  h.income(1, IncomeKind::kRoadAccidentRelief, "8000.00", "0.00", {{2024, 3}});
  h.h.current_benefit = paid("1600.00");
  auto d = h.eval("230100");
  CHECK(d.classification == "dibao");
  CHECK(rule(d, "no-readjustment").inputs["difference"] == "21.00");
  CHECK(rule(d, "no-readjustment").inputs["tolerance"] == "258.00");
  CHECK(d.figures.at("benefit_monthly") == "1600.00");
  CHECK(d.figures.at("benefit_recomputed_monthly") == "1579.00");
}

TEST_CASE("policies: Emergency temporary assistance has no income line and a six-month follow-up",
          "[policy][emergency]") {
  const auto house = [](const char* date = "2024-11-01") {
    House h(1, date, "emergency");
    h.income(0, IncomeKind::kWages, "5000.00");  // far above every line
    h.h.emergency = p::Emergency{"public_emergency", *Date::parse("2024-10-20"),
                                 std::string(64, 'b')};
    return h;
  };
  const auto d = house().eval("230100");
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(d.classification == "emergency");
  CHECK(rule(d, "emergency-temporary").result == p::RuleResult::kPass);
  CHECK(rule(d, "emergency-temporary").inputs["evidence_sha256"] == std::string(64, 'b'));
  CHECK(rule(d, "dibao-income").role == "classification");
  CHECK(rule(d, "dibao-income").result == p::RuleResult::kFail);
  REQUIRE(d.follow_up_date.has_value());
  CHECK(d.follow_up_date->to_string() == "2025-05-01");
  CHECK(p::decision_json(d)["follow_up_date"] == "2025-05-01");
  CHECK_FALSE(d.figures.contains("benefit_monthly"));
  // Six calendar months, to the month's last day where it is shorter.
  auto month_end = house("2024-08-31");
  month_end.h.emergency->event_date = *Date::parse("2024-08-30");
  REQUIRE(month_end.eval("230100").follow_up_date.has_value());
  CHECK(month_end.eval("230100").follow_up_date->to_string() == "2025-02-28");
  // The income sources failing does not matter: no income line.
  auto no_tax = house();
  no_tax.fail(0, Source::kTax).fail(0, Source::kSocialInsurance);
  CHECK(no_tax.eval("230100").outcome == p::Outcome::kEligible);
  // The asset rules and the registry still hold.
  auto rich = house();
  rich.bank(0, "20640.01");  // one fen over 24 x 860.00
  const auto r = rich.eval("230100");
  CHECK(r.outcome == p::Outcome::kIneligible);
  CHECK_FALSE(r.follow_up_date.has_value());
  auto at_cap = house();
  at_cap.bank(0, "20640.00");
  CHECK(at_cap.eval("230100").outcome == p::Outcome::kEligible);
  auto moved = house();
  moved.at(0, Source::kHukou).records.hukou->status = "moved";
  CHECK(moved.eval("230100").outcome == p::Outcome::kIndeterminate);
  // Nothing declared: unknown; an event after the reference date: fail.
  auto undeclared = house();
  undeclared.h.emergency.reset();
  const auto u = undeclared.eval("230100");
  CHECK(u.outcome == p::Outcome::kIndeterminate);
  CHECK(rule(u, "emergency-temporary").unknown_sources ==
        std::vector<std::string>{"request:emergency"});
  CHECK_FALSE(u.follow_up_date.has_value());
  auto later = house();
  later.h.emergency->event_date = *Date::parse("2024-11-02");
  CHECK(later.eval("230100").outcome == p::Outcome::kIneligible);
  auto same_day = house();
  same_day.h.emergency->event_date = *Date::parse("2024-11-01");
  CHECK(same_day.eval("230100").outcome == p::Outcome::kEligible);
  // Only Harbin's document has it.
  for (const char* code : {"610700", "110108", "410500", "310000"}) {
    INFO(code);
    CHECK(house().eval(code).outcome == p::Outcome::kIndeterminate);
  }
}

TEST_CASE("policies: Harbin's single-person household covers grade 1-6 disabled servicemen and entitled-group pensioners",
          "[policy][single-person]") {
  // Two members. Harbin: 2000.00 a month, 1000.00 per person, marginal
  // (860.00 < 1000.00 < 1290.00). Hanzhong and Anyang: 1800.00 a month,
  // 900.00 per person, marginal in both (675.00 < 900.00 < 1012.50;
  // 630.00 < 900.00 < 945.00).
  const auto house = [](const char* income, const char* date = "2024-11-01") {
    House h(2, date);
    h.income(0, IncomeKind::kWages, income);
    return h;
  };
  auto h = house("2000.00");
  h.member(1).disabled_serviceman_grade = 6;
  auto d = h.eval("230100");
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(d.classification == "single_person_household");
  CHECK(rule(d, "single-person-household").inputs["covered_why"][0]["member_index"] == 1);
  CHECK(d.figures.at("benefit_monthly") == "860.00");  // no supplement: member 1 is 46
  h.member(1).disabled_serviceman_grade = 7;
  auto seven = h.eval("230100");
  CHECK(seven.outcome == p::Outcome::kIneligible);
  CHECK(rule(seven, "single-person-household").explanation.find("grade 1-6") != std::string::npos);
  h.member(1).disabled_serviceman_grade.reset();
  h.member(1).entitled_group_pension = true;
  CHECK(h.eval("230100").classification == "single_person_household");
  // Not in the other files: the same members are not covered alone there.
  for (const char* code : {"610700", "410500"}) {
    INFO(code);
    auto other = house("1800.00", in_force(code));  // 900.00 per person: marginal in both
    other.member(1).disabled_serviceman_grade = 1;
    other.member(1).entitled_group_pension = true;
    auto o = other.eval(code);
    CHECK(rule(o, "marginal-1.5").result == p::RuleResult::kPass);
    CHECK(rule(o, "single-person-household").result == p::RuleResult::kFail);
    CHECK(o.outcome == p::Outcome::kIneligible);
  }
}

TEST_CASE("policies: No rule passes on data that was not given or not answered",
          "[policy][fail-closed]") {
  // Every agency failed and the request gives none of the optional facts:
  // no condition or alternative passes, in any jurisdiction or programme.
  for (const char* code : {"230100", "610700", "110108", "410500", "310000"}) {
    for (p::Programme prog : p::kAllProgrammes) {
      INFO(code << " " << p::programme_name(prog));
      House h(2, in_force(code), std::string(p::programme_name(prog)).c_str());
      for (std::size_t m = 0; m < 2; ++m) {
        for (Source s : hfv::kAllSources) h.fail(m, s);
      }
      h.h.current_benefit = recipient();  // a recipient, without the amount
      const auto d = h.eval(code);
      CHECK(d.outcome != p::Outcome::kEligible);
      for (const auto& t : d.rules) {
        INFO(t.rule);
        if (t.role == "condition" || t.role == "alternative") CHECK(t.result != p::RuleResult::kPass);
      }
      CHECK_FALSE(d.follow_up_date.has_value());
      // No amount to pay (an ineligible household shows 0.00).
      CHECK((!d.figures.contains("benefit_monthly") || d.figures.at("benefit_monthly") == "0.00"));
    }
  }
  // Every agency answered (nothing found), but the request leaves out the
  // facts only it can give: obligors not declared, no member's labour
  // capacity, no rigid spending, no emergency, a recipient without the
  // amount paid. Each rule that reads one of them does not pass.
  for (const char* code : {"230100", "610700", "110108", "410500", "310000"}) {
    for (p::Programme prog : p::kAllProgrammes) {
      const std::string programme(p::programme_name(prog));
      INFO(code << " " << programme);
      House h(2, in_force(code), programme.c_str());
      h.h.obligors.reset();
      for (std::size_t m = 0; m < 2; ++m) h.member(m).labour_capacity.clear();
      h.h.current_benefit = recipient();
      const auto d = h.eval(code);
      for (const auto& t : d.rules) {
        INFO(t.rule);
        if (t.rule == "support-fee" || t.rule == "tekun-1.3" || t.rule == "expenditure-poverty" ||
            t.rule == "emergency-temporary" || t.rule == "no-readjustment") {
          CHECK(t.result != p::RuleResult::kPass);
        }
      }
      // Programmes that cannot be decided without the missing fact, and
      // Harbin (which assesses support), are never eligible on it.
      if (programme == "tekun" || programme == "expenditure" || programme == "emergency" ||
          std::string(code) == "230100") {
        CHECK(d.outcome != p::Outcome::kEligible);
      }
    }
  }
}

// ------------------------------------------- earnings after tax and contributions

// The jurisdiction's file with earnings_after_tax_and_contributions set to `on`.
p::PolicySet with_after_tax(const std::string& code, bool on) {
  TempDir dir;
  json file = read_file(code);
  file["parameters"]["earnings_after_tax_and_contributions"][0]["value"] = on;
  std::ofstream(dir.path / (code + ".json")) << file.dump();
  auto set = p::PolicySet::load_dir(dir.path);
  if (!set.ok()) FAIL(set.error().message);
  return std::move(*set);
}

p::Decision eval_in(const p::PolicySet& set, const std::string& code, const House& h) {
  auto found = set.find(code);
  REQUIRE(found.ok());
  return p::evaluate(**found, h.h);
}

TEST_CASE("policies: Earnings after tax and contributions at the standard, and one fen past it",
          "[policy][income][after-tax]") {
  // On in_force(code), one member not marked employed (no employment cost): wages
  // of S + 300.00 a month, 100.00 tax withheld and 200.00 own contributions
  // each month: net exactly S, while gross is 300.00 above it. Every file
  // turns the switch on (example), urban and rural.
  struct Row {
    const char* code;
    p::Area area;
    const char* standard;
  };
  const std::vector<Row> rows = {
      {"230100", p::Area::kUrban, "860.00"},  {"230100", p::Area::kRural, "648.00"},
      {"610700", p::Area::kUrban, "675.00"},  {"610700", p::Area::kRural, "475.00"},
      {"110108", p::Area::kUrban, "1450.00"}, {"110108", p::Area::kRural, "1450.00"},
      {"410500", p::Area::kUrban, "630.00"},  {"410500", p::Area::kRural, "420.00"},
      {"310000", p::Area::kUrban, "1595.00"}, {"310000", p::Area::kRural, "1595.00"},
  };
  for (const auto& r : rows) {
    INFO(r.code << " " << p::area_name(r.area));
    const std::string gross = plus_fen(r.standard, 30000);
    const auto run = [&](const char* withheld) {
      House h(1, in_force(r.code));
      h.h.area = r.area;
      h.taxed(0, IncomeKind::kWages, gross.c_str(), withheld);
      h.contribution(0, "employee_pension", "3000.00", "200.00");
      return h;
    };
    const auto at = run("100.00").eval(r.code);
    CHECK(at.outcome == p::Outcome::kEligible);
    CHECK(at.classification == "dibao");
    CHECK(rule(at, "dibao-income").result == p::RuleResult::kPass);
    CHECK(at.figures.at("income_per_capita_monthly") == r.standard);
    CHECK(at.figures.at("benefit_monthly") == "0.00");  // S - S
    const auto& in = rule(at, "dibao-income").inputs;
    CHECK(in.at("earnings_after_tax_and_contributions") == true);
    CHECK(in.at("tax_withheld_in_window") == "1200.00");
    CHECK(in.at("personal_contributions_in_window") == "2400.00");
    CHECK(in.at("tax_and_contributions_deducted") == "3600.00");
    CHECK(in.at("gross_income_in_window") == Money::from_fen(yuan(gross.c_str()).fen() * 12).to_string());
    CHECK(in.at("counted_income_in_window") == Money::from_fen(yuan(r.standard).fen() * 12).to_string());
    CHECK(in.at("tax_and_contributions_by_member") ==
          json::array({{{"member_index", 0}, {"tax_withheld", "1200.00"},
                        {"personal_contributions", "2400.00"}}}));
    // One fen less tax in one month: one fen past the standard in the window.
    House past = run("100.00");
    past.at(0, Source::kTax).records.income.back().tax_withheld = yuan("99.99");
    const auto o = past.eval(r.code);
    CHECK(o.outcome == p::Outcome::kIneligible);
    CHECK(rule(o, "dibao-income").result == p::RuleResult::kFail);
    CHECK(rule(o, "dibao-income").inputs.at("counted_income_in_window") ==
          Money::from_fen(yuan(r.standard).fen() * 12 + 1).to_string());
    // The same household judged on gross (switch off) is over the standard.
    const auto gross_set = with_after_tax(r.code, false);
    const auto g = eval_in(gross_set, r.code, run("100.00"));
    CHECK(g.outcome == p::Outcome::kIneligible);
    CHECK(rule(g, "dibao-income").inputs.at("earnings_after_tax_and_contributions") == false);
    CHECK(rule(g, "dibao-income").inputs.at("tax_and_contributions_deducted") == "0.00");
    CHECK(rule(g, "dibao-income").inputs.at("tax_withheld_in_window") == "1200.00");  // reported
  }

  // Two members, the per-capita line in exact arithmetic: Harbin 2 x 12 x
  // 860.00 = 20640.00. Member 0 earns 2220.00 with 200.00 tax and 300.00
  // contributions a month: 12 x 1720.00 = 20640.00, at the line. 0.01 less
  // contribution in one month is one fen past it (per capita still shows
  // 860.00 once rounded; the comparison never rounds).
  const auto pair = [](const char* last_personal) {
    House h(2);
    h.taxed(0, IncomeKind::kWages, "2220.00", "200.00");
    h.contribution(0, "employee_pension", "3750.00", "300.00");
    h.at(0, Source::kSocialInsurance).records.contributions.back().personal = yuan(last_personal);
    return h.eval("230100");
  };
  const auto two_at = pair("300.00");
  CHECK(two_at.outcome == p::Outcome::kEligible);
  CHECK(rule(two_at, "dibao-income").inputs.at("counted_income_in_window") == "20640.00");
  const auto two_past = pair("299.99");
  CHECK(two_past.outcome == p::Outcome::kIneligible);
  CHECK(rule(two_past, "dibao-income").inputs.at("counted_income_in_window") == "20640.01");
  CHECK(two_past.figures.at("income_per_capita_monthly") == "860.00");
}

TEST_CASE("policies: The marginal line on income after tax and contributions, one fen each side",
          "[policy][income][after-tax][marginal]") {
  // Harbin marginal line 1.5 x 860.00 = 1290.00; gross 1500.00 a month, tax
  // 10.00, contributions 200.00: net 1290.00, exactly at the line (not
  // marginal); 200.01 contributions in one month: one fen below it.
  const auto run = [](const char* last_personal) {
    House h(1, "2024-11-01", "marginal");
    h.taxed(0, IncomeKind::kWages, "1500.00", "10.00");
    h.contribution(0, "employee_pension", "2500.00", "200.00");
    h.at(0, Source::kSocialInsurance).records.contributions.back().personal = yuan(last_personal);
    return h.eval("230100");
  };
  const auto at_line = run("200.00");
  CHECK(at_line.outcome == p::Outcome::kIneligible);
  CHECK(rule(at_line, "marginal-1.5").result == p::RuleResult::kFail);
  const auto below = run("200.01");
  CHECK(below.outcome == p::Outcome::kEligible);
  CHECK(below.classification == "marginal");
}

TEST_CASE("policies: Employment cost is capped by the month's earnings after tax and contributions",
          "[policy][income][after-tax][employment-cost]") {
  // Shanghai: deduction 870.00. Member 0 (employed) earns 900.00 in 2024-03
  // with 94.50 own contributions that month: 805.50 left, all of it
  // deducted, none of member 1's 1000.00 eaten. Judged on gross the cap
  // would be 870.00 and the household would count 935.50.
  House h(2);
  h.member(0).employed = true;
  h.taxed(0, IncomeKind::kWages, "900.00", "0.00", {{2024, 3}});
  h.contribution(0, "employee_pension", "900.00", "72.00", {{2024, 3}});
  h.contribution(0, "medical", "900.00", "18.00", {{2024, 3}});
  h.contribution(0, "unemployment", "900.00", "4.50", {{2024, 3}});
  h.income(1, IncomeKind::kOther, "1000.00", "0.00", {{2024, 3}});
  const auto d = h.eval("310000");
  const auto& month = rule(d, "employment-cost").inputs.at("deductions").at(0).at("by_month").at(0);
  CHECK(month == json{{"month", "2024-03"},
                      {"earned", "900.00"},
                      {"deducted", "805.50"},
                      {"earned_after_tax_and_contributions", "805.50"}});
  CHECK(rule(d, "dibao-income").inputs.at("counted_income_in_window") == "1000.00");
  // Above the cap: 2000.00 with 100.00 tax and 210.00 contributions leaves
  // 1690.00; the full 870.00 is deducted: 2000.00 - 310.00 - 870.00 = 820.00.
  House full(1);
  full.member(0).employed = true;
  full.taxed(0, IncomeKind::kWages, "2000.00", "100.00", {{2024, 4}});
  full.contribution(0, "employee_pension", "2000.00", "210.00", {{2024, 4}});
  const auto f = full.eval("310000");
  CHECK(rule(f, "employment-cost").inputs.at("total_deducted") == "870.00");
  CHECK(rule(f, "dibao-income").inputs.at("counted_income_in_window") == "820.00");
  // Contributions outside the window are not deducted.
  House old(1);
  old.taxed(0, IncomeKind::kWages, "500.00", "0.00", {{2024, 4}});
  old.contribution(0, "employee_pension", "500.00", "40.00", {{2023, 10}, {2024, 11}});
  CHECK(rule(old.eval("310000"), "dibao-income").inputs.at("personal_contributions_in_window") ==
        "0.00");
}

TEST_CASE("policies: Earnings after tax: a failed tax or social-insurance answer is never judged on gross",
          "[policy][income][after-tax][fail-closed]") {
  const auto no_income_rule_passes = [](const p::Decision& d) {
    for (const char* id : {"dibao-income", "marginal-1.5", "gradual-exit", "single-person-household"}) {
      for (const auto& t : d.rules) {
        if (t.rule == id) {
          INFO(id);
          CHECK(t.result != p::RuleResult::kPass);
        }
      }
    }
  };
  // Harbin: gross wages 2000.00 a month are above the marginal line, but the
  // social-insurance answer (the contributions) is missing: unknown, not fail.
  House si(1);
  si.taxed(0, IncomeKind::kWages, "2000.00", "20.00").fail(0, Source::kSocialInsurance);
  const auto s = si.eval("230100");
  CHECK(rule(s, "dibao-income").result == p::RuleResult::kUnknown);
  CHECK(rule(s, "dibao-income").unknown_sources == std::vector<std::string>{"social_insurance"});
  CHECK_THAT(rule(s, "dibao-income").explanation, Catch::Matchers::Contains("never judged on gross"));
  CHECK(rule(s, "marginal-1.5").result == p::RuleResult::kUnknown);
  CHECK(s.outcome == p::Outcome::kIndeterminate);
  CHECK(s.classification == "none");
  CHECK_FALSE(s.figures.contains("benefit_monthly"));
  no_income_rule_passes(s);
  // Judged on gross (switch off) the same answers decide: ineligible.
  const auto gross_set = with_after_tax("230100", false);
  const auto g = eval_in(gross_set, "230100", si);
  CHECK(rule(g, "dibao-income").result == p::RuleResult::kFail);
  CHECK(g.outcome == p::Outcome::kIneligible);
  // A current recipient: the exit line is not decided either.
  House rec = si;
  rec.h.current_benefit = recipient();
  const auto r = rec.eval("230100");
  CHECK(rule(r, "gradual-exit").result == p::RuleResult::kUnknown);
  CHECK(r.outcome == p::Outcome::kIndeterminate);
  no_income_rule_passes(r);
  // The tax answer missing, what is known within the standard: unknown.
  House tax(1);
  tax.contribution(0, "residents_pension", "200.00", "200.00", {{2026, 1}});
  tax.income(0, IncomeKind::kResidentsPension, "500.00");
  tax.fail(0, Source::kTax);
  const auto t = tax.eval("230100");
  CHECK(rule(t, "dibao-income").result == p::RuleResult::kUnknown);
  CHECK(rule(t, "dibao-income").unknown_sources == std::vector<std::string>{"tax"});
  CHECK(t.outcome == p::Outcome::kIndeterminate);
  no_income_rule_passes(t);
  // Denied or never asked is the same as failed.
  for (auto status : {SourceStatus::kDenied, SourceStatus::kError}) {
    House d(1);
    d.taxed(0, IncomeKind::kWages, "900.00", "0.00").fail(0, Source::kSocialInsurance, status);
    const auto x = d.eval("230100");
    CHECK(rule(x, "dibao-income").result == p::RuleResult::kUnknown);
    CHECK(x.outcome == p::Outcome::kIndeterminate);
  }
  // A missing tax answer can only add income (tax never exceeds its record):
  // a known pension over the marginal line still fails, contributions known.
  House floor(1);
  floor.income(0, IncomeKind::kResidentsPension, "2000.00");
  floor.contribution(0, "medical", "2000.00", "40.00");
  floor.fail(0, Source::kTax);
  const auto f = floor.eval("230100");
  CHECK(rule(f, "dibao-income").result == p::RuleResult::kFail);
  CHECK(f.outcome == p::Outcome::kIneligible);
}

TEST_CASE("policies: The after-tax switch is an example parameter in every file, with its reading",
          "[policy][income][after-tax]") {
  for (const char* code : {"230100", "610700", "110108", "410500", "310000"}) {
    INFO(code);
    House h(1, in_force(code));
    h.taxed(0, IncomeKind::kWages, "100.00", "0.00");
    const auto d = h.eval(code);
    const auto& t = rule(d, "dibao-income");
    const auto prm = std::find_if(t.parameters.begin(), t.parameters.end(), [](const auto& x) {
      return x.name == "earnings_after_tax_and_contributions";
    });
    REQUIRE(prm != t.parameters.end());
    CHECK(prm->value == "true");
    CHECK(prm->example);
    CHECK_THAT(prm->reference, Catch::Matchers::Contains("no seed states it"));
    CHECK_THAT(t.note, Catch::Matchers::Contains("earnings_after_tax_and_contributions"));
    CHECK_THAT(t.note, Catch::Matchers::Contains("never judged on gross"));
  }
}

TEST_CASE("policies: Tekun standard and care tiers differ (Hanzhong, Harbin, Haidian)",
          "[policy][tekun]") {
  struct Row {
    const char* code;
    const char* date;
    const char* care;
    const char* benefit;
  };
  const std::vector<Row> rows = {
      // Hanzhong 2025-11: the published 880.00 (not 1.3 x 675.00 = 877.50); full
      // care 25% x 2050.00 = 512.50.
      {"610700", "2025-11-01", "full_care", "1392.50"},
      {"610700", "2025-11-01", "self_care", "1085.00"},  // + 10% = 205.00
      // Harbin 2024: 1.3 x 860.00 = 1118.00; full care 1/4 x 2080.00 = 520.00.
      {"230100", "2024-11-01", "full_care", "1638.00"},
      {"230100", "2024-11-01", "half_care", "1464.67"},  // + 1/6 x 2080.00 = 346.67
      // Haidian 2024: Beijing's 1.5 x 1450.00 = 2175.00; 1/10 x 2420.00 = 242.00.
      {"110108", "2024-11-01", "self_care", "2417.00"},
  };
  for (const auto& r : rows) {
    INFO(r.code << " " << r.care);
    House h(1, r.date, "tekun");
    h.member(0).labour_capacity = "none";
    h.member(0).birth_date = *Date::parse("1950-01-01");
    h.h.care_levels = {r.care};
    auto d = h.eval(r.code);
    CHECK(d.outcome == p::Outcome::kEligible);
    CHECK(d.classification == "tekun");
    CHECK(d.figures.at("benefit_monthly") == r.benefit);
  }
}

TEST_CASE("policies: Tekun covers minors up to 18 where the seed says so", "[policy][tekun]") {
  House h(1, "2024-11-01", "tekun");
  h.member(0).birth_date = *Date::parse("2007-06-01");  // 17
  h.member(0).labour_capacity = "full";
  CHECK(h.eval("230100").outcome == p::Outcome::kEligible);
  CHECK(h.eval("110108").outcome == p::Outcome::kIneligible);  // Haidian's seed has no age rule
  h.member(0).birth_date = *Date::parse("2006-06-01");         // 18
  CHECK(h.eval("230100").outcome == p::Outcome::kIneligible);
}

TEST_CASE("policies: Tekun without a stated labour capacity is indeterminate, never a guess",
          "[policy][tekun]") {
  for (const char* code : {"230100", "610700", "110108", "410500", "310000"}) {
    INFO(code);
    const char* date = in_force(code);
    House h(1, date, "tekun");
    h.member(0).birth_date = *Date::parse("1960-01-01");
    const auto d = h.eval(code);
    CHECK(d.outcome == p::Outcome::kIndeterminate);
    const auto& t = rule(d, "tekun-1.3");
    CHECK(t.result == p::RuleResult::kUnknown);
    CHECK(t.unknown_sources == std::vector<std::string>{"request:members[0].labour_capacity"});
    CHECK(t.inputs.at("members").at(0).at("qualifies").is_null());
    CHECK_FALSE(d.figures.contains("benefit_monthly"));
    h.member(0).labour_capacity = "none";
    CHECK(h.eval(code).outcome == p::Outcome::kEligible);
    h.member(0).labour_capacity = "partial";
    CHECK(h.eval(code).outcome == p::Outcome::kIneligible);
  }
  // A member with labour capacity decides even while another's is not stated.
  House two(2, "2024-11-01", "tekun");
  two.member(0).labour_capacity = "full";
  const auto d = two.eval("310000");
  CHECK(rule(d, "tekun-1.3").result == p::RuleResult::kFail);
  CHECK(d.outcome == p::Outcome::kIneligible);
}

TEST_CASE("policies: Harbin's disability list decides labour capacity for tekun",
          "[policy][tekun]") {
  // Seed 000 二: grade-1 physical, grade-1 or 2 mental or intellectual, plus
  // grade-1 visual, grade-2 physical, grade-3 mental or intellectual. Each
  // boundary from both sides, with no labour_capacity in the request.
  struct Row {
    const char* kind;
    int grade;
    bool listed;
  };
  const std::vector<Row> rows = {
      {"physical", 1, true},      {"physical", 2, true},      {"physical", 3, false},
      {"mental", 1, true},        {"mental", 3, true},        {"mental", 4, false},
      {"intellectual", 2, true},  {"intellectual", 3, true},  {"intellectual", 4, false},
      {"visual", 1, true},        {"visual", 2, false},       {"hearing", 1, false},
      {"speech", 1, false},       {"multiple", 1, false},
  };
  for (const auto& r : rows) {
    INFO(r.kind << "-" << r.grade);
    House h(1, "2024-11-01", "tekun");
    h.member(0).birth_date = *Date::parse("1970-01-01");
    h.member(0).disability_grade = r.grade;
    h.member(0).disability_kind = r.kind;
    const auto d = h.eval("230100");
    CHECK(d.outcome == (r.listed ? p::Outcome::kEligible : p::Outcome::kIndeterminate));
    CHECK(rule(d, "tekun-1.3").result ==
          (r.listed ? p::RuleResult::kPass : p::RuleResult::kUnknown));
    // Listed: the list decides even against the request; not listed: the request does.
    h.member(0).labour_capacity = "full";
    CHECK(h.eval("230100").outcome ==
          (r.listed ? p::Outcome::kEligible : p::Outcome::kIneligible));
    // Haidian has no such list: the request's word only.
    h.member(0).labour_capacity.clear();
    CHECK(h.eval("110108").outcome == p::Outcome::kIndeterminate);
  }
  // A grade without a kind decides nothing.
  House h(1, "2024-11-01", "tekun");
  h.member(0).disability_grade = 1;
  CHECK(rule(h.eval("230100"), "tekun-1.3").result == p::RuleResult::kUnknown);
  const auto listed = House(1, "2024-11-01", "tekun").eval("230100");
  const auto& t = rule(listed, "tekun-1.3");
  CHECK(std::any_of(t.parameters.begin(), t.parameters.end(), [](const auto& prm) {
    return prm.name == "tekun_no_labour_capacity_disabilities" && !prm.example;
  }));
}

TEST_CASE("policies: Tekun basic standard is the published figure where one exists, else the multiple",
          "[policy][tekun]") {
  struct Row {
    const char* code;
    const char* date;
    p::Area area;
    const char* basic;
    bool published;
  };
  const auto U = p::Area::kUrban;
  const auto Rr = p::Area::kRural;
  const std::vector<Row> rows = {
      // Shanghai: 2075 with the 1595 standard (not 1.3 x 1595 = 2073.50), the day
      // before 1970 with 1510 (not 1963.00).
      {"310000", "2024-11-01", U, "2075.00", true},
      {"310000", "2024-11-01", Rr, "2075.00", true},
      {"310000", "2024-07-01", U, "2075.00", true},
      {"310000", "2024-06-30", U, "1970.00", true},
      {"310000", "2020-07-01", U, "1615.00", true},
      // Hanzhong (Nanzheng, 2025-10): 880 / 620, not 877.50 / 617.50.
      {"610700", "2025-11-01", U, "880.00", true},
      {"610700", "2025-11-01", Rr, "620.00", true},
      // Harbin: 1086 with the 835 standard (2023); in 2024 the standard is 860 and no
      // figure was published for it: 1.3 x 860.00 = 1118.00. Rural: never published.
      {"230100", "2023-12-31", U, "1086.00", true},
      {"230100", "2024-01-01", U, "1118.00", false},
      {"230100", "2023-12-31", Rr, "812.50", false},  // 1.3 x 625.00
      // Beijing: 1980 with the 1320 standard; from 2023-07-01 1.5 x 1395.00.
      {"110108", "2023-06-30", U, "1980.00", true},
      {"110108", "2023-07-01", U, "2092.50", false},
      // Anyang: nothing published: 1.3 x 630.00.
      {"410500", "2022-11-01", U, "819.00", false},
  };
  for (const auto& r : rows) {
    INFO(r.code << " " << r.date << " " << p::area_name(r.area));
    House h(1, r.date, "tekun");
    h.h.area = r.area;
    h.member(0).labour_capacity = "none";
    h.member(0).birth_date = *Date::parse("1950-01-01");
    const auto d = h.eval(r.code);
    REQUIRE(d.outcome == p::Outcome::kEligible);
    const auto& t = rule(d, "tekun-1.3");
    CHECK(t.inputs.at("basic_standard_per_person") == r.basic);
    CHECK(d.figures.at("benefit_monthly") == r.basic);  // no care level given
    const std::string basis = t.inputs.at("basic_standard_basis").get<std::string>();
    CHECK(basis.rfind(r.published ? "published figure" : "1.", 0) == 0);
    const std::string name = std::string("tekun_basic_standard_monthly.") +
                             std::string(p::area_name(r.area));
    CHECK(std::any_of(t.parameters.begin(), t.parameters.end(),
                      [&](const auto& prm) { return prm.name == name; }) == r.published);
    if (!r.published) CHECK(basis.find("published") != std::string::npos);  // says why
  }
}

// ------------------------------------------------------------------ review

TEST_CASE("policies: Review cycles differ by jurisdiction", "[policy][review]") {
  struct Row {
    const char* code;
    const char* kind;
    const char* next;
  };
  const std::vector<Row> rows = {
      {"230100", "none", "2025-11-01"},       // stable: yearly
      {"230100", "irregular", "2025-05-01"},  // unstable income, labour capacity: 6 months
      {"410500", "irregular", "2023-05-01"},  // (reference 2022-11-01)
      {"110108", "irregular", "2024-12-01"},  // Haidian: irregular income monthly
      {"110108", "stable", "2025-02-01"},     // Haidian: clear, stable income quarterly
      {"110108", "unchanged", "2025-05-01"},  // Haidian: unchanged income every 6 months
      {"110108", "none", "2025-02-01"},  // Haidian default (labour capacity, no income): quarterly
      {"310000", "irregular", "2025-05-01"},
      {"310000", "marginal", "2025-02-01"},  // Shanghai: low-income households quarterly
      {"230100", "marginal", "2025-11-01"},
  };
  for (const auto& r : rows) {
    INFO(r.code << " " << r.kind);
    const std::string kind = r.kind;
    House h(1, in_force(r.code), kind == "marginal" ? "marginal" : "dibao");
    const int year = h.h.reference_date.year();
    h.member(0).labour_capacity = "full";
    if (kind == "irregular")
      h.income(0, IncomeKind::kWages, "300.00", "0.00", {{year, 2}, {year, 7}});
    if (kind == "stable" || kind == "unchanged") h.income(0, IncomeKind::kWages, "300.00");
    if (kind == "stable") h.income(0, IncomeKind::kOther, "10.00", "0.00", {{year, 4}});
    if (kind == "marginal")
      h.income(0, IncomeKind::kWages, r.code == std::string("310000") ? "2000.00" : "1000.00");
    auto d = h.eval(r.code);
    REQUIRE(d.next_review.has_value());
    CHECK(d.next_review->to_string() == r.next);
  }
  // Haidian: no income, no labour capacity: yearly; illness: 6 months.
  House none(1);
  none.member(0).labour_capacity = "none";
  CHECK(none.eval("110108").next_review->to_string() == "2025-11-01");
  none.member(0).serious_illness = true;
  none.member(0).labour_capacity = "partial";
  CHECK(none.eval("110108").next_review->to_string() == "2025-05-01");
}

TEST_CASE("policies: Haidian's review: severe disability is grade 1-2, and monthly for irregular income wins",
          "[policy][review]") {
  // Seed 002 §14, reference 2024-11-01: yearly 2025-11-01, 6 months
  // 2025-05-01, quarterly 2025-02-01, monthly 2024-12-01.
  struct Row {
    const char* kind;  // member 1's disability kind
    int grade;         // 0: none
    bool ill;
    const char* income;  // "stable" (every month) or "irregular" (two months)
    const char* next;
  };
  const std::vector<Row> rows = {
      {"physical", 2, false, "stable", "2025-05-01"},      // 重残: 6 months
      {"physical", 3, false, "stable", "2025-02-01"},      // grade 3 is not: quarterly
      {"intellectual", 3, false, "stable", "2025-02-01"},  // not even intellectual
      {"visual", 1, false, "stable", "2025-05-01"},
      {"", 0, true, "stable", "2025-05-01"},  // 重病: 6 months
      {"", 0, false, "stable", "2025-02-01"},
      // Irregular income: monthly, whatever else holds.
      {"physical", 1, false, "irregular", "2024-12-01"},
      {"physical", 2, false, "irregular", "2024-12-01"},
      {"", 0, true, "irregular", "2024-12-01"},
      {"physical", 3, false, "irregular", "2024-12-01"},
  };
  for (const auto& r : rows) {
    INFO(r.kind << "-" << r.grade << " ill=" << r.ill << " " << r.income);
    House h(2);
    h.member(0).labour_capacity = "full";
    h.member(1).labour_capacity = "partial";
    if (r.grade > 0) {
      h.member(1).disability_grade = r.grade;
      h.member(1).disability_kind = r.kind;
    }
    h.member(1).serious_illness = r.ill;
    if (std::string(r.income) == "stable") {
      h.income(0, IncomeKind::kWages, "300.00");
      h.income(0, IncomeKind::kOther, "10.00", "0.00", {{2024, 4}});
    } else {
      h.income(0, IncomeKind::kWages, "300.00", "0.00", {{2024, 2}, {2024, 7}});
    }
    const auto d = h.eval("110108");
    REQUIRE(d.next_review.has_value());
    CHECK(d.next_review->to_string() == r.next);
    const auto category = rule(d, "review-cycle").inputs.at("category").get<std::string>();
    if (std::string(r.income) == "irregular") CHECK(category == "irregular_income");
  }
  // No income and no labour capacity stays yearly, disabled or not.
  House none(1);
  none.member(0).labour_capacity = "none";
  none.member(0).disability_grade = 1;
  none.member(0).disability_kind = "physical";
  CHECK(none.eval("110108").next_review->to_string() == "2025-11-01");
}

// ------------------------------------------------------------- fail closed

TEST_CASE("policies: A failed source is never read as no assets", "[policy][fail-closed]") {
  House h(2);
  h.bank(0, "100.00").bank(1, "100.00").fail(0, Source::kBank);
  auto d = h.eval("230100");
  CHECK(d.outcome == p::Outcome::kIndeterminate);
  CHECK(d.rules.at(0).rule == "savings-cap-24m");
  CHECK(d.rules.at(0).result == p::RuleResult::kUnknown);
  CHECK(d.rules.at(0).unknown_sources == std::vector<std::string>{"bank"});
  CHECK(d.classification == "none");
  CHECK_FALSE(d.figures.contains("benefit_monthly"));
}

TEST_CASE("policies: A source that was never asked counts as unknown", "[policy][fail-closed]") {
  for (Source s : {Source::kSecurities, Source::kTax, Source::kSocialInsurance, Source::kVehicle,
                   Source::kHukou}) {
    INFO(hfv::source_name(s));
    House h(1);
    auto& v = h.h.sources;
    v.erase(
        std::remove_if(v.begin(), v.end(), [&](const SourceResult& r) { return r.source == s; }),
        v.end());
    CHECK(h.eval("230100").outcome == p::Outcome::kIndeterminate);
  }
  // Business and provident fund feed no Harbin rule.
  House h(1);
  h.fail(0, Source::kProvidentFund, SourceStatus::kError)
      .fail(0, Source::kBusiness, SourceStatus::kDenied);
  CHECK(h.eval("230100").outcome == p::Outcome::kEligible);
  House ay(1, in_force("410500"));
  ay.fail(0, Source::kProvidentFund, SourceStatus::kError)
      .fail(0, Source::kBusiness, SourceStatus::kDenied);
  CHECK(ay.eval("410500").outcome == p::Outcome::kIndeterminate);  // Anyang's business rule reads it
  CHECK(rule(ay.eval("410500"), "business-capital").unknown_sources ==
        std::vector<std::string>{"business"});
}

TEST_CASE("policies: A rule already failing on known data makes the outcome ineligible",
          "[policy][fail-closed]") {
  House assets(1);
  assets.bank(0, "50000.00").fail(0, Source::kSecurities, SourceStatus::kError);
  auto a = assets.eval("230100");
  CHECK(a.outcome == p::Outcome::kIneligible);
  CHECK(rule(a, "savings-cap-24m").result == p::RuleResult::kFail);

  // Income known already over the standard; the tax answer failed, which
  // can only add income. (A failed social-insurance answer cannot decide
  // against the household where earnings count after contributions: see
  // "Earnings after tax ... fail closed".)
  House income(1);
  income.income(0, IncomeKind::kResidentsPension, "2000.00").fail(0, Source::kTax);
  auto i = income.eval("230100");
  CHECK(rule(i, "dibao-income").result == p::RuleResult::kFail);
  CHECK(i.outcome == p::Outcome::kIneligible);

  // Income failed, but a car already disqualifies.
  House car(1);
  car.vehicle(0, "car", "50000.00", false).fail(0, Source::kTax);
  CHECK(car.eval("230100").outcome == p::Outcome::kIneligible);

  // Income failed and nothing else fails: indeterminate, review as early as any category.
  House unknown(1);
  unknown.fail(0, Source::kTax);
  auto u = unknown.eval("230100");
  CHECK(u.outcome == p::Outcome::kIndeterminate);
  CHECK(rule(u, "dibao-income").unknown_sources == std::vector<std::string>{"tax"});
  CHECK(u.next_review->to_string() == "2025-05-01");
}

TEST_CASE("policies: The demo's three Harbin households", "[policy][demo]") {
  House eligible(2);
  eligible.bank(0, "8200.50").bank(1, "4300.00");
  eligible.member(0).birth_date = *Date::parse("1975-03-12");
  eligible.member(1).birth_date = *Date::parse("1978-08-05");
  auto e = eligible.eval("230100");
  CHECK(e.outcome == p::Outcome::kEligible);
  CHECK(e.classification == "dibao");
  CHECK(e.figures.at("monetary_assets_per_capita") == "6250.25");
  CHECK(e.figures.at("savings_cap_per_capita") == "20640.00");
  CHECK(e.figures.at("benefit_monthly") == "1720.00");  // 2 x 860.00, no income
  CHECK(e.next_review->to_string() == "2025-11-01");

  House over(1);
  over.bank(0, "150000.00").bank(0, "32000.00");
  over.member(0).birth_date = *Date::parse("1959-01-20");
  auto o = over.eval("230100");
  CHECK(o.outcome == p::Outcome::kIneligible);
  CHECK(o.rules.at(0).result == p::RuleResult::kFail);

  House failed(2);
  failed.bank(1, "650.00").fail(0, Source::kBank, SourceStatus::kError);
  failed.member(1).birth_date = *Date::parse("2010-09-15");
  auto f = failed.eval("230100");
  CHECK(f.outcome == p::Outcome::kIndeterminate);
  CHECK(f.rules.at(0).unknown_sources == std::vector<std::string>{"bank"});
}

TEST_CASE("policies: The worked example's figures (docs/worked-example.md)", "[policy][demo]") {
  House h(3);
  h.member(0).birth_date = *Date::parse("1984-04-01");
  h.member(0).employed = true;
  h.member(0).labour_capacity = "full";
  h.member(1).birth_date = *Date::parse("1986-07-01");
  h.member(1).labour_capacity = "full";
  h.member(2).birth_date = *Date::parse("2016-09-01");
  h.member(2).relation = "child";
  h.bank(0, "18000.00").bank(1, "12000.00");
  h.income(0, IncomeKind::kWages, "2000.00");
  h.at(1, Source::kSocialInsurance).status = SourceStatus::kOk;
  h.at(1, Source::kSocialInsurance)
      .records.income.push_back(
          IncomeRecord{2024, 3, IncomeKind::kRoadAccidentRelief, yuan("8000.00"), Money{}});
  auto d = h.eval("230100");
  if (std::getenv("HFV_PRINT_WORKED_EXAMPLE") != nullptr)
    std::cout << p::decision_json(d).dump(2) << "\n";
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(d.classification == "dibao");
  CHECK(rule(d, "employment-cost").inputs.at("total_deducted") == "10440.00");  // 12 x 870.00
  CHECK(rule(d, "dibao-income").inputs.at("counted_income_in_window") == "13560.00");
  CHECK(d.figures.at("income_per_capita_monthly") == "376.67");
  CHECK(d.figures.at("income_household_monthly") == "1130.00");
  CHECK(d.figures.at("benefit_monthly") == "1579.00");  // 1450.00 gap + 129.00 supplement
  CHECK(d.next_review->to_string() == "2025-11-01");
  CHECK(rule(d, "household-composition").result == p::RuleResult::kPass);
  // Step 10: what the outcome rests on.
  std::vector<std::string> provisional;
  for (const auto& prm : d.provisional_parameters) provisional.push_back(prm.name);
  CHECK(provisional == std::vector<std::string>{"dibao_standard_monthly.urban", "monetary_asset_sources",
                                                "vehicle_disqualifying_types", "income_lookback_months",
                                                "employment_cost_deduction_monthly"});
  std::vector<std::string> benefit;
  for (const auto& prm : d.figure_parameters.at("benefit_monthly")) benefit.push_back(prm.name);
  CHECK(benefit == std::vector<std::string>{"dibao_standard_monthly.urban", "income_lookback_months",
                                            "employment_cost_deduction_monthly", "supplement_share",
                                            "supplement_elderly_age"});
  // "What would change it": the registry reports member 1 deceased.
  h.at(1, Source::kHukou).records.hukou->status = "deceased";
  auto dead = h.eval("230100");
  CHECK(dead.outcome == p::Outcome::kIndeterminate);
  CHECK(dead.figures.at("income_per_capita_monthly") == "376.67");  // still 3 members
  CHECK_FALSE(dead.figures.contains("benefit_monthly"));
}

// ------------------------------------------------- provisional parameters

namespace {

std::vector<std::string> names_of(const std::vector<p::Provenance>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) out.push_back(v.name + "=" + v.value + "@" + v.from.to_string());
  return out;
}

// A copy of a policy file with every example flag cleared except those of
// the parameters named, loaded alone.
struct OnlyExamples {
  TempDir dir;
  p::PolicySet set;
  OnlyExamples(const std::string& code, const std::set<std::string>& keep) {
    json file = read_file(code);
    const auto clear = [&keep](const std::string& name, json& series) {
      for (auto& e : series) e["example"] = keep.contains(name);
    };
    for (auto& [key, value] : file["parameters"].items()) {
      if (value.is_array()) {
        clear(key, value);
      } else {
        for (auto& [sub, series] : value.items()) clear(key + "." + sub, series);
      }
    }
    std::ofstream(dir.path / (code + ".json")) << file.dump();
    set = take(p::PolicySet::load_dir(dir.path));
  }
  static p::PolicySet take(hfv::Result<p::PolicySet> r) {
    REQUIRE(r.ok());
    return std::move(*r);
  }
  const p::JurisdictionPolicy& policy() const { return **set.find(set.all().begin()->first); }
};

}  // namespace

TEST_CASE("policies: The example values an eligible outcome rests on are listed",
          "[policy][provisional]") {
  // The worked example (Harbin 2024-11-01): every condition, the passing
  // alternative dibao-income and the adjustments that acted on the income.
  House h(3);
  h.member(0).employed = true;
  h.member(2).birth_date = *Date::parse("2016-09-01");
  h.bank(0, "18000.00").bank(1, "12000.00");
  h.income(0, IncomeKind::kWages, "2000.00");
  const auto d = h.eval("230100");
  REQUIRE(d.outcome == p::Outcome::kEligible);
  CHECK(names_of(d.provisional_parameters) ==
        std::vector<std::string>{
            "dibao_standard_monthly.urban=860.00@2024-01-01",                      // savings cap, income
            "monetary_asset_sources=bank,securities,insurance,internet_finance@2023-05-30",  // savings cap
            "vehicle_disqualifying_types=car,motorcycle,truck@2023-05-30",         // vehicle-ownership
            "income_lookback_months=12@2023-05-30",                                 // dibao-income
            "employment_cost_deduction_monthly=870.00@2023-05-30"});               // deducted
  for (const auto& prm : d.provisional_parameters) {
    CHECK(prm.example);
    CHECK_FALSE(prm.reference.empty());
  }
  // Nobody employed: the employment cost deducted nothing, so its example
  // value decided nothing; the minimum wage (support fee: no obligor) neither.
  House idle(1);
  idle.income(0, IncomeKind::kWages, "300.00");
  const auto i = idle.eval("230100");
  CHECK(names_of(i.provisional_parameters) ==
        std::vector<std::string>{"dibao_standard_monthly.urban=860.00@2024-01-01",
                                 "monetary_asset_sources=bank,securities,insurance,internet_finance@2023-05-30",
                                 "vehicle_disqualifying_types=car,motorcycle,truck@2023-05-30",
                                 "income_lookback_months=12@2023-05-30"});
  // Tax withheld in the window: the after-tax switch (example) shaped the
  // counted income, so it is listed; with none withheld and no own
  // contributions (above) it changed nothing and is not.
  House taxed(1);
  taxed.taxed(0, IncomeKind::kWages, "300.00", "10.00");
  const auto t = taxed.eval("230100");
  REQUIRE(t.outcome == p::Outcome::kEligible);
  const auto taxed_names = names_of(t.provisional_parameters);
  CHECK(std::find(taxed_names.begin(), taxed_names.end(), "earnings_after_tax_and_contributions=true@2023-05-30") !=
        taxed_names.end());
  // An obligor household assessed: the minimum wage (example) shaped the income.
  House supported(1);
  supported.h.obligors->push_back({1, yuan("2500.00"), yuan("500.00"), false, ""});  // fee 0.00 < 2080.00
  const auto s = supported.eval("230100");
  REQUIRE(s.outcome == p::Outcome::kEligible);
  CHECK(names_of(s.provisional_parameters).back() == "minimum_wage_monthly=2080.00@2024-05-01");
  // The decision JSON carries them with their provenance.
  const json j = p::decision_json(d);
  REQUIRE(j["provisional_parameters"].size() == 5);
  CHECK(j["provisional_parameters"][0] ==
        json{{"name", "dibao_standard_monthly.urban"},
             {"value", "860.00"},
             {"effective_from", "2024-01-01"},
             {"reference", d.provisional_parameters[0].reference},
             {"example", true}});
}

TEST_CASE("policies: An outcome resting on published values lists none", "[policy][provisional]") {
  // Anyang 2022-11-01: a car disqualifies (Henan's 2023 Q&A, trust O: not an
  // example), whatever else holds.
  House car(1, in_force("410500"));
  car.vehicle(0, "car", "50000.00", false);
  const auto c = car.eval("410500");
  CHECK(c.outcome == p::Outcome::kIneligible);
  CHECK(rule(c, "vehicle-ownership").result == p::RuleResult::kFail);
  CHECK(c.provisional_parameters.empty());
  CHECK(p::decision_json(c)["provisional_parameters"] == json::array());
  // Savings over the cap as well: the car alone still decides, so the
  // example standard (the Henan floor) behind the cap does not.
  car.bank(0, "50000.00");
  const auto both = car.eval("410500");
  CHECK(rule(both, "savings-cap-24m").result == p::RuleResult::kFail);
  CHECK(both.provisional_parameters.empty());
  // The savings alone: the cap (36 x the example floor) decides.
  House savings(1, in_force("410500"));
  savings.bank(0, "50000.00");
  const auto sv = savings.eval("410500");
  CHECK(sv.outcome == p::Outcome::kIneligible);
  CHECK(names_of(sv.provisional_parameters) ==
        std::vector<std::string>{"dibao_standard_monthly.urban=630.00@2022-01-01",
                                 "monetary_asset_sources=bank,securities,insurance,internet_finance@2021-09-13"});
  // An unknown programme is not decided: nothing rests on anything.
  House odd(1, "2024-11-01", "pension");
  CHECK(odd.eval("230100").provisional_parameters.empty());
  // Nor is a household whose standard is stale.
  CHECK(House(1, "2025-01-01").eval("230100").provisional_parameters.empty());
}

TEST_CASE("policies: Provisional parameters follow the rules that decided the outcome",
          "[policy][provisional]") {
  // Harbin with only the employment cost and the gradual-exit period as
  // examples.
  const OnlyExamples only("230100", {"employment_cost_deduction_monthly", "gradual_exit_period_months"});
  const auto eval = [&only](const House& h) { return p::evaluate(only.policy(), h.h); };
  // Eligible with a deduction: rests on the example deduction.
  House employed(1);
  employed.member(0).employed = true;
  employed.income(0, IncomeKind::kWages, "1000.00");  // 1000.00 - 870.00 = 130.00
  const auto e = eval(employed);
  CHECK(e.outcome == p::Outcome::kEligible);
  CHECK(names_of(e.provisional_parameters) ==
        std::vector<std::string>{"employment_cost_deduction_monthly=870.00@2023-05-30"});
  // Ineligible because every alternative fails (income over 1.5 x S, no
  // current benefit): each one is needed, so every example value they read
  // is listed, the gradual-exit period too although that rule failed on
  // the request (the reading is "read by a deciding rule", not "pivotal").
  House over(1);
  over.member(0).employed = true;
  over.income(0, IncomeKind::kWages, "3000.00");
  const auto o = eval(over);
  CHECK(o.outcome == p::Outcome::kIneligible);
  CHECK(names_of(o.provisional_parameters) ==
        std::vector<std::string>{"employment_cost_deduction_monthly=870.00@2023-05-30",
                                 "gradual_exit_period_months=6@2023-05-30"});
  // A failing condition on published values decides it alone.
  over.bank(0, "50000.00");
  CHECK(eval(over).provisional_parameters.empty());
  // Gradual exit: the alternative that passes reads the example period.
  House exit(1);
  exit.income(0, IncomeKind::kOther, "1000.00");
  exit.h.current_benefit = recipient();
  const auto g = eval(exit);
  CHECK(g.classification == "gradual_exit");
  CHECK(names_of(g.provisional_parameters) ==
        std::vector<std::string>{"gradual_exit_period_months=6@2023-05-30"});
  // Indeterminate: the unknown rule's example values.
  House unknown(1);
  unknown.member(0).employed = true;
  unknown.income(0, IncomeKind::kWages, "1000.00").fail(0, Source::kSocialInsurance);
  const auto u = eval(unknown);
  CHECK(u.outcome == p::Outcome::kIndeterminate);
  CHECK(names_of(u.provisional_parameters) ==
        std::vector<std::string>{"employment_cost_deduction_monthly=870.00@2023-05-30"});
  // No example value anywhere it looked: none.
  House plain(1);
  plain.income(0, IncomeKind::kWages, "300.00");
  CHECK(eval(plain).outcome == p::Outcome::kEligible);
  CHECK(eval(plain).provisional_parameters.empty());
}

TEST_CASE("policies: Each figure carries the parameters it came from", "[policy][provisional][trace]") {
  House h(3);
  h.member(0).employed = true;
  h.member(2).birth_date = *Date::parse("2016-09-01");
  h.bank(0, "18000.00");
  h.income(0, IncomeKind::kWages, "2000.00");
  const auto d = h.eval("230100");
  REQUIRE(d.outcome == p::Outcome::kEligible);
  const auto of = [&d](const char* figure) {
    INFO(figure);
    REQUIRE(d.figure_parameters.contains(figure));
    std::vector<std::string> out;
    for (const auto& prm : d.figure_parameters.at(figure)) out.push_back(prm.name + "=" + prm.value);
    return out;
  };
  // Every figure has its entry, and only figures do.
  for (const auto& [figure, value] : d.figures) CHECK(d.figure_parameters.contains(figure));
  CHECK(d.figure_parameters.size() == d.figures.size());
  CHECK(of("standard_monthly") == std::vector<std::string>{"dibao_standard_monthly.urban=860.00"});
  CHECK(of("savings_cap_per_capita") ==
        std::vector<std::string>{"dibao_standard_monthly.urban=860.00", "savings_cap_months=24"});
  CHECK(of("monetary_assets_per_capita") ==
        std::vector<std::string>{"monetary_asset_sources=bank,securities,insurance,internet_finance"});
  const std::vector<std::string> income = {"income_lookback_months=12",
                                           "employment_cost_deduction_monthly=870.00"};
  CHECK(of("income_per_capita_monthly") == income);
  CHECK(of("income_household_monthly") == income);
  CHECK(of("marginal_line_per_capita") ==
        std::vector<std::string>{"dibao_standard_monthly.urban=860.00",
                                 "marginal_line_basis=standard_multiple", "marginal_income_multiple=1.5"});
  CHECK(of("benefit_monthly") ==
        std::vector<std::string>{"dibao_standard_monthly.urban=860.00", "income_lookback_months=12",
                                 "employment_cost_deduction_monthly=870.00", "supplement_share=0.15",
                                 "supplement_elderly_age=60"});
  // Haidian's marginal line is the minimum wage alone; a tekun benefit its
  // standards'; an ineligible household's 0.00 comes from no parameter.
  House hd(1, "2024-11-01", "marginal");
  hd.income(0, IncomeKind::kOther, "2000.00");
  const auto m = hd.eval("110108");
  std::vector<std::string> line;
  for (const auto& prm : m.figure_parameters.at("marginal_line_per_capita")) line.push_back(prm.name);
  CHECK(line == std::vector<std::string>{"marginal_line_basis", "minimum_wage_monthly"});
  House tk(1, "2024-11-01", "tekun");
  tk.member(0).labour_capacity = "none";
  tk.h.care_levels = {"full_care"};
  const auto t = tk.eval("230100");
  REQUIRE(t.outcome == p::Outcome::kEligible);
  std::vector<std::string> tekun;
  for (const auto& prm : t.figure_parameters.at("benefit_monthly")) tekun.push_back(prm.name);
  // The tekun rule's parameters: who qualifies (minor age, Harbin's
  // disability list) and the amounts (basic standard, care shares).
  CHECK(tekun == std::vector<std::string>{"dibao_standard_monthly.urban", "tekun_minor_age",
                                          "tekun_no_labour_capacity_disabilities", "minimum_wage_monthly",
                                          "tekun_basic_multiple", "tekun_care_share.self_care",
                                          "tekun_care_share.half_care", "tekun_care_share.full_care"});
  House rich(1);
  rich.bank(0, "90000.00");
  const auto r = rich.eval("230100");
  CHECK(r.figures.at("benefit_monthly") == "0.00");
  CHECK(r.figure_parameters.at("benefit_monthly").empty());
  // In the decision JSON.
  const json j = p::decision_json(d);
  CHECK(j["figure_parameters"]["standard_monthly"][0]["name"] == "dibao_standard_monthly.urban");
  CHECK(j["figure_parameters"]["standard_monthly"][0]["example"] == true);
  CHECK(j["figure_parameters"].size() == j["figures"].size());
}

// ------------------------------------------------------------------- trace

TEST_CASE("policies: The trace names the clause, the parameters and their references",
          "[policy][trace]") {
  House h(1);
  h.bank(0, "100.00");
  auto d = h.eval("230100");
  const auto& t = d.rules.at(0);
  CHECK(t.rule == "savings-cap-24m");
  CHECK(t.clause == "000_74d306e405892d62.txt#savings-cap-24m");
  REQUIRE(t.parameters.size() == 4);
  CHECK(t.parameters[0].name == "dibao_standard_monthly.urban");
  CHECK(t.parameters[0].from.to_string() == "2024-01-01");
  CHECK(t.parameters[3].name == "savings_cap_months");
  CHECK(t.parameters[3].value == "24");
  CHECK(t.inputs.at("savings_cap_household") == "20640.00");
  CHECK(d.policy_version == harbin().version());
  for (const auto& r : d.rules) {
    INFO(r.rule);
    CHECK(r.clause.find('#') != std::string::npos);
    for (const auto& prm : r.parameters) CHECK_FALSE(prm.reference.empty());
  }
  // Rules borrowed from outside the jurisdiction's own documents say so.
  House hz(1, "2025-11-01");
  auto z = hz.eval("610700");
  CHECK(rule(z, "savings-cap-24m").example);
  CHECK(rule(z, "savings-cap-24m").clause == "parameters.md#shaanxi-assets");
  CHECK_FALSE(rule(z, "basic-pension-exempt").example);
}

TEST_CASE("policies: decision_json carries the contract's keys", "[policy][trace]") {
  House h(2);
  h.bank(0, "12500.50");
  const json j = p::decision_json(h.eval("230100"));
  CHECK(j["outcome"] == "eligible");
  CHECK(j["classification"] == "dibao");
  for (const char* f : {"income_per_capita_monthly", "monetary_assets_per_capita",
                        "savings_cap_per_capita", "standard_monthly", "benefit_monthly"}) {
    INFO(f);
    CHECK(j["figures"][f].is_string());
  }
  CHECK(j["next_review"] == "2025-11-01");
  CHECK(j.contains("gradual_exit_until"));
  CHECK(j["gradual_exit_until"].is_null());
  CHECK(j["policy_version"] == harbin().version());
  for (const auto& r : j["rules"]) {
    for (const char* k :
         {"rule", "result", "source", "inputs", "parameters", "unknown_sources", "explanation"}) {
      INFO(r["rule"] << " " << k);
      CHECK(r.contains(k));
    }
    for (const auto& prm : r["parameters"]) {
      for (const char* k : {"name", "value", "effective_from", "reference", "example"})
        CHECK(prm.contains(k));
    }
  }
}

TEST_CASE("policies: No standard in force or an unknown programme is indeterminate", "[policy]") {
  House early(1, "2020-06-01");  // before any Harbin standard
  auto d = early.eval("230100");
  CHECK(d.outcome == p::Outcome::kIndeterminate);
  CHECK(p::decision_json(d)["next_review"].is_null());
  House odd(1, "2024-11-01", "pension");
  CHECK(odd.eval("230100").outcome == p::Outcome::kIndeterminate);
  House temp(1, "2024-11-01", "temporary");
  temp.income(0, IncomeKind::kWages, "1000.00");
  auto t = temp.eval("230100");
  CHECK(t.outcome == p::Outcome::kEligible);
  CHECK(t.classification == "marginal");
}

TEST_CASE("policies: Programme names round-trip and unknown names are refused", "[policy]") {
  for (p::Programme prog : p::kAllProgrammes) {
    CHECK(p::parse_programme(p::programme_name(prog)) == prog);
  }
  CHECK(p::programme_name(p::Programme::kTekun) == "tekun");
  CHECK_FALSE(p::parse_programme("pension").has_value());
  CHECK_FALSE(p::parse_programme("Dibao").has_value());
  CHECK_FALSE(p::parse_programme("").has_value());
}

// Found by tests/fuzz/fuzz_policy (tests/fuzz/regressions/fuzz_policy/: the
// file name, then Harbin's file with a number beyond a double): nlohmann's
// out_of_range escaped the loader instead of a bad_policy_file error.
TEST_CASE("policy: a file with a number out of range is refused as bad_policy_file", "[policy]") {
  std::ifstream in(std::string(HFV_SOURCE_DIR) + "/tests/fuzz/regressions/fuzz_policy/number-out-of-range-edaca6fa",
                   std::ios::binary);
  REQUIRE(in);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto nl = text.find('\n');
  REQUIRE(nl != std::string::npos);
  const std::string name = text.substr(0, nl);
  auto policy = p::parse_policy_file(std::string_view(text).substr(nl + 1), fs::path("policies") / name);
  REQUIRE_FALSE(policy.ok());
  CHECK(policy.error().code == "bad_policy_file");
  CHECK(policy.error().message == "policies/230100.json: not valid JSON: a number is out of range");
}
