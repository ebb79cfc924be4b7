#include "adapters/common/http_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

#include "adapters/common/curl_multi.hpp"
#include "common/scoped_count.hpp"
#include "common/thread_name.hpp"

namespace hfv::adapters {

namespace net = boost::asio;

AnswerClass answer_class(long status) {
  if (status == 200) return AnswerClass::kAnswer;
  if (status == 429 || status >= 500) return AnswerClass::kServerTrouble;
  return AnswerClass::kRefused;
}

std::string_view http_error_name(HttpErrorKind kind) {
  switch (kind) {
    case HttpErrorKind::kNone: return "none";
    case HttpErrorKind::kTimeout: return "timeout";
    case HttpErrorKind::kNetwork: return "network";
    case HttpErrorKind::kTls: return "tls";
    case HttpErrorKind::kCancelled: return "cancelled";
    case HttpErrorKind::kOther: return "other";
  }
  return "other";
}

// A thread of transfers: its own loop and multi handle. The loop is kept
// running (work guard) until the destructor lets it finish.
struct HttpClient::TransferThread {
  TransferThread() : work(net::make_work_guard(io)), multi(std::make_unique<CurlMulti>(io)) {
    thread = std::thread([this] {
      name_this_thread("hfv-transfers");
      io.run();
    });
  }
  // The multi handle is closed on its own thread (its sockets and timer
  // belong to that loop); then the loop runs out of work and the thread ends.
  ~TransferThread() {
    net::post(io, [this] { multi.reset(); });
    work.reset();
    thread.join();
  }
  TransferThread(const TransferThread&) = delete;
  TransferThread& operator=(const TransferThread&) = delete;

  net::io_context io{1};
  net::executor_work_guard<net::io_context::executor_type> work;
  std::unique_ptr<CurlMulti> multi;
  std::thread thread;
};

HttpClient::HttpClient(net::io_context& io, unsigned transfer_threads) : io_(io) {
  if (transfer_threads == 0) {
    here_ = std::make_unique<CurlMulti>(io);
    return;
  }
  for (unsigned i = 0; i < transfer_threads; ++i) threads_.push_back(std::make_unique<TransferThread>());
}

HttpClient::~HttpClient() = default;

namespace {

// Runs on a transfer thread: the transfer, cut short by `stop`, that
// thread's stand-in for the caller's Cancellation.
net::awaitable<HttpResult> transfer_on(CurlMulti& multi, HttpRequest request, std::shared_ptr<Cancellation> stop) {
  request.cancel = stop.get();
  co_return co_await multi.fetch(std::move(request));
}

}  // namespace

// Not a coroutine: on the caller's loop (the default) the transfer's own
// coroutine is the only frame per request.
net::awaitable<HttpResult> HttpClient::fetch(HttpRequest request) {
  if (here_ != nullptr) return here_->fetch(std::move(request));
  return fetch_on_thread(std::move(request));
}

std::size_t HttpClient::in_flight() const { return here_ != nullptr ? here_->in_flight() : in_flight_; }

net::awaitable<HttpResult> HttpClient::fetch_on_thread(HttpRequest request) {
  const ScopedCount counted(in_flight_);
  Cancellation* signal = request.cancel;
  if (signal != nullptr && signal->cancelled()) {
    HttpResult cancelled;
    cancelled.error = HttpErrorKind::kCancelled;
    cancelled.error_detail = signal->reason();
    co_return cancelled;
  }
  TransferThread& thread = *threads_[next_thread_++ % threads_.size()];
  // The caller's signal stays on this thread; the transfer's thread gets
  // its own, cancelled there through a post when the caller's fires.
  auto stop = std::make_shared<Cancellation>();
  const auto registration = on_cancel(signal, [&thread, stop, signal] {
    net::post(thread.io, [stop, reason = signal->reason()]() mutable { stop->cancel(std::move(reason)); });
  });
  request.cancel = nullptr;
  auto transfer = transfer_on(*thread.multi, std::move(request), std::move(stop));
  // co_spawn hands the result back through the caller's executor: this
  // coroutine resumes on the caller's thread.
  HttpResult result = co_await net::co_spawn(thread.io, std::move(transfer), net::use_awaitable);
  co_return result;
}

}  // namespace hfv::adapters
