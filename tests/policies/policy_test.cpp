// Policy engine tests: loading and validation, each rule with its
// boundaries, each jurisdiction's differences, fail-closed behaviour, and
// the decision JSON. Amounts in comments are worked out by hand.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

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

Money yuan(const char* text) { return *Money::parse(text); }

// A household builder: every member has an answer from all eleven sources,
// like the demo's simulator: the household registry's is a normal
// registration, every other source's not_found unless records are added.
struct House {
  p::HouseholdInput h;
  House(std::size_t members, const char* date = "2026-11-01", const char* programme = "dibao") {
    h.member_count = members;
    h.area = p::Area::kUrban;
    h.reference_date = *Date::parse(date);
    h.programme = programme;
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
  // The same monthly income in each of the 12 months before 2026-11-01
  // (2025-11 .. 2026-10) unless other months are given.
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
  CHECK(pol.dibao_standard(p::Area::kUrban, *Date::parse("2022-12-31"))->value.to_string() ==
        "732.00");
  CHECK(pol.dibao_standard(p::Area::kUrban, *Date::parse("2023-01-01"))->value.to_string() ==
        "835.00");
  const auto later = pol.dibao_standard(p::Area::kUrban, *Date::parse("2026-11-01"));
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
  const json j = p::parameters_json(harbin(), *Date::parse("2026-11-01"));
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

// ------------------------------------------------------------------ assets

TEST_CASE("policies: Savings cap: exactly at the cap passes, one fen over fails",
          "[policy][savings-cap]") {
  // Harbin 2026: 24 x 860.00 = 20640.00 per person; two people: 41280.00.
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
      // Haidian 2026: 24 x 1450.00 = 34800.00 (example).
      {"110108", 1, "34800.00", p::Outcome::kEligible},
  };
  for (const auto& r : rows) {
    INFO(r.code << " " << r.members << " x " << r.per_member);
    House h(r.members);
    for (std::size_t m = 0; m < r.members; ++m) h.bank(m, r.per_member);
    CHECK(h.eval(r.code).outcome == r.expected);
  }
}

TEST_CASE("policies: Savings cap uses the standard in force on the reference date",
          "[policy][savings-cap]") {
  // 2023-06: 24 x 835.00 = 20040.00; 20640.00 is over that cap but under 2026's.
  House h2023(1, "2023-06-01");
  h2023.bank(0, "20640.00");
  CHECK(h2023.eval("230100").outcome == p::Outcome::kIneligible);
  House h2026(1, "2026-06-01");
  h2026.bank(0, "20640.00");
  CHECK(h2026.eval("230100").outcome == p::Outcome::kEligible);
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
    House h(1, r.code == std::string("610700") ? "2025-11-01" : "2026-11-01");
    h.member(0).disability_grade = 2;
    h.vehicle(0, r.type, "90000.00", r.aid);
    CHECK(h.eval(r.code).outcome == r.expected);
  }
}

TEST_CASE("policies: Real-estate and business rules (Anyang)", "[policy][real-estate][business]") {
  House shop(1);
  shop.property(0, "豫****1", "commercial", 3000);
  CHECK(shop.eval("410500").outcome == p::Outcome::kIneligible);
  CHECK(shop.eval("230100").outcome ==
        p::Outcome::kEligible);  // Harbin's seed sets no property rule

  House two_homes(2);
  two_homes.property(0, "豫****1", "residential", 6000).property(1, "豫****2", "residential", 4000);
  auto d = two_homes.eval("410500");
  CHECK(d.outcome ==
        p::Outcome::kIndeterminate);  // local average area not in the file: a case worker decides
  CHECK(rule(d, "real-estate").unknown_sources ==
        std::vector<std::string>{"parameter:real_estate_extra_home_area_per_capita_m2"});

  House three_homes(1);
  three_homes.property(0, "a", "residential", 100)
      .property(0, "b", "residential", 100)
      .property(0, "c", "residential", 100);
  CHECK(three_homes.eval("410500").outcome == p::Outcome::kIneligible);

  House capital_below(1), capital_at(1);
  capital_below.business(0, "199999.99");
  capital_at.business(0, "200000.00");
  CHECK(capital_below.eval("410500").outcome == p::Outcome::kEligible);
  CHECK(capital_at.eval("410500").outcome == p::Outcome::kIneligible);
}

// ------------------------------------------------------- household registry

TEST_CASE("policies: A member the registry reports deceased, moved out or does not know",
          "[policy][household-composition]") {
  // Harbin 2026, 2 members, no income: eligible while both are registered.
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
       {Row{"230100", "2026-11-01", "000_74d306e405892d62.txt#household-population", true},
        Row{"610700", "2025-11-01", "001_26e3ccaad77ddb0b.txt#s8-verification", true},
        Row{"110108", "2026-11-01", "002_b86fb5830263699b.txt#s13-identity-check", true},
        Row{"410500", "2026-11-01", "003_91bc1ece9bf1afc9.txt#s22-verification-sources", false},
        Row{"310000", "2026-11-01", "004_2002961d590718da.txt#s20-verification-sources", false}}) {
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
  // Harbin 2026, 1 member: 12 x 860.00 = 10320.00 in the window.
  House at(1);
  at.income(0, IncomeKind::kWages, "860.00");
  auto d = at.eval("230100");
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(d.classification == "dibao");
  CHECK(d.figures.at("income_per_capita_monthly") == "860.00");
  CHECK(d.figures.at("benefit_monthly") == "0.00");

  House over(1);
  over.income(0, IncomeKind::kWages, "860.00");
  over.income(0, IncomeKind::kOther, "0.01", "0.00", {{2026, 10}});
  auto o = over.eval("230100");
  CHECK(o.outcome == p::Outcome::kIneligible);
  CHECK(o.classification == "marginal");
  CHECK(rule(o, "dibao-income").result == p::RuleResult::kFail);
}

TEST_CASE("policies: Only the look-back window's months count", "[policy][income]") {
  House h(1);
  // 2026-11 (the reference month) and 2025-10 (13 months back) are outside.
  h.income(0, IncomeKind::kWages, "5000.00", "0.00", {{2026, 11}, {2025, 10}});
  h.income(0, IncomeKind::kWages, "1200.00", "0.00", {{2025, 11}});
  auto d = h.eval("230100");
  CHECK(d.figures.at("income_per_capita_monthly") == "100.00");  // 1200.00 / 12
  CHECK(rule(d, "dibao-income").inputs.at("income_records_outside_window") == 2);
  CHECK(rule(d, "dibao-income").inputs.at("window") == "2025-11 to 2026-10");
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
      // Haidian: below the minimum wage 2540.00.
      {"110108", "2539.99", p::Outcome::kEligible},
      {"110108", "2540.00", p::Outcome::kIneligible},
  };
  for (const auto& r : rows) {
    INFO(r.code << " " << r.monthly);
    House h(1, "2026-11-01", "marginal");
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

  House hb(1, "2025-11-01");
  hb.income(0, IncomeKind::kResidentsPension, "900.00", "300.00");
  CHECK(hb.eval("230100").outcome == p::Outcome::kIneligible);  // 900.00 > 860.00

  // After the 14th Five-Year Plan the exemption lapses (dated parameter).
  House later(1, "2026-11-01");
  later.income(0, IncomeKind::kResidentsPension, "600.00", "300.00");
  auto l = later.eval("610700");
  CHECK(l.figures.at("income_per_capita_monthly") == "600.00");
  CHECK(rule(l, "basic-pension-exempt").inputs.at("basic_part_excluded") == "0.00");
}

TEST_CASE("policies: One-off road-accident relief is not income in Harbin", "[policy][income]") {
  auto make = [] {
    House h(1);
    h.income(0, IncomeKind::kRoadAccidentRelief, "50000.00", "0.00", {{2026, 3}});
    return h;
  };
  CHECK(make().eval("230100").outcome == p::Outcome::kEligible);
  CHECK(make().eval("410500").outcome ==
        p::Outcome::kIneligible);  // Anyang's seed has no such exclusion
}

TEST_CASE("policies: Employment cost is deducted for employed members", "[policy][income]") {
  // Shanghai 2026: standard 1595.00, deduction 870.00. Wages 2400.00 - 870.00
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
  // Shanghai 2026: standard 1595.00, deduction 870.00, window 2025-11 to
  // 2026-10; 1 member: limit 12 x 1595.00 = 19140.00 in the window.
  const std::vector<std::pair<int, unsigned>> half_year = {{2026, 5}, {2026, 6}, {2026, 7},
                                                           {2026, 8}, {2026, 9}, {2026, 10}};
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
  CHECK(ded.at("by_month").at(0) ==
        json{{"month", "2026-05"}, {"earned", "4060.00"}, {"deducted", "870.00"}});
  CHECK(rule(at, "employment-cost").inputs.at("total_deducted") == "5220.00");
  // One fen more in one month: one fen over the limit.
  House over = part_year("4060.00");
  over.income(0, IncomeKind::kWages, "0.01", "0.00", {{2026, 10}});
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
    h.income(0, IncomeKind::kWages, r.earned, "0.00", {{2026, 3}});
    auto d = h.eval("310000");
    CHECK(rule(d, "employment-cost").inputs.at("total_deducted") == r.deducted);
    CHECK(rule(d, "dibao-income").inputs.at("counted_income_in_window") == r.counted);
  }

  // Wages and business income in one month are that month's earnings: one
  // deduction, not one per record. Other income is not earnings.
  House mixed(1);
  mixed.member(0).employed = true;
  mixed.income(0, IncomeKind::kWages, "500.00", "0.00", {{2026, 3}});
  mixed.income(0, IncomeKind::kBusiness, "500.00", "0.00", {{2026, 3}});
  mixed.income(0, IncomeKind::kProperty, "900.00", "0.00", {{2026, 4}});
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
  two.income(0, IncomeKind::kWages, "1000.00", "0.00", {{2026, 1}});
  two.income(1, IncomeKind::kWages, "1000.00");
  auto t = two.eval("310000");
  CHECK(rule(t, "employment-cost").inputs.at("total_deducted") == "870.00");
  CHECK(rule(t, "employment-cost").inputs.at("deductions").size() == 1);
  CHECK(rule(t, "dibao-income").inputs.at("counted_income_in_window") == "12130.00");

  // The same reading in every jurisdiction that lists the rule.
  for (const char* code : {"230100", "610700", "410500", "310000"}) {
    INFO(code);
    House h(1);
    h.member(0).employed = true;
    h.income(0, IncomeKind::kWages, "2000.00", "0.00", {{2026, 9}, {2026, 10}});
    CHECK(rule(h.eval(code), "employment-cost").inputs.at("total_deducted") == "1740.00");
  }
}

TEST_CASE("policies: Support fees from obligors count as income (Harbin)",
          "[policy][support-fee]") {
  // Minimum wage 2270.00 (2025-12-01): fee = 5000.00 - 500.00 - 2270.00 = 2230.00.
  House h(1);
  h.h.obligors.push_back({1, yuan("5000.00"), yuan("500.00"), false});
  auto d = h.eval("230100");
  CHECK(rule(d, "support-fee").inputs.at("support_fee_monthly_total") == "2230.00");
  CHECK(d.outcome == p::Outcome::kIneligible);

  House assisted(1);
  assisted.h.obligors.push_back({1, yuan("5000.00"), yuan("500.00"), true});
  CHECK(assisted.eval("230100").outcome == p::Outcome::kEligible);

  House unknown(1);
  unknown.h.obligors.push_back({1, std::nullopt, Money{}, false});
  auto u = unknown.eval("230100");
  CHECK(u.outcome == p::Outcome::kIndeterminate);
  CHECK(rule(u, "support-fee").result == p::RuleResult::kUnknown);
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
  House ay(1);
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

// A current dibao recipient since 2024-03-01 (before every reference date used).
p::CurrentBenefit recipient(const char* since = "2024-03-01") {
  p::CurrentBenefit b;
  b.since = *Date::parse(since);
  return b;
}

std::string plus_fen(const char* amount, std::int64_t fen) {
  return Money::from_fen(yuan(amount).fen() + fen).to_string();
}

TEST_CASE("policies: Gradual exit at the standard and the exit line, one fen each side, urban and rural",
          "[policy][gradual-exit]") {
  // Reference 2026-11-01, one employed member who reported the change, income
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
      House h(1);
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
    // One fen above it: gradual exit until the reference date + 6 months.
    const auto above = run(plus_fen(r.standard, 1));
    CHECK(above.outcome == p::Outcome::kEligible);
    CHECK(above.classification == "gradual_exit");
    REQUIRE(above.gradual_exit_until.has_value());
    CHECK(above.gradual_exit_until->to_string() == "2027-05-01");
    CHECK(p::decision_json(above)["gradual_exit_until"] == "2027-05-01");
    CHECK(rule(above, "gradual-exit").inputs["gradual_exit_until"] == "2027-05-01");
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
  // Income inside each jurisdiction's exit band on 2026-11-01 (urban).
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
      House h(1);
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
  const Date on = *Date::parse("2026-11-01");
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
  // Harbin, 1000.00 per person: inside the band; reference 2026-11-01.
  const auto run = [](const char* since, const char* until) {
    House h(1);
    h.income(0, IncomeKind::kOther, "1000.00");
    h.h.current_benefit = recipient(since);
    if (until != nullptr) h.h.current_benefit->gradual_exit_until = *Date::parse(until);
    return h.eval("230100");
  };
  const auto continued = run("2024-03-01", "2027-01-31");
  CHECK(continued.classification == "gradual_exit");
  CHECK(continued.gradual_exit_until->to_string() == "2027-01-31");
  const auto last_day = run("2024-03-01", "2026-11-01");
  CHECK(last_day.classification == "gradual_exit");
  CHECK(last_day.gradual_exit_until->to_string() == "2026-11-01");
  const auto ended = run("2024-03-01", "2026-10-31");
  CHECK(ended.outcome == p::Outcome::kIneligible);
  CHECK(rule(ended, "gradual-exit").explanation == "the gradual-exit period ended on 2026-10-31");
  // Receiving since the reference date counts; since the day after does not.
  CHECK(run("2026-11-01", nullptr).classification == "gradual_exit");
  CHECK(run("2026-11-02", nullptr).outcome == p::Outcome::kIneligible);
}

TEST_CASE("policies: The worked example's gradual-exit variant (docs/worked-example.md)",
          "[policy][gradual-exit]") {
  House h(3);
  h.member(0).employed = true;
  h.member(2).birth_date = *Date::parse("2016-04-01");
  h.member(2).relation = "child";
  h.income(0, IncomeKind::kWages, "4000.00");
  h.income(1, IncomeKind::kRoadAccidentRelief, "8000.00", "0.00", {{2026, 3}});
  auto without = h.eval("230100");
  CHECK(without.outcome == p::Outcome::kIneligible);
  CHECK(without.classification == "marginal");
  h.h.current_benefit = recipient();
  auto d = h.eval("230100");
  CHECK(d.figures.at("income_per_capita_monthly") == "1043.33");
  CHECK(d.outcome == p::Outcome::kEligible);
  CHECK(d.classification == "gradual_exit");
  CHECK(d.gradual_exit_until->to_string() == "2027-05-01");
  CHECK_FALSE(d.figures.contains("benefit_monthly"));
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
      House h(1, "2026-11-01", "expenditure");
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
  const auto house = [](std::vector<p::RigidSpending> declared) {
    House h(2, "2026-11-01", "expenditure");
    h.income(0, IncomeKind::kWages, "4000.00");
    h.h.rigid_spending = std::move(declared);
    return h;
  };
  const auto sh = house({spending("hospital_treatment", "810.00")}).eval("310000");
  CHECK(sh.classification == "expenditure_poverty");
  CHECK(rule(sh, "review-cycle").inputs["category"] == "expenditure_poverty");
  CHECK(sh.next_review->to_string() == "2027-02-01");  // seed 004 §4: every quarter
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
  CHECK(hrb.next_review->to_string() == "2027-11-01");  // Harbin has no quarterly cycle for it
  CHECK(rule(hrb, "expenditure-poverty").clause ==
        "000_74d306e405892d62.txt#expenditure-poverty");
  // Jurisdictions whose documents do not have it do not decide the programme.
  for (const char* code : {"610700", "110108", "410500"}) {
    INFO(code);
    const auto d = house({spending("hospital_treatment", "3000.00")}).eval(code);
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
  House h(1, "2026-11-01", "expenditure");
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
  House none(1, "2026-11-01", "expenditure");
  none.income(0, IncomeKind::kWages, "1000.00");
  auto d = none.eval("230100");
  CHECK(rule(d, "expenditure-poverty").result == p::RuleResult::kUnknown);
  CHECK(rule(d, "expenditure-poverty").unknown_sources ==
        std::vector<std::string>{"request:rigid_spending"});
  CHECK(d.outcome == p::Outcome::kIndeterminate);
  // Income known so far within the line after spending, but tax did not answer.
  House missing(1, "2026-11-01", "expenditure");
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
p::CurrentBenefit paid(const std::string& amount, const char* set_on = "2026-05-01") {
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
      House h(r.members);
      h.h.area = r.area;
      h.h.current_benefit = paid(current);
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
  // Harbin's standard was 835.00 on 2023-06-01 and is 860.00 on 2026-11-01:
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
  House hz(1);
  hz.h.current_benefit = paid("700.00");
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
  h.income(1, IncomeKind::kRoadAccidentRelief, "8000.00", "0.00", {{2026, 3}});
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
  const auto house = [](const char* date = "2026-11-01") {
    House h(1, date, "emergency");
    h.income(0, IncomeKind::kWages, "5000.00");  // far above every line
    h.h.emergency = p::Emergency{"public_emergency", *Date::parse("2026-10-20"),
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
  CHECK(d.follow_up_date->to_string() == "2027-05-01");
  CHECK(p::decision_json(d)["follow_up_date"] == "2027-05-01");
  CHECK_FALSE(d.figures.contains("benefit_monthly"));
  // Six calendar months, to the month's last day where it is shorter.
  auto month_end = house("2026-08-31");
  month_end.h.emergency->event_date = *Date::parse("2026-08-30");
  REQUIRE(month_end.eval("230100").follow_up_date.has_value());
  CHECK(month_end.eval("230100").follow_up_date->to_string() == "2027-02-28");
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
  later.h.emergency->event_date = *Date::parse("2026-11-02");
  CHECK(later.eval("230100").outcome == p::Outcome::kIneligible);
  auto same_day = house();
  same_day.h.emergency->event_date = *Date::parse("2026-11-01");
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
  const auto house = [](const char* income) {
    House h(2);
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
    auto other = house("1800.00");  // 900.00 per person: marginal in both
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
      House h(2, "2026-11-01", std::string(p::programme_name(prog)).c_str());
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
      // Hanzhong 2025-11: 1.3 x 675.00 = 877.50; full care 25% x 2050.00 = 512.50.
      {"610700", "2025-11-01", "full_care", "1390.00"},
      {"610700", "2025-11-01", "self_care", "1082.50"},  // + 10% = 205.00
      // Harbin 2026: 1.3 x 860.00 = 1118.00; full care 1/4 x 2270.00 = 567.50.
      {"230100", "2026-11-01", "full_care", "1685.50"},
      {"230100", "2026-11-01", "half_care", "1496.33"},  // + 1/6 x 2270.00 = 378.33
      // Haidian 2026: Beijing's 1.5 x 1450.00 = 2175.00; 1/10 x 2540.00 = 254.00.
      {"110108", "2026-11-01", "self_care", "2429.00"},
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
  House h(1, "2026-11-01", "tekun");
  h.member(0).birth_date = *Date::parse("2009-06-01");  // 17
  h.member(0).labour_capacity = "full";
  CHECK(h.eval("230100").outcome == p::Outcome::kEligible);
  CHECK(h.eval("110108").outcome == p::Outcome::kIneligible);  // Haidian's seed has no age rule
  h.member(0).birth_date = *Date::parse("2008-06-01");         // 18
  CHECK(h.eval("230100").outcome == p::Outcome::kIneligible);
}

// ------------------------------------------------------------------ review

TEST_CASE("policies: Review cycles differ by jurisdiction", "[policy][review]") {
  struct Row {
    const char* code;
    const char* kind;
    const char* next;
  };
  const std::vector<Row> rows = {
      {"230100", "none", "2027-11-01"},       // stable: yearly
      {"230100", "irregular", "2027-05-01"},  // unstable income, labour capacity: 6 months
      {"410500", "irregular", "2027-05-01"},
      {"110108", "irregular", "2026-12-01"},  // Haidian: irregular income monthly
      {"110108", "stable", "2027-02-01"},     // Haidian: clear, stable income quarterly
      {"110108", "unchanged", "2027-05-01"},  // Haidian: unchanged income every 6 months
      {"110108", "none", "2027-02-01"},  // Haidian default (labour capacity, no income): quarterly
      {"310000", "irregular", "2027-05-01"},
      {"310000", "marginal", "2027-02-01"},  // Shanghai: low-income households quarterly
      {"230100", "marginal", "2027-11-01"},
  };
  for (const auto& r : rows) {
    INFO(r.code << " " << r.kind);
    const std::string kind = r.kind;
    House h(1, "2026-11-01", kind == "marginal" ? "marginal" : "dibao");
    h.member(0).labour_capacity = "full";
    if (kind == "irregular")
      h.income(0, IncomeKind::kWages, "300.00", "0.00", {{2026, 2}, {2026, 7}});
    if (kind == "stable" || kind == "unchanged") h.income(0, IncomeKind::kWages, "300.00");
    if (kind == "stable") h.income(0, IncomeKind::kOther, "10.00", "0.00", {{2026, 4}});
    if (kind == "marginal")
      h.income(0, IncomeKind::kWages, r.code == std::string("310000") ? "2000.00" : "1000.00");
    auto d = h.eval(r.code);
    REQUIRE(d.next_review.has_value());
    CHECK(d.next_review->to_string() == r.next);
  }
  // Haidian: no income, no labour capacity: yearly; illness: 6 months.
  House none(1);
  none.member(0).labour_capacity = "none";
  CHECK(none.eval("110108").next_review->to_string() == "2027-11-01");
  none.member(0).serious_illness = true;
  none.member(0).labour_capacity = "partial";
  CHECK(none.eval("110108").next_review->to_string() == "2027-05-01");
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
  CHECK(h.eval("410500").outcome == p::Outcome::kIndeterminate);  // Anyang's business rule reads it
}

TEST_CASE("policies: A rule already failing on known data makes the outcome ineligible",
          "[policy][fail-closed]") {
  House assets(1);
  assets.bank(0, "50000.00").fail(0, Source::kSecurities, SourceStatus::kError);
  auto a = assets.eval("230100");
  CHECK(a.outcome == p::Outcome::kIneligible);
  CHECK(rule(a, "savings-cap-24m").result == p::RuleResult::kFail);

  // Income known already over the standard; social insurance failed.
  House income(1);
  income.income(0, IncomeKind::kWages, "2000.00").fail(0, Source::kSocialInsurance);
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
  CHECK(u.next_review->to_string() == "2027-05-01");
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
  CHECK(e.next_review->to_string() == "2027-11-01");

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
          IncomeRecord{2026, 3, IncomeKind::kRoadAccidentRelief, yuan("8000.00"), Money{}});
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
  CHECK(d.next_review->to_string() == "2027-11-01");
  CHECK(rule(d, "household-composition").result == p::RuleResult::kPass);
  // "What would change it": the registry reports member 1 deceased.
  h.at(1, Source::kHukou).records.hukou->status = "deceased";
  auto dead = h.eval("230100");
  CHECK(dead.outcome == p::Outcome::kIndeterminate);
  CHECK(dead.figures.at("income_per_capita_monthly") == "376.67");  // still 3 members
  CHECK_FALSE(dead.figures.contains("benefit_monthly"));
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
  CHECK(j["next_review"] == "2027-11-01");
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
  House odd(1, "2026-11-01", "pension");
  CHECK(odd.eval("230100").outcome == p::Outcome::kIndeterminate);
  House temp(1, "2026-11-01", "temporary");
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
