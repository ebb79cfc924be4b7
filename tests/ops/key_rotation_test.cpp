// Master-key rotation and the store keyrings (issue 22, finding 3), against
// the real daemon and real files: `brokerctl audit rotate-key --new-master`
// re-wraps every keyring, the daemon restarts with the new master and reads
// what it wrote before, and the old master opens nothing. Also the
// migration of state and review databases keyed the old way (keys derived
// from the master) to random keys in keyrings, crash points included.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "../integration/stack.hpp"
#include "audit/audit_log.hpp"
#include "audit/keyring.hpp"
#include "broker/store/sqlcipher/authorization_store.hpp"
#include "broker/store/sqlcipher/review_store.hpp"
#include "broker/store/store_keys.hpp"
#include "crypto/hash.hpp"
#include "storage/sqlcipher_db.hpp"
#include "run.hpp"

namespace fs = std::filesystem;
namespace b = hfv::broker;
namespace crypto = hfv::crypto;
using hfv::testing::https;
using hfv::testing::member;
using hfv::testing::quote;
using hfv::testing::read_file;
using hfv::testing::Ran;
using hfv::testing::run;
using hfv::testing::Stack;
using nlohmann::json;

namespace {

void use_master_file(const Stack& stack, const std::string& relative) {
  json config = json::parse(read_file(stack.broker_dir / "brokerd.json"));
  config["master_key_file"] = relative;
  std::ofstream(stack.broker_dir / "brokerd.json", std::ios::trunc) << config.dump(2);
}

// Starts brokerd on the stack's config; its URL, or "" when it exited
// without listening (its exit status in `exit_status`).
std::string start(Stack& stack, const std::string& log_name, int& exit_status) {
  fs::remove(stack.broker_dir / "run" / "brokerd.port");
  stack.broker = std::make_unique<hfv::testing::Process>(
      std::vector<std::string>{BROKERD_BIN, "run", "--config", (stack.broker_dir / "brokerd.json").string()},
      stack.dir.path / log_name);
  std::string port;
  const bool up = hfv::testing::eventually([&] {
    std::error_code ec;
    if (fs::file_size(stack.broker_dir / "run" / "brokerd.port", ec) > 0 && !ec) {
      port = read_file(stack.broker_dir / "run" / "brokerd.port");
      return true;
    }
    // A refused start says so in its log before it exits.
    return read_file(stack.dir.path / log_name).find("start_failed") != std::string::npos;
  });
  REQUIRE(up);
  if (port.empty()) {
    exit_status = stack.broker->stop(0).value_or(-1);
    return "";
  }
  return "https://127.0.0.1:" + port.substr(0, port.find('\n'));
}

template <class R>
bool is_bad_key(const R& r) {
  return !r.ok() && r.error().code == "bad_key";
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777U;
}

}  // namespace

TEST_CASE("rotation: restart works with the new master, earlier reports and records are read, and the old master "
          "opens nothing",
          "[ops][integration][keys]") {
  Stack stack;
  const char* id_number = "230102197503120016";
  const json verified = stack.verify("HRB-KR-1", json::array({member(id_number, "张伟", "applicant")}));
  const std::string verification_id = verified["verification_id"];
  const auto before = https("GET", stack.url + "/v1/verifications/" + verification_id, stack.case_system, "",
                            stack.operator_header());
  REQUIRE(before.status == 200);
  REQUIRE(stack.broker->stop(SIGTERM) == 0);

  const fs::path config_file = stack.broker_dir / "brokerd.json";
  const fs::path old_master_file = stack.broker_dir / "keys" / "master.key";
  const fs::path new_master_file = stack.broker_dir / "keys" / "master-2.key";
  const Ran rotated = run(std::string(BROKERCTL_BIN) + " audit rotate-key --config " + quote(config_file) +
                          " --new-master " + quote(new_master_file));
  INFO(rotated.output);
  REQUIRE(rotated.exit_code == 0);
  CHECK(rotated.output.find("OK:") != std::string::npos);
  CHECK(mode_of(new_master_file) == 0600U);

  // Run again (as after a rotation that stopped half-way): every keyring
  // is wrapped by the new key already and is left as it is.
  const Ran again = run(std::string(BROKERCTL_BIN) + " audit rotate-key --config " + quote(config_file) +
                        " --new-master " + quote(new_master_file));
  INFO(again.output);
  CHECK(again.exit_code == 0);

  // Restart with the new master: it works, and what was written before reads back.
  use_master_file(stack, "keys/master-2.key");
  int exit_status = 0;
  stack.url = start(stack, "brokerd-new-master.log", exit_status);
  INFO(read_file(stack.dir.path / "brokerd-new-master.log"));
  REQUIRE_FALSE(stack.url.empty());
  const auto after = https("GET", stack.url + "/v1/verifications/" + verification_id, stack.case_system, "",
                           stack.operator_header());
  CHECK(after.status == 200);
  CHECK(json::parse(after.body) == json::parse(before.body));
  // The same household again: its earlier review record and authorisations
  // are read (a second verification of the case), its pseudonym unchanged.
  (void)stack.verify("HRB-KR-1", json::array({member(id_number, "张伟", "applicant")}));
  REQUIRE(stack.broker->stop(SIGTERM) == 0);

  const Ran verified_log = run(std::string(BROKERCTL_BIN) + " audit verify --config " + quote(config_file));
  INFO(verified_log.output);
  CHECK(verified_log.exit_code == 0);

  auto new_master = crypto::load_master_key_file(new_master_file);
  auto old_master = crypto::load_master_key_file(old_master_file);
  REQUIRE(new_master.ok());
  REQUIRE(old_master.ok());
  // Records from before the rotation, read with the new master.
  std::set<std::string> members_seen;
  {
    auto log = hfv::audit::AuditLog::open(stack.audit_location(),
                                          crypto::derive_key(*new_master, crypto::kPurposeAuditDb));
    REQUIRE(log.ok());
    auto rows = (*log)->read(1, 1000000);
    REQUIRE(rows.ok());
    bool report_seen = false;
    for (const auto& r : *rows) {
      const json record = json::parse(r.body);
      if (record.value("action", "") == "verification.report" &&
          record.dump().find(verification_id) != std::string::npos) {
        report_seen = true;
      }
      if (record.contains("member") && record["member"].is_string()) members_seen.insert(record["member"]);
    }
    CHECK(report_seen);
    CHECK_FALSE(members_seen.empty());
  }

  // With the OLD master the daemon refuses to start.
  use_master_file(stack, "keys/master.key");
  stack.url = start(stack, "brokerd-old-master.log", exit_status);
  CHECK(stack.url.empty());
  CHECK(exit_status != 0);
  CHECK(read_file(stack.dir.path / "brokerd-old-master.log").find("start_failed") != std::string::npos);

  // None of the three databases opens with keys derived from the old master.
  const fs::path data = stack.broker_dir / "data";
  CHECK(is_bad_key(hfv::audit::AuditLog::open(hfv::audit::LogLocation::sqlcipher(data / "audit.db"),
                                              crypto::derive_key(*old_master, crypto::kPurposeAuditDb))
                       ));
  for (const auto& [file, purpose] : {std::pair{data / "audit.db", crypto::kPurposeAuditDb},
                                      std::pair{data / "state.db", crypto::kPurposeStateDb},
                                      std::pair{data / "review.db", b::kPurposeReviewDb}}) {
    INFO(file);
    REQUIRE(fs::exists(file));
    CHECK(is_bad_key(hfv::storage::SqlcipherDb::open(file, crypto::derive_key(*old_master, purpose), false)));
  }
  // Nor do their keyrings.
  CHECK(is_bad_key(hfv::audit::Keyring::load(hfv::audit::keyring_path(data / "audit.db"),
                                             crypto::derive_key(*old_master, crypto::kPurposeAuditDb))
                       ));
  for (const char* store : {"state", "review"}) {
    const fs::path keyring = b::store_keyring_path(data / (std::string(store) + ".db"));
    INFO(keyring);
    CHECK(mode_of(keyring) == 0600U);
    CHECK(is_bad_key(b::StoreKeyring::load(keyring, b::store_kek(*old_master), store)));
    auto with_new = b::StoreKeyring::load(keyring, b::store_kek(*new_master), store);
    REQUIRE(with_new.ok());
    CHECK(hfv::storage::SqlcipherDb::open(data / (std::string(store) + ".db"), with_new->db_key, false).ok());
  }
  // And the old master's pseudonym key names no member of the log.
  const std::string old_pseudonym = crypto::to_hex(
      crypto::hmac_sha256(crypto::derive_key(*old_master, crypto::kPurposeMemberPseudonym).bytes(), id_number));
  CHECK(members_seen.count(old_pseudonym) == 0);
}

namespace {

// The three SQLCipher databases of an installation in `dir`.
b::Config sqlcipher_config(const fs::path& dir) {
  b::Config config;
  config.storage.backend = b::StorageBackend::kSqlcipher;
  config.storage.state_db = dir / "state.db";
  config.storage.review_db = dir / "review.db";
  config.audit.db = dir / "audit.db";
  return config;
}

// A state and a review database keyed the old way (keys derived from the
// master), with one authorisation in the state database.
b::Config legacy_installation(const fs::path& dir, const crypto::SecretKey& master) {
  b::Config config = sqlcipher_config(dir);
  auto auths = b::SqlcipherAuthorizationStore::open(config.storage.state_db,
                                                    crypto::derive_key(master, crypto::kPurposeStateDb));
  REQUIRE(auths.ok());
  b::StoredAuthorization a;
  a.id = "auth-legacy-1";
  a.principal = "demo-case-system";
  a.case_id = "HRB-LEGACY";
  a.jurisdiction = "230100";
  a.valid_from = *hfv::Date::parse("2026-01-01");
  a.valid_until = *hfv::Date::parse("2027-12-31");
  a.all_categories = true;
  a.form_sha256 = std::string(64, 'c');
  a.created_at = "2026-01-02T00:00:00.000Z";
  REQUIRE((*auths)->insert(a).ok());
  auths->reset();
  auto reviews = b::SqlcipherReviewStore::open(config.storage.review_db,
                                               crypto::derive_key(master, b::kPurposeReviewDb));
  REQUIRE(reviews.ok());
  return config;
}

void check_migrated(const b::Config& config, const crypto::SecretKey& master, const b::StoreKeys& keys) {
  // The databases no longer open with the derived keys; they open with the keyrings'.
  CHECK(is_bad_key(hfv::storage::SqlcipherDb::open(config.storage.state_db,
                                                   crypto::derive_key(master, crypto::kPurposeStateDb), false)
                       ));
  CHECK(is_bad_key(hfv::storage::SqlcipherDb::open(config.storage.review_db,
                                                   crypto::derive_key(master, b::kPurposeReviewDb), false)
                       ));
  auto auths = b::SqlcipherAuthorizationStore::open(config.storage.state_db, keys.state);
  REQUIRE(auths.ok());
  auto found = (*auths)->find("auth-legacy-1", "demo-case-system");
  REQUIRE(found.ok());
  CHECK(found->has_value());
  CHECK(b::SqlcipherReviewStore::open(config.storage.review_db, keys.review).ok());
  // An existing installation keeps its pseudonyms (stored ones still match),
  // the one key for both purposes.
  CHECK(crypto::constant_time_equal(keys.consent_pseudonym.bytes(),
                                    crypto::derive_key(master, crypto::kPurposeMemberPseudonym).bytes()));
  CHECK(crypto::constant_time_equal(keys.audit_pseudonym.bytes(),
                                    crypto::derive_key(master, crypto::kPurposeMemberPseudonym).bytes()));
  auto keyring = b::StoreKeyring::load(b::store_keyring_path(config.storage.state_db), b::store_kek(master), "state");
  REQUIRE(keyring.ok());
  CHECK_FALSE(keyring->next_db_key.has_value());
  CHECK_FALSE(fs::exists(config.storage.state_db.string() + ".rekey"));
}

// The state keyring as the migration's first step writes it: the derived
// key, and the next one.
b::StoreKeyring keyring_with_next_key(const b::Config& config, const crypto::SecretKey& master) {
  b::StoreKeyring k;
  k.store = "state";
  k.db_key = crypto::derive_key(master, crypto::kPurposeStateDb);
  k.next_db_key = crypto::SecretKey::random();
  k.pseudonym_key = crypto::derive_key(master, crypto::kPurposeMemberPseudonym);
  REQUIRE(k.save(b::store_keyring_path(config.storage.state_db), b::store_kek(master)).ok());
  return k;
}

}  // namespace

TEST_CASE("store keyrings: databases keyed from the master are re-encrypted under random keys at the first open, "
          "also after a crash at either step",
          "[ops][keys]") {
  hfv::testing::TempDir dir("hfv-keys");
  const crypto::SecretKey master = crypto::SecretKey::random();

  SECTION("no crash") {
    const b::Config config = legacy_installation(dir.path, master);
    auto keys = b::open_store_keys(config, master);
    REQUIRE(keys.ok());
    check_migrated(config, master, *keys);
    // Opening again changes nothing.
    auto again = b::open_store_keys(config, master);
    REQUIRE(again.ok());
    CHECK(crypto::constant_time_equal(again->state.bytes(), keys->state.bytes()));
  }
  SECTION("crash after the keyring recorded the next key, before the copy") {
    const b::Config config = legacy_installation(dir.path, master);
    const b::StoreKeyring k = keyring_with_next_key(config, master);
    std::ofstream(config.storage.state_db.string() + ".rekey") << "half a copy";
    auto keys = b::open_store_keys(config, master);
    REQUIRE(keys.ok());
    CHECK(crypto::constant_time_equal(keys->state.bytes(), k.next_db_key->bytes()));
    check_migrated(config, master, *keys);
  }
  SECTION("crash after the copy replaced the database, before the keyring promoted the key") {
    const b::Config config = legacy_installation(dir.path, master);
    const b::StoreKeyring k = keyring_with_next_key(config, master);
    REQUIRE(hfv::storage::SqlcipherDb::reencrypt_file(config.storage.state_db, k.db_key, *k.next_db_key).ok());
    auto keys = b::open_store_keys(config, master);
    REQUIRE(keys.ok());
    CHECK(crypto::constant_time_equal(keys->state.bytes(), k.next_db_key->bytes()));
    check_migrated(config, master, *keys);
  }
}

TEST_CASE("store keyrings: a new installation gets random keys, and a master rotation re-wraps them once",
          "[ops][keys]") {
  hfv::testing::TempDir dir("hfv-keys");
  b::Config config = sqlcipher_config(dir.path);
  const crypto::SecretKey master = crypto::SecretKey::random();
  auto keys = b::open_store_keys(config, master);
  REQUIRE(keys.ok());
  for (const auto& purpose : {crypto::kPurposeStateDb, crypto::kPurposeMemberPseudonym, b::kPurposeReviewDb}) {
    const auto derived = crypto::derive_key(master, purpose);
    CHECK_FALSE(crypto::constant_time_equal(keys->state.bytes(), derived.bytes()));
    CHECK_FALSE(crypto::constant_time_equal(keys->review.bytes(), derived.bytes()));
    CHECK_FALSE(crypto::constant_time_equal(keys->consent_pseudonym.bytes(), derived.bytes()));
    CHECK_FALSE(crypto::constant_time_equal(keys->audit_pseudonym.bytes(), derived.bytes()));
  }
  // One key per purpose: the audit log's pseudonyms are not the consent store's.
  CHECK_FALSE(crypto::constant_time_equal(keys->consent_pseudonym.bytes(), keys->audit_pseudonym.bytes()));
  const crypto::SecretKey next = crypto::SecretKey::random();
  REQUIRE(b::rewrap_store_keys(config, master, next).ok());
  REQUIRE(b::rewrap_store_keys(config, master, next).ok());  // again: already done, nothing changes
  CHECK(is_bad_key(b::open_store_keys(config, master)));
  auto reopened = b::open_store_keys(config, next);
  REQUIRE(reopened.ok());
  CHECK(crypto::constant_time_equal(reopened->state.bytes(), keys->state.bytes()));
  CHECK(crypto::constant_time_equal(reopened->review.bytes(), keys->review.bytes()));
  CHECK(crypto::constant_time_equal(reopened->consent_pseudonym.bytes(), keys->consent_pseudonym.bytes()));
  CHECK(crypto::constant_time_equal(reopened->audit_pseudonym.bytes(), keys->audit_pseudonym.bytes()));
}

TEST_CASE("store keyrings: a keyring of the first format, with one pseudonym key, keeps it for both purposes",
          "[ops][keys][pseudonym]") {
  hfv::testing::TempDir dir("hfv-keys");
  b::Config config = sqlcipher_config(dir.path);
  const crypto::SecretKey master = crypto::SecretKey::random();
  // As a broker before per-purpose keys wrote it: db_key and pseudonym_key only.
  b::StoreKeyring old;
  old.store = "state";
  old.db_key = crypto::SecretKey::random();
  old.pseudonym_key = crypto::SecretKey::random();
  REQUIRE(old.save(b::store_keyring_path(config.storage.state_db), b::store_kek(master)).ok());
  {
    auto db = hfv::storage::SqlcipherDb::open(config.storage.state_db, old.db_key, /*create=*/true);
    REQUIRE(db.ok());
  }
  auto keys = b::open_store_keys(config, master);
  REQUIRE(keys.ok());
  CHECK(crypto::constant_time_equal(keys->consent_pseudonym.bytes(), old.pseudonym_key->bytes()));
  CHECK(crypto::constant_time_equal(keys->audit_pseudonym.bytes(), old.pseudonym_key->bytes()));
  // A master rotation keeps it so.
  const crypto::SecretKey next = crypto::SecretKey::random();
  REQUIRE(b::rewrap_store_keys(config, master, next).ok());
  auto reopened = b::open_store_keys(config, next);
  REQUIRE(reopened.ok());
  CHECK(crypto::constant_time_equal(reopened->audit_pseudonym.bytes(), old.pseudonym_key->bytes()));
  CHECK(crypto::constant_time_equal(reopened->consent_pseudonym.bytes(), old.pseudonym_key->bytes()));
}
