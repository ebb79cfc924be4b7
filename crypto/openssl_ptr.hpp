// Owning pointers to OpenSSL objects, one definition for every crypto/
// source: OsslPtr<T, T_free> frees with the object's own free function;
// and the memory-BIO and PEM helpers the key readers and writers share.
// Internal to crypto/ (the only folder that includes OpenSSL headers).
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/internal.hpp"

namespace hfv::crypto::internal {

template <auto Free>
struct FreeWith {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

template <class T, auto Free>
using OsslPtr = std::unique_ptr<T, FreeWith<Free>>;

using PkeyPtr = OsslPtr<EVP_PKEY, EVP_PKEY_free>;
using BioPtr = OsslPtr<BIO, BIO_free>;
using MdCtxPtr = OsslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using CipherCtxPtr = OsslPtr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;
using X509Ptr = OsslPtr<X509, X509_free>;
using CrlPtr = OsslPtr<X509_CRL, X509_CRL_free>;
using ExtPtr = OsslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using GeneralNamesPtr = OsslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;
using BnPtr = OsslPtr<BIGNUM, BN_free>;
using AsnTimePtr = OsslPtr<ASN1_TIME, ASN1_TIME_free>;
inline void close_file(std::FILE* f) { std::fclose(f); }
using File = OsslPtr<std::FILE, close_file>;

// A pem_password_cb that never prompts for a passphrase: encrypted keys are
// simply rejected.
inline int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return 0; }

// A read-only memory BIO over `text` (which must outlive it), or nullptr
// when it is too large for OpenSSL.
inline BioPtr read_only_bio(std::string_view text) {
  if (text.size() > static_cast<std::size_t>(INT32_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// What a memory BIO holds, or "" when it holds nothing.
inline std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(len));
}

// The private key in a PEM file that must be private to its owner (the
// checks and error codes of read_private_file); an empty pointer when the
// file holds no unencrypted PEM private key. The text read is wiped.
inline Result<PkeyPtr> read_private_key_pem(const std::filesystem::path& path) {
  auto read = read_private_file(path);
  if (!read.ok()) return read.error();
  const WipedString pem(std::move(read).value());
  const BioPtr bio = read_only_bio(pem.str());
  PkeyPtr key;
  if (bio) key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  ERR_clear_error();
  return key;
}

}  // namespace hfv::crypto::internal
