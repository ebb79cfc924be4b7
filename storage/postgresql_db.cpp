#include "storage/postgresql_db.hpp"

#include <libpq-fe.h>

#include <cstring>

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

}  // namespace

Result<std::unique_ptr<PostgresqlDb>> PostgresqlDb::connect(const std::string& conninfo) {
  pg_conn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return make_error("db_unavailable", "database unavailable: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    Error e = make_error("db_unavailable", "database unavailable: " + first_line(PQerrorMessage(conn)));
    PQfinish(conn);
    return e;
  }
  // Server notices ("relation ... already exists, skipping") are not errors
  // and must not reach stderr.
  PQsetNoticeProcessor(conn, [](void* /*arg*/, const char* /*message*/) {}, nullptr);
  return std::unique_ptr<PostgresqlDb>(new PostgresqlDb(conn));
}

PostgresqlDb::~PostgresqlDb() { PQfinish(conn_); }

Status PostgresqlDb::ensure_connected() {
  if (PQstatus(conn_) == CONNECTION_OK) return Status::success();
  PQreset(conn_);
  ++reconnects_;
  if (PQstatus(conn_) != CONNECTION_OK) {
    return make_error("db_unavailable", "database unavailable: " + first_line(PQerrorMessage(conn_)));
  }
  return Status::success();
}

Result<PgRows> PostgresqlDb::query(std::string_view sql, const std::vector<PgValue>& params) {
  if (auto s = ensure_connected(); !s) return s.error();
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  const std::string text(sql);
  ResultPtr res(PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0));
  const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return classify(res.get(), conn_);
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
  if (auto s = ensure_connected(); !s) return s;
  const std::string text(sql);
  ResultPtr res(PQexec(conn_, text.c_str()));
  const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return classify(res.get(), conn_);
  return Status::success();
}

}  // namespace hfv::storage
