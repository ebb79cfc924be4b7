// HttpClient: HTTP(S) requests for the adapters and the peer client, through
// libcurl's multi interface driven by Asio (CurlMulti, curl_multi.hpp) — no
// thread per request, no blocking call on the caller's loop. Connections are
// cached and reused (keep-alive).
//
// Where the transfers run: on the caller's io_context (transfer_threads 0),
// or on threads of their own, each with its own io_context and CurlMulti
// (the daemon's "transfer_threads", 0 by default: on two cores shared with
// the agencies a thread gained nothing, docs/performance.md).
// Either way fetch() is called and completes on the caller's thread, and the
// request's Cancellation is only touched there: a cancel is handed to the
// transfer's thread as a post.
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
#include <chrono>
#include <memory>
#include <string>
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

class CurlMulti;

class HttpClient {
 public:
  // Transfers on `io`'s thread (0) or on `transfer_threads` threads started
  // here and joined by the destructor.
  explicit HttpClient(boost::asio::io_context& io, unsigned transfer_threads = 0);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  boost::asio::awaitable<HttpResult> fetch(HttpRequest request);

  // The caller's loop (adapters' timers and guards run there).
  boost::asio::io_context& io() { return io_; }
  // Transfers currently in flight (for metrics and tests).
  std::size_t in_flight() const;

 private:
  struct TransferThread;

  boost::asio::awaitable<HttpResult> fetch_on_thread(HttpRequest request);

  boost::asio::io_context& io_;
  std::unique_ptr<CurlMulti> here_;  // transfers on io_ (no threads of their own)
  std::vector<std::unique_ptr<TransferThread>> threads_;
  std::size_t next_thread_ = 0;  // round robin
  std::size_t in_flight_ = 0;  // on the transfer threads (here_ counts its own)
};

}  // namespace hfv::adapters
