// The tax and social-insurance adapters' answers, called directly (no
// sockets): the income tax withheld on each tax record and the person's own
// social-insurance contributions, which the income rule deducts where a
// jurisdiction counts earnings after tax and contributions. Every field is
// required and checked; a bad one makes the page an error, never zero.
#include <catch2/catch.hpp>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adapters/social_insurance/social_insurance_adapter.hpp"
#include "adapters/tax/tax_adapter.hpp"

namespace a = hfv::adapters;
using hfv::IncomeKind;
using hfv::Money;
using nlohmann::json;

namespace {

Money yuan(const char* text) { return *Money::parse(text); }

json tax_record(const char* sre = "8,200.50", const char* ykjse = "1,020.05") {
  return {{"sssqq", "2026-10-01"}, {"sssqz", "2026-10-31"}, {"sdxmdm", "0101"},
          {"sdxmmc", "工资、薪金所得"}, {"sre", sre}, {"ykjse", ykjse}};
}

json tax_page(json records, long current = 1, long total = 1) {
  return {{"head", {{"rtnCode", "00"}, {"rtnMsg", "成功"}, {"ywlsh", "s"}}},
          {"body",
           {{"nsrxm", "x"}, {"pageCurrent", current}, {"pageTotal", total}, {"records", records}}}};
}

json contribution(const char* period = "202610", const char* type = "110",
                  const char* base = "5000.00", const char* personal = "400.00") {
  return {{"aae003", period}, {"aae140", type}, {"aae180", base}, {"grjfhj", personal}};
}

json benefit(const char* period = "202610") {
  return {{"aae002", period}, {"aae140", "110"}, {"aae019", "3100.00"}, {"jcylj", "0.00"}};
}

// A social-insurance page at `offset` with the lists' stated totals.
json si_page(json contributions, json benefits, long offset = 0, long contributions_total = -1,
             long benefits_total = -1) {
  if (contributions_total < 0) contributions_total = static_cast<long>(contributions.size());
  if (benefits_total < 0) benefits_total = static_cast<long>(benefits.size());
  return {{"errcode", 0},
          {"errmsg", "ok"},
          {"jylsh", "s"},
          {"result",
           {{"aac003", "x"},
            {"contribution_summary", {{"months", contributions_total}, {"last_period", "202610"}}},
            {"contributions",
             {{"total", contributions_total}, {"offset", offset}, {"rows", contributions}}},
            {"benefits", {{"total", benefits_total}, {"offset", offset}, {"rows", benefits}}}}}};
}

}  // namespace

TEST_CASE("adapters: tax records carry the income tax withheld on them", "[adapter][tax]") {
  auto r = a::tax::parse_page(200, tax_page({tax_record(), tax_record("300.00", "0.00")}).dump(), 1);
  REQUIRE(r.ok());
  REQUIRE(r->records.income.size() == 2);
  const auto& first = r->records.income[0];
  CHECK(first.year == 2026);
  CHECK(first.month == 10u);
  CHECK(first.kind == IncomeKind::kWages);
  CHECK(first.amount == yuan("8200.50"));
  CHECK(first.tax_withheld == yuan("1020.05"));
  CHECK(r->records.income[1].tax_withheld == Money{});
  // Exactly the whole amount withheld is possible; one fen more is not.
  CHECK(a::tax::parse_page(200, tax_page({tax_record("300.00", "300.00")}).dump(), 1).ok());
  auto over = a::tax::parse_page(200, tax_page({tax_record("300.00", "300.01")}).dump(), 1);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == "malformed_answer");
  CHECK(over.error().message == "'ykjse' exceeds 'sre'");
}

TEST_CASE("adapters: a tax record without a readable ykjse is an error, never zero tax",
          "[adapter][tax]") {
  struct Case {
    const char* what;
    std::function<void(json&)> mutate;
    const char* message;  // part of the error message
  };
  const std::vector<Case> cases = {
      {"missing", [](json& r) { r.erase("ykjse"); }, "ykjse"},
      {"a number", [](json& r) { r["ykjse"] = 10.5; }, "ykjse"},
      {"negative", [](json& r) { r["ykjse"] = "-1.00"; }, "'ykjse' is not a non-negative amount"},
      {"three decimals", [](json& r) { r["ykjse"] = "1.005"; },
       "'ykjse' is not a non-negative amount"},
      {"bad grouping", [](json& r) { r["ykjse"] = "10,00.00"; },
       "'ykjse' is not a non-negative amount"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    json record = tax_record();
    c.mutate(record);
    auto r = a::tax::parse_page(200, tax_page({record}).dump(), 1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "malformed_answer");
    CHECK_THAT(r.error().message, Catch::Matchers::Contains(c.message));
  }
}

TEST_CASE("adapters: social-insurance contributions become records with the person's own share",
          "[adapter][social_insurance]") {
  auto r = a::social_insurance::parse_page(
      200,
      si_page({contribution(), contribution("202609", "310", "5000.00", "100.00"),
               contribution("202609", "410", "5000.00", "0.00")},
              {benefit()})
          .dump(),
      0);
  REQUIRE(r.ok());
  REQUIRE(r->records.contributions.size() == 3);
  const auto& c = r->records.contributions[0];
  CHECK(c.year == 2026);
  CHECK(c.month == 10u);
  CHECK(c.type == "employee_pension");
  CHECK(c.base == yuan("5000.00"));
  CHECK(c.personal == yuan("400.00"));
  CHECK(r->records.contributions[1].type == "medical");
  CHECK(r->records.contributions[2].type == "work_injury");
  CHECK(r->records.contributions[2].personal == Money{});
  CHECK(r->records.income.size() == 1);  // contributions are not income
  CHECK(r->total == 4);                  // both lists' totals
  // The own share may be the whole base (a residents' pension tier), never more.
  CHECK(a::social_insurance::parse_page(
            200, si_page({contribution("202601", "170", "200.00", "200.00")}, json::array()).dump(), 0)
            .ok());
  auto over = a::social_insurance::parse_page(
      200, si_page({contribution("202601", "170", "200.00", "200.01")}, json::array()).dump(), 0);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().message == "'grjfhj' exceeds 'aae180'");
}

TEST_CASE("adapters: bad social-insurance contribution rows are errors, never no contributions",
          "[adapter][social_insurance]") {
  struct Case {
    const char* what;
    std::function<void(json&)> mutate;  // on the whole answer
    const char* message;
  };
  auto row = [](json& doc) -> json& { return doc["result"]["contributions"]["rows"][0]; };
  const std::vector<Case> cases = {
      {"no contributions list", [](json& d) { d["result"].erase("contributions"); },
       "contributions"},
      {"own share missing", [&](json& d) { row(d).erase("grjfhj"); }, "grjfhj"},
      {"own share a number", [&](json& d) { row(d)["grjfhj"] = 400; }, "grjfhj"},
      {"own share negative", [&](json& d) { row(d)["grjfhj"] = "-1.00"; }, "'grjfhj' is negative"},
      {"base missing", [&](json& d) { row(d).erase("aae180"); }, "aae180"},
      {"period not YYYYMM", [&](json& d) { row(d)["aae003"] = "2026-10"; },
       "'aae003' is not YYYYMM"},
      {"row not an object", [&](json& d) { row(d) = "x"; }, "contribution row is not an object"},
      {"offset not the one asked",
       [](json& d) { d["result"]["contributions"]["offset"] = 24; },
       "contributions 'offset' is not the one asked for"},
      {"summary months disagree",
       [](json& d) { d["result"]["contribution_summary"]["months"] = 5; },
       "'months' is not the number of contribution rows stated"},
      {"contributions end short of their total while benefits go on",
       [](json& d) {
         d["result"]["contributions"]["total"] = 3;
         d["result"]["contribution_summary"]["months"] = 3;
       },
       "a list ends before its stated total while the other goes on"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    // One contribution, two benefits: both pages are "full" at two rows
    // only for the benefits.
    json doc = si_page({contribution()}, {benefit("202609"), benefit()});
    c.mutate(doc);
    auto r = a::social_insurance::parse_page(200, doc.dump(), 0);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "malformed_answer");
    CHECK_THAT(r.error().message, Catch::Matchers::Contains(c.message));
  }
  // An unknown type code is not guessed.
  auto unknown = a::social_insurance::parse_page(
      200, si_page({contribution("202610", "999")}, json::array()).dump(), 0);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == "unsupported_answer");
}

TEST_CASE("adapters: one offset pages both social-insurance lists", "[adapter][social_insurance]") {
  // 3 contributions and 1 benefit in pages of 2: the offset advances by the
  // longer list; the benefits have ended, so their short page is fine.
  auto first = a::social_insurance::parse_page(
      200, si_page({contribution("202608"), contribution("202609")}, {benefit()}, 0, 3, 1).dump(),
      0);
  REQUIRE(first.ok());
  CHECK(first->next == "2");
  CHECK(first->total == 4);
  auto second = a::social_insurance::parse_page(
      200, si_page({contribution("202610")}, json::array(), 2, 3, 1).dump(), 2);
  REQUIRE(second.ok());
  CHECK(second->records.contributions.size() == 1);
  CHECK(second->records.income.empty());
  CHECK(second->next == "3");
  // Not found is still not found.
  auto none = a::social_insurance::parse_page(200, R"({"errcode":1404,"errmsg":"查无参保记录"})", 0);
  REQUIRE(none.ok());
  CHECK(none->not_found);
}
