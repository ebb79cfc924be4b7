#include "broker/store/backup.hpp"

#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "audit/audit_log.hpp"
#include "audit/keyring.hpp"
#include "audit/tree_head.hpp"
#include "broker/store/sqlcipher/review_store.hpp"
#include "broker/store/store_keys.hpp"
#include "common/files.hpp"
#include "common/time.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/hash.hpp"
#include "storage/page_check.hpp"
#include "storage/sqlcipher_db.hpp"

namespace hfv::broker {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kAnchor = "audit.anchor";

Status refuse_postgresql(const Config& config) {
  if (config.storage.backend != StorageBackend::kPostgresql) return {};
  return make_error("unsupported",
                    "the postgresql backend is backed up with PostgreSQL's own tools (pg_basebackup, WAL "
                    "archiving): docs/operations.md, \"Backup and restore\"");
}

Result<std::string> read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error("not_found", "cannot read " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<std::string> file_sha256(const fs::path& file) {
  auto bytes = read_bytes(file);
  if (!bytes) return bytes.error();
  return crypto::to_hex(crypto::sha256(*bytes));
}

// The copy of one SQLCipher database (absent source: skipped, false).
Result<bool> copy_database(const fs::path& source, const fs::path& dest, const crypto::SecretKey& key) {
  std::error_code ec;
  if (!fs::exists(source, ec)) return false;
  auto db = storage::SqlcipherDb::open(source, key, /*create=*/false);
  if (!db) return make_error(db.error().code, source.string() + ": " + db.error().message);
  if (auto s = (*db)->backup_to(dest, key); !s) return s.error();
  fs::permissions(dest, fs::perms::owner_read | fs::perms::owner_write, ec);
  return true;
}

// Every page of the file authenticated, free pages included (a query reads
// only the b-trees' pages), then SQLite's integrity_check; nothing in the
// file changed (storage/page_check.hpp).
Status check_database(const fs::path& file, const crypto::SecretKey& key) {
  auto pages = storage::authenticate_pages(file, key);
  if (!pages) return make_error("bad_backup", file.string() + ": " + pages.error().message);
  if (!pages->ok()) return make_error("bad_backup", file.string() + ": " + pages->problem);
  return {};
}

// The key of a state or review database, live or copied: from the store
// keyring beside it (store_keys.hpp), or, for files from before store
// keyrings (a backup made then), the key derived from the master key.
Result<crypto::SecretKey> store_db_key(const fs::path& db, const crypto::SecretKey& master, std::string_view store) {
  auto keyring = StoreKeyring::load(store_keyring_path(db), store_kek(master), store);
  if (keyring) {
    if (keyring->next_db_key) {
      return make_error("bad_key", store_keyring_path(db).string() +
                                       ": a re-encryption is under way; start brokerd once to finish it");
    }
    return keyring->db_key;
  }
  if (keyring.error().code != "not_found") return keyring.error();
  return crypto::derive_key(master, store == "state" ? crypto::kPurposeStateDb : kPurposeReviewDb);
}
crypto::SecretKey audit_kek(const crypto::SecretKey& master) { return crypto::derive_key(master, crypto::kPurposeAuditDb); }

BackupSummary summary_of(const fs::path& dir, const json& manifest) {
  BackupSummary s;
  s.dir = dir;
  s.created_at = manifest.value("created_at", "");
  s.audit_records = manifest["audit"].value("records", std::uint64_t{0});
  s.audit_head_timestamp = manifest["audit"].value("head_timestamp", "");
  for (const auto& f : manifest["files"]) s.files.push_back(f.value("name", ""));
  return s;
}

}  // namespace

Result<BackupSummary> make_backup(const Config& config, const crypto::SecretKey& master, const fs::path& to) {
  if (auto s = refuse_postgresql(config); !s) return s.error();
  std::error_code ec;
  if (fs::exists(to, ec) && !fs::is_empty(to, ec)) {
    return make_error("exists", to.string() + " is not empty: a backup goes to a new folder");
  }
  fs::create_directories(to, ec);
  if (ec) return make_error("io_error", "cannot create " + to.string() + ": " + ec.message());
  fs::permissions(to, fs::perms::owner_all, ec);

  // State and review first, the audit log last: every report copied has its
  // audit records in the copy.
  json files = json::array();
  auto note = [&](const std::string& name) -> Status {
    auto digest = file_sha256(to / name);
    if (!digest) return digest.error();
    files.push_back({{"name", name}, {"sha256", *digest}, {"bytes", fs::file_size(to / name, ec)}});
    return {};
  };
  // Each with its keyring (wrapped under the master key), when it has one.
  for (const auto& [source, name] : {std::pair{config.storage.state_db, std::string("state")},
                                     std::pair{config.storage.review_db, std::string("review")}}) {
    if (!fs::exists(source, ec)) continue;
    auto key = store_db_key(source, master, name);
    if (!key) return make_error(key.error().code, source.string() + ": " + key.error().message);
    auto copied = copy_database(source, to / (name + ".db"), *key);
    if (!copied) return copied.error();
    if (!*copied) continue;
    if (auto s = note(name + ".db"); !s) return s.error();
    if (fs::exists(store_keyring_path(source), ec)) {
      fs::copy_file(store_keyring_path(source), store_keyring_path(to / (name + ".db")), ec);
      if (ec) return make_error("io_error", "cannot copy " + store_keyring_path(source).string() + ": " + ec.message());
      if (auto s = note(store_keyring_path(name + ".db").string()); !s) return s.error();
    }
  }

  const crypto::SecretKey kek = audit_kek(master);
  const fs::path keyring_file = audit::keyring_path(config.audit.db);
  auto keyring = audit::Keyring::load(keyring_file, kek);
  if (!keyring) return make_error(keyring.error().code, keyring_file.string() + ": " + keyring.error().message);
  fs::copy_file(keyring_file, audit::keyring_path(to / "audit.db"), ec);
  if (ec) return make_error("io_error", "cannot copy " + keyring_file.string() + ": " + ec.message());
  auto audit_copy = copy_database(config.audit.db, to / "audit.db", keyring->db_key);
  if (!audit_copy) return audit_copy.error();
  if (!*audit_copy) return make_error("not_found", "no audit log at " + config.audit.db.string());
  // A head signed over exactly the copied records: opened as a log of its
  // own (no anchor yet), it signs one, kept as the backup's anchor.
  audit::SignedTreeHead head;
  {
    auto log = audit::AuditLog::open(audit::LogLocation::sqlcipher(to / "audit.db"), kek);
    if (!log) return make_error(log.error().code, "the copied audit log: " + log.error().message);
    auto signed_head = (*log)->publish_head();
    if (!signed_head) return signed_head.error();
    head = *signed_head;
  }
  if (auto s = audit::write_anchor(to / kAnchor, head); !s) return s.error();
  for (const auto& name : {std::string("audit.db"), audit::keyring_path("audit.db").string(), std::string(kAnchor)}) {
    if (auto s = note(name); !s) return s.error();
  }

  json manifest = {{"format", kBackupFormat},
                   {"created_at", utc_timestamp_now()},
                   {"config", config.file.string()},
                   {"audit",
                    {{"records", head.tree_size},
                     {"root", crypto::to_hex(head.root)},
                     {"head_timestamp", head.timestamp}}},
                   {"files", files}};
  const auto signature = keyring->signer().sign(manifest.dump());
  const json document = {{"manifest", manifest},
                         {"signature", crypto::to_hex(signature)},
                         {"key_id", audit::audit_key_id(keyring->public_key)}};
  if (auto s = write_new_file(to / kManifest, document.dump(2) + "\n", 0600); !s) return s.error();
  return summary_of(to, manifest);
}

Result<BackupSummary> verify_backup(const fs::path& dir, const crypto::SecretKey& master) {
  auto text = read_bytes(dir / kManifest);
  if (!text) return make_error("bad_backup", dir.string() + ": no " + kManifest);
  const json document = json::parse(*text, nullptr, false);
  if (!document.is_object() || !document.contains("manifest") || !document["manifest"].is_object() ||
      document["manifest"].value("format", "") != kBackupFormat || !document.contains("signature")) {
    return make_error("bad_backup", (dir / kManifest).string() + ": not an " + std::string(kBackupFormat) + " manifest");
  }
  const json& manifest = document["manifest"];
  // The keyring opens under this centre's master key: the backup is this
  // centre's, and its public key checks the manifest.
  const crypto::SecretKey kek = audit_kek(master);
  auto keyring = audit::Keyring::load(audit::keyring_path(dir / "audit.db"), kek);
  if (!keyring) return make_error("bad_backup", "the backup's audit keyring: " + keyring.error().message);
  const auto signature = crypto::from_hex(document.value("signature", ""));
  crypto::Ed25519Signature sig{};
  if (!signature || signature->size() != sig.size()) return make_error("bad_backup", "manifest signature is malformed");
  std::copy(signature->begin(), signature->end(), sig.begin());
  if (!crypto::ed25519_verify(keyring->public_key, manifest.dump(), sig)) {
    return make_error("bad_backup", "the manifest's signature does not verify with the audit log's key");
  }
  if (!manifest.contains("files") || !manifest["files"].is_array() || !manifest.contains("audit")) {
    return make_error("bad_backup", "the manifest lists no files");
  }
  for (const auto& f : manifest["files"]) {
    const std::string name = f.value("name", "");
    if (name.empty() || name.find('/') != std::string::npos) return make_error("bad_backup", "bad file name in the manifest");
    auto digest = file_sha256(dir / name);
    if (!digest) return make_error("bad_backup", name + " is missing");
    if (*digest != f.value("sha256", "")) return make_error("bad_backup", name + " does not match the manifest's SHA-256");
  }
  auto chain = audit::AuditLog::verify_file(dir / "audit.db", kek, dir / kAnchor);
  if (!chain) return make_error("bad_backup", "audit.db: " + chain.error().message);
  if (!chain->ok) return make_error("bad_backup", "audit.db: " + chain->problem);
  if (static_cast<std::uint64_t>(chain->records) != manifest["audit"].value("records", std::uint64_t{0})) {
    return make_error("bad_backup", "audit.db holds " + std::to_string(chain->records) +
                                        " records, the manifest " + manifest["audit"].value("records", json(0)).dump());
  }
  std::error_code ec;
  for (const std::string name : {"state", "review"}) {
    const fs::path db = dir / (name + ".db");
    if (!fs::exists(db, ec)) continue;
    auto key = store_db_key(db, master, name);
    if (!key) return make_error("bad_backup", db.string() + ": " + key.error().message);
    if (auto s = check_database(db, *key); !s) return s.error();
  }
  return summary_of(dir, manifest);
}

Result<RestoreReport> restore_backup(const Config& config, const crypto::SecretKey& master,
                                     const RestoreOptions& options) {
  if (auto s = refuse_postgresql(config); !s) return s.error();
  if (brokerd_pid(config.server.pid_file)) {
    return make_error("running", "brokerd is running (pid file " + config.server.pid_file.string() + "): stop it first");
  }
  auto backup = verify_backup(options.from, master);
  if (!backup) return backup.error();
  RestoreReport report;
  report.backup = *backup;

  // Nothing is overwritten: a restore fills what was lost.
  const fs::path keyring_file = audit::keyring_path(config.audit.db);
  std::error_code ec;
  for (const auto& target : {config.audit.db, keyring_file, config.storage.state_db, config.storage.review_db,
                             store_keyring_path(config.storage.state_db), store_keyring_path(config.storage.review_db)}) {
    if (fs::exists(target, ec)) {
      return make_error("exists", target.string() + " exists: a restore never overwrites; move it aside first");
    }
  }

  // The newest signed head the centre holds, checked against the log's key.
  const crypto::SecretKey kek = audit_kek(master);
  auto keyring = audit::Keyring::load(audit::keyring_path(options.from / "audit.db"), kek);
  if (!keyring) return keyring.error();
  const fs::path newest_file = options.newest_head.empty() ? config.audit.anchor_file : options.newest_head;
  std::optional<audit::SignedTreeHead> newest;
  if (!newest_file.empty()) {
    auto read = audit::read_anchor(newest_file);
    if (!read) return make_error(read.error().code, newest_file.string() + ": " + read.error().message);
    newest = *read;
  }
  if (!newest && !options.newest_head.empty()) return make_error("not_found", options.newest_head.string() + " does not exist");
  // (With the key of its size: the backup may be from after a rotation of
  // the signing key, the head from before.)
  if (newest && !keyring->key_history().verifies(*newest)) {
    return make_error("bad_anchor", newest_file.string() +
                                        ": not a head signed by this audit log's key (a backup from before a "
                                        "rotation of the signing key does not know the new key)");
  }
  if (!newest && !options.accept_unknown_loss) {
    return make_error("unknown_loss",
                      "no newer signed tree head is held (the anchor is gone and none was given): what was lost "
                      "after the backup cannot be measured; give --newest-head FILE, or --accept-unknown-loss");
  }

  // The files, in place (0600); the keyring last but one, the anchor last.
  auto put = [&](const fs::path& from, const fs::path& to) -> Status {
    if (!fs::exists(from, ec)) return {};
    fs::create_directories(to.parent_path(), ec);
    fs::copy_file(from, to, ec);
    if (ec) return make_error("io_error", "cannot write " + to.string() + ": " + ec.message());
    fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, ec);
    return {};
  };
  for (const auto& [from, to] : {std::pair{options.from / "state.db", config.storage.state_db},
                                 std::pair{store_keyring_path(options.from / "state.db"),
                                           store_keyring_path(config.storage.state_db)},
                                 std::pair{options.from / "review.db", config.storage.review_db},
                                 std::pair{store_keyring_path(options.from / "review.db"),
                                           store_keyring_path(config.storage.review_db)},
                                 std::pair{options.from / "audit.db", config.audit.db},
                                 std::pair{audit::keyring_path(options.from / "audit.db"), keyring_file}}) {
    if (auto s = put(from, to); !s) return s.error();
  }

  // A newest head within the restored log: the log's own open proves the
  // restored log consistent with it. Beyond it: the difference was lost;
  // the old anchor is kept beside, and the backup's head anchors the log.
  std::string lost_text = "unknown (no newer signed head held)";
  if (newest) {
    report.newest_head_records = newest->tree_size;
    report.newest_head_timestamp = newest->timestamp;
    if (newest->tree_size <= backup->audit_records) {
      report.lost_records = 0;
      lost_text = "none (the newest signed head held, " + std::to_string(newest->tree_size) + " records at " +
                  newest->timestamp + ", is within the backup)";
    } else {
      report.lost_records = newest->tree_size - backup->audit_records;
      lost_text = std::to_string(*report.lost_records) + " records (seq " + std::to_string(backup->audit_records + 1) +
                  " to " + std::to_string(newest->tree_size) + ", up to the signed head of " + newest->timestamp + ")";
    }
  }
  if (!newest || newest->tree_size > backup->audit_records) {
    if (fs::exists(config.audit.anchor_file, ec)) {
      const fs::path kept = config.audit.anchor_file.string() + ".before-restore-" + std::to_string(unix_seconds_now());
      fs::rename(config.audit.anchor_file, kept, ec);
      if (ec) return make_error("io_error", "cannot move " + config.audit.anchor_file.string() + " aside: " + ec.message());
    }
    auto backup_head = audit::read_anchor(options.from / kAnchor);
    if (!backup_head || !*backup_head) return make_error("bad_backup", "the backup's anchor cannot be read");
    if (auto s = audit::write_anchor(config.audit.anchor_file, **backup_head); !s) return s.error();
  } else if (newest_file != config.audit.anchor_file) {
    if (auto s = audit::write_anchor(config.audit.anchor_file, *newest); !s) return s.error();
  }

  audit::AuditLogOptions log_options;
  log_options.anchor_file = config.audit.anchor_file;
  auto log = audit::AuditLog::open(audit::LogLocation::sqlcipher(config.audit.db), kek, std::move(log_options));
  if (!log) return log.error();  // rollback_detected: the restored log contradicts the newest head
  audit::AuditRecord restored;
  restored.action = "audit.restore";
  restored.principal = "brokerctl";
  restored.status = "ok";
  restored.detail = "restored from the backup of " + backup->created_at + " (" + std::to_string(backup->audit_records) +
                    " audit records, head of " + backup->audit_head_timestamp + "); lost after the backup: " + lost_text;
  auto seq = (*log)->append_blocking({restored});
  if (!seq) return seq.error();
  report.restore_seq = *seq;
  if (auto head = (*log)->publish_head(); !head) return head.error();
  return report;
}

}  // namespace hfv::broker
