// hfv-witness: a C2SP tlog-witness for brokers' audit logs (witness.hpp).
//   hfv-witness --init-key FILE --name NAME   new Ed25519 key (0600); prints the vkey
//   hfv-witness --vkey --config FILE           prints the configured witness's vkey
//   hfv-witness --config FILE                  runs the witness
// Plain HTTP, one I/O thread: put it behind a TLS reverse proxy when it is
// reached over a network (docs/operations.md, "Audit witnesses"). Each
// request and each refusal is logged as one JSON line on stderr.
#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/files.hpp"
#include "common/time.hpp"
#include "witness/witness.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using hfv::witness::Witness;
using hfv::witness::WitnessAnswer;

constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr auto kIoTimeout = std::chrono::seconds(10);
constexpr std::size_t kBodyLimit = std::size_t{64} * 1024;

void log_event(const char* level, const char* event, nlohmann::json fields) {
  fields["ts"] = hfv::utc_timestamp_now();
  fields["level"] = level;
  fields["event"] = event;
  (void)std::fprintf(stderr, "%s\n",
               fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  (void)std::fflush(stderr);
}

WitnessAnswer route(Witness& witness, const http::request<http::string_body>& req) {
  const std::string_view target(req.target().data(), req.target().size());
  if (target == "/add-checkpoint") {
    if (req.method() != http::verb::post) return {405, "text/plain; charset=utf-8", "POST only\n", "method"};
    return witness.add_checkpoint(req.body(),
                                  static_cast<std::uint64_t>(hfv::unix_seconds_now()));
  }
  // GET /<64 hex>/checkpoint
  constexpr std::string_view kSuffix = "/checkpoint";
  if (target.size() == 1 + 64 + kSuffix.size() && target[0] == '/' &&
      target.substr(65) == kSuffix) {
    if (req.method() != http::verb::get) return {405, "text/plain; charset=utf-8", "GET only\n", "method"};
    return witness.latest(target.substr(1, 64));
  }
  return {404, "text/plain; charset=utf-8", "not found\n", "no such route"};
}

net::awaitable<void> serve(Witness& witness, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    beast::error_code ec;
    stream.expires_after(kIdleTimeout);
    co_await http::async_read_header(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (!ec && !parser.is_done()) {
      stream.expires_after(kIoTimeout);
      co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    }
    WitnessAnswer answer;
    bool close = false;
    if (ec == http::error::body_limit) {
      answer = {413, "text/plain; charset=utf-8", "too large\n", "body too large"};
      close = true;
    } else if (ec) {
      co_return;  // closed, timed out, or not HTTP
    } else {
      // Checks, cosigns and persists in one step on the only thread.
      answer = route(witness, parser.get());
      close = !parser.get().keep_alive();
    }
    const std::string target(parser.get().target());
    if (answer.status == 200) {
      log_event("info", "witness_request", {{"target", target}, {"status", answer.status}});
    } else {
      log_event(answer.status >= 500 ? "error" : "warn", "witness_refused",
                {{"target", target}, {"status", answer.status}, {"reason", answer.refusal}});
    }
    http::response<http::string_body> res{static_cast<http::status>(answer.status), 11};
    res.set(http::field::content_type, answer.content_type);
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(answer.body);
    res.keep_alive(!close);
    res.prepare_payload();
    stream.expires_after(kIoTimeout);
    co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
    if (ec || close) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> accept_loop(Witness& witness, tcp::acceptor& acceptor) {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted) co_return;
    if (ec) {
      net::steady_timer backoff(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await backoff.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    net::co_spawn(acceptor.get_executor(), serve(witness, std::move(socket)), net::detached);
  }
}

int usage() {
  (void)std::fprintf(stderr,
               "usage: hfv-witness --init-key FILE --name NAME\n"
               "       hfv-witness --vkey --config FILE\n"
               "       hfv-witness --config FILE\n");
  return 2;
}

int run(const std::string& config_file, bool print_vkey) {
  auto config = hfv::witness::load_witness_config(config_file);
  if (!config) {
    (void)std::fprintf(stderr, "hfv-witness: %s\n", config.error().message.c_str());
    return 1;
  }
  auto signer = hfv::crypto::Ed25519Signer::load(config->key_file);
  if (!signer) {
    (void)std::fprintf(stderr, "hfv-witness: key_file %s: %s\n", config->key_file.string().c_str(),
                 signer.error().message.c_str());
    return 1;
  }
  auto witness = Witness::open(config->name, std::move(*signer), config->logs, config->state_file);
  if (!witness) {
    (void)std::fprintf(stderr, "hfv-witness: %s\n", witness.error().message.c_str());
    return 1;
  }
  const std::string vkey = hfv::audit::note::vkey_text(witness->verifier());
  if (print_vkey) {
    (void)std::printf("%s\n", vkey.c_str());
    return 0;
  }
  net::io_context io(1);
  beast::error_code ec;
  const auto address = net::ip::make_address(config->listen_address, ec);
  if (ec) {
    (void)std::fprintf(stderr, "hfv-witness: listen: %s is not an IP address\n", config->listen_address.c_str());
    return 1;
  }
  tcp::acceptor acceptor(io);
  const tcp::endpoint endpoint(address, config->port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    (void)std::fprintf(stderr, "hfv-witness: cannot listen on %s:%u: %s\n", config->listen_address.c_str(),
                 config->port, ec.message().c_str());
    return 1;
  }
  const unsigned port = acceptor.local_endpoint().port();
  if (!config->port_file.empty()) {
    if (auto s = hfv::replace_file_atomically(config->port_file, std::to_string(port) + "\n", 0644); !s) {
      (void)std::fprintf(stderr, "hfv-witness: port_file: %s\n", s.error().message.c_str());
      return 1;
    }
  }
  log_event("info", "witness_started",
            {{"name", config->name}, {"vkey", vkey}, {"port", port}, {"logs", config->logs.size()}});
  net::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const beast::error_code& signal_ec, int) {
    if (signal_ec) return;
    // Every answer was persisted before it was sent: stopping at once loses nothing.
    log_event("info", "witness_stopping", nlohmann::json::object());
    io.stop();
  });
  net::co_spawn(io, accept_loop(*witness, acceptor), net::detached);
  io.run();
  return 0;
}

}  // namespace

namespace {

int witness_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string config_file, init_key, name;
  bool print_vkey = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool has_value = i + 1 < args.size();
    if (args[i] == "--config" && has_value) {
      config_file = args[++i];
    } else if (args[i] == "--init-key" && has_value) {
      init_key = args[++i];
    } else if (args[i] == "--name" && has_value) {
      name = args[++i];
    } else if (args[i] == "--vkey") {
      print_vkey = true;
    } else {
      return usage();
    }
  }
  if (!init_key.empty()) {
    if (!hfv::audit::note::valid_key_name(name)) {
      (void)std::fprintf(stderr, "hfv-witness: --name must be printable ASCII without spaces or '+', "
                           "e.g. audit-office.example/witness\n");
      return 2;
    }
    if (auto s = hfv::crypto::create_ed25519_key_file(init_key); !s) {
      (void)std::fprintf(stderr, "hfv-witness: %s: %s\n", init_key.c_str(), s.error().message.c_str());
      return 1;
    }
    auto signer = hfv::crypto::Ed25519Signer::load(init_key);
    if (!signer) {
      (void)std::fprintf(stderr, "hfv-witness: %s: %s\n", init_key.c_str(), signer.error().message.c_str());
      return 1;
    }
    (void)std::printf("%s\n", hfv::audit::note::vkey_text(hfv::audit::note::make_verifier(
                            name, hfv::audit::note::KeyType::kCosignatureV1, signer->public_key()))
                            .c_str());
    return 0;
  }
  if (config_file.empty()) return usage();
  return run(config_file, print_vkey);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return witness_main(argc, argv);
  } catch (const std::exception& e) {
    (void)std::fprintf(stderr, "hfv-witness: %s\n", e.what());
    return 1;
  }
}
