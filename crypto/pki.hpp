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
#include "crypto/peer_identity.hpp"  // PeerCertificate, once declared here

namespace hfv::crypto {

// A client certificate shaped for a test of what the broker refuses
// (docs/security.md "Client identity"); a plain client needs only its name
// in DevPkiOptions::client_names.
struct DevClient {
  std::string name;                       // files <name>.pem and <name>.key; same rules as client_names
  std::vector<std::string> common_names;  // the subject's CN attributes in order; empty: {name}
  std::string organization = "HFV development";  // the subject's O
  // OpenSSL's list for the extended key usage ("clientAuth", "serverAuth",
  // "clientAuth,serverAuth"); empty: no extended key usage extension.
  std::string extended_key_usage = "clientAuth";
  // Issued by intermediate-ca.pem (a CA under ca.pem, created when first
  // needed) instead of ca.pem; <name>.pem then holds the certificate and
  // the intermediate's, the chain a client presents.
  bool from_intermediate = false;
};

struct DevPkiOptions {
  std::filesystem::path dir;                 // created if missing (0700)
  std::vector<std::string> server_dns{"localhost"};
  std::vector<std::string> server_ips{"127.0.0.1", "::1"};
  std::vector<std::string> client_names;     // subject CN of each client cert (O "HFV development", clientAuth)
  std::vector<DevClient> clients;            // more client certificates, each as described
  int validity_days = 825;
};

struct DevPkiReport {
  std::vector<std::filesystem::path> created;  // files written now
  std::vector<std::filesystem::path> kept;     // files that existed and were left alone
};

// Files: ca.pem, ca.key, server.pem, server.key, <client>.pem, <client>.key
// (and intermediate-ca.pem, intermediate-ca.key when a client is issued
// from the intermediate). Client certificates carry the extended key usage
// clientAuth (unless a DevClient says otherwise), which the broker requires.
// Keys are written 0600 and never overwritten. Per item: if both files exist
// they are kept; if the key exists but not the certificate, a certificate is
// issued for the existing key; if a certificate exists without its key, that
// is an error ("pki_inconsistent"). Certificates are 0644.
Result<DevPkiReport> create_dev_pki(const DevPkiOptions& options);

}  // namespace hfv::crypto
