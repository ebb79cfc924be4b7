// Server: agency-sim's network side. An HTTP/1.1 (or, with --tls-cert,
// HTTPS-only, TLS 1.2+, optionally mutual-TLS) listener on Boost.Beast over
// Asio. One coroutine per connection; keep-alive; a header and body limit on
// every parser; a timeout on every I/O step. It hands each request to the
// Router and carries out the Decision: waits out the latency on a timer,
// then answers, holds the connection without answering (timeout fault) or
// aborts it (reset fault). Nothing here blocks the loop, so thousands of
// slow requests can be in flight at once.
//
// Ownership: borrows the io_context, Router, Options and RequestLog, which
// must outlive it. Thread-safety: single-threaded; everything, including
// stop(), runs on the io_context's one thread.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include "simulator/options.hpp"
#include "simulator/request_log.hpp"
#include "simulator/router.hpp"

namespace hfv::sim {

class Server {
 public:
  Server(boost::asio::io_context& io, Router& router, const Options& options,
         RequestLog* request_log);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the TLS material, binds, listens, writes the port file atomically
  // and starts accepting. Throws std::runtime_error on failure.
  void start();
  // Stops accepting and closes every connection (requests in flight get no
  // answer). `on_drained` runs once the last connection coroutine has ended.
  void stop(std::function<void()> on_drained);

  unsigned short port() const { return port_; }
  // "http://127.0.0.1:PORT" (or https).
  std::string url() const;

 private:
  class ConnectionSlot;

  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> run_connection(boost::asio::ip::tcp::socket socket);
  template <class Stream>
  boost::asio::awaitable<void> serve(Stream& stream, boost::asio::steady_timer& timer);
  void write_port_file() const;
  void maybe_drained();

  boost::asio::io_context& io_;
  Router& router_;
  const Options& options_;
  RequestLog* request_log_;
  std::optional<boost::asio::ssl::context> tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  bool accepting_ = false;
  bool stopping_ = false;
  std::uint64_t next_connection_ = 0;
  // How to close each live connection, for stop().
  std::unordered_map<std::uint64_t, std::function<void()>> closers_;
  std::function<void()> on_drained_;
};

}  // namespace hfv::sim
