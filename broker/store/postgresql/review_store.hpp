// The cluster (PostgreSQL) ReviewStore: tables `reviews`, `batches` and
// `batch_items`, shared by every broker on the database. The columns the
// store searches by stay in the clear (ids, principal, case id,
// jurisdiction, next review date, states, times); everything that names a
// member or carries an amount (members with their ID numbers, figures,
// holdings, declarations, a batch item's request and its change list) is
// sealed (schema.hpp) and bound to its row. Internally locked (one
// connection).
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
  static Result<std::unique_ptr<PostgresqlReviewStore>> open(const std::string& conninfo,
                                                             const crypto::SecretKey& key);

  Status record(const ReviewRecord& r) override;
  Status record_pending(const ReviewRecord& r) override;
  Status mark_issued(const std::string& verification_id) override;
  Status drop_pending(const std::string& verification_id) override;
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

 private:
  PostgresqlReviewStore(std::unique_ptr<storage::PostgresqlDb> db, const crypto::SecretKey& key)
      : db_(std::move(db)), key_(key) {}
  Status insert_review(const ReviewRecord& r, bool issued);
  Result<std::vector<ReviewRecord>> query_reviews(const std::string& where,
                                                  const std::vector<storage::PgValue>& params,
                                                  bool with_members = true);
  Result<std::vector<BatchRow>> query_batches(const std::string& where,
                                              const std::vector<storage::PgValue>& params);
  std::mutex mutex_;
  std::unique_ptr<storage::PostgresqlDb> db_;
  crypto::SecretKey key_;
};

}  // namespace hfv::broker
