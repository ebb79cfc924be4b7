// Helpers shared by the Service's endpoint files. Not part of the API.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <optional>
#include <string>
#include <type_traits>

#include "broker/service.hpp"
#include "common/async_event.hpp"

namespace hfv::broker::detail {

inline ApiResponse error_response(unsigned status, const std::string& code, const std::string& message,
                                  const std::string& field = "") {
  ApiResponse r;
  r.status = status;
  r.body = {{"error", code}, {"message", message}};
  if (!field.empty()) r.body["field"] = field;
  if (status == 503) r.headers.emplace_back("Retry-After", "5");
  return r;
}

// Runs a blocking call on `pool` and resumes the caller on its own executor.
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> run_blocking(boost::asio::thread_pool& pool, F f) {
  namespace net = boost::asio;
  using R = std::invoke_result_t<F&>;
  auto executor = co_await net::this_coro::executor;
  AsyncEvent finished(executor);
  std::optional<R> result;
  net::post(pool, [&] {
    R value = f();
    net::post(executor, [&, value = std::move(value)]() mutable {
      result.emplace(std::move(value));
      finished.set();
    });
  });
  co_await finished.wait();
  co_return std::move(*result);
}

inline std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

}  // namespace hfv::broker::detail
