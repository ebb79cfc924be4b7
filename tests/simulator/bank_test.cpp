// The bank's answers, called directly (no sockets): paging, date and name
// mapping, not-found, and every kind of bad request.
#include <catch2/catch.hpp>

#include "sim_fixtures.hpp"

using namespace hfv::sim;
using namespace hfv::sim::testing;

namespace {

std::string inquiry(const std::string& id, int page_no, int page_size,
                    const std::string& query_id = "q-1") {
  return Json{{"certType", "01"},
              {"certNo", id},
              {"queryId", query_id},
              {"pageNo", page_no},
              {"pageSize", page_size}}
      .dump();
}

Json body_of(const AgencyAnswer& a) {
  const Json j = Json::parse(a.reply.body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

}  // namespace

TEST_CASE("sim bank: three accounts in pages of two", "[simulator][bank]") {
  const Dataset d = parse_dataset(sample_dataset_text());

  const AgencyAnswer first = ask_bank(d, inquiry(kRich, 1, 2, "query-abc"));
  CHECK(first.reply.status == 200);
  CHECK(first.reply.content_type == "application/json; charset=utf-8");
  CHECK(first.person == kRich);
  const Json p1 = body_of(first);
  CHECK(p1["retCode"] == "0000");
  CHECK(p1["retMsg"] == "SUCCESS");
  CHECK(p1["queryId"] == "query-abc");
  CHECK(p1["body"]["custName"] == "张三");
  CHECK(p1["body"]["totalCount"] == 3);
  CHECK(p1["body"]["pageNo"] == 1);
  CHECK(p1["body"]["pageSize"] == 2);
  REQUIRE(p1["body"]["accounts"].size() == 2);
  const Json& a0 = p1["body"]["accounts"][0];
  CHECK(a0["bankName"] == "中国工商银行");
  CHECK(a0["acctNo"] == "6222020200112233445");
  CHECK(a0["acctType"] == "SAVINGS");
  CHECK(a0["currency"] == "CNY");
  CHECK(a0["balance"] == "12345.67");  // a string, as in the dataset
  CHECK(a0["balanceDate"] == "20261101");
  CHECK(p1["body"]["accounts"][1]["acctNo"] == "6217000010001234567");
  CHECK(p1["body"]["accounts"][1]["balanceDate"] == "20261031");

  const Json p2 = body_of(ask_bank(d, inquiry(kRich, 2, 2)));
  CHECK(p2["retCode"] == "0000");
  CHECK(p2["body"]["totalCount"] == 3);
  CHECK(p2["body"]["pageNo"] == 2);
  REQUIRE(p2["body"]["accounts"].size() == 1);
  const Json& last = p2["body"]["accounts"][0];
  CHECK(last["acctNo"] == "6225880011223344");
  CHECK(last["balance"] == "300");
  CHECK(last["balanceDate"] == "20240229");
  CHECK(last["currency"] == "USD");   // dataset extension
  CHECK(last["acctType"] == "TIME");  // dataset extension

  const Json p3 = body_of(ask_bank(d, inquiry(kRich, 3, 2)));
  CHECK(p3["body"]["totalCount"] == 3);
  CHECK(p3["body"]["accounts"].empty());

  const Json huge = body_of(ask_bank(
      d, R"({"certNo":"110101199003070011","pageNo":18446744073709551615,"pageSize":50})"));
  CHECK(huge["retCode"] == "0000");
  CHECK(huge["body"]["accounts"].empty());
}

TEST_CASE("sim bank: defaults are page 1 of 50 and an empty queryId", "[simulator][bank]") {
  const Dataset d = parse_dataset(sample_dataset_text());
  const Json j = body_of(ask_bank(d, R"({"certNo":"110101199003070011"})"));
  CHECK(j["retCode"] == "0000");
  CHECK(j["queryId"] == "");
  CHECK(j["body"]["pageNo"] == 1);
  CHECK(j["body"]["pageSize"] == 50);
  CHECK(j["body"]["accounts"].size() == 3);
}

TEST_CASE("sim bank: custName is empty without hukou, an empty list is a success",
          "[simulator][bank]") {
  const Dataset d = parse_dataset(sample_dataset_text());
  const Json no_name = body_of(ask_bank(d, inquiry(kNoName, 1, 50)));
  CHECK(no_name["retCode"] == "0000");
  CHECK(no_name["body"]["custName"] == "");
  CHECK(no_name["body"]["accounts"][0]["balanceDate"] == "20260105");

  const Json empty = body_of(ask_bank(d, inquiry(kEmpty, 1, 50)));
  CHECK(empty["retCode"] == "0000");
  CHECK(empty["body"]["totalCount"] == 0);
  CHECK(empty["body"]["accounts"].empty());
}

TEST_CASE("sim bank: an unknown person or one without bank records is 1001", "[simulator][bank]") {
  const Dataset d = parse_dataset(sample_dataset_text());
  for (const char* id : {kAbsent, kNoBank}) {
    INFO(id);
    const AgencyAnswer a = ask_bank(d, inquiry(id, 1, 50, "q-9"));
    CHECK(a.reply.status == 200);
    CHECK(a.person == id);
    const Json j = body_of(a);
    CHECK(j == Json{{"retCode", "1001"}, {"retMsg", "NO CUSTOMER"}, {"queryId", "q-9"}});
  }
}

TEST_CASE("sim bank: bad requests are 400 with retCode 9001", "[simulator][bank]") {
  const Dataset d = parse_dataset(sample_dataset_text());
  struct Case {
    std::string body;
    std::string content_type;
    std::string message;
  };
  const std::string json = "application/json";
  const std::vector<Case> cases = {
      {"{not json", json, "body is not a JSON object"},
      {"[1,2]", json, "body is not a JSON object"},
      {"", json, "body is not a JSON object"},
      {R"({"queryId":"q"})", json, "certNo is missing"},
      {R"({"certNo":110101199003070011})", json, "certNo must be a string"},
      {R"({"certNo":"11010119900307001"})", json, "certNo must be 18 characters"},
      {R"({"certNo":"1101011990030700111"})", json, "certNo must be 18 characters"},
      {R"({"certType":"02","certNo":"110101199003070011"})", json, "certType must be \"01\""},
      {R"({"certNo":"110101199003070011","queryId":5})", json, "queryId must be a string"},
      {R"({"certNo":"110101199003070011","pageNo":0})", json, "pageNo must be an integer >= 1"},
      {R"({"certNo":"110101199003070011","pageNo":-1})", json, "pageNo must be an integer >= 1"},
      {R"({"certNo":"110101199003070011","pageNo":"1"})", json, "pageNo must be an integer >= 1"},
      {R"({"certNo":"110101199003070011","pageNo":1.5})", json, "pageNo must be an integer >= 1"},
      {R"({"certNo":"110101199003070011","pageSize":0})", json,
       "pageSize must be an integer from 1 to 50"},
      {R"({"certNo":"110101199003070011","pageSize":51})", json,
       "pageSize must be an integer from 1 to 50"},
      {R"({"certNo":"110101199003070011"})", "text/plain", "Content-Type must be application/json"},
      {R"({"certNo":"110101199003070011"})", "", "Content-Type must be application/json"},
  };
  for (const auto& c : cases) {
    INFO(c.body << " / " << c.content_type);
    const AgencyAnswer a = ask_bank(d, c.body, c.content_type);
    CHECK(a.reply.status == 400);
    const Json j = body_of(a);
    CHECK(j["retCode"] == "9001");
    CHECK_THAT(j["retMsg"].get<std::string>(), Catch::Matchers::StartsWith(c.message));
    CHECK(j.find("body") == j.end());
  }
  // Parameters on the media type are fine.
  CHECK(ask_bank(d, inquiry(kRich, 1, 50), "Application/JSON; charset=utf-8").reply.status == 200);
}

TEST_CASE("sim bank: unknown paths are 404 9004, other methods 405", "[simulator][bank]") {
  const Dataset d = parse_dataset(sample_dataset_text());
  const AgencyAnswer not_found =
      ask_bank(d, inquiry(kRich, 1, 50), "application/json", "POST", "/bank/v1/deposit-inquiry");
  CHECK(not_found.reply.status == 404);
  CHECK(body_of(not_found) == Json{{"retCode", "9004"}, {"retMsg", "NO SUCH SERVICE"}});
  CHECK(not_found.person.empty());

  const AgencyAnswer wrong_method = ask_bank(d, "", "", "GET");
  CHECK(wrong_method.reply.status == 405);
  REQUIRE(wrong_method.reply.headers.size() == 1);
  CHECK(wrong_method.reply.headers[0].first == "Allow");
  CHECK(wrong_method.reply.headers[0].second == "POST");
}
