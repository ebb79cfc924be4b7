#include "broker/store/store_keys.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "broker/store/postgresql/schema.hpp"
#include "broker/store/sqlcipher/review_store.hpp"
#include "common/files.hpp"
#include "crypto/key_wrap.hpp"
#include "storage/postgresql_db.hpp"
#include "storage/sqlcipher_db.hpp"

namespace hfv::broker {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view kKekIdLabel = "hfv-store-kek-id";
constexpr const char* kClusterRow = "cluster";

std::string slot_name(std::string_view store, std::string_view slot) {
  std::string s(store);
  s += '/';
  s += slot;
  return s;
}

// The keyring of one SQLCipher store, made or migrated as the header says.
// `legacy_key`: the key an existing database was opened with before
// keyrings; `new_pseudonym`, `new_audit_pseudonym`: the pseudonym keys a
// new keyring gets (state only).
Result<StoreKeyring> file_keyring(const fs::path& db, const crypto::SecretKey& kek, std::string_view store,
                                  const crypto::SecretKey& legacy_key,
                                  const std::optional<crypto::SecretKey>& new_pseudonym,
                                  const std::optional<crypto::SecretKey>& new_audit_pseudonym) {
  const fs::path file = store_keyring_path(db);
  fs::path rekey = db;
  rekey += ".rekey";
  std::error_code ec;
  fs::remove(rekey, ec);  // a re-encryption that did not finish
  const bool have_db = fs::exists(db, ec);
  if (!fs::exists(file, ec)) {
    StoreKeyring fresh;
    fresh.store = std::string(store);
    if (have_db) {  // keyed the old way: re-encrypted below
      fresh.db_key = legacy_key;
      fresh.next_db_key = crypto::SecretKey::random();
    } else {
      fresh.db_key = crypto::SecretKey::random();
    }
    fresh.pseudonym_key = new_pseudonym;
    fresh.audit_pseudonym_key = new_audit_pseudonym;
    if (auto s = fresh.save(file, kek); !s) return s.error();
  }
  auto keyring = StoreKeyring::load(file, kek, store);
  if (!keyring) return keyring.error();
  if (!keyring->next_db_key) return keyring;
  if (have_db) {
    bool current_opens = false;
    {
      auto current = storage::SqlcipherDb::open(db, keyring->db_key, /*create=*/false);
      if (!current && current.error().code != "bad_key") return current.error();
      current_opens = current.ok();
    }
    if (current_opens) {
      if (auto s = storage::SqlcipherDb::reencrypt_file(db, keyring->db_key, *keyring->next_db_key); !s) {
        return s.error();
      }
    } else {  // the file was replaced, the keyring not yet
      auto next = storage::SqlcipherDb::open(db, *keyring->next_db_key, /*create=*/false);
      if (!next) return make_error(next.error().code, db.string() + ": neither key of " + file.string() + " opens it");
    }
  }
  keyring->db_key = *keyring->next_db_key;
  keyring->next_db_key.reset();
  if (auto s = keyring->save(file, kek); !s) return s.error();
  return keyring;
}

// Whether the installation existed before store keyrings (its pseudonyms
// then stay those derived from the master key).
bool files_existed(const Config& config) {
  std::error_code ec;
  return fs::exists(config.storage.state_db, ec) || fs::exists(config.storage.review_db, ec) ||
         (!config.audit.db.empty() && fs::exists(config.audit.db, ec));
}

Result<StoreKeyring> state_keyring(const Config& config, const crypto::SecretKey& master) {
  // An existing installation keeps its derived key, for both purposes.
  const bool existed = files_existed(config);
  const auto pseudonym = existed ? crypto::derive_key(master, crypto::kPurposeMemberPseudonym)
                                 : crypto::SecretKey::random();
  const auto audit_pseudonym = existed ? pseudonym : crypto::SecretKey::random();
  auto keyring = file_keyring(config.storage.state_db, store_kek(master), "state",
                              crypto::derive_key(master, crypto::kPurposeStateDb), pseudonym, audit_pseudonym);
  if (keyring && !keyring->pseudonym_key) {
    return make_error("bad_keyring", store_keyring_path(config.storage.state_db).string() + " has no pseudonym_key");
  }
  return keyring;
}

Result<StoreKeyring> review_keyring(const Config& config, const crypto::SecretKey& master) {
  return file_keyring(config.storage.review_db, store_kek(master), "review",
                      crypto::derive_key(master, kPurposeReviewDb), std::nullopt, std::nullopt);
}

Result<StoreKeyring> read_cluster_keyring(storage::PostgresqlDb& db, const crypto::SecretKey& kek) {
  auto rows = db.query("SELECT keyring FROM store_keyring WHERE name = $1", {std::string(kClusterRow)});
  if (!rows) return rows.error();
  if (rows->empty() || !(*rows)[0][0]) return make_error("not_found", "the PostgreSQL database has no store keyring");
  return StoreKeyring::from_sealed_text(*(*rows)[0][0], kek, kClusterRow, "the store keyring in PostgreSQL");
}

// The cluster's keyring row, made by the first broker to start (with the
// derived keys when the database already held the broker's tables).
Result<StoreKeyring> cluster_keyring(const std::string& conninfo, const crypto::SecretKey& master) {
  auto db = storage::PostgresqlDb::connect(conninfo);
  if (!db) return db.error();
  auto existed = (*db)->query(
      "SELECT to_regclass('hfv_schema') IS NOT NULL OR to_regclass('audit_records') IS NOT NULL");
  if (!existed) return existed.error();
  const bool legacy = !existed->empty() && (*existed)[0][0] && *(*existed)[0][0] == "t";
  if (auto s = pg::migrate(**db); !s) return s.error();
  StoreKeyring fresh;
  fresh.store = kClusterRow;
  fresh.db_key = legacy ? crypto::derive_key(master, pg::kPurposeStateColumns) : crypto::SecretKey::random();
  fresh.pseudonym_key =
      legacy ? crypto::derive_key(master, crypto::kPurposeMemberPseudonym) : crypto::SecretKey::random();
  fresh.audit_pseudonym_key = legacy ? *fresh.pseudonym_key : crypto::SecretKey::random();
  const crypto::SecretKey kek = store_kek(master);
  if (auto s = (*db)->run("INSERT INTO store_keyring (name, keyring) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                          {std::string(kClusterRow), fresh.sealed_text(kek)});
      !s) {
    return s.error();
  }
  auto keyring = read_cluster_keyring(**db, kek);
  if (keyring && !keyring->pseudonym_key) {
    return make_error("bad_keyring", "the store keyring in PostgreSQL has no pseudonym_key");
  }
  return keyring;
}

}  // namespace

std::string StoreKeyring::sealed_text(const crypto::SecretKey& kek) const {
  json doc = {{"format", kStoreKeyringFormat},
              {"store", store},
              {"kek_id", crypto::kek_identifier(kek, kKekIdLabel)},
              {"db_key", crypto::wrap_key(kek, db_key, kStoreKeyringFormat, slot_name(store, "db_key"))}};
  if (next_db_key) {
    doc["next_db_key"] = crypto::wrap_key(kek, *next_db_key, kStoreKeyringFormat, slot_name(store, "next_db_key"));
  }
  if (pseudonym_key) {
    doc["pseudonym_key"] =
        crypto::wrap_key(kek, *pseudonym_key, kStoreKeyringFormat, slot_name(store, "pseudonym_key"));
  }
  if (audit_pseudonym_key) {
    doc["audit_pseudonym_key"] =
        crypto::wrap_key(kek, *audit_pseudonym_key, kStoreKeyringFormat, slot_name(store, "audit_pseudonym_key"));
  }
  return doc.dump(2) + "\n";
}

Result<StoreKeyring> StoreKeyring::from_sealed_text(const std::string& text, const crypto::SecretKey& kek,
                                                    std::string_view store, const std::string& where) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kStoreKeyringFormat ||
      doc.value("store", "") != store || !doc.contains("db_key") || !doc["db_key"].is_string()) {
    return make_error("bad_keyring", where + " is not an " + std::string(kStoreKeyringFormat) + " keyring of the " +
                                         std::string(store) + " store");
  }
  if (doc.value("kek_id", "") != crypto::kek_identifier(kek, kKekIdLabel)) {
    return make_error("bad_key", where + " is wrapped by another master key (kek_id " +
                                     doc.value("kek_id", std::string("?")) + ")");
  }
  StoreKeyring k;
  k.store = std::string(store);
  auto unwrap = [&](const char* slot) -> std::optional<crypto::SecretKey> {
    const auto it = doc.find(slot);
    if (it == doc.end() || !it->is_string()) return std::nullopt;
    return crypto::unwrap_key(kek, it->get<std::string>(), kStoreKeyringFormat, slot_name(store, slot));
  };
  auto db = unwrap("db_key");
  if (!db) return make_error("bad_key", where + ": db_key cannot be unwrapped");
  k.db_key = *db;
  for (auto [slot, dest] : {std::pair{"next_db_key", &k.next_db_key}, std::pair{"pseudonym_key", &k.pseudonym_key},
                            std::pair{"audit_pseudonym_key", &k.audit_pseudonym_key}}) {
    if (!doc.contains(slot)) continue;
    *dest = unwrap(slot);
    if (!*dest) return make_error("bad_key", where + ": " + slot + " cannot be unwrapped");
  }
  return k;
}

Result<StoreKeyring> StoreKeyring::load(const fs::path& file, const crypto::SecretKey& kek, std::string_view store) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return make_error("not_found", "store keyring " + file.string() + " does not exist");
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error("io_error", "cannot read " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  return from_sealed_text(text.str(), kek, store, file.string());
}

Status StoreKeyring::save(const fs::path& file, const crypto::SecretKey& kek) const {
  return replace_file_atomically(file, sealed_text(kek), 0600);
}

crypto::SecretKey store_kek(const crypto::SecretKey& master) {
  return crypto::derive_key(master, crypto::kPurposeStoreKek);
}

fs::path store_keyring_path(const fs::path& db) {
  fs::path p = db;
  p += ".keyring";
  return p;
}

Result<StoreKeys> open_store_keys(const Config& config, const crypto::SecretKey& master) {
  if (config.storage.backend == StorageBackend::kPostgresql) {
    auto cluster = cluster_keyring(config.storage.postgresql.conninfo, master);
    if (!cluster) return cluster.error();
    return StoreKeys{cluster->db_key, cluster->db_key, *cluster->pseudonym_key,
                     cluster->audit_pseudonym_key.value_or(*cluster->pseudonym_key)};
  }
  auto state = state_keyring(config, master);
  if (!state) return state.error();
  auto review = review_keyring(config, master);
  if (!review) return review.error();
  return StoreKeys{state->db_key, review->db_key, *state->pseudonym_key,
                   state->audit_pseudonym_key.value_or(*state->pseudonym_key)};
}

Status rewrap_store_keys(const Config& config, const crypto::SecretKey& old_master,
                         const crypto::SecretKey& new_master) {
  const crypto::SecretKey old_kek = store_kek(old_master);
  const crypto::SecretKey new_kek = store_kek(new_master);
  if (config.storage.backend == StorageBackend::kPostgresql) {
    const auto& conninfo = config.storage.postgresql.conninfo;
    auto db = storage::PostgresqlDb::connect(conninfo);
    if (!db) return db.error();
    auto rows = (*db)->query("SELECT to_regclass('store_keyring') IS NOT NULL");
    if (!rows) return rows.error();
    if (rows->empty() || !(*rows)[0][0] || *(*rows)[0][0] != "t" || !read_cluster_keyring(**db, new_kek)) {
      if (auto made = cluster_keyring(conninfo, old_master); !made && made.error().code != "bad_key") {
        return made.error();
      }
    }
    return storage::transaction(**db, [&]() -> Status {
      auto locked = (*db)->query("SELECT keyring FROM store_keyring WHERE name = $1 FOR UPDATE",
                                 {std::string(kClusterRow)});
      if (!locked) return locked.error();
      if (read_cluster_keyring(**db, new_kek)) return {};  // re-wrapped before
      auto keyring = read_cluster_keyring(**db, old_kek);
      if (!keyring) return keyring.error();
      return (*db)->run("UPDATE store_keyring SET keyring = $1 WHERE name = $2",
                        {keyring->sealed_text(new_kek), std::string(kClusterRow)});
    });
  }
  for (const auto& [db, store] : {std::pair{config.storage.state_db, "state"}, std::pair{config.storage.review_db, "review"}}) {
    if (StoreKeyring::load(store_keyring_path(db), new_kek, store)) continue;  // re-wrapped before
    auto keyring = std::string_view(store) == "state" ? state_keyring(config, old_master)
                                                      : review_keyring(config, old_master);
    if (!keyring) return make_error(keyring.error().code, std::string(store) + " keyring: " + keyring.error().message);
    if (auto s = keyring->save(store_keyring_path(db), new_kek); !s) return s;
  }
  return {};
}

}  // namespace hfv::broker
