#include "crypto/key_wrap.hpp"

#include <openssl/crypto.h>

#include "crypto/aead.hpp"
#include "crypto/hash.hpp"

namespace hfv::crypto {

namespace {

std::string associated_data(std::string_view format, std::string_view slot) {
  std::string aad(format);
  aad += '|';
  aad += slot;
  return aad;
}

}  // namespace

std::string wrap_key(const SecretKey& kek, const SecretKey& key, std::string_view format,
                     std::string_view slot) {
  return to_hex(aes256gcm_seal(kek, key.bytes(), associated_data(format, slot)));
}

std::optional<SecretKey> unwrap_key(const SecretKey& kek, std::string_view box_hex,
                                    std::string_view format, std::string_view slot) {
  auto box = from_hex(box_hex);
  if (!box) return std::nullopt;
  auto plain = aes256gcm_open(kek, *box, associated_data(format, slot));
  if (!plain) return std::nullopt;
  std::optional<SecretKey> key;
  if (plain->size() == SecretKey::kSize) {
    key.emplace(std::span<const std::uint8_t, SecretKey::kSize>(plain->data(), SecretKey::kSize));
  }
  OPENSSL_cleanse(plain->data(), plain->size());
  return key;
}

std::string kek_identifier(const SecretKey& kek, std::string_view label) {
  return to_hex(hmac_sha256(kek.bytes(), label)).substr(0, 16);
}

}  // namespace hfv::crypto
