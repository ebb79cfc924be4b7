// POST /v1/verifications and GET /v1/verifications/{id}: the verifier's
// outcome (broker/verification/verifier.hpp) as an HTTP answer.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include "broker/api/service.hpp"
#include "broker/api/service_internal.hpp"
#include "broker/api/verification_http.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using detail::error_response;

net::awaitable<ApiResponse> Service::on_verify(const RouteCall& call) {
  VerifyCall verify;
  verify.principal = call.principal;
  verify.operator_id = call.request.operator_id;
  verify.certificate = certificate_of(call.request);
  verify.what = call.request.method + " " + call.path;
  verify.body = call.request.body;
  verify.idempotency_key = call.request.idempotency_key;
  verify.cancel = call.request.cancel;
  const Outcome outcome = co_await parts_.verifier->verify(std::move(verify));
  co_return http_answer(outcome);
}

net::awaitable<ApiResponse> Service::on_get_verification(const RouteCall& call) {
  const std::string id = call.path.substr(std::string("/v1/verifications/").size());
  if (!is_token(id)) co_return error_response(404, "not_found", "no such verification");
  const Outcome outcome =
      co_await parts_.verifier->read(*call.principal, call.request.operator_id, id, certificate_of(call.request));
  co_return http_answer(outcome);
}

}  // namespace hfv::broker
