// A peer broker's answer (docs/cross-region.md "What a peer answers"): the
// normalised records and per-source statuses of the member x source pairs
// it was asked, signed with its report-signing key under the format
// hfv-peer-answer/v1 (report_signature.hpp: the same exact-bytes scheme as
// a report, another domain prefix).
//
//   {"format": "hfv-peer-answer/v1", "request_id", "answering_centre",
//    "answered_at", "results": [{"member_index", "source", "status",
//    "failure", "records"}], "signature": {...}}
//
// `failure` is a FailureKind name ("none" when the status is ok, not_found
// or denied); `records` the normalised records
// (policies/household_json.hpp), empty unless the status is ok. No raw
// agency answer, no ID number, no name.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/records.hpp"
#include "common/result.hpp"
#include "crypto/ed25519.hpp"

namespace hfv::broker {

struct PeerAnswer {
  std::string request_id;        // the origin's verification id
  std::string answering_centre;  // the peer's centre name
  std::string answered_at;       // UTC RFC 3339
  std::vector<SourceResult> results;  // member_index: the origin's
};

// The signed answer's exact bytes (canonical JSON, no trailing newline).
std::string peer_answer_text(const PeerAnswer& answer, const crypto::Ed25519Signer& signer);

// A member x source pair the origin asked.
using AskedPair = std::pair<std::size_t, Source>;

// Reads `text` only if it is exactly what the peer signed with `key`, for
// `request_id`, and answers each pair of `asked` once and nothing else.
// Errors (the origin then treats every pair asked as failed):
//   peer_signature_invalid  not JSON, a member named twice, not the signed
//                           bytes, another key or format, a bad signature
//   peer_answer_invalid     another request, a pair not asked, asked
//                           twice or missing, an unknown status or failure,
//                           records that do not parse
Result<PeerAnswer> read_peer_answer(std::string_view text, const crypto::Ed25519PublicKey& key,
                                    const std::string& request_id, const std::vector<AskedPair>& asked);

}  // namespace hfv::broker
