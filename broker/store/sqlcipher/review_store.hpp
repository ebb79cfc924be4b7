// The embedded (SQLCipher) ReviewStore: its own encrypted database (its
// random raw key in the review keyring, broker/store/store_keys.hpp).
// Internally locked; the writes started with start_* go through a
// WriteGroup (its thread "hfv-review-db").
#pragma once

#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>

#include "broker/store/review_store.hpp"
#include "storage/sqlcipher_db.hpp"
#include "storage/write_group.hpp"

namespace hfv::broker {

// Legacy: the key derived from the master key before the review keyring;
// read only to re-encrypt an existing database (store_keys.hpp).
inline constexpr std::string_view kPurposeReviewDb = "hfv/review-db/v1";

class SqlcipherReviewStore final : public ReviewStore {
 public:
  static Result<std::unique_ptr<SqlcipherReviewStore>> open(const std::filesystem::path& path,
                                                            const crypto::SecretKey& key);
  Status record(const ReviewRecord& r) override;
  Status record_pending(const ReviewRecord& r) override;
  Status mark_issued(const std::string& verification_id) override;
  Status drop_pending(const std::string& verification_id) override;
  void drain_started_writes() override { writes_->drain(); }
  BlockingCall<Status> start_record_pending(const WriteStart& at, ReviewRecord r) override;
  BlockingCall<Status> start_mark_issued(const WriteStart& at, std::string verification_id) override;
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
  Status set_batch_state(const std::string& id, BatchState state,
                         std::int64_t finished_unix) override;
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
  explicit SqlcipherReviewStore(std::unique_ptr<storage::SqlcipherDb> db)
      : db_(std::move(db)), writes_(std::make_unique<storage::WriteGroup>(*db_, mutex_, "hfv-review-db")) {}
  Status insert_review(const ReviewRecord& r, bool issued);
  Status insert_review_locked(const ReviewRecord& r, bool issued);  // mutex_ held
  Status mark_issued_locked(const std::string& verification_id);    // mutex_ held
  Result<std::vector<ReviewRecord>> query_reviews(const std::string& where,
                                                  std::initializer_list<std::string> text,
                                                  std::initializer_list<std::int64_t> ints,
                                                  bool with_members = true);
  std::mutex mutex_;
  std::unique_ptr<storage::SqlcipherDb> db_;
  std::map<std::string, std::int64_t> claimed_up_to_;  // batch id -> highest index claimed
  std::unique_ptr<storage::WriteGroup> writes_;  // destroyed first: it writes through db_
};

}  // namespace hfv::broker
