// Every rejection path of the case-system API, against the real daemon and
// simulator: each bad request gets its documented status and error code, and
// the simulator's request log shows that no agency was asked.
#include <catch2/catch.hpp>

#include "common/id_number.hpp"
#include "crypto/pki.hpp"
#include "crypto/tls.hpp"
#include "stack.hpp"

using hfv::testing::ClientTls;
using hfv::testing::https;
using hfv::testing::relax_rate_limit;
using hfv::testing::Stack;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json valid_body(const std::string& auth, const std::string& case_id = "HRB-R-1") {
  return hfv::testing::couple_request(auth, case_id);
}

json auth_body(const std::string& case_id, json ids, json categories = "all",
               const char* from = "2026-01-01", const char* until = "2027-12-31") {
  return {{"case_id", case_id}, {"jurisdiction", "230100"}, {"members", std::move(ids)}, {"categories", std::move(categories)},
          {"valid_from", from}, {"valid_until", until}, {"form_sha256", std::string(64, 'd')}};
}

std::string register_auth(Stack& s, const json& body) {
  auto r = https("POST", s.url + "/v1/authorizations", s.case_system, body.dump(), s.operator_header());
  INFO(r.body);
  REQUIRE(r.status == 201);
  return json::parse(r.body)["authorization_id"];
}

struct Expect {
  long status;
  std::string error;
  std::string field;
};

void check_refused(Stack& /*stack*/, const hfv::testing::HttpAnswer& r, const Expect& e) {
  INFO(r.body);
  CHECK(r.status == e.status);
  const json body = json::parse(r.body, nullptr, false);
  REQUIRE(body.is_object());
  CHECK(body.value("error", "") == e.error);
  if (!e.field.empty()) CHECK(body.value("field", "") == e.field);
  CHECK_FALSE(body.value("message", "").empty());
}

}  // namespace

TEST_CASE("api: every rejection path answers as documented and queries no agency", "[integration][api]") {
  Stack s(relax_rate_limit);
  const json both = {"230102197503120016", "230102197808050020"};
  const std::string good_auth = register_auth(s, auth_body("HRB-R-1", both));
  const auto post = [&](const ClientTls& who, const std::string& body, std::vector<std::string> headers) {
    return https("POST", s.url + "/v1/verifications", who, body, std::move(headers));
  };
  const auto verify = [&](const json& body) { return post(s.case_system, body.dump(), s.operator_header()); };
  const long queries_before = s.sim_request_count();

  {
    check_refused(s, post(s.no_cert, valid_body(good_auth).dump(), s.operator_header()),
                  {401, "client_certificate_required", ""});

    // A certificate from the right CA whose subject is not a configured principal.
    hfv::crypto::DevPkiOptions extra;
    extra.dir = s.broker_dir / "pki";
    extra.client_names = {"stranger"};
    REQUIRE(hfv::crypto::create_dev_pki(extra).ok());
    const ClientTls stranger{s.case_system.ca_file, (extra.dir / "stranger.pem").string(),
                             (extra.dir / "stranger.key").string()};
    check_refused(s, post(stranger, valid_body(good_auth).dump(), s.operator_header()),
                  {401, "unknown_client_certificate", ""});

    // A certificate from another CA does not get past the TLS handshake.
    hfv::testing::TempDir other_ca;
    hfv::crypto::DevPkiOptions foreign;
    foreign.dir = other_ca.path;
    foreign.client_names = {"demo-case-system"};
    REQUIRE(hfv::crypto::create_dev_pki(foreign).ok());
    const ClientTls impostor{s.case_system.ca_file, (other_ca.path / "demo-case-system.pem").string(),
                             (other_ca.path / "demo-case-system.key").string()};
    CHECK(post(impostor, valid_body(good_auth).dump(), s.operator_header()).status == 0);

    check_refused(s, post(s.supervisor, valid_body(good_auth).dump(), s.operator_header()),
                  {403, "role_not_allowed", ""});
    check_refused(s, post(s.case_system, valid_body(good_auth).dump(), {}), {400, "invalid_field", "X-Operator-Id"});

    json other_city = valid_body(good_auth);
    other_city["jurisdiction"] = "440100";  // Guangzhou: a real code outside the caller's centres
    check_refused(s, verify(other_city), {403, "jurisdiction_not_allowed", "jurisdiction"});
    json unknown_code = valid_body(good_auth);
    unknown_code["jurisdiction"] = "239999";
    check_refused(s, verify(unknown_code), {400, "invalid_field", "jurisdiction"});
    json no_policy = valid_body(good_auth);
    no_policy["jurisdiction"] = "230102";  // a Harbin district: its city's file does not extend to it
    check_refused(s, verify(no_policy), {400, "no_policy", "jurisdiction"});

    check_refused(s, verify(valid_body("auth_does_not_exist")), {403, "consent_not_found", "authorization_id"});
    const std::string expired = register_auth(s, auth_body("HRB-R-1", both, "all", "2025-01-01", "2025-12-31"));
    check_refused(s, verify(valid_body(expired)), {403, "consent_expired", "authorization_id"});
    const std::string future = register_auth(s, auth_body("HRB-R-1", both, "all", "2099-01-01", "2099-12-31"));
    check_refused(s, verify(valid_body(future)), {403, "consent_not_yet_valid", "authorization_id"});
    const std::string revoked = register_auth(s, auth_body("HRB-R-1", both));
    auto revoke = https("POST", s.url + "/v1/authorizations/" + revoked + "/revoke", s.case_system, "",
                        s.operator_header());
    CHECK(revoke.status == 200);
    check_refused(s, verify(valid_body(revoked)), {403, "consent_revoked", "authorization_id"});
    check_refused(s, verify(valid_body(good_auth, "HRB-OTHER-CASE")), {403, "consent_other_case", "authorization_id"});
    const std::string one = register_auth(s, auth_body("HRB-R-1", {"230102197503120016"}));
    check_refused(s, verify(valid_body(one)), {403, "member_not_covered", "members[1].id_number"});

    json bad_checksum = valid_body(good_auth);
    bad_checksum["members"][1]["id_number"] = "230102197808050021";
    check_refused(s, verify(bad_checksum), {400, "invalid_field", "members[1].id_number"});
    json bad_birth = valid_body(good_auth);
    bad_birth["members"][1]["id_number"] = std::string("23010219780230002") +
        hfv::id_check_character("23010219780230002");
    check_refused(s, verify(bad_birth), {400, "invalid_field", "members[1].id_number"});
    json unknown_field = valid_body(good_auth);
    unknown_field["members"][0]["salary"] = "1000";
    check_refused(s, verify(unknown_field), {400, "invalid_field", "members[0].salary"});
    json bad_kind = valid_body(good_auth);
    bad_kind["members"][1]["disability_grade"] = 2;
    bad_kind["members"][1]["disability_kind"] = "wheelchair";
    check_refused(s, verify(bad_kind), {400, "invalid_field", "members[1].disability_kind"});

    check_refused(s, post(s.case_system, std::string(300 * 1024, ' '), s.operator_header()),
                  {413, "body_too_large", ""});
    std::string deep = "{\"case_id\":" + std::string(64, '[') + std::string(64, ']') + "}";
    check_refused(s, post(s.case_system, deep, s.operator_header()), {400, "too_deep", ""});
    std::string bad_utf8 = valid_body(good_auth).dump();
    bad_utf8.replace(bad_utf8.find("张伟"), 3, "\xff\xfe\xfd");
    check_refused(s, post(s.case_system, bad_utf8, s.operator_header()), {400, "invalid_field", "members[0].name"});
  }

  CHECK(s.sim_request_count() == queries_before);

  // The authorisation decides which agencies are asked: with only "bank"
  // allowed, nothing else is queried and the others are reported denied.
  const std::string bank_only = register_auth(s, auth_body("HRB-R-2", both, json::array({"bank"})));
  auto ok = verify(valid_body(bank_only, "HRB-R-2"));
  REQUIRE(ok.status == 200);
  CHECK(s.sim_request_count() == queries_before + 2);  // bank, for each of the two members
  const json report = json::parse(ok.body);
  for (const auto& src : report["sources"]) {
    if (src["source"] != "bank") CHECK(src["status"] == "denied");
  }
  CHECK(report["outcome"] == "indeterminate");  // denied sources are unknown, never "no assets"
}

// Random mutations of a valid request: tests/integration/hardening_test.cpp.

TEST_CASE("api: a caller over its rate limit gets 429 with Retry-After", "[integration][api]") {
  Stack s([](json& config, const fs::path&) {
    for (auto& p : config["principals"]) {
      // One token a minute after a burst of 3: the six requests below get
      // at most 3 (4 if they take a minute), however slow the machine.
      p["rate_per_second"] = 1.0 / 60;
      p["burst"] = 3;
    }
  });
  int limited = 0;
  for (int i = 0; i < 6; ++i) {
    auto r = https("GET", s.url + "/v1/keys/report-signing", s.case_system);
    if (r.status == 429) {
      ++limited;
      CHECK(json::parse(r.body)["error"] == "rate_limited");
    }
  }
  CHECK(limited >= 2);
}

TEST_CASE("api: a revoked client certificate is refused at the handshake", "[integration][api][crl]") {
  Stack s([](json& config, const fs::path& dir) {
    const fs::path pki = dir / "pki";
    REQUIRE(hfv::crypto::write_crl(pki / "ca.pem", pki / "ca.key", {pki / "demo-case-system.pem"},
                                   pki / "revoked.crl.pem")
                .ok());
    config["tls"]["crl_file"] = "pki/revoked.crl.pem";
  });
  auto revoked = https("GET", s.url + "/v1/keys/report-signing", s.case_system);
  CHECK(revoked.status == 0);  // no TLS session, so no HTTP answer at all
  auto still_valid = https("GET", s.url + "/v1/keys/report-signing", s.supervisor);
  CHECK(still_valid.status == 200);
}

TEST_CASE("daemon: a bad policy file stops start-up with the file and key named", "[integration][policy]") {
  hfv::testing::TempDir dir{"hfv-bad-policy"};
  const fs::path broker_dir = dir.path / "broker";
  hfv::testing::Process init({BROKERD_BIN, "init", "--dir", broker_dir.string(), "--listen", "127.0.0.1:0"},
                             dir.path / "init.log");
  REQUIRE(init.stop(0, std::chrono::seconds(30)) == 0);
  // A copy of the shipped policies with one unknown key in Anyang's file.
  const fs::path policies = dir.path / "policies";
  fs::copy(fs::path(HFV_SOURCE_DIR) / "policies" / "data", policies);
  json anyang = json::parse(hfv::testing::read_file(policies / "410500.json"));
  anyang["parameters"]["bonus_months"] = json::array();
  std::ofstream(policies / "410500.json", std::ios::trunc) << anyang.dump(2);
  json config = json::parse(hfv::testing::read_file(broker_dir / "brokerd.json"));
  config["policies_dir"] = policies.string();
  // The backend under test, as a Stack would choose it (stack.hpp): a bad
  // policy file stops start-up on either.
  std::unique_ptr<hfv::testing::PgServer> database;
  if (hfv::testing::postgresql_from_environment()) {
    database = std::make_unique<hfv::testing::PgServer>();
    hfv::testing::apply_storage(config, {database->conninfo()});
  }
  std::ofstream(broker_dir / "brokerd.json", std::ios::trunc) << config.dump(2);

  hfv::testing::Process daemon({BROKERD_BIN, "run", "--config", (broker_dir / "brokerd.json").string()},
                               dir.path / "brokerd.log");
  const auto status = daemon.stop(0, std::chrono::seconds(30));  // signal 0: only wait
  REQUIRE(status.has_value());
  CHECK(*status != 0);
  const std::string log = hfv::testing::read_file(dir.path / "brokerd.log");
  CHECK(log.find("410500.json") != std::string::npos);
  CHECK(log.find("parameters.bonus_months") != std::string::npos);
  CHECK_FALSE(fs::exists(broker_dir / "run" / "brokerd.port"));
}

TEST_CASE("api: /readyz needs no certificate and names the failing check (the shipped example standards are past their horizons)",
          "[integration][api][readyz]") {
  Stack stack;
  // The shipped policy files' newest dibao standards are past their
  // validity horizons on any date after 2025: not ready, for that reason only.
  auto r = https("GET", stack.url + "/readyz", stack.no_cert);
  INFO(r.body);
  const json body = json::parse(r.body);
  const bool stale_today = body["checks"]["policies"]["ok"] == false;
  CHECK(r.status == (stale_today ? 503 : 200));
  CHECK(body["ready"] == !stale_today);
  CHECK(body["checks"]["audit"]["ok"] == true);
  CHECK(body["checks"]["state"]["ok"] == true);
  CHECK(body["checks"]["agencies"]["ok"] == true);
  if (stale_today) CHECK(body["checks"]["policies"]["reason"].get<std::string>().starts_with("stale today: "));
}
