#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "policies/engine.hpp"

using hfv::Date;
using hfv::Money;
using hfv::Source;
using hfv::SourceResult;
using hfv::SourceStatus;
using nlohmann::json;
namespace p = hfv::policies;
namespace fs = std::filesystem;

namespace {

const fs::path kPolicies = fs::path(HFV_SOURCE_DIR) / "policies" / "data";

const p::JurisdictionPolicy& harbin() {
  static const auto set = p::PolicySet::load_dir(kPolicies);
  REQUIRE(set.ok());
  auto found = set->find("230100");
  REQUIRE(found.ok());
  return **found;
}

SourceResult answer(std::size_t member, Source source, SourceStatus status, std::vector<const char*> amounts = {}) {
  SourceResult r;
  r.member_index = member;
  r.source = source;
  r.status = status;
  for (const char* a : amounts) r.records.holdings.push_back({"inst", "****1234", *Money::parse(a), std::nullopt});
  return r;
}

// Every monetary source answers for every member; bank amounts as given.
p::HouseholdInput household(std::vector<std::vector<const char*>> bank_per_member, const char* date = "2026-11-01") {
  p::HouseholdInput h;
  h.member_count = bank_per_member.size();
  h.area = p::Area::kUrban;
  h.reference_date = *Date::parse(date);
  h.programme = "dibao";
  for (std::size_t m = 0; m < bank_per_member.size(); ++m) {
    h.sources.push_back(answer(m, Source::kBank, SourceStatus::kOk, bank_per_member[m]));
    for (Source s : {Source::kSecurities, Source::kInsurance, Source::kInternetFinance}) {
      h.sources.push_back(answer(m, s, SourceStatus::kNotFound));
    }
  }
  return h;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("hfv-policy-" + std::to_string(std::random_device{}()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

json harbin_file() {
  std::ifstream in(kPolicies / "230100.json");
  return json::parse(in);
}

}  // namespace

TEST_CASE("unit: The parameter in force is the latest one not after the reference date", "[policy]") {
  const auto& policy = harbin();
  CHECK(policy.dibao_standard(p::Area::kUrban, *Date::parse("2022-12-31"))->value.to_string() == "732.00");
  CHECK(policy.dibao_standard(p::Area::kUrban, *Date::parse("2023-01-01"))->value.to_string() == "835.00");
  const auto later = policy.dibao_standard(p::Area::kUrban, *Date::parse("2026-11-01"));
  CHECK(later->value.to_string() == "860.00");
  CHECK(later->provenance.example);  // unverified value is marked
  CHECK_FALSE(policy.dibao_standard(p::Area::kRural, *Date::parse("2022-06-01")).has_value());
}

TEST_CASE("unit: Savings cap: exactly at the cap passes, one fen over fails", "[policy][savings-cap]") {
  // 2026: 24 x 860.00 = 20640.00 per person; two people: 41280.00.
  auto at_cap = p::evaluate(harbin(), household({{"20000.00", "640.00"}, {"20640.00"}}));
  CHECK(at_cap.outcome == p::Outcome::kEligible);
  CHECK(at_cap.rules.at(0).result == p::RuleResult::kPass);
  CHECK(at_cap.figures.at("savings_cap_per_capita") == "20640.00");
  CHECK(at_cap.figures.at("monetary_assets_per_capita") == "20640.00");

  auto over = p::evaluate(harbin(), household({{"20000.00", "640.00"}, {"20640.01"}}));
  CHECK(over.outcome == p::Outcome::kIneligible);
  CHECK(over.rules.at(0).result == p::RuleResult::kFail);
}

TEST_CASE("unit: Savings cap uses the standard in force on the reference date", "[policy][savings-cap]") {
  // 2023-06: 24 x 835.00 = 20040.00; 20640.00 is over that cap but under 2026's.
  CHECK(p::evaluate(harbin(), household({{"20640.00"}}, "2023-06-01")).outcome == p::Outcome::kIneligible);
  CHECK(p::evaluate(harbin(), household({{"20640.00"}}, "2026-06-01")).outcome == p::Outcome::kEligible);
}

TEST_CASE("unit: A failed source is never read as no assets", "[policy][fail-closed]") {
  auto h = household({{"100.00"}, {"100.00"}});
  h.sources[0].status = SourceStatus::kTimeout;  // member 0, bank
  h.sources[0].records.holdings.clear();
  auto d = p::evaluate(harbin(), h);
  CHECK(d.outcome == p::Outcome::kIndeterminate);
  CHECK(d.rules.at(0).result == p::RuleResult::kUnknown);
  CHECK(d.rules.at(0).unknown_sources == std::vector<std::string>{"bank"});
  CHECK(d.classification == "none");
}

TEST_CASE("unit: A source that was never asked counts as unknown", "[policy][fail-closed]") {
  auto h = household({{"100.00"}});
  h.sources.erase(h.sources.begin() + 1);  // securities answer missing
  CHECK(p::evaluate(harbin(), h).outcome == p::Outcome::kIndeterminate);
}

TEST_CASE("unit: Known assets over the cap fail even when another source failed", "[policy][fail-closed]") {
  auto h = household({{"50000.00"}});
  h.sources[1].status = SourceStatus::kError;  // securities failed
  auto d = p::evaluate(harbin(), h);
  CHECK(d.outcome == p::Outcome::kIneligible);
  CHECK(d.rules.at(0).result == p::RuleResult::kFail);
}

TEST_CASE("unit: The trace names the clause, the parameters and their references", "[policy][trace]") {
  auto d = p::evaluate(harbin(), household({{"100.00"}}));
  const auto& t = d.rules.at(0);
  CHECK(t.rule == "savings-cap-24m");
  CHECK(t.clause == "000_74d306e405892d62.txt#savings-cap-24m");
  REQUIRE(t.parameters.size() == 3);
  CHECK(t.parameters[0].name == "dibao_standard_monthly.urban");
  CHECK(t.parameters[0].from.to_string() == "2024-01-01");
  CHECK(t.parameters[1].value == "24");
  CHECK(t.inputs.at("savings_cap_household") == "20640.00");
  CHECK(d.policy_version == "230100/2026.1");
}

TEST_CASE("unit: A jurisdiction without a policy file is refused, not given another's rules", "[policy]") {
  auto set = p::PolicySet::load_dir(kPolicies);
  REQUIRE(set.ok());
  auto missing = set->find("230102");  // a Harbin district: no fallback unless a file says so
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == "no_policy");
}

TEST_CASE("unit: Bad policy files are refused with the file and key named", "[policy][load]") {
  struct Case {
    const char* what;
    std::function<void(json&)> mutate;
    const char* key;
  };
  const std::vector<Case> cases = {
      {"unknown top-level key", [](json& j) { j["colour"] = 1; }, "colour: unknown key"},
      {"unknown parameter", [](json& j) { j["parameters"]["bonus"] = json::array(); }, "parameters.bonus: unknown key"},
      {"missing months", [](json& j) { j["parameters"].erase("savings_cap_months"); }, "parameters.savings_cap_months: missing"},
      {"negative standard", [](json& j) { j["parameters"]["dibao_standard_monthly"]["urban"][0]["value"] = "-1.00"; },
       "parameters.dibao_standard_monthly.urban[0].value"},
      {"duplicate date", [](json& j) { j["parameters"]["dibao_standard_monthly"]["urban"][1]["from"] = "2021-01-01"; },
       "parameters.dibao_standard_monthly.urban: two values take effect"},
      {"no reference", [](json& j) { j["parameters"]["savings_cap_months"][0].erase("reference"); },
       "parameters.savings_cap_months[0].reference"},
      {"bad date", [](json& j) { j["parameters"]["savings_cap_months"][0]["from"] = "2023-02-30"; },
       "parameters.savings_cap_months[0].from"},
      {"unknown rule", [](json& j) { j["rules"] = {"free-money"}; }, "rules: unknown rule id"},
      {"unknown source", [](json& j) { j["parameters"]["monetary_asset_sources"][0]["value"] = {"bank", "gold"}; },
       "parameters.monetary_asset_sources[0].value"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    TempDir dir;
    json file = harbin_file();
    c.mutate(file);
    std::ofstream(dir.path / "230100.json") << file.dump();
    auto loaded = p::PolicySet::load_dir(dir.path);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message.find("230100.json") != std::string::npos);
    CHECK(loaded.error().message.find(c.key) != std::string::npos);
  }
}
