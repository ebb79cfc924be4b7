#include "storage/postgresql_db.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace hfv::storage {

namespace {

// libpq's message without its detail lines (no value ever reaches them: all
// values travel as parameters, but a connection string may).
std::string first_line(const char* text) {
  if (text == nullptr) return "unknown error";
  std::string s(text);
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

Error classify(const PGresult* res, pg_conn* conn) {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  const std::string message =
      first_line(res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn));
  if (PQstatus(conn) != CONNECTION_OK || sqlstate.starts_with("08") || sqlstate == "57P01" ||
      sqlstate == "57P02" || sqlstate == "57P03" || sqlstate == "25006") {
    return make_error("db_unavailable", "database unavailable: " + message);
  }
  if (sqlstate == "23505") return make_error("db_conflict", "duplicate key: " + message);
  if (sqlstate == "40001" || sqlstate == "40P01") {
    return make_error("db_retry", "transaction must be retried: " + message);
  }
  return make_error("db_error", "database error " + sqlstate + ": " + message);
}

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultFree>;

// The process's statistics: one lock per call is nothing beside a round
// trip to the server.
std::mutex statistics_mutex;
PgStatistics statistics;

template <class Answer>
Answer counted(std::chrono::steady_clock::time_point started, Answer answer) {
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::lock_guard lock(statistics_mutex);
  const auto bucket = std::lower_bound(PgStatistics::kBounds.begin(), PgStatistics::kBounds.end(), took);
  ++statistics.counts[static_cast<std::size_t>(bucket - PgStatistics::kBounds.begin())];
  statistics.seconds += took;
  ++statistics.calls;
  if (!answer) {
    const std::string& code = answer.error().code;
    ++(code == "db_unavailable" ? statistics.unavailable
       : code == "db_conflict"  ? statistics.conflict
       : code == "db_retry"     ? statistics.retry
                                : statistics.error);
  }
  return answer;
}

}  // namespace

PgStatistics postgresql_statistics() {
  std::lock_guard lock(statistics_mutex);
  return statistics;
}

Result<std::unique_ptr<PostgresqlDb>> PostgresqlDb::connect(const std::string& conninfo) {
  pg_conn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return make_error("db_unavailable", "database unavailable: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    Error e = make_error("db_unavailable", "database unavailable: " + first_line(PQerrorMessage(conn)));
    PQfinish(conn);
    return e;
  }
  std::unique_ptr<PostgresqlDb> db(new PostgresqlDb(conn));
  db->watch_notices();
  return db;
}

// Server notices ("relation ... already exists, skipping") are not errors
// and must not reach stderr. One is remembered: the warning a server gives
// when a commit's wait for the synchronous standby was cancelled (by a
// timeout or pg_cancel_backend: SQLSTATE 01000; by a shutdown: 57P01)
// although the commit stands locally: that commit is not acknowledged.
// (Messages may be translated, so the codes decide; a statement that draws
// another plain WARNING is refused too, which fails closed.)
void PostgresqlDb::watch_notices() {
  PQsetNoticeReceiver(
      conn_,
      [](void* arg, const PGresult* res) {
        const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
        const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const std::string sqlstate = state != nullptr ? state : "";
        if (severity != nullptr && std::string_view(severity) == "WARNING" &&
            (sqlstate == "01000" || sqlstate == "57P01")) {
          static_cast<PostgresqlDb*>(arg)->unconfirmed_commit_ = true;
        }
      },
      this);
}

PostgresqlDb::~PostgresqlDb() { PQfinish(conn_); }

Status PostgresqlDb::ensure_connected() {
  // An idle connection whose server went away (a restart, a failover) still
  // reads as OK until something is read from it: read what is waiting
  // (without blocking) so a closed one is reset before a statement is sent
  // on it rather than failing that statement.
  if (PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE) {
    (void)PQconsumeInput(conn_);
  }
  if (PQstatus(conn_) == CONNECTION_OK) return Status::success();
  PQreset(conn_);
  ++reconnects_;
  {
    std::lock_guard lock(statistics_mutex);
    ++statistics.reconnects;
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    return make_error("db_unavailable", "database unavailable: " + first_line(PQerrorMessage(conn_)));
  }
  return Status::success();
}

Result<PgRows> PostgresqlDb::query(std::string_view sql, const std::vector<PgValue>& params) {
  return counted(std::chrono::steady_clock::now(), query_timed(sql, params));
}

Result<PgRows> PostgresqlDb::query_timed(std::string_view sql, const std::vector<PgValue>& params) {
  if (auto s = ensure_connected(); !s) return s.error();
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  const std::string text(sql);
  unconfirmed_commit_ = false;
  ResultPtr res(PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0));
  const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return classify(res.get(), conn_);
  if (auto s = unconfirmed(); !s) return s.error();
  PgRows rows;
  const int n = PQntuples(res.get());
  const int cols = PQnfields(res.get());
  rows.reserve(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) {
    PgRow row;
    row.reserve(static_cast<std::size_t>(cols));
    for (int c = 0; c < cols; ++c) {
      if (PQgetisnull(res.get(), r, c) != 0) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(res.get(), r, c),
                                     static_cast<std::size_t>(PQgetlength(res.get(), r, c))));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Status PostgresqlDb::run(std::string_view sql, const std::vector<PgValue>& params) {
  auto r = query(sql, params);
  if (!r) return r.error();
  return Status::success();
}

Status PostgresqlDb::exec(std::string_view sql) {
  const auto started = std::chrono::steady_clock::now();
  if (auto s = ensure_connected(); !s) return counted(started, s);
  const std::string text(sql);
  unconfirmed_commit_ = false;
  ResultPtr res(PQexec(conn_, text.c_str()));
  const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return counted(started, Status(classify(res.get(), conn_)));
  return counted(started, unconfirmed());
}

Status PostgresqlDb::unconfirmed() const {
  if (!unconfirmed_commit_) return Status::success();
  return make_error("db_unavailable",
                    "database unavailable: the commit was not confirmed by the synchronous standby");
}

}  // namespace hfv::storage
