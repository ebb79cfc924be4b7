#include "simulator/server.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "common/files.hpp"

namespace hfv::sim {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kIdleTimeout = std::chrono::seconds(60);  // waiting for the next request
constexpr auto kIoTimeout = std::chrono::seconds(30);    // reading a body, writing an answer
constexpr auto kHangLimit = std::chrono::seconds(120);   // "timeout" fault: held this long at most
constexpr auto kShutdownTimeout = std::chrono::seconds(2);
constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);
constexpr std::uint32_t kHeaderLimit = 16U * 1024U;
constexpr std::uint64_t kBodyLimit = std::uint64_t{64} * 1024;
constexpr std::size_t kSlowBodyPieces = 10;  // slow_body: the body in this many writes

// Tells the Router an agency request is done, however the serving ends.
class InFlightMark {
 public:
  InFlightMark(Router& router, std::string agency) : router_(router), agency_(std::move(agency)) {}
  ~InFlightMark() { router_.finished(agency_); }
  InFlightMark(const InFlightMark&) = delete;
  InFlightMark& operator=(const InFlightMark&) = delete;

 private:
  Router& router_;
  std::string agency_;
};

template <class T>
struct IsSsl : std::false_type {};
template <class T>
struct IsSsl<beast::ssl_stream<T>> : std::true_type {};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

void log_line(const std::string& text) { (void)std::fprintf(stderr, "agency-sim: %s\n", text.c_str()); }

Reply too_large_reply() {
  Reply r;
  r.status = 413;
  r.body = R"({"retCode":"9413","retMsg":"REQUEST TOO LARGE"})";
  return r;
}

Reply bad_http_reply() {
  Reply r;
  r.status = 400;
  r.body = R"({"retCode":"9001","retMsg":"MALFORMED HTTP REQUEST"})";
  return r;
}

}  // namespace

// Registers a connection's closer for the lifetime of its coroutine.
class Server::ConnectionSlot {
 public:
  ConnectionSlot(Server& server, std::function<void()> closer)
      : server_(server), id_(server.next_connection_++) {
    if (server_.stopping_) {
      closer();
    } else {
      server_.closers_.emplace(id_, std::move(closer));
    }
  }
  ~ConnectionSlot() {
    server_.closers_.erase(id_);
    server_.maybe_drained();
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

 private:
  Server& server_;
  std::uint64_t id_;
};

Server::Server(net::io_context& io, Router& router, const Options& options, RequestLog* request_log)
    : io_(io), router_(router), options_(options), request_log_(request_log), acceptor_(io) {}

std::string Server::url() const {
  std::string host = options_.listen_host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(tls_ ? "https" : "http") + "://" + host + ":" + std::to_string(port_);
}

void Server::start() {
  error_code ec;
  if (options_.tls()) {
    tls_.emplace(net::ssl::context::tls_server);
    tls_->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                          net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                          net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use,
                      ec);
    if (!ec && SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION) != 1) {
      throw std::runtime_error("TLS: cannot require TLS 1.2");
    }
    if (!ec) tls_->use_certificate_chain_file(options_.tls_cert.string(), ec);
    if (ec)
      throw std::runtime_error("TLS: cannot load " + options_.tls_cert.string() + ": " +
                               ec.message());
    tls_->use_private_key_file(options_.tls_key.string(), net::ssl::context::pem, ec);
    if (ec)
      throw std::runtime_error("TLS: cannot load " + options_.tls_key.string() + ": " +
                               ec.message());
    if (!options_.tls_client_ca.empty()) {
      tls_->load_verify_file(options_.tls_client_ca.string(), ec);
      if (ec) {
        throw std::runtime_error("TLS: cannot load " + options_.tls_client_ca.string() + ": " +
                                 ec.message());
      }
      // Tell clients which CA to present a certificate from.
      if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options_.tls_client_ca.c_str())) {
        SSL_CTX_set_client_CA_list(tls_->native_handle(), names);
      }
      tls_->set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);
      // Sessions may be resumed (as real agencies' servers allow, and the
      // broker's clients do): OpenSSL resumes a session whose client
      // certificate was verified only under a session id context, and
      // fails the handshake without one ("session id context uninitialized").
      static constexpr unsigned char kSessionContext[] = "hfv-agency-sim";
      if (SSL_CTX_set_session_id_context(tls_->native_handle(), kSessionContext, sizeof kSessionContext - 1) != 1) {
        throw std::runtime_error("TLS: cannot set the session id context");
      }
    } else {
      tls_->set_verify_mode(net::ssl::verify_none);
    }
  }

  const auto address = net::ip::make_address(options_.listen_host, ec);
  if (ec) throw std::runtime_error("--listen: '" + options_.listen_host + "' is not an IP address");
  const tcp::endpoint endpoint(address, options_.listen_port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + options_.listen_host + ":" +
                             std::to_string(options_.listen_port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  write_port_file();
  accepting_ = true;
  net::co_spawn(io_, accept_loop(), [](const std::exception_ptr& e) {
    if (e) std::rethrow_exception(e);  // a bug: let it end the process loudly
  });
}

void Server::write_port_file() const {
  if (options_.port_file.empty()) return;
  if (auto s = replace_file_atomically(options_.port_file, std::to_string(port_) + "\n", 0644); !s) {
    throw std::runtime_error("cannot write the port file: " + s.error().message);
  }
}

void Server::stop(std::function<void()> on_drained) {
  if (stopping_) return;
  stopping_ = true;
  on_drained_ = std::move(on_drained);
  error_code ignored;
  acceptor_.close(ignored);
  // Closing cancels the connection's pending operations; their coroutines
  // end and erase themselves from closers_, so iterate over a copy.
  auto closers = closers_;
  for (auto& [id, close] : closers) close();
  maybe_drained();
}

void Server::maybe_drained() {
  if (stopping_ && !accepting_ && closers_.empty() && on_drained_) {
    auto callback = std::move(on_drained_);
    on_drained_ = nullptr;
    callback();
  }
}

net::awaitable<void> Server::accept_loop() {
  net::steady_timer backoff(io_);
  while (!stopping_) {
    error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (stopping_) break;
    if (ec) {
      // E.g. out of file descriptors: wait a little rather than spin.
      log_line("accept failed: " + ec.message());
      backoff.expires_after(kAcceptBackoff);
      co_await backoff.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    net::co_spawn(io_, run_connection(std::move(socket)), [](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log_line(std::string("connection failed: ") + ex.what());
      }
    });
  }
  accepting_ = false;
  maybe_drained();
}

net::awaitable<void> Server::run_connection(tcp::socket socket) {
  net::steady_timer timer(io_);  // latency waits
  if (tls_) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls_);
    ConnectionSlot slot(*this, [&stream, &timer] {
      beast::get_lowest_layer(stream).close();
      timer.cancel();
    });
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
    co_await stream.async_handshake(net::ssl::stream_base::server,
                                    net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;  // no certificate, wrong CA, plain HTTP, scanner: nothing to answer
    co_await serve(stream, timer);
  } else {
    beast::tcp_stream stream(std::move(socket));
    ConnectionSlot slot(*this, [&stream, &timer] {
      stream.close();
      timer.cancel();
    });
    co_await serve(stream, timer);
  }
}

template <class Stream>
net::awaitable<void> Server::serve(Stream& stream, net::steady_timer& timer) {
  auto& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  error_code ec;
  bool graceful_close = true;  // false after a reset or when the peer is gone
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kBodyLimit);

    lowest.expires_after(kIdleTimeout);
    co_await http::async_read_header(stream, buffer, parser,
                                     net::redirect_error(net::use_awaitable, ec));
    if (!ec && iequals(parser.get()[http::field::expect], "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
      lowest.expires_after(kIoTimeout);
      co_await http::async_write(stream, go_on, net::redirect_error(net::use_awaitable, ec));
    }
    if (!ec && !parser.is_done()) {
      lowest.expires_after(kIoTimeout);
      co_await http::async_read(stream, buffer, parser,
                                net::redirect_error(net::use_awaitable, ec));
    }

    Decision decision;
    std::optional<InFlightMark> in_flight;
    bool close_after = false;
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      decision.reply = too_large_reply();
      close_after = true;
    } else if (ec == http::error::end_of_stream || ec == net::error::eof || stopping_) {
      break;
    } else if (ec.category() == make_error_code(http::error::bad_method).category()) {
      decision.reply = bad_http_reply();  // garbage on the wire: answer 400 once, then close
      close_after = true;
    } else if (ec) {
      graceful_close = false;  // timed out, reset or closed under us
      break;
    } else {
      const auto& req = parser.get();
      decision = router_.route(HttpRequestView{req.method_string(), req.target(),
                                               req[http::field::content_type], req.body()});
      if (decision.record) in_flight.emplace(router_, decision.record->agency);
      if (decision.record && request_log_ != nullptr && !request_log_->append(*decision.record)) {
        log_line("cannot write the request log");
      }
      close_after = !req.keep_alive();
    }

    if (decision.delay.count() > 0) {
      timer.expires_after(decision.delay);
      co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      if (ec || stopping_) {
        graceful_close = false;
        break;
      }
    }

    if (decision.action == Action::kReset) {
      lowest.socket().set_option(net::socket_base::linger(true, 0), ec);
      lowest.close();  // with a zero linger: RST, no FIN
      co_return;
    }
    if (decision.action == Action::kHang) {
      // Read and discard until the client gives up or kHangLimit passes.
      std::array<char, 4096> sink;
      lowest.expires_after(kHangLimit);
      for (;;) {
        co_await stream.async_read_some(net::buffer(sink),
                                        net::redirect_error(net::use_awaitable, ec));
        if (ec) break;
      }
      graceful_close = false;
      break;
    }

    const Reply& reply = decision.reply;
    const bool keep_alive = !close_after && !stopping_;
    if (decision.action == Action::kSlowBody) {
      // The header at once, with the full Content-Length; the body in pieces.
      http::response<http::empty_body> head{static_cast<http::status>(reply.status),
                                            parser.get().version() == 10 ? 10u : 11u};
      head.set(http::field::server, "hfv-agency-sim");
      head.set(http::field::content_type, reply.content_type);
      for (const auto& [name, value] : reply.headers) head.set(name, value);
      head.keep_alive(keep_alive);
      head.content_length(reply.body.size());
      http::response_serializer<http::empty_body> serializer{head};
      lowest.expires_after(kIoTimeout);
      co_await http::async_write_header(stream, serializer,
                                        net::redirect_error(net::use_awaitable, ec));
      const std::size_t piece = (reply.body.size() + kSlowBodyPieces - 1) / kSlowBodyPieces;
      const auto pause = decision.body_time / static_cast<long>(kSlowBodyPieces);
      for (std::size_t at = 0; !ec && at < reply.body.size(); at += piece) {
        timer.expires_after(pause);
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        if (ec || stopping_) break;
        lowest.expires_after(kIoTimeout);
        co_await net::async_write(
            stream, net::buffer(reply.body.data() + at, std::min(piece, reply.body.size() - at)),
            net::redirect_error(net::use_awaitable, ec));
      }
      if (ec || stopping_) {
        graceful_close = false;
        break;
      }
      if (!keep_alive) break;
      continue;
    }
    http::response<http::string_body> res{static_cast<http::status>(reply.status),
                                          parser.get().version() == 10 ? 10u : 11u};
    res.set(http::field::server, "hfv-agency-sim");
    res.set(http::field::content_type, reply.content_type);
    for (const auto& [name, value] : reply.headers) res.set(name, value);
    res.body() = reply.body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    lowest.expires_after(kIoTimeout);
    co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      graceful_close = false;
      break;
    }
    if (!keep_alive) break;
  }

  if (!graceful_close || stopping_) co_return;  // the destructors close the socket
  if constexpr (IsSsl<Stream>::value) {
    lowest.expires_after(kShutdownTimeout);
    co_await stream.async_shutdown(net::redirect_error(net::use_awaitable, ec));
  } else {
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
}

}  // namespace hfv::sim
