// AuditLog: the broker's append-only access log in an SQLCipher database.
//
// Every record is chained to the one before it: hash = SHA-256("hfv-audit/v1"
// || prev_hash || body), where body is the record's canonical JSON (sorted
// keys, including its sequence number and UTC timestamp). Editing, removing
// or reordering a row breaks the chain from that row on. The format is
// specified in docs/audit-log-format.md.
//
// Durability: append() completes only after the records are committed with
// synchronous=FULL (fsync'd WAL). Appends from many coroutines are gathered
// by one writer thread into shared transactions (group commit), so they share
// one fsync. If the database cannot be written, append() reports an error and
// the caller must not go on to query anyone.
//
// Threading: append() may be awaited from any io_context thread; the writer
// thread owns the write connection. verify() and read() open their own
// read connection and may run on any thread.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/sqlcipher_db.hpp"
#include "common/result.hpp"
#include "crypto/keys.hpp"

namespace hfv::audit {

// What a caller records. Fields that do not apply stay empty. Never put a
// raw ID number here: members are recorded by their keyed pseudonym.
struct AuditRecord {
  std::string action;            // e.g. "verification.request", "agency.query", "request.refused"
  std::string principal;         // client certificate subject
  std::string operator_id;       // individual operator, as sent by the case system
  std::string centre;            // the principal's jurisdiction(s)
  std::string request_id;        // verification id
  std::string case_id;
  std::string authorization_id;
  std::string programme;
  std::string jurisdiction;
  std::string member;            // member pseudonym (hex HMAC), never the ID number
  std::string source;            // agency
  std::string status;            // accepted | refused | ok | not_found | timeout | error | ...
  std::string outcome;           // eligible | ineligible | indeterminate
  std::int64_t latency_ms = -1;  // -1: not applicable
  std::string digest;            // hex SHA-256 of the agency answer or report
  std::string detail;            // short non-personal explanation
};

struct StoredRecord {
  std::int64_t seq = 0;
  std::string ts;         // UTC RFC 3339 with milliseconds
  std::string body;       // canonical JSON
  std::string prev_hash;  // hex
  std::string hash;       // hex
};

struct ChainReport {
  bool ok = true;
  std::int64_t records = 0;
  std::int64_t first_bad_seq = 0;  // 0 when ok
  std::string problem;             // empty when ok
  std::string head_hash;           // hash of the last record ("" for an empty log)
};

// Canonical JSON body of a record as stored and hashed.
std::string canonical_body(const AuditRecord& record, std::int64_t seq, const std::string& ts);
std::string chain_hash(const std::string& prev_hash_hex, const std::string& body);

class AuditLog {
 public:
  // Opens or creates the log at `path` with the database key `key`.
  static Result<std::unique_ptr<AuditLog>> open(const std::filesystem::path& path,
                                                const crypto::SecretKey& key);
  ~AuditLog();  // flushes pending appends, stops the writer
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends the records (in order, consecutively) and returns the sequence
  // number of the first, once they are durable.
  boost::asio::awaitable<Result<std::int64_t>> append(std::vector<AuditRecord> records);
  // Blocking variant for start-up, command-line tools and tests. Must not be
  // called from an io_context thread.
  Result<std::int64_t> append_blocking(std::vector<AuditRecord> records);

  // Walks the whole chain (own read connection).
  Result<ChainReport> verify() const;
  // Records with seq >= from_seq, at most `limit`.
  Result<std::vector<StoredRecord>> read(std::int64_t from_seq, std::int64_t limit) const;

  // Appends committed so far (for metrics and tests).
  std::int64_t last_seq() const;

 private:
  struct Pending;
  AuditLog(std::filesystem::path path, crypto::SecretKey key, std::unique_ptr<SqlcipherDb> db);
  void submit(Pending* pending);
  void writer_loop();
  Status write_batch(std::vector<Pending*>& batch);

  std::filesystem::path path_;
  crypto::SecretKey key_;
  std::unique_ptr<SqlcipherDb> db_;  // writer thread only, after construction
  std::int64_t next_seq_ = 1;        // writer thread only
  std::string head_hash_;            // writer thread only

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending*> queue_;
  bool stopping_ = false;
  std::int64_t committed_seq_ = 0;
  std::thread writer_;
};

}  // namespace hfv::audit
