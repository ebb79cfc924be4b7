#include "broker/verification/report_signature.hpp"

#include "crypto/hash.hpp"

namespace hfv::broker {

using nlohmann::json;

std::string key_id(const crypto::Ed25519PublicKey& key) {
  return crypto::to_hex(crypto::sha256(std::span<const std::uint8_t>(key))).substr(0, 16);
}

std::string canonical_report(const json& report) {
  json copy = report;
  copy.erase("signature");
  return copy.dump(-1, ' ', false, json::error_handler_t::strict);
}

void sign_report(json& report, const crypto::Ed25519Signer& signer) {
  const auto signature = signer.sign(canonical_report(report));
  report["signature"] = {{"alg", "Ed25519"},
                         {"key_id", key_id(signer.public_key())},
                         {"value", crypto::to_hex(signature)}};
}

bool verify_report_signature(const json& report, const crypto::Ed25519PublicKey& key) {
  if (!report.is_object() || !report.contains("signature") || !report["signature"].is_object()) return false;
  const auto& sig = report["signature"];
  if (sig.value("alg", "") != "Ed25519" || !sig.contains("value") || !sig["value"].is_string()) return false;
  auto bytes = crypto::from_hex(sig["value"].get<std::string>());
  if (!bytes || bytes->size() != 64) return false;
  return crypto::ed25519_verify(key, canonical_report(report), *bytes);
}

}  // namespace hfv::broker
