// Signed tree heads (checkpoints) of the audit log's Merkle tree, and the
// anchor file that keeps the latest one outside the database.
//
// A head says "the log's first `tree_size` records have Merkle root `root`",
// signed with the log's Ed25519 key over the text
//   "hfv-audit-sth/v2\n<tree_size>\n<root hex>\n<timestamp>\n".
// Because heads leave the database (anchor file, optional URL, exports), a
// database later replaced by an older copy is caught: its tree is smaller
// than, or inconsistent with, a head already published.
// Thread-safety: plain values and functions; anchor writes are atomic
// replacements (replace_file_atomically, common/files.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "audit/merkle.hpp"
#include "common/result.hpp"
#include "crypto/ed25519.hpp"

namespace hfv::audit {

inline constexpr std::string_view kTreeHeadFormat = "hfv-audit-sth/v2";
inline constexpr std::string_view kAnchorFormat = "hfv-audit-anchor/v1";

struct SignedTreeHead {
  std::uint64_t tree_size = 0;
  merkle::Hash root{};
  std::string timestamp;  // UTC RFC 3339 with milliseconds
  std::string key_id;     // first 16 hex of SHA-256(public key)
  crypto::Ed25519Signature signature{};
};

std::string tree_head_message(std::uint64_t tree_size, const merkle::Hash& root,
                              const std::string& timestamp);
SignedTreeHead sign_tree_head(const crypto::Ed25519Signer& signer, std::uint64_t tree_size,
                              const merkle::Hash& root, const std::string& timestamp);
bool verify_tree_head(const SignedTreeHead& head, const crypto::Ed25519PublicKey& key);
std::string audit_key_id(const crypto::Ed25519PublicKey& key);

nlohmann::json tree_head_json(const SignedTreeHead& head);
// Error code "bad_tree_head" when fields are missing or malformed (the
// signature is not checked here).
Result<SignedTreeHead> tree_head_from_json(const nlohmann::json& j);

// Anchor file: {"format": "hfv-audit-anchor/v1", "tree_head": {...}}.
Status write_anchor(const std::filesystem::path& file, const SignedTreeHead& head);
// nullopt when the file does not exist. Error "bad_anchor" when unreadable.
Result<std::optional<SignedTreeHead>> read_anchor(const std::filesystem::path& file);

}  // namespace hfv::audit
