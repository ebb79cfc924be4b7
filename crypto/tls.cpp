#include "crypto/tls.hpp"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdio>
#include <ctime>
#include <memory>

#include "common/files.hpp"
#include "crypto/internal.hpp"
#include "crypto/openssl_ptr.hpp"

namespace hfv::crypto {

namespace {

using internal::BioPtr;
using internal::CrlPtr;
using internal::File;
using KeyPtr = internal::PkeyPtr;
using internal::X509Ptr;

Result<X509Ptr> read_cert(const std::filesystem::path& p) {
  File f(std::fopen(p.c_str(), "rb"));
  if (!f) return make_error("not_found", "cannot read " + p.string());
  X509Ptr cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  if (!cert) return make_error("bad_cert_file", p.string() + " is not a PEM certificate");
  return cert;
}

// An ASN1_TIME as seconds since the epoch; nullopt if it cannot be read.
std::optional<std::int64_t> unix_time(const ASN1_TIME* t) {
  if (t == nullptr) return std::nullopt;
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

Result<CrlValidity> load_crl(void* native_ssl_ctx, const std::filesystem::path& crl_pem) {
  File f(std::fopen(crl_pem.c_str(), "rb"));
  if (!f) return make_error("not_found", "cannot read " + crl_pem.string());
  CrlPtr crl(PEM_read_X509_CRL(f.get(), nullptr, nullptr, nullptr));
  if (!crl) return make_error("bad_crl", crl_pem.string() + " is not a PEM CRL");
  auto* ctx = static_cast<SSL_CTX*>(native_ssl_ctx);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  if (X509_STORE_add_crl(store, crl.get()) != 1) {
    return make_error("bad_crl", crl_pem.string() + ": the CRL could not be added");
  }
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  CrlValidity validity;
  validity.next_update = unix_time(X509_CRL_get0_nextUpdate(crl.get()));
  return validity;
}

Result<std::int64_t> certificate_not_after(const std::filesystem::path& cert_pem) {
  auto cert = read_cert(cert_pem);
  if (!cert) return cert.error();
  const auto not_after = unix_time(X509_get0_notAfter(cert->get()));
  if (!not_after) return make_error("bad_cert_file", cert_pem.string() + ": notAfter cannot be read");
  return *not_after;
}

Status write_crl(const std::filesystem::path& ca_cert, const std::filesystem::path& ca_key,
                 const std::vector<std::filesystem::path>& revoked_certs, const std::filesystem::path& out_pem,
                 std::chrono::seconds validity) {
  auto ca = read_cert(ca_cert);
  if (!ca) return ca.error();
  auto key_pem = internal::read_private_file(ca_key);
  if (!key_pem) return key_pem.error();
  internal::WipedString key_text(std::move(*key_pem));
  BioPtr bio(BIO_new_mem_buf(key_text.str().data(), static_cast<int>(key_text.str().size())));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return make_error("bad_key_file", ca_key.string() + " is not a PEM private key");

  CrlPtr crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), 1) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca->get())) != 1) {
    return make_error("crypto_error", "cannot build the CRL");
  }
  internal::AsnTimePtr now(X509_gmtime_adj(nullptr, 0));
  internal::AsnTimePtr next(X509_gmtime_adj(nullptr, static_cast<long>(validity.count())));
  X509_CRL_set1_lastUpdate(crl.get(), now.get());
  X509_CRL_set1_nextUpdate(crl.get(), next.get());
  for (const auto& path : revoked_certs) {
    auto cert = read_cert(path);
    if (!cert) return cert.error();
    X509_REVOKED* entry = X509_REVOKED_new();
    X509_REVOKED_set_serialNumber(entry, X509_get_serialNumber(cert->get()));
    X509_REVOKED_set_revocationDate(entry, now.get());
    X509_CRL_add0_revoked(crl.get(), entry);
  }
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), key.get(), EVP_sha256()) == 0) return make_error("crypto_error", "cannot sign the CRL");
  BioPtr pem(BIO_new(BIO_s_mem()));
  if (!pem || PEM_write_bio_X509_CRL(pem.get(), crl.get()) != 1) return make_error("crypto_error", "cannot encode the CRL");
  const std::string text = internal::bio_contents(pem.get());
  if (text.empty()) return make_error("crypto_error", "cannot encode the CRL");
  return replace_file_atomically(out_pem, text, 0644);
}

}  // namespace hfv::crypto
