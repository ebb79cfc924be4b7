// Blocking calls (SQLCipher, file writes) from coroutines: the call runs on
// a thread pool and the coroutine resumes on the executor it came from, so
// the I/O thread never blocks. Used by every layer that keeps state
// (verifier, batches, endpoints).
// Thread-safety: start_blocking()/run_blocking() are called on an executor's
// thread; the call itself runs on the pool.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <type_traits>

#include "common/async_event.hpp"

namespace hfv {

// A blocking call started on `pool`; get() resumes the caller on the
// executor it was started from once the call has returned. Lets a
// verification overlap a state-database write with an audit append. The
// call may capture the caller's locals by reference only if the caller
// awaits get() on every path before they go out of scope. Pass lambdas that
// own strings as named objects, never as temporaries in a co_await
// expression (GCC 12 may destroy those twice).
template <class R>
class BlockingCall {
 public:
  struct State {
    explicit State(const boost::asio::any_io_executor& executor) : done(executor) {}
    AsyncEvent done;
    std::optional<R> value;
  };
  explicit BlockingCall(std::shared_ptr<State> state) : state_(std::move(state)) {}
  boost::asio::awaitable<R> get() {
    co_await state_->done.wait();
    co_return std::move(*state_->value);
  }

 private:
  std::shared_ptr<State> state_;
};

// A call that another thread completes: `start` is given `deliver`, a
// function to call once, from any thread, with the value; get() resumes the
// caller on `executor` with it. For writers with threads of their own
// (storage::WriteGroup).
template <class R, class Start>
BlockingCall<R> start_completed_elsewhere(const boost::asio::any_io_executor& executor, Start start) {
  namespace net = boost::asio;
  auto state = std::make_shared<typename BlockingCall<R>::State>(executor);
  start([state, executor](R value) mutable {
    net::post(executor, [state, value = std::move(value)]() mutable {
      state->value.emplace(std::move(value));
      state->done.set();
    });
  });
  return BlockingCall<R>(std::move(state));
}

template <class F>
BlockingCall<std::invoke_result_t<F&>> start_blocking(boost::asio::thread_pool& pool,
                                                      const boost::asio::any_io_executor& executor, F f) {
  using R = std::invoke_result_t<F&>;
  return start_completed_elsewhere<R>(executor, [&pool, &f](auto deliver) {
    boost::asio::post(pool, [deliver = std::move(deliver), f = std::move(f)]() mutable { deliver(f()); });
  });
}

// Where a write started without blocking runs and resumes: `pool` runs a
// plain blocking call, the caller resumes on `executor`, and a writer that
// groups several callers' writes (storage::WriteGroup) may hold this one
// back `may_wait` for others to share its transaction.
struct WriteStart {
  boost::asio::thread_pool& pool;
  boost::asio::any_io_executor executor;
  std::chrono::milliseconds may_wait{0};
};

// Runs a blocking call on `pool` and resumes the caller on its own executor.
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> run_blocking(boost::asio::thread_pool& pool, F f) {
  auto executor = co_await boost::asio::this_coro::executor;
  // A named call, not a temporary inside the co_await expression: GCC 12
  // can destroy such temporaries twice.
  auto call = start_blocking(pool, executor, std::move(f));
  co_return co_await call.get();
}

}  // namespace hfv
