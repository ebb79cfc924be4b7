// Helpers shared by the Service's endpoint files. Not part of the API.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "broker/api/service.hpp"
#include "common/blocking_call.hpp"

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

inline std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

// Case systems name the operator behind each call (audited); the refusal's message.
inline constexpr const char* kOperatorIdRequired =
    "X-Operator-Id header is required: 1-64 characters of A-Z a-z 0-9 . _ : -";

}  // namespace hfv::broker::detail
