// One pseudonym key per purpose (issue 22, "Key lifecycle") against the real
// daemon, on each backend: on a new installation the consent store and the
// audit log hold different pseudonyms of one person, and every search by ID
// number still finds the person; each export re-pseudonymises its members
// with a key of its own (one pseudonym per person within it, none shared
// with another export or with the stores).
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <sstream>

#include "broker/ops/config.hpp"
#include "broker/store/postgresql/authorization_store.hpp"
#include "broker/store/sqlcipher/authorization_store.hpp"
#include "broker/store/store_keys.hpp"
#include "crypto/hash.hpp"
#include "stack.hpp"

using hfv::testing::https;
using hfv::testing::Stack;
using nlohmann::json;
namespace b = hfv::broker;
namespace crypto = hfv::crypto;

namespace {

constexpr const char* kApplicant = "230102197503120016";
constexpr const char* kSpouse = "230102197808050020";

std::string keyed(const crypto::SecretKey& key, const std::string& id) {
  return crypto::to_hex(crypto::hmac_sha256(key.bytes(), id));
}

// The member pseudonyms of case `case_id`'s records in an export, by action.
std::map<std::string, std::set<std::string>> export_members(const std::string& ndjson,
                                                            const std::string& case_id) {
  std::map<std::string, std::set<std::string>> out;
  std::istringstream in(ndjson);
  for (std::string line; std::getline(in, line);) {
    const json l = json::parse(line);
    if (l.value("type", "") != "record" || !l["personal"].is_string()) continue;
    const json personal = json::parse(l["personal"].get<std::string>());
    const json envelope = json::parse(l["envelope"].get<std::string>());
    if (personal.value("case_id", "") != case_id || !personal.contains("member")) continue;
    out[envelope.value("action", "")].insert(personal["member"].get<std::string>());
  }
  return out;
}

std::set<std::string> all_of(const std::map<std::string, std::set<std::string>>& by_action) {
  std::set<std::string> all;
  for (const auto& [action, members] : by_action) all.insert(members.begin(), members.end());
  return all;
}

}  // namespace

TEST_CASE(
    "pseudonym keys: the audit log and the consent store pseudonymise a person apart, searches "
    "still find "
    "the person, and each export has pseudonyms of its own",
    "[integration][audit][pseudonym]") {
  Stack s;
  const std::string case_id = "PSEUDO-1";
  const std::string auth = s.register_authorization(case_id, json::array({kApplicant, kSpouse}));
  auto issued = https("POST", s.url + "/v1/verifications", s.case_system,
                      hfv::testing::couple_request(auth, case_id).dump(), s.operator_header());
  INFO(issued.body);
  REQUIRE(issued.status == 200);

  // Searches by ID number find the person in the log.
  auto found = https("POST", s.url + "/v1/audit/search", s.supervisor,
                     json{{"member_id", kSpouse}, {"action", "verification.subject"}}.dump());
  INFO(found.body);
  REQUIRE(found.status == 200);
  REQUIRE(json::parse(found.body)["count"] == 1);
  CHECK(json::parse(found.body)["records"][0]["record"]["case_id"] == case_id);
  auto household = https("POST", s.url + "/v1/audit/household-search", s.supervisor,
                         json{{"member_id", kApplicant}}.dump());
  INFO(household.body);
  REQUIRE(household.status == 200);
  CHECK(household.body.find(case_id) != std::string::npos);
  // The citizen's access log: the authorisation (consent pseudonyms) covers
  // the person, and the log (audit pseudonyms) has the person's accesses.
  auto access =
      https("POST", s.url + "/v1/access-log", s.case_system,
            json{{"id_number", kSpouse}, {"authorization_id", auth}}.dump(), s.operator_header());
  INFO(access.body);
  REQUIRE(access.status == 200);
  const json accesses = json::parse(access.body)["accesses"];
  REQUIRE(accesses.size() >= 2);
  for (const auto& a : accesses) CHECK(a["case_id"] == case_id);

  // Two exports of the same range.
  auto first = https("GET", s.url + "/v1/audit/export?from_seq=1", s.supervisor);
  auto second = https("GET", s.url + "/v1/audit/export?from_seq=1", s.supervisor);
  REQUIRE(first.status == 200);
  REQUIRE(second.status == 200);
  CHECK(json::parse(first.body)["format"] == "hfv-audit-export/v2");
  const auto one = export_members(json::parse(first.body)["ndjson"].get<std::string>(), case_id);
  const auto two = export_members(json::parse(second.body)["ndjson"].get<std::string>(), case_id);
  // Within one export a person keeps one pseudonym throughout: the couple's
  // two, in their subject records and in their agencies' answers.
  REQUIRE(one.contains("verification.subject"));
  REQUIRE(one.contains("agency.answers"));
  CHECK(one.at("verification.subject").size() == 2);
  CHECK(one.at("agency.answers") == one.at("verification.subject"));
  CHECK(all_of(one).size() == 2);
  CHECK(all_of(two).size() == 2);
  for (const auto& p : all_of(one)) CHECK_FALSE(all_of(two).contains(p));

  // The keys, from the keyrings (the daemon stopped): distinct on a new
  // installation; the log holds the audit pseudonyms, the authorisation the
  // consent ones, and no export either.
  const std::vector<json> records = s.audit_records();  // stops the daemon
  auto config = b::load_config(s.broker_dir / "brokerd.json");
  REQUIRE(config.ok());
  auto master = crypto::load_master_key_file(s.broker_dir / "keys" / "master.key");
  REQUIRE(master.ok());
  auto keys = b::open_store_keys(*config, *master);
  REQUIRE(keys.ok());
  CHECK_FALSE(
      crypto::constant_time_equal(keys->audit_pseudonym.bytes(), keys->consent_pseudonym.bytes()));
  const std::set<std::string> audit_side = {keyed(keys->audit_pseudonym, kApplicant),
                                            keyed(keys->audit_pseudonym, kSpouse)};
  const std::set<std::string> consent_side = {keyed(keys->consent_pseudonym, kApplicant),
                                              keyed(keys->consent_pseudonym, kSpouse)};
  std::set<std::string> logged;
  for (const auto& r : records) {
    if (r.value("case_id", "") == case_id && r.contains("member"))
      logged.insert(r["member"].get<std::string>());
  }
  CHECK(logged == audit_side);
  std::set<std::string> consented;
  if (s.on_postgresql()) {
    auto store = b::PostgresqlAuthorizationStore::open(config->storage.postgresql.conninfo);
    REQUIRE(store.ok());
    auto a = (*store)->find(auth, "demo-case-system");
    REQUIRE(a.ok());
    REQUIRE(a->has_value());
    consented = (**a).member_pseudonyms;
  } else {
    auto store = b::SqlcipherAuthorizationStore::open(config->storage.state_db, keys->state);
    REQUIRE(store.ok());
    auto a = (*store)->find(auth, "demo-case-system");
    REQUIRE(a.ok());
    REQUIRE(a->has_value());
    consented = (**a).member_pseudonyms;
  }
  CHECK(consented == consent_side);
  for (const auto& p : all_of(one)) {
    CHECK_FALSE(audit_side.contains(p));
    CHECK_FALSE(consent_side.contains(p));
  }
}
