// The configured audit log before the daemon writes to it, and what the
// broker's own state must agree with in it (issue 22, finding 2):
//   - the log is there, under the key the configuration pins: a log wiped
//     (database, keyring and anchor deleted) is never replaced by a new one
//     at start without a word; `brokerctl audit init` (and `brokerd init`)
//     create a log, and print the key to pin;
//   - every revocation the log holds is in force in the consent store: a
//     state database copied back from before a revocation does not bring
//     the authorisation back.
// Off-host witnesses of the log's heads are the other half of the finding
// (docs/security.md).
// Thread-safety: plain functions; they block on disk or network.
#pragma once

#include <cstdint>

#include "audit/audit_log.hpp"
#include "broker/ops/config.hpp"
#include "broker/store/authorization_store.hpp"
#include "common/result.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/keys.hpp"

namespace hfv::broker {

// Whether the configured log may be opened: true when it is there (under
// the pinned key, if one is pinned), false when it is missing and
// audit.create_if_missing allows the daemon to create it. Error codes:
// "audit_log_missing" (missing, and a key is pinned or creation is not
// allowed), "audit_key_mismatch" (the log's key is not the pinned one),
// and those of reading its keyring ("bad_keyring", "bad_key", "io_error").
Result<bool> check_audit_log_presence(const Config& config, const crypto::SecretKey& kek);

// Creates the configured log, its first record `audit.init`, and signs its
// first head into the anchor file. Error "exists" when a log is there
// already (it is never replaced). Returns the log's public key.
Result<crypto::Ed25519PublicKey> init_audit_log(const Config& config, const crypto::SecretKey& kek);

struct ConsentReconciliation {
  std::int64_t revocations = 0;  // authorization.revoke records read
  std::int64_t reapplied = 0;    // of them, not in force in the store until now
};

// Revokes in `store` every authorisation the log records as revoked
// (records whose personal fields retention has erased name none and are
// skipped). `reapplied` above 0 means the state was rolled back.
Result<ConsentReconciliation> reapply_logged_revocations(const audit::AuditLog& log,
                                                         AuthorizationStore& store);

}  // namespace hfv::broker
