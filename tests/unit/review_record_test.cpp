// What a verification's review record keeps of the household's current
// benefit, and the current_benefit a due-by review sends from it.
#include <catch2/catch.hpp>

#include "broker/verification/review_record.hpp"

using hfv::Date;
using nlohmann::json;
namespace b = hfv::broker;
namespace p = hfv::policies;

namespace {

const Date kToday = *Date::parse("2026-12-03");

b::VerificationRequest request(std::optional<const char*> since = std::nullopt) {
  b::VerificationRequest r;
  r.case_id = "HRB-1";
  r.programme = "dibao";
  r.jurisdiction = "230100";
  r.reference_date = *Date::parse("2026-11-01");
  if (since) {
    p::CurrentBenefit cb;
    cb.since = *Date::parse(*since);
    r.current_benefit = cb;
  }
  return r;
}

p::Decision decision(p::Outcome outcome, const char* classification, const char* until = nullptr) {
  p::Decision d;
  d.outcome = outcome;
  d.classification = classification;
  if (until != nullptr) d.gradual_exit_until = *Date::parse(until);
  return d;
}

b::ReviewRecord record(const char* classification, const char* benefit_since = "",
                       const char* until = "", const char* outcome = "eligible") {
  b::ReviewRecord r;
  r.programme = "dibao";
  r.reference_date = "2025-12-01";
  r.outcome = outcome;
  r.classification = classification;
  r.benefit_since = benefit_since;
  r.gradual_exit_until = until;
  return r;
}

}  // namespace

TEST_CASE("unit: A dibao record keeps the date the household receives dibao since", "[review]") {
  const auto first = b::review_record_of("v1", "cs", request(), decision(p::Outcome::kEligible, "dibao"), {}, "");
  CHECK(first.benefit_since == "2026-11-01");  // its own reference date
  const auto later =
      b::review_record_of("v2", "cs", request("2024-03-01"), decision(p::Outcome::kEligible, "dibao"), {}, "");
  CHECK(later.benefit_since == "2024-03-01");  // carried forward from the request
  const auto exit = b::review_record_of("v3", "cs", request("2024-03-01"),
                                        decision(p::Outcome::kEligible, "gradual_exit", "2027-05-01"), {}, "");
  CHECK(exit.benefit_since == "2024-03-01");
  CHECK(exit.gradual_exit_until == "2027-05-01");
  const auto out =
      b::review_record_of("v4", "cs", request("2024-03-01"), decision(p::Outcome::kIneligible, "marginal"), {}, "");
  CHECK(out.benefit_since.empty());
  CHECK(out.gradual_exit_until.empty());
  auto temporary = request();
  temporary.programme = "temporary";
  CHECK(b::review_record_of("v5", "cs", temporary, decision(p::Outcome::kEligible, "dibao"), {}, "")
            .benefit_since.empty());
}

TEST_CASE("unit: A due-by review sends current_benefit from the previous record", "[review]") {
  // Classed dibao: since the earliest consecutive dibao record, else the record's own date.
  CHECK(b::current_benefit_of(record("dibao", "2024-03-01"), kToday) ==
        json{{"programme", "dibao"}, {"since", "2024-03-01"}});
  CHECK(b::current_benefit_of(record("dibao"), kToday) == json{{"programme", "dibao"}, {"since", "2025-12-01"}});
  // In a gradual-exit period: continued while it lasts (its last day included).
  CHECK(b::current_benefit_of(record("gradual_exit", "2024-03-01", "2026-12-03"), kToday) ==
        json{{"programme", "dibao"}, {"since", "2024-03-01"}, {"gradual_exit_until", "2026-12-03"}});
  CHECK_FALSE(b::current_benefit_of(record("gradual_exit", "2024-03-01", "2026-12-02"), kToday).has_value());
  // Not receiving dibao: not eligible, another class, or another programme.
  CHECK_FALSE(b::current_benefit_of(record("dibao", "", "", "indeterminate"), kToday).has_value());
  CHECK_FALSE(b::current_benefit_of(record("marginal"), kToday).has_value());
  auto temporary = record("dibao");
  temporary.programme = "temporary";
  CHECK_FALSE(b::current_benefit_of(temporary, kToday).has_value());
}

TEST_CASE("unit: A due-by review sends the amount paid and the day it was set, for no-readjustment", "[review]") {
  auto paid = record("dibao", "2024-03-01");
  paid.benefit_fen = 160000;
  CHECK(b::current_benefit_of(paid, kToday) == json{{"programme", "dibao"},
                                                    {"since", "2024-03-01"},
                                                    {"monthly_amount", "1600.00"},
                                                    {"amount_set_on", "2025-12-01"}});
  // A gradual-exit record carries no amount (none was computed).
  auto exit = record("gradual_exit", "2024-03-01", "2026-12-03");
  exit.benefit_fen = 0;
  CHECK_FALSE(b::current_benefit_of(exit, kToday)->contains("monthly_amount"));
}

TEST_CASE("unit: The members a due-by review sends again keep the entitlement facts", "[review]") {
  b::Member m;
  m.id_number = "230102197503120016";
  m.name = "张伟";
  m.relation = "applicant";
  m.disabled_serviceman_grade = 5;
  m.entitled_group_pension = true;
  const json out = b::members_json({m});
  CHECK(out[0]["disabled_serviceman_grade"] == 5);
  CHECK(out[0]["entitled_group_pension"] == true);
  b::Member plain = m;
  plain.disabled_serviceman_grade.reset();
  plain.entitled_group_pension = false;
  CHECK_FALSE(b::members_json({plain})[0].contains("disabled_serviceman_grade"));
  CHECK_FALSE(b::members_json({plain})[0].contains("entitled_group_pension"));
}
