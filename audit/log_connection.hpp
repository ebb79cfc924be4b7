// Where a verifiable log (audit/verifiable_log.hpp) keeps its entries, and
// one connection to it. Two backends:
//   - an SQLCipher file (audit/log_store.hpp): one writing process (an flock),
//     the whole file encrypted by SQLCipher, the keyring in a file beside it;
//   - a PostgreSQL database (audit/postgresql_log.hpp) shared by the brokers
//     of a cluster: appends serialised in the database, the keyring in a
//     table, the leaf data sealed by the log and the personal index columns
//     stored as keyed pseudonyms, since PostgreSQL does not encrypt at rest.
// VerifiableLog and verification see only LogConnection; the tables and
// their SQL are the backends' (docs/audit-log-format.md).
//
// Contracts: a connection is used by one thread at a time; errors are values
// with the codes of audit/log_store.hpp, plus, on PostgreSQL, those of
// storage/postgresql_db.hpp ("db_unavailable": retry later).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/keyring.hpp"
#include "audit/log_store.hpp"
#include "audit/merkle.hpp"
#include "audit/tree_head.hpp"
#include "common/result.hpp"
#include "crypto/keys.hpp"

namespace hfv::audit {

// A log's place: an SQLCipher file, or (when `postgresql` is set) a libpq
// connection string. The anchor file stays a local file either way.
struct LogLocation {
  std::filesystem::path file;
  std::string postgresql;

  static LogLocation sqlcipher(std::filesystem::path file) { return {std::move(file), {}}; }
  static LogLocation shared(std::string conninfo) { return {{}, std::move(conninfo)}; }
  bool is_postgresql() const { return !postgresql.empty(); }
  // For messages: the file, or "PostgreSQL" (never the connection string,
  // which may hold a password).
  std::string describe() const;
};

class LogConnection {
 public:
  virtual ~LogConnection() = default;

  // --- Reading ---
  // Stored signed heads by tree size, all or only the one of `tree_size`.
  virtual Result<std::vector<SignedTreeHead>> load_heads(std::optional<std::uint64_t> tree_size) = 0;
  // Leaf hashes of entries after_seq+1 .. after_seq+limit (limit < 0: all
  // after), in order. Error "corrupt" at the first missing or malformed one.
  virtual Result<std::vector<merkle::Hash>> load_leaves(std::int64_t after_seq,
                                                        std::int64_t limit) = 0;
  // Entries with seq > after_seq matching every condition, oldest first.
  // Conditions are on the values the personality gave (a backend that
  // stores pseudonyms translates them); "bad_query" for one it cannot run.
  virtual Result<std::vector<StoredLeaf>> select(const std::vector<ColumnCondition>& conditions,
                                                 std::int64_t after_seq, std::int64_t limit) = 0;
  virtual Status for_each_leaf(std::int64_t from_seq, std::int64_t to_seq,
                               const std::function<void(const StoredLeaf&)>& visit) = 0;
  // Every row with its index columns as stored, in order of seq (for
  // verification; LeafRow::stored_form says how personal columns are kept).
  virtual Status for_each_row(const std::function<void(const LeafRow&)>& visit) = 0;

  // --- Writing (the writer's connection only) ---
  virtual Status store_head(const SignedTreeHead& head) = 0;
  // Begins the transaction of one group of appends and returns how many
  // entries the log holds now. `known` is how many the writer has seen: a
  // backend with one writer may answer it without asking; a shared one
  // serialises writers here and reports the entries others appended.
  virtual Result<std::int64_t> begin_append(std::int64_t known) = 0;
  virtual Status insert(std::int64_t seq, const std::string& ts, const Leaf& leaf,
                        const merkle::Hash& leaf_hash) = 0;
  virtual Status commit_append() = 0;
  virtual void abort_append() = 0;
  virtual Result<std::int64_t> count_personal_before(const std::string& cutoff_ts) = 0;
  virtual Status erase_personal_before(const std::string& cutoff_ts) = 0;
};

// Opens the log for writing, creating it (and its keyring) when it does not
// exist; `out` receives the keyring. The SQLCipher backend takes the
// writer's flock for the connection's lifetime (error "locked").
Result<std::unique_ptr<LogConnection>> open_log_writer(const LogLocation& where,
                                                       const crypto::SecretKey& kek,
                                                       const LogSchema& schema, Keyring& out);
// A read connection with the keys of an opened log.
Result<std::unique_ptr<LogConnection>> open_log_reader(const LogLocation& where,
                                                       const Keyring& keyring,
                                                       const LogSchema& schema);
// A read connection to a log that is not open here (verification of a
// copy, or beside running writers): the keyring is loaded with `kek`, never
// changed (a half-rotated key is not promoted).
Result<std::unique_ptr<LogConnection>> open_log_for_check(const LogLocation& where,
                                                          const crypto::SecretKey& kek,
                                                          const LogSchema& schema, Keyring& out);

}  // namespace hfv::audit
