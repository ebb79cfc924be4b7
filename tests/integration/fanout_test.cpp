// Fan-out across all eleven agencies with the real agency-sim and brokerd
// processes (nothing mocked): a 4-member household asked of every agency;
// one agency failing (sources failed, outcome never eligible); the circuit
// breaker opening, refusing without sending, and recovering; categories the
// authorisation does not allow never asked; the verification deadline
// cancelling outstanding queries, audited as such; and a caller that hangs
// up calling off its verification's outstanding queries. Faults are switched at
// run time through the simulator's POST /_sim/faults; which agencies were
// asked is read from its request log.
#include <catch2/catch.hpp>

#include <regex>

#include <curl/curl.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "crypto/hash.hpp"
#include "stack.hpp"

using hfv::testing::https;
using hfv::testing::member;
using hfv::testing::read_file;
using hfv::testing::Stack;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kAgencies = {"hukou",      "tax",      "social_insurance", "real_estate",
                                            "vehicle",    "bank",     "securities",       "business",
                                            "provident_fund", "insurance", "internet_finance"};
const std::vector<std::string> kIds = {"230102197503120016", "230102197808050020", "230103195901200035",
                                       "230104198206300042"};

// A poor household with records at every agency (so every source is "ok").
json household_records(const std::string& name, int i) {
  const std::string n = std::to_string(i);
  return {{"hukou", {{"name", name}, {"division", "230102"}, {"status", "normal"}}},
          {"tax", json::array({{{"period", "2024-09"}, {"item", "wages"}, {"amount", "300.00"}}})},
          {"social_insurance",
           {{"contributions", json::array()},
            {"benefits", json::array({{{"period", "2024-09"}, {"type", "residents_pension"}, {"amount", "150.00"},
                                       {"basic_part", "150.00"}}})}}},
          {"real_estate", json::array({{{"cert_no", "黑(2009)哈尔滨市房权证第000" + n + "号"},
                                        {"use", "residential"}, {"area_m2", "12.00"}, {"share", 25}}})},
          {"vehicle", json::array()},
          {"bank", json::array({{{"bank", "中国银行"}, {"account", "601382000012345678" + n},
                                 {"balance", "100.00"}, {"as_of", "2024-10-31"}}})},
          {"securities", json::array()},
          {"business", json::array()},
          {"provident_fund", {{"balance", "0.00"}, {"monthly_deposit", "0.00"}}},
          {"insurance", json::array()},
          {"internet_finance", json::array()}};
}

fs::path write_dataset(const fs::path& dir) {
  json persons = json::object();
  const char* names[] = {"张伟", "李娜", "张建国", "张小红"};
  for (std::size_t i = 0; i < kIds.size(); ++i) persons[kIds[i]] = household_records(names[i], static_cast<int>(i));
  fs::create_directories(dir);
  const fs::path file = dir / "fanout-dataset.json";
  std::ofstream(file) << json{{"persons", persons}}.dump();
  return file;
}

json household() {
  return json::array({member(kIds[0].c_str(), "张伟", "applicant"), member(kIds[1].c_str(), "李娜", "spouse"),
                      member(kIds[2].c_str(), "张建国", "parent"), member(kIds[3].c_str(), "张小红", "sibling")});
}

// The simulator's request log lines (agency, person_sha256, status, fault).
std::vector<json> sim_requests(const Stack& s) {
  std::vector<json> out;
  std::istringstream lines(read_file(s.dir.path / "sim-requests.ndjson"));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

std::map<std::string, int> requests_by_agency(const std::vector<json>& lines, std::size_t from = 0) {
  std::map<std::string, int> out;
  for (std::size_t i = from; i < lines.size(); ++i) ++out[lines[i]["agency"].get<std::string>()];
  return out;
}

std::string register_auth(Stack& s, const std::string& case_id, const json& categories) {
  json ids = json::array();
  for (const auto& id : kIds) ids.push_back(id);
  const json body = {{"case_id", case_id},        {"jurisdiction", "230100"}, {"members", ids},
                     {"categories", categories},  {"valid_from", "2026-01-01"},
                     {"valid_until", "2027-12-31"}, {"form_sha256", std::string(64, 'f')}};
  auto r = https("POST", s.url + "/v1/authorizations", s.case_system, body.dump(), s.operator_header());
  INFO(r.body);
  REQUIRE(r.status == 201);
  return json::parse(r.body)["authorization_id"].get<std::string>();
}

// A forced verification (the fair-use window would otherwise replay the last report).
json verify(Stack& s, const std::string& case_id, const std::string& auth) {
  const json body = {{"case_id", case_id},        {"programme", "dibao"},   {"jurisdiction", "230100"},
                     {"area", "urban"},           {"reference_date", "2024-11-01"},
                     {"authorization_id", auth}, {"members", household()}, {"force", true},
                     {"obligors", json::array()}};
  auto r = https("POST", s.url + "/v1/verifications", s.case_system, body.dump(), s.operator_header());
  INFO(r.body);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

std::vector<json> sources_of(const json& report, const std::string& agency) {
  std::vector<json> out;
  for (const auto& s : report["sources"]) {
    if (s["source"] == agency) out.push_back(s);
  }
  return out;
}

// Time bounds with room for a loaded sanitizer build: a 5 s verification
// deadline (a healthy verification takes a small fraction of it), agency
// request timeouts far beyond it (only the deadline can cut a hanging
// query), and a breaker cool-down far longer than one verification, whose
// end the tests wait for as an event (/metrics), never sleep for.
constexpr int kDeadlineMs = 5000;

void adjust(json& config, const fs::path&) {
  config["verification_deadline_ms"] = kDeadlineMs;
  for (auto& [name, agency] : config["agencies"].items()) agency["timeout_ms"] = 60000;
  config["agencies"]["bank"]["breaker_failures"] = 3;
  config["agencies"]["bank"]["breaker_cooldown_ms"] = 5000;
  config["agencies"]["bank"]["max_attempts"] = 1;
}

// Waits (polling /metrics as the supervisor) until `agency`'s breaker is in
// `state`; returns whether it got there within a minute.
bool wait_for_breaker(Stack& s, const std::string& agency, const std::string& state) {
  const std::string sample = "hfv_agency_breaker_state{agency=\"" + agency + "\",state=\"" + state + "\"} 1\n";
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until) {
    auto r = https("GET", s.url + "/metrics", s.supervisor);
    if (r.status == 200 && r.body.find(sample) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace

TEST_CASE("fanout: 4 members x 11 agencies, categories respected, deadline cancels and is audited",
          "[integration][fanout]") {
  hfv::testing::TempDir data("hfv-fanout-data");
  Stack s(adjust, write_dataset(data.path));

  // `brokerd init` configures every agency.
  const json config = json::parse(read_file(s.broker_dir / "brokerd.json"));
  for (const auto& a : kAgencies) CHECK(config["agencies"].contains(a));
  CHECK(config["agencies"].size() == kAgencies.size());

  // Everything answers: 44 sources, all ok, and the simulator saw every agency about every member.
  const std::string all = register_auth(s, "HRB-F-1", "all");
  const json report = verify(s, "HRB-F-1", all);
  REQUIRE(report["sources"].size() == 44);
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& src : report["sources"]) {
    INFO(src.dump());
    CHECK(src["status"] == "ok");
    CHECK(src["attempts"] == 1);
    CHECK(src["evidence_sha256"].get<std::string>().size() == 64);
    CHECK_FALSE(src.contains("breaker"));
    seen.emplace(src["member"], src["source"]);
  }
  CHECK(seen.size() == 44);
  CHECK(report["outcome"] == "eligible");  // a poor household, every source answered
  auto lines = sim_requests(s);
  const auto by_agency = requests_by_agency(lines);
  CHECK(by_agency.size() == kAgencies.size());
  for (const auto& a : kAgencies) CHECK(by_agency.count(a) == 1);
  for (const auto& [agency, n] : by_agency) CHECK(n == 4);  // one page per member

  // An authorisation for three categories: nobody else is asked, the rest is "denied".
  const std::set<std::string> allowed = {"hukou", "tax", "bank"};
  const std::string some = register_auth(s, "HRB-F-2", json::array({"hukou", "tax", "bank"}));
  std::size_t from = lines.size();
  const json limited = verify(s, "HRB-F-2", some);
  lines = sim_requests(s);
  const auto asked = requests_by_agency(lines, from);
  CHECK(asked.size() == allowed.size());
  for (const auto& [agency, n] : asked) {
    INFO(agency);
    CHECK(allowed.count(agency) == 1);
    CHECK(n == 4);
  }
  REQUIRE(limited["sources"].size() == 44);
  for (const auto& src : limited["sources"]) {
    INFO(src.dump());
    CHECK(src["status"] == (allowed.count(src["source"]) ? "ok" : "denied"));
    if (src["status"] == "denied") CHECK(src["attempts"] == 0);
  }
  CHECK(limited["outcome"] != "eligible");  // most of the picture is missing

  // An agency that never answers: the verification deadline cancels its
  // queries (their own timeout is a minute).
  s.set_faults({{"vehicle", {{"all", "timeout"}}}});
  const auto started = std::chrono::steady_clock::now();
  const json late = verify(s, "HRB-F-1", all);
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took >= std::chrono::milliseconds(kDeadlineMs - 100));
  CHECK(took < std::chrono::milliseconds(kDeadlineMs + 15000));
  const auto vehicle = sources_of(late, "vehicle");
  REQUIRE(vehicle.size() == 4);
  for (const auto& src : vehicle) {
    INFO(src.dump());
    CHECK(src["status"] == "timeout");
    CHECK(src["detail"].get<std::string>().starts_with("cancelled: verification deadline passed"));
  }
  CHECK(late["outcome"] == "indeterminate");
  for (const auto& src : late["sources"]) {
    if (src["source"] != "vehicle") CHECK(src["status"] == "ok");
  }
  s.set_faults({{"vehicle", nullptr}});

  // The audit log holds one record per member listing what each agency
  // asked answered; the cancelled queries say so.
  const auto records = s.audit_records();
  int members = 0;
  int queries = 0;
  int cancelled = 0;
  for (const auto& body : records) {
    if (body["action"] != "agency.answers") continue;
    ++members;
    for (const auto& answer : body["answers"]) {
      ++queries;
      if (body.value("request_id", "") != late["verification_id"]) continue;
      if (answer["source"] == "vehicle") {
        CHECK(answer["status"] == "timeout");
        if (answer.value("detail", "").find("cancelled: verification deadline passed") != std::string::npos) ++cancelled;
      } else {
        CHECK(answer["status"] == "ok");
      }
    }
  }
  CHECK(members == 4 + 4 + 4);
  CHECK(queries == 44 + 12 + 44);  // asked sources only: 11x4, 3x4, 11x4
  CHECK(cancelled == 4);
}

TEST_CASE("fanout: a failing agency fails its sources, never eligible, and the breaker opens and recovers",
          "[integration][fanout]") {
  hfv::testing::TempDir data("hfv-fanout-data");
  Stack s(adjust, write_dataset(data.path));
  const std::string auth = register_auth(s, "HRB-F-3", "all");

  const json healthy = verify(s, "HRB-F-3", auth);
  const std::string healthy_outcome = healthy["outcome"];
  CHECK(healthy_outcome == "eligible");

  // The bank fails: its sources are errors, the savings rule it feeds cannot
  // be decided, so the household is indeterminate (never eligible).
  s.set_faults({{"bank", {{"all", "error_500"}}}});
  std::size_t from = sim_requests(s).size();
  const json failing = verify(s, "HRB-F-3", auth);
  CHECK(requests_by_agency(sim_requests(s), from)["bank"] == 4);
  CHECK(failing["outcome"] == "indeterminate");
  for (const auto& src : sources_of(failing, "bank")) {
    INFO(src.dump());
    CHECK(src["status"] == "error");
    CHECK(src["breaker"] == "open");  // 3 consecutive failures opened it
  }
  for (const auto& src : failing["sources"]) {
    if (src["source"] != "bank") CHECK(src["status"] == "ok");
  }
  // Operators see it in the log: the agency and the kind, never who.
  {
    const std::string log = hfv::testing::read_file(s.dir.path / "brokerd.log");
    const auto line_at = log.find("\"event\":\"agency_failed\"");
    REQUIRE(line_at != std::string::npos);
    const std::string line = log.substr(log.rfind('\n', line_at) + 1, log.find('\n', line_at) - log.rfind('\n', line_at) - 1);
    INFO(line);
    CHECK(line.find("\"agency\":\"bank\"") != std::string::npos);
    CHECK(line.find("\"kind\":\"server_error\"") != std::string::npos);
    CHECK_FALSE(std::regex_search(line, std::regex("[0-9]{17}[0-9Xx]")));  // no ID number
  }

  // Open: the bank is not asked at all, its sources say why.
  from = sim_requests(s).size();
  const json refused = verify(s, "HRB-F-3", auth);
  CHECK(requests_by_agency(sim_requests(s), from).count("bank") == 0);
  CHECK(refused["outcome"] == "indeterminate");
  for (const auto& src : sources_of(refused, "bank")) {
    INFO(src.dump());
    CHECK(src["status"] == "error");
    CHECK(src["detail"] == "circuit open");
    CHECK(src["attempts"] == 0);
    CHECK(src["breaker"] == "open");
  }

  // The bank recovers; after the cool-down one probe (half-open) closes the breaker.
  s.set_faults({{"bank", nullptr}});
  REQUIRE(wait_for_breaker(s, "bank", "half_open"));
  from = sim_requests(s).size();
  const json probing = verify(s, "HRB-F-3", auth);
  CHECK(requests_by_agency(sim_requests(s), from)["bank"] == 1);
  const auto probe_sources = sources_of(probing, "bank");
  CHECK(std::count_if(probe_sources.begin(), probe_sources.end(),
                      [](const json& src) { return src["status"] == "ok"; }) == 1);
  for (const auto& src : probe_sources) CHECK_FALSE(src.contains("breaker"));  // closed by the probe

  const json recovered = verify(s, "HRB-F-3", auth);
  for (const auto& src : sources_of(recovered, "bank")) {
    INFO(src.dump());
    CHECK(src["status"] == "ok");
    CHECK_FALSE(src.contains("breaker"));
  }
  CHECK(recovered["outcome"] == healthy_outcome);
}

TEST_CASE("fanout: a caller that disconnects calls off the outstanding agency queries, audited as cancelled",
          "[integration][fanout][cancel]") {
  hfv::testing::TempDir data("hfv-fanout-data");
  Stack s([](json& config, const fs::path& dir) {
            adjust(config, dir);
            config["verification_deadline_ms"] = 60000;  // far beyond the caller's patience
            for (auto& [name, agency] : config["agencies"].items()) agency["timeout_ms"] = 60000;
          },
          write_dataset(data.path));
  const std::string auth = register_auth(s, "HRB-F-9", "all");
  // No agency answers: without the cancellation the queries would run to the 60 s deadline.
  json faults = json::object();
  for (const auto& a : kAgencies) faults[a] = {{"all", "timeout"}};
  s.set_faults(faults);
  const std::size_t from = sim_requests(s).size();

  const json body = {{"case_id", "HRB-F-9"},      {"programme", "dibao"},   {"jurisdiction", "230100"},
                     {"area", "urban"},           {"reference_date", "2024-11-01"},
                     {"authorization_id", auth}, {"members", household()}, {"force", true},
                     {"obligors", json::array()}};
  auto headers = s.operator_header();
  headers.push_back("Idempotency-Key: hang-up-1");
  // The caller hangs up once every agency has been asked (an event in the
  // simulator's request log, not a guess at how long that takes).
  const auto hung_up = https("POST", s.url + "/v1/verifications", s.case_system, body.dump(), headers, 60000,
                             [&] {
                               try {
                                 return requests_by_agency(sim_requests(s), from).size() == kAgencies.size();
                               } catch (const json::exception&) {
                                 return false;  // a line still being written: ask again
                               }
                             });
  REQUIRE(hung_up.status == 0);  // the client gave up
  CHECK(hung_up.curl_error.find("callback") != std::string::npos);  // by hanging up, not by its timeout
  const auto hung_up_at = std::chrono::steady_clock::now();

  // The verification ends as cancelled long before its 60 s deadline (the
  // wait's ceiling leaves room for a loaded sanitizer build).
  json ended;
  while (std::chrono::steady_clock::now() - hung_up_at < std::chrono::seconds(30) && ended.is_null()) {
    auto r = https("GET", s.url + "/v1/audit?action=verification.cancelled", s.supervisor);
    REQUIRE(r.status == 200);
    const json found = json::parse(r.body);
    if (found["count"].get<int>() > 0) ended = found["records"][0]["record"];
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE_FALSE(ended.is_null());
  CHECK(ended["status"] == "cancelled");
  CHECK(ended["detail"].get<std::string>().find("the caller disconnected") != std::string::npos);
  const std::string id = ended["request_id"];

  // The agencies were asked (the queries were in flight when it was called off) ...
  CHECK(requests_by_agency(sim_requests(s), from).size() == kAgencies.size());
  // ... and every query is audited as cancelled; no report was issued.
  auto rows = https("GET", s.url + "/v1/audit?case_id=HRB-F-9&limit=1000", s.supervisor);
  REQUIRE(rows.status == 200);
  const json audited = json::parse(rows.body);  // named: the loop needs it alive
  int queries = 0, cancelled = 0, reports = 0;
  for (const auto& row : audited["records"]) {
    const json& r = row["record"];
    if (r.value("request_id", "") != id) continue;
    if (r["action"] == "agency.answers") {
      for (const auto& answer : r["answers"]) {
        ++queries;
        if (answer["status"] == "cancelled") ++cancelled;
      }
    }
    if (r["action"] == "verification.report") ++reports;
  }
  CHECK(queries == 44);
  CHECK(cancelled == 44);
  CHECK(reports == 0);
  // The broker's own request log counts it, as nginx would: 499, client closed request.
  CHECK(read_file(s.dir.path / "brokerd.log").find("\"status\":499") != std::string::npos);

  // Its state says so, and the caller's retry with the same Idempotency-Key
  // runs a new verification (the agencies answer again).
  auto gone = https("GET", s.url + "/v1/verifications/" + id, s.case_system, "", s.operator_header());
  CHECK(gone.status == 410);
  CHECK(json::parse(gone.body)["error"] == "verification_cancelled");
  json cleared = json::object();
  for (const auto& a : kAgencies) cleared[a] = nullptr;
  s.set_faults(cleared);
  auto retried = https("POST", s.url + "/v1/verifications", s.case_system, body.dump(), headers);
  INFO(retried.body.substr(0, 2000));
  REQUIRE(retried.status == 200);
  const json report = json::parse(retried.body);
  CHECK(report["verification_id"] != id);
  CHECK(report["outcome"] == "eligible");
  for (const auto& src : report["sources"]) CHECK(src["status"] == "ok");  // no breaker opened by the cut queries
}
