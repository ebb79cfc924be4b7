#include "crypto/hash.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

namespace hfv::crypto {

namespace {

// OpenSSL rejects NULL buffers in some places even when the length is zero.
const std::uint8_t kEmpty[1] = {0};

const std::uint8_t* data_or_empty(std::span<const std::uint8_t> s) {
  return s.empty() ? kEmpty : s.data();
}

}  // namespace

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Digest sha256(std::span<const std::uint8_t> data) {
  Digest out{};
  unsigned int len = 0;
  if (EVP_Digest(data_or_empty(data), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != out.size()) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
}

Digest sha256(std::string_view data) { return sha256(as_bytes(data)); }

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 init failed");
  }
}

Sha256::~Sha256() = default;

Sha256& Sha256::update(std::span<const std::uint8_t> data) {
  if (impl_->ctx == nullptr) throw std::logic_error("Sha256 used after finish()");
  if (!data.empty() && EVP_DigestUpdate(impl_->ctx, data.data(), data.size()) != 1) {
    throw std::runtime_error("SHA-256 update failed");
  }
  return *this;
}

Sha256& Sha256::update(std::string_view data) { return update(as_bytes(data)); }

Digest Sha256::finish() {
  if (impl_->ctx == nullptr) throw std::logic_error("Sha256 used after finish()");
  Digest out{};
  unsigned int len = 0;
  const int rc = EVP_DigestFinal_ex(impl_->ctx, out.data(), &len);
  EVP_MD_CTX_free(impl_->ctx);
  impl_->ctx = nullptr;
  if (rc != 1 || len != out.size()) throw std::runtime_error("SHA-256 final failed");
  return out;
}

Digest hmac_sha256(std::span<const std::uint8_t> key, std::string_view data) {
  Digest out{};
  std::size_t len = 0;
  const auto msg = as_bytes(data);
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, data_or_empty(key), key.size(),
                data_or_empty(msg), msg.size(), out.data(), out.size(), &len) == nullptr ||
      len != out.size()) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return out;
}

struct HmacSha1::Impl {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* keyed = nullptr;  // initialised with the key; duplicated per mac()
  ~Impl() {
    EVP_MAC_CTX_free(keyed);
    EVP_MAC_free(mac);
  }
};

HmacSha1::HmacSha1(std::span<const std::uint8_t> key) : impl_(std::make_unique<Impl>()) {
  impl_->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  impl_->keyed = impl_->mac != nullptr ? EVP_MAC_CTX_new(impl_->mac) : nullptr;
  if (impl_->keyed == nullptr) throw std::runtime_error("HMAC unavailable");
  char digest_name[] = "SHA1";
  OSSL_PARAM params[2];
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0);
  params[1] = OSSL_PARAM_construct_end();
  if (EVP_MAC_init(impl_->keyed, data_or_empty(key), key.size(), params) != 1) {
    throw std::runtime_error("HMAC-SHA1 init failed");
  }
}

HmacSha1::~HmacSha1() = default;

HmacSha1::Tag HmacSha1::mac(std::initializer_list<std::span<const std::uint8_t>> parts) const {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(impl_->keyed);
  if (ctx == nullptr) throw std::runtime_error("HMAC-SHA1 failed");
  bool ok = true;
  for (const auto& part : parts) {
    if (!part.empty() && EVP_MAC_update(ctx, part.data(), part.size()) != 1) ok = false;
  }
  Tag out{};
  std::size_t len = 0;
  if (ok && EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1) ok = false;
  EVP_MAC_CTX_free(ctx);
  if (!ok || len != out.size()) throw std::runtime_error("HMAC-SHA1 failed");
  return out;
}

SecretKey pbkdf2_hmac_sha1(std::span<const std::uint8_t> password,
                           std::span<const std::uint8_t> salt, unsigned iterations) {
  std::array<std::uint8_t, SecretKey::kSize> out{};
  if (password.size() > static_cast<std::size_t>(INT_MAX) ||
      salt.size() > static_cast<std::size_t>(INT_MAX) || iterations == 0 ||
      iterations > static_cast<unsigned>(INT_MAX) ||
      PKCS5_PBKDF2_HMAC_SHA1(reinterpret_cast<const char*>(data_or_empty(password)),
                             static_cast<int>(password.size()), data_or_empty(salt),
                             static_cast<int>(salt.size()), static_cast<int>(iterations),
                             static_cast<int>(out.size()), out.data()) != 1) {
    throw std::runtime_error("PBKDF2-HMAC-SHA1 failed");
  }
  SecretKey key(out);
  OPENSSL_cleanse(out.data(), out.size());
  return key;
}

Bytes hkdf_sha256(std::span<const std::uint8_t> ikm, std::string_view salt, std::string_view info,
                  std::size_t length) {
  if (length > std::size_t{255} * 32) throw std::invalid_argument("HKDF-SHA256 length too large");
  if (length == 0) return {};
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = kdf != nullptr ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  if (ctx == nullptr) throw std::runtime_error("HKDF unavailable");

  char digest_name[] = "SHA256";
  // OSSL_PARAM wants non-const pointers; OpenSSL only reads these buffers.
  auto* key_ptr = const_cast<std::uint8_t*>(data_or_empty(ikm));
  auto* salt_ptr = const_cast<char*>(salt.data());
  auto* info_ptr = const_cast<char*>(info.data());
  OSSL_PARAM params[5];
  std::size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest_name, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key_ptr, ikm.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt_ptr, salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info_ptr, info.size());
  }
  params[n] = OSSL_PARAM_construct_end();

  Bytes out(length);
  const int rc = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (rc != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    throw std::runtime_error("HKDF-SHA256 failed");
  }
  return out;
}

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  std::size_t done = 0;
  while (done < n) {
    const std::size_t chunk = std::min<std::size_t>(n - done, static_cast<std::size_t>(INT_MAX));
    if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1) {
      throw std::runtime_error("system random generator failed");
    }
    done += chunk;
  }
  return out;
}

std::string to_hex(std::span<const std::uint8_t> data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (std::uint8_t b : data) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0x0f];
  }
  return out;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  Bytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      OPENSSL_cleanse(out.data(), out.size());
      return std::nullopt;
    }
    out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return out;
}

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;  // lengths are not secret
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace hfv::crypto
