// ReportStore: verifications and their final answers, in the encrypted state
// database. It backs asynchronous verifications (GET /v1/verifications/{id}),
// idempotency (the same Idempotency-Key from the same principal returns the
// same answer) and fair use (a repeat of the same household within the
// configured window returns the earlier report). A verification belongs to
// the principal that started it; others cannot see it.
//
// Calls block on disk: call them off the I/O threads. Internally locked.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.hpp"
#include "storage/sqlcipher_db.hpp"

namespace hfv::broker {

struct StoredVerification {
  std::string id;
  std::string principal;
  std::string idempotency_key;  // may be empty
  std::string request_sha256;   // of the request body
  std::string household_key;    // keyed digest of members + programme + place + date
  std::string state;            // running | done | interrupted | cancelled
  long http_status = 0;         // final status when done
  std::string response;         // final body (JSON) when done
  std::int64_t created_unix = 0;
};

class ReportStore {
 public:
  // Opens the store; verifications left "running" by a previous process are
  // marked "interrupted" (their callers must submit again).
  static Result<std::unique_ptr<ReportStore>> open(const std::filesystem::path& path,
                                                   const crypto::SecretKey& key);
  Status insert_running(const StoredVerification& v);
  Status finish(const std::string& id, long http_status, const std::string& response);
  // The caller disconnected and no report was issued: the row stays (GET
  // answers 410) but lets go of its Idempotency-Key, so the caller's retry
  // with the same key runs a new verification instead of replaying nothing.
  Status cancel(const std::string& id);
  Result<std::optional<StoredVerification>> find(const std::string& id, const std::string& principal);
  Result<std::optional<StoredVerification>> find_by_key(const std::string& principal, const std::string& key);
  // The newest completed (200) verification of this household by this
  // principal created at or after `since_unix`.
  Result<std::optional<StoredVerification>> latest_done(const std::string& principal,
                                                        const std::string& household_key,
                                                        std::int64_t since_unix);

 private:
  explicit ReportStore(std::unique_ptr<storage::SqlcipherDb> db) : db_(std::move(db)) {}
  Result<std::optional<StoredVerification>> query_one(const std::string& sql,
                                                      std::initializer_list<std::string> text_args,
                                                      std::optional<std::int64_t> int_arg = std::nullopt);
  std::mutex mutex_;
  std::unique_ptr<storage::SqlcipherDb> db_;
};

}  // namespace hfv::broker
