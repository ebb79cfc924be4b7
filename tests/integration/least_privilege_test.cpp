// Least privilege between jurisdictions, through real parts (the agency
// simulator and brokerd, on each storage backend): a Harbin case system
// and a Shanghai case system, a supervisor of each city, each with a
// certificate from the centre's CA. Each case system registers, verifies
// and reviews in batch a household of its city; then every endpoint of the
// route table is tried by the other city's principals, and nothing of one
// city is visible, usable or provable by the other's (docs/security.md,
// "Who sees which audit records").
#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "broker/api/routes.hpp"
#include "broker/ops/config.hpp"
#include "crypto/pki.hpp"
#include "tests/batch/batch_fixture.hpp"
#include "tests/integration/stack.hpp"
#include "tests/ops/run.hpp"

namespace fs = std::filesystem;
using hfv::testing::ClientTls;
using hfv::testing::Stack;
using hfv::testing::batch::Client;
using nlohmann::json;
namespace batch = hfv::testing::batch;

namespace {

// What one city's work left behind: the identifiers the other city's
// principals must never see.
struct City {
  std::string prefix;  // the principals' jurisdiction ("2301", "31")
  std::vector<std::size_t> households;
  std::vector<std::string> verification_ids, authorization_ids;
  std::string batch_id;
  std::vector<std::string> identifiers(const batch::Dataset& d) const {
    std::vector<std::string> out = verification_ids;
    out.insert(out.end(), authorization_ids.begin(), authorization_ids.end());
    out.push_back(batch_id);
    for (std::size_t h : households) out.push_back("\"" + d.households[h].case_id + "\"");
    return out;
  }
};

// The first identifier of `city` that `text` holds; "" when none.
std::string leaked(const std::string& text, const City& city, const batch::Dataset& d) {
  for (const auto& id : city.identifiers(d)) {
    if (text.find(id) != std::string::npos) return id;
  }
  return {};
}

// Every audit record a supervisor can list (GET /v1/audit, page by page).
std::vector<json> listed_records(Client& supervisor, const std::string& url) {
  std::vector<json> out;
  std::int64_t after = 0;
  for (;;) {
    const auto r = supervisor.send("GET", url + "/v1/audit?limit=500&after_seq=" + std::to_string(after));
    REQUIRE(r.status == 200);
    const json page = json::parse(r.body);
    for (const auto& rec : page["records"]) out.push_back(rec);
    if (!page.contains("next_after_seq")) return out;
    after = page["next_after_seq"].get<std::int64_t>();
  }
}

}  // namespace

TEST_CASE("least privilege: nothing of one city is visible, usable or provable by another city's case system or supervisor, on any endpoint",
          "[integration][least_privilege]") {
  hfv::testing::TempDir data("hfv-least-privilege");
  // Households 0 and 5 in Harbin (230100), 4 and 9 in Shanghai (310000).
  batch::Dataset d = batch::make_dataset(10, 0, 910000);
  d.write(data.path / "dataset.json", false);
  const std::vector<std::string> names = {"harbin-cases", "shanghai-cases", "harbin-supervisor",
                                          "shanghai-supervisor"};
  Stack s(
      [&](json& config, const fs::path& dir) {
        batch::configure(config, dir);
        hfv::crypto::DevPkiOptions extra;
        extra.dir = dir / "pki";
        extra.client_names = names;
        REQUIRE(hfv::crypto::create_dev_pki(extra).ok());
        for (const auto& name : names) {
          const bool supervisor = name.ends_with("supervisor");
          config["principals"].push_back({{"name", name},
                                          {"certificate_cn", name},
                                          {"role", supervisor ? "supervisor" : "case_system"},
                                          {"jurisdictions", {name.starts_with("harbin") ? "2301" : "31"}},
                                          {"rate_per_second", 1000000},
                                          {"burst", 1000000}});
        }
      },
      data.path / "dataset.json");
  const fs::path pki = s.broker_dir / "pki";
  auto tls = [&](const std::string& name) {
    return ClientTls{(pki / "ca.pem").string(), (pki / (name + ".pem")).string(), (pki / (name + ".key")).string()};
  };
  Client cs_h(tls("harbin-cases")), cs_s(tls("shanghai-cases"));
  Client sup_h(tls("harbin-supervisor")), sup_s(tls("shanghai-supervisor"));
  Client centre(s.supervisor);  // the demo supervisor: the whole centre

  City harbin{"2301", {0, 5}, {}, {}, {}};
  City shanghai{"31", {4, 9}, {}, {}, {}};
  // Each case system registers its households and verifies the first; a
  // batch reviews both.
  for (auto [city, client] : {std::pair{&harbin, &cs_h}, std::pair{&shanghai, &cs_s}}) {
    for (std::size_t h : city->households) {
      auto& hh = d.households[h];
      const json body = {{"case_id", hh.case_id},       {"jurisdiction", hh.jurisdiction},
                         {"members", hh.ids},           {"categories", "all"},
                         {"valid_from", "2026-01-01"},  {"valid_until", "2027-12-31"},
                         {"form_sha256", std::string(64, 'c')}};
      const auto r = client->send("POST", s.url + "/v1/authorizations", body.dump());
      INFO(r.body);
      REQUIRE(r.status == 201);
      CHECK(json::parse(r.body)["jurisdiction"] == hh.jurisdiction);
      hh.authorization_id = json::parse(r.body)["authorization_id"].get<std::string>();
      city->authorization_ids.push_back(hh.authorization_id);
    }
    const std::size_t first = city->households.front();
    const auto v = client->send("POST", s.url + "/v1/verifications", batch::ndjson(d, first, first + 1));
    INFO(v.body);
    REQUIRE(v.status == 200);
    city->verification_ids.push_back(json::parse(v.body)["verification_id"].get<std::string>());
    std::string lines;
    for (std::size_t h : city->households) lines += batch::ndjson(d, h, h + 1);
    city->batch_id = batch::start_batch(*client, s.url, lines);
    const batch::Watched w = batch::wait_for(*client, s.url, city->batch_id);
    INFO(w.last.dump());
    REQUIRE(w.last["state"] == "done");
  }
  const std::string h_verification = harbin.verification_ids.front();
  const std::string h_auth = harbin.authorization_ids.front();
  const std::string h_line = batch::ndjson(d, 0, 1);
  const std::string s_line = batch::ndjson(d, 4, 5);

  // An authorisation covers only the jurisdiction it names: a caller
  // serving both cities registers the Harbin household for Shanghai and
  // cannot verify it in Harbin with that authorisation.
  {
    Client both(s.case_system);  // the demo case system: 2301, 31 and more
    const auto& hh = d.households[0];
    const json body = {{"case_id", "BOTH-1"},        {"jurisdiction", "310000"}, {"members", hh.ids},
                       {"categories", "all"},        {"valid_from", "2026-01-01"},
                       {"valid_until", "2027-12-31"}, {"form_sha256", std::string(64, 'c')}};
    const auto r = both.send("POST", s.url + "/v1/authorizations", body.dump());
    REQUIRE(r.status == 201);
    json request = json::parse(h_line);
    request["case_id"] = "BOTH-1";
    request["authorization_id"] = json::parse(r.body)["authorization_id"];
    const auto v = both.send("POST", s.url + "/v1/verifications", request.dump());
    CHECK(v.status == 403);
    CHECK(json::parse(v.body)["error"] == "consent_other_jurisdiction");
    CHECK(json::parse(v.body)["field"] == "jurisdiction");
  }

  // The Shanghai principals' view of the audit log, listed once, and the
  // Harbin supervisor's, to show the scoping is not an empty answer.
  // Taken before the walk below, whose refused attempts are Shanghai's own
  // records and echo the Harbin ids they tried.
  const std::vector<json> seen_by_s = listed_records(sup_s, s.url);
  const std::vector<json> seen_by_h = listed_records(sup_h, s.url);
  const auto export_s = sup_s.send("GET", s.url + "/v1/audit/export?from_seq=1");
  const auto export_h = sup_h.send("GET", s.url + "/v1/audit/export?from_seq=1");
  std::int64_t h_register_seq = 0;  // Harbin's authorization.register record
  for (const auto& r : seen_by_h) {
    if (r["record"]["action"] == "authorization.register" && h_register_seq == 0) h_register_seq = r["seq"];
  }
  REQUIRE(h_register_seq > 0);

  auto expect_error = [](const hfv::testing::HttpAnswer& r, long status, const char* code) {
    INFO(r.body);
    CHECK(r.status == status);
    if (r.status == status) CHECK(json::parse(r.body)["error"] == code);
  };
  auto nothing_of = [&](const hfv::testing::HttpAnswer& r, const City& city) {
    INFO(r.body.substr(0, 2000));
    CHECK(leaked(r.body, city, d) == "");
  };
  const std::string period = "?from=" + batch::utc_day(-1) + "&to=" + batch::utc_day(1);

  // One check per route: a route added without one fails below.
  std::map<std::string, std::function<void()>> checks;
  auto check = [&](const char* method, const char* pattern, std::function<void()> f) {
    checks[std::string(method) + " " + pattern] = std::move(f);
  };
  check("GET", "/healthz", [&] { nothing_of(cs_s.send("GET", s.url + "/healthz"), harbin); });
  check("GET", "/readyz", [&] { nothing_of(cs_s.send("GET", s.url + "/readyz"), harbin); });
  check("GET", "/metrics", [&] {
    const auto r = sup_s.send("GET", s.url + "/metrics");
    CHECK(r.status == 200);
    nothing_of(r, harbin);
  });
  check("POST", "/v1/verifications", [&] {
    // Harbin's request as it is: outside Shanghai's jurisdictions.
    expect_error(cs_s.send("POST", s.url + "/v1/verifications", h_line), 403, "jurisdiction_not_allowed");
    // Harbin's authorisation in a Shanghai request: not Shanghai's.
    json request = json::parse(s_line);
    request["authorization_id"] = h_auth;
    expect_error(cs_s.send("POST", s.url + "/v1/verifications", request.dump()), 403, "consent_not_found");
  });
  check("GET", "/v1/verifications/{id}", [&] {
    expect_error(cs_s.send("GET", s.url + "/v1/verifications/" + h_verification), 404, "not_found");
    CHECK(cs_h.send("GET", s.url + "/v1/verifications/" + h_verification).status == 200);
  });
  check("GET", "/v1/verifications/{id}/replay", [&] {
    const std::string target = s.url + "/v1/verifications/" + h_verification + "/replay";
    // Another city's case system: not found; its supervisor: refused by jurisdiction.
    expect_error(cs_s.send("GET", target), 404, "not_found");
    const auto refused = sup_s.send("GET", target);
    expect_error(refused, 403, "jurisdiction_not_allowed");
    nothing_of(refused, harbin);
    // The owning case system and its city's supervisor replay it.
    for (Client* c : {&cs_h, &sup_h}) {
      const auto r = c->send("GET", target);
      INFO(r.body);
      REQUIRE(r.status == 200);
      CHECK(json::parse(r.body)["identical"] == true);
    }
  });
  check("POST", "/v1/verifications/{id}/appeals", [&] {
    const std::string target = s.url + "/v1/verifications/" + h_verification + "/appeals";
    const json appeal = {{"disputed", json::array({{{"member_index", 0}, {"id_number", d.households[0].ids[0]},
                                                    {"name", "张三"}, {"sources", {"bank"}}}})},
                         {"evidence_sha256", json::array({std::string(64, 'e')})},
                         {"reason", "bank record corrected"}};
    // Another city's case system: not found (nobody asked, nothing
    // superseded); a supervisor: not a case system's route.
    const auto refused = cs_s.send("POST", target, appeal.dump());
    expect_error(refused, 404, "not_found");
    nothing_of(refused, harbin);
    expect_error(sup_h.send("POST", target, appeal.dump()), 403, "role_not_allowed");
  });
  check("POST", "/v1/authorizations", [&] {
    json body = {{"case_id", "SH-IN-HARBIN"}, {"jurisdiction", "230100"}, {"members", d.households[4].ids},
                 {"categories", "all"},       {"valid_from", "2026-01-01"}, {"valid_until", "2027-12-31"},
                 {"form_sha256", std::string(64, 'c')}};
    expect_error(cs_s.send("POST", s.url + "/v1/authorizations", body.dump()), 403, "jurisdiction_not_allowed");
    body["jurisdiction"] = "319999";  // not a division
    expect_error(cs_s.send("POST", s.url + "/v1/authorizations", body.dump()), 400, "invalid_field");
  });
  check("GET", "/v1/authorizations/{id}", [&] {
    expect_error(cs_s.send("GET", s.url + "/v1/authorizations/" + h_auth), 404, "not_found");
  });
  check("POST", "/v1/authorizations/{id}/revoke", [&] {
    expect_error(cs_s.send("POST", s.url + "/v1/authorizations/" + h_auth + "/revoke", "{}"), 404, "not_found");
    const auto still = cs_h.send("GET", s.url + "/v1/authorizations/" + h_auth);
    REQUIRE(still.status == 200);
    CHECK(json::parse(still.body)["status"] == "active");
  });
  check("GET", "/v1/policies/{jurisdiction}", [&] {
    // Published rules, the same for every caller: no household in them.
    const auto r = cs_s.send("GET", s.url + "/v1/policies/230100");
    CHECK(r.status == 200);
    nothing_of(r, harbin);
  });
  check("GET", "/v1/keys/report-signing", [&] { nothing_of(cs_s.send("GET", s.url + "/v1/keys/report-signing"), harbin); });
  check("GET", "/v1/keys/report-signing/history", [&] {
    // Public keys only, the same for every caller.
    const auto r = cs_s.send("GET", s.url + "/v1/keys/report-signing/history");
    CHECK(r.status == 200);
    nothing_of(r, harbin);
  });
  check("POST", "/v1/batches", [&] {
    const auto r = cs_s.send("POST", s.url + "/v1/batches", h_line);
    CHECK(r.status == 403);
    nothing_of(r, harbin);
  });
  for (const char* pattern : {"/v1/batches/{id}", "/v1/batches/{id}/changes", "/v1/batches/{id}/statistics"}) {
    check("GET", pattern, [&, p = std::string(pattern)] {
      std::string target = p;
      target.replace(target.find("{id}"), 4, harbin.batch_id);
      expect_error(cs_s.send("GET", s.url + target), 404, "not_found");
      CHECK(cs_h.send("GET", s.url + target).status == 200);
    });
  }
  auto cancel_refused = [&](const char* method, const std::string& target) {
    expect_error(cs_s.send(method, s.url + target), 404, "not_found");
    const auto mine = cs_h.send("GET", s.url + "/v1/batches/" + harbin.batch_id);
    REQUIRE(mine.status == 200);
    CHECK(json::parse(mine.body)["state"] == "done");
  };
  check("DELETE", "/v1/batches/{id}", [&] { cancel_refused("DELETE", "/v1/batches/" + harbin.batch_id); });
  check("POST", "/v1/batches/{id}/cancel", [&] { cancel_refused("POST", "/v1/batches/" + harbin.batch_id + "/cancel"); });
  // What-if: Harbin's candidate (its own file) over today's archive.
  std::string h_what_if;  // the job Harbin's supervisor starts
  check("POST", "/v1/peer/queries", [&] {
    // Only another centre's broker (role peer_broker) asks here: a case
    // system or supervisor of either city is refused before its body is read.
    for (auto* client : {&cs_s, &sup_s, &cs_h, &sup_h}) {
      const auto refused = client->send("POST", s.url + "/v1/peer/queries", "{}");
      expect_error(refused, 403, "role_not_allowed");
      nothing_of(refused, harbin);
    }
  });
  check("POST", "/v1/policies/{jurisdiction}/what-if", [&] {
    auto config = hfv::broker::load_config(s.broker_dir / "brokerd.json");
    REQUIRE(config.ok());
    const json body = {
        {"policy", json::parse(hfv::testing::read_file(config->verification.policies_dir / "230100.json"))},
        {"from", batch::utc_day(-1)},
        {"to", batch::utc_day(1)}};
    const std::string target = s.url + "/v1/policies/230100/what-if";
    // Another city's supervisor, and any case system: refused, nothing started.
    const auto refused = sup_s.send("POST", target, body.dump());
    expect_error(refused, 403, "jurisdiction_not_allowed");
    CHECK(refused.body.find("\"job\"") == std::string::npos);
    expect_error(cs_h.send("POST", target, body.dump()), 403, "role_not_allowed");
    const auto started = sup_h.send("POST", target, body.dump());
    INFO(started.body);
    REQUIRE(started.status == 202);
    h_what_if = json::parse(started.body)["job"].get<std::string>();
  });
  check("GET", "/v1/policies/{jurisdiction}/what-if/{job}", [&] {
    REQUIRE_FALSE(h_what_if.empty());
    // Another city's supervisor: refused on Harbin's code, not found on its own.
    const auto refused = sup_s.send("GET", s.url + "/v1/policies/230100/what-if/" + h_what_if);
    expect_error(refused, 403, "jurisdiction_not_allowed");
    nothing_of(refused, harbin);
    const auto moved = sup_s.send("GET", s.url + "/v1/policies/310000/what-if/" + h_what_if);
    expect_error(moved, 404, "not_found");
    nothing_of(moved, harbin);
    // Harbin's supervisor reads it; nothing of Shanghai's households in it.
    json last;
    CHECK(hfv::testing::eventually([&] {
      const auto r = sup_h.send("GET", s.url + "/v1/policies/230100/what-if/" + h_what_if);
      if (r.status != 200) return false;
      last = json::parse(r.body);
      return last["state"] != "running";
    }));
    CHECK(last["state"] == "done");
    CHECK(last["result"]["households_evaluated"].get<int>() > 0);
    CHECK(leaked(last.dump(), shanghai, d) == "");
  });
  check("GET", "/v1/reviews/statistics", [&] {
    for (Client* c : {&cs_s, &sup_s}) {
      const auto r = c->send("GET", s.url + "/v1/reviews/statistics" + period);
      REQUIRE(r.status == 200);
      const json stats = json::parse(r.body);
      CHECK(stats["by_jurisdiction"].contains("310000"));
      CHECK_FALSE(stats["by_jurisdiction"].contains("230100"));
      expect_error(c->send("GET", s.url + "/v1/reviews/statistics" + period + "&jurisdiction=2301"), 403,
                   "jurisdiction_not_allowed");
    }
  });
  check("POST", "/v1/access-log", [&] {
    // A Harbin member under Shanghai's authorisation: not covered.
    json body = {{"id_number", d.households[0].ids[0]}, {"authorization_id", shanghai.authorization_ids[0]}};
    expect_error(cs_s.send("POST", s.url + "/v1/access-log", body.dump()), 403, "consent_not_found");
    body["authorization_id"] = h_auth;
    expect_error(cs_s.send("POST", s.url + "/v1/access-log", body.dump()), 403, "consent_not_found");
    // Its own member: that person's accesses, Shanghai's only.
    body = {{"id_number", d.households[4].ids[0]}, {"authorization_id", shanghai.authorization_ids[0]}};
    const auto r = cs_s.send("POST", s.url + "/v1/access-log", body.dump());
    CHECK(r.status == 200);
    CHECK(json::parse(r.body)["count"].get<int>() > 0);
    nothing_of(r, harbin);
  });
  check("GET", "/v1/audit", [&] {
    // Every record a supervisor sees is of its jurisdictions: none of the
    // other city's, none that concerns no jurisdiction.
    CHECK(seen_by_s.size() > 5);
    for (const auto& r : seen_by_s) {
      INFO(r.dump());
      CHECK(r["record"].value("jurisdiction", "").starts_with("31"));
      CHECK(leaked(r.dump(), harbin, d).empty());
    }
    CHECK(seen_by_h.size() > 5);
    for (const auto& r : seen_by_h) {
      INFO(r.dump());
      CHECK(r["record"].value("jurisdiction", "").starts_with("2301"));
      CHECK(leaked(r.dump(), shanghai, d).empty());
    }
    // The whole centre's supervisor sees both cities and the daemon's own records.
    std::set<std::string> actions;
    for (const auto& r : listed_records(centre, s.url)) actions.insert(r["record"]["action"].get<std::string>());
    CHECK(actions.contains("daemon.start"));
  });
  check("POST", "/v1/audit/search", [&] {
    const json q = {{"case_id", d.households[0].case_id}};
    const auto theirs = sup_s.send("POST", s.url + "/v1/audit/search", q.dump());
    REQUIRE(theirs.status == 200);
    CHECK(json::parse(theirs.body)["count"] == 0);
    const auto ours = sup_h.send("POST", s.url + "/v1/audit/search", q.dump());
    REQUIRE(ours.status == 200);
    CHECK(json::parse(ours.body)["count"].get<int>() > 0);
  });
  check("POST", "/v1/audit/household-search", [&] {
    const json q = {{"case_id", d.households[0].case_id}};
    const auto theirs = sup_s.send("POST", s.url + "/v1/audit/household-search", q.dump());
    REQUIRE(theirs.status == 200);
    CHECK(json::parse(theirs.body)["count"] == 0);
    CHECK(json::parse(theirs.body)["accesses"].empty());
    CHECK(json::parse(theirs.body)["members"].empty());  // (case_ids echoes the one asked for)
    const auto ours = sup_h.send("POST", s.url + "/v1/audit/household-search", q.dump());
    REQUIRE(ours.status == 200);
    CHECK(json::parse(ours.body)["count"].get<int>() > 0);
  });
  check("GET", "/v1/audit/verify", [&] {
    const auto r = sup_s.send("GET", s.url + "/v1/audit/verify");
    CHECK(r.status == 200);
    nothing_of(r, harbin);
  });
  check("GET", "/v1/audit/head", [&] { nothing_of(sup_s.send("GET", s.url + "/v1/audit/head"), harbin); });
  check("GET", "/v1/audit/key-history", [&] {
    const auto r = sup_s.send("GET", s.url + "/v1/audit/key-history");
    CHECK(r.status == 200);
    nothing_of(r, harbin);
    CHECK(json::parse(r.body)["format"] == "hfv-audit-key-history/v1");
  });
  check("GET", "/v1/audit/proof", [&] {
    const std::string target = s.url + "/v1/audit/proof?seq=" + std::to_string(h_register_seq);
    expect_error(sup_s.send("GET", target), 404, "not_found");
    const auto ours = sup_h.send("GET", target);
    REQUIRE(ours.status == 200);
    CHECK(json::parse(ours.body)["envelope"].get<std::string>().find("230100") != std::string::npos);
  });
  check("GET", "/v1/audit/consistency", [&] {
    nothing_of(sup_s.send("GET", s.url + "/v1/audit/consistency?first=1"), harbin);
  });
  check("GET", "/v1/audit/export", [&] {
    REQUIRE(export_s.status == 200);
    nothing_of(export_s, harbin);
    CHECK(export_s.body.find(shanghai.verification_ids.front()) != std::string::npos);
    REQUIRE(export_h.status == 200);
    CHECK(export_h.body.find(h_verification) != std::string::npos);
    nothing_of(export_h, shanghai);
  });
  check("GET", "/v1/audit/anomalies", [&] {
    const auto r = sup_s.send("GET", s.url + "/v1/audit/anomalies");
    CHECK(r.status == 200);
    nothing_of(r, harbin);
    CHECK(r.body.find("harbin-cases") == std::string::npos);
  });
  check("GET", "/console", [&] { nothing_of(sup_s.send("GET", s.url + "/console"), harbin); });
  check("GET", "/console/*", [&] { nothing_of(sup_s.send("GET", s.url + "/console/console.js"), harbin); });

  for (const auto& route : hfv::broker::route_table()) {
    const std::string key = std::string(route.method) + " " + std::string(route.pattern);
    INFO(key);
    auto it = checks.find(key);
    REQUIRE(it != checks.end());
    it->second();
    checks.erase(it);
  }
  CHECK(checks.empty());  // no check for a route that is gone
}
