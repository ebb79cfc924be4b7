// Options: the agency-sim command line, parsed without side effects so it
// can be unit-tested. See usage() and simulator/README.md.
//
// Ownership: plain value. Thread-safety: parse_options is reentrant.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hfv::sim {

struct Options {
  std::filesystem::path dataset;
  std::string listen_host;          // IP literal, brackets removed for IPv6
  unsigned short listen_port = 0;   // 0: ephemeral
  std::filesystem::path port_file;  // empty: none
  std::filesystem::path tls_cert;   // with tls_key: HTTPS only
  std::filesystem::path tls_key;
  std::filesystem::path tls_client_ca;               // non-empty: client certificates required
  std::optional<std::chrono::milliseconds> latency;  // overrides every agency's latency
  std::filesystem::path request_log;                 // empty: none
  std::uint64_t seed = 0;
  bool help = false;

  bool tls() const { return !tls_cert.empty(); }
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `args` excludes the program name. Throws UsageError.
Options parse_options(std::span<const std::string_view> args);
std::string usage();

}  // namespace hfv::sim
