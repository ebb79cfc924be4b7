// Ed25519 signatures: the broker signs reports with a private key kept in a
// PKCS#8 PEM file (mode 0600); the audit log signs its tree heads with a key
// made from a 32-byte seed that is stored only wrapped (see audit/keyring).
// Thread-safety: a loaded Ed25519Signer may sign from several threads.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace hfv::crypto {

using Ed25519PublicKey = std::array<std::uint8_t, 32>;
using Ed25519Signature = std::array<std::uint8_t, 64>;

// Creates a new private key file (PKCS#8 PEM, mode 0600, O_EXCL).
// Error code "exists" if the file is already there.
Status create_ed25519_key_file(const std::filesystem::path& path);

class Ed25519Signer {
 public:
  // Error codes: "not_found", "key_file_mode", "bad_key_file".
  static Result<Ed25519Signer> load(const std::filesystem::path& private_key_pem);
  // The key whose RFC 8032 private seed is `seed` (32 bytes). Throws only if
  // OpenSSL itself fails.
  static Ed25519Signer from_seed(std::span<const std::uint8_t, 32> seed);
  Ed25519Signer(Ed25519Signer&&) noexcept;
  Ed25519Signer& operator=(Ed25519Signer&&) noexcept;
  ~Ed25519Signer();

  Ed25519Signature sign(std::string_view message) const;
  const Ed25519PublicKey& public_key() const { return public_key_; }
  // SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----"), for publishing.
  std::string public_key_pem() const;

 private:
  struct Impl;
  explicit Ed25519Signer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  Ed25519PublicKey public_key_{};
};

bool ed25519_verify(const Ed25519PublicKey& public_key, std::string_view message,
                    std::span<const std::uint8_t> signature);

// SubjectPublicKeyInfo PEM of a raw public key.
std::string ed25519_public_key_pem(const Ed25519PublicKey& public_key);

// Parses a SubjectPublicKeyInfo PEM holding an Ed25519 key.
Result<Ed25519PublicKey> ed25519_public_key_from_pem(std::string_view pem);

}  // namespace hfv::crypto
