// /v1/batches (docs/api.md "Periodic reviews"): the BatchManager's typed
// answers (broker/reviews/batch.hpp) as HTTP, and the change list and
// statistics in the format asked for.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include "broker/api/query_string.hpp"
#include "broker/api/service.hpp"
#include "broker/api/service_internal.hpp"
#include "broker/reviews/batch.hpp"
#include "broker/reviews/batch_review.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using detail::error_response;
using nlohmann::json;

namespace {

ApiResponse refusal_answer(const BatchRefusal& r) {
  unsigned status = 400;
  switch (r.kind) {
    case BatchRefusal::Kind::kInvalid: status = 400; break;
    case BatchRefusal::Kind::kForbidden: status = 403; break;
    case BatchRefusal::Kind::kTooLarge: status = 413; break;
    case BatchRefusal::Kind::kNotFound: status = 404; break;
    case BatchRefusal::Kind::kUnavailable: status = 503; break;
  }
  return error_response(status, r.code, r.message, r.field);
}

ApiResponse progress_answer(const BatchAnswer<json>& answer, unsigned status = 200) {
  if (const auto* refused = std::get_if<BatchRefusal>(&answer)) return refusal_answer(*refused);
  return ApiResponse{status, std::get<json>(answer), {}};
}

// "/v1/batches/{id}[/...]" -> id
std::string batch_id_of(const std::string& path) {
  const std::string rest = path.substr(std::string("/v1/batches/").size());
  return rest.substr(0, rest.find('/'));
}

// 404 before the batches are asked: this broker keeps none, or `id` (when
// given) cannot name one.
std::optional<ApiResponse> not_found(const BatchManager* batches, const std::string* id = nullptr) {
  if (batches == nullptr) return error_response(404, "not_found", "no such endpoint");
  if (id != nullptr && !is_token(*id)) return error_response(404, "not_found", "no such batch");
  return std::nullopt;
}

}  // namespace

net::awaitable<ApiResponse> Service::on_create_batch(const RouteCall& call) {
  if (auto missing = not_found(batches_)) co_return *missing;
  const auto answer =
      co_await batches_->create(*call.principal, call.request.operator_id, call.request.body, certificate_of(call.request));
  ApiResponse r = progress_answer(answer, 202);
  if (r.status == 202) r.headers.emplace_back("Location", "/v1/batches/" + r.body.value("batch_id", ""));
  co_return r;
}

net::awaitable<ApiResponse> Service::on_batch_progress(const RouteCall& call) {
  const std::string id = batch_id_of(call.path);
  if (auto missing = not_found(batches_, &id)) co_return *missing;
  co_return progress_answer(co_await batches_->progress(id, *call.principal));
}

net::awaitable<ApiResponse> Service::on_cancel_batch(const RouteCall& call) {
  const std::string id = batch_id_of(call.path);
  if (auto missing = not_found(batches_, &id)) co_return *missing;
  co_return progress_answer(
      co_await batches_->cancel(id, *call.principal, call.request.operator_id, certificate_of(call.request)));
}

net::awaitable<ApiResponse> Service::on_batch_changes(const RouteCall& call) {
  co_return co_await batch_report(call, false);
}

net::awaitable<ApiResponse> Service::on_batch_statistics(const RouteCall& call) {
  co_return co_await batch_report(call, true);
}

net::awaitable<ApiResponse> Service::batch_report(const RouteCall& call, bool statistics) {
  const std::string id = batch_id_of(call.path);
  if (auto missing = not_found(batches_, &id)) co_return *missing;
  std::string format = query_value(call.request.target, "format");
  if (format.empty()) format = "json";
  if (format != "json" && format != "csv" && !(statistics && format == "svg")) {
    co_return error_response(400, "invalid_field",
                             statistics ? "format must be json, csv or svg" : "format must be json or csv", "format");
  }
  auto answer = co_await batches_->view(id, *call.principal);
  if (const auto* refused = std::get_if<BatchRefusal>(&answer)) co_return refusal_answer(*refused);
  const BatchView& view = std::get<BatchView>(answer);
  ApiResponse r;
  if (!statistics) {
    if (format == "csv") {
      r.content_type = "text/csv; charset=utf-8";
      r.raw_body = change_list_csv(view.items);
    } else {
      r.body = change_list_json(view.batch.id, view.items);
    }
    co_return r;
  }
  const json stats = statistics_json(view.batch, view.items);
  if (format == "csv") {
    r.content_type = "text/csv; charset=utf-8";
    r.raw_body = statistics_csv(stats);
  } else if (format == "svg") {
    r.content_type = "image/svg+xml";
    r.raw_body = statistics_svg(stats, "Batch " + view.batch.id);
  } else {
    r.body = stats;
  }
  co_return r;
}

}  // namespace hfv::broker
