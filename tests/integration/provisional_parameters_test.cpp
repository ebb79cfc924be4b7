// Provisional parameters end to end (real agency-sim and brokerd
// processes): a Harbin household's eligible outcome rests on example
// values (the unverified 2024 standard among them) and its signed report
// lists them with their provenance, its figures name the parameters they
// came from, its audit record says so to supervisors, and brokerctl report
// verify prints them; an Anyang household made ineligible by a car, on
// Henan's published vehicle rule, lists none.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "stack.hpp"

using hfv::testing::https;
using hfv::testing::member;
using hfv::testing::Stack;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kHarbin = "230102197503120016";  // small savings, nothing else
constexpr const char* kAnyang = "410502197001010023";  // a car, nothing else

fs::path write_dataset(const fs::path& dir) {
  const json bank = json::array(
      {{{"bank", "中国工商银行"}, {"account", "6222020200112233445"}, {"balance", "8200.50"}, {"as_of", "2024-11-01"}}});
  const json car = json::array({{{"plate", "豫E12345"},
                                 {"type", "car"},
                                 {"purchase_price", "60000.00"},
                                 {"registered", "2019-04-01"},
                                 {"mobility_aid", false}}});
  return hfv::testing::write_persons(
      dir, "provisional-dataset.json",
      {{kHarbin, hfv::testing::answered_person("测试", {{"bank", bank}})},
       {kAnyang, hfv::testing::answered_person("测试", {{"vehicle", car}}, "410502")}});
}

std::vector<std::string> names(const json& parameters) {
  std::vector<std::string> out;
  for (const auto& p : parameters) out.push_back(p["name"].get<std::string>());
  return out;
}

// The policy file's own entry for a dated value (what the report must copy).
json file_entry(const std::string& code, const std::string& group, const std::string& area,
                const std::string& from) {
  std::ifstream in(hfv::testing::kSource / "policies" / "data" / (code + ".json"));
  const json file = json::parse(in);
  for (const auto& e : file["parameters"][group][area]) {
    if (e["from"] == from) return e;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("e2e: a report lists the example parameter values its outcome rests on, and none when there are none",
          "[integration][e2e][provisional]") {
  hfv::testing::TempDir data{"hfv-provisional-data"};
  Stack s({}, write_dataset(data.path));
  const auto verify = [&s](const char* case_id, const char* jurisdiction, const char* date, const char* id) {
    const std::string auth = s.register_authorization(case_id, json::array({id}), jurisdiction);
    const json body = {{"case_id", case_id},   {"programme", "dibao"},        {"jurisdiction", jurisdiction},
                       {"area", "urban"},      {"reference_date", date},      {"authorization_id", auth},
                       {"members", json::array({member(id, "测试", "applicant")})},
                       {"obligors", json::array()}};  // none: Harbin's support fee is assessed
    auto r = https("POST", s.url + "/v1/verifications", s.case_system, body.dump(), s.operator_header());
    INFO(r.body);
    REQUIRE(r.status == 200);
    return r.body;
  };

  // Harbin 2024-11-01: eligible on the example standard 860.00, the example
  // list of monetary sources, the example vehicle types and the example
  // look-back window (nothing was deducted, no obligor was assessed).
  const std::string harbin_text = verify("HRB-PV-1", "230100", "2024-11-01", kHarbin);
  const json harbin = json::parse(harbin_text);
  CHECK(harbin["outcome"] == "eligible");
  CHECK(names(harbin["provisional_parameters"]) ==
        std::vector<std::string>{"dibao_standard_monthly.urban", "monetary_asset_sources",
                                 "vehicle_disqualifying_types", "income_lookback_months"});
  const json standard = harbin["provisional_parameters"][0];
  const json entry = file_entry("230100", "dibao_standard_monthly", "urban", "2024-01-01");
  REQUIRE(entry.is_object());
  CHECK(standard == json{{"name", "dibao_standard_monthly.urban"},
                         {"value", "860.00"},
                         {"effective_from", "2024-01-01"},
                         {"reference", entry["reference"]},
                         {"example", true}});
  for (const auto& p : harbin["provisional_parameters"]) CHECK(p["example"] == true);
  // Each figure names the parameters it came from.
  REQUIRE(harbin["figure_parameters"].size() == harbin["figures"].size());
  for (const auto& [figure, value] : harbin["figures"].items()) CHECK(harbin["figure_parameters"].contains(figure));
  CHECK(harbin["figure_parameters"]["standard_monthly"] == json::array({standard}));
  CHECK(names(harbin["figure_parameters"]["savings_cap_per_capita"]) ==
        std::vector<std::string>{"dibao_standard_monthly.urban", "savings_cap_months"});
  CHECK(harbin["figures"]["savings_cap_per_capita"] == "20640.00");  // 24 x 860.00

  // Anyang 2022-11-01: a car disqualifies under Henan's published rule
  // (trust O): the outcome rests on no example value.
  const std::string anyang_text = verify("AY-PV-1", "410500", "2022-11-01", kAnyang);
  const json anyang = json::parse(anyang_text);
  CHECK(anyang["outcome"] == "ineligible");
  const json* vehicle = nullptr;
  for (const auto& r : anyang["rules"]) {
    if (r["rule"] == "vehicle-ownership") vehicle = &r;
  }
  REQUIRE(vehicle != nullptr);
  CHECK((*vehicle)["result"] == "fail");
  for (const auto& p : (*vehicle)["parameters"]) CHECK(p["example"] == false);
  CHECK(anyang["provisional_parameters"] == json::array());
  // The standard it did not need is an example all the same: it is in the
  // figures' provenance, not in what the outcome rests on.
  CHECK(anyang["figure_parameters"]["standard_monthly"][0]["example"] == true);

  // The supervisor sees it in the audit log (the Harbin record; the demo
  // supervisor covers 2301 only).
  const json search = {{"case_id", "HRB-PV-1"}, {"action", "verification.report"}};
  auto found = https("POST", s.url + "/v1/audit/search", s.supervisor, search.dump());
  REQUIRE(found.status == 200);
  const json hits = json::parse(found.body);
  REQUIRE(hits["count"] == 1);
  CHECK(hits["records"][0]["record"]["detail"] ==
        "provisional: dibao_standard_monthly.urban=860.00 (from 2024-01-01); "
        "monetary_asset_sources=bank,securities,insurance,internet_finance (from 2023-05-30); "
        "vehicle_disqualifying_types=car,motorcycle,truck (from 2023-05-30); "
        "income_lookback_months=12 (from 2023-05-30)");

  // brokerctl report verify prints them from the saved, signed report.
  auto key = https("GET", s.url + "/v1/keys/report-signing", s.case_system);
  REQUIRE(key.status == 200);
  const fs::path pem = s.dir.path / "broker-public.pem";
  std::ofstream(pem) << json::parse(key.body)["public_key_pem"].get<std::string>();
  const auto show = [&](const char* name, const std::string& text) {
    const fs::path saved = s.dir.path / (std::string(name) + ".json");
    std::ofstream(saved) << text;
    const fs::path out = s.dir.path / (std::string(name) + ".txt");
    hfv::testing::Process p({BROKERCTL_BIN, "report", "verify", saved.string(), "--public-key", pem.string()}, out);
    REQUIRE(p.stop(0, std::chrono::seconds(30)) == 0);
    return hfv::testing::read_file(out);
  };
  const std::string printed = show("harbin", harbin_text);
  INFO(printed);
  CHECK(printed.find("(outcome eligible)") != std::string::npos);
  CHECK(printed.find("provisional parameters: the outcome rests on 4 example value(s)") != std::string::npos);
  CHECK(printed.find("\n  dibao_standard_monthly.urban = 860.00 (from 2024-01-01; " +
                     entry["reference"].get<std::string>() + ")\n") != std::string::npos);
  const std::string none = show("anyang", anyang_text);
  INFO(none);
  CHECK(none.find("provisional parameters: none") != std::string::npos);
}
