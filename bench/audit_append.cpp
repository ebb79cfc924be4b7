// bench_audit_append: audit append throughput with group commit, encrypted
// (SQLCipher) next to plain (the same SQLCipher library, a database opened
// without a key, which then behaves as plain SQLite), in one run, with the
// same WAL + synchronous=FULL settings and the same group-commit writer; plus
// the real AuditLog's throughput and its durable single-append latency.
// With --pg, the same AuditLog on PostgreSQL too (the cluster's shared log,
// audit/postgresql_log.hpp), with the same writers and appends, as a ratio
// to the SQLCipher AuditLog measured in the same run.
// Prints a table, then one JSON line.
// Usage: bench_audit_append [--writers N] [--appends N] [--dir DIR] [--pg CONNINFO] [--quick] [--json]
// (--json: only the JSON line; bench/run reads the last line. CONNINFO: an
// empty database of a server bench/run starts, see scripts/lib/pg.sh.)
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_log.hpp"
#include "audit/log_connection.hpp"
#include "crypto/hash.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// The group-commit pattern of AuditLog over a raw connection: one writer
// thread, a queue, one transaction (one fsync) per batch.
class RawGroupCommit {
 public:
  RawGroupCommit(const fs::path& path, const std::optional<hfv::crypto::SecretKey>& key) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open failed");
    if (key) {
      std::string k = "x'" + hfv::crypto::to_hex(key->bytes()) + "'";
      sqlite3_key(db_, k.data(), static_cast<int>(k.size()));
      exec("PRAGMA cipher_page_size = 4096;");
    } else {
      exec("PRAGMA page_size = 4096;");
    }
    exec(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
        "CREATE TABLE r (seq INTEGER PRIMARY KEY, body TEXT NOT NULL, leaf TEXT NOT NULL);");
    writer_ = std::thread([this] { loop(); });
  }
  ~RawGroupCommit() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    writer_.join();
    sqlite3_close(db_);
  }
  void append(const std::string& body) {
    std::promise<void> done;
    auto f = done.get_future();
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({body, &done});
    }
    wake_.notify_one();
    f.wait();
  }

 private:
  struct Item {
    std::string body;
    std::promise<void>* done;
  };
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err != nullptr ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(m);
    }
  }
  void loop() {
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db_, "INSERT INTO r (body, leaf) VALUES (?, ?);", -1, &insert, nullptr);
    for (;;) {
      std::vector<Item> batch;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty() && stop_) break;
        while (!queue_.empty() && batch.size() < 512) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      exec("BEGIN IMMEDIATE;");
      for (const auto& item : batch) {
        const std::string leaf = hfv::crypto::to_hex(hfv::crypto::sha256(item.body));
        sqlite3_reset(insert);
        sqlite3_bind_text(insert, 1, item.body.data(), static_cast<int>(item.body.size()),
                          SQLITE_TRANSIENT);
        sqlite3_bind_text(insert, 2, leaf.data(), static_cast<int>(leaf.size()), SQLITE_TRANSIENT);
        sqlite3_step(insert);
      }
      exec("COMMIT;");
      for (auto& item : batch) item.done->set_value();
    }
    sqlite3_finalize(insert);
  }
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  bool stop_ = false;
  std::thread writer_;
};

// Runs `writers` threads, each doing `appends` blocking appends; records/s.
template <class F>
double run(int writers, int appends, F append) {
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < appends; ++i) append(w * appends + i);
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(writers) * appends / seconds;
}

// A record as a verification writes it most: one member's "agency.answers"
// (11 agencies asked; docs/audit-log-format.md).
hfv::audit::AuditRecord sample_record(int i) {
  hfv::audit::AuditRecord r;
  r.action = "agency.answers";
  r.principal = "demo-case-system";
  r.operator_id = "op-1";
  r.case_id = "CASE-" + std::to_string(i);
  r.request_id = "ver_" + std::to_string(i);
  r.jurisdiction = "230102";
  r.member = std::string(64, 'b');
  for (const char* source : {"tax", "social_insurance", "real_estate", "vehicle", "bank", "securities", "hukou",
                             "business", "provident_fund", "insurance", "internet_finance"}) {
    r.answers.push_back({source, "ok", 12, std::string(64, 'a'), "attempts=1"});
  }
  return r;
}

// The raw writers' row: that record's canonical envelope, as the AuditLog
// writes it (same size).
std::string sample_body(int i) {
  return hfv::audit::canonical_record(sample_record(i), i, "2026-12-07T22:00:00.000Z").envelope;
}

}  // namespace

int main(int argc, char** argv) {
  int writers = 64;
  int appends = 50;
  fs::path dir;
  std::string pg_conninfo;
  bool json_only = false;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--writers") == 0 && has_value)
      writers = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--appends") == 0 && has_value)
      appends = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--dir") == 0 && has_value)
      dir = argv[++i];
    else if (std::strcmp(argv[i], "--pg") == 0 && has_value)
      pg_conninfo = argv[++i];
    else if (std::strcmp(argv[i], "--quick") == 0)
      appends = 15;
    else if (std::strcmp(argv[i], "--json") == 0)
      json_only = true;
    else {
      std::fprintf(
          stderr,
          "usage: bench_audit_append [--writers N] [--appends N] [--dir DIR] [--pg CONNINFO] [--quick] "
          "[--json]\n");
      return 2;
    }
  }
  if (dir.empty())
    dir = fs::temp_directory_path() / ("hfv-bench-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);

  double encrypted = 0, plain = 0;
  {
    RawGroupCommit db(dir / "encrypted.db", hfv::crypto::SecretKey::random());
    encrypted = run(writers, appends, [&](int i) { db.append(sample_body(i)); });
  }
  {
    RawGroupCommit db(dir / "plain.db", std::nullopt);
    plain = run(writers, appends, [&](int i) { db.append(sample_body(i)); });
  }
  // The real AuditLog at `where`: records/s with `writers` concurrent
  // writers, then the latency of 200 durable single appends (p50, p99).
  struct LogFigures {
    double rate = 0, p50 = 0, p99 = 0;
  };
  const auto measure_log = [&](const hfv::audit::LogLocation& where,
                               const hfv::audit::AuditLogOptions& options) -> std::optional<LogFigures> {
    auto log = hfv::audit::AuditLog::open(where, hfv::crypto::SecretKey::random(), options);
    if (!log) {
      std::fprintf(stderr, "bench: %s: %s\n", where.describe().c_str(), log.error().message.c_str());
      return std::nullopt;
    }
    LogFigures f;
    f.rate = run(writers, appends, [&](int i) { (void)(*log)->append_blocking({sample_record(i)}); });
    std::vector<double> latencies_ms;
    for (int i = 0; i < 200; ++i) {
      const auto start = Clock::now();
      (void)(*log)->append_blocking({sample_record(i)});
      latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    std::sort(latencies_ms.begin(), latencies_ms.end());
    f.p50 = latencies_ms[latencies_ms.size() / 2];
    f.p99 = latencies_ms[latencies_ms.size() * 99 / 100];
    return f;
  };
  const auto on_file = measure_log(hfv::audit::LogLocation::sqlcipher(dir / "audit.db"), {});
  if (!on_file) return 1;
  const double log_rate = on_file->rate, p50 = on_file->p50, p99 = on_file->p99;
  std::optional<LogFigures> on_pg;
  if (!pg_conninfo.empty()) {
    // The PostgreSQL backend requires an anchor file (each broker keeps its own).
    hfv::audit::AuditLogOptions options;
    options.anchor_file = dir / "pg.anchor";
    on_pg = measure_log(hfv::audit::LogLocation::shared(pg_conninfo), options);
    if (!on_pg) return 1;
  }
  const double ratio = encrypted / plain;

  if (!json_only) {
    std::printf(
        "audit append, %d concurrent writers x %d appends, WAL + synchronous=FULL, group commit\n",
        writers, appends);
    std::printf("%-44s %14s\n", "variant", "records/s");
    std::printf("%-44s %14.0f\n", "plain (SQLCipher library, no key)", plain);
    std::printf("%-44s %14.0f\n", "encrypted (SQLCipher, raw 256-bit key)", encrypted);
    std::printf("%-44s %14.0f\n", "AuditLog (encrypted + Merkle + personality)", log_rate);
    std::printf("%-44s %14.2f\n", "ratio encrypted/plain", ratio);
    std::printf("durable single append latency: p50 %.2f ms, p99 %.2f ms\n", p50, p99);
    if (on_pg) {
      std::printf("%-44s %14.0f\n", "AuditLog on PostgreSQL (shared log)", on_pg->rate);
      std::printf("%-44s %14.2f\n", "ratio PostgreSQL/SQLCipher AuditLog", on_pg->rate / log_rate);
      std::printf("PostgreSQL durable single append latency: p50 %.2f ms, p99 %.2f ms\n", on_pg->p50,
                  on_pg->p99);
    }
  }
  nlohmann::json out = {{"writers", writers},
                              {"appends_per_writer", appends},
                              {"plain_records_per_s", plain},
                              {"encrypted_records_per_s", encrypted},
                              {"auditlog_records_per_s", log_rate},
                              {"ratio_encrypted_over_plain", ratio},
                              {"single_append_latency_ms", {{"p50", p50}, {"p99", p99}}}};
  if (on_pg) {
    out["postgresql_auditlog_records_per_s"] = on_pg->rate;
    out["ratio_postgresql_over_sqlcipher_auditlog"] = on_pg->rate / log_rate;
    out["postgresql_single_append_latency_ms"] = {{"p50", on_pg->p50}, {"p99", on_pg->p99}};
  }
  std::printf("%s\n", out.dump().c_str());
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
