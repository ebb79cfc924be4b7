// The tax and social-insurance agencies' answers, called directly (no
// sockets): the tax withheld on each record (ykjse) and the person's own
// contributions (grjfhj), paged with the benefits by one offset.
#include <catch2/catch.hpp>

#include <string>

#include "sim_fixtures.hpp"

using namespace hfv::sim;

namespace {

constexpr const char* kPerson = "110101199003070011";

const char* kDataset = R"({
  "persons": {
    "110101199003070011": {
      "tax": [
        {"period": "2026-09", "item": "wages", "amount": "12345.60", "tax_withheld": "1234.56"},
        {"period": "2026-10", "item": "property", "amount": "500"}
      ],
      "social_insurance": {
        "contributions": [
          {"period": "2026-08", "type": "employee_pension", "base": "5000", "personal": "400"},
          {"period": "2026-09", "type": "medical", "base": "5000.00", "personal": "100.5"},
          {"period": "2026-10", "type": "work_injury", "base": "5000.00"}
        ],
        "benefits": [{"period": "2026-10", "type": "unemployment", "amount": "1500"}]
      }
    }
  }
})";

Json ask(const char* agency, const char* path, const Json& body) {
  const Dataset d = parse_dataset(kDataset);
  const AgencyAnswer a =
      find_agency(agency)->answer(d, AgencyRequest{"POST", path, "application/json", body.dump()});
  REQUIRE(a.reply.status == 200);
  Json j = Json::parse(a.reply.body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

}  // namespace

TEST_CASE("sim tax: each record states the tax withheld, zero when the dataset gives none",
          "[simulator][tax]") {
  const Json j = ask("tax", "/etax/api/v3/income-records",
                     Json{{"zjlx", "201"}, {"zjhm", kPerson}, {"ywlsh", "s"}});
  const Json& records = j["body"]["records"];
  REQUIRE(records.size() == 2);
  CHECK(records[0]["sre"] == "12,345.60");
  CHECK(records[0]["ykjse"] == "1,234.56");
  CHECK(records[1]["sre"] == "500.00");
  CHECK(records[1]["ykjse"] == "0.00");
}

TEST_CASE("sim social insurance: contributions with the own share, paged with the benefits",
          "[simulator][social_insurance]") {
  const char* path = "/hrss/si/v1/person-benefits";
  const Json first = ask("social_insurance", path,
                         Json{{"aac002", kPerson}, {"aac058", "01"}, {"offset", 0}, {"limit", 2}});
  const Json& result = first["result"];
  CHECK(result["contribution_summary"]["months"] == 3);
  CHECK(result["contribution_summary"]["last_period"] == "202610");
  CHECK(result["contributions"]["total"] == 3);
  CHECK(result["contributions"]["offset"] == 0);
  REQUIRE(result["contributions"]["rows"].size() == 2);
  CHECK(result["contributions"]["rows"][0] ==
        Json{{"aae003", "202608"}, {"aae140", "110"}, {"aae180", "5000.00"}, {"grjfhj", "400.00"}});
  CHECK(result["contributions"]["rows"][1]["aae140"] == "310");
  CHECK(result["contributions"]["rows"][1]["grjfhj"] == "100.50");
  CHECK(result["benefits"]["total"] == 1);
  CHECK(result["benefits"]["rows"].size() == 1);
  const Json second = ask("social_insurance", path,
                          Json{{"aac002", kPerson}, {"offset", 2}, {"limit", 2}});
  REQUIRE(second["result"]["contributions"]["rows"].size() == 1);
  CHECK(second["result"]["contributions"]["rows"][0] ==
        Json{{"aae003", "202610"}, {"aae140", "410"}, {"aae180", "5000.00"}, {"grjfhj", "0.00"}});
  CHECK(second["result"]["contributions"]["offset"] == 2);
  CHECK(second["result"]["benefits"]["rows"].empty());
}
