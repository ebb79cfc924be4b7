// Asynchronous verifications, idempotency keys and the fair-use repeat
// window, against the real daemon and simulator.
#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include "stack.hpp"

using hfv::testing::https;
using hfv::testing::member;
using hfv::testing::Stack;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
json request_for(const std::string& auth) {
  return {{"case_id", "HRB-M-1"},          {"programme", "dibao"}, {"jurisdiction", "230100"},
          {"area", "urban"},               {"reference_date", "2024-11-01"},
          {"authorization_id", auth},      {"obligors", json::array()},
          {"members", json::array({member("230103195901200035", "王建国", "applicant")})}};
}
}  // namespace

TEST_CASE("api: asynchronous verification answers 202 then the report", "[integration][api][async]") {
  Stack s;
  const std::string auth = s.register_authorization("HRB-M-1", json::array({"230103195901200035"}));
  json body = request_for(auth);
  body["async"] = true;
  auto started = https("POST", s.url + "/v1/verifications", s.case_system, body.dump(), s.operator_header());
  INFO(started.body);
  REQUIRE(started.status == 202);
  const std::string id = json::parse(started.body)["verification_id"];
  json report;
  // Polled until it is ready; a minute is the ceiling for a loaded sanitizer build.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until) {
    auto polled = https("GET", s.url + "/v1/verifications/" + id, s.case_system, "", s.operator_header());
    if (polled.status == 200) {
      report = json::parse(polled.body);
      break;
    }
    REQUIRE(polled.status == 202);
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  REQUIRE(report.is_object());
  CHECK(report["verification_id"] == id);
  CHECK(report["outcome"] == "ineligible");
  // Another principal cannot see it.
  auto other = https("GET", s.url + "/v1/verifications/" + id, s.supervisor, "", s.operator_header());
  CHECK(other.status == 403);
  auto missing = https("GET", s.url + "/v1/verifications/ver_nope", s.case_system, "", s.operator_header());
  CHECK(missing.status == 404);
}

TEST_CASE("api: idempotency keys replay the same answer and refuse a different body",
          "[integration][api][idempotency]") {
  Stack s([](json& c, const std::filesystem::path&) { c["repeat_window_hours"] = 0; });  // isolate idempotency from fair use
  const std::string auth = s.register_authorization("HRB-M-1", json::array({"230103195901200035"}));
  auto headers = s.operator_header();
  headers.push_back("Idempotency-Key: case-HRB-M-1-try-1");
  const long before = s.sim_request_count();
  auto first = https("POST", s.url + "/v1/verifications", s.case_system, request_for(auth).dump(), headers);
  REQUIRE(first.status == 200);
  const long after_first = s.sim_request_count();
  CHECK(after_first > before);
  auto again = https("POST", s.url + "/v1/verifications", s.case_system, request_for(auth).dump(), headers);
  REQUIRE(again.status == 200);
  CHECK(json::parse(again.body) == json::parse(first.body));  // same signed report
  CHECK(s.sim_request_count() == after_first);                 // nobody asked twice
  json different = request_for(auth);
  different["programme"] = "marginal";
  auto conflict = https("POST", s.url + "/v1/verifications", s.case_system, different.dump(), headers);
  CHECK(conflict.status == 409);
  CHECK(json::parse(conflict.body)["error"] == "idempotency_conflict");
}

TEST_CASE("api: a repeat within the window returns the earlier report unless forced",
          "[integration][api][fair-use]") {
  Stack s;
  const std::string auth = s.register_authorization("HRB-M-1", json::array({"230103195901200035"}));
  auto first = https("POST", s.url + "/v1/verifications", s.case_system, request_for(auth).dump(),
                     s.operator_header());
  REQUIRE(first.status == 200);
  const long after_first = s.sim_request_count();
  auto repeat = https("POST", s.url + "/v1/verifications", s.case_system, request_for(auth).dump(),
                      s.operator_header());
  REQUIRE(repeat.status == 200);
  CHECK(json::parse(repeat.body)["verification_id"] == json::parse(first.body)["verification_id"]);
  CHECK(s.sim_request_count() == after_first);
  json forced = request_for(auth);
  forced["force"] = true;
  auto fresh = https("POST", s.url + "/v1/verifications", s.case_system, forced.dump(), s.operator_header());
  REQUIRE(fresh.status == 200);
  CHECK(json::parse(fresh.body)["verification_id"] != json::parse(first.body)["verification_id"]);
  CHECK(s.sim_request_count() > after_first);
}

TEST_CASE("api: a saved report verifies offline, and one changed character does not",
          "[integration][api][signature]") {
  Stack s;
  const std::string auth = s.register_authorization("HRB-M-1", json::array({"230103195901200035"}));
  auto r = https("POST", s.url + "/v1/verifications", s.case_system, request_for(auth).dump(), s.operator_header());
  REQUIRE(r.status == 200);
  const auto saved = s.dir.path / "report.json";
  std::ofstream(saved) << r.body;
  // The public key as a case system would fetch it.
  auto key = https("GET", s.url + "/v1/keys/report-signing", s.case_system);
  REQUIRE(key.status == 200);
  const auto pem = s.dir.path / "broker-public.pem";
  std::ofstream(pem) << json::parse(key.body)["public_key_pem"].get<std::string>();

  auto run = [&](const fs::path& report) {
    hfv::testing::Process p({BROKERCTL_BIN, "report", "verify", report.string(), "--public-key", pem.string()},
                            s.dir.path / "brokerctl.log");
    return p.stop(0, std::chrono::seconds(30));
  };
  CHECK(run(saved) == 0);
  std::string text = r.body;
  const auto at = text.find("\"outcome\":\"ineligible\"");
  REQUIRE(at != std::string::npos);
  text[at + 11] = 'I';  // "Ineligible"
  const auto tampered = s.dir.path / "tampered.json";
  std::ofstream(tampered) << text;
  CHECK(run(tampered) == 1);
}
