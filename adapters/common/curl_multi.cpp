#include "adapters/common/curl_multi.hpp"

#include <curl/curl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "common/async_event.hpp"

namespace hfv::adapters {

namespace net = boost::asio;

namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
  });
}

HttpErrorKind classify(CURLcode code) {
  switch (code) {
    case CURLE_OK: return HttpErrorKind::kNone;
    case CURLE_OPERATION_TIMEDOUT: return HttpErrorKind::kTimeout;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return HttpErrorKind::kNetwork;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
      return HttpErrorKind::kTls;
    case CURLE_ABORTED_BY_CALLBACK: return HttpErrorKind::kCancelled;
    default: return HttpErrorKind::kOther;
  }
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  constexpr std::size_t kMaxBody = std::size_t{16} * 1024 * 1024;  // an agency answer larger than this is refused
  const std::size_t bytes = size * count;
  if (body->size() + bytes > kMaxBody) return 0;  // makes curl fail with CURLE_WRITE_ERROR
  body->append(data, bytes);
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* retry_after = static_cast<std::string*>(user);
  const std::string_view line(data, size * count);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() &&
      strncasecmp(line.data(), kName.data(), kName.size()) == 0) {
    std::string_view value = line.substr(kName.size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    retry_after->assign(value);
  }
  return size * count;
}

}  // namespace

// One transfer in flight. Lives in the awaiting coroutine's frame.
struct CurlMulti::Transfer {
  explicit Transfer(net::io_context& io) : done(io.get_executor()) {}
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  HttpResult result;
  AsyncEvent done;  // set when curl reports the transfer finished
  std::chrono::steady_clock::time_point started;
};

// A socket curl asked us to watch. Sockets curl opened through
// on_open_socket are owned here (closed by us); others (e.g. the resolver's
// wake-up pipe) are only watched and released, never closed.
struct CurlMulti::Socket {
  Socket(net::io_context& io, int fd, bool owned_fd)
      : descriptor(io, fd), owned(owned_fd), unread_possible(!owned_fd) {}
  net::posix::stream_descriptor descriptor;
  bool owned;
  int wanted = 0;  // CURL_POLL_IN / OUT / INOUT
  bool read_wait_queued = false;
  bool read_posted = false;    // on_readable is posted
  bool waiting_write = false;  // a write wait is queued, or its handler posted
  // Which wait is the current one: a wait cancelled when the socket went
  // idle ends later, aborted, and must not touch the flags of a wait queued
  // since (curl may reuse the connection in the same run).
  std::uint64_t read_wait_id = 0;
  std::uint64_t write_wait_id = 0;
  bool readable = false;       // a read wait completed while curl wanted only to write
  bool reading = false;        // curl is reading it now (on_readable)
  bool unread_possible;        // data may wait that no wait would report (see watch_read)
  bool closed = false;
};

CurlMulti::CurlMulti(net::io_context& io) : io_(io), timer_(io) {
  global_init_once();
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) throw std::runtime_error("curl_multi_init failed");
  multi_ = multi;
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &CurlMulti::on_socket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &CurlMulti::on_timer);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 256L);
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
}

CurlMulti::~CurlMulti() {
  *alive_ = false;
  try {
    timer_.cancel();
  } catch (const boost::system::system_error&) {  // the timer's own failure: nothing left to wait for anyway
  }
  // Every fetch() has completed (precondition); close the connection cache.
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
  for (auto& [fd, socket] : sockets_) {
    socket->closed = true;
    boost::system::error_code ignored;
    if (socket->owned) {
      socket->descriptor.close(ignored);
    } else {
      socket->descriptor.release();
    }
  }
}

int CurlMulti::on_open_socket(void* self_ptr, int purpose, void* address_ptr) {
  auto* self = static_cast<CurlMulti*>(self_ptr);
  auto* address = static_cast<curl_sockaddr*>(address_ptr);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  self->sockets_[fd] = std::make_shared<Socket>(self->io_, fd, true);
  return fd;
}

int CurlMulti::on_close_socket(void* self_ptr, int fd) {
  auto* self = static_cast<CurlMulti*>(self_ptr);
  auto it = self->sockets_.find(fd);
  if (it == self->sockets_.end()) return ::close(fd);
  auto socket = it->second;
  self->sockets_.erase(it);
  socket->closed = true;
  boost::system::error_code ec;
  socket->descriptor.close(ec);  // pending waits complete with operation_aborted
  return ec ? -1 : 0;
}

int CurlMulti::on_socket(void* /*easy*/, int fd, int what, void* self_ptr, void* /*data*/) {
  auto* self = static_cast<CurlMulti*>(self_ptr);
  auto it = self->sockets_.find(fd);
  if (what == CURL_POLL_REMOVE) {
    if (it != self->sockets_.end()) {
      auto socket = it->second;
      socket->wanted = 0;
      // Idle (or gone): not watched. Before reusing a connection curl
      // checks it itself (a FIN or stray data makes it a dead one), in the
      // same run of curl that sends the request and asks to read, so
      // nothing that came while idle needs finding by us.
      socket->readable = false;
      socket->unread_possible = false;
      if (socket->owned && (socket->read_wait_queued || socket->waiting_write)) {
        // The waits end aborted (the loop is not kept busy by idle
        // connections) and are forgotten now: a new one may be queued at once.
        ++socket->read_wait_id;
        ++socket->write_wait_id;
        socket->read_wait_queued = false;
        socket->waiting_write = false;
        boost::system::error_code ignored;
        socket->descriptor.cancel(ignored);
      }
      if (!socket->owned) {  // not ours to close: stop watching it
        self->sockets_.erase(it);
        socket->closed = true;
        boost::system::error_code ignored;
        socket->descriptor.cancel(ignored);
        socket->descriptor.release();
      }
    }
    return 0;
  }
  if (it == self->sockets_.end()) {
    it = self->sockets_.emplace(fd, std::make_shared<Socket>(self->io_, fd, false)).first;
  }
  auto socket = it->second;
  socket->wanted = what;
  self->watch_read(socket);  // also while curl only writes: readiness then is remembered
  if ((what & CURL_POLL_OUT) != 0) self->arm_write(socket);
  return 0;
}

// Reading. Asio's epoll reactor is edge-triggered and a wait does not
// re-check readiness, so readiness that comes while no wait is queued is
// lost, and so is data curl leaves in the socket. Probing with poll() before
// each wait (as this did until 2026-12-06) cost a system call per agency
// request; instead a read wait stays queued on an owned socket for as long
// as curl wants anything of it (reading or writing), and readiness that
// comes while curl only writes is remembered (`readable`) and handed to curl
// when it asks to read. Only where data may wait unreported is it probed:
// after curl has read, while it still wants to read (it may not have read
// everything), when it wants to read again after writing in mid-transfer,
// and on a socket first seen here (not opened by us, e.g. a resolver's
// pipe). An idle connection is not watched (see on_socket).
void CurlMulti::watch_read(const std::shared_ptr<Socket>& socket, bool after_read) {
  if (socket->closed || socket->reading) return;  // on_readable ends with a call
  const bool wanted = (socket->wanted & CURL_POLL_IN) != 0;
  if (wanted && socket->readable) {
    socket->readable = false;
    post_readable(socket);
    return;
  }
  if (wanted && (after_read || socket->unread_possible)) {
    socket->unread_possible = false;
    pollfd probe{socket->descriptor.native_handle(), POLLIN, 0};
    if (::poll(&probe, 1, 0) > 0) {
      post_readable(socket);
      return;
    }
  }
  if (socket->read_wait_queued || socket->wanted == 0 || (!wanted && !socket->owned)) return;
  socket->read_wait_queued = true;
  const std::uint64_t id = ++socket->read_wait_id;
  socket->descriptor.async_wait(net::posix::descriptor_base::wait_read,
                                [this, socket, id](boost::system::error_code ec) {
                                  if (id != socket->read_wait_id) return;  // cancelled when it went idle
                                  socket->read_wait_queued = false;
                                  if (ec || socket->closed) return;
                                  on_readable(socket);
                                });
}

// Never calls into curl from inside its own callback: through the loop.
void CurlMulti::post_readable(const std::shared_ptr<Socket>& socket) {
  if (socket->read_posted) return;
  socket->read_posted = true;
  net::post(io_, [this, socket] {
    socket->read_posted = false;
    if (!socket->closed) on_readable(socket);
  });
}

void CurlMulti::on_readable(const std::shared_ptr<Socket>& socket) {
  if ((socket->wanted & CURL_POLL_IN) == 0) {
    if (socket->wanted != 0) socket->readable = true;  // idle: curl checks the connection before reusing it
    return;
  }
  socket->reading = true;
  socket_action(socket->descriptor.native_handle(), CURL_CSELECT_IN);
  socket->reading = false;
  if (socket->closed) return;
  // Writing in mid-transfer: what curl left unread is looked for when it
  // wants to read again.
  if ((socket->wanted & CURL_POLL_IN) == 0 && socket->wanted != 0) socket->unread_possible = true;
  watch_read(socket, true);
}

void CurlMulti::arm_write(const std::shared_ptr<Socket>& socket) {
  if (socket->waiting_write || socket->closed) return;
  socket->waiting_write = true;
  const int fd = socket->descriptor.native_handle();
  const std::uint64_t id = ++socket->write_wait_id;
  auto on_ready = [this, socket, fd, id](boost::system::error_code ec) {
    if (id != socket->write_wait_id) return;  // cancelled when it went idle
    socket->waiting_write = false;
    if (ec || socket->closed || (socket->wanted & CURL_POLL_OUT) == 0) return;
    socket_action(fd, CURL_CSELECT_OUT);
    if (!socket->closed && (socket->wanted & CURL_POLL_OUT) != 0) arm_write(socket);
  };
  // The socket stays writable without a new edge, so a wait alone would
  // never end: check now, and only wait when it is not writable yet (rare:
  // a connect in progress, a full send buffer).
  pollfd probe{fd, POLLOUT, 0};
  if (::poll(&probe, 1, 0) > 0) {
    net::post(io_, [on_ready] { on_ready({}); });
    return;
  }
  socket->descriptor.async_wait(net::posix::descriptor_base::wait_write, std::move(on_ready));
}

// curl calls this whenever its earliest deadline changes: at least twice per
// transfer (0 when a handle is added, then the transfer's own timeouts).
// Re-arming an Asio timer that becomes the earliest costs a timerfd_settime
// system call (about 4 % of the daemon's CPU in a batch when each call
// re-armed it), so the timer is only moved when curl needs it sooner: "now"
// goes through the loop as a post, a later or removed deadline leaves the
// armed timer alone. A timer that fires early is harmless (curl acts on
// what is due, nothing else) and is followed by curl's own next deadline
// (curl_multi_timeout), since curl does not call back for a deadline it
// has already announced.
int CurlMulti::on_timer(void* /*multi*/, long timeout_ms, void* self_ptr) {
  auto* self = static_cast<CurlMulti*>(self_ptr);
  if (timeout_ms < 0) return 0;
  // Never call back into curl from inside its own callback: go through the loop.
  if (timeout_ms == 0) {
    if (!self->run_now_posted_) {
      self->run_now_posted_ = true;
      net::post(self->io_, [self, alive = self->alive_] {
        if (!*alive) return;  // the client is gone (its timer's waits end aborted instead)
        self->run_now_posted_ = false;
        self->on_timeout();
      });
    }
    return 0;
  }
  const auto due = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  if (self->timer_armed_ && self->timer_due_ <= due) return 0;
  self->arm_timer(due);
  return 0;
}

void CurlMulti::arm_timer(std::chrono::steady_clock::time_point due) {
  timer_armed_ = true;
  timer_due_ = due;
  timer_.expires_at(due);  // a wait still pending ends with operation_aborted
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    timer_armed_ = false;
    on_timeout();
  });
}

void CurlMulti::on_timeout() {
  socket_action(CURL_SOCKET_TIMEOUT, 0);
  if (timer_armed_ || run_now_posted_) return;  // curl announced its next deadline
  long left = -1;
  curl_multi_timeout(static_cast<CURLM*>(multi_), &left);
  if (left >= 0) arm_timer(std::chrono::steady_clock::now() + std::chrono::milliseconds(left));
}

void CurlMulti::socket_action(int fd, int events) {
  int running = 0;
  curl_multi_socket_action(static_cast<CURLM*>(multi_), fd, events, &running);
  finish_transfers();
}

void CurlMulti::finish_transfers() {
  int remaining = 0;
  while (CURLMsg* msg = curl_multi_info_read(static_cast<CURLM*>(multi_), &remaining)) {
    if (msg->msg != CURLMSG_DONE) continue;
    auto it = transfers_.find(msg->easy_handle);
    if (it == transfers_.end()) continue;
    Transfer* transfer = it->second;
    transfers_.erase(it);
    const CURLcode code = msg->data.result;
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), msg->easy_handle);
    transfer->result.error = classify(code);
    if (code != CURLE_OK) {
      transfer->result.error_detail = curl_easy_strerror(code);
    } else {
      long status = 0;
      curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
      transfer->result.response.status = status;
      transfer->result.response.body = std::move(transfer->body);
    }
    transfer->result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - transfer->started);
    transfer->done.set();
  }
}

net::awaitable<HttpResult> CurlMulti::fetch(HttpRequest request) {
  Transfer transfer(io_);
  if (request.cancel != nullptr && request.cancel->cancelled()) {
    transfer.result.error = HttpErrorKind::kCancelled;
    transfer.result.error_detail = request.cancel->reason();
    co_return transfer.result;
  }
  CURL* easy = curl_easy_init();
  if (easy == nullptr) {
    transfer.result.error = HttpErrorKind::kOther;
    transfer.result.error_detail = "curl_easy_init failed";
    co_return transfer.result;
  }
  transfer.easy = easy;
  for (const auto& h : request.headers) transfer.headers = curl_slist_append(transfer.headers, h.c_str());

  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "POST" || !request.body.empty()) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer.headers);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.total_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer.body);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer.result.response.retry_after);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &CurlMulti::on_open_socket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &CurlMulti::on_close_socket);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  if (!request.tls.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, request.tls.ca_file.c_str());
  if (!request.tls.client_cert_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, request.tls.client_cert_file.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLKEY, request.tls.client_key_file.c_str());
  }
  if (!request.tls.pinned_public_key.empty()) {
    curl_easy_setopt(easy, CURLOPT_PINNEDPUBLICKEY, request.tls.pinned_public_key.c_str());
  }

  transfer.started = std::chrono::steady_clock::now();
  transfers_[easy] = &transfer;
  // curl_multi_add_handle arms the timer callback; the transfer starts when
  // the loop runs it, after this coroutine is suspended below.
  if (curl_multi_add_handle(static_cast<CURLM*>(multi_), easy) != CURLM_OK) {
    transfers_.erase(easy);
    transfer.result.error = HttpErrorKind::kOther;
    transfer.result.error_detail = "curl_multi_add_handle failed";
  } else {
    // Called off (the caller disconnected): the handle leaves the multi
    // handle now, its connection is closed, and the transfer ends cancelled.
    const auto registration = on_cancel(request.cancel, [this, easy, &transfer, signal = request.cancel] {
      if (transfers_.erase(easy) == 0) return;  // finished already
      curl_multi_remove_handle(static_cast<CURLM*>(multi_), easy);
      transfer.result.error = HttpErrorKind::kCancelled;
      transfer.result.error_detail = signal->reason();
      transfer.result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - transfer.started);
      transfer.done.set();
    });
    co_await transfer.done.wait();
  }
  curl_easy_cleanup(easy);
  curl_slist_free_all(transfer.headers);
  co_return std::move(transfer.result);
}

}  // namespace hfv::adapters
