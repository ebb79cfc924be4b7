// TlsStream: the server side of one TLS connection, OpenSSL driven directly
// on the socket's descriptor (non-blocking) instead of through Asio's
// ssl::stream (issue 20). Asio's stream keeps two 17 KiB record buffers and
// a BIO pair of two more for its whole life, about 68 KiB before the first
// request byte; here OpenSSL reads and writes the socket itself, and with
// SSL_MODE_RELEASE_BUFFERS (set on the server's context) an idle
// connection holds only its SSL object.
//
// When OpenSSL wants the socket readable or writable (SSL_ERROR_WANT_READ /
// WANT_WRITE), an operation waits with socket.async_wait and tries again.
// It meets Beast's AsyncReadStream and AsyncWriteStream, so http::async_read
// and http::async_write work on it; completions never run inside the
// initiating call. Errors are values: end of stream is net::error::eof, a
// peer that closed without close_notify net::ssl::error::stream_truncated,
// OpenSSL's own errors in Asio's SSL category.
//
// Timeouts as beast::tcp_stream has them: expires_after/expires_at arm one
// deadline for whatever operations follow; when it passes, the pending
// operation (or the next one started) ends with beast::error::timeout.
// cancel() ends the pending operations with net::error::operation_aborted
// (the deadline stays armed).
//
// Owns the socket (closed on destruction) and the SSL object, and does not
// move (its operations refer to it); shares the SSL_CTX (the caller keeps
// it alive as long as the stream). The peer certificate is read through
// native_handle().
//
// It sits beside the server rather than in crypto/ because it is Asio I/O;
// its OpenSSL calls are all in tls_stream.cpp (server.cpp already sets up
// the context through OpenSSL).
//
// Threading: not thread-safe; use from the socket's executor only. At most
// one read (async_read_some or async_handshake or async_shutdown) and one
// write (async_write_some) outstanding at a time, as for any Asio stream;
// the server uses one operation at a time.
#pragma once

#include <utility>

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

struct ssl_st;
struct ssl_ctx_st;

namespace hfv::broker {

class TlsStream {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  // `context` is an SSL_CTX* (from boost::asio::ssl::context::native_handle()).
  // A stream whose SSL object could not be made fails every operation.
  TlsStream(boost::asio::ip::tcp::socket socket, ssl_ctx_st* context);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return core_->socket.get_executor(); }
  ssl_st* native_handle() { return ssl_; }

  void expires_after(std::chrono::steady_clock::duration after);
  void expires_at(std::chrono::steady_clock::time_point at);
  void expires_never();
  void cancel();

  // What an operation wants next: done, or the socket readable or writable.
  enum class Want { kDone, kRead, kWrite };

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return run<void(boost::system::error_code, std::size_t)>(
        [this, buffers](boost::system::error_code& ec, std::size_t& n) {
          return read_step(first_buffer<boost::asio::mutable_buffer>(buffers), ec, n);
        },
        std::forward<Token>(token));
  }
  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return run<void(boost::system::error_code, std::size_t)>(
        [this, buffers, joined = coalesce(buffers)](boost::system::error_code& ec, std::size_t& n) {
          return write_step(joined.empty() ? first_buffer<boost::asio::const_buffer>(buffers)
                                           : boost::asio::const_buffer(joined.data(), joined.size()),
                            ec, n);
        },
        std::forward<Token>(token));
  }
  // The server's side of the handshake.
  template <typename Token>
  auto async_handshake(Token&& token) {
    return run<void(boost::system::error_code)>(
        [this](boost::system::error_code& ec, std::size_t&) { return handshake_step(ec); },
        std::forward<Token>(token));
  }
  // Completes when bytes can be read: decrypted ones already held, or the
  // socket readable (a record may still turn out to carry no data). Lets a
  // caller allocate its read buffer only once something arrives.
  template <typename Token>
  auto async_wait_readable(Token&& token) {
    return run<void(boost::system::error_code)>(
        [this, waited = false](boost::system::error_code&, std::size_t&) mutable {
          if (waited || has_pending()) return Want::kDone;
          waited = true;
          return Want::kRead;
        },
        std::forward<Token>(token));
  }
  // Sends close_notify and waits for the peer's (bound it with a deadline).
  template <typename Token>
  auto async_shutdown(Token&& token) {
    return run<void(boost::system::error_code)>(
        [this](boost::system::error_code& ec, std::size_t&) { return shutdown_step(ec); },
        std::forward<Token>(token));
  }

 private:
  // What a deadline's timer handler may touch: it holds only a weak
  // reference, so a handler that runs after the stream is gone does nothing.
  struct Core {
    explicit Core(boost::asio::ip::tcp::socket s)
        : socket(std::move(s)), timer(socket.get_executor()) {}
    boost::asio::ip::tcp::socket socket;
    boost::asio::steady_timer timer;
    std::uint64_t deadline_generation = 0;  // which armed deadline the timer's wait is for
    bool timed_out = false;
  };

  // One OpenSSL call each; in tls_stream.cpp.
  Want read_step(boost::asio::mutable_buffer buffer, boost::system::error_code& ec, std::size_t& n);
  Want write_step(boost::asio::const_buffer buffer, boost::system::error_code& ec, std::size_t& n);
  Want handshake_step(boost::system::error_code& ec);
  Want shutdown_step(boost::system::error_code& ec);
  bool has_pending() const;
  void arm_deadline();
  // The error an operation reports when its wait for the socket failed.
  boost::system::error_code wait_error(const boost::system::error_code& ec) const;

  // OpenSSL writes one buffer per call, the first that is not empty; a
  // sequence of several (Beast's header, one buffer per field, and the
  // body) is first copied into one, up to a record's worth, as
  // beast::flat_stream did in front of Asio's stream: an answer's header
  // leaves in one record and one send, not a record per field (and a peer
  // never sees part of a header block). The copy lives as long as the
  // operation; empty when a single buffer is written as it is.
  static constexpr std::size_t kMaxCoalesce = 16 * 1024;  // a TLS record's plaintext
  template <typename Buffers>
  static std::vector<char> coalesce(const Buffers& buffers) {
    std::size_t non_empty = 0;
    std::size_t total = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::const_buffer buffer = *it;
      if (buffer.size() == 0) continue;
      ++non_empty;
      total += buffer.size();
    }
    if (non_empty < 2) return {};
    std::vector<char> joined(std::min(total, kMaxCoalesce));
    boost::asio::buffer_copy(boost::asio::buffer(joined), buffers);
    return joined;
  }
  template <typename Buffer, typename Buffers>
  static Buffer first_buffer(const Buffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const Buffer buffer = *it;
      if (buffer.size() != 0) return buffer;
    }
    return Buffer{};
  }

  // One operation: a step, a wait for the socket while OpenSSL wants it,
  // again; a result ready at once is posted, never completed inline.
  template <typename Step, bool kWithBytes>
  struct Op {
    Op(TlsStream& s, Step st) : stream(s), step(std::move(st)) {}
    TlsStream& stream;
    Step step;
    enum class State { kStart, kWaiting, kPosted } state = State::kStart;
    boost::system::error_code result;
    std::size_t bytes = 0;

    template <typename Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      if (state == State::kPosted) return finish(self);
      if (state == State::kWaiting && ec) {
        result = stream.wait_error(ec);
        return finish(self);
      }
      Want want = Want::kDone;
      if (stream.core_->timed_out) {
        result = stream.wait_error(boost::asio::error::operation_aborted);
      } else {
        want = step(result, bytes);
      }
      if (want != Want::kDone) {
        state = State::kWaiting;
        stream.core_->socket.async_wait(want == Want::kRead
                                            ? boost::asio::ip::tcp::socket::wait_read
                                            : boost::asio::ip::tcp::socket::wait_write,
                                        std::move(self));
        return;
      }
      if (state == State::kStart) {
        state = State::kPosted;
        boost::asio::post(stream.get_executor(), std::move(self));
        return;
      }
      finish(self);
    }
    template <typename Self>
    void finish(Self& self) {
      if constexpr (kWithBytes) {
        self.complete(result, bytes);
      } else {
        self.complete(result);
      }
    }
  };

  template <typename Signature, typename Step, typename Token>
  auto run(Step step, Token&& token) {
    constexpr bool kWithBytes =
        std::is_same_v<Signature, void(boost::system::error_code, std::size_t)>;
    return boost::asio::async_compose<Token, Signature>(
        Op<Step, kWithBytes>(*this, std::move(step)), token, core_->socket);
  }

  std::shared_ptr<Core> core_;
  ssl_st* ssl_ = nullptr;
};

}  // namespace hfv::broker
