// Key wrapping: a 32-byte key sealed with AES-256-GCM under a
// key-encryption key (KEK) derived from the master key, for the keyrings
// that keep random keys on disk or in a database (audit/keyring.hpp, the
// broker's store keyrings). One box is hex(nonce(12) || ciphertext(32) ||
// tag(16)); its associated data is "<format>|<slot>", so a box moved to
// another slot or another keyring format does not open.
// Thread-safety: functions are thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "crypto/keys.hpp"

namespace hfv::crypto {

// The box of `key` under `kek`, as lowercase hex.
std::string wrap_key(const SecretKey& kek, const SecretKey& key, std::string_view format,
                     std::string_view slot);

// The key in `box_hex`; nullopt when it is not hex, was sealed under another
// KEK, format or slot, or was edited.
std::optional<SecretKey> unwrap_key(const SecretKey& kek, std::string_view box_hex,
                                    std::string_view format, std::string_view slot);

// A public identifier of a KEK: the first 8 bytes, hex, of
// HMAC-SHA256(kek, label). Lets a loader say "another master key" before
// trying a box.
std::string kek_identifier(const SecretKey& kek, std::string_view label);

}  // namespace hfv::crypto
