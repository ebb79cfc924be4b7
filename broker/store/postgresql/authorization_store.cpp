#include "broker/store/postgresql/authorization_store.hpp"

#include "broker/store/postgresql/schema.hpp"
#include "common/time.hpp"

namespace hfv::broker {

namespace {

constexpr const char* kColumns =
    "id, principal, case_id, valid_from, valid_until, form_sha256, categories, members, created_at,"
    " revoked_at, jurisdiction";

Result<StoredAuthorization> from_row(const storage::PgRow& row) {
  for (std::size_t i = 0; i < 9; ++i) {
    if (!row[i]) return make_error("corrupt_state", "authorization record cannot be read");
  }
  return authorization_from_columns({*row[0], *row[1], *row[2], *row[3], *row[4], *row[5], *row[6],
                                     *row[7], *row[8], row[9].value_or(""), row[10].value_or("")});
}

}  // namespace

Result<std::unique_ptr<PostgresqlAuthorizationStore>> PostgresqlAuthorizationStore::open(
    const std::string& conninfo) {
  auto db = storage::PostgresqlDb::connect(conninfo);
  if (!db) return db.error();
  if (auto s = pg::migrate(**db); !s) return s.error();
  return std::unique_ptr<PostgresqlAuthorizationStore>(new PostgresqlAuthorizationStore(std::move(*db)));
}

Status PostgresqlAuthorizationStore::insert(const StoredAuthorization& a) {
  const AuthorizationColumns c = authorization_columns(a);
  std::lock_guard lock(mutex_);
  return db_->run(
      "INSERT INTO authorizations (id, principal, case_id, valid_from, valid_until, form_sha256,"
      " categories, members, created_at, jurisdiction) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
      {c.id, c.principal, c.case_id, c.valid_from, c.valid_until, c.form_sha256, c.categories, c.members,
       c.created_at, c.jurisdiction});
}

Result<std::optional<StoredAuthorization>> PostgresqlAuthorizationStore::find(
    const std::string& id, const std::string& principal) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query(std::string("SELECT ") + kColumns +
                             " FROM authorizations WHERE id = $1 AND principal = $2",
                         {id, principal});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<StoredAuthorization>();
  auto a = from_row(rows->front());
  if (!a) return a.error();
  return std::optional(std::move(*a));
}

Result<std::optional<StoredAuthorization>> PostgresqlAuthorizationStore::revoke(
    const std::string& id, const std::string& principal) {
  std::lock_guard lock(mutex_);
  // One statement: the first revocation's time stays, whichever broker
  // revoked it (COALESCE keeps a time already set).
  auto rows = db_->query(std::string("UPDATE authorizations SET revoked_at = COALESCE(revoked_at, $3)"
                                     " WHERE id = $1 AND principal = $2 RETURNING ") +
                             kColumns,
                         {id, principal, utc_timestamp_now()});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<StoredAuthorization>();
  auto a = from_row(rows->front());
  if (!a) return a.error();
  return std::optional(std::move(*a));
}

Result<std::int64_t> PostgresqlAuthorizationStore::purge_ended_before(const std::string& before) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query(
      "WITH ended AS (DELETE FROM authorizations WHERE valid_until < $1 OR"
      " (revoked_at IS NOT NULL AND revoked_at < $1) RETURNING 1) SELECT count(*) FROM ended",
      {before});
  if (!rows) return rows.error();
  if (rows->empty() || !rows->front()[0]) return std::int64_t{0};
  return static_cast<std::int64_t>(std::stoll(*rows->front()[0]));
}

}  // namespace hfv::broker
