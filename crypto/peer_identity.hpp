// Who is on the other end of a TLS connection, read from its verified
// client certificate: what the broker matches a principal against
// (broker/ops/config.hpp, Config::principal_for) and what its audit records
// name the certificate by (docs/security.md "Client identity").
// Thread-safety: functions touch only their arguments.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "common/result.hpp"

namespace hfv::crypto {

struct PeerCertificate {
  // The subject's CN when it holds exactly one CN attribute; empty otherwise
  // (a certificate with two CNs names nobody: subject_cn_count says so).
  std::string subject_cn;
  int subject_cn_count = 0;
  std::string issuer_cn;  // the issuer's first CN, for messages only
  // Distinguished names as RFC 4514 strings, as OpenSSL prints them with
  // XN_FLAG_RFC2253 but UTF-8 left as is (`openssl x509 -noout -subject
  // -nameopt RFC2253,-esc_msb`): most specific attribute first,
  // "CN=centre-a,O=HFV development".
  std::string subject;
  std::string issuer;
  std::string sha256_fingerprint;  // lowercase hex SHA-256 of the DER certificate
  std::string serial;              // lowercase hex of the serial number ("-" first if negative)
  std::string spki_sha256;         // lowercase hex SHA-256 of the DER SubjectPublicKeyInfo
  // The extended key usage extension is present and lists clientAuth
  // (anyExtendedKeyUsage does not count).
  bool client_auth = false;
  // Certificates of the verified chain, the leaf and the trust anchor
  // included: 2 when the leaf was issued directly by a CA of tls.ca_file.
  // 0 when not read from a handshake (read_certificate_file).
  int chain_length = 0;
};

// `native_ssl` is the connection's SSL* (as from Asio's native_handle()).
// nullopt when the peer presented no certificate or it did not verify.
std::optional<PeerCertificate> peer_certificate(void* native_ssl);

// The first certificate of a PEM file, read as peer_certificate reads a
// peer's (chain_length 0): for tools and tests. Error codes: "not_found",
// "bad_cert_file".
Result<PeerCertificate> read_certificate_file(const std::filesystem::path& pem);

// Why a verified certificate cannot identify a caller whatever the
// principals say, as the code and message of a 401; nullopt when it can.
// Checked in this order: exactly one CN ("client_certificate_cn_not_unique"),
// the clientAuth extended key usage ("client_certificate_not_for_client_auth"),
// and a chain of at most `verify_depth` CA certificates above the leaf,
// the trust anchor counted ("client_certificate_chain_too_long"; 1: issued
// directly by a CA of tls.ca_file; a chain_length below 2 is refused too).
struct CertificateRefusal {
  std::string code;
  std::string message;
};
std::optional<CertificateRefusal> client_certificate_refusal(const PeerCertificate& peer, int verify_depth);

}  // namespace hfv::crypto
