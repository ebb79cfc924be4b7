// Keyring: the audit log's own keys, stored only wrapped, in a small JSON
// file beside the database (`<db>.keyring`, mode 0600):
//   - the database key: 32 random bytes (SQLCipher raw key);
//   - the tree-head signing seed: 32 random bytes (Ed25519);
//   - the history of signing keys (audit/key_history.hpp): after a
//     rotation of the signing key, the cross-signed transitions, in clear
//     (public keys and signatures only: a retired seed is wiped, never kept);
// each sealed with AES-256-GCM under the key-encryption key (KEK, derived
// from the master key: crypto::kPurposeAuditDb). The Ed25519 public key and
// an identifier of the KEK are stored in clear. Format: docs/audit-log-format.md.
//
// Rotation is crash-safe because every change replaces the file atomically:
//   - master rotation: rewrap() seals the same keys under a new KEK;
//   - data-key rotation: a `next_db_key` is recorded first; whoever opens the
//     database afterwards tries the current key, then the next one, and
//     promotes the one that works (see AuditLog::rotate_data_key);
//   - signing-key rotation: the new seed and the transition that the old
//     and the new key cross-signed replace the old seed in one write.
// Thread-safety: a Keyring is a plain value; files are not locked here.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "audit/key_history.hpp"
#include "common/result.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/keys.hpp"

namespace hfv::audit {

inline constexpr std::string_view kKeyringFormat = "hfv-audit-keyring/v1";

struct Keyring {
  crypto::SecretKey db_key;
  std::optional<crypto::SecretKey> next_db_key;  // a data-key rotation in progress
  crypto::SecretKey signing_seed;
  crypto::Ed25519PublicKey public_key{};  // the current signing key's
  // The first key and the signing-key transitions from it, oldest first;
  // its current() is `public_key`. No transitions until the signing key is
  // first rotated.
  KeyHistory history;

  static Keyring generate();
  // Error codes: "not_found", "bad_key" (the KEK does not open it: wrong
  // master key), "bad_keyring" (malformed, or a key history whose chain
  // does not hold or does not end at the signing seed's key), "io_error".
  static Result<Keyring> load(const std::filesystem::path& file, const crypto::SecretKey& kek);
  // Only the public parts; no KEK needed. Error codes as load().
  // The log's identity key: its FIRST signing key, the one audit.public_key
  // pins (the same as the current key until the signing key is rotated).
  static Result<crypto::Ed25519PublicKey> load_public_key(const std::filesystem::path& file);
  // The chain of signing keys, checked (no KEK needed).
  static Result<KeyHistory> load_key_history(const std::filesystem::path& file);
  // Writes the keyring sealed under `kek`, replacing the file atomically.
  Status save(const std::filesystem::path& file, const crypto::SecretKey& kek) const;
  // The same document as text, for a keyring kept in a database (the
  // PostgreSQL backend), and back; `where` names it in messages.
  std::string sealed_text(const crypto::SecretKey& kek) const;
  static Result<Keyring> from_sealed_text(const std::string& text, const crypto::SecretKey& kek,
                                          const std::string& where);

  crypto::Ed25519Signer signer() const;
  // The first key, and the chain from it to `public_key`.
  const KeyHistory& key_history() const { return history; }
  // Replaces the signing seed with a fresh one and records the transition
  // the old and the new key cross-sign at the log's tree of `tree_size`
  // records with root `root`; the old seed is wiped. Returns the transition.
  // Nothing is written: the caller saves the keyring (one atomic write).
  KeyTransition rotate_signing_key(const std::string& origin, std::uint64_t tree_size,
                                   const merkle::Hash& root, const std::string& timestamp);
};

// Hex identifier of a key-encryption key (not secret: an HMAC of a label).
std::string kek_id(const crypto::SecretKey& kek);
std::filesystem::path keyring_path(const std::filesystem::path& db);

}  // namespace hfv::audit
