#include "storage/sqlcipher_db.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <sqlite3.h>

#include "common/thread_name.hpp"
#include "crypto/hash.hpp"

namespace hfv::storage {

Statement::Statement(Statement&& o) noexcept
    : owner_(o.owner_),
      db_(o.db_),
      stmt_(o.stmt_),
      sql_(std::move(o.sql_)),
      last_rc_(o.last_rc_),
      error_(std::move(o.error_)) {
  o.stmt_ = nullptr;
}
Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    release();
    owner_ = o.owner_;
    db_ = o.db_;
    stmt_ = o.stmt_;
    sql_ = std::move(o.sql_);
    last_rc_ = o.last_rc_;
    error_ = std::move(o.error_);
    o.stmt_ = nullptr;
  }
  return *this;
}
Statement::~Statement() { release(); }

void Statement::release() noexcept {
  if (stmt_ == nullptr) return;
  if (owner_ != nullptr) {
    owner_->take_back(std::move(sql_), stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
  stmt_ = nullptr;
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}
bool Statement::step() {
  last_rc_ = sqlite3_step(stmt_);
  if (last_rc_ == SQLITE_ROW) return true;
  if (last_rc_ != SQLITE_DONE) error_ = sqlite3_errmsg(db_);
  return false;
}
Status Statement::status() const {
  if (last_rc_ == SQLITE_ROW || last_rc_ == SQLITE_DONE || last_rc_ == 0) return {};
  return make_error("io_error", "database: " + error_);
}
void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  last_rc_ = 0;
  error_.clear();
}
std::int64_t Statement::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }
std::string Statement::column_text(int index) const {
  const auto* text = sqlite3_column_text(stmt_, index);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)));
}
bool Statement::column_is_null(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

namespace {

// How long a statement waits for another connection's lock before SQLITE_BUSY.
constexpr int kBusyTimeout = 5000;  // ms

// The connection to `path` with `key` applied, opened with `flags`.
Result<sqlite3*> open_keyed(const std::filesystem::path& path, const crypto::SecretKey& key, int flags) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(path.c_str(), &raw, flags, nullptr) != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    return make_error("io_error", "cannot open " + path.string() + ": " + message);
  }
  // Raw key: "x'<64 hex>'" makes SQLCipher use the bytes as the key directly
  // (no passphrase derivation). The text is wiped after use.
  std::string key_text = "x'" + crypto::to_hex(key.bytes()) + "'";
  const int rc = sqlite3_key(raw, key_text.data(), static_cast<int>(key_text.size()));
  std::fill(key_text.begin(), key_text.end(), '\0');
  // Page size must be set before the first read; it is part of the format.
  if (rc != SQLITE_OK || sqlite3_exec(raw, "PRAGMA cipher_page_size = 4096;", nullptr, nullptr, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return make_error("io_error", "cannot set the key of " + path.string());
  }
  return raw;
}

}  // namespace

Status SqlcipherDb::integrity_check_file(const std::filesystem::path& path,
                                         const crypto::SecretKey& key) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return make_error("not_found", "database file not found: " + path.string());
  auto raw = open_keyed(path, key, SQLITE_OPEN_READONLY);
  if (!raw) return raw.error();
  SqlcipherDb db(*raw);  // closes it
  if (sqlite3_exec(*raw, "SELECT count(*) FROM sqlite_master;", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return make_error("bad_key", "cannot read " + path.string() + ": wrong key or damaged");
  }
  auto check = db.prepare("PRAGMA integrity_check(1);");
  if (!check) return make_error("damaged", path.string() + ": " + check.error().message);
  const bool row = check->step();
  if (!row || check->column_text(0) != "ok") {
    const std::string complaint = row ? check->column_text(0) : check->status().ok() ? "no answer" : check->status().error().message;
    return make_error("damaged", path.string() + ": " + complaint);
  }
  return {};
}

Result<std::unique_ptr<SqlcipherDb>> SqlcipherDb::open(const std::filesystem::path& path,
                                                       const crypto::SecretKey& key, bool create) {
  std::error_code ec;
  if (!create && !std::filesystem::exists(path, ec)) {
    return make_error("not_found", "database file not found: " + path.string());
  }
  auto opened = open_keyed(path, key, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX);
  if (!opened) return opened.error();
  sqlite3* raw = *opened;
  std::unique_ptr<SqlcipherDb> db(new SqlcipherDb(raw));
  // The first real read fails with SQLITE_NOTADB when the key is wrong.
  char* err = nullptr;
  if (sqlite3_exec(raw, "SELECT count(*) FROM sqlite_master;", nullptr, nullptr, &err) !=
      SQLITE_OK) {
    sqlite3_free(err);
    return make_error("bad_key", "cannot read " + path.string() +
                                     ": wrong key or not an encrypted audit database");
  }
  // secure_delete: what retention deletes is overwritten with zeros, not
  // left readable in free pages (to whoever holds the key).
  if (auto s = db->exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                        "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;");
      !s) {
    return s.error();
  }
  sqlite3_busy_timeout(raw, kBusyTimeout);
  return db;
}

class SqlcipherDb::Checkpointer {
 public:
  Checkpointer(std::unique_ptr<SqlcipherDb> db, std::chrono::milliseconds interval, std::mutex& checkpointing)
      : db_(std::move(db)), interval_(interval), checkpointing_(checkpointing), thread_([this] {
          name_this_thread("hfv-checkpoint");
          run();
        }) {}
  ~Checkpointer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      const bool stop = wake_.wait_for(lock, interval_, [this] { return stopping_; });
      lock.unlock();
      {
        // Errors (busy, a reader holding an old snapshot) only mean the WAL
        // is checkpointed next time.
        std::lock_guard one_at_a_time(checkpointing_);
        (void)db_->exec("PRAGMA wal_checkpoint(PASSIVE);");
      }
      lock.lock();
      if (stop) return;
    }
  }

  std::unique_ptr<SqlcipherDb> db_;
  std::chrono::milliseconds interval_;
  std::mutex& checkpointing_;  // the owner's: its truncation waits here for the PASSIVE checkpoint
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest is ready
};

// Called by SQLite after each commit on the writing connection, its write
// lock released (sqlite3_wal_hook). The PASSIVE checkpoints of the thread
// above never empty the WAL under steady writes: SQLite starts the WAL over
// only when a writer begins while every frame is copied, which commits one
// after another never allow, so the file grew without end (10.8 GB of audit
// WAL after 45,000 batch households), and this SQLite (3.15) sorts every
// frame of the WAL at each checkpoint, so the checkpoint's CPU grew with it.
// Past the limit, the writer that committed empties and truncates the WAL
// here, between its transactions, copying what the PASSIVE checkpoints left
// (about one interval's frames). No writer of this connection is in its way,
// and the thread's PASSIVE checkpoint is waited for on a mutex (SQLite's
// checkpoint lock would be tried and given up on under load); a reader
// holding an old snapshot (a backup, an export) or another process's writer
// is waited for kTruncateWait at most, then the writer goes on and the next
// try waits a back-off (1 s, doubling to 32 s). The connection's mutex
// (SQLITE_OPEN_FULLMUTEX) is held: one call at a time.
int SqlcipherDb::on_commit(void* self, sqlite3* db, const char* name, int frames) {
  auto& me = *static_cast<SqlcipherDb*>(self);
  const auto now = std::chrono::steady_clock::now();
  if (frames <= me.wal_frames_limit_ || now < me.next_truncate_) return SQLITE_OK;
  std::lock_guard one_at_a_time(me.checkpointing_);
  sqlite3_busy_timeout(db, static_cast<int>(kTruncateWait.count()));
  const int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  sqlite3_busy_timeout(db, kBusyTimeout);
  me.truncate_backoff_ = rc == SQLITE_OK ? std::chrono::milliseconds(0)
                                         : std::clamp(me.truncate_backoff_ * 2, kFirstBackoff, kLastBackoff);
  me.next_truncate_ = std::chrono::steady_clock::now() + me.truncate_backoff_;
  return SQLITE_OK;  // a failed checkpoint never fails the commit
}

SqlcipherDb::SqlcipherDb(sqlite3* db) : db_(db) {}

SqlcipherDb::~SqlcipherDb() {
  checkpointer_.reset();
  for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status SqlcipherDb::checkpoint_in_background(const std::filesystem::path& path, const crypto::SecretKey& key,
                                             std::chrono::milliseconds interval, int wal_frames_limit) {
  if (checkpointer_) return {};
  auto own = open(path, key, /*create=*/false);
  if (!own) return own.error();
  if (auto s = exec("PRAGMA wal_autocheckpoint = 0;"); !s) return s;
  wal_frames_limit_ = wal_frames_limit;
  sqlite3_wal_hook(db_, &SqlcipherDb::on_commit, this);  // after the PRAGMA, which clears the hook
  checkpointer_ = std::make_unique<Checkpointer>(std::move(*own), interval, checkpointing_);
  return {};
}

Status SqlcipherDb::backup_to(const std::filesystem::path& dest, const crypto::SecretKey& key) {
  std::error_code ec;
  if (std::filesystem::exists(dest, ec)) return make_error("exists", dest.string() + " exists");
  auto target = open(dest, key, /*create=*/true);
  if (!target) return target.error();
  sqlite3_backup* backup = sqlite3_backup_init((*target)->db_, "main", db_, "main");
  if (backup == nullptr) {
    return make_error("io_error", "cannot back up to " + dest.string() + ": " + sqlite3_errmsg((*target)->db_));
  }
  const int rc = sqlite3_backup_step(backup, -1);  // every page, in one read transaction
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    return make_error("io_error", "backup to " + dest.string() + " failed: " + sqlite3_errstr(rc));
  }
  return (*target)->exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;");
}

Status SqlcipherDb::reencrypt_file(const std::filesystem::path& path, const crypto::SecretKey& key,
                                   const crypto::SecretKey& new_key) {
  std::filesystem::path rekey = path;
  rekey += ".rekey";
  std::error_code ec;
  std::filesystem::remove(rekey, ec);
  {
    auto db = open(path, key, /*create=*/false);
    if (!db) return db.error();
    if (auto s = (*db)->exec("PRAGMA wal_checkpoint(TRUNCATE);"); !s) return s;
    // The connection was opened without SQLITE_OPEN_CREATE for `rekey`, so
    // the (empty) file is made here, private from the start.
    {
      const int fd = ::open(rekey.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) return make_error("io_error", "cannot create " + rekey.string());
      (void)::close(fd);
    }
    std::string quoted;
    for (char c : rekey.string()) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    std::string sql = "ATTACH DATABASE '" + quoted + "' AS rk KEY \"x'" + crypto::to_hex(new_key.bytes()) + "'\";";
    auto attached = (*db)->exec(sql);
    std::fill(sql.begin(), sql.end(), '\0');
    if (!attached) return attached;
    if (auto s = (*db)->exec("PRAGMA rk.cipher_page_size = 4096; SELECT sqlcipher_export('rk');"
                             " DETACH DATABASE rk;");
        !s) {
      return s;
    }
  }  // closing the last connection checkpoints and removes the WAL
  if (::rename(rekey.c_str(), path.c_str()) != 0) {
    return make_error("io_error", "cannot replace " + path.string());
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    std::filesystem::path side = path;
    side += suffix;
    std::filesystem::remove(side, ec);
  }
  const int dir = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    (void)::fsync(dir);
    (void)::close(dir);
  }
  return {};
}

Status SqlcipherDb::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return make_error("io_error", "database: " + message);
  }
  return {};
}

Status SqlcipherDb::add_column_if_missing(const std::string& table, const std::string& name,
                                          const std::string& declaration) {
  auto info = prepare("PRAGMA table_info(" + table + ");");
  if (!info) return info.error();
  while (info->step()) {
    if (info->column_text(1) == name) return {};
  }
  if (auto s = info->status(); !s) return s;
  return exec("ALTER TABLE " + table + " ADD COLUMN " + name + " " + declaration + ";");
}

Status SqlcipherDb::run(std::string_view sql, std::initializer_list<Param> params) {
  auto stmt = prepare(sql);
  if (!stmt) return stmt.error();
  int index = 1;
  for (const Param& p : params) {
    std::visit([&](auto value) { stmt->bind(index++, value); }, p);
  }
  stmt->step();
  return stmt->status();
}

// The text is kept as the statement's key while it is idle: SQL that
// carries a key (ATTACH … KEY, PRAGMA key) goes through exec(), never here.
Result<Statement> SqlcipherDb::prepare(std::string_view sql) {
  std::string text(sql);
  {
    std::lock_guard lock(idle_mutex_);
    if (auto idle = idle_.find(text); idle != idle_.end()) {
      sqlite3_stmt* stmt = idle->second;
      idle_.erase(idle);
      return Statement(this, db_, stmt, std::move(text));
    }
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return make_error("io_error", std::string("database: ") + sqlite3_errmsg(db_));
  }
  return Statement(this, db_, stmt, std::move(text));
}

std::size_t SqlcipherDb::idle_statements() {
  std::lock_guard lock(idle_mutex_);
  return idle_.size();
}

void SqlcipherDb::take_back(std::string sql, sqlite3_stmt* stmt) noexcept {
  // Reset: a statement left part-way through its rows would hold its read
  // transaction open while idle.
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  sqlite3_stmt* evicted = nullptr;
  {
    std::lock_guard lock(idle_mutex_);
    try {
      if (!idle_.contains(sql)) {
        if (idle_.size() >= kIdleStatements) {
          // Full: one of the idle ones goes (any; a statement in use again
          // soon is back at its next release).
          auto first = idle_.begin();
          evicted = first->second;
          idle_.erase(first);
        }
        idle_.emplace(std::move(sql), stmt);
        stmt = nullptr;  // kept
      }
    } catch (...) {  // the map's allocation failed: this one is not kept
    }
  }
  sqlite3_finalize(evicted);  // no-ops on nullptr
  sqlite3_finalize(stmt);
}

}  // namespace hfv::storage
