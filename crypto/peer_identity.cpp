#include "crypto/peer_identity.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstdint>
#include <span>

#include "crypto/hash.hpp"
#include "crypto/openssl_ptr.hpp"

namespace hfv::crypto {

namespace {

using internal::bio_contents;
using internal::BioPtr;
using internal::BnPtr;
using internal::X509Ptr;

std::string entry_utf8(const X509_NAME_ENTRY* entry) {
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(entry);
  if (data == nullptr) return {};
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0 || utf8 == nullptr) {
    ERR_clear_error();
    return {};
  }
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

// RFC 4514 text of a name: OpenSSL's RFC 2253 form with UTF-8 kept (not
// escaped as \XX byte by byte), so a Chinese organisation reads as written.
std::string name_text(const X509_NAME* name) {
  if (name == nullptr) return {};
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    ERR_clear_error();
    return {};
  }
  return bio_contents(bio.get());
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string serial_hex(const X509* cert) {
  BnPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) {
    ERR_clear_error();
    return {};
  }
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) {
    ERR_clear_error();
    return {};
  }
  std::string out = lower(hex);
  OPENSSL_free(hex);
  return out;
}

std::string spki_sha256(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0 || der == nullptr) {
    ERR_clear_error();
    return {};
  }
  std::string out = to_hex(sha256(std::span<const std::uint8_t>(der, static_cast<std::size_t>(len))));
  OPENSSL_free(der);
  return out;
}

// Everything but the chain, which only a handshake knows.
std::optional<PeerCertificate> inspect(X509* cert) {
  PeerCertificate peer;
  const X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    if (++peer.subject_cn_count == 1) peer.subject_cn = entry_utf8(X509_NAME_get_entry(subject, i));
  }
  if (peer.subject_cn_count != 1) peer.subject_cn.clear();
  const X509_NAME* issuer = X509_get_issuer_name(cert);
  if (const int i = X509_NAME_get_index_by_NID(issuer, NID_commonName, -1); i >= 0) {
    peer.issuer_cn = entry_utf8(X509_NAME_get_entry(issuer, i));
  }
  peer.subject = name_text(subject);
  peer.issuer = name_text(issuer);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  peer.sha256_fingerprint = to_hex(std::span<const std::uint8_t>(md, len));
  peer.serial = serial_hex(cert);
  peer.spki_sha256 = spki_sha256(cert);
  // X509_get_extension_flags caches the extensions (and says whether they
  // could be parsed); the EKU bits mean something only when the extension is there.
  const std::uint32_t flags = X509_get_extension_flags(cert);
  peer.client_auth = (flags & EXFLAG_INVALID) == 0 && (flags & EXFLAG_XKUSAGE) != 0 &&
                     (X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT) != 0;
  if (peer.sha256_fingerprint.empty() || peer.serial.empty() || peer.spki_sha256.empty()) return std::nullopt;
  return peer;
}

}  // namespace

std::optional<PeerCertificate> peer_certificate(void* native_ssl) {
  if (native_ssl == nullptr) return std::nullopt;
  auto* ssl = static_cast<SSL*>(native_ssl);
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  // Only a certificate that passed verification identifies anyone.
  if (SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  auto peer = inspect(cert);
  if (!peer) return std::nullopt;
  const STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl);
  peer->chain_length = chain == nullptr ? 0 : sk_X509_num(chain);
  return peer;
}

Result<PeerCertificate> read_certificate_file(const std::filesystem::path& pem) {
  BioPtr bio(BIO_new_file(pem.c_str(), "r"));
  if (!bio) {
    ERR_clear_error();
    return make_error("not_found", "cannot read " + pem.string());
  }
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, internal::no_passphrase, nullptr));
  ERR_clear_error();
  if (!cert) return make_error("bad_cert_file", pem.string() + " does not hold a PEM certificate");
  auto peer = inspect(cert.get());
  if (!peer) return make_error("bad_cert_file", pem.string() + ": the certificate cannot be read");
  return *peer;
}

std::optional<CertificateRefusal> client_certificate_refusal(const PeerCertificate& peer, int verify_depth) {
  if (peer.subject_cn_count != 1) {
    return CertificateRefusal{"client_certificate_cn_not_unique",
                              "the client certificate's subject must hold exactly one CN (common name); this one holds " +
                                  std::to_string(peer.subject_cn_count)};
  }
  if (!peer.client_auth) {
    return CertificateRefusal{"client_certificate_not_for_client_auth",
                              "the client certificate must carry the extended key usage clientAuth "
                              "(TLS Web Client Authentication)"};
  }
  if (peer.chain_length < 2 || peer.chain_length - 1 > verify_depth) {
    return CertificateRefusal{
        "client_certificate_chain_too_long",
        verify_depth == 1 ? "the client certificate must be issued directly by the centre's CA, not by a subordinate CA"
                          : "the client certificate must be issued by the centre's CA through at most " +
                                std::to_string(verify_depth - 1) + " subordinate CAs"};
  }
  return std::nullopt;
}

}  // namespace hfv::crypto
