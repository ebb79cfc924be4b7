// The embedded (SQLCipher) ReportStore: table `verifications` in the
// encrypted state database, with the input archive (`verification_inputs`)
// and the policy files reports name (`policy_versions`). Internally locked;
// the writes started with start_* go through a WriteGroup (its thread
// "hfv-state-db"), the other calls on the caller's thread.
#pragma once

#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>

#include "broker/store/report_store.hpp"
#include "storage/sqlcipher_db.hpp"
#include "storage/write_group.hpp"

namespace hfv::broker {

class SqlcipherReportStore final : public ReportStore {
 public:
  // Opens the store; verifications left "running" are marked "interrupted".
  static Result<std::unique_ptr<SqlcipherReportStore>> open(const std::filesystem::path& path,
                                                            const crypto::SecretKey& key);
  Status insert_running(const StoredVerification& v) override;
  Status finish(const std::string& id, long http_status, const std::string& response) override;
  Status finish_issued(const std::string& id, const std::string& report, const ArchivedInputs& inputs) override;
  void drain_started_writes() override { writes_->drain(); }
  BlockingCall<Status> start_insert_running(const WriteStart& at, StoredVerification v) override;
  BlockingCall<Status> start_finish_issued(const WriteStart& at, std::string id, std::string report,
                                           ArchivedInputs inputs) override;
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
  explicit SqlcipherReportStore(std::unique_ptr<storage::SqlcipherDb> db)
      : db_(std::move(db)), writes_(std::make_unique<storage::WriteGroup>(*db_, mutex_, "hfv-state-db")) {}
  Status insert_running_locked(const StoredVerification& v);  // mutex_ held
  // The report and its archive (mutex_ held, inside a transaction).
  Status issue_locked(const std::string& id, const std::string& report, const ArchivedInputs& inputs);
  // `body` between BEGIN IMMEDIATE and COMMIT, rolled back when it fails (mutex_ held).
  Status in_transaction(const std::function<Status()>& body);
  Result<std::optional<StoredVerification>> query_one(
      const std::string& sql, std::initializer_list<std::string> text_args,
      std::optional<std::int64_t> int_arg = std::nullopt);
  std::mutex mutex_;
  std::unique_ptr<storage::SqlcipherDb> db_;
  std::unique_ptr<storage::WriteGroup> writes_;  // destroyed first: it writes through db_
};

}  // namespace hfv::broker
