// AES-256-GCM authenticated encryption, used to wrap keys (the audit
// database's random data key and the audit signing seed) under a key derived
// from the master key. A sealed box is nonce (12 random bytes) || ciphertext
// || tag (16 bytes); the associated data binds the box to its purpose, so a
// box cannot be moved to another slot undetected.
// Thread-safety: functions are thread-safe. No OpenSSL types leak out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "crypto/hash.hpp"
#include "crypto/keys.hpp"

namespace hfv::crypto {

inline constexpr std::size_t kGcmNonceSize = 12;
inline constexpr std::size_t kGcmTagSize = 16;

// Encrypts and authenticates `plaintext` with a fresh random nonce.
Bytes aes256gcm_seal(const SecretKey& key, std::span<const std::uint8_t> plaintext,
                     std::string_view associated_data);

// nullopt when the box is malformed, or the key or associated data is wrong.
std::optional<Bytes> aes256gcm_open(const SecretKey& key, std::span<const std::uint8_t> box,
                                    std::string_view associated_data);

// The same for text kept in a text column: the box as lowercase hex. The
// opener gives nullopt for a box that is not hex, or does not open.
std::string aes256gcm_seal_hex(const SecretKey& key, std::string_view plaintext,
                               std::string_view associated_data);
std::optional<std::string> aes256gcm_open_hex(const SecretKey& key, std::string_view box_hex,
                                              std::string_view associated_data);

}  // namespace hfv::crypto
