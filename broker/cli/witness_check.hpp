// The witness part of `brokerctl audit verify`: the audit log checked
// against what its witnesses (audit.witnesses, broker/app/witness_sender.hpp)
// cosigned. For each witness, the cosigned checkpoint kept in
// `<anchor>.cosigned` (on the postgresql backend: in the cluster's table
// audit_cosigned, which every node writes) and, when the witness answers,
// its latest checkpoint
// for this log's origin (GET <url>/<origin hash>/checkpoint,
// c2sp.org/tlog-witness) must carry the log's signature and the witness's
// cosignature, and be a tree this log holds: no bigger than it, with the
// root of its first records. A witness that has seen a bigger tree (a
// rollback), another root (a fork), another key or nothing at all for this
// origin (a wipe, a new log) fails the check. An unreachable witness is
// reported, not failed: its stored cosignature is still checked.
// Also the daemon's add-checkpoint call (post_add_checkpoint): cli/ is the
// broker's HTTP client side, where answers' status codes are read.
// Thread-safety: blocking functions for the command line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "audit/log_connection.hpp"
#include "broker/ops/config.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/keys.hpp"

namespace hfv::broker {

struct WitnessCheckInput {
  std::string origin;  // the checkpoints' origin line
  crypto::Ed25519PublicKey log_key{};
  // Every signing key of the log's history (audit/key_history.hpp): a
  // checkpoint signed by any of them is the log's. Empty: log_key only.
  std::vector<crypto::Ed25519PublicKey> log_keys;
  audit::LogLocation where;  // the log checked, for its roots
  crypto::SecretKey kek;
  std::uint64_t records = 0;  // how many the log holds
  std::filesystem::path cosigned_file;  // empty: none
  // The postgresql backend: the cosigned checkpoints of table
  // audit_cosigned (broker/store/postgresql/cosigned_store.hpp) are checked
  // instead of the file's. Empty: the file's.
  std::string cosigned_conninfo;
  std::vector<AuditWitness> witnesses;  // configured: cosignatures checked
  std::vector<std::string> extra_urls;  // --witness URL: no key known, log signature and size only
};

struct WitnessCheckResult {
  bool ok = true;
  std::vector<std::string> lines;  // one per finding, "witness <name>: ..."
};

WitnessCheckResult check_witnesses(const WitnessCheckInput& input);

// One tlog-witness add-checkpoint call (the daemon's witness sender,
// broker/app/witness_sender.hpp), its HTTP answer turned into a typed one.
enum class WitnessReply {
  kCosigned,     // 200: `body` holds the cosignature lines
  kConflict,     // 409: `size` is the size the witness last cosigned
  kRefused,      // 400, 403, 404, 422, or a 409 without a size: `reason`
  kUnavailable,  // no answer, or 5xx: `reason`
};
struct WitnessAnswer {
  WitnessReply reply = WitnessReply::kUnavailable;
  long status = 0;  // the HTTP status, for the log; 0: none
  std::string body;
  std::uint64_t size = 0;
  std::string reason;
};
WitnessAnswer post_add_checkpoint(const std::string& witness_url, const std::string& body,
                                  long timeout_seconds);

}  // namespace hfv::broker
