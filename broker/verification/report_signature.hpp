// A report's signature: Ed25519 over the report's canonical bytes, with the
// key named by key_id (docs/api.md "Signed reports"). Case systems and
// `brokerctl report verify` check it with the broker's public key.
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "crypto/ed25519.hpp"

namespace hfv::broker {

// The bytes a report's signature covers: the report without its "signature"
// member, serialised by nlohmann::json::dump() (keys sorted, no whitespace).
std::string canonical_report(const nlohmann::json& report);
// Adds "signature": {"alg": "Ed25519", "key_id", "value" (hex)}.
void sign_report(nlohmann::json& report, const crypto::Ed25519Signer& signer);
// Checks a saved report against a public key.
bool verify_report_signature(const nlohmann::json& report, const crypto::Ed25519PublicKey& key);
std::string key_id(const crypto::Ed25519PublicKey& key);

}  // namespace hfv::broker
