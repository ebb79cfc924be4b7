// The embedded (SQLCipher) AuthorizationStore: table `authorizations` in the
// encrypted state database. Internally locked.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "broker/store/authorization_store.hpp"
#include "storage/sqlcipher_db.hpp"

namespace hfv::broker {

class SqlcipherAuthorizationStore final : public AuthorizationStore {
 public:
  static Result<std::unique_ptr<SqlcipherAuthorizationStore>> open(
      const std::filesystem::path& path, const crypto::SecretKey& key);
  Status insert(const StoredAuthorization& authorization) override;
  Result<std::optional<StoredAuthorization>> find(const std::string& id,
                                                  const std::string& principal) override;
  Result<std::optional<StoredAuthorization>> revoke(const std::string& id,
                                                    const std::string& principal) override;
  Result<std::int64_t> purge_ended_before(const std::string& before) override;

 private:
  explicit SqlcipherAuthorizationStore(std::unique_ptr<storage::SqlcipherDb> db)
      : db_(std::move(db)) {}
  Result<std::optional<StoredAuthorization>> find_locked(const std::string& id,
                                                         const std::string& principal);
  std::mutex mutex_;
  std::unique_ptr<storage::SqlcipherDb> db_;
};

}  // namespace hfv::broker
