// The route table (broker/api/routes.cpp) against docs/api.md "Who may call
// what": every endpoint's callers and operator rule, both ways.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>

#include "broker/api/routes.hpp"

using hfv::broker::Callers;
using hfv::broker::Role;
using hfv::broker::route_matches;
using hfv::broker::route_table;

namespace {

using Row = std::tuple<std::string, std::string, std::string,
                       std::string>;  // method, path, callers, operator

std::string trim(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '`')) s.erase(s.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '`')) s.pop_back();
  return s;
}

// The rows of the first table under "## Who may call what".
std::set<Row> documented_rows() {
  std::ifstream in(std::string(HFV_SOURCE_DIR) + "/docs/api.md");
  REQUIRE(in);
  std::set<Row> rows;
  std::string line;
  bool section = false;
  bool table = false;
  while (std::getline(in, line)) {
    if (line.starts_with("## ")) {
      if (section) break;
      section = line == "## Who may call what";
      continue;
    }
    if (!section) continue;
    if (!line.starts_with("|")) {
      if (table) break;
      continue;
    }
    table = true;
    std::vector<std::string> cells;
    std::stringstream cells_in(line.substr(1));
    std::string cell;
    while (std::getline(cells_in, cell, '|')) cells.push_back(trim(cell));
    REQUIRE(cells.size() == 4);
    if (cells[0] == "method" || cells[0].starts_with("---")) continue;
    rows.insert({cells[0], cells[1], cells[2], cells[3]});
  }
  return rows;
}

}  // namespace

TEST_CASE("routes: every endpoint's callers and operator rule are those docs/api.md lists",
          "[unit][routes]") {
  std::set<Row> code;
  for (const auto& r : route_table()) {
    INFO(r.method << " " << r.pattern);
    CHECK(r.handler != nullptr);
    const bool inserted = code.insert({std::string(r.method), std::string(r.pattern),
                                       r.callers.names(), r.operator_id ? "yes" : "no"})
                              .second;
    CHECK(inserted);  // no endpoint twice
  }
  const std::set<Row> docs = documented_rows();
  REQUIRE(docs.size() > 20);
  for (const auto& row : code) {
    INFO("in the route table, not in docs/api.md: " << std::get<0>(row) << " " << std::get<1>(row)
                                                    << " | " << std::get<2>(row) << " | "
                                                    << std::get<3>(row));
    CHECK(docs.contains(row));
  }
  for (const auto& row : docs) {
    INFO("in docs/api.md, not in the route table: " << std::get<0>(row) << " " << std::get<1>(row)
                                                    << " | " << std::get<2>(row) << " | "
                                                    << std::get<3>(row));
    CHECK(code.contains(row));
  }
}

TEST_CASE("routes: the rows of one path share their callers and operator rule", "[unit][routes]") {
  // Service::route() checks the role and operator header before the method,
  // from the first row of the path: the other rows must say the same.
  std::map<std::string, std::pair<Callers, bool>> by_path;
  for (const auto& r : route_table()) {
    auto [it, first] = by_path.try_emplace(std::string(r.pattern), r.callers, r.operator_id);
    INFO(r.method << " " << r.pattern);
    CHECK(it->second.first == r.callers);
    CHECK(it->second.second == r.operator_id);
  }
  // No two patterns match the same path, so the first matching row is the path's.
  for (const auto& a : route_table()) {
    for (const auto& b : route_table()) {
      if (a.pattern == b.pattern) continue;
      std::string sample(a.pattern);
      for (std::size_t open; (open = sample.find('{')) != std::string::npos;) {
        sample.replace(open, sample.find('}', open) - open + 1, "x1");
      }
      if (sample.ends_with("*")) sample.replace(sample.size() - 1, 1, "index.html");
      INFO(a.pattern << " (as " << sample << ") against " << b.pattern);
      CHECK_FALSE(route_matches(b.pattern, sample));
    }
  }
}

TEST_CASE("routes: patterns match one segment per name and the rest for a final *",
          "[unit][routes]") {
  CHECK(route_matches("/v1/verifications/{id}", "/v1/verifications/ver_1"));
  CHECK_FALSE(route_matches("/v1/verifications/{id}", "/v1/verifications/"));
  CHECK_FALSE(route_matches("/v1/verifications/{id}", "/v1/verifications/a/b"));
  CHECK_FALSE(route_matches("/v1/verifications/{id}", "/v1/verifications"));
  CHECK(route_matches("/v1/authorizations/{id}/revoke", "/v1/authorizations/a1/revoke"));
  CHECK_FALSE(route_matches("/v1/authorizations/{id}/revoke", "/v1/authorizations/a1/revoked"));
  CHECK(route_matches("/console/*", "/console/"));
  CHECK(route_matches("/console/*", "/console/i18n.js"));
  CHECK_FALSE(route_matches("/console/*", "/console"));
  CHECK_FALSE(route_matches("/console", "/consoles"));
  CHECK(route_matches("/healthz", "/healthz"));
  CHECK_FALSE(route_matches("/healthz", "/healthz/"));
}

TEST_CASE("routes: logs and metrics name endpoints by pattern, never by raw path",
          "[unit][routes]") {
  using hfv::broker::endpoint_of;
  CHECK(endpoint_of("/v1/verifications") == "/v1/verifications");
  CHECK(endpoint_of("/v1/verifications/v_8f3a2b") == "/v1/verifications/{id}");
  CHECK(endpoint_of("/v1/authorizations/auth_1/revoke") == "/v1/authorizations/{id}/revoke");
  CHECK(endpoint_of("/v1/policies/230100") == "/v1/policies/{jurisdiction}");
  CHECK(endpoint_of("/v1/batches/bat_1/changes") == "/v1/batches/{id}/changes");
  CHECK(endpoint_of("/metrics") == "/metrics");
  CHECK(endpoint_of("/console/app.js") == "/console/*");
  // Anything a client invents collapses into one series.
  CHECK(endpoint_of("/v1/verifications/a/b") == "other");
  CHECK(endpoint_of("/v1/verifications/") == "other");
  CHECK(endpoint_of("/230102197503120016") == "other");
  CHECK(endpoint_of("") == "other");
}

TEST_CASE("routes: callers by role, and anyone only without a certificate", "[unit][routes]") {
  constexpr Callers supervisors = Callers::only(Role::kSupervisor);
  CHECK(supervisors.allows(Role::kSupervisor));
  CHECK_FALSE(supervisors.allows(Role::kCaseSystem));
  CHECK_FALSE(supervisors.allows(Role::kAdmin));
  CHECK_FALSE(supervisors.without_certificate());
  CHECK(Callers::anyone().without_certificate());
  CHECK(Callers::any_principal().names() == "case_system, supervisor, admin");
  CHECK(Callers::only(Role::kAdmin, Role::kSupervisor).names() == "supervisor, admin");
}

TEST_CASE("routes: POST and DELETE bodies must be declared JSON, NDJSON only for a batch, GET needs no type",
          "[routes]") {
  using hfv::broker::body_type_allowed;
  for (const auto& r : route_table()) {
    INFO(r.method << " " << r.pattern);
    if (r.method == "GET") {
      CHECK(body_type_allowed(r, ""));
      CHECK(body_type_allowed(r, "text/plain"));
      continue;
    }
    CHECK(body_type_allowed(r, "application/json"));
    CHECK(body_type_allowed(r, "application/json; charset=utf-8"));
    CHECK(body_type_allowed(r, "Application/JSON ;charset=UTF-8"));
    // What a web page can make a browser send cross-site without a preflight.
    CHECK_FALSE(body_type_allowed(r, ""));
    CHECK_FALSE(body_type_allowed(r, "text/plain"));
    CHECK_FALSE(body_type_allowed(r, "application/x-www-form-urlencoded"));
    CHECK_FALSE(body_type_allowed(r, "multipart/form-data; boundary=x"));
    CHECK_FALSE(body_type_allowed(r, "application/jsonx"));
    CHECK(body_type_allowed(r, "application/x-ndjson") == (r.pattern == "/v1/batches"));
  }
}
