// A verifiable log in PostgreSQL (issue 15): one log for every broker of a
// cluster. Tables (created under an advisory lock, docs/audit-log-format.md):
//   audit_meta(key, value)            'format' = LogSchema::format
//   audit_keyring(id = 1, keyring)    the keyring document (audit/keyring.hpp),
//                                     sealed under the KEK like the file
//   audit_records(seq, ts, <index columns>, envelope, personal, leaf_hash)
//   audit_heads(tree_size, ts, root, key_id, signature)
//
// PostgreSQL does not encrypt at rest, so the log does: `envelope` and
// `personal` are AES-256-GCM boxes (hex) under a key derived from the
// keyring's data key, bound to the table, the field and the row's seq (a
// box moved to another row does not open); personal index columns hold
// keyed pseudonyms (HMAC-SHA256 under another derived key) so equality
// lookups still work. What stays clear: seq, ts, the non-personal index
// columns (action, principal, jurisdiction, source, outcome), leaf hashes
// and signed heads. A database administrator reads no ID number, name,
// amount, operator, case or request id; what they change is caught by
// verification (a box that does not open, a column that is not the sealed
// record's, a missing seq, a head or anchor the rows no longer match).
//
// Appends from several brokers are serialised in the database: each
// group commit takes a transaction-scoped advisory lock, reads the log's
// size (entries other brokers appended are reported to the writer, which
// adds their leaf hashes to its tree) and inserts its rows in one
// statement. Sessions run with synchronous_commit at least "on", so a
// commit returns once a synchronous standby (when configured) has the WAL.
// Readers see one snapshot (REPEATABLE READ, read only) per connection.
#pragma once

#include <memory>
#include <string>

#include "audit/keyring.hpp"
#include "audit/log_connection.hpp"
#include "audit/log_store.hpp"
#include "common/result.hpp"
#include "crypto/keys.hpp"

namespace hfv::audit {

// `create`: the writer's connection, which creates the tables and the
// keyring when missing; otherwise a read-only check connection on a
// snapshot (error "not_found" when there is no log). Error "bad_key" for a
// keyring another master key wraps, "unsupported_format" for another
// format, "db_unavailable" when no server answers.
Result<std::unique_ptr<LogConnection>> open_postgresql_log(const std::string& conninfo,
                                                           const crypto::SecretKey& kek,
                                                           const LogSchema& schema, bool create,
                                                           Keyring& out);
// Master-key rotation: the keyring row re-sealed under `new_kek`, in one
// transaction (error "bad_key" when `old_kek` does not open it).
Status rewrap_postgresql_keyring(const std::string& conninfo, const crypto::SecretKey& old_kek,
                                 const crypto::SecretKey& new_kek);
// Signing-key rotation (keyring.hpp): in one transaction under the keyring
// and append locks, the keyring row gains a new signing seed and the
// transition cross-signed at the log's current tree. Every broker of the
// cluster must be stopped: one still running would go on signing with the
// retired key, and its heads would no longer verify.
Result<KeyTransition> rotate_postgresql_signing_key(const std::string& conninfo,
                                                    const crypto::SecretKey& kek,
                                                    const std::string& origin,
                                                    const std::string& timestamp);
// A reader with the keys of an opened log (one snapshot).
Result<std::unique_ptr<LogConnection>> open_postgresql_log_reader(const std::string& conninfo,
                                                                  const Keyring& keyring,
                                                                  const LogSchema& schema);

}  // namespace hfv::audit
