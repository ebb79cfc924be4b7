// The on-disk side of a verifiable log (audit/verifiable_log.hpp): its
// SQLCipher tables and the files beside the database. Every SQL statement of
// the generic log is here; the tables (docs/audit-log-format.md) are
//   audit_meta(key, value)        'format' = LogSchema::format
//   audit_records(seq, ts, <the schema's index columns>, envelope, personal, leaf_hash)
//   audit_heads(tree_size, ts, root, key_id, signature)
// and the files `<db>.keyring` (audit/keyring.hpp), `<db>.lock` (flock of
// the one process writing) and `<db>.rekey` (a data-key rotation under way).
//
// A log stores opaque leaves: `envelope` (the Merkle leaf data), `personal`
// (a blob the personality commits to inside the envelope; erasable) and the
// index columns its personality declares in a LogSchema, which this layer
// copies and filters on but never interprets.
//
// Contracts: functions take a connection the caller owns and uses from one
// thread at a time, and return errors as values: "io_error" (SQLite),
// "corrupt" (a leaf missing or malformed), "bad_query" (a condition on a
// column the schema does not have), the codes of Keyring::load and
// storage::SqlcipherDb::open. Nothing here takes the writer's lock but
// take_lock() and rotate_data_key().
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "audit/keyring.hpp"
#include "audit/merkle.hpp"
#include "audit/tree_head.hpp"
#include "common/result.hpp"
#include "crypto/keys.hpp"
#include "storage/sqlcipher_db.hpp"

namespace hfv::audit {

// An index column: a copy of something inside the envelope or the personal
// blob, kept so queries need not decrypt and parse every leaf.
struct IndexColumn {
  std::string name;
  std::string declaration;  // SQL type and constraints, e.g. "TEXT NOT NULL"
  bool personal = false;    // erased (set to NULL) together with the personal blob
};

struct IndexDefinition {
  std::string name;    // e.g. "audit_records_member"
  std::string column;  // an index column of the schema
};

// What a personality adds to the generic tables. Part of the file format:
// changing it changes the database (and `format` must change with it).
struct LogSchema {
  std::string format;                    // audit_meta 'format'; open() refuses any other
  std::vector<IndexColumn> columns;      // stored between `ts` and `envelope`, in this order
  std::vector<IndexDefinition> indexes;  // created after the `ts` index, in this order
};

// One entry as the writer stores it.
struct Leaf {
  std::string envelope;  // the leaf data: leaf hash = SHA-256(0x00 || envelope)
  std::string personal;  // empty: none (stored as NULL)
  std::vector<std::optional<std::string>> columns;  // one per schema column; nullopt: NULL
};

// One entry as readers get it back.
struct StoredLeaf {
  std::int64_t seq = 0;
  std::string ts;  // UTC RFC 3339 with milliseconds, given by the writer
  std::string envelope;
  std::string personal;   // empty when there was none or it was erased
  std::string leaf_hash;  // hex, as stored
};

// One row with its index columns, as verification reads it.
struct LeafRow {
  std::int64_t seq = 0;
  std::string ts;
  std::vector<std::string> columns;  // schema order; NULL reads as ""
  std::string envelope;
  bool personal_is_null = false;  // no personal blob: there was none, or retention erased it
  std::string personal;
  std::string leaf_hash;  // hex, as stored
  // How a personal index column's value is stored: as given (SQLCipher), or
  // as a keyed pseudonym (PostgreSQL). Unset: as given. "" stays "".
  std::function<std::string(const std::string& column, const std::string& value)> stored_form;
  // Set by a backend that could not read the row at all (a sealed body that
  // does not open: moved, edited, or under another key).
  std::string problem;
};

// A filter on `ts` or an index column; a query ANDs its conditions.
struct ColumnCondition {
  enum class Op {
    equals,          // column = values[0]
    at_least,        // column >= values[0] (text order)
    below,           // column < values[0]
    any_of,          // column IN (values...)
    null_or_prefix,  // column IS NULL, or starts with one of values
    prefix,          // column starts with one of values (never NULL)
    listed,          // column = values[0], or a comma-separated list naming it
  };
  std::string column;
  Op op = Op::equals;
  std::vector<std::string> values;
};

namespace log_store {

// The stored text of a leaf hash or a head (hex), as both backends keep it.
// A malformed hash reads as nullopt; a malformed head field as zeros (its
// signature then fails).
std::optional<merkle::Hash> hash_from_hex(const std::string& hex);
SignedTreeHead head_from_columns(std::int64_t tree_size, std::string ts,
                                 const std::string& root_hex, std::string key_id,
                                 const std::string& signature_hex);

// Whether a condition may name `name`: "ts" or one of the schema's columns
// (column names go into SQL text: only these are accepted).
bool has_column(const LogSchema& schema, const std::string& name);

// `<db><suffix>`, e.g. sibling(db, ".lock").
std::filesystem::path sibling(const std::filesystem::path& db, const char* suffix);

// The writer's flock on `<db>.lock`, held while the object lives (closing
// the descriptor releases it). Move-only; one owner at a time.
class WriterLock {
 public:
  explicit WriterLock(int fd) noexcept : fd_(fd) {}
  WriterLock(WriterLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  WriterLock& operator=(WriterLock&& other) noexcept {
    if (this != &other) {
      release();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;
  ~WriterLock() { release(); }

 private:
  void release() noexcept;
  int fd_;
};

// Takes the writer's lock. Error "locked" when another process has it.
Result<WriterLock> take_lock(const std::filesystem::path& db);

// Opens the database with the keyring's key; after a data-key rotation that
// stopped midway, the next key is tried and (if `promote`) made current.
// `out` receives the keyring as it now stands.
Result<std::unique_ptr<storage::SqlcipherDb>> open_with_keyring(const std::filesystem::path& db,
                                                                const crypto::SecretKey& kek,
                                                                bool promote, Keyring& out);

// For the writer: removes a leftover `<db>.rekey`, creates the keyring (and
// then the database) if neither exists, and opens the database. Error
// "bad_key" when the database exists but its keyring does not.
Result<std::unique_ptr<storage::SqlcipherDb>> open_or_create(const std::filesystem::path& db,
                                                             const crypto::SecretKey& kek,
                                                             Keyring& out);

// Creates the tables that are missing (secure_delete on) and checks the
// format. Error "unsupported_format" for a database of another format.
Status create_schema(storage::SqlcipherDb& db, const LogSchema& schema);

// Stored signed heads by tree size, all or only the one of `tree_size`.
Result<std::vector<SignedTreeHead>> load_heads(storage::SqlcipherDb& db,
                                               std::optional<std::uint64_t> tree_size = {});
// Stores a head (a second head of the same size is ignored).
Status store_head(storage::SqlcipherDb& db, const SignedTreeHead& head);

// Stored leaf hashes of entries after_seq+1..after_seq+limit (limit < 0:
// all), in order. Error "corrupt" at the first missing or malformed one.
Result<std::vector<merkle::Hash>> load_leaves(storage::SqlcipherDb& db, std::int64_t after_seq,
                                              std::int64_t limit);

// Writes entries in one transaction (BEGIN IMMEDIATE). A failed insert or
// commit rolls the transaction back; the writer is then spent. It uses the
// connection it began on, which must outlive it.
class LeafWriter {
 public:
  static Result<LeafWriter> begin(storage::SqlcipherDb& db, const LogSchema& schema);
  Status insert(std::int64_t seq, const std::string& ts, const Leaf& leaf,
                const merkle::Hash& leaf_hash);
  Status commit();

 private:
  LeafWriter(storage::SqlcipherDb& db, storage::Statement insert, std::size_t columns)
      : db_(&db), insert_(std::move(insert)), columns_(columns) {}
  storage::SqlcipherDb* db_;
  storage::Statement insert_;
  std::size_t columns_;
};

// Entries with seq > after_seq matching every condition, oldest first, at
// most `limit` (negative: none).
Result<std::vector<StoredLeaf>> select(storage::SqlcipherDb& db, const LogSchema& schema,
                                       const std::vector<ColumnCondition>& conditions,
                                       std::int64_t after_seq, std::int64_t limit);
// Entries from_seq..to_seq, oldest first.
Status for_each_leaf(storage::SqlcipherDb& db, std::int64_t from_seq, std::int64_t to_seq,
                     const std::function<void(const StoredLeaf&)>& visit);
// Every row with its index columns, in order of seq.
Status for_each_row(storage::SqlcipherDb& db, const LogSchema& schema,
                    const std::function<void(const LeafRow&)>& visit);

// Entries older than `cutoff_ts` that still have a personal blob.
Result<std::int64_t> count_personal_before(storage::SqlcipherDb& db, const std::string& cutoff_ts);
// Sets their personal blob and personal columns to NULL.
Status erase_personal_before(storage::SqlcipherDb& db, const LogSchema& schema,
                             const std::string& cutoff_ts);

// Re-keys the database with a fresh random data key; takes the writer's
// lock (error "locked" while the log is open). Crash-safe at every step: see
// audit/keyring.hpp and docs/audit-log-format.md.
Status rotate_data_key(const std::filesystem::path& db, const crypto::SecretKey& kek,
                       const LogSchema& schema);
// Re-wraps the keyring under `new_kek` (master-key rotation).
Status rewrap_keyring(const std::filesystem::path& db, const crypto::SecretKey& old_kek,
                      const crypto::SecretKey& new_kek);

}  // namespace log_store
}  // namespace hfv::audit
