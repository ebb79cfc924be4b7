// The cluster (PostgreSQL) ReviewStore: tables `reviews`, `batches` and
// `batch_items`, shared by every broker on the database. The columns the
// store searches by stay in the clear (ids, principal, case id,
// jurisdiction, next review date, states, times); everything that names a
// member or carries an amount (members with their ID numbers, figures,
// holdings, declarations, a batch item's request and its change list) is
// sealed (schema.hpp) and bound to its row. Batch items are claimed by
// nodes with leases on the database's clock (owner, lease_until); only an
// item's holder writes its outcome. Internally locked (one connection).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/store/review_store.hpp"
#include "crypto/keys.hpp"
#include "storage/postgresql_db.hpp"

namespace hfv::broker {

class PostgresqlReviewStore final : public ReviewStore {
 public:
  // `key` seals the personal columns (pg::kPurposeStateColumns).
  // `node`: this broker's name in the cluster (its claims and pending
  // records); opening releases the claims a previous process of the node held.
  static Result<std::unique_ptr<PostgresqlReviewStore>> open(const std::string& conninfo,
                                                             const crypto::SecretKey& key,
                                                             const std::string& node);

  Status record(const ReviewRecord& r) override;
  Status record_pending(const ReviewRecord& r) override;
  Status mark_issued(const std::string& verification_id) override;
  Status drop_pending(const std::string& verification_id) override;
  Result<PurgeCounts> purge_before(std::int64_t before_unix) override;
  Result<std::vector<ReviewRecord>> pending() override;
  Result<std::optional<ReviewRecord>> find(const std::string& verification_id) override;
  Result<std::optional<ReviewRecord>> issued_in_batch(const std::string& batch_id,
                                                      const std::string& case_id) override;
  Result<std::optional<ReviewRecord>> previous(const ReviewRecord& current) override;
  Result<std::vector<ReviewRecord>> due(const std::string& principal, const std::string& due_by,
                                        const std::vector<std::string>& jurisdictions) override;
  Result<std::vector<ReviewRecord>> issued_between(std::int64_t from_unix, std::int64_t to_unix,
                                                   const std::string& principal) override;

  Status create_batch(const BatchRow& batch, const std::vector<BatchItem>& items) override;
  Result<std::optional<BatchRow>> find_batch(const std::string& id) override;
  Result<std::vector<BatchRow>> batches_in_state(BatchState state) override;
  Status set_batch_state(const std::string& id, BatchState state, std::int64_t finished_unix) override;
  Result<std::vector<BatchItem>> items(const std::string& batch_id) override;
  Status update_items(const std::string& batch_id, const std::vector<BatchItem>& items) override;
  Status cancel_pending(const std::string& batch_id) override;
  Result<bool> finish_batch(const std::string& id, BatchState state, std::int64_t finished_unix) override;
  Result<std::vector<BatchItem>> claim_items(const std::string& batch_id, std::size_t limit,
                                             std::chrono::milliseconds lease) override;
  Status renew_claims(const std::string& batch_id, std::chrono::milliseconds lease) override;
  Status release_claims() override;
  Result<ItemCounts> item_counts(const std::string& batch_id) override;

 private:
  PostgresqlReviewStore(std::unique_ptr<storage::PostgresqlDb> db, const crypto::SecretKey& key, std::string node)
      : db_(std::move(db)), key_(key), node_(std::move(node)) {}
  Result<BatchItem> item_from(const std::string& batch_id, const storage::PgRow& row) const;
  Result<std::vector<BatchItem>> items_from(const std::string& batch_id, const storage::PgRows& rows) const;
  Status insert_review(const ReviewRecord& r, bool issued);
  Result<std::vector<ReviewRecord>> query_reviews(const std::string& where,
                                                  const std::vector<storage::PgValue>& params,
                                                  bool with_members = true);
  Result<std::vector<BatchRow>> query_batches(const std::string& where,
                                              const std::vector<storage::PgValue>& params);
  std::mutex mutex_;
  std::unique_ptr<storage::PostgresqlDb> db_;
  crypto::SecretKey key_;
  std::string node_;
};

}  // namespace hfv::broker
