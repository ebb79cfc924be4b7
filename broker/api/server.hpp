// Server: the HTTPS listener (Boost.Beast over Asio, TLS 1.2+). One coroutine
// per connection; a timeout before every I/O step; a body limit on every
// parser. Client certificates are verified against the centre's CA during
// the handshake; a connection without one is still served so that the
// Service can answer 401 (and audit it) instead of a bare TLS alert.
//
// While a synchronous verification runs, its connection is watched: a
// caller that disconnects cancels the verification's outstanding agency
// queries (ApiRequest::cancel).
//
// Hostile clients (issue 20): connections beyond the configured "limits"
// (in all, and per client address) are closed as soon as accepted, before
// any TLS work, and counted in /metrics. A connection that has sent
// nothing yet is a socket, a timer and a small coroutine frame (well under
// 8 KiB): the TLS stream and its SSL object come only once its first byte
// arrives, which must be within the handshake timeout. The TLS stream is our
// own (tls_stream.hpp: OpenSSL on the socket, no record buffers of its
// own), SSL objects release their buffers while idle
// (SSL_MODE_RELEASE_BUFFERS), and a connection between requests holds no
// HTTP buffer or parser: those live in the frame of one request, begun once
// its first byte arrives. Memory freed by a burst of connections goes back
// to the system when it is over (ConnectionLimits).
//
// Threading: runs on one io_context thread together with the Service.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "broker/ops/config.hpp"
#include "broker/api/connection_limits.hpp"
#include "broker/api/service.hpp"
#include "broker/api/tls_stream.hpp"
#include "common/async_event.hpp"
#include "common/cancellation.hpp"
#include "common/result.hpp"
#include "crypto/peer_identity.hpp"

namespace hfv::broker {

// What the TLS material in use says about its own expiry (seconds since the
// epoch), for warnings and /metrics.
struct TlsFacts {
  std::int64_t server_not_after = 0;
  std::optional<std::int64_t> crl_next_update;  // absent: no CRL, or it names no next update
};

class Server {
 public:
  Server(boost::asio::io_context& io, const Config& config, Service& service);
  // Loads the TLS material, binds and starts accepting; writes the port file.
  Status start();

  // A TLS context built from `settings`, every file loaded and checked (the
  // key matches the certificate; errors name the file and its key). Safe on
  // any thread: it touches nothing of a Server.
  struct PreparedTls {
    std::shared_ptr<boost::asio::ssl::context> context;
    TlsFacts facts;
  };
  static Result<PreparedTls> prepare_tls(const ServerSettings& settings);
  // Connections accepted from now on use `prepared`; those open keep the
  // context they started with. On the I/O thread.
  void use_tls(PreparedTls prepared);
  const TlsFacts& tls_facts() const { return tls_facts_; }

  // Stops accepting; requests in flight finish; keep-alive ends after them.
  void stop();
  unsigned short port() const { return port_; }
  std::size_t in_flight() const { return in_flight_; }
  std::size_t connections_open() const { return limits_->open(); }

 private:
  boost::asio::awaitable<void> accept_loop();
  // Allocates the reactor's per-descriptor records for max_connections up
  // front, within `fd_limit` (none: no limit) (server.cpp says why).
  void prewarm_reactor(std::optional<std::size_t> fd_limit);
  // One read on the connection while its request is handled: an error or
  // end of stream before the answer means the caller is gone.
  struct ConnectionWatch {
    explicit ConnectionWatch(const boost::asio::any_io_executor& executor) : done(executor) {}
    AsyncEvent done;
    bool answered = false;     // set by the session before it ends the read
    bool caller_gone = false;
    std::array<char, 4096> early{};  // bytes that arrived instead (pipelining)
    std::size_t early_bytes = 0;
  };
  // A connection accepted under the limits, until its first byte (or the
  // handshake timeout): then the session. `client` is its peer's address,
  // as accept_loop read it.
  boost::asio::awaitable<void> await_first_byte(boost::asio::ip::tcp::socket socket, ConnectionLimits::Slot slot,
                                                boost::asio::ip::address client);
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket, boost::asio::ip::address client,
                                       std::chrono::steady_clock::time_point handshake_deadline);
  // Reads one request (its first bytes have arrived, or are in `buffer`),
  // answers it; true when the connection stays open for the next.
  boost::asio::awaitable<bool> serve_request(TlsStream& stream, boost::beast::flat_buffer& buffer,
                                             const std::optional<crypto::PeerCertificate>& peer,
                                             const std::string& client_address);
  // A warning line for refused connections, at most one a minute (with the
  // counts since the last); /metrics counts every one.
  void log_refusal(ConnectionRefusal reason);
  static boost::asio::awaitable<void> watch_connection(TlsStream& stream, ConnectionWatch& watch,
                                                       std::shared_ptr<Cancellation> cancel);

  boost::asio::io_context& io_;
  const Config& config_;
  Service& service_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  TlsFacts tls_facts_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  std::shared_ptr<ConnectionLimits> limits_;
  std::array<std::uint64_t, 2> refusals_unlogged_{};  // by ConnectionRefusal
  std::optional<std::chrono::steady_clock::time_point> last_refusal_log_;
};

}  // namespace hfv::broker
