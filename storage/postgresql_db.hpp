// PostgresqlDb: one libpq connection to the cluster backend (issue 15).
// Statements are sent with their parameters as text (PQexecParams: no SQL is
// ever built from values); answers come back as rows of optional text.
// Errors are values whose code says what the caller may do:
//   "db_unavailable"  the server cannot be reached, is shutting down, or is
//                     a read-only standby (a failover in progress): nothing
//                     was committed by this call unless it says so; answer
//                     503 with Retry-After and try again later
//   "db_conflict"     a unique key already holds the row (SQLSTATE 23505)
//   "db_retry"        a serialization failure or deadlock (40001, 40P01):
//                     the transaction was rolled back; run it again
//   "db_error"        anything else (a bug or a schema mismatch)
// A COMMIT whose wait for a synchronous standby was cancelled (the server
// then warns that it committed locally only) is reported "db_unavailable":
// such a commit is never acknowledged as durable.
// A connection string is libpq's, so multi-host failover
// (`host=a,b target_session_attrs=read-write`) works unchanged; after the
// connection is lost the next call reconnects (PQreset) once before it
// reports "db_unavailable". Messages carry the server's text, never a
// parameter value.
//
// Threading: a connection is used by one thread at a time.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

struct pg_conn;

namespace hfv::storage {

using PgValue = std::optional<std::string>;  // nullopt is SQL NULL
using PgRow = std::vector<PgValue>;
using PgRows = std::vector<PgRow>;

// What every PostgresqlDb of this process has done so far, for /metrics:
// statements (each call: a query, a run, an exec) by time taken, failed
// calls by error code, and reconnections after a lost connection.
struct PgStatistics {
  // Upper bounds (seconds) of the statement-time buckets; counts[i] counts
  // the calls in (bounds[i-1], bounds[i]], the last one those above all.
  static constexpr std::array<double, 12> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1.0,  5.0};
  std::array<std::uint64_t, kBounds.size() + 1> counts{};
  double seconds = 0;  // sum of all calls' time
  std::uint64_t calls = 0;
  std::uint64_t reconnects = 0;
  // Failed calls by code: db_unavailable, db_conflict, db_retry, db_error.
  std::uint64_t unavailable = 0, conflict = 0, retry = 0, error = 0;
};
// A consistent copy of the process's statistics (any thread).
PgStatistics postgresql_statistics();

class PostgresqlDb {
 public:
  // Connects; "db_unavailable" when no server answers (the message names
  // no password: libpq's text is cut at the first line).
  static Result<std::unique_ptr<PostgresqlDb>> connect(const std::string& conninfo);
  ~PostgresqlDb();
  PostgresqlDb(const PostgresqlDb&) = delete;
  PostgresqlDb& operator=(const PostgresqlDb&) = delete;

  // One statement with its parameters ($1, $2, ... in order); the rows it
  // returns (none for INSERT/UPDATE without RETURNING).
  Result<PgRows> query(std::string_view sql, const std::vector<PgValue>& params = {});
  // Like query(), for a statement whose rows do not matter.
  Status run(std::string_view sql, const std::vector<PgValue>& params = {});
  // Several statements separated by ';' and no parameters (schema set-up).
  Status exec(std::string_view sql);

  // The number of times the connection was re-established after it was
  // lost (a metric: reconnects during a failover).
  long reconnects() const { return reconnects_; }

 private:
  explicit PostgresqlDb(pg_conn* conn) : conn_(conn) {}
  void watch_notices();
  Status unconfirmed() const;  // "db_unavailable" after an unconfirmed commit
  Status ensure_connected();
  Result<PgRows> query_timed(std::string_view sql, const std::vector<PgValue>& params);
  pg_conn* conn_;
  long reconnects_ = 0;
  bool unconfirmed_commit_ = false;  // set by the notice receiver (see watch_notices)
};

// Runs `body` between BEGIN and COMMIT; rolls back when it returns an
// error. A "db_retry" from any statement or the commit runs the whole body
// again (up to `attempts` times).
template <class Body>
Status transaction(PostgresqlDb& db, Body&& body, int attempts = 5) {
  for (int attempt = 1;; ++attempt) {
    Status s = db.run("BEGIN");
    if (s) {
      s = body();
      if (s) {
        s = db.run("COMMIT");
      } else {
        (void)db.run("ROLLBACK");
      }
    }
    if (s || s.error().code != "db_retry" || attempt >= attempts) return s;
    (void)db.run("ROLLBACK");
  }
}

}  // namespace hfv::storage
