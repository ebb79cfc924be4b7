// The cluster (PostgreSQL) AuthorizationStore: table `authorizations`,
// shared by every broker on the database. Members are keyed pseudonyms
// already; nothing here is sealed. Internally locked (one connection).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "broker/store/authorization_store.hpp"
#include "storage/postgresql_db.hpp"

namespace hfv::broker {

class PostgresqlAuthorizationStore final : public AuthorizationStore {
 public:
  // Connects and creates or checks the schema (broker/store/postgresql/schema.hpp).
  static Result<std::unique_ptr<PostgresqlAuthorizationStore>> open(const std::string& conninfo);
  Status insert(const StoredAuthorization& authorization) override;
  Result<std::optional<StoredAuthorization>> find(const std::string& id,
                                                  const std::string& principal) override;
  Result<std::optional<StoredAuthorization>> revoke(const std::string& id,
                                                    const std::string& principal) override;
  Result<std::int64_t> purge_ended_before(const std::string& before) override;

 private:
  explicit PostgresqlAuthorizationStore(std::unique_ptr<storage::PostgresqlDb> db)
      : db_(std::move(db)) {}
  std::mutex mutex_;
  std::unique_ptr<storage::PostgresqlDb> db_;
};

}  // namespace hfv::broker
