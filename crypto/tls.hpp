// TLS helpers that need OpenSSL directly: certificate revocation lists.
// A centre revokes a client certificate by publishing a CRL signed by its
// CA; the daemon loads it and refuses revoked certificates at the handshake.
// Thread-safety: functions touch only their arguments and files.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hfv::crypto {

// What a loaded CRL says about its own validity (seconds since the epoch).
struct CrlValidity {
  std::optional<std::int64_t> next_update;  // absent: the CRL names no next update
};

// Loads a PEM CRL into a server TLS context (`native_ssl_ctx` is the SSL_CTX*
// from Asio's ssl::context::native_handle()) and turns on CRL checking for
// the leaf certificate. Error codes: "not_found", "bad_crl"; messages name
// the file.
Result<CrlValidity> load_crl(void* native_ssl_ctx, const std::filesystem::path& crl_pem);

// The notAfter of the first certificate in a PEM file, in seconds since the
// epoch. Error codes: "not_found", "bad_cert_file"; messages name the file.
Result<std::int64_t> certificate_not_after(const std::filesystem::path& cert_pem);

// Writes a CRL (PEM, next update `validity` from now) signed by the CA in
// ca_cert/ca_key, listing the serial numbers of the given certificates.
// Replaces out_pem. Error codes: "not_found", "bad_cert_file",
// "key_file_mode", "crypto_error".
Status write_crl(const std::filesystem::path& ca_cert, const std::filesystem::path& ca_key,
                 const std::vector<std::filesystem::path>& revoked_certs, const std::filesystem::path& out_pem,
                 std::chrono::seconds validity = std::chrono::hours(24 * 30));

}  // namespace hfv::crypto
