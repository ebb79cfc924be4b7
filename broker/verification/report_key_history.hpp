// The report-signing key history: every key the broker has signed reports
// with, oldest first, each with the time it signed from (valid_from) and, once
// retired, until (valid_until). A rotation retires the current key and adds a
// new one; the link between the two is signed by both keys (cross-signed), so
// a verifier who trusts any one key of the history — the current one from
// GET /v1/keys/report-signing, or an older one it pinned — can follow the
// chain to every other key, and a history with an entry forged, dropped or
// re-dated does not verify (docs/api.md "Report-signing key history").
//
// The file lives beside the signing key (keys/report-signing.history.json for
// keys/report-signing.key); `brokerctl report rotate-key` writes it, brokerd
// reads it at start and publishes it at GET /v1/keys/report-signing/history.
// A broker that never rotated has no file: its history is its one key.
//
// Format "hfv-report-keys/v1":
//   {"format": "hfv-report-keys/v1",
//    "keys": [{"key_id", "public_key_pem", "valid_from", "valid_until"},   // first: valid_from may be null
//             {"key_id", "public_key_pem", "valid_from", ["valid_until",]
//              "predecessor_signature", "signature"}, ...]}              // the last has no valid_until
// Times are RFC 3339 UTC with milliseconds ("2026-11-22T08:01:02.345Z"),
// compared as text; entry i's valid_from equals entry i-1's valid_until. Both
// signatures of entry i (hex Ed25519, by entry i-1's key and by entry i's own)
// cover rotation_link_bytes(entry i-1, entry i):
//   "hfv-report-key-rotation/v1\n" + canonical JSON of
//   {"retired": {key_id, public_key_pem, valid_from, valid_until},
//    "successor": {key_id, public_key_pem, valid_from}}
// A report is valid under the history when the key its signature.key_id names
// is in it, the signature checks with that key, and the report's
// generated_at lies in [valid_from, valid_until) of that key.
//
// Thread-safety: pure functions, except load/save (file I/O, no shared state).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/verification/report_signature.hpp"
#include "common/result.hpp"
#include "crypto/ed25519.hpp"

namespace hfv::broker {

inline constexpr std::string_view kReportKeyHistoryFormat = "hfv-report-keys/v1";
inline constexpr std::string_view kReportKeyRotationDomain = "hfv-report-key-rotation/v1";

struct ReportKey {
  std::string key_id;
  crypto::Ed25519PublicKey public_key{};
  std::optional<std::string> valid_from;   // nullopt: the first key, since it was made
  std::optional<std::string> valid_until;  // nullopt: the current key
};

// A history whose chain has been checked (check_report_key_history); `json`
// is the document as published.
struct ReportKeyHistory {
  std::vector<ReportKey> keys;  // oldest first; never empty
  nlohmann::json json;
  const ReportKey& current() const { return keys.back(); }
  const ReportKey* find(std::string_view key_id) const;
};

// The history of a broker that never rotated: its one key, no bounds.
ReportKeyHistory initial_report_key_history(const crypto::Ed25519PublicKey& key);

// Checks a history document: its shape, key ids, contiguous times and every
// link's two signatures. Error codes: "bad_history" (shape or times),
// "bad_link" (a signature that does not verify). Messages name the entry.
Result<ReportKeyHistory> check_report_key_history(const nlohmann::json& document);

// The same for a file's text, which must also be one JSON object.
Result<ReportKeyHistory> parse_report_key_history(std::string_view text);

// A checked history is trusted only through a key the verifier already
// trusts: Error "unanchored" unless `anchor` is one of its keys.
Status anchor_report_key_history(const ReportKeyHistory& history, const crypto::Ed25519PublicKey& anchor);

// Retires the current key at `at` (RFC 3339 ms, after the current key's
// valid_from) and adds `successor`, cross-signed by `current` (which must be
// the history's current key) and `successor`. Error "bad_rotation" otherwise.
Result<ReportKeyHistory> rotate_report_key_history(const ReportKeyHistory& history,
                                                   const crypto::Ed25519Signer& current,
                                                   const crypto::Ed25519Signer& successor, const std::string& at);

// The bytes both signatures of a link cover (above).
std::string rotation_link_bytes(const ReportKey& retired, const ReportKey& successor);

// Checks a saved report's text against a history: kUnknownKey when its
// key_id is not in it, kOutsideValidity when generated_at lies outside the
// key's validity (or is missing while the key has bounds); otherwise what
// verify_report_text says with that key. `key` is the key it named.
struct HistoryReportVerification {
  ReportVerification result;
  const ReportKey* key = nullptr;
};
HistoryReportVerification verify_report_with_history(std::string_view text, const ReportKeyHistory& history);

// keys/report-signing.key -> keys/report-signing.history.json
std::filesystem::path report_key_history_path(const std::filesystem::path& signing_key_file);

// The history beside the signing key, checked, ending with `current`; the
// initial one-key history when there is no file. Error codes: those of
// check_report_key_history, "io_error", "history_mismatch" (the file's
// current key is not the signing key: a rotation stopped half-way or a key
// file replaced by hand).
Result<ReportKeyHistory> load_report_key_history(const std::filesystem::path& signing_key_file,
                                                 const crypto::Ed25519PublicKey& current);

}  // namespace hfv::broker
