// The cluster (PostgreSQL) ReportStore: table `verifications`, shared by
// every broker on the database, so a report, an Idempotency-Key or a repeat
// window holds whichever node is asked. A report's body is sealed
// (schema.hpp: it names members and carries amounts), and so is its input
// archive (`verification_inputs`); the other columns are
// ids, digests and states. Each row records the node that runs it: opening
// the store marks only this node's "running" rows "interrupted" (another
// node's are still running). Internally locked (one connection).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/store/report_store.hpp"
#include "crypto/keys.hpp"
#include "storage/postgresql_db.hpp"

namespace hfv::broker {

class PostgresqlReportStore final : public ReportStore {
 public:
  // `key` seals report bodies (derive it from the master key with
  // pg::kPurposeStateColumns); `node` names this broker (e.g. its host).
  static Result<std::unique_ptr<PostgresqlReportStore>> open(const std::string& conninfo,
                                                             const crypto::SecretKey& key,
                                                             const std::string& node);
  Status insert_running(const StoredVerification& v) override;
  Status finish(const std::string& id, long http_status, const std::string& response) override;
  Status finish_issued(const std::string& id, const std::string& report, const ArchivedInputs& inputs) override;
  Status finish_appeal(const std::string& id, const std::string& report, const ArchivedInputs& inputs,
                       const std::string& supersedes) override;
  Result<std::optional<ArchivedVerification>> find_archived(const std::string& id) override;
  Result<std::vector<ArchivedVerification>> archived_page(std::int64_t from_unix, std::int64_t to_unix,
                                                          const std::string& after_id,
                                                          std::size_t limit) override;
  Result<std::int64_t> count_archived(std::int64_t from_unix, std::int64_t to_unix) override;
  Status cancel(const std::string& id) override;
  Result<std::int64_t> purge_before(std::int64_t created_before_unix) override;
  Status interrupt(const std::string& id) override;
  Result<std::optional<StoredVerification>> find(const std::string& id,
                                                 const std::string& principal) override;
  Result<std::optional<StoredVerification>> find_by_key(const std::string& principal,
                                                        const std::string& key) override;
  Result<std::optional<StoredVerification>> latest_done(const std::string& principal,
                                                        const std::string& household_key,
                                                        std::int64_t since_unix) override;

 private:
  PostgresqlReportStore(std::unique_ptr<storage::PostgresqlDb> db, const crypto::SecretKey& key,
                        std::string node)
      : db_(std::move(db)), key_(key), node_(std::move(node)) {}
  // The report and its archive, sealed (mutex_ held, inside a transaction).
  Status issue_locked(const std::string& id, const std::string& sealed, const std::string& sealed_inputs,
                      const ArchivedInputs& inputs);
  // With `report_unopenable`, a stored report that does not open sets it
  // (and leaves the response empty) instead of failing the read.
  Result<std::optional<StoredVerification>> query_one(const std::string& where,
                                                      const std::vector<storage::PgValue>& params,
                                                      bool* report_unopenable = nullptr);
  std::mutex mutex_;
  std::unique_ptr<storage::PostgresqlDb> db_;
  crypto::SecretKey key_;
  std::string node_;
};

}  // namespace hfv::broker
