// Backup and restore of a centre's embedded (SQLCipher) data, for
// `brokerctl backup`, `backup verify` and `restore` (docs/operations.md,
// "Backup and restore", "Disaster recovery").
//
// A backup is a folder: state.db, review.db (each with its store keyring,
// broker/store/store_keys.hpp), audit.db and its keyring, an
// anchor holding a tree head signed over the copied log, and manifest.json
// (format, time, each file's SHA-256 and size, the head), signed with the
// audit log's Ed25519 key. The databases are copied with SQLite's online
// backup API while the daemon runs; the state and review databases first,
// the audit log last, so every report in the copy has its audit records in
// it (the broker audits before it acts).
//
// A restore never weakens rollback detection: it checks the backup, then
// the newest signed tree head the centre still holds (the surviving anchor,
// or a copy kept elsewhere). A head the restored log contains must be
// consistent with it (the log's own open checks this); a head beyond it
// measures what was lost after the backup. Either way the restore is
// recorded in the log itself (`audit.restore`, with the lost range), and
// the anchor is only moved back with that record.
//
// With the postgresql backend the database has its own backups
// (pg_basebackup, WAL archiving): these functions refuse it ("unsupported").
// Threading: plain functions; the daemon may run during make_backup, not
// during restore_backup.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "broker/ops/config.hpp"
#include "common/result.hpp"
#include "crypto/keys.hpp"

namespace hfv::broker {

inline constexpr std::string_view kBackupFormat = "hfv-backup/v1";

// What a backup holds, from its signed manifest.
struct BackupSummary {
  std::filesystem::path dir;
  std::string created_at;          // UTC
  std::uint64_t audit_records = 0;  // the copied log's tree size
  std::string audit_head_timestamp;
  std::vector<std::string> files;
};

// Error codes: "unsupported" (postgresql), "exists" (`to` is not empty),
// "not_found", "bad_key", "io_error".
Result<BackupSummary> make_backup(const Config& config, const crypto::SecretKey& master,
                                  const std::filesystem::path& to);

// The manifest's signature (by the log's key, whose keyring the master key
// opens), every file's digest, the whole audit log against the backup's
// signed head, every page of the state and review databases. Error code
// "bad_backup" with what is wrong, or those of make_backup.
Result<BackupSummary> verify_backup(const std::filesystem::path& dir, const crypto::SecretKey& master);

struct RestoreOptions {
  std::filesystem::path from;
  // The newest signed tree head the centre holds (an anchor file); empty:
  // the configured anchor file, if it survived.
  std::filesystem::path newest_head;
  // Without any newer head the loss cannot be measured: allowed only when
  // the operator says so.
  bool accept_unknown_loss = false;
};

struct RestoreReport {
  BackupSummary backup;
  std::optional<std::uint64_t> newest_head_records;  // the newest head held, if any
  std::string newest_head_timestamp;
  std::optional<std::uint64_t> lost_records;  // nullopt: unknown (no newer head)
  std::int64_t restore_seq = 0;              // the audit.restore record
};

// Puts the backup in place of the configured files (none may exist: a
// restore never overwrites) and records the restore in the log. Error
// codes: "running" (the daemon runs), "exists", "bad_backup",
// "rollback_detected" (a newest head the restored log contradicts),
// "unknown_loss", those of verify_backup.
Result<RestoreReport> restore_backup(const Config& config, const crypto::SecretKey& master,
                                     const RestoreOptions& options);

}  // namespace hfv::broker
