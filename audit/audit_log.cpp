#include "audit/audit_log.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>

#include "common/async_event.hpp"
#include "common/date.hpp"
#include "crypto/hash.hpp"

namespace hfv::audit {

namespace net = boost::asio;
using nlohmann::json;

namespace {
constexpr std::string_view kChainDomain = "hfv-audit/v1";
constexpr std::size_t kMaxBatch = 512;
const std::string kGenesis(64, '0');
}  // namespace

std::string canonical_body(const AuditRecord& r, std::int64_t seq, const std::string& ts) {
  json j = json::object();  // std::map ordering: keys sorted, so the dump is canonical
  j["seq"] = seq;
  j["ts"] = ts;
  j["action"] = r.action;
  auto put = [&j](const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
  };
  put("principal", r.principal);
  put("operator", r.operator_id);
  put("centre", r.centre);
  put("request_id", r.request_id);
  put("case_id", r.case_id);
  put("authorization_id", r.authorization_id);
  put("programme", r.programme);
  put("jurisdiction", r.jurisdiction);
  put("member", r.member);
  put("source", r.source);
  put("status", r.status);
  put("outcome", r.outcome);
  put("digest", r.digest);
  put("detail", r.detail);
  if (r.latency_ms >= 0) j["latency_ms"] = r.latency_ms;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string chain_hash(const std::string& prev_hash_hex, const std::string& body) {
  crypto::Sha256 h;
  h.update(kChainDomain).update(prev_hash_hex).update(body);
  return crypto::to_hex(h.finish());
}

// One append request waiting for the writer. Owned by the caller, who waits
// until `finished` is set.
struct AuditLog::Pending {
  std::vector<AuditRecord> records;
  Result<std::int64_t> result{make_error("audit_unavailable", "not written")};
  std::function<void()> notify;  // called by the writer thread once, after `result` is set
};

AuditLog::AuditLog(std::filesystem::path path, crypto::SecretKey key, std::unique_ptr<SqlcipherDb> db)
    : path_(std::move(path)), key_(std::move(key)), db_(std::move(db)) {}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::filesystem::path& path,
                                                 const crypto::SecretKey& key) {
  auto db = SqlcipherDb::open(path, key, /*create=*/true);
  if (!db) return db.error();
  if (auto s = (*db)->exec(
          "CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
          "INSERT OR IGNORE INTO audit_meta VALUES ('format', 'hfv-audit/v1');"
          "CREATE TABLE IF NOT EXISTS audit_records ("
          " seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, action TEXT NOT NULL,"
          " body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);");
      !s) {
    return s.error();
  }
  std::unique_ptr<AuditLog> log(new AuditLog(path, key, std::move(*db)));
  auto last = log->db_->prepare("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1;");
  if (!last) return last.error();
  if (last->step()) {
    log->next_seq_ = last->column_int(0) + 1;
    log->head_hash_ = last->column_text(1);
  } else {
    if (auto s = last->status(); !s) return s.error();
    log->head_hash_ = kGenesis;
  }
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
}

void AuditLog::submit(Pending* pending) {
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

void AuditLog::writer_loop() {
  for (;;) {
    std::vector<Pending*> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    const Status status = write_batch(batch);
    for (Pending* p : batch) {
      if (!status) p->result = status.error();
      // The waiter may destroy *p as soon as it is notified: run a copy of the
      // callback that lives here, not the one inside *p.
      auto notify = std::move(p->notify);
      notify();
    }
  }
}

Status AuditLog::write_batch(std::vector<Pending*>& batch) {
  if (auto s = db_->exec("BEGIN IMMEDIATE;"); !s) return s;
  auto insert = db_->prepare(
      "INSERT INTO audit_records (seq, ts, action, body, prev_hash, hash) VALUES (?,?,?,?,?,?);");
  if (!insert) {
    (void)db_->exec("ROLLBACK;");
    return insert.error();
  }
  std::int64_t seq = next_seq_;
  std::string head = head_hash_;
  std::vector<std::int64_t> firsts;
  for (Pending* p : batch) {
    firsts.push_back(seq);
    for (const AuditRecord& r : p->records) {
      const std::string ts = utc_timestamp_now();
      const std::string body = canonical_body(r, seq, ts);
      const std::string hash = chain_hash(head, body);
      insert->reset();
      insert->bind(1, seq).bind(2, ts).bind(3, r.action).bind(4, body).bind(5, head).bind(6, hash);
      insert->step();
      if (auto s = insert->status(); !s) {
        (void)db_->exec("ROLLBACK;");
        return s;
      }
      head = hash;
      ++seq;
    }
  }
  if (auto s = db_->exec("COMMIT;"); !s) {
    (void)db_->exec("ROLLBACK;");
    return s;
  }
  next_seq_ = seq;
  head_hash_ = head;
  {
    std::lock_guard lock(mutex_);
    committed_seq_ = seq - 1;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->result = firsts[i];
  return {};
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
  auto db = SqlcipherDb::open(path_, key_, /*create=*/false);
  if (!db) return db.error();
  auto rows = (*db)->prepare("SELECT seq, ts, action, body, prev_hash, hash FROM audit_records ORDER BY seq;");
  if (!rows) return rows.error();
  ChainReport report;
  std::string head = kGenesis;
  std::int64_t expected = 1;
  auto bad = [&](std::int64_t seq, std::string problem) {
    report.ok = false;
    report.first_bad_seq = seq;
    report.problem = std::move(problem);
  };
  while (rows->step()) {
    const std::int64_t seq = rows->column_int(0);
    const std::string body = rows->column_text(3);
    ++report.records;
    if (seq != expected) {
      bad(expected, "record " + std::to_string(expected) + " is missing");
      return report;
    }
    if (rows->column_text(4) != head) {
      bad(seq, "previous-hash link does not match");
      return report;
    }
    if (chain_hash(head, body) != rows->column_text(5)) {
      bad(seq, "record hash does not match its contents");
      return report;
    }
    const json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded() || parsed.value("seq", std::int64_t{-1}) != seq ||
        parsed.value("ts", std::string()) != rows->column_text(1) ||
        parsed.value("action", std::string()) != rows->column_text(2)) {
      bad(seq, "indexed columns do not match the hashed body");
      return report;
    }
    head = rows->column_text(5);
    ++expected;
  }
  if (auto s = rows->status(); !s) return s.error();
  report.head_hash = report.records > 0 ? head : "";
  return report;
}

Result<std::vector<StoredRecord>> AuditLog::read(std::int64_t from_seq, std::int64_t limit) const {
  auto db = SqlcipherDb::open(path_, key_, /*create=*/false);
  if (!db) return db.error();
  auto rows = (*db)->prepare(
      "SELECT seq, ts, body, prev_hash, hash FROM audit_records WHERE seq >= ? ORDER BY seq LIMIT ?;");
  if (!rows) return rows.error();
  rows->bind(1, from_seq).bind(2, limit);
  std::vector<StoredRecord> out;
  while (rows->step()) {
    out.push_back(StoredRecord{rows->column_int(0), rows->column_text(1), rows->column_text(2),
                               rows->column_text(3), rows->column_text(4)});
  }
  if (auto s = rows->status(); !s) return s.error();
  return out;
}

}  // namespace hfv::audit
