// The engine's input as JSON (policies/household_json.hpp), what the input
// archive keeps: a round trip gives back every field and the same decision;
// the parser refuses what it does not know, naming the key.
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "policies/engine.hpp"
#include "policies/household_json.hpp"

namespace fs = std::filesystem;
namespace p = hfv::policies;
using hfv::Date;
using hfv::Money;
using nlohmann::json;

namespace {

Date day(const char* text) { return *Date::parse(text); }

// A household that sets every field the engine reads, optional ones included.
p::HouseholdInput full_household() {
  p::HouseholdInput h;
  h.member_count = 2;
  p::MemberFacts a;
  a.birth_date = day("1961-04-02");
  a.relation = "applicant";
  a.disability_grade = 2;
  a.disability_kind = "physical";
  a.serious_illness = true;
  a.labour_capacity = "partial";
  a.disabled_serviceman_grade = 7;
  a.entitled_group_pension = true;
  p::MemberFacts b;
  b.birth_date = day("1990-12-31");
  b.relation = "child";
  b.employed = true;
  b.labour_capacity = "full";
  h.members = {a, b};
  h.area = p::Area::kUrban;
  h.reference_date = day("2024-11-01");
  h.programme = "dibao";
  hfv::SourceResult bank;
  bank.member_index = 0;
  bank.source = hfv::Source::kBank;
  bank.status = hfv::SourceStatus::kOk;
  bank.records.holdings.push_back(
      {"中国工商银行", "6222****0001", Money::from_fen(300012), day("2024-10-31")});
  bank.records.holdings.push_back({"bank b", "****", Money::from_fen(5), std::nullopt});
  hfv::SourceResult tax;
  tax.member_index = 1;
  tax.source = hfv::Source::kTax;
  tax.status = hfv::SourceStatus::kOk;
  tax.records.income.push_back(
      {2024, 9, hfv::IncomeKind::kWages, Money::from_fen(210000), Money(), Money::from_fen(1234)});
  tax.records.income.push_back({2024, 10, hfv::IncomeKind::kResidentsPension,
                                Money::from_fen(25000), Money::from_fen(15000), Money()});
  hfv::SourceResult social;
  social.member_index = 1;
  social.source = hfv::Source::kSocialInsurance;
  social.status = hfv::SourceStatus::kOk;
  social.records.contributions.push_back(
      {2024, 9, "employee_pension", Money::from_fen(400000), Money::from_fen(32000)});
  hfv::SourceResult others;
  others.member_index = 0;
  others.source = hfv::Source::kRealEstate;
  others.status = hfv::SourceStatus::kOk;
  others.records.real_estate.push_back({"沪****号", "residential", 6550, 50});
  others.records.vehicles.push_back(
      {"黑A****", "car", Money::from_fen(8000000), day("2020-05-01"), true});
  others.records.businesses.push_back(
      {"91****X", "shareholder", Money::from_fen(10000000), "revoked"});
  others.records.provident_fund =
      hfv::ProvidentFundRecord{Money::from_fen(100000), Money::from_fen(5000)};
  others.records.hukou = hfv::HukouRecord{"230102", "normal"};
  hfv::SourceResult failed;
  failed.member_index = 1;
  failed.source = hfv::Source::kVehicle;
  failed.status = hfv::SourceStatus::kTimeout;
  failed.failure = hfv::FailureKind::kTimeout;  // not archived: the engine reads the status only
  h.sources = {bank, tax, social, others, failed};
  p::CurrentBenefit current;
  current.since = day("2022-01-01");
  current.gradual_exit_until = day("2025-01-31");
  current.self_reported = false;
  current.monthly_amount = Money::from_fen(45000);
  current.amount_set_on = day("2024-01-01");
  h.current_benefit = current;
  h.obligors = std::vector<p::ObligorHousehold>{
      {3, Money::from_fen(900000), Money::from_fen(10000), false, std::string(64, 'a')},
      {1, std::nullopt, Money(), true, ""}};
  h.care_levels = {"half_care", ""};
  h.rigid_spending.push_back(
      {"hospital_treatment", Money::from_fen(120000), true, std::string(64, 'b')});
  h.emergency = p::Emergency{"public_emergency", day("2024-10-01"), std::string(64, 'c')};
  return h;
}

}  // namespace

TEST_CASE(
    "household input JSON: a round trip gives back every field, the same bytes and the same "
    "decision",
    "[policies][archive]") {
  const p::HouseholdInput h = full_household();
  const json first = p::household_input_json(h);
  auto parsed = p::parse_household_input(json::parse(first.dump()));
  REQUIRE(parsed.ok());
  const json second = p::household_input_json(*parsed);
  CHECK(second.dump() == first.dump());
  CHECK(first["sources"][0]["records"]["holdings"][0]["amount_fen"] ==
        300012);  // integer fen, exact
  CHECK_FALSE(first["sources"][4].contains("failure"));
  CHECK(parsed->members[0].disabled_serviceman_grade == 7);
  CHECK(parsed->obligors->at(1).disposable_income_monthly == std::nullopt);
  CHECK(parsed->current_benefit->self_reported == false);
  CHECK(parsed->sources[3].records.real_estate[0].area_centi_m2 == 6550);

  // The same decision from the parsed input, under every jurisdiction's policy.
  auto set = p::PolicySet::load_dir(fs::path(HFV_SOURCE_DIR) / "policies" / "data");
  REQUIRE(set.ok());
  REQUIRE(set->size() == 5);
  for (const auto& [code, policy] : set->all()) {
    for (const char* programme :
         {"dibao", "marginal", "tekun", "temporary", "expenditure", "emergency"}) {
      p::HouseholdInput a = h;
      a.programme = programme;
      p::HouseholdInput b = *parsed;
      b.programme = programme;
      INFO(code << " " << programme);
      CHECK(p::decision_json(p::evaluate(policy, a)) == p::decision_json(p::evaluate(policy, b)));
    }
  }
}

TEST_CASE("household input JSON: a missing, mistyped or unknown key is refused, naming it",
          "[policies][archive]") {
  const json good = p::household_input_json(full_household());
  auto refused = [](const json& doc, const std::string& named) {
    auto r = p::parse_household_input(doc);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "archive_unreadable");
    CHECK(r.error().message.find(named) != std::string::npos);
  };
  json doc = good;
  doc.erase("reference_date");
  refused(doc, "household.reference_date is missing");
  doc = good;
  doc["sources"][0]["records"]["holdings"][0]["amount_fen"] = "3000.12";
  refused(doc, "household.sources[0].records.holdings[0].amount_fen is not an integer");
  doc = good;
  doc["members"][1]["salary"] = 1;
  refused(doc, "household.members[1] has a key");
  doc = good;
  doc["sources"][2]["member_index"] = 2;
  refused(doc, "household.sources[2].member_index is out of range");
  doc = good;
  doc["sources"][0]["status"] = "fine";
  refused(doc, "household.sources[0].status");
  refused(json::array(), "household is not an object");
}
