// POST /v1/policies/{code}/what-if and GET /v1/policies/{code}/what-if/{job}
// (docs/api.md "What-if"): a candidate policy file evaluated over the
// archived decisions of a period, as a background job
// (broker/reviews/what_if.hpp). Every refusal is audited as one and starts
// nothing; an accepted request is audited (policy.what_if, started: who,
// the candidate's digest, the code, the period) before its job starts, and
// the job's end is audited by the job.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <string_view>
#include <variant>

#include "broker/api/query_string.hpp"
#include "broker/api/service.hpp"
#include "broker/api/service_internal.hpp"
#include "broker/reviews/what_if.hpp"
#include "broker/verification/request.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using detail::error_response;

namespace {

constexpr std::string_view kPrefix = "/v1/policies/";

// "/v1/policies/{code}/what-if[/{job}]" -> code, job ("" when none).
std::pair<std::string, std::string> what_if_path(const std::string& path) {
  const std::string rest = path.substr(kPrefix.size());
  const std::string code = rest.substr(0, rest.find('/'));
  const std::string tail = rest.substr(code.size());
  const std::string job = tail.size() > std::string("/what-if/").size() ? tail.substr(std::string("/what-if/").size()) : "";
  return {code, job};
}

bool is_code(const std::string& s) {
  return s.size() == 6 && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

net::awaitable<ApiResponse> Service::on_what_if_start(const RouteCall& call) {
  const Principal& principal = *call.principal;
  const auto [code, job_unused] = what_if_path(call.path);
  if (what_if_ == nullptr) co_return error_response(503, "state_unavailable", "what-if jobs are not run by this broker");
  if (!is_code(code)) {
    co_return co_await refuse(call.request, &principal, 400, "invalid_field", "must be a 6-digit division code",
                              "code");
  }
  if (!principal.covers(code)) {
    co_return co_await refuse(call.request, &principal, 403, "jurisdiction_not_allowed",
                              "outside the caller's jurisdictions", "jurisdiction");
  }
  auto parsed = parse_what_if(code, call.request.body);
  if (auto* refusal = std::get_if<WhatIfRefusal>(&parsed)) {
    co_return co_await refuse(call.request, &principal, refusal->status, refusal->code, refusal->message,
                              refusal->field);
  }
  WhatIfRequest& request = std::get<WhatIfRequest>(parsed);
  const auto id = what_if_->reserve();
  if (!id) {
    ApiResponse busy = co_await refuse(call.request, &principal, 429, "too_many_jobs",
                                       "what-if jobs already run at the limit; retry later");
    busy.headers.emplace_back("Retry-After", "30");
    co_return busy;
  }
  // Who evaluates which candidate over which period, durable before
  // anything is read.
  audit::AuditRecord r = base_record(call.request, &principal);
  r.action = "policy.what_if";
  r.status = "started";
  r.jurisdiction = code;
  r.request_id = *id;
  r.digest = request.candidate_sha256;
  r.detail = "job=" + *id + " period=" + request.from.to_string() + ".." + request.to.to_string() +
             " candidate_version=" + request.candidate->version();
  std::vector<audit::AuditRecord> started(1, r);
  if (!co_await parts_.audit->append(std::move(started))) {
    what_if_->release(*id);
    co_return error_response(503, "audit_unavailable", "the audit log cannot be written");
  }
  what_if_->start(*id, principal.name, std::move(request), r);
  const auto view = what_if_->view(*id);
  ApiResponse accepted;
  accepted.status = 202;
  accepted.body = view ? view->body : nlohmann::json{{"job", *id}, {"state", "running"}};
  accepted.headers.emplace_back("Location", std::string(kPrefix) + code + "/what-if/" + *id);
  accepted.headers.emplace_back("Retry-After", "1");
  co_return accepted;
}

net::awaitable<ApiResponse> Service::on_what_if_read(const RouteCall& call) {
  const Principal& principal = *call.principal;
  const auto [code, job] = what_if_path(call.path);
  if (what_if_ == nullptr) co_return error_response(503, "state_unavailable", "what-if jobs are not run by this broker");
  std::string format = query_value(call.request.target, "format");
  if (format.empty()) format = "json";
  if (format != "json" && format != "csv") {
    co_return error_response(400, "invalid_field", "format must be json or csv", "format");
  }
  if (!is_code(code) || !principal.covers(code)) {
    co_return co_await refuse(call.request, &principal, 403, "jurisdiction_not_allowed",
                              "outside the caller's jurisdictions", "jurisdiction");
  }
  // Another jurisdiction's job, or one that is not (or no longer) kept:
  // not found either way, so ids say nothing about other jurisdictions.
  const auto view = is_token(job) ? what_if_->view(job) : std::nullopt;
  if (!view || view->code != code) co_return error_response(404, "not_found", "no such what-if job", "job");
  // The result names households (case ids, masked members): reading it is
  // audited before it is answered, like any access to personal data.
  if (view->csv) {
    audit::AuditRecord read = base_record(call.request, &principal);
    read.action = "policy.what_if";
    read.status = "read";
    read.jurisdiction = code;
    read.request_id = job;
    read.detail = "format=" + format;
    std::vector<audit::AuditRecord> rows(1, read);
    if (!co_await parts_.audit->append(std::move(rows))) {
      co_return error_response(503, "audit_unavailable", "the audit log cannot be written");
    }
  }
  ApiResponse r;
  if (format == "csv") {
    if (!view->csv) {
      co_return error_response(409, "not_done", "the job has not finished (state " + view->body.value("state", "") + ")",
                               "job");
    }
    r.content_type = "text/csv; charset=utf-8";
    r.raw_body = *view->csv;
    co_return r;
  }
  r.body = view->body;
  if (view->body.value("state", "") == "running") r.headers.emplace_back("Retry-After", "1");
  co_return r;
}

}  // namespace hfv::broker
