#include "crypto/aead.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <memory>
#include <stdexcept>

#include "crypto/openssl_ptr.hpp"

namespace hfv::crypto {

namespace {

using internal::CipherCtxPtr;

const unsigned char* uchars(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

Bytes aes256gcm_seal(const SecretKey& key, std::span<const std::uint8_t> plaintext,
                     std::string_view associated_data) {
  if (plaintext.size() > INT_MAX / 2 || associated_data.size() > INT_MAX / 2) {
    throw std::length_error("AES-GCM input too large");
  }
  Bytes out = random_bytes(kGcmNonceSize);
  out.resize(kGcmNonceSize + plaintext.size() + kGcmTagSize);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int total = 0;
  const bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kGcmNonceSize),
                          nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.bytes().data(), out.data()) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, uchars(associated_data),
                        static_cast<int>(associated_data.size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), out.data() + kGcmNonceSize, &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) == 1 &&
      (total = len, true) &&
      EVP_EncryptFinal_ex(ctx.get(), out.data() + kGcmNonceSize + total, &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagSize),
                          out.data() + kGcmNonceSize + plaintext.size()) == 1;
  if (!ok) throw std::runtime_error("AES-256-GCM encryption failed");
  return out;
}

std::optional<Bytes> aes256gcm_open(const SecretKey& key, std::span<const std::uint8_t> box,
                                    std::string_view associated_data) {
  if (box.size() < kGcmNonceSize + kGcmTagSize || box.size() > INT_MAX / 2 ||
      associated_data.size() > INT_MAX / 2) {
    return std::nullopt;
  }
  const std::size_t n = box.size() - kGcmNonceSize - kGcmTagSize;
  Bytes out(n == 0 ? 1 : n);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  // The tag is passed through a copy: OpenSSL's ctrl takes a non-const pointer.
  unsigned char tag[kGcmTagSize];
  std::copy(box.end() - static_cast<std::ptrdiff_t>(kGcmTagSize), box.end(), tag);
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kGcmNonceSize),
                          nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.bytes().data(), box.data()) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, uchars(associated_data),
                        static_cast<int>(associated_data.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), out.data(), &len, box.data() + kGcmNonceSize,
                        static_cast<int>(n)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagSize), tag) ==
          1 &&
      EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    return std::nullopt;
  }
  out.resize(n);
  return out;
}

std::string aes256gcm_seal_hex(const SecretKey& key, std::string_view plaintext,
                               std::string_view associated_data) {
  return to_hex(aes256gcm_seal(key, as_bytes(plaintext), associated_data));
}

std::optional<std::string> aes256gcm_open_hex(const SecretKey& key, std::string_view box_hex,
                                              std::string_view associated_data) {
  auto box = from_hex(box_hex);
  if (!box) return std::nullopt;
  auto plain = aes256gcm_open(key, *box, associated_data);
  if (!plain) return std::nullopt;
  return std::string(plain->begin(), plain->end());
}

}  // namespace hfv::crypto
