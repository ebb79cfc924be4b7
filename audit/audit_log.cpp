#include "audit/audit_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <cstdio>
#include <future>
#include <nlohmann/json.hpp>

#include "common/async_event.hpp"
#include "common/date.hpp"
#include "crypto/hash.hpp"
#include "common/time.hpp"

namespace hfv::audit {

namespace net = boost::asio;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxBatch = 512;
constexpr auto kRetentionEvery = std::chrono::hours(1);
constexpr const char* kRecordColumns = "seq, ts, envelope, personal, leaf_hash";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::filesystem::path sibling(const std::filesystem::path& db, const char* suffix) {
  std::filesystem::path p = db;
  p += suffix;
  return p;
}

void bind_opt(storage::Statement& s, int index, const std::string& value) {
  if (value.empty()) {
    s.bind_null(index);
  } else {
    s.bind(index, value);
  }
}

std::optional<merkle::Hash> hash_from_hex(const std::string& hex) {
  auto bytes = crypto::from_hex(hex);
  if (!bytes || bytes->size() != 32) return std::nullopt;
  merkle::Hash h{};
  std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

std::string merged_view(const std::string& envelope, const std::string& personal) {
  json e = json::parse(envelope, nullptr, false);
  if (e.is_discarded() || !e.is_object()) return envelope;
  e.erase("personal_sha256");
  if (!personal.empty()) {
    json p = json::parse(personal, nullptr, false);
    if (p.is_object()) {
      p.erase("salt");
      for (auto& [k, v] : p.items()) e[k] = v;
    }
  }
  return dump(e);
}

StoredRecord stored_from_row(const storage::Statement& row) {
  StoredRecord r;
  r.seq = row.column_int(0);
  r.ts = row.column_text(1);
  r.envelope = row.column_text(2);
  r.personal = row.column_text(3);
  r.leaf_hash = row.column_text(4);
  r.body = merged_view(r.envelope, r.personal);
  return r;
}

// Opens the database with the keyring's key; after a data-key rotation that
// stopped midway, the next key is tried and (if `promote`) made current.
Result<std::unique_ptr<storage::SqlcipherDb>> open_with_keyring(const std::filesystem::path& path,
                                                       const crypto::SecretKey& kek, bool promote,
                                                       Keyring& out) {
  auto kr = Keyring::load(keyring_path(path), kek);
  if (!kr) return kr.error();
  auto db = storage::SqlcipherDb::open(path, kr->db_key, /*create=*/false);
  if (db) {
    if (kr->next_db_key && promote) {  // the rotation never replaced the file
      kr->next_db_key.reset();
      if (auto s = kr->save(keyring_path(path), kek); !s) return s.error();
    }
    out = *kr;
    return db;
  }
  if (db.error().code == "bad_key" && kr->next_db_key) {
    auto next = storage::SqlcipherDb::open(path, *kr->next_db_key, /*create=*/false);
    if (next) {
      kr->db_key = *kr->next_db_key;
      kr->next_db_key.reset();
      if (promote) {
        if (auto s = kr->save(keyring_path(path), kek); !s) return s.error();
      }
      out = *kr;
      return next;
    }
  }
  return db.error();
}

Result<int> take_lock(const std::filesystem::path& path) {
  const auto lock_path = sibling(path, ".lock");
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("io_error", "cannot open " + lock_path.string());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    (void)::close(fd);
    return make_error("locked", "the audit log " + path.string() + " is open in another process");
  }
  return fd;
}

Status create_schema(storage::SqlcipherDb& db) {
  if (auto s = db.exec(
          "PRAGMA secure_delete = ON;"
          "CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
          "INSERT OR IGNORE INTO audit_meta VALUES ('format', 'hfv-audit/v2');"
          "CREATE TABLE IF NOT EXISTS audit_records ("
          " seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, action TEXT NOT NULL, principal TEXT,"
          " operator TEXT, jurisdiction TEXT, member TEXT, case_id TEXT, source TEXT, outcome TEXT,"
          " envelope TEXT NOT NULL, personal TEXT, leaf_hash TEXT NOT NULL);"
          "CREATE INDEX IF NOT EXISTS audit_records_ts ON audit_records(ts);"
          "CREATE INDEX IF NOT EXISTS audit_records_member ON audit_records(member);"
          "CREATE INDEX IF NOT EXISTS audit_records_case ON audit_records(case_id);"
          "CREATE INDEX IF NOT EXISTS audit_records_principal ON audit_records(principal);"
          "CREATE TABLE IF NOT EXISTS audit_heads (tree_size INTEGER PRIMARY KEY, ts TEXT NOT NULL,"
          " root TEXT NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL);");
      !s) {
    return s;
  }
  auto format = db.prepare("SELECT value FROM audit_meta WHERE key = 'format';");
  if (!format) return format.error();
  if (!format->step() || format->column_text(0) != kLogFormat) {
    return make_error("unsupported_format",
                      "the audit database is not in format " + std::string(kLogFormat));
  }
  return {};
}

Result<std::vector<SignedTreeHead>> load_heads(storage::SqlcipherDb& db, const char* where = "") {
  auto rows =
      db.prepare(std::string("SELECT tree_size, ts, root, key_id, signature FROM audit_heads ") +
                 where + " ORDER BY tree_size;");
  if (!rows) return rows.error();
  std::vector<SignedTreeHead> heads;
  while (rows->step()) {
    SignedTreeHead h;
    h.tree_size = static_cast<std::uint64_t>(rows->column_int(0));
    h.timestamp = rows->column_text(1);
    auto root = hash_from_hex(rows->column_text(2));
    if (root) h.root = *root;
    h.key_id = rows->column_text(3);
    auto sig = crypto::from_hex(rows->column_text(4));
    if (sig && sig->size() == h.signature.size())
      std::copy(sig->begin(), sig->end(), h.signature.begin());
    heads.push_back(std::move(h));
  }
  if (auto s = rows->status(); !s) return s.error();
  return heads;
}

// Stored leaf hashes of records 1..limit (limit < 0: all), in order.
Result<std::vector<merkle::Hash>> load_leaves(storage::SqlcipherDb& db, std::int64_t limit) {
  auto rows = db.prepare("SELECT seq, leaf_hash FROM audit_records WHERE seq <= ? ORDER BY seq;");
  if (!rows) return rows.error();
  rows->bind(1, limit < 0 ? INT64_MAX : limit);
  std::vector<merkle::Hash> leaves;
  std::int64_t expected = 1;
  while (rows->step()) {
    auto h = hash_from_hex(rows->column_text(1));
    if (rows->column_int(0) != expected || !h) {
      return make_error("corrupt",
                        "audit record " + std::to_string(expected) + " is missing or damaged");
    }
    leaves.push_back(*h);
    ++expected;
  }
  if (auto s = rows->status(); !s) return s.error();
  return leaves;
}

}  // namespace

CanonicalRecord canonical_record(const AuditRecord& r, std::int64_t seq, const std::string& ts) {
  json e = json::object();  // std::map ordering: keys sorted, so the dump is canonical
  e["seq"] = seq;
  e["ts"] = ts;
  e["action"] = r.action;
  auto put = [](json& j, const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
  };
  put(e, "principal", r.principal);
  put(e, "centre", r.centre);
  put(e, "programme", r.programme);
  put(e, "jurisdiction", r.jurisdiction);
  put(e, "source", r.source);
  put(e, "status", r.status);
  put(e, "outcome", r.outcome);
  put(e, "digest", r.digest);
  put(e, "detail", r.detail);
  if (r.latency_ms >= 0) e["latency_ms"] = r.latency_ms;
  json p = json::object();
  put(p, "operator", r.operator_id);
  put(p, "request_id", r.request_id);
  put(p, "case_id", r.case_id);
  put(p, "authorization_id", r.authorization_id);
  put(p, "member", r.member);
  CanonicalRecord out;
  if (!p.empty()) {
    // The salt keeps the commitment from confirming guesses of the fields.
    p["salt"] = crypto::to_hex(crypto::random_bytes(16));
    out.personal = dump(p);
    e["personal_sha256"] = crypto::to_hex(crypto::sha256(out.personal));
  }
  out.envelope = dump(e);
  return out;
}

// One append request waiting for the writer. Owned by the caller, who waits
// until notified.
struct AuditLog::Pending {
  std::vector<AuditRecord> records;
  Result<std::int64_t> result{make_error("audit_unavailable", "not written")};
  std::function<void()> notify;  // called by the writer thread once, after `result` is set
  std::chrono::steady_clock::time_point submitted{};
};

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::filesystem::path& path,
                                                 const crypto::SecretKey& kek,
                                                 AuditLogOptions options) {
  std::unique_ptr<AuditLog> log(new AuditLog());
  log->path_ = path;
  log->kek_ = kek;
  log->options_ = std::move(options);
  auto lock = take_lock(path);
  if (!lock) return lock.error();
  log->lock_fd_ = *lock;
  std::error_code ec;
  std::filesystem::remove(sibling(path, ".rekey"), ec);  // a data-key rotation that did not finish
  const auto keyring_file = keyring_path(path);
  const bool have_db = std::filesystem::exists(path, ec);
  if (!std::filesystem::exists(keyring_file, ec)) {
    if (have_db) {
      return make_error("bad_key", "audit keyring " + keyring_file.string() +
                                       " is missing: the database cannot be decrypted");
    }
    Keyring fresh = Keyring::generate();
    if (auto s = fresh.save(keyring_file, kek); !s) return s.error();
  }
  if (!have_db) {
    auto kr = Keyring::load(keyring_file, kek);
    if (!kr) return kr.error();
    auto db = storage::SqlcipherDb::open(path, kr->db_key, /*create=*/true);
    if (!db) return db.error();
    log->keyring_ = *kr;
    log->db_ = std::move(*db);
  } else {
    auto db = open_with_keyring(path, kek, /*promote=*/true, log->keyring_);
    if (!db) return db.error();
    log->db_ = std::move(*db);
  }
  if (auto s = create_schema(*log->db_); !s) return s.error();
  // Appends must not wait for WAL checkpoints (see storage/sqlcipher_db.hpp).
  if (auto s = log->db_->checkpoint_in_background(path, log->keyring_.db_key); !s) return s.error();

  // Rebuild the right edge of the tree, and check the anchor on the way.
  std::optional<SignedTreeHead> anchor;
  if (!log->options_.anchor_file.empty()) {
    auto a = read_anchor(log->options_.anchor_file);
    if (!a) return a.error();
    anchor = *a;
    if (anchor && !verify_tree_head(*anchor, log->keyring_.public_key)) {
      return make_error("bad_anchor",
                        "the anchor file's signed head does not verify with this log's key");
    }
  }
  auto leaves = load_leaves(*log->db_, -1);
  if (!leaves) return leaves.error();
  std::optional<merkle::Hash> root_at_anchor;
  for (const auto& leaf : *leaves) {
    if (anchor && log->tree_.size() == anchor->tree_size) root_at_anchor = log->tree_.root();
    log->tree_.append(leaf);
  }
  if (anchor && log->tree_.size() == anchor->tree_size) root_at_anchor = log->tree_.root();
  auto heads = load_heads(*log->db_);
  if (!heads) return heads.error();
  if (!heads->empty()) log->latest_head_ = heads->back();
  if (anchor) {
    if (anchor->tree_size > log->tree_.size()) {
      return make_error("rollback_detected",
                        "the audit database holds " + std::to_string(log->tree_.size()) +
                            " records but a signed head of " + std::to_string(anchor->tree_size) +
                            " was anchored: it was rolled back or truncated");
    }
    if (!root_at_anchor || *root_at_anchor != anchor->root) {
      return make_error("rollback_detected",
                        "the audit database does not match the anchored signed head of size " +
                            std::to_string(anchor->tree_size));
    }
  } else if (!log->options_.anchor_file.empty() && !heads->empty()) {
    return make_error("anchor_missing", "the anchor file " + log->options_.anchor_file.string() +
                                            " is missing although the log has signed heads;"
                                            " restore it (brokerctl audit verify checks a copy)");
  }
  log->next_seq_ = static_cast<std::int64_t>(log->tree_.size()) + 1;
  log->committed_seq_ = log->next_seq_ - 1;
  log->writer_ = std::thread([raw = log.get()] { raw->writer_loop(); });
  return log;
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  db_.reset();
  if (lock_fd_ >= 0) (void)::close(lock_fd_);
}

void AuditLog::submit(Pending* pending) {
  pending->submitted = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(pending);
      wake_.notify_one();
      return;
    }
  }
  pending->result = make_error("audit_unavailable", "audit log is shutting down");
  auto notify = std::move(pending->notify);
  notify();
}

void AuditLog::run_on_writer(std::function<void()> job) {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    jobs_.push_back([job = std::move(job), done] {
      job();
      done->set_value();
    });
  }
  wake_.notify_one();
  finished.wait();
}

void AuditLog::writer_loop() {
  auto next_head = std::chrono::steady_clock::now() + options_.head_interval;
  next_retention_ = std::chrono::steady_clock::now();
  for (;;) {
    std::vector<Pending*> batch;
    std::deque<std::function<void()>> jobs;
    bool stop = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_head,
                       [this] { return stopping_ || !queue_.empty() || !jobs_.empty(); });
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
      jobs.swap(jobs_);
      stop = stopping_ && queue_.empty() && jobs_.empty();
    }
    if (!batch.empty()) {
      const Status status = write_batch(batch);
      for (Pending* p : batch) {
        if (!status) p->result = status.error();
        if (options_.on_append) options_.on_append(std::chrono::steady_clock::now() - p->submitted, bool(status));
        // The waiter may destroy *p as soon as it is notified: run a copy of
        // the callback that lives here, not the one inside *p.
        auto notify = std::move(p->notify);
        notify();
      }
    }
    for (auto& job : jobs) job();
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_head) {
      make_head();
      next_head = now + options_.head_interval;
    }
    if (options_.retention_days > 0 && now >= next_retention_) {
      run_retention();
      next_retention_ = now + kRetentionEvery;
    }
    if (stop) {
      make_head();
      return;
    }
  }
}

Status AuditLog::write_batch(std::vector<Pending*>& batch) {
  if (auto s = db_->exec("BEGIN IMMEDIATE;"); !s) return s;
  auto insert = db_->prepare(
      "INSERT INTO audit_records (seq, ts, action, principal, operator, jurisdiction, member, "
      "case_id,"
      " source, outcome, envelope, personal, leaf_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?);");
  if (!insert) {
    (void)db_->exec("ROLLBACK;");
    return insert.error();
  }
  std::int64_t seq = next_seq_;
  std::vector<std::int64_t> firsts;
  std::vector<merkle::Hash> leaves;
  for (Pending* p : batch) {
    firsts.push_back(seq);
    for (const AuditRecord& r : p->records) {
      const std::string ts = utc_timestamp_now();
      const CanonicalRecord c = canonical_record(r, seq, ts);
      const merkle::Hash leaf = merkle::leaf_hash(c.envelope);
      insert->reset();
      insert->bind(1, seq).bind(2, ts).bind(3, r.action);
      bind_opt(*insert, 4, r.principal);
      bind_opt(*insert, 5, r.operator_id);
      bind_opt(*insert, 6, r.jurisdiction);
      bind_opt(*insert, 7, r.member);
      bind_opt(*insert, 8, r.case_id);
      bind_opt(*insert, 9, r.source);
      bind_opt(*insert, 10, r.outcome);
      insert->bind(11, c.envelope);
      bind_opt(*insert, 12, c.personal);
      insert->bind(13, crypto::to_hex(leaf));
      insert->step();
      if (auto s = insert->status(); !s) {
        (void)db_->exec("ROLLBACK;");
        return s;
      }
      leaves.push_back(leaf);
      ++seq;
    }
  }
  if (auto s = db_->exec("COMMIT;"); !s) {
    (void)db_->exec("ROLLBACK;");
    return s;
  }
  for (const auto& leaf : leaves) tree_.append(leaf);
  next_seq_ = seq;
  {
    std::lock_guard lock(mutex_);
    committed_seq_ = seq - 1;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->result = firsts[i];
  return {};
}

void AuditLog::make_head() {
  const std::uint64_t size = tree_.size();
  if (size == 0) return;
  {
    std::lock_guard lock(mutex_);
    if (latest_head_ && latest_head_->tree_size == size) return;
  }
  const SignedTreeHead head =
      sign_tree_head(keyring_.signer(), size, tree_.root(), utc_timestamp_now());
  if (auto insert = db_->prepare("INSERT OR IGNORE INTO audit_heads VALUES (?,?,?,?,?);")) {
    insert->bind(1, static_cast<std::int64_t>(size))
        .bind(2, head.timestamp)
        .bind(3, crypto::to_hex(head.root))
        .bind(4, head.key_id)
        .bind(5, crypto::to_hex(head.signature));
    insert->step();
  }
  // The anchor covers committed records only, so it is written even if the
  // head's own row could not be (it is evidence either way).
  if (!options_.anchor_file.empty()) (void)write_anchor(options_.anchor_file, head);
  {
    std::lock_guard lock(mutex_);
    latest_head_ = head;
  }
  if (options_.on_head) options_.on_head(head);
}

void AuditLog::run_retention() {
  const auto cutoff = std::chrono::system_clock::now() - std::chrono::days(options_.retention_days);
  const std::string ts = utc_timestamp(cutoff);
  auto erase = db_->prepare(
      "UPDATE audit_records SET personal = NULL, operator = NULL, member = NULL, case_id = NULL"
      " WHERE ts < ? AND personal IS NOT NULL;");
  if (!erase) return;
  erase->bind(1, ts);
  erase->step();
}

Result<std::int64_t> AuditLog::erase_personal_before(const std::string& cutoff_ts) {
  Result<std::int64_t> result = make_error("audit_unavailable", "audit log is shutting down");
  run_on_writer([&] {
    auto count =
        db_->prepare("SELECT count(*) FROM audit_records WHERE ts < ? AND personal IS NOT NULL;");
    if (!count) {
      result = count.error();
      return;
    }
    count->bind(1, cutoff_ts);
    const std::int64_t n = count->step() ? count->column_int(0) : 0;
    auto erase = db_->prepare(
        "UPDATE audit_records SET personal = NULL, operator = NULL, member = NULL, case_id = NULL"
        " WHERE ts < ? AND personal IS NOT NULL;");
    if (!erase) {
      result = erase.error();
      return;
    }
    erase->bind(1, cutoff_ts);
    erase->step();
    if (auto s = erase->status(); !s) {
      result = s.error();
      return;
    }
    result = n;
  });
  return result;
}

Result<SignedTreeHead> AuditLog::publish_head() {
  run_on_writer([this] { make_head(); });
  auto head = latest_head();
  if (!head) return make_error("empty", "the audit log has no records yet");
  return *head;
}

std::optional<SignedTreeHead> AuditLog::latest_head() const {
  std::lock_guard lock(mutex_);
  return latest_head_;
}

net::awaitable<Result<std::int64_t>> AuditLog::append(std::vector<AuditRecord> records) {
  auto executor = co_await net::this_coro::executor;
  AsyncEvent written(executor);  // set on our executor: the writer thread posts there
  Pending pending;
  pending.records = std::move(records);
  pending.notify = [&written, executor] { net::post(executor, [&written] { written.set(); }); };
  submit(&pending);
  co_await written.wait();
  co_return std::move(pending.result);
}

Result<std::int64_t> AuditLog::append_blocking(std::vector<AuditRecord> records) {
  // Shared so the promise outlives set_value() even if this frame is gone.
  auto finished = std::make_shared<std::promise<void>>();
  auto ready = finished->get_future();
  Pending pending;
  pending.records = std::move(records);
  pending.notify = [finished] { finished->set_value(); };
  submit(&pending);
  ready.wait();
  return std::move(pending.result);
}

std::int64_t AuditLog::last_seq() const {
  std::lock_guard lock(mutex_);
  return committed_seq_;
}

Result<ChainReport> AuditLog::verify() const {
  return verify_file(path_, kek_, options_.anchor_file);
}

Result<ChainReport> AuditLog::verify_file(const std::filesystem::path& path,
                                          const crypto::SecretKey& kek,
                                          const std::filesystem::path& anchor_file) {
  Keyring keyring;
  auto db = open_with_keyring(path, kek, /*promote=*/false, keyring);
  if (!db) return db.error();
  auto rows = (*db)->prepare(
      "SELECT seq, ts, action, principal, operator, jurisdiction, member, case_id, source, outcome,"
      " envelope, personal, leaf_hash FROM audit_records ORDER BY seq;");
  if (!rows) return rows.error();
  ChainReport report;
  std::vector<std::pair<std::int64_t, std::string>> problems;  // (first bad seq, what)
  std::int64_t row_bad = 0;
  auto row_problem = [&](std::int64_t seq, std::string what) {
    if (row_bad == 0) {
      row_bad = seq;
      problems.emplace_back(seq, std::move(what));
    }
  };
  std::vector<merkle::Hash> leaves;
  std::int64_t expected = 1;
  while (rows->step()) {
    const std::int64_t seq = rows->column_int(0);
    const std::string envelope = rows->column_text(10);
    const bool erased = rows->column_is_null(11);
    const std::string personal = rows->column_text(11);
    ++report.records;
    if (seq != expected)
      row_problem(expected, "record " + std::to_string(expected) + " is missing");
    expected = seq + 1;
    const merkle::Hash leaf = merkle::leaf_hash(envelope);
    leaves.push_back(leaf);
    if (row_bad != 0) continue;
    if (crypto::to_hex(leaf) != rows->column_text(12)) {
      row_problem(seq, "record hash does not match its contents");
      continue;
    }
    const json e = json::parse(envelope, nullptr, false);
    bool columns_ok = e.is_object() && e.value("seq", std::int64_t{-1}) == seq &&
                      e.value("ts", "") == rows->column_text(1) &&
                      e.value("action", "") == rows->column_text(2);
    int col = 3;
    for (const char* key :
         {"principal", "operator", "jurisdiction", "member", "case_id", "source", "outcome"}) {
      const int index = col++;
      if (!columns_ok) break;
      const std::string column = rows->column_text(index);
      if (std::string_view(key) == "operator" || std::string_view(key) == "member" ||
          std::string_view(key) == "case_id") {
        if (erased) {
          columns_ok = column.empty();
        } else {
          const json p = json::parse(personal, nullptr, false);
          columns_ok = p.is_object() && p.value(key, "") == column;
        }
      } else {
        columns_ok = e.value(key, "") == column;
      }
    }
    if (!columns_ok) {
      row_problem(seq, "indexed columns do not match the hashed record");
      continue;
    }
    if (!erased && crypto::to_hex(crypto::sha256(personal)) != e.value("personal_sha256", "")) {
      row_problem(seq, "personal fields do not match their commitment");
    }
  }
  if (auto s = rows->status(); !s) return s.error();

  // Signed heads stored in the database, then the anchor: each must match
  // the tree recomputed from the records' contents.
  auto heads = load_heads(**db);
  if (!heads) return heads.error();
  {
    merkle::CompactTree t;
    std::int64_t last_good = 0;
    for (const auto& h : *heads) {
      if (!verify_tree_head(h, keyring.public_key)) {
        problems.emplace_back(
            last_good + 1,
            "the signed tree head of size " + std::to_string(h.tree_size) + " has a bad signature");
        break;
      }
      if (h.tree_size > leaves.size()) {
        problems.emplace_back(static_cast<std::int64_t>(leaves.size()) + 1,
                              "a signed tree head covers " + std::to_string(h.tree_size) +
                                  " records but only " + std::to_string(leaves.size()) +
                                  " are present");
        break;
      }
      while (t.size() < h.tree_size) t.append(leaves[t.size()]);
      // A record already found bad inside this head explains the mismatch
      // more precisely than the head can.
      if (t.root() != h.root && row_bad != 0 && row_bad <= static_cast<std::int64_t>(h.tree_size))
        break;
      if (t.root() != h.root) {
        problems.emplace_back(last_good + 1, "records " + std::to_string(last_good + 1) + ".." +
                                                 std::to_string(h.tree_size) +
                                                 " do not match the signed tree head of size " +
                                                 std::to_string(h.tree_size));
        break;
      }
      last_good = static_cast<std::int64_t>(h.tree_size);
      ++report.heads_checked;
    }
    if (!heads->empty()) report.latest_head = heads->back();
  }
  if (!anchor_file.empty()) {
    auto anchor = read_anchor(anchor_file);
    if (!anchor) return anchor.error();
    if (*anchor) {
      report.anchor_checked = true;
      const SignedTreeHead& a = **anchor;
      if (!verify_tree_head(a, keyring.public_key)) {
        problems.emplace_back(1,
                              "the anchor file's signed head does not verify with this log's key");
      } else if (a.tree_size > leaves.size()) {
        problems.emplace_back(static_cast<std::int64_t>(leaves.size()) + 1,
                              "rolled back: the anchor holds a signed head of " +
                                  std::to_string(a.tree_size) + " records, the database " +
                                  std::to_string(leaves.size()));
      } else if (merkle::root(std::span(leaves).first(a.tree_size)) != a.root &&
                 !(row_bad != 0 && row_bad <= static_cast<std::int64_t>(a.tree_size))) {
        problems.emplace_back(1, "the database does not match the anchored signed head of size " +
                                     std::to_string(a.tree_size));
      }
    }
  }
  merkle::CompactTree all;
  for (const auto& leaf : leaves) all.append(leaf);
  report.head_hash = crypto::to_hex(all.root());
  if (!problems.empty()) {
    auto first = std::min_element(problems.begin(), problems.end(),
                                  [](const auto& a, const auto& b) { return a.first < b.first; });
    report.ok = false;
    report.first_bad_seq = first->first;
    report.problem = first->second;
  }
  return report;
}

Result<std::vector<StoredRecord>> AuditLog::read(std::int64_t from_seq, std::int64_t limit) const {
  AuditQuery q;
  q.after_seq = from_seq - 1;
  q.limit = limit;
  return query(q);
}

Status AuditLog::scan(AuditQuery q, const std::function<bool(const StoredRecord&)>& visit) const {
  for (;;) {
    auto page = query(q);
    if (!page) return page.error();
    for (const auto& r : *page) {
      if (!visit(r)) return {};
    }
    if (static_cast<std::int64_t>(page->size()) < q.limit || page->empty()) return {};
    q.after_seq = page->back().seq;
  }
}

Result<std::vector<StoredRecord>> AuditLog::query(const AuditQuery& q) const {
  auto db = storage::SqlcipherDb::open(path_, keyring_.db_key, /*create=*/false);
  if (!db) return db.error();
  std::string sql = std::string("SELECT ") + kRecordColumns + " FROM audit_records WHERE seq > ?";
  struct Arg {
    std::string text;
    std::int64_t number = 0;
    bool is_number = false;
  };
  std::vector<Arg> args;
  auto eq = [&](const char* column, const std::string& value) {
    if (value.empty()) return;
    sql += std::string(" AND ") + column + " = ?";
    args.push_back({value});
  };
  if (!q.from_ts.empty()) {
    sql += " AND ts >= ?";
    args.push_back({q.from_ts});
  }
  if (!q.to_ts.empty()) {
    sql += " AND ts < ?";
    args.push_back({q.to_ts});
  }
  eq("principal", q.principal);
  eq("operator", q.operator_id);
  eq("member", q.member);
  eq("case_id", q.case_id);
  eq("source", q.source);
  eq("outcome", q.outcome);
  eq("action", q.action);
  if (!q.actions.empty()) {
    sql += " AND action IN (";
    for (std::size_t i = 0; i < q.actions.size(); ++i) {
      sql += i == 0 ? "?" : ",?";
      args.push_back({q.actions[i]});
    }
    sql += ")";
  }
  if (!q.jurisdiction_prefixes.empty()) {
    sql += " AND (jurisdiction IS NULL";
    for (const auto& prefix : q.jurisdiction_prefixes) {
      sql += " OR substr(jurisdiction, 1, ?) = ?";
      args.push_back({"", static_cast<std::int64_t>(prefix.size()), true});
      args.push_back({prefix});
    }
    sql += ")";
  }
  sql += " ORDER BY seq LIMIT ?;";
  auto rows = (*db)->prepare(sql);
  if (!rows) return rows.error();
  int index = 1;
  rows->bind(index++, q.after_seq);
  for (const Arg& arg : args) {
    if (arg.is_number) {
      rows->bind(index++, arg.number);
    } else {
      rows->bind(index++, arg.text);
    }
  }
  rows->bind(index, std::max<std::int64_t>(0, q.limit));
  std::vector<StoredRecord> out;
  while (rows->step()) out.push_back(stored_from_row(*rows));
  if (auto s = rows->status(); !s) return s.error();
  return out;
}

Result<InclusionProof> AuditLog::inclusion_proof(std::int64_t seq, std::int64_t tree_size) const {
  auto db = storage::SqlcipherDb::open(path_, keyring_.db_key, /*create=*/false);
  if (!db) return db.error();
  std::optional<SignedTreeHead> head;
  if (tree_size == 0) {
    head = latest_head();
  } else {
    auto heads = load_heads(**db, ("WHERE tree_size = " + std::to_string(tree_size)).c_str());
    if (!heads) return heads.error();
    if (!heads->empty()) head = heads->front();
  }
  if (!head) return make_error("not_found", "no signed tree head of that size");
  if (seq < 1 || static_cast<std::uint64_t>(seq) > head->tree_size) {
    return make_error("not_found", "record " + std::to_string(seq) +
                                       " is not covered by the signed head of size " +
                                       std::to_string(head->tree_size));
  }
  auto leaves = load_leaves(**db, static_cast<std::int64_t>(head->tree_size));
  if (!leaves) return leaves.error();
  if (leaves->size() != head->tree_size)
    return make_error("corrupt", "records are missing below the head");
  InclusionProof proof;
  proof.seq = seq;
  proof.leaf_hash = (*leaves)[static_cast<std::size_t>(seq - 1)];
  proof.path = merkle::inclusion_proof(*leaves, static_cast<std::uint64_t>(seq - 1));
  proof.head = *head;
  return proof;
}

Result<ConsistencyProof> AuditLog::consistency_proof(std::int64_t first,
                                                     std::int64_t second) const {
  auto db = storage::SqlcipherDb::open(path_, keyring_.db_key, /*create=*/false);
  if (!db) return db.error();
  auto heads = load_heads(**db);
  if (!heads) return heads.error();
  auto find = [&](std::int64_t size) -> std::optional<SignedTreeHead> {
    if (size == 0) return latest_head();
    for (const auto& h : *heads) {
      if (h.tree_size == static_cast<std::uint64_t>(size)) return h;
    }
    return std::nullopt;
  };
  auto a = find(first);
  auto b = find(second);
  if (!a || !b || a->tree_size > b->tree_size || first == 0) {
    return make_error("not_found", "no signed tree heads of those sizes (first <= second)");
  }
  auto leaves = load_leaves(**db, static_cast<std::int64_t>(b->tree_size));
  if (!leaves) return leaves.error();
  if (leaves->size() != b->tree_size)
    return make_error("corrupt", "records are missing below the head");
  ConsistencyProof proof{*a, *b, merkle::consistency_proof(*leaves, a->tree_size)};
  return proof;
}

Result<std::string> AuditLog::export_ndjson(
    std::int64_t from_seq, std::int64_t to_seq,
    const std::function<bool(const std::string&)>& visible) const {
  auto head = latest_head();
  if (!head || from_seq < 1 || to_seq < from_seq ||
      static_cast<std::uint64_t>(to_seq) > head->tree_size) {
    return make_error("not_found", "the range is empty or not covered by the latest signed head");
  }
  auto db = storage::SqlcipherDb::open(path_, keyring_.db_key, /*create=*/false);
  if (!db) return db.error();
  auto leaves = load_leaves(**db, static_cast<std::int64_t>(head->tree_size));
  if (!leaves) return leaves.error();
  if (leaves->size() != head->tree_size)
    return make_error("corrupt", "records are missing below the head");
  auto rows = (*db)->prepare(std::string("SELECT ") + kRecordColumns +
                             " FROM audit_records WHERE seq >= ? AND seq <= ? ORDER BY seq;");
  if (!rows) return rows.error();
  rows->bind(1, from_seq).bind(2, to_seq);
  std::string out = dump(json{{"type", "header"},
                              {"format", "hfv-audit-export/v1"},
                              {"from_seq", from_seq},
                              {"to_seq", to_seq},
                              {"tree_head", tree_head_json(*head)},
                              {"public_key", crypto::to_hex(keyring_.public_key)}}) +
                    "\n";
  std::int64_t count = 0;
  while (rows->step()) {
    const StoredRecord r = stored_from_row(*rows);
    json proof = json::array();
    for (const auto& h : merkle::inclusion_proof(*leaves, static_cast<std::uint64_t>(r.seq - 1))) {
      proof.push_back(crypto::to_hex(h));
    }
    json line = {{"seq", r.seq}, {"proof", proof}};
    if (visible(r.envelope)) {
      line["type"] = "record";
      line["envelope"] = r.envelope;
      line["personal"] = r.personal.empty() ? json(nullptr) : json(r.personal);
    } else {
      line["type"] = "withheld";
      line["leaf_hash"] = r.leaf_hash;
    }
    out += dump(line) + "\n";
    ++count;
  }
  if (auto s = rows->status(); !s) return s.error();
  const std::string digest = crypto::to_hex(crypto::sha256(out));
  const auto signature = keyring_.signer().sign("hfv-audit-export/v1\n" + digest + "\n");
  out += dump(json{{"type", "end"},
                   {"records", count},
                   {"sha256", digest},
                   {"signature", crypto::to_hex(signature)}}) +
         "\n";
  return out;
}

Status AuditLog::rewrap_keyring(const std::filesystem::path& path, const crypto::SecretKey& old_kek,
                                const crypto::SecretKey& new_kek) {
  auto kr = Keyring::load(keyring_path(path), old_kek);
  if (!kr) return kr.error();
  return kr->save(keyring_path(path), new_kek);
}

Status AuditLog::rotate_data_key(const std::filesystem::path& path, const crypto::SecretKey& kek) {
  auto lock = take_lock(path);
  if (!lock) return lock.error();
  struct CloseLock {
    int fd;
    ~CloseLock() { (void)::close(fd); }
  } close_lock{*lock};
  std::error_code ec;
  const auto rekey = sibling(path, ".rekey");
  std::filesystem::remove(rekey, ec);
  Keyring kr;
  {
    auto db = open_with_keyring(path, kek, /*promote=*/true, kr);
    if (!db) return db.error();
    if (auto s = (*db)->exec("PRAGMA wal_checkpoint(TRUNCATE);"); !s) return s;
    // 1. Record the next key first: whatever happens below, one of the two
    //    keys in the keyring opens the database.
    kr.next_db_key = crypto::SecretKey::random();
    if (auto s = kr.save(keyring_path(path), kek); !s) return s;
    // 2. Copy everything into a new file under the next key. The connection
    //    was opened without SQLITE_OPEN_CREATE, so the (empty) file is made here.
    {
      const int fd = ::open(rekey.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) return make_error("io_error", "cannot create " + rekey.string());
      (void)::close(fd);
    }
    std::string quoted;
    for (char c : rekey.string()) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    std::string sql = "ATTACH DATABASE '" + quoted + "' AS rk KEY \"x'" +
                      crypto::to_hex(kr.next_db_key->bytes()) + "'\";";
    auto attached = (*db)->exec(sql);
    std::fill(sql.begin(), sql.end(), '\0');
    if (!attached) return attached;
    if (auto s = (*db)->exec("PRAGMA rk.cipher_page_size = 4096; SELECT sqlcipher_export('rk');"
                             " DETACH DATABASE rk;");
        !s) {
      return s;
    }
  }  // closing the last connection checkpoints and removes the WAL
  // 3. Replace the database in one rename.
  if (::rename(rekey.c_str(), path.c_str()) != 0) {
    return make_error("io_error", "cannot replace " + path.string());
  }
  std::filesystem::remove(sibling(path, "-wal"), ec);
  std::filesystem::remove(sibling(path, "-shm"), ec);
  const int dir =
      ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    (void)::fsync(dir);
    (void)::close(dir);
  }
  // 4. Promote the next key.
  kr.db_key = *kr.next_db_key;
  kr.next_db_key.reset();
  if (auto s = kr.save(keyring_path(path), kek); !s) return s;
  auto check = storage::SqlcipherDb::open(path, kr.db_key, /*create=*/false);
  if (!check) return check.error();
  return create_schema(**check);
}

}  // namespace hfv::audit
