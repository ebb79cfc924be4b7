#include "simulator/options.hpp"

#include <charconv>
#include <limits>

namespace hfv::sim {

namespace {

constexpr std::uint64_t kMaxLatencyMs = 600'000;

std::uint64_t parse_unsigned(std::string_view text, std::uint64_t max, const std::string& what) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value > max) {
    throw UsageError(what + " must be an integer from 0 to " + std::to_string(max));
  }
  return value;
}

}  // namespace

std::string usage() {
  return "usage: agency-sim --dataset FILE --listen HOST:PORT [--port-file FILE]\n"
         "                  [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]\n"
         "                  [--latency-ms N] [--request-log FILE] [--seed N]\n"
         "Serves the agencies of a dataset file over HTTP (or HTTPS with --tls-cert).\n"
         "PORT 0 binds an ephemeral port; --port-file then receives the port number.\n";
}

Options parse_options(std::span<const std::string_view> args) {
  Options o;
  bool have_listen = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      return o;
    }
    if (i + 1 >= args.size()) throw UsageError(std::string(flag) + " needs a value");
    const std::string_view value = args[++i];
    if (flag == "--dataset") {
      o.dataset = value;
    } else if (flag == "--listen") {
      const auto colon = value.rfind(':');
      if (colon == std::string_view::npos || colon == 0) {
        throw UsageError("--listen must be HOST:PORT, e.g. 127.0.0.1:0");
      }
      std::string_view host = value.substr(0, colon);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
      }
      o.listen_host = host;
      o.listen_port = static_cast<unsigned short>(
          parse_unsigned(value.substr(colon + 1), std::numeric_limits<unsigned short>::max(),
                         "the --listen port"));
      have_listen = true;
    } else if (flag == "--port-file") {
      o.port_file = value;
    } else if (flag == "--tls-cert") {
      o.tls_cert = value;
    } else if (flag == "--tls-key") {
      o.tls_key = value;
    } else if (flag == "--tls-client-ca") {
      o.tls_client_ca = value;
    } else if (flag == "--latency-ms") {
      o.latency = std::chrono::milliseconds{
          static_cast<std::int64_t>(parse_unsigned(value, kMaxLatencyMs, "--latency-ms"))};
    } else if (flag == "--request-log") {
      o.request_log = value;
    } else if (flag == "--seed") {
      o.seed = parse_unsigned(value, std::numeric_limits<std::uint64_t>::max(), "--seed");
    } else {
      throw UsageError("unknown option " + std::string(flag));
    }
  }
  if (o.dataset.empty()) throw UsageError("--dataset is required");
  if (!have_listen) throw UsageError("--listen is required");
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    throw UsageError("--tls-cert and --tls-key go together");
  }
  if (!o.tls_client_ca.empty() && o.tls_cert.empty()) {
    throw UsageError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  return o;
}

}  // namespace hfv::sim
