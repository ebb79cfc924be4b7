#include "broker/verification/consent.hpp"

#include <algorithm>

#include "crypto/hash.hpp"
#include "common/time.hpp"

namespace hfv::broker {

using nlohmann::json;

bool StoredAuthorization::allows(Source source) const {
  return all_categories || std::find(categories.begin(), categories.end(), source) != categories.end();
}

std::optional<ConsentProblem> check_consent(const StoredAuthorization& auth, const std::string& case_id,
                                            const std::vector<std::string>& member_pseudonyms,
                                            const Date& today) {
  if (!auth.revoked_at.empty()) {
    return ConsentProblem{"consent_revoked", "authorization_id", "the authorization was revoked"};
  }
  if (today < auth.valid_from) {
    return ConsentProblem{"consent_not_yet_valid", "authorization_id",
                          "the authorization is valid only from " + auth.valid_from.to_string()};
  }
  if (today > auth.valid_until) {
    return ConsentProblem{"consent_expired", "authorization_id",
                          "the authorization expired on " + auth.valid_until.to_string()};
  }
  if (auth.case_id != case_id) {
    return ConsentProblem{"consent_other_case", "authorization_id",
                          "the authorization belongs to another case"};
  }
  for (std::size_t i = 0; i < member_pseudonyms.size(); ++i) {
    if (!auth.member_pseudonyms.contains(member_pseudonyms[i])) {
      return ConsentProblem{"member_not_covered", "members[" + std::to_string(i) + "].id_number",
                            "this member did not sign the authorization"};
    }
  }
  return std::nullopt;
}

Result<std::unique_ptr<ConsentStore>> ConsentStore::open(const std::filesystem::path& path,
                                                         const crypto::SecretKey& key) {
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
  return std::unique_ptr<ConsentStore>(new ConsentStore(std::move(*db)));
}

Result<StoredAuthorization> ConsentStore::insert(const AuthorizationRequest& request,
                                                 const std::vector<std::string>& member_pseudonyms,
                                                 const std::string& principal) {
  StoredAuthorization a;
  a.id = "auth_" + crypto::to_hex(crypto::random_bytes(12));
  a.principal = principal;
  a.case_id = request.case_id;
  a.valid_from = request.valid_from;
  a.valid_until = request.valid_until;
  a.form_sha256 = request.form_sha256;
  a.all_categories = request.all_categories;
  a.categories = request.categories;
  a.member_pseudonyms.insert(member_pseudonyms.begin(), member_pseudonyms.end());
  a.created_at = utc_timestamp_now();
  json categories = json::array();
  if (a.all_categories) {
    categories = "all";
  } else {
    for (Source s : a.categories) categories.push_back(source_name(s));
  }
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(
      "INSERT INTO authorizations (id, principal, case_id, valid_from, valid_until, form_sha256,"
      " categories, members, created_at) VALUES (?,?,?,?,?,?,?,?,?);");
  if (!stmt) return stmt.error();
  stmt->bind(1, a.id).bind(2, a.principal).bind(3, a.case_id).bind(4, a.valid_from.to_string());
  stmt->bind(5, a.valid_until.to_string()).bind(6, a.form_sha256).bind(7, categories.dump());
  stmt->bind(8, json(a.member_pseudonyms).dump()).bind(9, a.created_at);
  stmt->step();
  if (auto s = stmt->status(); !s) return s.error();
  return a;
}

Result<std::optional<StoredAuthorization>> ConsentStore::find(const std::string& id,
                                                              const std::string& principal) {
  std::lock_guard lock(mutex_);
  return find_locked(id, principal);
}

Result<std::optional<StoredAuthorization>> ConsentStore::find_locked(const std::string& id,
                                                                     const std::string& principal) {
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

Result<std::optional<StoredAuthorization>> ConsentStore::revoke(const std::string& id,
                                                                const std::string& principal) {
  std::lock_guard lock(mutex_);
  auto found = find_locked(id, principal);
  if (!found || !*found || !(*found)->revoked_at.empty()) return found;
  auto stmt = db_->prepare("UPDATE authorizations SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL;");
  if (!stmt) return stmt.error();
  const std::string now = utc_timestamp_now();
  stmt->bind(1, now).bind(2, id);
  stmt->step();
  if (auto s = stmt->status(); !s) return s.error();
  (*found)->revoked_at = now;
  return found;
}

json authorization_json(const StoredAuthorization& a) {
  json categories;
  if (a.all_categories) {
    categories = "all";
  } else {
    categories = json::array();
    for (Source s : a.categories) categories.push_back(source_name(s));
  }
  json j = {{"authorization_id", a.id},
            {"case_id", a.case_id},
            {"valid_from", a.valid_from.to_string()},
            {"valid_until", a.valid_until.to_string()},
            {"form_sha256", a.form_sha256},
            {"categories", categories},
            {"member_count", a.member_pseudonyms.size()},
            {"created_at", a.created_at},
            {"status", a.revoked_at.empty() ? "active" : "revoked"}};
  if (!a.revoked_at.empty()) j["revoked_at"] = a.revoked_at;
  return j;
}

}  // namespace hfv::broker
