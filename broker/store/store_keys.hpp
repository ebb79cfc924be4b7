// Store keys: the random keys of the broker's own stores and of the
// members' pseudonyms, kept only wrapped under a key-encryption key (KEK)
// derived from the master key, as the audit keyring keeps the audit log's
// (audit/keyring.hpp). So a new master key re-wraps them and the old master
// opens nothing (docs/security.md, issue 22 finding 3; the format in
// docs/audit-log-format.md, "Store keyrings").
//
//  - SQLCipher: `<state_db>.keyring` and `<review_db>.keyring` (0600), each
//    holding its database's random key (`db_key`); the state keyring also
//    holds the member pseudonym keys.
//  - PostgreSQL: one row of table `store_keyring` (name 'cluster') holding
//    the column-sealing key (`db_key`) and the member pseudonym keys, so
//    every broker of the cluster uses the same keys.
//
// One pseudonym key per purpose (issue 22, "Key lifecycle"), so the holder
// of one cannot link the other store's pseudonyms: `pseudonym_key` keys
// the consent store's (authorisations' members), `audit_pseudonym_key` the
// audit log's member column. A keyring of the first format has only
// `pseudonym_key`: its installation already holds pseudonyms under it in
// both stores, so it keeps that key for both (a limit, docs/security.md).
// A new installation gets two distinct random keys. Exports use neither:
// each gets a fresh key (audit::AuditLog::export_ndjson).
//
// Migration from keys derived from the master (before this format): the
// first open finds a database but no keyring. SQLCipher: the keyring is
// written with the derived key as `db_key` and a random `next_db_key`,
// the database is re-encrypted under the next key
// (storage::SqlcipherDb::reencrypt_file) and the next key promoted: each
// step an atomic replacement, and an open after a crash tries `db_key`,
// then `next_db_key`, and finishes the step. PostgreSQL, and the pseudonym
// key everywhere: the derived key of an existing installation is kept, only
// wrapped from now on (re-sealing every row, or changing every stored
// pseudonym, is not done: see docs/security.md); a new installation gets
// random keys.
//
// Threading: plain functions, called at start-up or by brokerctl with the
// daemon stopped (a re-encryption must not race the daemon's connections).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "broker/ops/config.hpp"
#include "common/result.hpp"
#include "crypto/keys.hpp"

namespace hfv::broker {

inline constexpr std::string_view kStoreKeyringFormat = "hfv-store-keyring/v1";

// One store's keyring (the document of the file or the row).
struct StoreKeyring {
  std::string store;  // "state", "review" or "cluster"
  crypto::SecretKey db_key;
  std::optional<crypto::SecretKey> next_db_key;    // a re-encryption under way
  std::optional<crypto::SecretKey> pseudonym_key;  // consent store's; state and cluster only
  // The audit log's; absent in a keyring of the first format, whose
  // installation then uses pseudonym_key for the audit log too.
  std::optional<crypto::SecretKey> audit_pseudonym_key;

  // The document sealed under `kek`.
  std::string sealed_text(const crypto::SecretKey& kek) const;
  // Error codes: "bad_key" (another master key, or a box that does not
  // open), "bad_keyring" (malformed, or another store's). `where` names it.
  static Result<StoreKeyring> from_sealed_text(const std::string& text, const crypto::SecretKey& kek,
                                               std::string_view store, const std::string& where);
  // The file's keyring; "not_found" when there is none, "io_error".
  static Result<StoreKeyring> load(const std::filesystem::path& file, const crypto::SecretKey& kek,
                                   std::string_view store);
  Status save(const std::filesystem::path& file, const crypto::SecretKey& kek) const;
};

// KEK = HKDF(master, crypto::kPurposeStoreKek).
crypto::SecretKey store_kek(const crypto::SecretKey& master);
std::filesystem::path store_keyring_path(const std::filesystem::path& db);

// The keys the daemon opens its stores with.
struct StoreKeys {
  crypto::SecretKey state;   // SQLCipher: state.db's key; PostgreSQL: the column-sealing key
  crypto::SecretKey review;  // SQLCipher: review.db's key; PostgreSQL: the column-sealing key
  crypto::SecretKey consent_pseudonym;  // HMAC key of the consent store's member pseudonyms
  crypto::SecretKey audit_pseudonym;    // HMAC key of the audit log's member pseudonyms
};

// Loads the keyrings of the configured backend, creating them (and
// migrating databases keyed the old way) when absent. Error codes: "bad_key"
// (a keyring wrapped by another master key, or a database none of its keys
// opens), "bad_keyring", "io_error", PostgreSQL's codes. Call before the
// audit log is opened: whether the installation existed before (and so
// keeps its derived pseudonym key, for both purposes) is judged by its files
// or tables.
Result<StoreKeys> open_store_keys(const Config& config, const crypto::SecretKey& master);

// Master-key rotation: every store keyring re-sealed under the new master's
// KEK, each in one atomic replacement (a file, or the row in one
// transaction). Keyrings already sealed under it are left as they are, so
// a rotation that stopped half-way is finished by running it again; keyrings
// still missing are made first under the old master (open_store_keys).
Status rewrap_store_keys(const Config& config, const crypto::SecretKey& old_master,
                         const crypto::SecretKey& new_master);

}  // namespace hfv::broker
