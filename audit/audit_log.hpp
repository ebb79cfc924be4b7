// AuditLog: the broker's append-only access log (format hfv-audit/v2,
// docs/audit-log-format.md): the broker's record "personality" on top of the
// generic verifiable log (audit/verifiable_log.hpp), which owns the
// database, the writer thread, the Merkle tree, signed heads, proofs, keys
// and verification of the file.
//
// What the personality owns: the record (AuditRecord) and how it becomes a
// leaf — a canonical "envelope" JSON (the Merkle leaf data) and a separate
// salted JSON of the personal fields (operator, case, authorisation,
// request, member pseudonym) committed to by its SHA-256 in the envelope,
// so retention can erase them while every leaf, root and proof still
// verifies; the 8 index columns copied from them and the check, during
// verification, that those columns and the personal part match the hashed
// envelope; queries over those columns (AuditQuery); the retention policy
// (retention_days).
//
// An AuditLog is a VerifiableLog whose entries are records: it derives from
// it privately, so that entries can only be appended as records, and
// re-exports the generic operations (heads, proofs, export, erasure, keys)
// unchanged. Their promises — durability and group commit, signed heads and
// the anchor, rollback detection, threading — are documented once, in
// audit/verifiable_log.hpp; a record there is an "entry".
//
// The broker's rule on top: if append() reports an error, the record is not
// durable, and the caller must not go on to query anyone.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/keyring.hpp"
#include "audit/log_connection.hpp"
#include "audit/log_verification.hpp"
#include "audit/merkle.hpp"
#include "audit/tree_head.hpp"
#include "audit/verifiable_log.hpp"
#include "common/result.hpp"
#include "crypto/keys.hpp"
#include "storage/sqlcipher_db.hpp"

namespace hfv::audit {

inline constexpr std::string_view kLogFormat = "hfv-audit/v2";

// What one agency answered about one member (an "agency.answers" record's
// list; docs/audit-log-format.md): non-personal, in the envelope.
struct AgencyAnswer {
  std::string source;            // agency
  std::string status;            // ok | not_found | timeout | error | cancelled | ...
  std::int64_t latency_ms = -1;  // -1: not applicable
  std::string digest;            // hex SHA-256 of the answer
  std::string detail;            // short non-personal explanation
};

// What a caller records. Fields that do not apply stay empty. Never put a
// raw ID number here: members are recorded by their keyed pseudonym.
struct AuditRecord {
  std::string action;            // e.g. "verification.request", "agency.answers", "request.refused"
  std::string principal;         // client certificate subject
  std::string operator_id;       // individual operator, as sent by the case system (personal)
  std::string centre;            // the principal's jurisdiction(s)
  std::string request_id;        // verification id (personal)
  std::string case_id;           // (personal)
  std::string authorization_id;  // (personal)
  std::string programme;
  std::string jurisdiction;
  std::string member;            // member pseudonym (hex HMAC), never the ID number (personal)
  std::string source;            // agency (for "agency.answers": derived, see `answers`)
  std::string status;            // accepted | refused | ok | not_found | timeout | error | ...
  std::string outcome;           // eligible | ineligible | indeterminate
  std::int64_t latency_ms = -1;  // -1: not applicable
  std::string digest;            // hex SHA-256 of the agency answer or report
  std::string detail;            // short non-personal explanation
  // The client certificate the caller acted with (crypto/peer_identity.hpp):
  // lowercase hex SHA-256 of its DER and of its serial number. Envelope
  // fields, absent when empty (records without a connection, older records).
  std::string cert_sha256;
  std::string cert_serial;
  // "agency.answers": one entry per agency asked about `member`, in the
  // order asked. When not empty, the record's written `source` (envelope
  // and the index column the source filter reads) is their names,
  // comma-separated (`sources_of`), whatever `source` holds: the list is
  // the one truth. Absent from the envelope when empty (every other action).
  std::vector<AgencyAnswer> answers;
};

// The `source` of a record carrying `answers`: their sources, comma-separated.
std::string sources_of(const std::vector<AgencyAnswer>& answers);

// The `source` a record is written with: `sources_of(answers)` when it
// carries answers, else `source`.
std::string written_source(const AuditRecord& record);

struct StoredRecord {
  std::int64_t seq = 0;
  std::string ts;         // UTC RFC 3339 with milliseconds
  std::string body;       // envelope and personal fields merged into one JSON object (a view)
  std::string envelope;   // canonical JSON, the Merkle leaf data
  std::string personal;   // canonical JSON; empty once erased by retention
  std::string leaf_hash;  // hex
};

// ChainReport (the result of verify) is in audit/log_verification.hpp.

// What AuditLog::open takes: the generic log's options (LogOptions, in
// audit/verifiable_log.hpp: on_append is the audit-append latency metric),
// with a retention period in place of a cutoff function.
struct AuditLogOptions {
  std::filesystem::path anchor_file;  // empty: no anchor
  std::chrono::milliseconds head_interval{1000};
  std::function<void(const SignedTreeHead&)> on_head;
  std::function<void(std::chrono::steady_clock::duration elapsed, bool ok)> on_append;
  int retention_days = 0;  // personal fields of older records are erased; 0: kept
};

// Filters for query(); empty strings do not filter.
struct AuditQuery {
  std::string from_ts, to_ts;  // from <= ts < to (RFC 3339 prefixes compare as text)
  std::string principal, operator_id, member, case_id, outcome, action;
  // A record's source, or one of the sources an "agency.answers" record lists.
  std::string source;
  std::vector<std::string> actions;  // any of these (in addition to `action`)
  // Scope: records whose jurisdiction starts with one of these, plus, when
  // unscoped_too, records without a jurisdiction. Empty vector: no scoping.
  std::vector<std::string> jurisdiction_prefixes;
  bool unscoped_too = false;
  std::int64_t after_seq = 0;
  std::int64_t limit = 100;
};

// InclusionProof and ConsistencyProof are in audit/verifiable_log.hpp.

// Canonical JSON of a record's envelope and personal part, as stored. The
// personal part is empty when the record has no personal field. Pure
// functions, any thread.
struct CanonicalRecord {
  std::string envelope;
  std::string personal;
};
// With a fresh random salt in the personal part.
CanonicalRecord canonical_record(const AuditRecord& record, std::int64_t seq,
                                 const std::string& ts);
// With the given salt (lowercase hex), so that tests can compare the bytes.
CanonicalRecord canonical_record(const AuditRecord& record, std::int64_t seq,
                                 const std::string& ts, std::string_view salt_hex);

class AuditLog : private VerifiableLog {
 public:
  // Opens or creates the log at `path` (VerifiableLog::open, with this
  // format). `kek` is crypto::derive_key(master, crypto::kPurposeAuditDb).
  // "bad_key" also means a wrong master key.
  static Result<std::unique_ptr<AuditLog>> open(const std::filesystem::path& path,
                                                const crypto::SecretKey& kek,
                                                AuditLogOptions options = {});
  // The same at a location that may be PostgreSQL (the cluster's one log,
  // shared by every broker: audit/postgresql_log.hpp).
  static Result<std::unique_ptr<AuditLog>> open(const LogLocation& where,
                                                const crypto::SecretKey& kek,
                                                AuditLogOptions options = {});

  // Appends the records (in order, consecutively) and returns the sequence
  // number of the first, once they are durable (VerifiableLog::append).
  // `may_wait`: how long they may be held back to share a transaction with
  // other appends (LeafBatch::may_wait; for appends nobody waits on in person).
  boost::asio::awaitable<Result<std::int64_t>> append(std::vector<AuditRecord> records,
                                                      std::chrono::milliseconds may_wait = {});
  // Blocking variant for start-up, command-line tools and tests. Must not be
  // called from an io_context thread.
  Result<std::int64_t> append_blocking(std::vector<AuditRecord> records);

  // Full check: every record, every stored signed head, the anchor.
  Result<ChainReport> verify() const;
  // The same on a database file without opening it for writing (works on a
  // copy, and beside a running daemon). `anchor_file` may be empty.
  static Result<ChainReport> verify_file(const std::filesystem::path& path,
                                         const crypto::SecretKey& kek,
                                         const std::filesystem::path& anchor_file);
  // The same at any location (on PostgreSQL: one snapshot, beside running
  // brokers).
  static Result<ChainReport> verify_at(const LogLocation& where, const crypto::SecretKey& kek,
                                       const std::filesystem::path& anchor_file);

  // The root of the first `size` records at `where` (root_at_size,
  // log_verification.hpp).
  static Result<merkle::Hash> root_at(const LogLocation& where, const crypto::SecretKey& kek,
                                      std::uint64_t size);

  // Records with seq >= from_seq, at most `limit`.
  Result<std::vector<StoredRecord>> read(std::int64_t from_seq, std::int64_t limit) const;
  Result<std::vector<StoredRecord>> query(const AuditQuery& query) const;
  // Every record matching `query` from its after_seq on, in pages of
  // query.limit, oldest first; stops early when `visit` returns false.
  Status scan(AuditQuery query, const std::function<bool(const StoredRecord&)>& visit) const;

  // The generic log's operations, as audit/verifiable_log.hpp documents them.
  using VerifiableLog::checkpoint_note;
  using VerifiableLog::consistency_proof;
  using VerifiableLog::erase_personal_before;
  // Signed export (hfv-audit-export/v2, VerifiableLog::export_ndjson) with
  // each record's member re-pseudonymised under a fresh random key made for
  // this export and never kept: within the export one person keeps one
  // pseudonym; two exports, or an export and the log, share none. The
  // re-keyed personal part also drops the commitment's salt, so the
  // envelope's personal_sha256 cannot test guesses of the stored pseudonym.
  // `visible` is given each record's envelope JSON. Any thread.
  Result<std::string> export_ndjson(std::int64_t from_seq, std::int64_t to_seq,
                                    const std::function<bool(const std::string&)>& visible) const;
  using VerifiableLog::inclusion_proof;
  using VerifiableLog::last_seq;
  using VerifiableLog::latest_head;
  using VerifiableLog::first_public_key;
  using VerifiableLog::key_history;
  using VerifiableLog::public_key;
  using VerifiableLog::publish_head;
  using VerifiableLog::rewrap_keyring;
  // VerifiableLog::rotate_data_key with this format.
  static Status rotate_data_key(const std::filesystem::path& path, const crypto::SecretKey& kek);
  // At any location (VerifiableLog's: not yet on PostgreSQL), and the
  // public key there (VerifiableLog::public_key_at).
  static Status rotate_data_key(const LogLocation& where, const crypto::SecretKey& kek);
  static Result<crypto::Ed25519PublicKey> public_key_at(const LogLocation& where,
                                                        const crypto::SecretKey& kek);
  // VerifiableLog::key_history_at and rotate_signing_key with this format.
  static Result<KeyHistory> key_history_at(const LogLocation& where, const crypto::SecretKey& kek);
  static Result<KeyTransition> rotate_signing_key(const LogLocation& where, const crypto::SecretKey& kek,
                                                  const std::string& origin);

 private:
  AuditLog() = default;
};

}  // namespace hfv::audit
