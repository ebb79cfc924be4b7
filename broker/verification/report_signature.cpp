#include "broker/verification/report_signature.hpp"

#include <set>
#include <vector>

#include "crypto/hash.hpp"

namespace hfv::broker {

using nlohmann::json;

namespace {

// Canonical JSON as the broker writes it: nlohmann's dump() with members
// sorted (std::map order, which for the reports' ASCII member names is
// RFC 8785's UTF-16 order), no whitespace and UTF-8 unescaped; control
// characters as \b \f \n \r \t or \u00xx, as RFC 8785 writes them.
// Reports hold integers and strings only: RFC 8785's number form is not
// needed (a report with another number does not re-serialise identically
// and is refused by verify_report_text).
std::string canonical(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::strict); }

// The legacy scheme (before hfv-report/v1): the report without its
// signature member, no prefix.
bool verify_legacy(const json& report, const json& sig, const crypto::Ed25519PublicKey& key) {
  auto bytes = crypto::from_hex(sig["value"].get<std::string>());
  if (!bytes || bytes->size() != 64) return false;
  json copy = report;
  copy.erase("signature");
  return crypto::ed25519_verify(key, canonical(copy), *bytes);
}

ReportCheck check_parsed(const json& report, const crypto::Ed25519PublicKey& key, std::string_view format) {
  if (!report.is_object()) return ReportCheck::kNotJson;
  auto it = report.find("signature");
  if (it == report.end() || !it->is_object()) return ReportCheck::kUnsigned;
  const json& sig = *it;
  if (sig.value("alg", "") != "Ed25519" || !sig.contains("value") || !sig["value"].is_string()) {
    return ReportCheck::kUnsigned;
  }
  if (!sig.contains("format")) {
    if (format != kReportFormat) return ReportCheck::kUnsigned;  // only reports had a legacy form
    if (sig.size() != 3 || !sig.contains("key_id")) return ReportCheck::kUnsigned;
    return verify_legacy(report, sig, key) ? ReportCheck::kValidLegacy : ReportCheck::kBadSignature;
  }
  if (sig["format"] != format || sig.size() != 4) return ReportCheck::kUnsigned;
  if (sig.value("key_id", "") != key_id(key)) return ReportCheck::kOtherKey;
  auto bytes = crypto::from_hex(sig["value"].get<std::string>());
  if (!bytes || bytes->size() != 64) return ReportCheck::kBadSignature;
  return crypto::ed25519_verify(key, signed_report_bytes(report, format), *bytes) ? ReportCheck::kValid
                                                                           : ReportCheck::kBadSignature;
}

}  // namespace

std::string key_id(const crypto::Ed25519PublicKey& key) {
  return crypto::to_hex(crypto::sha256(std::span<const std::uint8_t>(key))).substr(0, 16);
}

std::string signed_report_bytes(const json& report, std::string_view format) {
  json copy = report;
  if (auto it = copy.find("signature"); it != copy.end() && it->is_object()) it->erase("value");
  return std::string(format) + "\n" + canonical(copy);
}

void sign_report(json& report, const crypto::Ed25519Signer& signer, std::string_view format) {
  report["signature"] = {{"alg", "Ed25519"}, {"format", format}, {"key_id", key_id(signer.public_key())}};
  const auto signature = signer.sign(signed_report_bytes(report, format));
  report["signature"]["value"] = crypto::to_hex(signature);
}

bool verify_report_signature(const json& report, const crypto::Ed25519PublicKey& key) {
  const ReportCheck check = check_parsed(report, key, kReportFormat);
  return check == ReportCheck::kValid || check == ReportCheck::kValidLegacy;
}

ReportVerification verify_report_text(std::string_view text, const crypto::Ed25519PublicKey& key,
                                      std::string_view format) {
  ReportVerification out;
  if (text.ends_with('\n')) text.remove_suffix(1);
  // Every member name once per object: a reader that keeps the first of
  // two "outcome"s and one that keeps the last would read two reports.
  std::vector<std::set<std::string>> names;
  bool duplicate = false;
  const json::parser_callback_t note = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      names.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!names.empty()) names.pop_back();
    } else if (event == json::parse_event_t::key && !names.empty()) {
      duplicate |= !names.back().insert(parsed.get<std::string>()).second;
    }
    return true;
  };
  out.report = json::parse(text.begin(), text.end(), note, /*allow_exceptions=*/false);
  if (out.report.is_discarded() || !out.report.is_object()) {
    out.check = ReportCheck::kNotJson;
    out.report = json();
    return out;
  }
  if (duplicate) {
    out.check = ReportCheck::kDuplicateKey;
    return out;
  }
  const bool legacy = format == kReportFormat && out.report.contains("signature") && out.report["signature"].is_object() &&
                      !out.report["signature"].contains("format");
  // The exact bytes the broker sent. A legacy report (its signature does
  // not cover its own bytes) may have been saved re-serialised.
  if (!legacy && canonical(out.report) != text) {
    out.check = ReportCheck::kNotCanonical;
    return out;
  }
  out.check = check_parsed(out.report, key, format);
  return out;
}

std::string_view describe(ReportCheck check) {
  switch (check) {
    case ReportCheck::kValid: return "signed by this key";
    case ReportCheck::kValidLegacy:
      return "signed by this key in the format before hfv-report/v1 (the signature does not cover alg and key_id)";
    case ReportCheck::kNotJson: return "not a JSON object";
    case ReportCheck::kDuplicateKey: return "a member is named twice in one object: readers would disagree on it";
    case ReportCheck::kNotCanonical:
      return "not the bytes the broker sent (re-serialised, reordered or re-spaced): keep a report's bytes as received";
    case ReportCheck::kUnsigned: return "no signature of a known format";
    case ReportCheck::kOtherKey: return "signed with another key (key_id)";
    case ReportCheck::kBadSignature: return "the signature does not match this report";
    case ReportCheck::kUnknownKey: return "signed with a key (key_id) that is not in the key history";
    case ReportCheck::kOutsideValidity:
      return "generated outside its key's validity in the key history (after the key was retired, or before it "
             "was made): refused";
  }
  return "unknown";
}

}  // namespace hfv::broker
