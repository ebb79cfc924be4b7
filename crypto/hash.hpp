// Hashes, MACs, key derivation, randomness and hex, over OpenSSL 3.
// crypto/ is the only folder that includes OpenSSL headers; these functions
// hide them. Thread-safety: all functions are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.hpp"

namespace hfv::crypto {

using Bytes = std::vector<std::uint8_t>;
using Digest = std::array<std::uint8_t, 32>;

std::span<const std::uint8_t> as_bytes(std::string_view s);

Digest sha256(std::span<const std::uint8_t> data);
Digest sha256(std::string_view data);

// Incremental SHA-256 for hashing several fields without concatenating them.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256& update(std::span<const std::uint8_t> data);
  Sha256& update(std::string_view data);
  Digest finish();  // the object is spent afterwards

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digest hmac_sha256(std::span<const std::uint8_t> key, std::string_view data);

// HMAC-SHA1 under one key, for formats that prescribe it (SQLCipher 3's
// page MAC: storage/page_check.hpp); nothing new should choose SHA-1. The
// key is set once; mac() may be called any number of times, each over the
// concatenation of `parts`. Not thread-safe: one object per thread.
class HmacSha1 {
 public:
  using Tag = std::array<std::uint8_t, 20>;
  explicit HmacSha1(std::span<const std::uint8_t> key);
  ~HmacSha1();
  HmacSha1(const HmacSha1&) = delete;
  HmacSha1& operator=(const HmacSha1&) = delete;
  Tag mac(std::initializer_list<std::span<const std::uint8_t>> parts) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// PBKDF2-HMAC-SHA1 (RFC 8018), 32 bytes, as SQLCipher 3 derives its HMAC
// key; the result is wiped when destroyed.
SecretKey pbkdf2_hmac_sha1(std::span<const std::uint8_t> password,
                           std::span<const std::uint8_t> salt, unsigned iterations);

// HKDF-SHA256 (RFC 5869). length <= 255 * 32.
Bytes hkdf_sha256(std::span<const std::uint8_t> ikm, std::string_view salt,
                  std::string_view info, std::size_t length);

// Cryptographically secure random bytes. Throws std::runtime_error if the
// system's generator fails (nothing safe can continue then).
Bytes random_bytes(std::size_t n);

std::string to_hex(std::span<const std::uint8_t> data);  // lowercase
std::optional<Bytes> from_hex(std::string_view hex);     // accepts either case; nullopt on bad input

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

}  // namespace hfv::crypto
