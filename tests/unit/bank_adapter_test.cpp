#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "adapters/bank/bank_adapter.hpp"
#include "adapters/insurance/insurance_adapter.hpp"
#include "adapters/internet_finance/internet_finance_adapter.hpp"
#include "adapters/securities/securities_adapter.hpp"

namespace a = hfv::adapters;
using nlohmann::json;

namespace {
json bank_page(long total, long page_no, json accounts) {
  return {{"retCode", "0000"}, {"retMsg", "SUCCESS"}, {"queryId", "q"},
          {"body", {{"custName", "x"}, {"totalCount", total}, {"pageNo", page_no}, {"pageSize", 50}, {"accounts", accounts}}}};
}
json account(const char* balance = "12345.67", const char* date = "20261101", const char* currency = "CNY") {
  return {{"bankName", "中国工商银行"}, {"acctNo", "6222020200112233445"}, {"acctType", "SAVINGS"},
          {"currency", currency}, {"balance", balance}, {"balanceDate", date}};
}
std::string bank_error(const json& doc, long expected_page = 1, long status = 200) {
  auto r = a::bank::parse_page(status, doc.dump(), expected_page);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}
}  // namespace

TEST_CASE("adapters: bank answers map to exact holdings with masked accounts", "[adapter][bank]") {
  auto r = a::bank::parse_page(200, bank_page(1, 1, {account()}).dump(), 1);
  REQUIRE(r.ok());
  REQUIRE(r->records.holdings.size() == 1);
  CHECK(r->records.holdings[0].amount.fen() == 1234567);
  CHECK(r->records.holdings[0].account_masked == "***************3445");
  CHECK(r->records.holdings[0].as_of->to_string() == "2026-11-01");
  CHECK(r->total == 1);
  CHECK(r->next == "2");
}

TEST_CASE("adapters: bank 'no customer' is not-found, not an empty success", "[adapter][bank]") {
  auto r = a::bank::parse_page(200, R"({"retCode":"1001","retMsg":"NO CUSTOMER","queryId":"q"})", 1);
  REQUIRE(r.ok());
  CHECK(r->not_found);
}

TEST_CASE("adapters: malformed bank answers are errors, never zero", "[adapter][bank]") {
  CHECK_FALSE(a::bank::parse_page(200, "{\"retCode\":\"0000\",", 1).ok());
  CHECK_FALSE(a::bank::parse_page(200, "[]", 1).ok());
  CHECK(bank_error(bank_page(1, 1, {account()}), 1, 500).find("HTTP 500") != std::string::npos);
  CHECK(bank_error(json{{"retCode", "9999"}}).find("9999") != std::string::npos);
  CHECK(bank_error(bank_page(1, 1, {account("12,345.67")})).find("balance") != std::string::npos);
  CHECK(bank_error(bank_page(1, 1, {account("-1.00")})).find("negative") != std::string::npos);
  CHECK(bank_error(bank_page(1, 1, {account("1.00", "2026-11-01")})).find("balanceDate") != std::string::npos);
  CHECK(bank_error(bank_page(1, 1, {account("1.00", "20261101", "USD")})).find("CNY") != std::string::npos);
  CHECK(bank_error(bank_page(1, 2, {account()}), 1).find("pageNo") != std::string::npos);
  json no_balance = account();
  no_balance.erase("balance");
  CHECK(bank_error(bank_page(1, 1, {no_balance})).find("balance") != std::string::npos);
  json numeric = account();
  numeric["balance"] = 12345.67;  // a number where the agency promises a string
  CHECK(bank_error(bank_page(1, 1, {numeric})).find("balance") != std::string::npos);
}

TEST_CASE("adapters: securities positions, cursor paging and 404 not-found", "[adapter][securities]") {
  json ok = {{"code", 0}, {"msg", "ok"},
             {"data", {{"positions", {{{"acctNo", "A123456789"}, {"market", "SH"}, {"marketValue", "1000.10"},
                                       {"valuationDate", "2026-11-01"}}}},
                       {"nextCursor", "c2"}}}};
  auto r = a::securities::parse_page(200, ok.dump());
  REQUIRE(r.ok());
  CHECK(r->records.holdings.at(0).amount.fen() == 100010);
  CHECK(r->next == "c2");
  ok["data"]["nextCursor"] = nullptr;
  CHECK_FALSE(a::securities::parse_page(200, ok.dump())->next.has_value());
  CHECK(a::securities::parse_page(404, R"({"code":40401,"msg":"investor not found"})")->not_found);
  CHECK_FALSE(a::securities::parse_page(404, "not json").ok());  // a bare 404 is not "no holdings"
  CHECK_FALSE(a::securities::parse_page(503, "{}").ok());
  json bad = ok;
  bad["data"]["positions"][0]["marketValue"] = 1000.1;
  CHECK_FALSE(a::securities::parse_page(200, bad.dump()).ok());
}

TEST_CASE("adapters: insurance cash values are integer fen strings", "[adapter][insurance]") {
  json ok = {{"status", "SUCCESS"},
             {"result", {{"total", 1}, {"index", 0},
                         {"policies", {{{"policyNo", "P2023000111"}, {"insurer", "中国人寿"}, {"cashValueFen", "1234567"},
                                        {"valuationDate", "2026/11/01"}}}}}}};
  auto r = a::insurance::parse_page(200, ok.dump(), 0);
  REQUIRE(r.ok());
  CHECK(r->records.holdings.at(0).amount.to_string() == "12345.67");
  CHECK(r->records.holdings.at(0).as_of->to_string() == "2026-11-01");
  CHECK(a::insurance::parse_page(200, R"({"status":"NO_RECORD","result":null})", 0)->not_found);
  for (const char* bad_fen : {"12345.67", "-5", "", "1e5"}) {
    json bad = ok;
    bad["result"]["policies"][0]["cashValueFen"] = bad_fen;
    CHECK_FALSE(a::insurance::parse_page(200, bad.dump(), 0).ok());
  }
  json wrong_date = ok;
  wrong_date["result"]["policies"][0]["valuationDate"] = "2026-11-01";
  CHECK_FALSE(a::insurance::parse_page(200, wrong_date.dump(), 0).ok());
  CHECK_FALSE(a::insurance::parse_page(200, ok.dump(), 1).ok());  // page index mismatch
}

TEST_CASE("adapters: internet finance distinguishes no user from an error", "[adapter][internet_finance]") {
  json ok = {{"success", true}, {"user_exists", true},
             {"items", {{{"platform", "余额宝"}, {"account_id", "2088000011112222"}, {"balance_yuan", "88.80"},
                         {"updated_at", "2026-11-01T08:00:00+08:00"}}}},
             {"next_page_token", ""}};
  auto r = a::internet_finance::parse_page(200, ok.dump());
  REQUIRE(r.ok());
  CHECK(r->records.holdings.at(0).amount.fen() == 8880);
  CHECK_FALSE(r->next.has_value());
  CHECK(a::internet_finance::parse_page(200, R"({"success":true,"user_exists":false,"items":[],"next_page_token":""})")
            ->not_found);
  auto err = a::internet_finance::parse_page(200, R"({"success":false,"error_code":"SYSTEM_BUSY"})");
  REQUIRE_FALSE(err.ok());
  CHECK(err.error().message.find("SYSTEM_BUSY") != std::string::npos);
  json bad = ok;
  bad["items"][0]["updated_at"] = "yesterday";
  CHECK_FALSE(a::internet_finance::parse_page(200, bad.dump()).ok());
}
