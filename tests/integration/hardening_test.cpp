// Hardening against input no one tuned for, on the real daemon and
// simulator (SQLCipher; nothing here depends on the backend): random
// mutations of a valid request, bodies a browser could be made to send
// cross-site, answers' headers, and text that must not reach agencies.
#include <catch2/catch.hpp>

#include <chrono>
#include <random>

#include "stack.hpp"

using hfv::testing::ClientTls;
using hfv::testing::https;
using hfv::testing::relax_rate_limit;
using hfv::testing::Stack;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const json kIds = {"230102197503120016", "230102197808050020"};

json valid_body(const std::string& auth, const std::string& case_id = "HRB-H-1") {
  return hfv::testing::couple_request(auth, case_id);
}

// The size of the simulator's request log: unchanged means no agency was asked.
std::uintmax_t agency_log_size(const Stack& s) {
  std::error_code ec;
  const auto n = fs::file_size(s.dir.path / "sim-requests.ndjson", ec);
  return ec ? 0 : n;
}

// Mutations of a valid request: edits of its JSON (values of the wrong type
// or out of range, strange text, removed and unknown fields, wrapped values)
// and edits of its bytes (flips, insertions of JSON's own characters and of
// bad escapes, deletions, truncation, duplication).
class Mutator {
 public:
  explicit Mutator(std::uint32_t seed) : rng_(seed) {}

  std::string mutate(json doc) {
    if (pick(4) != 0) edit_json(doc, 1 + static_cast<int>(pick(3)));
    std::string text = doc.dump();
    if (pick(2) == 0) edit_bytes(text, 1 + static_cast<int>(pick(4)));
    return text;
  }

 private:
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }

  json odd_value() {
    static const std::vector<json> values = {
        nullptr, true, false, 0, -1, 4, 5, 1e308, -1e308, 0.5, 9223372036854775807LL, "", " ",
        std::string(300, 'x'), std::string(60, 'A'), std::string("\0", 1), "\u0007", "\u007f", "\u0085",
        "\u202e", "\u2028", "\ufeff", "张\u0000伟", "2026-02-30", "2024-11-01", "9999-12-31", "230100", "110101",
        "../../etc/passwd", "<script>", "=cmd|' /C calc'!A0", "dibao", "tekun", "rural", "applicant", "spouse",
        "230102197503120016", "11010119900307001X", "auth_x", json::array(), json::object(),
        json::array({1, 2}), json::object({{"a", 1}})};
    return values[pick(values.size())];
  }

  // A random object inside the document (the body, a member, a nested object).
  json* random_object(json& doc) {
    json* at = &doc;
    for (int depth = 0; depth < 3 && pick(2) == 0; ++depth) {
      std::vector<json*> children;
      for (auto& child : *at) {
        if (child.is_object()) children.push_back(&child);
        if (child.is_array()) {
          for (auto& item : child) {
            if (item.is_object()) children.push_back(&item);
          }
        }
      }
      if (children.empty()) break;
      at = children[pick(children.size())];
    }
    return at;
  }

  void edit_json(json& doc, int edits) {
    static const std::vector<std::string> keys = {"x", "salary", "async_", "members", "name", "id_number",
                                                  "relation", "force", "obligors", "current_benefit"};
    for (int e = 0; e < edits; ++e) {
      json* target = random_object(doc);
      if (!target->is_object() || target->empty()) continue;
      auto it = target->begin();
      std::advance(it, static_cast<long>(pick(target->size())));
      const std::string key = it.key();
      switch (pick(6)) {
        case 0: target->erase(key); break;
        case 1:
        case 2: (*target)[key] = odd_value(); break;
        case 3: (*target)[keys[pick(keys.size())]] = odd_value(); break;
        case 4: (*target)[key] = json::array({(*target)[key]}); break;
        default:
          if ((*target)[key].is_array() && !(*target)[key].empty()) {
            auto& list = (*target)[key];
            if (pick(2) == 0) {
              list.push_back(list[pick(list.size())]);  // a duplicate member
            } else {
              list.erase(list.begin() + static_cast<long>(pick(list.size())));
            }
          }
      }
    }
  }

  void edit_bytes(std::string& text, int edits) {
    static const std::vector<std::string> tokens = {"{", "}", "[", "]", "\"", ",", ":", "\\", "\\u0000",
                                                    "\\ud800", "\\udc00", "\\u202e", "\xff", "\xc0\xaf",
                                                    "\xed\xa0\x80", "null", "1e999", "-0", "00", "\n", "\t"};
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = pick(text.size());
      switch (pick(6)) {
        case 0: text[at] = static_cast<char>(rng_()); break;
        case 1: text.insert(at, tokens[pick(tokens.size())]); break;
        case 2: text.erase(at, 1 + pick(8)); break;
        case 3: text.resize(at); break;
        case 4: text.insert(at, text.substr(at, pick(40))); break;
        default: text[at] = static_cast<char>(text[at] ^ (1 << pick(8))); break;
      }
    }
  }

  std::mt19937 rng_;
};

}  // namespace

TEST_CASE("hardening: 10,000 random mutations (2,000 under ASan) of a valid request each get 200 or a 4xx with error and message, agencies asked only on success, and the daemon stays healthy",
          "[integration][hardening][property]") {
  Stack s(relax_rate_limit);
  const std::string auth = s.register_authorization("HRB-H-1", kIds);
  const json base = valid_body(auth);
  // One kept-alive connection: a handshake per request would make ten
  // thousand of them slow under the sanitizers.
  hfv::testing::KeepAliveClient conn(s.case_system, "op-test-01", 60);
  Mutator mutator(20261204);
  const std::string url = s.url + "/v1/verifications";

#if defined(__SANITIZE_ADDRESS__)
  constexpr int kMutations = 2000;  // the same rule; the default build runs all 10,000 (90 s there)
#else
  constexpr int kMutations = 10000;
#endif
  int successes = 0;
  int refusals = 0;
  std::vector<std::string> wrong;  // the first few answers that break the rule
  for (int i = 0; i < kMutations; ++i) {
    const std::string body = mutator.mutate(base);
    const auto before = agency_log_size(s);
    const auto sent = conn.send("POST", url, body);
    const long status = sent.status;
    const std::string& answer = sent.body;
    bool ok = false;
    if (status == 200 || status == 202) {
      // 202: a mutation may turn on "async"; success all the same.
      ok = true;
      ++successes;
    } else if (status >= 400 && status < 500) {
      const json j = json::parse(answer, nullptr, false);
      ok = j.is_object() && j.contains("error") && j["error"].is_string() && !j["error"].get<std::string>().empty() &&
           j.contains("message") && j["message"].is_string() && !j["message"].get<std::string>().empty() &&
           agency_log_size(s) == before;
      ++refusals;
    }
    if (!ok && wrong.size() < 5) {
      wrong.push_back("status " + std::to_string(status) + " for " + json(body).dump(-1, ' ', false, json::error_handler_t::replace) +
                      ": " + answer);
    }
  }
  for (const auto& w : wrong) UNSCOPED_INFO(w);
  CHECK(wrong.empty());
  CHECK(successes + refusals == kMutations);
  CHECK(refusals > kMutations / 2);  // the mutations really were mostly invalid
  CHECK(successes > 0);              // and some stayed valid

  REQUIRE(s.broker->running());
  CHECK(https("GET", s.url + "/healthz", s.no_cert).status == 200);
  json fresh = valid_body(auth);
  fresh["force"] = true;
  auto r = https("POST", url, s.case_system, fresh.dump(), s.operator_header());
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body).contains("outcome"));
}

TEST_CASE("hardening: a POST or DELETE whose body is not declared JSON is refused with 415, audited, and changes nothing",
          "[integration][hardening][csrf]") {
  Stack s(relax_rate_limit);
  const std::string auth = s.register_authorization("HRB-H-1", kIds);
  const std::string body = valid_body(auth).dump();
  const auto before = agency_log_size(s);
  const auto with_type = [&](const std::string& type) {
    std::vector<std::string> headers = s.operator_header();
    headers.push_back("Content-Type:" + std::string(type.empty() ? "" : " ") + type);
    return headers;
  };
  int refused = 0;
  const auto expect_415 = [&](const hfv::testing::HttpAnswer& a) {
    INFO(a.body);
    CHECK(a.status == 415);
    const json j = json::parse(a.body, nullptr, false);
    CHECK(j.value("error", "") == "unsupported_media_type");
    CHECK(j.value("field", "") == "Content-Type");
    CHECK_FALSE(j.value("message", "").empty());
    ++refused;
  };
  // The types a web page can make a browser send cross-site with no
  // preflight, and none at all.
  for (const std::string type : {"text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "", "application/jsonp", "text/json"}) {
    INFO("Content-Type: " << type);
    expect_415(https("POST", s.url + "/v1/verifications", s.case_system, body, with_type(type)));
  }
  CHECK(agency_log_size(s) == before);  // no agency asked

  // A revocation sent as a form does not revoke.
  expect_415(https("POST", s.url + "/v1/authorizations/" + auth + "/revoke", s.case_system, "",
                   with_type("application/x-www-form-urlencoded")));
  // A registration sent as text does not register.
  const json auth_body = {{"case_id", "HRB-H-2"}, {"jurisdiction", "230100"}, {"members", kIds}, {"categories", "all"},
                          {"valid_from", "2026-01-01"}, {"valid_until", "2027-12-31"},
                          {"form_sha256", std::string(64, 'c')}};
  expect_415(https("POST", s.url + "/v1/authorizations", s.case_system, auth_body.dump(), with_type("text/plain")));
  // A batch cancel sent as text; an audit search from a supervisor's browser.
  expect_415(https("DELETE", s.url + "/v1/batches/b_0123456789abcdef", s.case_system, "", with_type("text/plain")));
  expect_415(https("POST", s.url + "/v1/audit/search", s.supervisor, R"({"case_id":"HRB-H-1"})",
                   {"Content-Type: text/plain"}));

  // Declared JSON, in any case and with parameters, is served: the
  // authorisation is still in force.
  auto served = https("POST", s.url + "/v1/verifications", s.case_system, body,
                      with_type("Application/JSON; charset=UTF-8"));
  INFO(served.body);
  CHECK(served.status == 200);

  // Every 415 is in the audit log as a refusal.
  int audited = 0;
  for (const auto& rec : s.audit_records()) {
    if (rec.value("action", "") == "request.refused" && rec.value("status", "") == "415 unsupported_media_type") {
      ++audited;
    }
  }
  CHECK(audited == refused);
}

TEST_CASE("hardening: GET changes nothing (GET on an endpoint that changes state is 405)",
          "[integration][hardening][csrf]") {
  Stack s(relax_rate_limit);
  const std::string auth = s.register_authorization("HRB-H-1", kIds);
  for (const std::string& path : {"/v1/authorizations/" + auth + "/revoke", std::string("/v1/batches/b_0123456789abcdef/cancel"),
                                 std::string("/v1/verifications"), std::string("/v1/authorizations"),
                                 std::string("/v1/batches")}) {
    INFO(path);
    auto r = https("GET", s.url + path, s.case_system, "", s.operator_header());
    CHECK(r.status == 405);
  }
  auto still = https("GET", s.url + "/v1/authorizations/" + auth, s.case_system, "", s.operator_header());
  INFO(still.body);
  REQUIRE(still.status == 200);
  CHECK(json::parse(still.body).value("status", "") == "active");
}

TEST_CASE("hardening: every answer says nosniff and no-store, and the console adds its CSP and frame rules",
          "[integration][hardening][headers]") {
  Stack s;
  const auto check_common = [](const hfv::testing::HttpAnswer& a) {
    REQUIRE(a.headers.count("x-content-type-options") == 1);
    CHECK(a.headers.at("x-content-type-options") == "nosniff");
    REQUIRE(a.headers.count("cache-control") == 1);
    CHECK(a.headers.at("cache-control") == "no-store");
  };
  auto key = https("GET", s.url + "/v1/keys/report-signing", s.case_system);
  CHECK(key.status == 200);
  check_common(key);
  auto refused = https("GET", s.url + "/v1/no-such-thing", s.case_system);
  CHECK(refused.status == 404);
  check_common(refused);
  auto no_cert = https("GET", s.url + "/v1/keys/report-signing", s.no_cert);
  CHECK(no_cert.status == 401);
  check_common(no_cert);
  auto health = https("GET", s.url + "/healthz", s.no_cert);
  check_common(health);
  auto page = https("GET", s.url + "/console/", s.supervisor, "", {"Accept: text/html"});
  REQUIRE(page.status == 200);
  check_common(page);
  REQUIRE(page.headers.count("content-security-policy") == 1);
  CHECK(page.headers.at("content-security-policy").find("frame-ancestors 'none'") != std::string::npos);
  CHECK(page.headers.at("content-security-policy").find("default-src 'none'") != std::string::npos);
  CHECK(page.headers.count("x-frame-options") == 1);
}

TEST_CASE("hardening: names with control characters, separators, surrogates or bytes that are not UTF-8 are refused with the field named and no agency asked",
          "[integration][hardening][text]") {
  Stack s(relax_rate_limit);
  const std::string auth = s.register_authorization("HRB-H-1", kIds);
  const auto before = agency_log_size(s);
  const std::string url = s.url + "/v1/verifications";
  // As JSON text: escapes and raw bytes the parser or the field check refuse.
  const std::string good = valid_body(auth).dump();
  const std::string name = "\"李娜\"";
  for (const std::string bad : {"\"李\\u0000娜\"", "\"李\\u0007娜\"", "\"李\\u001b[31m娜\"", "\"李\\u007f\"",
                                "\"李\\u0085\"", "\"\\u202e娜李\"", "\"李\\u2028娜\"", "\"\\ufeff李娜\"",
                                "\"李\\ud800娜\"", "\"李\\udfff\"", "\"李\xff娜\"", "\"\xed\xa0\x80\""}) {
    std::string body = good;
    body.replace(body.find(name), name.size(), bad);
    auto r = https("POST", url, s.case_system, body, s.operator_header());
    INFO(r.body);
    CHECK(r.status == 400);
    const json j = json::parse(r.body, nullptr, false);
    CHECK(j.value("error", "") == "invalid_field");
    CHECK(j.value("field", "") == "members[1].name");
  }
  CHECK(agency_log_size(s) == before);
  // 50 characters of Chinese (150 bytes) is a valid name; 51 is not.
  std::string fifty;
  for (int i = 0; i < 50; ++i) fifty += "娜";
  json body = valid_body(auth);
  body["members"][1]["name"] = fifty + "娜";
  auto over = https("POST", url, s.case_system, body.dump(), s.operator_header());
  CHECK(over.status == 400);
  body["members"][1]["name"] = fifty;
  auto fits = https("POST", url, s.case_system, body.dump(), s.operator_header());
  INFO(fits.body);
  CHECK(fits.status == 200);
}

TEST_CASE("hardening: a flood without a client certificate leaves one tally record, not one record per request, and no path it sent",
          "[integration][hardening][audit]") {
  Stack s;
  const std::string id = "110108199001011231";  // an ID number an outsider puts in a path
  // One address, 300 requests without a certificate: the first few are
  // answered 401, the rest 429 (the per-address rate).
  std::map<long, int> statuses;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 300; ++i) {
    ++statuses[https("GET", s.url + "/v1/verifications/" + id + "?n=" + std::to_string(i), s.no_cert).status];
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK(statuses[401] >= 20);  // the burst
  // At most the burst and 5 a second over the time the flood took
  // (however slow the machine), the rest refused before anything is written.
  CHECK(statuses[401] <= 20 + static_cast<int>(5 * seconds) + 1);
  CHECK(statuses[429] >= 1);
  CHECK(statuses[401] + statuses[429] == 300);
  // An identified caller's refusal names the route, not the path it sent.
  CHECK(https("GET", s.url + "/console/" + id, s.case_system).status == 403);
  // The metrics count both kinds.
  const std::string metrics = https("GET", s.url + "/metrics", s.supervisor).body;
  CHECK(metrics.find("hfv_unidentified_refusals_total{result=\"answered\"} " + std::to_string(statuses[401]) + "\n") !=
        std::string::npos);
  CHECK(metrics.find("hfv_unidentified_refusals_total{result=\"throttled\"} " + std::to_string(statuses[429]) + "\n") !=
        std::string::npos);

  // Stopping writes the tally of the interval still running.
  std::size_t tallies = 0, refusals = 0;
  for (const auto& rec : s.audit_records()) {
    INFO(rec.dump());
    CHECK(rec.dump().find(id) == std::string::npos);
    if (rec["action"] == "request.refused.unidentified") {
      ++tallies;
      CHECK(rec["detail"].get<std::string>().find("refused=" + std::to_string(statuses[401]) +
                                                  " throttled=" + std::to_string(statuses[429])) != std::string::npos);
      CHECK(rec["detail"].get<std::string>().find("endpoints=/v1/verifications/{id}:") != std::string::npos);
    }
    if (rec["action"] == "request.refused") {
      ++refusals;
      CHECK(rec["detail"] == "GET /console/*");
    }
  }
  CHECK(tallies == 1);
  CHECK(refusals == 1);  // the case system's, alone
}
