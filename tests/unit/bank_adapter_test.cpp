#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "adapters/bank/bank_adapter.hpp"

namespace bank = hfv::adapters::bank;
using nlohmann::json;

namespace {
json page(long total, long page_no, json accounts) {
  return {{"retCode", "0000"}, {"retMsg", "SUCCESS"}, {"queryId", "q"},
          {"body", {{"custName", "x"}, {"totalCount", total}, {"pageNo", page_no}, {"pageSize", 50}, {"accounts", accounts}}}};
}
json account(const char* balance = "12345.67", const char* date = "20261101", const char* currency = "CNY") {
  return {{"bankName", "中国工商银行"}, {"acctNo", "6222020200112233445"}, {"acctType", "SAVINGS"},
          {"currency", currency}, {"balance", balance}, {"balanceDate", date}};
}
std::string error_of(const json& doc, long expected_page = 1) {
  auto r = bank::parse_bank_page(doc.dump(), expected_page);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}
}  // namespace

TEST_CASE("Bank answers map to exact holdings with masked accounts", "[adapter][bank]") {
  auto r = bank::parse_bank_page(page(1, 1, {account()}).dump(), 1);
  REQUIRE(r.ok());
  REQUIRE(r->accounts.size() == 1);
  CHECK(r->accounts[0].amount.fen() == 1234567);
  CHECK(r->accounts[0].account_masked == "***************3445");
  CHECK(r->accounts[0].as_of->to_string() == "2026-11-01");
  CHECK(r->total_count == 1);
}

TEST_CASE("Bank 'no customer' is not-found, not an empty success", "[adapter][bank]") {
  auto r = bank::parse_bank_page(R"({"retCode":"1001","retMsg":"NO CUSTOMER","queryId":"q"})", 1);
  REQUIRE(r.ok());
  CHECK(r->not_found);
}

TEST_CASE("Malformed bank answers are errors, never zero", "[adapter][bank]") {
  CHECK_FALSE(bank::parse_bank_page("{\"retCode\":\"0000\",", 1).ok());
  CHECK_FALSE(bank::parse_bank_page("[]", 1).ok());
  CHECK(error_of(json{{"retCode", "9999"}}).find("9999") != std::string::npos);
  CHECK(error_of(page(1, 1, {account("12,345.67")})).find("balance") != std::string::npos);
  CHECK(error_of(page(1, 1, {account("-1.00")})).find("negative") != std::string::npos);
  CHECK(error_of(page(1, 1, {account("1.00", "2026-11-01")})).find("balanceDate") != std::string::npos);
  CHECK(error_of(page(1, 1, {account("1.00", "20261101", "USD")})).find("CNY") != std::string::npos);
  CHECK(error_of(page(1, 2, {account()}), 1).find("pageNo") != std::string::npos);
  json no_balance = account();
  no_balance.erase("balance");
  CHECK(error_of(page(1, 1, {no_balance})).find("balance") != std::string::npos);
  json numeric = account();
  numeric["balance"] = 12345.67;  // a number where the agency promises a string
  CHECK(error_of(page(1, 1, {numeric})).find("balance") != std::string::npos);
}
