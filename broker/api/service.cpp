#include "broker/api/service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <optional>

#include "broker/api/connection_limits.hpp"
#include "broker/api/readiness.hpp"
#include "broker/ops/log.hpp"
#include "broker/ops/metrics.hpp"
#include "broker/reviews/batch.hpp"
#include "broker/api/service_internal.hpp"
#include "common/scoped_count.hpp"
#include "common/time.hpp"
#include "storage/postgresql_db.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using detail::error_response;
using detail::path_of;
using nlohmann::json;

Service::Service(ServiceParts parts) : parts_(parts) {}

CallerCertificate Service::certificate_of(const ApiRequest& request) {
  if (!request.peer) return {};
  return CallerCertificate{request.peer->sha256_fingerprint, request.peer->serial};
}

audit::AuditRecord Service::base_record(const ApiRequest& request, const Principal* principal) const {
  if (principal != nullptr) return caller_record(*principal, request.operator_id, certificate_of(request));
  audit::AuditRecord r;
  r.principal = request.peer ? "unknown-cn:" + request.peer->subject_cn : "no-certificate";
  r.operator_id = is_token(request.operator_id) ? request.operator_id : "";
  r.cert_sha256 = request.peer ? request.peer->sha256_fingerprint : "";
  r.cert_serial = request.peer ? request.peer->serial : "";
  return r;
}

net::awaitable<ApiResponse> Service::refuse(const ApiRequest& request, const Principal* principal,
                                            unsigned status, std::string code, std::string message,
                                            std::string field) {
  audit::AuditRecord r = base_record(request, principal);
  r.action = "request.refused";
  r.status = std::to_string(status) + " " + code;
  const std::string path = path_of(request.target);
  // The route's pattern, never the raw path (it may hold anything, an ID
  // number included); the method as the caller spelled it, capped.
  r.detail = request.method.substr(0, 16) + " " + std::string(endpoint_of(path)) +
             (field.empty() ? "" : " field=" + field);
  // A refusal queries nobody, so it is answered even if it cannot be audited;
  // the failure to audit is what the operator must then see.
  // A refused verification or authorisation request is recorded with the
  // case and jurisdiction it named (and a verification's members).
  std::vector<audit::AuditRecord> rows;
  if (request.method == "POST" && (path == "/v1/verifications" || path == "/v1/authorizations") &&
      !request.body_too_large) {
    rows = parts_.verifier->refusal_records(std::move(r), request.body);
  } else {
    rows.push_back(std::move(r));
  }
  auto written = co_await parts_.audit->append(std::move(rows));
  ApiResponse response = error_response(status, code, message, field);
  if (!written) response.body["audit"] = "unavailable";
  co_return response;
}

net::awaitable<ApiResponse> Service::refuse_unidentified(const ApiRequest& request, unsigned status,
                                                        const std::string& code, const std::string& message) {
  // Counted per address as the connection limits count them: an IPv6
  // client by its /64, so one host cannot spread over its addresses.
  boost::system::error_code unparsed;
  const auto address = net::ip::make_address(request.client_address, unparsed);
  const std::string counted_as = unparsed ? request.client_address : ConnectionLimits::key_of(address).to_string();
  const auto verdict = refusal_tally_.note(counted_as, endpoint_of(path_of(request.target)), code,
                                           std::chrono::steady_clock::now(), utc_timestamp_now());
  if (parts_.metrics != nullptr) {
    parts_.metrics->observe_unidentified_refusal(verdict == RefusalTally::Verdict::kThrottle);
  }
  if (verdict == RefusalTally::Verdict::kThrottle) {
    ApiResponse limited =
        error_response(429, "rate_limited", "too many requests without a valid client certificate; retry later");
    limited.headers.emplace_back("Retry-After", "5");
    co_return limited;
  }
  if (!tally_write_pending_) {
    tally_write_pending_ = true;
    net::co_spawn(co_await net::this_coro::executor, write_refusal_tally(), net::detached);
  }
  co_return error_response(status, code, message);
}

net::awaitable<void> Service::write_refusal_tally() {
  net::steady_timer wait(co_await net::this_coro::executor);
  if (auto end = refusal_tally_.interval_end()) wait.expires_at(*end);
  boost::system::error_code ec;
  co_await wait.async_wait(net::redirect_error(net::use_awaitable, ec));
  tally_write_pending_ = false;
  if (auto record = refusal_tally_.take(std::chrono::steady_clock::now())) {
    std::vector<audit::AuditRecord> rows{std::move(*record)};
    if (!co_await parts_.audit->append(std::move(rows))) {
      log_event(LogLevel::kError, "refusal_tally_not_audited", {{"reason", "the audit log cannot be written"}});
    }
  }
}

net::awaitable<ApiResponse> Service::handle(ApiRequest request) {
  // Load shedding before any work: an overloaded broker answers at once
  // rather than queueing. Not audited — nothing was read, and writing would
  // add load exactly when there is too much.
  if (in_flight() >= parts_.config->server.max_in_flight && path_of(request.target) != "/healthz") {
    ApiResponse busy = error_response(503, "overloaded", "too many requests in progress; retry shortly");
    busy.headers = {{"Retry-After", "1"}};
    busy.endpoint = endpoint_of(path_of(request.target));
    co_return busy;
  }
  const ScopedCount counted(in_flight_);
  std::vector<const Route*> rows;
  ApiResponse response = co_await route(request, rows);
  if (!rows.empty()) response.endpoint = rows.front()->pattern;
  co_return response;
}

net::awaitable<ApiResponse> Service::route(ApiRequest& request, std::vector<const Route*>& rows) {
  const std::string path = path_of(request.target);
  // Every row of the table for this path (one per method); they share their
  // callers and operator rule (tests/unit/routes_test.cpp).
  for (const Route& r : route_table()) {
    if (route_matches(r.pattern, path)) rows.push_back(&r);
  }
  const Principal* principal = nullptr;
  if (rows.empty() || !rows.front()->callers.without_certificate()) {
    if (!request.peer) {
      co_return console_certificate_page(
          request, co_await refuse_unidentified(request, 401, "client_certificate_required",
                                                "a client certificate issued by the centre's CA is required"));
    }
    // A certificate that cannot be anyone's (two CNs, no clientAuth, a
    // subordinate CA's), then one that is no principal's: unidentified
    // callers both (docs/security.md "Client identity").
    if (auto unusable = crypto::client_certificate_refusal(*request.peer, parts_.config->server.verify_depth)) {
      co_return console_certificate_page(
          request, co_await refuse_unidentified(request, 401, unusable->code, unusable->message));
    }
    principal = parts_.config->principal_for(*request.peer);
    if (principal == nullptr) {
      co_return console_certificate_page(
          request, co_await refuse_unidentified(request, 401, "unknown_client_certificate",
                                                "this client certificate is not registered with the broker "
                                                "(no principal has its CN with its subject, issuer and key)"));
    }
    if (auto wait = rate_limiter_.take(principal->name, principal->rate_per_second, principal->burst,
                                       std::chrono::steady_clock::now())) {
      ApiResponse limited = co_await refuse(request, principal, 429, "rate_limited",
                                            "too many requests from this caller; retry later");
      limited.headers.emplace_back("Retry-After",
                                   std::to_string(std::max<long>(1, (wait->count() + 999) / 1000)));
      co_return limited;
    }
    if (request.body_too_large) {
      co_return co_await refuse(request, principal, 413, "body_too_large",
                                "request body exceeds " + std::to_string(parts_.config->server.max_body_bytes) +
                                    " bytes");
    }
    if (rows.empty()) co_return error_response(404, "not_found", "no such endpoint");
    const Route& first = *rows.front();
    if (!first.callers.allows(principal->role)) {
      co_return co_await refuse(request, principal, 403, "role_not_allowed",
                                "only " + first.callers.names() + " principals may call this endpoint");
    }
    if (first.operator_id && principal->role == Role::kCaseSystem && !is_token(request.operator_id)) {
      co_return co_await refuse(request, principal, 400, "invalid_field", detail::kOperatorIdRequired,
                                "X-Operator-Id");
    }
  }
  std::string methods;
  for (const Route* r : rows) {
    if (r->method != request.method) {
      methods += (methods.empty() ? "" : " or ") + std::string(r->method);
      continue;
    }
    if (!body_type_allowed(*r, request.content_type)) {
      co_return co_await refuse(request, principal, 415, "unsupported_media_type",
                                "send the body as Content-Type: application/json" +
                                    std::string(r->pattern == "/v1/batches" ? " (or application/x-ndjson)" : ""),
                                "Content-Type");
    }
    co_return co_await (this->*(r->handler))(RouteCall{request, principal, path});
  }
  co_return error_response(405, "method_not_allowed", "use " + methods);
}

net::awaitable<ApiResponse> Service::on_healthz(const RouteCall&) {
  co_return ApiResponse{200, {{"status", "ok"}}, {}};
}

net::awaitable<ApiResponse> Service::on_readyz(const RouteCall&) {
  Readiness r = co_await readiness();
  co_return ApiResponse{r.ready ? 200U : 503U, std::move(r.body), {}};
}

net::awaitable<Readiness> Service::readiness() {
  ReadinessInputs in;
  if (parts_.metrics != nullptr) in.audit_last_append_ok = parts_.metrics->last_audit_append_ok();
  // The state store answers a read of an id that never exists (one cheap
  // statement). One at a time: probes arriving while a read hangs (a
  // database failing over) are answered not ready instead of queueing
  // behind it on the blocking pool.
  if (state_probe_running_) {
    in.state_error = "an earlier probe's read has not returned";
  } else {
    state_probe_running_ = true;
    auto read = co_await run_blocking(*parts_.blocking,
                                      [this] { return parts_.authorizations->find("readyz-probe", "readyz"); });
    state_probe_running_ = false;
    if (!read) in.state_error = read.error().code;
  }
  const auto& policies = parts_.verifier->policies();
  in.policies_loaded = policies.size();
  in.stale_parameters = stale_policy_parameters(policies, Date::today_utc());
  in.agencies = agency_snapshot(parts_.verifier->adapters());
  co_return assess_readiness(in);
}

net::awaitable<ApiResponse> Service::on_metrics(const RouteCall&) {
  if (parts_.metrics == nullptr) co_return error_response(404, "not_found", "no such endpoint");
  co_return metrics_response(co_await readiness());
}

net::awaitable<ApiResponse> Service::on_signing_key(const RouteCall&) {
  co_return ApiResponse{200,
                        {{"alg", "Ed25519"},
                         {"key_id", key_id(parts_.signer->public_key())},
                         {"public_key_pem", parts_.signer->public_key_pem()}},
                        {}};
}

// The whole history (broker/verification/report_key_history.hpp): a
// report signed before a rotation is checked against its own key.
net::awaitable<ApiResponse> Service::on_signing_key_history(const RouteCall&) {
  if (parts_.report_keys != nullptr) co_return ApiResponse{200, parts_.report_keys->json, {}};
  co_return ApiResponse{200, initial_report_key_history(parts_.signer->public_key()).json, {}};
}

net::awaitable<ApiResponse> Service::on_policy_parameters(const RouteCall& call) {
  co_return policy_parameters(call.request, call.path.substr(std::string("/v1/policies/").size()));
}

net::awaitable<ApiResponse> Service::on_register_authorization(const RouteCall& call) {
  co_return co_await register_authorization(call.request, *call.principal);
}

namespace {
// "/v1/authorizations/{id}[/revoke]" -> id
std::string authorization_id_of(const std::string& path) {
  std::string rest = path.substr(std::string("/v1/authorizations/").size());
  return rest.substr(0, rest.find('/'));
}
}  // namespace

net::awaitable<ApiResponse> Service::on_read_authorization(const RouteCall& call) {
  const std::string id = authorization_id_of(call.path);
  if (!is_token(id)) co_return error_response(404, "not_found", "no such authorization");
  co_return co_await read_authorization(call.request, *call.principal, id, false);
}

net::awaitable<ApiResponse> Service::on_revoke_authorization(const RouteCall& call) {
  const std::string id = authorization_id_of(call.path);
  if (!is_token(id)) co_return error_response(404, "not_found", "no such authorization");
  co_return co_await read_authorization(call.request, *call.principal, id, true);
}

net::awaitable<ApiResponse> Service::on_review_statistics(const RouteCall& call) {
  co_return co_await review_statistics(call.request, *call.principal);
}

net::awaitable<ApiResponse> Service::on_audit(const RouteCall& call) {
  co_return co_await handle_audit(call.request, *call.principal, call.path);
}

net::awaitable<ApiResponse> Service::on_audit_anomalies(const RouteCall& call) {
  co_return co_await audit_anomalies(call.request, *call.principal);
}

net::awaitable<ApiResponse> Service::on_console(const RouteCall& call) {
  co_return co_await console(call.path);
}

ApiResponse Service::metrics_response(const Readiness& readiness) const {
  LiveState live;
  for (const auto& [check, result] : readiness.body["checks"].items()) {
    live.ready_checks[check] = result.value("ok", false);
  }
  live.requests_in_flight = in_flight();
  live.audit_last_seq = parts_.audit->last_seq();
  live.policies_loaded = parts_.verifier->policies().size();
  live.stale_parameters = stale_policy_parameters(parts_.verifier->policies(), Date::today_utc());
  live.agencies = agency_snapshot(parts_.verifier->adapters());
  if (batches_ != nullptr) live.batches = batches_->progress_snapshot();
  const Config& config = *parts_.config;
  if (config.storage.backend == StorageBackend::kPostgresql) {
    live.database = storage::postgresql_statistics();
  } else {
    live.database_files = {{"audit", config.audit.db}, {"state", config.storage.state_db},
                           {"review", config.storage.review_db}};
  }
  // The folders the broker writes in, each once: databases, anchor, batch output.
  for (const auto& file : {config.audit.db, config.storage.state_db, config.storage.review_db,
                           config.audit.anchor_file, config.review.output_dir / "."}) {
    if (file.empty() || !file.has_parent_path()) continue;
    const auto folder = file.parent_path();
    if (std::find(live.data_folders.begin(), live.data_folders.end(), folder) == live.data_folders.end()) {
      live.data_folders.push_back(folder);
    }
  }
  ApiResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.raw_body = parts_.metrics->render(live);
  return r;
}

ApiResponse Service::policy_parameters(const ApiRequest& request, const std::string& code) const {
  Date on = Date::today_utc();
  const auto query = request.target.find('?');
  if (query != std::string::npos) {
    const std::string q = request.target.substr(query + 1);
    if (!q.starts_with("date=") || q.find('&') != std::string::npos) {
      return error_response(400, "invalid_field", "the only query parameter is date=YYYY-MM-DD", "date");
    }
    auto d = Date::parse(q.substr(5));
    if (!d) return error_response(400, "invalid_field", "must be a real date written YYYY-MM-DD", "date");
    on = *d;
  }
  if (code.size() != 6 || code.find_first_not_of("0123456789") != std::string::npos ||
      !parts_.divisions->contains(code)) {
    return error_response(404, "not_found", "not a GB/T 2260 division code");
  }
  auto policy = parts_.verifier->policies().find(code);
  if (!policy) return error_response(404, "no_policy", policy.error().message);
  return ApiResponse{200, policies::parameters_json(**policy, on), {}};
}

}  // namespace hfv::broker
