#include "broker/api/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <filesystem>
#include <optional>
#include <variant>
#include <vector>

#include "broker/api/routes.hpp"
#include "broker/ops/log.hpp"
#include "broker/ops/metrics.hpp"
#include "common/files.hpp"
#include "crypto/peer_identity.hpp"
#include "crypto/tls.hpp"

namespace hfv::broker {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr auto kRefusalLogInterval = std::chrono::seconds(60);
// Descriptors the daemon holds besides its client connections (databases,
// logs, agency connections): the headroom kept below RLIMIT_NOFILE.
constexpr std::size_t kOwnDescriptors = 64;
}  // namespace

Server::Server(net::io_context& io, const Config& config, Service& service)
    : io_(io),
      config_(config),
      service_(service),
      acceptor_(io),
      limits_(ConnectionLimits::create(config.server.max_connections, config.server.max_connections_per_address,
                                       service.metrics())) {}

Result<Server::PreparedTls> Server::prepare_tls(const ServerSettings& settings) {
  PreparedTls prepared;
  prepared.context = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
  net::ssl::context& tls = *prepared.context;
  boost::system::error_code ec;
  tls.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                  net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                  net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use, ec);
  if (ec) return make_error("tls_setup", "TLS options could not be set: " + ec.message());
  // Each file is named when it fails: an operator rotating one file at a
  // time sees which.
  auto step = [&](const char* what, const std::filesystem::path& file) -> Status {
    if (!ec) return {};
    return make_error("tls_setup", std::string(what) + " " + file.string() + " could not be loaded: " + ec.message());
  };
  tls.use_certificate_chain_file(settings.tls_cert_file.string(), ec);
  if (auto s = step("tls.cert_file", settings.tls_cert_file); !s) return s.error();
  tls.use_private_key_file(settings.tls_key_file.string(), net::ssl::context::pem, ec);
  if (auto s = step("tls.key_file", settings.tls_key_file); !s) return s.error();
  if (SSL_CTX_check_private_key(tls.native_handle()) != 1) {
    return make_error("tls_setup", "tls.key_file " + settings.tls_key_file.string() +
                                       " is not the key of tls.cert_file " + settings.tls_cert_file.string());
  }
  tls.load_verify_file(settings.tls_ca_file.string(), ec);
  if (auto s = step("tls.ca_file", settings.tls_ca_file); !s) return s.error();
  auto not_after = crypto::certificate_not_after(settings.tls_cert_file);
  if (!not_after) return make_error("tls_setup", "tls.cert_file: " + not_after.error().message);
  prepared.facts.server_not_after = *not_after;
  if (!settings.tls_crl_file.empty()) {
    auto crl = crypto::load_crl(tls.native_handle(), settings.tls_crl_file);
    if (!crl) return make_error("tls_setup", "tls.crl_file: " + crl.error().message);
    prepared.facts.crl_next_update = crl->next_update;
  }
  // Verify a presented certificate; do not demand one at the TLS layer so a
  // caller without one gets an audited 401 rather than a handshake alert.
  tls.set_verify_mode(net::ssl::verify_peer);
  // A CRL past its nextUpdate: OpenSSL refuses every client certificate. With
  // a configured grace the last good CRL keeps serving until nextUpdate +
  // grace (revoked certificates on it are still refused); the daemon warns
  // loudly meanwhile (app/daemon.cpp).
  if (settings.crl_grace.count() > 0 && prepared.facts.crl_next_update) {
    const std::int64_t until = *prepared.facts.crl_next_update + settings.crl_grace.count();
    tls.set_verify_callback([until](bool preverified, net::ssl::verify_context& verify) {
      if (preverified) return true;
      X509_STORE_CTX* store = verify.native_handle();
      if (X509_STORE_CTX_get_error(store) == X509_V_ERR_CRL_HAS_EXPIRED && std::time(nullptr) < until) {
        X509_STORE_CTX_set_error(store, X509_V_OK);
        return true;
      }
      return false;
    });
  }
  // No session resumption: every connection verifies its client certificate
  // afresh, against the CRL as it is now. Without this, OpenSSL issued
  // TLS 1.3 tickets that it then refused to resume ("session id context
  // uninitialized", a failed handshake): a browser opening several
  // connections at once lost some of them. The context is set too, so a
  // client offering a session it holds from elsewhere gets a full handshake.
  SSL_CTX* native = tls.native_handle();
  // TLS 1.2 only with forward secrecy and an AEAD (no CBC, no static RSA);
  // TLS 1.3's suites are all of that kind.
  if (SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
    return make_error("tls_setup", "the TLS 1.2 cipher suites could not be set");
  }
  // An idle connection's SSL object frees its read and write buffers
  // (about 34 KiB) until its next record.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
  static constexpr unsigned char kSessionContext[] = "hfv-brokerd";
  if (SSL_CTX_set_num_tickets(native, 0) != 1 ||
      SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1) != 1) {
    return make_error("tls_setup", "TLS session settings could not be applied");
  }
  return prepared;
}

void Server::use_tls(PreparedTls prepared) {
  tls_ = std::move(prepared.context);
  tls_facts_ = prepared.facts;
  if (Metrics* metrics = service_.metrics()) {  // at start and at every reload
    metrics->set_tls_material("server_certificate", tls_facts_.server_not_after);
    if (tls_facts_.crl_next_update) metrics->set_tls_material("crl_next_update", *tls_facts_.crl_next_update);
    else metrics->clear_tls_material("crl_next_update");
  }
}

Status Server::start() {
  auto prepared = prepare_tls(config_.server);
  if (!prepared) return prepared.error();
  use_tls(std::move(*prepared));
  boost::system::error_code ec;
  const auto address = net::ip::make_address(config_.server.listen_address, ec);
  if (ec) return make_error("bad_config", "listen address is not an IP address");
  const tcp::endpoint endpoint(address, config_.server.listen_port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return make_error("listen_failed", "cannot listen on " + config_.server.listen_address + ":" +
                                                 std::to_string(config_.server.listen_port) + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  // Each connection is a descriptor: a limit above the process's own
  // would have accept() fail before any connection is refused.
  std::optional<std::size_t> fd_limit;
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
    fd_limit = static_cast<std::size_t>(files.rlim_cur);
  }
  if (fd_limit && config_.server.max_connections + kOwnDescriptors > *fd_limit) {
    log_event(LogLevel::kWarn, "max_connections_above_fd_limit",
              {{"max_connections", config_.server.max_connections},
               {"fd_limit", static_cast<std::uint64_t>(*fd_limit)},
               {"reason", "limits.max_connections plus the daemon's own files is above RLIMIT_NOFILE (LimitNOFILE=)"}});
  }
  prewarm_reactor(fd_limit);
  if (!config_.server.port_file.empty()) {
    if (!replace_file_atomically(config_.server.port_file, std::to_string(port_) + "\n", 0644)) {
      return make_error("io_error", "cannot write the port file");
    }
  }
  net::co_spawn(io_, accept_loop(), net::detached);
  return {};
}

void Server::prewarm_reactor(std::optional<std::size_t> fd_limit) {
  // Asio's reactor keeps one small record per descriptor ever open at once,
  // in a pool it never shrinks. Made one by one as a burst of connections
  // arrives, they sit among the connections' memory and, once the burst
  // has gone, each pins a page the allocator cannot give back. Made here,
  // side by side, for as many connections as the limit lets in, they are
  // what later connections reuse.
  std::size_t budget = config_.server.max_connections + kOwnDescriptors;
  if (fd_limit) budget = std::min(budget, *fd_limit > 2 * kOwnDescriptors ? *fd_limit - 2 * kOwnDescriptors : 0);
  std::vector<tcp::socket> sockets;
  sockets.reserve(budget);
  for (std::size_t i = 0; i < budget; ++i) {
    tcp::socket socket(io_);
    boost::system::error_code ec;
    socket.open(tcp::v4(), ec);
    if (ec) break;  // out of descriptors: as many as there were
    sockets.push_back(std::move(socket));
  }
}  // closed here: their records go back to the pool

void Server::stop() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

net::awaitable<void> Server::accept_loop() {
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (stopping_ || ec == net::error::operation_aborted) break;
      log_event(LogLevel::kWarn, "accept_failed", {{"reason", ec.message()}});
      continue;
    }
    // Over a limit: closed at once, before any TLS work (the client sees
    // its connection closed).
    const tcp::endpoint peer = socket.remote_endpoint(ec);
    if (ec) continue;  // already gone; the socket closes here
    auto admitted = limits_->admit(peer.address());
    if (const auto* refused = std::get_if<ConnectionRefusal>(&admitted)) {
      socket.close(ec);
      log_refusal(*refused);
      continue;
    }
    // Answers go out as several small TLS records: without TCP_NODELAY,
    // Nagle holds the last one until the client's delayed ACK (~40 ms).
    socket.set_option(tcp::no_delay(true), ec);
    auto slot = std::get<ConnectionLimits::Slot>(std::move(admitted));
    net::co_spawn(io_, await_first_byte(std::move(socket), std::move(slot), peer.address()),
                  [](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log_event(LogLevel::kError, "session_failed", {{"reason", ex.what()}});
      }
    });
  }
}

void Server::log_refusal(ConnectionRefusal reason) {
  ++refusals_unlogged_[reason == ConnectionRefusal::kGlobalLimit ? 0 : 1];
  const auto now = std::chrono::steady_clock::now();
  if (last_refusal_log_ && now - *last_refusal_log_ < kRefusalLogInterval) return;
  last_refusal_log_ = now;
  log_event(LogLevel::kWarn, "connections_refused",
            {{"global_limit", refusals_unlogged_[0]},
             {"per_address_limit", refusals_unlogged_[1]},
             {"open", limits_->open()},
             {"max_connections", limits_->max_total()},
             {"max_connections_per_address", limits_->max_per_address()},
             {"reason", "connections over the configured limits were closed as accepted (counts since the last line;"
                        " hfv_connections_refused_total counts all)"}});
  refusals_unlogged_ = {};
}

// `slot` counts the connection against the limits for as long as this
// coroutine (and so the session it awaits) lasts.
net::awaitable<void> Server::await_first_byte(tcp::socket socket, [[maybe_unused]] ConnectionLimits::Slot slot,
                                              net::ip::address client) {
  // The whole handshake, this wait included, within limits.handshake_timeout_ms.
  const auto deadline = std::chrono::steady_clock::now() + config_.server.handshake_timeout;
  boost::system::error_code ec;
  {
    // Boost 1.74 cannot race two operations in a coroutine: the timer's
    // handler cancels the wait, and the coroutine waits for that handler
    // to have run before its frame (which the handler refers to) can go.
    const auto executor = socket.get_executor();
    AsyncEvent timer_done(executor);
    net::steady_timer timer(executor, deadline);
    timer.async_wait([&socket, &timer_done](const boost::system::error_code& timer_ec) {
      if (!timer_ec) {
        boost::system::error_code ignored;
        socket.cancel(ignored);
      }
      timer_done.set();
    });
    co_await socket.async_wait(tcp::socket::wait_read, net::redirect_error(net::use_awaitable, ec));
    timer.cancel();
    co_await timer_done.wait();
  }
  if (ec || stopping_) co_return;  // nothing sent in time, or an error: closed
  // Readable with nothing to read: the client closed without a byte (no
  // TLS stream is built just to read its end).
  if (socket.available(ec) == 0 || ec) co_return;
  co_await session(std::move(socket), client, deadline);
}

net::awaitable<void> Server::watch_connection(TlsStream& stream, ConnectionWatch& watch,
                                              std::shared_ptr<Cancellation> cancel) {
  // The answer may be ready before this coroutine first runs (a refusal
  // that waits for nothing): then there is nothing to watch, and a read
  // started now would wait for the caller's next request.
  if (watch.answered) {
    watch.done.set();
    co_return;
  }
  boost::system::error_code ec;
  watch.early_bytes =
      co_await stream.async_read_some(net::buffer(watch.early), net::redirect_error(net::use_awaitable, ec));
  // Ended by the session itself (the answer is ready): not a hang-up.
  if (ec && !watch.answered) {
    watch.caller_gone = true;
    cancel->cancel("the caller disconnected");
  }
  watch.done.set();
}

net::awaitable<void> Server::session(tcp::socket socket, net::ip::address client,
                                     std::chrono::steady_clock::time_point handshake_deadline) {
  // The context as it is now: a reload gives later connections a new one,
  // this connection keeps its own until it ends.
  const std::shared_ptr<net::ssl::context> tls = tls_;
  const std::string client_address = client.to_string();
  TlsStream stream(std::move(socket), tls->native_handle());
  boost::system::error_code ec;
  stream.expires_at(handshake_deadline);
  co_await stream.async_handshake(net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    log_event(LogLevel::kInfo, "tls_handshake_failed", {{"reason", ec.message()}});
    co_return;
  }
  const auto peer = crypto::peer_certificate(stream.native_handle());
  // Between requests the connection holds no parser and an empty buffer:
  // what a request needs is in serve_request's frame, made once its first
  // byte arrives. Bytes of a pipelined request stay in `buffer`.
  beast::flat_buffer buffer;
  for (;;) {
    stream.expires_after(kIdleTimeout);
    if (buffer.size() == 0) {
      buffer.shrink_to_fit();
      co_await stream.async_wait_readable(net::redirect_error(net::use_awaitable, ec));
      if (ec) break;  // closed or timed out
    }
    if (!co_await serve_request(stream, buffer, peer, client_address)) break;
  }
  stream.expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(net::redirect_error(net::use_awaitable, ec));
}

net::awaitable<bool> Server::serve_request(TlsStream& stream, beast::flat_buffer& buffer,
                                           const std::optional<crypto::PeerCertificate>& peer,
                                           const std::string& client_address) {
  boost::system::error_code ec;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(config_.server.max_body_bytes);
  // Under the idle deadline session() set: the whole request within it.
  co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
  bool too_large = false;
  if (ec == http::error::body_limit) {
    too_large = true;
  } else if (ec) {
    co_return false;  // closed, timed out or garbage: nothing to answer
  }
  const auto& req = parser.get();
  ApiRequest api;
  api.method = std::string(req.method_string());
  api.target = std::string(req.target());
  // The body moves: nothing below reads it from the parser again.
  if (!too_large) api.body = std::move(parser.get().body());
  api.body_too_large = too_large;
  api.peer = peer;
  api.client_address = client_address;
  if (auto it = req.find("X-Operator-Id"); it != req.end()) api.operator_id = std::string(it->value());
  if (auto it = req.find("Idempotency-Key"); it != req.end()) api.idempotency_key = std::string(it->value());
  if (auto it = req.find(http::field::accept); it != req.end()) api.accept = std::string(it->value());
  if (auto it = req.find(http::field::content_type); it != req.end()) api.content_type = std::string(it->value());

  // A verification asks agencies on the caller's behalf: while it runs,
  // the connection is watched, and a caller that hangs up calls it off
  // (ApiRequest::cancel). Bytes that arrive instead (a pipelined request)
  // end the watch and are kept for the next parse.
  std::unique_ptr<ConnectionWatch> watch;  // its 4 KiB only while a verification runs
  if (!too_large && req.method() == http::verb::post && req.target() == "/v1/verifications") {
    api.cancel = std::make_shared<Cancellation>();
    watch = std::make_unique<ConnectionWatch>(co_await net::this_coro::executor);
    stream.expires_never();  // the verification has its own deadline
    net::co_spawn(co_await net::this_coro::executor, watch_connection(stream, *watch, api.cancel), net::detached);
  }

  ApiResponse answer;
  const auto started = std::chrono::steady_clock::now();
  ++in_flight_;
  try {
    answer = co_await service_.handle(std::move(api));
  } catch (const std::exception& ex) {
    log_event(LogLevel::kError, "request_failed", {{"reason", ex.what()}});
    answer = ApiResponse{500, {{"error", "internal_error"}, {"message", "the request could not be completed"}}, {}};
    answer.endpoint = endpoint_of(req.target().substr(0, req.target().find('?')));
  }
  --in_flight_;
  const auto elapsed = std::chrono::steady_clock::now() - started;
  if (watch) {
    watch->answered = true;
    if (!watch->done.is_set()) stream.cancel();  // ends the watching read
    co_await watch->done.wait();
    if (watch->early_bytes > 0) {
      auto room = buffer.prepare(watch->early_bytes);
      net::buffer_copy(room, net::buffer(watch->early.data(), watch->early_bytes));
      buffer.commit(watch->early_bytes);
    }
  }
  // Logged by route template and configured principal name: raw paths
  // carry verification ids and certificate subjects may name people.
  const std::string_view endpoint = answer.endpoint;
  const Principal* principal = peer ? config_.principal_for(*peer) : nullptr;
  log_event(LogLevel::kInfo, "request",
            {{"method", std::string(req.method_string())},
             {"endpoint", std::string(endpoint)},
             {"status", answer.status},
             {"principal", principal != nullptr ? principal->name : (peer ? "unknown" : "none")},
             {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()}});
  if (Metrics* metrics = service_.metrics()) {
    metrics->observe_request(req.method_string(), endpoint, answer.status, elapsed);
  }
  if (watch && watch->caller_gone) co_return false;  // logged and counted above; nobody left to answer

  http::response<http::string_body> res{static_cast<http::status>(answer.status), req.version()};
  res.set(http::field::server, "hfv-brokerd");
  res.set(http::field::content_type, answer.content_type.empty() ? "application/json; charset=utf-8"
                                                                  : answer.content_type);
  // Every answer may carry personal data: no cache keeps it, and no
  // browser guesses a type other than the one declared.
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  for (const auto& [name, value] : answer.headers) res.set(name, value);
  if (answer.content_type.empty()) {
    res.body() = answer.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    res.body() = std::move(answer.raw_body);
  }
  const bool keep_alive = !too_large && !stopping_ && req.keep_alive();
  res.keep_alive(keep_alive);
  res.prepare_payload();
  stream.expires_after(kWriteTimeout);
  co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
  if (!ec && too_large) {
    // The client may still be sending the oversized body; if we closed now
    // it could see a reset instead of our 413. Discard what it sends, up to
    // a bound in bytes and time, then close.
    stream.expires_after(std::chrono::seconds(2));
    std::vector<char> sink(16384);
    std::size_t drained = 0;
    while (drained < 4 * config_.server.max_body_bytes) {
      drained += co_await stream.async_read_some(net::buffer(sink), net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
    }
  }
  co_return !ec && keep_alive;
}

}  // namespace hfv::broker
