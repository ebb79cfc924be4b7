// Full check of a verifiable log's database (audit/verifiable_log.hpp),
// as `brokerctl audit verify` and GET /v1/audit/verify run it: on SQLCipher,
// first every page of the file and of its WAL authenticated, then SQLite's
// integrity_check (storage/page_check.hpp); then, in order of
// sequence number, each row present, its stored leaf hash equal to the hash
// of its envelope, its contents as the personality expects (LeafCheck);
// every stored signed head's signature and root; the anchor. Reports the
// smallest bad sequence number and the first bad page
// (docs/audit-log-format.md, "Verification"). On PostgreSQL the page check
// does not apply (PostgreSQL has data checksums of its own) and the report
// says so.
//
// The generic part never parses an envelope: whether the index columns and
// the personal blob agree with it is the personality's LeafCheck.
// Thread-safety: a pure function over files or a database; it opens its
// own read connection, so it may run beside the writer, on any thread but an I/O one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "audit/log_connection.hpp"
#include "audit/log_store.hpp"
#include "audit/merkle.hpp"
#include "audit/tree_head.hpp"
#include "storage/page_check.hpp"
#include "common/result.hpp"
#include "crypto/keys.hpp"

namespace hfv::audit {

// Result of a full check. `ok` false names the first bad sequence number,
// the first bad page, or both.
struct ChainReport {
  bool ok = true;  // records, heads, anchor and (SQLCipher) pages all good
  std::int64_t records = 0;
  std::int64_t first_bad_seq = 0;  // 0 when ok
  std::string problem;             // empty when ok
  std::string head_hash;           // hex Merkle root over all records (empty root for none)
  std::int64_t heads_checked = 0;
  bool anchor_checked = false;
  std::optional<SignedTreeHead> latest_head;
  // SQLCipher: every page of the file (and WAL) authenticated; `problem`
  // above is the records' problem when there is one, else the pages'.
  // nullopt on PostgreSQL: the page check does not apply.
  std::optional<storage::PageCheckReport> pages;
};

// The personality's check of a row whose leaf hash matches its envelope:
// empty when the row is good, else what is wrong (reported at row.seq).
// Called in order of seq until the first bad row.
using LeafCheck = std::function<std::string(const LeafRow& row)>;

// Checks the log at `where` (opened read-only with the keyring's keys,
// never promoting a half-rotated key; on PostgreSQL, one snapshot).
// `anchor_file` may be empty: no anchor.
Result<ChainReport> verify_log_at(const LogLocation& where, const crypto::SecretKey& kek,
                                  const std::filesystem::path& anchor_file,
                                  const LogSchema& schema, const LeafCheck& check);
// The Merkle root of the log's first `size` records (RFC 6962, recomputed
// from the stored leaf hashes): how `brokerctl audit verify` checks that a
// checkpoint a witness cosigned is one this log can prove. Error
// "not_found" when the log holds fewer records.
Result<merkle::Hash> root_at_size(const LogLocation& where, const crypto::SecretKey& kek,
                                  const LogSchema& schema, std::uint64_t size);
// The same for an SQLCipher file.
Result<ChainReport> verify_log_file(const std::filesystem::path& db, const crypto::SecretKey& kek,
                                    const std::filesystem::path& anchor_file,
                                    const LogSchema& schema, const LeafCheck& check);

}  // namespace hfv::audit
