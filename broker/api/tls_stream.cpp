#include "broker/api/tls_stream.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>

#include <cerrno>
#include <cstdint>

namespace hfv::broker {

namespace net = boost::asio;
using boost::system::error_code;

namespace {

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own socket BIO uses
// write(), and a peer that reset its connection would raise SIGPIPE, which
// the daemon does not ignore. Non-blocking: EAGAIN sets the retry flags,
// which SSL_get_error reports as WANT_READ / WANT_WRITE.
// The BIO's data is the stream's socket, which outlives the SSL object.
int fd_of(BIO* bio) {
  return static_cast<net::ip::tcp::socket*>(BIO_get_data(bio))->native_handle();
}

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

int bio_write(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  const ssize_t sent = ::send(fd_of(bio), data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  if (sent < 0 && would_block(errno)) BIO_set_retry_write(bio);
  return static_cast<int>(sent);
}

int bio_read(BIO* bio, char* data, int size) {
  BIO_clear_retry_flags(bio);
  const ssize_t got = ::recv(fd_of(bio), data, static_cast<std::size_t>(size), 0);
  if (got < 0 && would_block(errno)) BIO_set_retry_read(bio);
  return static_cast<int>(got);
}

long bio_ctrl(BIO*, int command, long, void*) { return command == BIO_CTRL_FLUSH ? 1 : 0; }

// Made once, on first use (thread-safe static), kept for the process's life.
BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "hfv-socket");
    if (m == nullptr) return m;
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    return m;
  }();
  return method;
}

// The error of a failed OpenSSL call, as Asio's SSL stream reports it.
error_code ssl_error(SSL* ssl, int result) {
  const int kind = SSL_get_error(ssl, result);
  const unsigned long queued = ERR_get_error();
  ERR_clear_error();
  if (kind == SSL_ERROR_ZERO_RETURN) return net::error::eof;  // the peer's close_notify
  if (kind == SSL_ERROR_SYSCALL && queued == 0) {
    return errno != 0 ? error_code(errno, boost::system::system_category())
                      : error_code(net::ssl::error::stream_truncated);
  }
  if (kind == SSL_ERROR_SSL && ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    return net::ssl::error::stream_truncated;
  }
  if (queued == 0) return net::ssl::error::unspecified_system_error;
  return error_code(static_cast<int>(queued), net::error::get_ssl_category());
}

// What a failed call wants: the socket, or nothing more (ec set).
TlsStream::Want want_or_error(SSL* ssl, int result, error_code& ec) {
  switch (SSL_get_error(ssl, result)) {
    case SSL_ERROR_WANT_READ:
      return TlsStream::Want::kRead;
    case SSL_ERROR_WANT_WRITE:
      return TlsStream::Want::kWrite;
    default:
      ec = ssl_error(ssl, result);
      return TlsStream::Want::kDone;
  }
}

}  // namespace

TlsStream::TlsStream(net::ip::tcp::socket socket, ssl_ctx_st* context)
    : core_(std::make_shared<Core>(std::move(socket))) {
  error_code ec;
  core_->socket.non_blocking(true, ec);
  BIO_METHOD* method = socket_method();
  if (ec || method == nullptr) return;
  ssl_ = SSL_new(context);
  BIO* bio = BIO_new(method);
  if (ssl_ == nullptr || bio == nullptr) {
    SSL_free(ssl_);
    BIO_free(bio);
    ssl_ = nullptr;
    return;
  }
  BIO_set_data(bio, &core_->socket);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // the SSL object owns it
  // A write that wanted the socket is retried with the same bytes, maybe
  // from a moved buffer; a record at a time may be written.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_accept_state(ssl_);
}

TlsStream::~TlsStream() {
  SSL_free(ssl_);
  // The socket closes now; the timer goes with core_, and a deadline's
  // handler still queued finds core_ gone (it holds a weak reference).
  error_code ignored;
  core_->socket.close(ignored);
}

void TlsStream::expires_after(std::chrono::steady_clock::duration after) {
  core_->timer.expires_after(after);
  arm_deadline();
}

void TlsStream::expires_at(std::chrono::steady_clock::time_point at) {
  core_->timer.expires_at(at);
  arm_deadline();
}

void TlsStream::expires_never() {
  ++core_->deadline_generation;
  core_->timed_out = false;
  core_->timer.cancel();
}

void TlsStream::cancel() {
  error_code ignored;
  core_->socket.cancel(ignored);
}

void TlsStream::arm_deadline() {
  const std::uint64_t generation = ++core_->deadline_generation;
  core_->timed_out = false;
  // A wait the new expiry replaced ends with operation_aborted; one that
  // had already fired is told apart by its generation.
  core_->timer.async_wait([weak = std::weak_ptr<Core>(core_), generation](const error_code& ec) {
    if (ec) return;
    const auto core = weak.lock();
    if (!core || core->deadline_generation != generation) return;
    core->timed_out = true;
    error_code ignored;
    core->socket.cancel(ignored);
  });
}

error_code TlsStream::wait_error(const error_code& ec) const {
  if (ec == net::error::operation_aborted && core_->timed_out) return boost::beast::error::timeout;
  return ec;
}

namespace {

// One SSL_read_ex or SSL_write_ex over a buffer: `transfer` is either.
template <typename Transfer, typename Data>
TlsStream::Want transfer_step(SSL* ssl, Transfer transfer, Data* data, std::size_t size, error_code& ec,
                              std::size_t& n) {
  if (ssl == nullptr) {
    ec = net::error::no_memory;
    return TlsStream::Want::kDone;
  }
  if (size == 0) return TlsStream::Want::kDone;
  ERR_clear_error();
  const int result = transfer(ssl, data, size, &n);
  if (result == 1) return TlsStream::Want::kDone;
  n = 0;
  return want_or_error(ssl, result, ec);
}

}  // namespace

TlsStream::Want TlsStream::read_step(net::mutable_buffer buffer, error_code& ec, std::size_t& n) {
  return transfer_step(ssl_, SSL_read_ex, buffer.data(), buffer.size(), ec, n);
}

TlsStream::Want TlsStream::write_step(net::const_buffer buffer, error_code& ec, std::size_t& n) {
  return transfer_step(ssl_, SSL_write_ex, buffer.data(), buffer.size(), ec, n);
}

TlsStream::Want TlsStream::handshake_step(error_code& ec) {
  if (ssl_ == nullptr) {
    ec = net::error::no_memory;
    return Want::kDone;
  }
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_);
  if (result == 1) return Want::kDone;
  return want_or_error(ssl_, result, ec);
}

bool TlsStream::has_pending() const { return ssl_ != nullptr && SSL_has_pending(ssl_) == 1; }

TlsStream::Want TlsStream::shutdown_step(error_code& ec) {
  if (ssl_ == nullptr) {
    ec = net::error::no_memory;
    return Want::kDone;
  }
  // 0: our close_notify is out, the peer's not yet in: the next call reads
  // for it (WANT_READ while it has not come).
  for (int attempt = 0; attempt < 2; ++attempt) {
    ERR_clear_error();
    const int result = SSL_shutdown(ssl_);
    if (result == 1) return Want::kDone;
    if (result < 0) return want_or_error(ssl_, result, ec);
  }
  return Want::kDone;  // no close_notify from the peer in time: we are done anyway
}

}  // namespace hfv::broker
