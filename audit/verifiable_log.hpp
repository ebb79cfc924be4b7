// VerifiableLog: a generic append-only log of opaque leaves in an SQLCipher
// database — RFC 6962 Merkle tree, signed tree heads and an anchor file,
// wrapped keys with rotation, erasable personal blobs. A "personality" on
// top decides what an entry contains: the broker's is AuditLog
// (audit/audit_log.hpp), format hfv-audit/v2 (docs/audit-log-format.md).
//
// What it stores (audit/log_store.hpp): per entry, the leaf data
// (`envelope`, whose hash is the Merkle leaf), an optional `personal` blob
// the personality commits to inside the envelope (so retention can erase it
// while every leaf, root and proof still verifies), and the index columns
// the personality declares in its LogSchema. It never parses an envelope:
// the personality encodes entries (LeafBatch), checks them during
// verification (LeafCheck) and filters on its columns (ColumnCondition).
//
// Storage (audit/log_connection.hpp): an SQLCipher file under a random
// 256-bit database key kept wrapped in the keyring beside it
// (audit/keyring.hpp), one process at a time writing (an flock on
// `<db>.lock`); or a PostgreSQL database shared by several writers, the
// keyring in a table. open() takes the key-encryption key.
//
// Promises: sequence numbers start at 1, without gaps. append() completes
// only after its entries are committed with synchronous=FULL (fsync'd WAL);
// one writer thread gathers concurrent appends into shared transactions
// (group commit), each append's entries consecutive and in order. A head is
// signed at least every `head_interval` while entries arrive and when the
// log closes, stored, written to the anchor file and passed to on_head.
// open() refuses a database whose tree is smaller than, or inconsistent
// with, the anchored head (rollback), or whose anchor has gone (a file log
// only: a broker that joins a shared log has no anchor before its first
// head, and the other brokers' anchors guard the log).
//
// Threading: append() may be awaited from any io_context thread,
// append_blocking() called from any other thread. The writer thread owns the
// write connection and is the one that calls LeafBatch::encode, on_head,
// on_append and personal_cutoff. Readers (query, proofs, export, verify) open
// their own read connection, block, and may run on any thread but an I/O one.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/keyring.hpp"
#include "audit/log_connection.hpp"
#include "audit/log_store.hpp"
#include "audit/log_verification.hpp"
#include "audit/merkle.hpp"
#include "audit/tree_head.hpp"
#include "common/result.hpp"
#include "crypto/keys.hpp"
#include "storage/sqlcipher_db.hpp"

namespace hfv::audit {

struct LogOptions {
  std::filesystem::path anchor_file;  // empty: no anchor
  std::chrono::milliseconds head_interval{1000};
  std::function<void(const SignedTreeHead&)> on_head;  // on the writer thread
  // Once per append, after its entries are durable (ok) or failed, with the
  // time since submission (queueing, group commit, fsync). Writer thread.
  std::function<void(std::chrono::steady_clock::duration elapsed, bool ok)> on_append;
  // Retention: at open and then hourly, the writer erases the personal blob
  // (and personal columns) of entries whose ts is before the timestamp this
  // returns. Empty: nothing is ever erased by the writer.
  std::function<std::string()> personal_cutoff;
};

// Entries to append, consecutively: `count` of them. Once the writer has
// given the i-th its sequence number and timestamp (UTC RFC 3339 with
// milliseconds), it calls encode(i, seq, ts), on the writer thread, once.
// `may_wait`: how long the writer may hold the entries back for other
// appends to share their transaction (each transaction rewrites the last,
// partly filled pages of the table and its indexes, so one of several
// appends writes fewer bytes than several of one each: about a fifth fewer
// in a batch, docs/performance.md). Zero (the default): committed as soon
// as the writer is free, with whatever else is waiting then. Appends nobody
// waits on in person use it (a batch's households); any append due now
// takes every waiting one along.
struct LeafBatch {
  std::size_t count = 0;
  std::function<Leaf(std::size_t index, std::int64_t seq, const std::string& ts)> encode;
  std::chrono::milliseconds may_wait{0};
};

struct InclusionProof {
  std::int64_t seq = 0;
  merkle::Hash leaf_hash{};
  std::vector<merkle::Hash> path;
  SignedTreeHead head;
};

struct ConsistencyProof {
  SignedTreeHead first, second;
  std::vector<merkle::Hash> path;
};

class VerifiableLog {
 public:
  // Opens or creates the log at `path` for writing. `kek` unwraps the
  // keyring. Error codes: "bad_key" (wrong KEK, or not a log database),
  // "locked" (open elsewhere), "rollback_detected", "anchor_missing",
  // "bad_anchor", "unsupported_format" (not schema.format), "io_error".
  static Result<std::unique_ptr<VerifiableLog>> open(const std::filesystem::path& path,
                                                     const crypto::SecretKey& kek, LogSchema schema,
                                                     LogOptions options);
  // The same at a location that may be a PostgreSQL database shared by
  // several writers (audit/postgresql_log.hpp): there, each group commit
  // first takes in what other writers appended, and "locked" never occurs.
  static Result<std::unique_ptr<VerifiableLog>> open(const LogLocation& where,
                                                     const crypto::SecretKey& kek, LogSchema schema,
                                                     LogOptions options);
  ~VerifiableLog();  // flushes pending appends, signs a final head, stops the writer
  VerifiableLog(const VerifiableLog&) = delete;
  VerifiableLog& operator=(const VerifiableLog&) = delete;

  // Appends the entries and returns the sequence number of the first (for
  // an empty batch, that of the next entry), once they are durable.
  boost::asio::awaitable<Result<std::int64_t>> append(LeafBatch batch);
  // Blocking variant; must not be called from an io_context thread.
  Result<std::int64_t> append_blocking(LeafBatch batch);

  // Full check of the file (audit/log_verification.hpp) with this log's
  // anchor; `check` is the personality's check of each row.
  Result<ChainReport> verify(const LeafCheck& check) const;

  // Entries with seq > after_seq matching every condition, oldest first, at
  // most `limit`. Error "bad_query" for a column the schema does not have.
  Result<std::vector<StoredLeaf>> query(const std::vector<ColumnCondition>& conditions,
                                        std::int64_t after_seq, std::int64_t limit) const;

  // Signs a head covering every committed entry now (blocking; no-op if the
  // latest head already covers them) and returns the latest head. Error
  // "empty" when the log has no entry yet.
  Result<SignedTreeHead> publish_head();
  std::optional<SignedTreeHead> latest_head() const;
  // `head` as a C2SP checkpoint note (audit/checkpoint.hpp) with the origin
  // line `origin`, signed with the log's key under that name, for
  // witnesses. Only for a head this log signed (error "bad_tree_head"
  // otherwise) and a valid origin (error "bad_origin"). Any thread.
  Result<std::string> checkpoint_note(const std::string& origin, const SignedTreeHead& head) const;
  // Proof that entry `seq` is in the tree of the signed head with
  // `tree_size` (0: the latest head). Error "not_found" when seq is not
  // covered by that head, or no head has that size.
  Result<InclusionProof> inclusion_proof(std::int64_t seq, std::int64_t tree_size = 0) const;
  // Proof that the signed head of size `first` is a prefix of that of
  // `second` (0: the latest). Both must be stored heads.
  Result<ConsistencyProof> consistency_proof(std::int64_t first, std::int64_t second = 0) const;
  // Signed NDJSON export (hfv-audit-export/v1, docs/audit-log-format.md) of
  // entries [from_seq, to_seq] against the latest head. Entries whose
  // envelope `visible` rejects are withheld: only their leaf hash is
  // exported, so the range still verifies.
  // With `rekey_personal` (hfv-audit-export/v2): each exported personal
  // part is given to it, and a part it returns instead is exported in its
  // place, marked "personal_rekeyed" (it no longer matches the envelope's
  // commitment; the export's signature vouches for it).
  Result<std::string> export_ndjson(
      std::int64_t from_seq, std::int64_t to_seq, const std::function<bool(const std::string&)>& visible,
      const std::function<std::optional<std::string>(const std::string&)>& rekey_personal = {}) const;

  // Erases the personal blob and personal columns of entries older than
  // `cutoff_ts` (blocking, runs on the writer). Returns how many were erased.
  Result<std::int64_t> erase_personal_before(const std::string& cutoff_ts);

  // The key that signs now, and the chain to it from the log's first key
  // (its identity, which audit.public_key pins and the default origin is
  // derived from): the same key until the signing key is rotated.
  const crypto::Ed25519PublicKey& public_key() const { return keyring_.public_key; }
  crypto::Ed25519PublicKey first_public_key() const { return keyring_.history.first; }
  const KeyHistory& key_history() const { return keyring_.history; }
  // Entries committed so far (for metrics and tests).
  std::int64_t last_seq() const;

  // Re-keys the database with a fresh random data key (the log must not be
  // open anywhere). Safe against a crash at any point: see keyring.hpp.
  static Status rotate_data_key(const std::filesystem::path& path, const crypto::SecretKey& kek,
                                const LogSchema& schema);
  // Re-wraps the keyring under `new_kek` (master-key rotation).
  static Status rewrap_keyring(const std::filesystem::path& path, const crypto::SecretKey& old_kek,
                               const crypto::SecretKey& new_kek);
  // The same at any location. A PostgreSQL log's data key cannot be
  // rotated yet (error "unsupported": every sealed row would be re-sealed).
  static Status rotate_data_key(const LogLocation& where, const crypto::SecretKey& kek,
                                const LogSchema& schema);
  static Status rewrap_keyring(const LogLocation& where, const crypto::SecretKey& old_kek,
                               const crypto::SecretKey& new_kek);
  // The log's identity key (its FIRST signing key, which audit.public_key
  // pins): from the keyring file (no KEK needed), or read with `kek` from
  // PostgreSQL. key_history_at: the whole chain of signing keys, checked.
  static Result<crypto::Ed25519PublicKey> public_key_at(const LogLocation& where,
                                                        const crypto::SecretKey& kek,
                                                        const LogSchema& schema);
  static Result<KeyHistory> key_history_at(const LogLocation& where, const crypto::SecretKey& kek,
                                           const LogSchema& schema);
  // Rotates the signing key (the log must not be open anywhere: SQLCipher
  // takes the writer's lock, error "locked"; PostgreSQL: every broker
  // stopped). The keyring gains a fresh seed and the transition the old and
  // the new key cross-sign at the log's current tree, under `origin` (the
  // log's checkpoint origin, which stays). One atomic keyring replacement
  // (file) or one transaction (PostgreSQL). Error "bad_origin".
  static Result<KeyTransition> rotate_signing_key(const LogLocation& where,
                                                  const crypto::SecretKey& kek,
                                                  const LogSchema& schema, const std::string& origin);

 protected:
  // For a personality that is itself a log (AuditLog derives privately):
  // an unopened log, which start() then opens as open() does, with the same
  // errors. Call start() once; the writer thread runs from its success to
  // the destructor, so a derived class must not give it anything that dies
  // before this base (LeafBatch, LogOptions and LeafCheck own what they use).
  VerifiableLog() = default;
  Status start(const LogLocation& where, const crypto::SecretKey& kek, LogSchema schema,
               LogOptions options);

 private:
  struct Pending;
  void submit(Pending* pending);
  void writer_loop();
  // Under mutex_: waits until there is work: true when the waiting appends
  // are to be written now (one of them is due, there are kEnoughEntries, or
  // the log is stopping); false for a job or `next_head` alone.
  bool wait_for_work(std::unique_lock<std::mutex>& lock,
                     std::chrono::steady_clock::time_point next_head);
  Status write_batch(std::vector<Pending*>& batch);
  void make_head();
  void run_retention();
  // Runs `job` on the writer thread and waits for it.
  void run_on_writer(std::function<void()> job);
  // A read connection of its own, for one reader call.
  Result<std::unique_ptr<LogConnection>> open_reader() const;

  LogLocation where_;
  crypto::SecretKey kek_;
  LogSchema schema_;
  Keyring keyring_;
  LogOptions options_;
  std::unique_ptr<LogConnection> db_;  // writer thread only, after construction
  merkle::CompactTree tree_;           // writer thread only: every entry committed so far
  std::chrono::steady_clock::time_point next_retention_{};  // writer thread only

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending*> queue_;
  std::size_t queued_entries_ = 0;  // the entries of queue_'s appends
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::int64_t committed_seq_ = 0;
  std::optional<SignedTreeHead> latest_head_;
  std::thread writer_;
};

}  // namespace hfv::audit
