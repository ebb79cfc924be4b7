#include "crypto/ed25519.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <stdexcept>

#include "common/files.hpp"
#include "crypto/internal.hpp"
#include "crypto/openssl_ptr.hpp"

namespace hfv::crypto {

namespace {

using internal::bio_contents;
using internal::BioPtr;
using internal::MdCtxPtr;
using internal::no_passphrase;
using internal::PkeyPtr;
using internal::read_only_bio;

bool is_ed25519(const EVP_PKEY* key) { return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519; }

}  // namespace

Status create_ed25519_key_file(const std::filesystem::path& path) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) {
    ERR_clear_error();
    throw std::runtime_error("Ed25519 key generation failed");
  }
  // A secure-memory BIO is wiped when freed.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    ERR_clear_error();
    throw std::runtime_error("Ed25519 key encoding failed");
  }
  internal::WipedString pem(bio_contents(bio.get()));
  return write_new_file(path, pem.str(), 0600);
}

struct Ed25519Signer::Impl {
  PkeyPtr key;
};

Ed25519Signer::Ed25519Signer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  std::size_t len = public_key_.size();
  if (EVP_PKEY_get_raw_public_key(impl_->key.get(), public_key_.data(), &len) != 1 ||
      len != public_key_.size()) {
    ERR_clear_error();
    throw std::runtime_error("Ed25519 public key unavailable");
  }
}

Ed25519Signer::Ed25519Signer(Ed25519Signer&&) noexcept = default;
Ed25519Signer& Ed25519Signer::operator=(Ed25519Signer&&) noexcept = default;
Ed25519Signer::~Ed25519Signer() = default;

Result<Ed25519Signer> Ed25519Signer::load(const std::filesystem::path& private_key_pem) {
  auto key = internal::read_private_key_pem(private_key_pem);
  if (!key.ok()) return key.error();
  if (!*key || !is_ed25519(key->get())) {
    return make_error("bad_key_file", "key file " + private_key_pem.string() +
                                          " does not hold an unencrypted Ed25519 private key"
                                          " (PKCS#8 PEM)");
  }
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(*key);
  return Ed25519Signer(std::move(impl));
}

Ed25519Signer Ed25519Signer::from_seed(std::span<const std::uint8_t, 32> seed) {
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!key) {
    ERR_clear_error();
    throw std::runtime_error("Ed25519 key from seed failed");
  }
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return Ed25519Signer(std::move(impl));
}

Ed25519Signature Ed25519Signer::sign(std::string_view message) const {
  Ed25519Signature sig{};
  std::size_t len = sig.size();
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != sig.size()) {
    ERR_clear_error();
    throw std::runtime_error("Ed25519 signing failed");
  }
  return sig;
}

std::string Ed25519Signer::public_key_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), impl_->key.get()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("Ed25519 public key encoding failed");
  }
  return bio_contents(bio.get());
}

bool ed25519_verify(const Ed25519PublicKey& public_key, std::string_view message,
                    std::span<const std::uint8_t> signature) {
  if (signature.size() != 64) return false;
  PkeyPtr key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok =
      key && ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

std::string ed25519_public_key_pem(const Ed25519PublicKey& public_key) {
  PkeyPtr key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!key || !bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("Ed25519 public key encoding failed");
  }
  return bio_contents(bio.get());
}

Result<Ed25519PublicKey> ed25519_public_key_from_pem(std::string_view pem) {
  BioPtr bio = read_only_bio(pem);
  PkeyPtr key;
  if (bio) key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  ERR_clear_error();
  Ed25519PublicKey out{};
  std::size_t len = out.size();
  if (!key || !is_ed25519(key.get()) ||
      EVP_PKEY_get_raw_public_key(key.get(), out.data(), &len) != 1 || len != out.size()) {
    ERR_clear_error();
    return make_error("bad_public_key", "not a PEM Ed25519 public key (SubjectPublicKeyInfo)");
  }
  return out;
}

}  // namespace hfv::crypto
