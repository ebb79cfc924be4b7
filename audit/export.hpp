// Offline check of a signed NDJSON export of the audit log (format in
// docs/audit-log-format.md, produced by AuditLog::export_ndjson): the signed
// tree head, every record's inclusion proof against it, the personal fields'
// commitments, sequence contiguity, and the export's own signature. Needs
// only the log's public key. In v2 a record's personal part may be re-keyed
// (the member re-pseudonymised for this export): its commitment cannot be
// checked then, and the export's signature is what vouches for it.
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "audit/tree_head.hpp"
#include "common/result.hpp"
#include "crypto/ed25519.hpp"

namespace hfv::audit {

struct ExportReport {
  bool ok = true;
  std::int64_t records = 0;   // record lines (including withheld ones)
  std::int64_t withheld = 0;  // records outside the exporter's scope: leaf hash only
  std::int64_t rekeyed = 0;   // v2: records whose personal part was re-keyed (checked by the signature only)
  std::int64_t key_transitions = 0;  // signing-key transitions walked from the trusted key
  std::int64_t first_bad_seq = 0;
  std::string problem;
  SignedTreeHead head;
};

// `key` is the trusted key: the log's first (audit.public_key) or a later
// one; an export signed after signing-key rotations carries the transitions
// that lead from it to the export's key (audit/key_history.hpp), and one
// that does not lead there is not ok.
// Error only when the text is not an export at all ("bad_export").
Result<ExportReport> verify_export(std::string_view ndjson, const crypto::Ed25519PublicKey& key);

}  // namespace hfv::audit
