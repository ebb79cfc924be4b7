// A report's signature: Ed25519 over exact bytes — the domain prefix
// "hfv-report/v1\n" followed by the report in canonical JSON (RFC 8785,
// JCS: members sorted, no whitespace, UTF-8 as is, integers only) whose
// "signature" member holds alg, format and key_id but not value — with the
// key named by key_id (docs/api.md "Signed reports"). Case systems and
// `brokerctl report verify` check it with the broker's public key.
//
// The same scheme signs a peer broker's answer (docs/cross-region.md) under
// its own format, "hfv-peer-answer/v1", which is also its domain prefix and
// its signature's `format`: an answer never verifies as a report, nor a
// report as an answer.
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "crypto/ed25519.hpp"

namespace hfv::broker {

inline constexpr std::string_view kReportFormat = "hfv-report/v1";
inline constexpr std::string_view kPeerAnswerFormat = "hfv-peer-answer/v1";

// The bytes a report's signature covers (above): the report without
// signature.value, canonical, after the domain prefix.
std::string signed_report_bytes(const nlohmann::json& report, std::string_view format = kReportFormat);
// Adds "signature": {"alg": "Ed25519", "format": "hfv-report/v1", "key_id",
// "value" (hex)}.
void sign_report(nlohmann::json& report, const crypto::Ed25519Signer& signer,
                 std::string_view format = kReportFormat);
// Checks a parsed report against a public key (the broker's own reports,
// in process). A saved report is checked from its text: verify_report_text.
bool verify_report_signature(const nlohmann::json& report, const crypto::Ed25519PublicKey& key);
std::string key_id(const crypto::Ed25519PublicKey& key);

// What checking a saved report's text found.
enum class ReportCheck {
  kValid,          // hfv-report/v1, signed by this key
  kValidLegacy,    // signed before hfv-report/v1 (no format): alg and key_id not covered
  kNotJson,        // not a JSON object
  kDuplicateKey,   // a member named twice in one object (readers disagree on which counts)
  kNotCanonical,   // not the exact bytes the broker sent (re-serialised, reordered, pretty-printed)
  kUnsigned,       // no signature, or one of another shape
  kOtherKey,       // key_id names another key
  kBadSignature,   // the signature does not match
  // Checked against a key history (report_key_history.hpp):
  kUnknownKey,       // key_id names no key of the history
  kOutsideValidity,  // generated_at outside the named key's valid_from..valid_until
};
struct ReportVerification {
  ReportCheck check = ReportCheck::kNotJson;
  nlohmann::json report;  // as parsed, when it parsed
};
// Checks `text` (one trailing newline allowed) as the broker sent it: no
// duplicate member, canonical, signed by `key`.
// `format`: kPeerAnswerFormat for a peer's answer (no legacy form).
ReportVerification verify_report_text(std::string_view text, const crypto::Ed25519PublicKey& key,
                                      std::string_view format = kReportFormat);
std::string_view describe(ReportCheck check);

}  // namespace hfv::broker
