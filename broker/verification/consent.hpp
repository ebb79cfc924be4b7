// Authorisations (the household's signed consent, 声明授权书): stored in the
// encrypted state database, members kept only as keyed pseudonyms. An
// authorisation belongs to the principal that registered it; another
// principal cannot see or use it (it is "not found" to them).
//
// ConsentStore calls block on disk: call them off the I/O threads.
// Thread-safety: ConsentStore is internally locked.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "storage/sqlcipher_db.hpp"
#include "broker/verification/request.hpp"
#include "common/result.hpp"

namespace hfv::broker {

struct StoredAuthorization {
  std::string id;
  std::string principal;
  std::string case_id;
  Date valid_from;
  Date valid_until;
  std::string form_sha256;
  bool all_categories = false;
  std::vector<Source> categories;
  std::set<std::string> member_pseudonyms;
  std::string created_at;
  std::string revoked_at;  // empty while in force

  bool allows(Source source) const;
};

// Why an authorisation does not cover a verification; nullopt when it does.
struct ConsentProblem {
  std::string code;   // consent_revoked | consent_not_yet_valid | consent_expired | consent_other_case | member_not_covered
  std::string field;  // the request field at fault
  std::string message;
};
std::optional<ConsentProblem> check_consent(const StoredAuthorization& auth, const std::string& case_id,
                                            const std::vector<std::string>& member_pseudonyms,
                                            const Date& today);

class ConsentStore {
 public:
  static Result<std::unique_ptr<ConsentStore>> open(const std::filesystem::path& path,
                                                    const crypto::SecretKey& key);
  // Stores a new authorisation and returns it (with its new id).
  Result<StoredAuthorization> insert(const AuthorizationRequest& request,
                                     const std::vector<std::string>& member_pseudonyms,
                                     const std::string& principal);
  // nullopt when there is no such authorisation for this principal.
  Result<std::optional<StoredAuthorization>> find(const std::string& id, const std::string& principal);
  // Marks it revoked (idempotent); nullopt when not found for this principal.
  Result<std::optional<StoredAuthorization>> revoke(const std::string& id, const std::string& principal);

 private:
  explicit ConsentStore(std::unique_ptr<storage::SqlcipherDb> db) : db_(std::move(db)) {}
  Result<std::optional<StoredAuthorization>> find_locked(const std::string& id, const std::string& principal);
  std::mutex mutex_;
  std::unique_ptr<storage::SqlcipherDb> db_;
};

nlohmann::json authorization_json(const StoredAuthorization& auth);

}  // namespace hfv::broker
