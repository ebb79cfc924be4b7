#include <catch2/catch.hpp>

#include "broker/verification/request.hpp"

using hfv::Date;
using nlohmann::json;
namespace b = hfv::broker;

namespace {
const Date kToday = *Date::parse("2026-11-22");

json valid_request() {
  return {{"case_id", "HRB-2026-0001"},
          {"programme", "dibao"},
          {"jurisdiction", "230100"},
          {"area", "urban"},
          {"reference_date", "2026-11-01"},
          {"authorization_id", "auth_1"},
          {"members", json::array({{{"id_number", "230102197503120016"}, {"name", "张伟"}, {"relation", "applicant"}},
                                   {{"id_number", "230102197808050020"}, {"name", "李娜"}, {"relation", "spouse"},
                                    {"disability_grade", 2}, {"employed", true}}})}};
}

b::FieldError error_of(const json& body) {
  auto parsed = b::parse_verification_request(body, kToday);
  REQUIRE(std::holds_alternative<b::FieldError>(parsed));
  return std::get<b::FieldError>(parsed);
}
}  // namespace

TEST_CASE("unit: A valid verification request parses", "[request]") {
  auto parsed = b::parse_verification_request(valid_request(), kToday);
  REQUIRE(std::holds_alternative<b::VerificationRequest>(parsed));
  const auto& r = std::get<b::VerificationRequest>(parsed);
  CHECK(r.members.size() == 2);
  CHECK(r.members[1].disability_grade == 2);
  CHECK(r.members[1].employed);
  CHECK(r.reference_date.to_string() == "2026-11-01");
}

TEST_CASE("unit: disability_kind takes each kind of the enumeration, and nothing else", "[request]") {
  const std::vector<std::string> kinds = {"visual",       "hearing", "speech",  "physical",
                                          "intellectual", "mental",  "multiple"};
  for (const auto& kind : kinds) {
    INFO(kind);
    json body = valid_request();
    body["members"][1]["disability_kind"] = kind;
    auto parsed = b::parse_verification_request(body, kToday);
    REQUIRE(std::holds_alternative<b::VerificationRequest>(parsed));
    CHECK(std::get<b::VerificationRequest>(parsed).members[1].disability_kind == kind);
  }
  json body = valid_request();
  body["members"][1]["disability_kind"] = "psychological";
  const auto e = error_of(body);
  CHECK(e.field == "members[1].disability_kind");
  for (const auto& kind : kinds) CHECK(e.message.find(kind) != std::string::npos);  // names the choices
}

TEST_CASE("unit: current_benefit parses, since up to and including the reference date", "[request]") {
  json body = valid_request();
  auto plain = b::parse_verification_request(body, kToday);
  REQUIRE(std::holds_alternative<b::VerificationRequest>(plain));
  CHECK_FALSE(std::get<b::VerificationRequest>(plain).current_benefit.has_value());
  body["current_benefit"] = {{"programme", "dibao"}, {"since", "2026-11-01"}};
  auto parsed = b::parse_verification_request(body, kToday);
  REQUIRE(std::holds_alternative<b::VerificationRequest>(parsed));
  const auto& cb = std::get<b::VerificationRequest>(parsed).current_benefit;
  REQUIRE(cb.has_value());
  CHECK(cb->programme == hfv::policies::Programme::kDibao);
  CHECK(cb->since.to_string() == "2026-11-01");
  CHECK_FALSE(cb->gradual_exit_until.has_value());
  CHECK_FALSE(cb->self_reported.has_value());
  body["current_benefit"]["gradual_exit_until"] = "2026-11-01";
  body["current_benefit"]["self_reported"] = false;
  auto full = b::parse_verification_request(body, kToday);
  REQUIRE(std::holds_alternative<b::VerificationRequest>(full));
  const auto& f = std::get<b::VerificationRequest>(full).current_benefit;
  CHECK(f->gradual_exit_until->to_string() == "2026-11-01");
  CHECK(f->self_reported == false);
}

TEST_CASE("unit: obligors parse as declared figures, absent and empty kept apart", "[request]") {
  json body = valid_request();
  auto absent = b::parse_verification_request(body, kToday);
  REQUIRE(std::holds_alternative<b::VerificationRequest>(absent));
  CHECK_FALSE(std::get<b::VerificationRequest>(absent).obligors.has_value());
  body["obligors"] = json::array();
  auto none = b::parse_verification_request(body, kToday);
  REQUIRE(std::holds_alternative<b::VerificationRequest>(none));
  REQUIRE(std::get<b::VerificationRequest>(none).obligors.has_value());
  CHECK(std::get<b::VerificationRequest>(none).obligors->empty());
  body["obligors"] = json::array({{{"members", 3},
                                   {"disposable_income_monthly", "6200.50"},
                                   {"rigid_spending_monthly", "800.00"},
                                   {"evidence_sha256", std::string(64, 'c')}},
                                  {{"members", 1}, {"receives_assistance", true}}});
  auto two = b::parse_verification_request(body, kToday);
  REQUIRE(std::holds_alternative<b::VerificationRequest>(two));
  const auto& o = *std::get<b::VerificationRequest>(two).obligors;
  REQUIRE(o.size() == 2);
  CHECK(o[0].member_count == 3);
  CHECK(o[0].disposable_income_monthly->fen() == 620050);
  CHECK(o[0].rigid_spending_monthly.fen() == 80000);
  CHECK(o[0].evidence_sha256 == std::string(64, 'c'));
  CHECK_FALSE(o[0].receives_assistance);
  CHECK(o[1].receives_assistance);
  CHECK_FALSE(o[1].disposable_income_monthly.has_value());
}

TEST_CASE("unit: rigid_spending and emergency parse for their own programme", "[request]") {
  const std::string hash(64, 'c');
  json expenditure = valid_request();
  expenditure["programme"] = "expenditure";
  expenditure["rigid_spending"] = {
      {{"kind", "hospital_treatment"}, {"amount", "1200.50"}, {"period", "monthly"}, {"evidence_sha256", hash}},
      {{"kind", "schooling"}, {"amount", "3600"}, {"period", "window"}, {"evidence_sha256", hash}}};
  auto parsed = b::parse_verification_request(expenditure, kToday);
  REQUIRE(std::holds_alternative<b::VerificationRequest>(parsed));
  const auto& spending = std::get<b::VerificationRequest>(parsed).rigid_spending;
  REQUIRE(spending.size() == 2);
  CHECK(spending[0].kind == "hospital_treatment");
  CHECK(spending[0].amount.to_string() == "1200.50");
  CHECK(spending[0].monthly);
  CHECK_FALSE(spending[1].monthly);
  CHECK(spending[1].amount.to_string() == "3600.00");
  CHECK(spending[1].evidence_sha256 == hash);

  json emergency = valid_request();
  emergency["programme"] = "emergency";
  emergency["emergency"] = {{"cause", "public_emergency"}, {"event_date", "2026-11-01"}, {"evidence_sha256", hash}};
  auto e = b::parse_verification_request(emergency, kToday);
  REQUIRE(std::holds_alternative<b::VerificationRequest>(e));
  const auto& em = std::get<b::VerificationRequest>(e).emergency;
  REQUIRE(em.has_value());
  CHECK(em->cause == "public_emergency");
  CHECK(em->event_date.to_string() == "2026-11-01");

  json amount = valid_request();
  amount["current_benefit"] = {
      {"programme", "dibao"}, {"since", "2024-03-01"}, {"monthly_amount", "1600.00"}, {"amount_set_on", "2024-03-01"}};
  auto a = b::parse_verification_request(amount, kToday);
  REQUIRE(std::holds_alternative<b::VerificationRequest>(a));
  const auto& cb = std::get<b::VerificationRequest>(a).current_benefit;
  CHECK(cb->monthly_amount->to_string() == "1600.00");
  CHECK(cb->amount_set_on->to_string() == "2024-03-01");

  json veteran = valid_request();
  veteran["members"][1]["disabled_serviceman_grade"] = 10;
  veteran["members"][1]["entitled_group_pension"] = true;
  auto v = b::parse_verification_request(veteran, kToday);
  REQUIRE(std::holds_alternative<b::VerificationRequest>(v));
  CHECK(std::get<b::VerificationRequest>(v).members[1].disabled_serviceman_grade == 10);
  CHECK(std::get<b::VerificationRequest>(v).members[1].entitled_group_pension);
  CHECK_FALSE(std::get<b::VerificationRequest>(v).members[0].disabled_serviceman_grade.has_value());
}

TEST_CASE("unit: Bad or missing hardship inputs are named with their reason", "[request]") {
  const std::string hash(64, 'c');
  const json item = {{"kind", "chronic_illness"}, {"amount", "300.00"}, {"period", "monthly"}, {"evidence_sha256", hash}};
  const auto expenditure = [&item](const std::function<void(json&)>& change) {
    return [&item, change](json& j) {
      j["programme"] = "expenditure";
      j["rigid_spending"] = json::array({item});
      change(j);
    };
  };
  const json declared = {{"cause", "other"}, {"event_date", "2026-10-01"}, {"evidence_sha256", hash}};
  const auto emergency = [&declared](const std::function<void(json&)>& change) {
    return [&declared, change](json& j) {
      j["programme"] = "emergency";
      j["emergency"] = declared;
      change(j);
    };
  };
  const auto amount = [](const std::function<void(json&)>& change) {
    return [change](json& j) {
      j["current_benefit"] = {
          {"programme", "dibao"}, {"since", "2025-01-01"}, {"monthly_amount", "800.00"}, {"amount_set_on", "2026-05-01"}};
      change(j);
    };
  };
  struct Case {
    const char* what;
    std::function<void(json&)> mutate;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"expenditure without spending", expenditure([](json& j) { j.erase("rigid_spending"); }), "rigid_spending"},
      {"spending for dibao", expenditure([](json& j) { j["programme"] = "dibao"; }), "rigid_spending"},
      {"spending not an array", expenditure([&item](json& j) { j["rigid_spending"] = item; }), "rigid_spending"},
      {"spending empty", expenditure([](json& j) { j["rigid_spending"] = json::array(); }), "rigid_spending"},
      {"21 entries",
       expenditure([&item](json& j) { j["rigid_spending"] = json(std::vector<json>(21, item)); }), "rigid_spending"},
      {"entry not an object", expenditure([](json& j) { j["rigid_spending"][0] = "x"; }), "rigid_spending[0]"},
      {"unknown entry field", expenditure([](json& j) { j["rigid_spending"][0]["member"] = 1; }),
       "rigid_spending[0].member"},
      {"bad kind", expenditure([](json& j) { j["rigid_spending"][0]["kind"] = "holiday"; }), "rigid_spending[0].kind"},
      {"missing kind", expenditure([](json& j) { j["rigid_spending"][0].erase("kind"); }), "rigid_spending[0].kind"},
      {"zero amount", expenditure([](json& j) { j["rigid_spending"][0]["amount"] = "0.00"; }),
       "rigid_spending[0].amount"},
      {"negative amount", expenditure([](json& j) { j["rigid_spending"][0]["amount"] = "-1.00"; }),
       "rigid_spending[0].amount"},
      {"three decimals", expenditure([](json& j) { j["rigid_spending"][0]["amount"] = "1.005"; }),
       "rigid_spending[0].amount"},
      {"number amount", expenditure([](json& j) { j["rigid_spending"][0]["amount"] = 300; }),
       "rigid_spending[0].amount"},
      {"amount over the bound", expenditure([](json& j) { j["rigid_spending"][0]["amount"] = "1000000.01"; }),
       "rigid_spending[0].amount"},
      {"bad period", expenditure([](json& j) { j["rigid_spending"][0]["period"] = "yearly"; }),
       "rigid_spending[0].period"},
      {"missing evidence", expenditure([](json& j) { j["rigid_spending"][0].erase("evidence_sha256"); }),
       "rigid_spending[0].evidence_sha256"},
      {"upper-case evidence",
       expenditure([](json& j) { j["rigid_spending"][0]["evidence_sha256"] = std::string(64, 'C'); }),
       "rigid_spending[0].evidence_sha256"},
      {"short evidence", expenditure([](json& j) { j["rigid_spending"][0]["evidence_sha256"] = "abc"; }),
       "rigid_spending[0].evidence_sha256"},
      {"emergency without declaration", emergency([](json& j) { j.erase("emergency"); }), "emergency"},
      {"declaration for temporary", emergency([](json& j) { j["programme"] = "temporary"; }), "emergency"},
      {"declaration not an object", emergency([](json& j) { j["emergency"] = "fire"; }), "emergency"},
      {"bad cause", emergency([](json& j) { j["emergency"]["cause"] = "boredom"; }), "emergency.cause"},
      {"event after the reference date", emergency([](json& j) { j["emergency"]["event_date"] = "2026-11-02"; }),
       "emergency.event_date"},
      {"impossible event date", emergency([](json& j) { j["emergency"]["event_date"] = "2026-02-30"; }),
       "emergency.event_date"},
      {"declaration without evidence", emergency([](json& j) { j["emergency"].erase("evidence_sha256"); }),
       "emergency.evidence_sha256"},
      {"unknown declaration field", emergency([](json& j) { j["emergency"]["amount"] = "1.00"; }), "emergency.amount"},
      {"amount without its date", amount([](json& j) { j["current_benefit"].erase("amount_set_on"); }),
       "current_benefit.amount_set_on"},
      {"date without the amount", amount([](json& j) { j["current_benefit"].erase("monthly_amount"); }),
       "current_benefit.monthly_amount"},
      {"zero current amount", amount([](json& j) { j["current_benefit"]["monthly_amount"] = "0"; }),
       "current_benefit.monthly_amount"},
      {"amount set after the reference date",
       amount([](json& j) { j["current_benefit"]["amount_set_on"] = "2026-11-02"; }), "current_benefit.amount_set_on"},
      {"amount set before since", amount([](json& j) { j["current_benefit"]["amount_set_on"] = "2024-12-31"; }),
       "current_benefit.amount_set_on"},
      {"serviceman grade 0", [](json& j) { j["members"][1]["disabled_serviceman_grade"] = 0; },
       "members[1].disabled_serviceman_grade"},
      {"serviceman grade 11", [](json& j) { j["members"][1]["disabled_serviceman_grade"] = 11; },
       "members[1].disabled_serviceman_grade"},
      {"serviceman grade as text", [](json& j) { j["members"][1]["disabled_serviceman_grade"] = "6"; },
       "members[1].disabled_serviceman_grade"},
      {"string entitled_group_pension", [](json& j) { j["members"][0]["entitled_group_pension"] = "yes"; },
       "members[0].entitled_group_pension"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    json body = valid_request();
    c.mutate(body);
    const auto e = error_of(body);
    CHECK(e.code == "invalid_field");
    CHECK(e.field == c.field);
    CHECK_FALSE(e.message.empty());
  }
}

TEST_CASE("unit: Each invalid field is named with its reason", "[request]") {
  struct Case {
    const char* what;
    std::function<void(json&)> mutate;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"missing case id", [](json& j) { j.erase("case_id"); }, "case_id"},
      {"bad programme", [](json& j) { j["programme"] = "welfare"; }, "programme"},
      {"short jurisdiction", [](json& j) { j["jurisdiction"] = "2301"; }, "jurisdiction"},
      {"bad area", [](json& j) { j["area"] = "suburban"; }, "area"},
      {"impossible date", [](json& j) { j["reference_date"] = "2026-02-30"; }, "reference_date"},
      {"future date", [](json& j) { j["reference_date"] = "2027-01-01"; }, "reference_date"},
      {"unknown field", [](json& j) { j["colour"] = "blue"; }, "colour"},
      {"member with an empty name", [](json& j) { j[""] = 1; }, "\"\""},
      {"member's field with an empty name", [](json& j) { j["members"][0][""] = 1; }, "members[0].\"\""},
      {"no members", [](json& j) { j["members"] = json::array(); }, "members"},
      {"bad checksum", [](json& j) { j["members"][1]["id_number"] = "230102197808050021"; }, "members[1].id_number"},
      {"duplicate member", [](json& j) { j["members"][1]["id_number"] = "230102197503120016"; }, "members[1].id_number"},
      {"empty name", [](json& j) { j["members"][0]["name"] = ""; }, "members[0].name"},
      {"grade 5", [](json& j) { j["members"][1]["disability_grade"] = 5; }, "members[1].disability_grade"},
      {"unknown disability kind", [](json& j) { j["members"][1]["disability_kind"] = "blind"; },
       "members[1].disability_kind"},
      {"disability kind in another language", [](json& j) { j["members"][1]["disability_kind"] = "肢体"; },
       "members[1].disability_kind"},
      {"disability kind in capitals", [](json& j) { j["members"][1]["disability_kind"] = "Physical"; },
       "members[1].disability_kind"},
      {"empty disability kind", [](json& j) { j["members"][1]["disability_kind"] = ""; },
       "members[1].disability_kind"},
      {"disability kind not a string", [](json& j) { j["members"][1]["disability_kind"] = 1; },
       "members[1].disability_kind"},
      {"unknown member field", [](json& j) { j["members"][0]["salary"] = 1; }, "members[0].salary"},
      {"two applicants", [](json& j) { j["members"][1]["relation"] = "applicant"; }, "members"},
      {"bad relation", [](json& j) { j["members"][1]["relation"] = "friend"; }, "members[1].relation"},
      {"string boolean", [](json& j) { j["members"][1]["employed"] = "yes"; }, "members[1].employed"},
      {"current benefit not an object", [](json& j) { j["current_benefit"] = "dibao"; }, "current_benefit"},
      {"current benefit without since",
       [](json& j) { j["current_benefit"] = {{"programme", "dibao"}}; }, "current_benefit.since"},
      {"current benefit without programme",
       [](json& j) { j["current_benefit"] = {{"since", "2025-01-01"}}; }, "current_benefit.programme"},
      {"current benefit of another programme",
       [](json& j) { j["current_benefit"] = {{"programme", "tekun"}, {"since", "2025-01-01"}}; },
       "current_benefit.programme"},
      {"impossible since",
       [](json& j) { j["current_benefit"] = {{"programme", "dibao"}, {"since", "2025-02-29"}}; },
       "current_benefit.since"},
      {"since after the reference date",
       [](json& j) { j["current_benefit"] = {{"programme", "dibao"}, {"since", "2026-11-02"}}; },
       "current_benefit.since"},
      {"since as a number",
       [](json& j) { j["current_benefit"] = {{"programme", "dibao"}, {"since", 20250101}}; },
       "current_benefit.since"},
      {"exit period ending before since",
       [](json& j) {
         j["current_benefit"] = {{"programme", "dibao"}, {"since", "2025-01-01"}, {"gradual_exit_until", "2024-12-31"}};
       },
       "current_benefit.gradual_exit_until"},
      {"bad exit period end",
       [](json& j) {
         j["current_benefit"] = {{"programme", "dibao"}, {"since", "2025-01-01"}, {"gradual_exit_until", "soon"}};
       },
       "current_benefit.gradual_exit_until"},
      {"string self_reported",
       [](json& j) { j["current_benefit"] = {{"programme", "dibao"}, {"since", "2025-01-01"}, {"self_reported", "yes"}}; },
       "current_benefit.self_reported"},
      {"unknown current benefit field",
       [](json& j) { j["current_benefit"] = {{"programme", "dibao"}, {"since", "2025-01-01"}, {"amount", "100.00"}}; },
       "current_benefit.amount"},
      {"obligors not an array", [](json& j) { j["obligors"] = json::object(); }, "obligors"},
      {"too many obligor households", [](json& j) { j["obligors"] = json::array(); for (int i = 0; i < 11; ++i) j["obligors"].push_back({{"members", 1}, {"receives_assistance", true}}); }, "obligors"},
      {"obligor not an object", [](json& j) { j["obligors"] = json::array({1}); }, "obligors[0]"},
      {"obligor without members",
       [](json& j) { j["obligors"] = json::array({{{"disposable_income_monthly", "1.00"}, {"rigid_spending_monthly", "0.00"}}}); },
       "obligors[0].members"},
      {"obligor with zero members",
       [](json& j) { j["obligors"] = json::array({{{"members", 0}, {"receives_assistance", true}}}); },
       "obligors[0].members"},
      {"obligor income missing",
       [](json& j) { j["obligors"] = json::array({{{"members", 2}, {"rigid_spending_monthly", "0.00"}}}); },
       "obligors[0].disposable_income_monthly"},
      {"obligor spending missing",
       [](json& j) { j["obligors"] = json::array({{{"members", 2}, {"disposable_income_monthly", "5000.00"}}}); },
       "obligors[0].rigid_spending_monthly"},
      {"obligor income negative",
       [](json& j) { j["obligors"] = json::array({{{"members", 2}, {"disposable_income_monthly", "-1.00"}, {"rigid_spending_monthly", "0.00"}}}); },
       "obligors[0].disposable_income_monthly"},
      {"obligor income a number",
       [](json& j) { j["obligors"] = json::array({{{"members", 2}, {"disposable_income_monthly", 5000}, {"rigid_spending_monthly", "0.00"}}}); },
       "obligors[0].disposable_income_monthly"},
      {"obligor spending with three decimals",
       [](json& j) { j["obligors"] = json::array({{{"members", 2}, {"disposable_income_monthly", "1.00"}, {"rigid_spending_monthly", "0.001"}}}); },
       "obligors[0].rigid_spending_monthly"},
      {"obligor assistance not a boolean",
       [](json& j) { j["obligors"] = json::array({{{"members", 2}, {"receives_assistance", "yes"}}}); },
       "obligors[0].receives_assistance"},
      {"obligor evidence not hex",
       [](json& j) { j["obligors"] = json::array({{{"members", 1}, {"receives_assistance", true}, {"evidence_sha256", std::string(64, 'G')}}}); },
       "obligors[0].evidence_sha256"},
      {"unknown obligor field",
       [](json& j) { j["obligors"] = json::array({{{"members", 1}, {"receives_assistance", true}, {"id_number", "x"}}}); },
       "obligors[0].id_number"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    json body = valid_request();
    c.mutate(body);
    const auto e = error_of(body);
    CHECK(e.code == "invalid_field");
    CHECK(e.field == c.field);
    CHECK_FALSE(e.message.empty());
  }
}

TEST_CASE("unit: Error messages never echo the submitted ID number", "[request]") {
  json body = valid_request();
  body["members"][1]["id_number"] = "230102197808050021";
  const auto e = error_of(body);
  CHECK(e.message.find("230102197808050021") == std::string::npos);
}

TEST_CASE("unit: JSON bodies are limited in depth and must be objects", "[request]") {
  std::string deep(40, '[');
  deep += std::string(40, ']');
  auto parsed = b::parse_json_body("{\"a\":" + deep + "}");
  REQUIRE(std::holds_alternative<b::FieldError>(parsed));
  CHECK(std::get<b::FieldError>(parsed).code == "too_deep");
  CHECK(std::get<b::FieldError>(b::parse_json_body("[1,2]")).code == "invalid_json");
  CHECK(std::get<b::FieldError>(b::parse_json_body("{\"a\":")).code == "invalid_json");
  CHECK(std::holds_alternative<json>(b::parse_json_body("{\"a\":[[[1]]]}")));
}

namespace {
b::FieldError body_error(const std::string& body) {
  auto parsed = b::parse_json_body(body);
  REQUIRE(std::holds_alternative<b::FieldError>(parsed));
  return std::get<b::FieldError>(parsed);
}
}  // namespace

TEST_CASE("unit: A string the JSON parser refuses is named by its path, with why", "[request][text]") {
  // Invalid UTF-8 in a value, at the top level and inside members.
  auto e = body_error("{\"case_id\":\"x\",\"a\":\"\xff\"}");
  CHECK(e.code == "invalid_field");
  CHECK(e.field == "a");
  CHECK(e.message == "is not valid UTF-8");
  e = body_error(R"({"members":[{"name":"ok"},{"id_number":"1","name":"\xc3\x28"}]})");
  CHECK(e.field == "members[1].name");
  CHECK(e.message == "is not valid UTF-8");
  // An overlong encoding of '/' and a UTF-8-encoded surrogate are not UTF-8 either.
  CHECK(body_error(R"({"members":[{"name":"\xc0\xaf"}]})").field == "members[0].name");
  CHECK(body_error(R"({"members":[{"name":"\xed\xa0\x80"}]})").field == "members[0].name");
  // Unpaired surrogate escapes, high and low.
  e = body_error(R"({"members":[{"name":"\ud800"}]})");
  CHECK(e.field == "members[0].name");
  CHECK(e.message.find("surrogate") != std::string::npos);
  CHECK(body_error(R"({"members":[{"name":"a\udc00b"}]})").field == "members[0].name");
  // A raw (unescaped) control character inside a string.
  e = body_error(std::string("{\"members\":[{\"name\":\"a") + '\x01' + "\"}]}");
  CHECK(e.field == "members[0].name");
  CHECK(e.message == "contains a control character");
  // In a field name: the object holding it is named.
  e = body_error(R"({"members":[{"name":"ok","\xff":1}]})");
  CHECK(e.field == "members[0]");
  CHECK(e.message.find("field name") != std::string::npos);
  // In an array of strings, after a nested object and array.
  CHECK(body_error(R"({"x":{"y":[1]},"categories":["bank","\xff"]})").field == "categories[1]");
  // Syntax errors stay invalid_json, with no field.
  e = body_error(R"({"a":1,})");
  CHECK(e.code == "invalid_json");
  CHECK(e.field.empty());
}

TEST_CASE("unit: Text fields refuse control characters, separators and direction marks, naming the field",
          "[request][text]") {
  for (const std::string& bad : {std::string("张\0伟", 7), std::string("a\x07"), std::string("tab\there"),
                                std::string("line\nbreak"), std::string("del\x7f"), std::string("c1\xc2\x85"),
                                std::string("rlo\xe2\x80\xae"), std::string("ls\xe2\x80\xa8"),
                                std::string("lrm\xe2\x80\x8e"), std::string("bom\xef\xbb\xbf"),
                                std::string("fsi\xe2\x81\xa8")}) {
    json body = valid_request();
    body["members"][1]["name"] = bad;
    const auto e = error_of(body);
    INFO(json(bad).dump());
    CHECK(e.code == "invalid_field");
    CHECK(e.field == "members[1].name");
    CHECK(e.message.find("must not contain") != std::string::npos);
  }
  // Every text field, not only names.
  json body = valid_request();
  body["case_id"] = std::string("HRB\0", 4);
  CHECK(error_of(body).field == "case_id");
  body = valid_request();
  body["members"][0]["relation"] = "applicant\n";
  CHECK(error_of(body).field == "members[0].relation");
  // Middle dot (ethnic names), CJK extension B and emoji are ordinary text.
  for (const std::string& good : {std::string("阿依古丽·买买提"), std::string("\xf0\xa0\x80\x80"), std::string("李\xf0\x9f\x98\x80")}) {
    body = valid_request();
    body["members"][1]["name"] = good;
    CHECK(std::holds_alternative<b::VerificationRequest>(b::parse_verification_request(body, kToday)));
  }
  CHECK_FALSE(b::text_problem("张伟").has_value());
  CHECK(b::text_problem(std::string(1, '\0')).has_value());
}

TEST_CASE("unit: A name's length is counted in characters, not bytes", "[request][text]") {
  std::string fifty;
  for (int i = 0; i < 50; ++i) fifty += "龘";  // 3 bytes each: 150 bytes
  json body = valid_request();
  body["members"][1]["name"] = fifty;
  CHECK(std::holds_alternative<b::VerificationRequest>(b::parse_verification_request(body, kToday)));
  body["members"][1]["name"] = fifty + "龘";
  const auto e = error_of(body);
  CHECK(e.field == "members[1].name");
  CHECK(e.message == "must be 1-50 characters");
  std::string ascii(50, 'a');
  body["members"][1]["name"] = ascii;
  CHECK(std::holds_alternative<b::VerificationRequest>(b::parse_verification_request(body, kToday)));
}

TEST_CASE("unit: Authorization requests are validated", "[request]") {
  json body = {{"case_id", "HRB-1"},
               {"jurisdiction", "230102"},
               {"members", {"230102197503120016"}},
               {"categories", {"bank", "securities"}},
               {"valid_from", "2026-01-01"},
               {"valid_until", "2026-12-31"},
               {"form_sha256", std::string(64, 'a')}};
  auto ok = b::parse_authorization_request(body, kToday);
  REQUIRE(std::holds_alternative<b::AuthorizationRequest>(ok));
  CHECK(std::get<b::AuthorizationRequest>(ok).categories.size() == 2);

  json all = body;
  all["categories"] = "all";
  CHECK(std::get<b::AuthorizationRequest>(b::parse_authorization_request(all, kToday)).all_categories);

  json bad = body;
  bad["categories"] = {"bank", "horoscope"};
  CHECK(std::get<b::FieldError>(b::parse_authorization_request(bad, kToday)).field == "categories[1]");
  bad = body;
  bad["valid_until"] = "2025-12-31";
  CHECK(std::get<b::FieldError>(b::parse_authorization_request(bad, kToday)).field == "valid_until");
  bad = body;
  bad["form_sha256"] = "abc";
  CHECK(std::get<b::FieldError>(b::parse_authorization_request(bad, kToday)).field == "form_sha256");
  // The jurisdiction it is registered for: required, six digits.
  CHECK(std::get<b::AuthorizationRequest>(b::parse_authorization_request(body, kToday)).jurisdiction == "230102");
  for (const json& wrong : {json(), json("2301"), json(230102), json("23010x")}) {
    bad = body;
    if (wrong.is_null()) bad.erase("jurisdiction");
    else bad["jurisdiction"] = wrong;
    INFO(wrong.dump());
    CHECK(std::get<b::FieldError>(b::parse_authorization_request(bad, kToday)).field == "jurisdiction");
  }
}
