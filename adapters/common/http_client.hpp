// HttpClient: HTTP(S) requests through one libcurl multi handle driven by an
// Asio io_context — no thread per request, no blocking call on the loop.
// Connections are cached by the multi handle and reused (keep-alive).
//
// Ownership and threading: one HttpClient per io_context thread. All calls,
// and the destruction, happen on that thread. fetch() may be awaited by many
// coroutines at once. The client must outlive every fetch() in flight.
//
// Failures are values: a transfer that timed out, failed to connect or was
// cut off comes back with an ErrorKind, never as an empty success.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/cancellation.hpp"

namespace hfv::adapters {

struct TlsClientOptions {
  std::string ca_file;            // verify the server against this CA (empty: system store)
  std::string client_cert_file;   // mutual TLS (optional)
  std::string client_key_file;
  std::string pinned_public_key;  // curl's "sha256//<base64>" form (optional)
};

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds total_timeout{3000};
  TlsClientOptions tls;
  // Optional: when it fires, the transfer is removed from curl at once and
  // comes back as kCancelled. Must outlive the fetch.
  Cancellation* cancel = nullptr;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
};

enum class HttpErrorKind { kNone, kTimeout, kNetwork, kTls, kCancelled, kOther };
std::string_view http_error_name(HttpErrorKind kind);

// What an answer's status says, for a client that decides on it (the
// broker's peer client: broker/ itself compares no HTTP status outside its
// api/, scripts/check-typed-outcomes): 200 the answer; 429 or 5xx the
// server's trouble (worth a retry later, counted by a breaker); anything
// else a refusal of this request.
enum class AnswerClass { kAnswer, kServerTrouble, kRefused };
AnswerClass answer_class(long status);

struct HttpResult {
  HttpErrorKind error = HttpErrorKind::kNone;
  std::string error_detail;  // curl's text; never contains request bodies
  HttpResponse response;     // meaningful only when error == kNone
  std::chrono::milliseconds elapsed{0};
};

class HttpClient {
 public:
  explicit HttpClient(boost::asio::io_context& io);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  boost::asio::awaitable<HttpResult> fetch(HttpRequest request);

  boost::asio::io_context& io() { return io_; }
  // Transfers currently in flight (for metrics and tests).
  std::size_t in_flight() const { return transfers_.size(); }

 private:
  struct Transfer;
  struct Socket;
  static int on_socket(void* easy, int fd, int what, void* self, void* socket_data);
  static int on_timer(void* multi, long timeout_ms, void* self);
  static int on_open_socket(void* self, int purpose, void* address);
  static int on_close_socket(void* self, int fd);

  void arm(const std::shared_ptr<Socket>& socket, int direction);
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
