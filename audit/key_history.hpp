// The history of the audit log's signing keys (issue 22, key lifecycle):
// when the Ed25519 key that signs tree heads, checkpoints and exports is
// rotated (`brokerctl audit rotate-key --signing-key`), the log records a
// key transition — a cross-signed head: the statement
//   "hfv-audit-key-transition/v1\n<origin>\n<tree size N>\n<root hex>\n"
//   "<old key id>\n<new key id>\n<new public key hex>\n<timestamp>\n"
// signed by BOTH the retiring key and its successor. Heads of up to N
// records verify under the old key, heads from N on under the new one,
// and a verifier who trusts only the log's first key (audit.public_key)
// walks the chain of transitions to the current key: a transition that the
// key before it did not sign is refused, so nobody can introduce a key
// without the log's key of the time. Retired seeds are wiped; only their
// public keys stay. Format: docs/audit-log-format.md, "Signing-key rotation".
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "audit/merkle.hpp"
#include "audit/tree_head.hpp"
#include "common/result.hpp"
#include "crypto/ed25519.hpp"

namespace hfv::audit {

inline constexpr std::string_view kKeyTransitionFormat = "hfv-audit-key-transition/v1";
inline constexpr std::string_view kKeyHistoryFormat = "hfv-audit-key-history/v1";

struct KeyTransition {
  std::string origin;           // the log's checkpoint origin (unchanged by rotation)
  std::uint64_t tree_size = 0;  // N: the old key signs heads up to N, the new one from N
  merkle::Hash root{};          // the Merkle root of the first N records
  std::string timestamp;        // UTC RFC 3339 with milliseconds
  crypto::Ed25519PublicKey old_key{};
  crypto::Ed25519PublicKey new_key{};
  crypto::Ed25519Signature old_signature{};
  crypto::Ed25519Signature new_signature{};
};

// The signed statement (above).
std::string key_transition_message(const KeyTransition& transition);
KeyTransition sign_key_transition(const crypto::Ed25519Signer& old_signer,
                                  const crypto::Ed25519Signer& new_signer, std::string origin,
                                  std::uint64_t tree_size, const merkle::Hash& root,
                                  std::string timestamp);
// Both signatures over the statement.
bool verify_key_transition(const KeyTransition& transition);

nlohmann::json key_transition_json(const KeyTransition& transition);
// Error "bad_transition" when fields are missing or malformed (signatures
// are not checked here).
Result<KeyTransition> key_transition_from_json(const nlohmann::json& j);

// A chain of keys: the first, then one per transition.
struct KeyHistory {
  crypto::Ed25519PublicKey first{};
  std::vector<KeyTransition> transitions;

  const crypto::Ed25519PublicKey& current() const {
    return transitions.empty() ? first : transitions.back().new_key;
  }
  // Every key, oldest first.
  std::vector<crypto::Ed25519PublicKey> keys() const;
  // Whether `head` is signed by the key of the chain that was signing at
  // its tree size: key i (0 = first) for sizes in [N_i, N_{i+1}], where
  // N_0 = 0 and the last key has no upper bound.
  bool verifies(const SignedTreeHead& head) const;
};

// The chain checked from `history.first`: each transition's old key the key
// before it, both its signatures good, sizes never decreasing, one origin.
// Error "bad_transition" naming the first bad one.
Status check_key_history(const KeyHistory& history);

// The part of a chain that starts at `trusted` (the first key, or a later
// one a verifier pinned), checked as check_key_history does. Error
// "untrusted_key" when `trusted` is none of the chain's keys,
// "bad_transition" when the chain does not hold from it.
Result<KeyHistory> key_history_from(const crypto::Ed25519PublicKey& trusted,
                                    const KeyHistory& chain);

// The published history: {"format": "hfv-audit-key-history/v1",
//   "first_key": hex, "first_key_id": ..., "current_key": hex,
//   "current_key_id": ..., "transitions": [...]}.
nlohmann::json key_history_json(const KeyHistory& history);
// Parsed and checked (check_key_history). Error "bad_history" when
// malformed, "bad_transition" when the chain does not hold.
Result<KeyHistory> key_history_from_json(const nlohmann::json& j);
// The "transitions" array alone (the keyring's and an export's copy).
nlohmann::json key_transitions_json(const std::vector<KeyTransition>& transitions);
Result<std::vector<KeyTransition>> key_transitions_from_json(const nlohmann::json& j);

}  // namespace hfv::audit
