// Development PKI for `brokerd init`: a CA, a server certificate and client
// certificates, all ECDSA P-256 / SHA-256. For development and demos only;
// a centre uses certificates from its own CA.
// Thread-safety: functions are thread-safe (they touch only their files).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hfv::crypto {

struct DevPkiOptions {
  std::filesystem::path dir;                 // created if missing (0700)
  std::vector<std::string> server_dns{"localhost"};
  std::vector<std::string> server_ips{"127.0.0.1", "::1"};
  std::vector<std::string> client_names;     // subject CN of each client cert
  int validity_days = 825;
};

struct DevPkiReport {
  std::vector<std::filesystem::path> created;  // files written now
  std::vector<std::filesystem::path> kept;     // files that existed and were left alone
};

// Files: ca.pem, ca.key, server.pem, server.key, <client>.pem, <client>.key.
// Keys are written 0600 and never overwritten. Per item: if both files exist
// they are kept; if the key exists but not the certificate, a certificate is
// issued for the existing key; if a certificate exists without its key, that
// is an error ("pki_inconsistent"). Certificates are 0644.
Result<DevPkiReport> create_dev_pki(const DevPkiOptions& options);

// Who is on the other end of a TLS connection, read from its verified
// certificate.
struct PeerCertificate {
  std::string subject_cn;
  std::string issuer_cn;
  std::string sha256_fingerprint;  // lowercase hex of the DER certificate
};

// `native_ssl` is the connection's SSL* (as from Asio's native_handle()).
// nullopt when the peer presented no certificate.
std::optional<PeerCertificate> peer_certificate(void* native_ssl);

}  // namespace hfv::crypto
