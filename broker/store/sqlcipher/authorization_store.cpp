#include "broker/store/sqlcipher/authorization_store.hpp"

#include <nlohmann/json.hpp>

#include "common/time.hpp"

namespace hfv::broker {

using nlohmann::json;

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
  if (auto s = (*db)->checkpoint_in_background(path, key); !s) return s.error();
  return std::unique_ptr<SqlcipherAuthorizationStore>(
      new SqlcipherAuthorizationStore(std::move(*db)));
}

Status SqlcipherAuthorizationStore::insert(const StoredAuthorization& a) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(
      "INSERT INTO authorizations (id, principal, case_id, valid_from, valid_until, form_sha256,"
      " categories, members, created_at) VALUES (?,?,?,?,?,?,?,?,?);");
  if (!stmt) return stmt.error();
  stmt->bind(1, a.id).bind(2, a.principal).bind(3, a.case_id).bind(4, a.valid_from.to_string());
  stmt->bind(5, a.valid_until.to_string())
      .bind(6, a.form_sha256)
      .bind(7, categories_json(a).dump());
  stmt->bind(8, json(a.member_pseudonyms).dump()).bind(9, a.created_at);
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
      " created_at, revoked_at FROM authorizations WHERE id = ? AND principal = ?;");
  if (!stmt) return stmt.error();
  stmt->bind(1, id).bind(2, principal);
  if (!stmt->step()) {
    if (auto s = stmt->status(); !s) return s.error();
    return std::optional<StoredAuthorization>();
  }
  StoredAuthorization a;
  a.id = stmt->column_text(0);
  a.principal = stmt->column_text(1);
  a.case_id = stmt->column_text(2);
  auto from = Date::parse(stmt->column_text(3));
  auto until = Date::parse(stmt->column_text(4));
  const json categories = json::parse(stmt->column_text(6), nullptr, false);
  const json members = json::parse(stmt->column_text(7), nullptr, false);
  if (!from || !until || categories.is_discarded() || !members.is_array()) {
    return make_error("corrupt_state", "authorization record cannot be read");
  }
  a.valid_from = *from;
  a.valid_until = *until;
  a.form_sha256 = stmt->column_text(5);
  if (categories.is_string()) {
    a.all_categories = true;
  } else {
    for (const auto& c : categories) {
      if (auto s = parse_source(c.get<std::string>())) a.categories.push_back(*s);
    }
  }
  for (const auto& m : members) a.member_pseudonyms.insert(m.get<std::string>());
  a.created_at = stmt->column_text(8);
  a.revoked_at = stmt->column_is_null(9) ? "" : stmt->column_text(9);
  return std::optional(std::move(a));
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

}  // namespace hfv::broker
