// Service endpoints over the audit log: supervisors' search, verification,
// proofs and export (/v1/audit...), and the citizen access log
// (/v1/access-log). Owned by the audit work (issue 5).
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/use_awaitable.hpp>

#include "broker/service.hpp"
#include "broker/service_internal.hpp"

namespace hfv::broker {

namespace net = boost::asio;

net::awaitable<ApiResponse> Service::handle_audit(const ApiRequest& /*request*/, const Principal& /*principal*/,
                                                  const std::string& /*path*/) {
  co_return detail::error_response(404, "not_found", "the audit API is not available in this version");
}

}  // namespace hfv::broker
