// CurlMulti: the transfers of one libcurl multi handle, driven by one Asio
// io_context — no thread per request, no blocking call on the loop.
// Connections are cached by the multi handle and reused (keep-alive).
// HttpClient (http_client.hpp) is what adapters call; it runs one CurlMulti
// on the caller's loop or one per transfer thread of its own.
//
// Ownership and threading: one CurlMulti per io_context thread. All calls,
// and the destruction, happen on that thread; so does the request's
// Cancellation. fetch() may be awaited by many coroutines at once. The
// CurlMulti must outlive every fetch() in flight.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <unordered_map>

#include "adapters/common/http_client.hpp"

namespace hfv::adapters {

class CurlMulti {
 public:
  explicit CurlMulti(boost::asio::io_context& io);
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  boost::asio::awaitable<HttpResult> fetch(HttpRequest request);
  // Transfers handed to curl and not yet finished.
  std::size_t in_flight() const { return transfers_.size(); }

 private:
  struct Transfer;
  struct Socket;
  static int on_socket(void* easy, int fd, int what, void* self, void* socket_data);
  static int on_timer(void* multi, long timeout_ms, void* self);
  static int on_open_socket(void* self, int purpose, void* address);
  static int on_close_socket(void* self, int fd);

  void arm_write(const std::shared_ptr<Socket>& socket);
  // Reading: see curl_multi.cpp. `after_read`: curl has just read from it.
  void watch_read(const std::shared_ptr<Socket>& socket, bool after_read = false);
  void post_readable(const std::shared_ptr<Socket>& socket);
  void on_readable(const std::shared_ptr<Socket>& socket);
  void socket_action(int fd, int events);
  void finish_transfers();
  void arm_timer(std::chrono::steady_clock::time_point due);
  void on_timeout();  // curl's timer is due (or may be): let curl act, keep the timer for its next deadline

  boost::asio::io_context& io_;
  void* multi_ = nullptr;  // CURLM*
  boost::asio::steady_timer timer_;
  // curl's timer (on_timer): whether timer_ waits and for when, and whether
  // a "now" is already posted. Loop thread only, like everything here.
  bool timer_armed_ = false;
  std::chrono::steady_clock::time_point timer_due_{};
  bool run_now_posted_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed: a posted "now" does nothing
  std::unordered_map<int, std::shared_ptr<Socket>> sockets_;
  std::unordered_map<void*, Transfer*> transfers_;  // keyed by CURL*
};

}  // namespace hfv::adapters
