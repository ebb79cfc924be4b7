#include "broker/store/sqlcipher/authorization_store.hpp"

#include <array>

#include "common/time.hpp"

namespace hfv::broker {

Result<std::unique_ptr<SqlcipherAuthorizationStore>> SqlcipherAuthorizationStore::open(
    const std::filesystem::path& path, const crypto::SecretKey& key) {
  auto db = storage::SqlcipherDb::open(path, key, /*create=*/true);
  if (!db) return db.error();
  if (auto s = (*db)->exec(
          "CREATE TABLE IF NOT EXISTS authorizations ("
          " id TEXT PRIMARY KEY, principal TEXT NOT NULL, case_id TEXT NOT NULL,"
          " valid_from TEXT NOT NULL, valid_until TEXT NOT NULL, form_sha256 TEXT NOT NULL,"
          " categories TEXT NOT NULL, members TEXT NOT NULL, created_at TEXT NOT NULL,"
          " revoked_at TEXT);");
      !s) {
    return s.error();
  }
  // Added after version 1: earlier rows have none (NULL).
  if (auto s = (*db)->add_column_if_missing("authorizations", "jurisdiction", "TEXT"); !s) return s.error();
  if (auto s = (*db)->checkpoint_in_background(path, key); !s) return s.error();
  return std::unique_ptr<SqlcipherAuthorizationStore>(
      new SqlcipherAuthorizationStore(std::move(*db)));
}

Status SqlcipherAuthorizationStore::insert(const StoredAuthorization& a) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(
      "INSERT INTO authorizations (id, principal, case_id, valid_from, valid_until, form_sha256,"
      " categories, members, created_at, jurisdiction) VALUES (?,?,?,?,?,?,?,?,?,?);");
  if (!stmt) return stmt.error();
  const AuthorizationColumns c = authorization_columns(a);
  stmt->bind(1, c.id).bind(2, c.principal).bind(3, c.case_id).bind(4, c.valid_from);
  stmt->bind(5, c.valid_until).bind(6, c.form_sha256).bind(7, c.categories);
  stmt->bind(8, c.members).bind(9, c.created_at).bind(10, c.jurisdiction);
  stmt->step();
  return stmt->status();
}

Result<std::optional<StoredAuthorization>> SqlcipherAuthorizationStore::find(
    const std::string& id, const std::string& principal) {
  std::lock_guard lock(mutex_);
  return find_locked(id, principal);
}

Result<std::optional<StoredAuthorization>> SqlcipherAuthorizationStore::find_locked(
    const std::string& id, const std::string& principal) {
  auto stmt = db_->prepare(
      "SELECT id, principal, case_id, valid_from, valid_until, form_sha256, categories, members,"
      " created_at, revoked_at, jurisdiction FROM authorizations WHERE id = ? AND principal = ?;");
  if (!stmt) return stmt.error();
  stmt->bind(1, id).bind(2, principal);
  if (!stmt->step()) {
    if (auto s = stmt->status(); !s) return s.error();
    return std::optional<StoredAuthorization>();
  }
  AuthorizationColumns c;
  const std::array<std::string*, 9> columns = {&c.id,          &c.principal,  &c.case_id,
                                               &c.valid_from,  &c.valid_until, &c.form_sha256,
                                               &c.categories,  &c.members,     &c.created_at};
  for (std::size_t i = 0; i < columns.size(); ++i) *columns[i] = stmt->column_text(static_cast<int>(i));
  c.revoked_at = stmt->column_is_null(9) ? "" : stmt->column_text(9);
  c.jurisdiction = stmt->column_is_null(10) ? "" : stmt->column_text(10);
  auto a = authorization_from_columns(c);
  if (!a) return a.error();
  return std::optional(std::move(*a));
}

Result<std::optional<StoredAuthorization>> SqlcipherAuthorizationStore::revoke(
    const std::string& id, const std::string& principal) {
  std::lock_guard lock(mutex_);
  auto found = find_locked(id, principal);
  if (!found || !*found || !(*found)->revoked_at.empty()) return found;
  const std::string now = utc_timestamp_now();
  if (auto s = db_->run("UPDATE authorizations SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL;", {now, id});
      !s) {
    return s.error();
  }
  (*found)->revoked_at = now;
  return found;
}

Result<std::int64_t> SqlcipherAuthorizationStore::purge_ended_before(const std::string& before) {
  std::lock_guard lock(mutex_);
  constexpr const char* kEnded = " FROM authorizations WHERE valid_until < ? OR (revoked_at IS NOT NULL AND revoked_at < ?);";
  auto counted = db_->prepare(std::string("SELECT count(*)") + kEnded);
  if (!counted) return counted.error();
  counted->bind(1, before).bind(2, before);
  const std::int64_t n = counted->step() ? counted->column_int(0) : 0;
  if (auto s = counted->status(); !s) return s.error();
  if (n == 0) return n;
  if (auto s = db_->run(std::string("DELETE") + kEnded, {before, before}); !s) return s.error();
  return n;
}

}  // namespace hfv::broker
