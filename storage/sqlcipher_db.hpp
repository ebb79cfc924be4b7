// SqlcipherDb: one SQLCipher connection opened with a raw 256-bit key,
// 4096-byte pages, WAL journal and synchronous=FULL (a committed transaction
// is fsync'd). A small RAII wrapper: statements are prepared, bound and
// stepped through Statement; errors come back as values. The audit log
// (audit/) and the broker's own stores (broker/store/) keep their data in it.
//
// Threading: a connection is used by one thread at a time. A Statement
// is destroyed before the SqlcipherDb that prepared it (its destructor
// hands the statement back to the connection for the next prepare() of the
// same text).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <initializer_list>

#include "common/result.hpp"
#include "crypto/keys.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace hfv::storage {

class SqlcipherDb;

class Statement {
 public:
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_null(int index);
  // Steps once: true when a row is available, false when done. Errors are
  // recorded and reported by status().
  bool step();
  Status status() const;
  void reset();

  std::int64_t column_int(int index) const;
  std::string column_text(int index) const;
  bool column_is_null(int index) const;

 private:
  friend class SqlcipherDb;
  Statement(SqlcipherDb* owner, sqlite3* db, sqlite3_stmt* stmt, std::string sql)
      : owner_(owner), db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  void release() noexcept;  // back to owner_'s idle statements
  SqlcipherDb* owner_ = nullptr;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;  // the text it was prepared from: its key among the idle statements
  int last_rc_ = 0;
  std::string error_;
};

class SqlcipherDb {
 public:
  static constexpr std::size_t kIdleStatements = 32;

  // Opens (creating if asked) the file with `key`. Error codes: "not_found"
  // (missing and create == false), "bad_key" (wrong key or not an SQLCipher
  // database), "io_error".
  static Result<std::unique_ptr<SqlcipherDb>> open(const std::filesystem::path& path,
                                                   const crypto::SecretKey& key, bool create);
  ~SqlcipherDb();
  SqlcipherDb(const SqlcipherDb&) = delete;
  SqlcipherDb& operator=(const SqlcipherDb&) = delete;

  Status exec(std::string_view sql);
  // One statement that returns no rows, with its parameters bound in order.
  using Param = std::variant<std::int64_t, std::string_view>;
  Status run(std::string_view sql, std::initializer_list<Param> params);
  // A statement of `sql` (its first statement only), reused when one of the
  // same text was prepared and released before: reset, its bindings
  // cleared. Preparing was about a fifth of the state database's writer
  // and the blocking pool (docs/performance.md); up to kIdleStatements
  // are kept.
  Result<Statement> prepare(std::string_view sql);
  std::size_t idle_statements();  // prepared, released and kept for reuse
  // Adds a column that databases made by an earlier version lack (nothing
  // when `table` has it already). `table` and `name` are the caller's
  // constants, never input.
  Status add_column_if_missing(const std::string& table, const std::string& name,
                               const std::string& declaration);

  // A consistent copy of the whole database at `dest` (a new file, opened
  // with `key`, which must be this database's key), made with SQLite's
  // online backup API in one read transaction: writers on other
  // connections go on meanwhile (WAL) and are not in the copy. The copy is
  // left without a WAL file. Error codes: "exists", "io_error".
  Status backup_to(const std::filesystem::path& dest, const crypto::SecretKey& key);

  // Re-encrypts the database file at `path` from `key` to `new_key`:
  // everything is copied with sqlcipher_export into a new file
  // `<path>.rekey` under `new_key` (4096-byte pages), which then replaces
  // `path` in one rename (the directory fsync'd; the old WAL and shm
  // removed). Crash-safe when the caller has recorded `new_key` beside
  // `key` first: either file holds the whole database under one of them,
  // and a leftover `.rekey` is garbage. No other connection may have the
  // file open. Error codes: those of open(), "io_error".
  static Status reencrypt_file(const std::filesystem::path& path, const crypto::SecretKey& key,
                               const crypto::SecretKey& new_key);

  // Opens the file read-only (changing nothing in it, not even its journal
  // mode) and runs SQLite's integrity_check (b-trees, indexes against their
  // tables). It reads only the b-trees' pages: storage/page_check.hpp
  // authenticates every page first, then calls this. Error codes:
  // "not_found", "bad_key", "damaged" (with SQLite's first complaint),
  // "io_error".
  static Status integrity_check_file(const std::filesystem::path& path,
                                     const crypto::SecretKey& key);

  // Moves WAL checkpoints off this connection's commits. By default SQLite
  // checkpoints inside the commit that crosses 1,000 WAL pages, which stalls
  // that writer (and every request waiting on it) for the checkpoint's
  // fsyncs. After this call this connection never checkpoints; a thread of
  // its own, with its own connection (opened with the same key), runs a
  // PASSIVE checkpoint, which never blocks a writer, every `interval` and
  // once more when this object is destroyed. Under steady writes a PASSIVE
  // checkpoint never empties the WAL, so once it holds more than
  // `wal_frames_limit` pages the commit that crossed it empties and
  // truncates it on this connection, after its write lock is released
  // (copying the last interval's pages; at most 50 ms of waiting for a
  // reader or another process's writer in its way, and after such a failure
  // 1 s, doubling to 32 s, before the next try).
  Status checkpoint_in_background(const std::filesystem::path& path, const crypto::SecretKey& key,
                                  std::chrono::milliseconds interval = std::chrono::milliseconds(200),
                                  int wal_frames_limit = 16384);  // 64 MiB of 4 KiB pages

 private:
  class Checkpointer;
  explicit SqlcipherDb(sqlite3* db);
  static int on_commit(void* self, sqlite3* db, const char* name, int frames);  // sqlite3_wal_hook
  friend class Statement;
  void take_back(std::string sql, sqlite3_stmt* stmt) noexcept;

  static constexpr std::chrono::milliseconds kTruncateWait{50};
  static constexpr std::chrono::milliseconds kFirstBackoff{1000};
  static constexpr std::chrono::milliseconds kLastBackoff{32000};

  sqlite3* db_;
  std::mutex idle_mutex_;  // idle_ only: statements are released from any thread
  std::unordered_map<std::string, sqlite3_stmt*> idle_;  // finalized before db_ is closed
  // The WAL's truncation (on_commit): touched only inside SQLite's calls on
  // this connection, which its mutex serialises.
  int wal_frames_limit_ = 0;
  std::chrono::milliseconds truncate_backoff_{0};
  std::chrono::steady_clock::time_point next_truncate_{};
  std::mutex checkpointing_;  // the background PASSIVE checkpoint or the truncation, one at a time
  std::unique_ptr<Checkpointer> checkpointer_;  // stopped before db_ is closed
};

}  // namespace hfv::storage
