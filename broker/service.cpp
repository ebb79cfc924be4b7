#include "broker/service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "common/async_event.hpp"
#include "common/id_number.hpp"
#include "crypto/hash.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using nlohmann::json;

namespace {

ApiResponse error_response(unsigned status, const std::string& code, const std::string& message,
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
net::awaitable<std::invoke_result_t<F&>> run_blocking(net::thread_pool& pool, F f) {
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

std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

}  // namespace


Service::Service(ServiceParts parts) : parts_(std::move(parts)) {}

std::string Service::pseudonym(const std::string& id_number) const {
  return crypto::to_hex(crypto::hmac_sha256(parts_.pseudonym_key.bytes(), id_number));
}

audit::AuditRecord Service::base_record(const ApiRequest& request, const Principal* principal) const {
  audit::AuditRecord r;
  r.principal = principal != nullptr ? principal->name
                                     : (request.peer ? "unknown-cn:" + request.peer->subject_cn : "no-certificate");
  r.operator_id = is_token(request.operator_id) ? request.operator_id : "";
  if (principal != nullptr) {
    for (const auto& j : principal->jurisdictions) r.centre += (r.centre.empty() ? "" : ",") + j;
  }
  return r;
}

net::awaitable<ApiResponse> Service::refuse(const ApiRequest& request, const Principal* principal,
                                            unsigned status, std::string code, std::string message,
                                            std::string field) {
  audit::AuditRecord r = base_record(request, principal);
  r.action = "request.refused";
  r.status = std::to_string(status) + " " + code;
  r.detail = request.method + " " + path_of(request.target) + (field.empty() ? "" : " field=" + field);
  // A refusal queries nobody, so it is answered even if it cannot be audited;
  // the failure to audit is what the operator must then see.
  std::vector<audit::AuditRecord> rows;
  rows.push_back(std::move(r));
  auto written = co_await parts_.audit->append(std::move(rows));
  ApiResponse response = error_response(status, code, message, field);
  if (!written) response.body["audit"] = "unavailable";
  co_return response;
}

net::awaitable<ApiResponse> Service::handle(ApiRequest request) {
  const std::string path = path_of(request.target);
  if (path == "/healthz") {
    if (request.method != "GET") co_return error_response(405, "method_not_allowed", "use GET");
    co_return ApiResponse{200, {{"status", "ok"}}, {}};
  }
  if (!request.peer) {
    co_return co_await refuse(request, nullptr, 401, "client_certificate_required",
                              "a client certificate issued by the centre's CA is required");
  }
  const Principal* principal = parts_.config->principal_for_cn(request.peer->subject_cn);
  if (principal == nullptr) {
    co_return co_await refuse(request, nullptr, 401, "unknown_client_certificate",
                              "this client certificate is not registered with the broker");
  }
  if (request.body_too_large) {
    co_return co_await refuse(request, principal, 413, "body_too_large",
                              "request body exceeds " + std::to_string(parts_.config->max_body_bytes) +
                                  " bytes");
  }
  if (path == "/v1/keys/report-signing") {
    if (request.method != "GET") co_return error_response(405, "method_not_allowed", "use GET");
    co_return ApiResponse{200,
                          {{"alg", "Ed25519"},
                           {"key_id", key_id(parts_.signer->public_key())},
                           {"public_key_pem", parts_.signer->public_key_pem()}},
                          {}};
  }
  if (path == "/v1/verifications" || path.starts_with("/v1/authorizations")) {
    if (principal->role != Role::kCaseSystem) {
      co_return co_await refuse(request, principal, 403, "role_not_allowed",
                                "only case systems may call this endpoint");
    }
    if (!is_token(request.operator_id)) {
      co_return co_await refuse(request, principal, 400, "invalid_field",
                                "X-Operator-Id header is required: 1-64 characters of A-Z a-z 0-9 . _ : -",
                                "X-Operator-Id");
    }
  }
  if (path == "/v1/verifications") {
    if (request.method != "POST") co_return error_response(405, "method_not_allowed", "use POST");
    co_return co_await verify(request, *principal);
  }
  if (path == "/v1/authorizations") {
    if (request.method != "POST") co_return error_response(405, "method_not_allowed", "use POST");
    co_return co_await register_authorization(request, *principal);
  }
  if (path.starts_with("/v1/authorizations/")) {
    std::string rest = path.substr(std::string("/v1/authorizations/").size());
    const bool revoke = rest.ends_with("/revoke");
    if (revoke) rest = rest.substr(0, rest.size() - std::string("/revoke").size());
    if (!is_token(rest)) co_return error_response(404, "not_found", "no such authorization");
    if (request.method != (revoke ? "POST" : "GET")) {
      co_return error_response(405, "method_not_allowed", revoke ? "use POST" : "use GET");
    }
    co_return co_await read_authorization(request, *principal, rest, revoke);
  }
  co_return error_response(404, "not_found", "no such endpoint");
}

net::awaitable<ApiResponse> Service::register_authorization(const ApiRequest& request,
                                                            const Principal& principal) {
  auto body = parse_json_body(request.body);
  if (auto* e = std::get_if<FieldError>(&body)) {
    co_return co_await refuse(request, &principal, 400, e->code, e->message, e->field);
  }
  auto parsed = parse_authorization_request(std::get<json>(body), Date::today_utc());
  if (auto* e = std::get_if<FieldError>(&parsed)) {
    co_return co_await refuse(request, &principal, 400, e->code, e->message, e->field);
  }
  const auto& auth_request = std::get<AuthorizationRequest>(parsed);
  std::vector<std::string> pseudonyms;
  for (const auto& id : auth_request.members) pseudonyms.push_back(pseudonym(id));
  auto stored = co_await run_blocking(*parts_.blocking, [&] {
    return parts_.consent->insert(auth_request, pseudonyms, principal.name);
  });
  if (!stored) co_return error_response(503, "state_unavailable", "authorizations cannot be stored now");
  audit::AuditRecord r = base_record(request, &principal);
  r.action = "authorization.register";
  r.status = "created";
  r.case_id = stored->case_id;
  r.authorization_id = stored->id;
  r.digest = stored->form_sha256;
  r.detail = "members=" + std::to_string(pseudonyms.size());
  std::vector<audit::AuditRecord> rows;
  rows.push_back(std::move(r));
  if (!co_await parts_.audit->append(std::move(rows))) {
    co_return error_response(503, "audit_unavailable", "the audit log cannot be written");
  }
  ApiResponse response{201, authorization_json(*stored), {}};
  response.headers.emplace_back("Location", "/v1/authorizations/" + stored->id);
  co_return response;
}

net::awaitable<ApiResponse> Service::read_authorization(const ApiRequest& request, const Principal& principal,
                                                        const std::string& id, bool revoke) {
  auto found = co_await run_blocking(*parts_.blocking, [&] {
    return revoke ? parts_.consent->revoke(id, principal.name) : parts_.consent->find(id, principal.name);
  });
  if (!found) co_return error_response(503, "state_unavailable", "authorizations cannot be read now");
  if (!*found) co_return error_response(404, "not_found", "no such authorization");
  if (revoke) {
    audit::AuditRecord r = base_record(request, &principal);
    r.action = "authorization.revoke";
    r.status = "revoked";
    r.case_id = (*found)->case_id;
    r.authorization_id = id;
    std::vector<audit::AuditRecord> rows;
    rows.push_back(std::move(r));
    if (!co_await parts_.audit->append(std::move(rows))) {
      co_return error_response(503, "audit_unavailable", "the audit log cannot be written");
    }
  }
  co_return ApiResponse{200, authorization_json(**found), {}};
}

net::awaitable<std::vector<SourceResult>> Service::fan_out(const std::vector<adapters::MemberQuery>& queries,
                                                           const std::vector<Source>& sources,
                                                           adapters::Deadline deadline) {
  auto executor = co_await net::this_coro::executor;
  std::vector<SourceResult> results(queries.size() * sources.size());
  std::size_t remaining = results.size();
  AsyncEvent all_done(executor);
  if (remaining == 0) all_done.set();
  for (std::size_t q = 0; q < queries.size(); ++q) {
    for (std::size_t s = 0; s < sources.size(); ++s) {
      const std::size_t slot = q * sources.size() + s;
      adapters::Adapter* adapter = parts_.adapters.at(sources[s]).get();
      results[slot].member_index = queries[q].member_index;
      results[slot].source = sources[s];
      net::co_spawn(
          executor,
          [&, adapter, slot, q]() -> net::awaitable<void> {
            results[slot] = co_await adapter->query(queries[q], deadline);
          },
          [&, slot](std::exception_ptr failure) {
            if (failure) {  // an adapter bug must not look like an answer
              results[slot].status = SourceStatus::kError;
              results[slot].detail = "internal error in adapter";
              results[slot].records = {};
            }
            if (--remaining == 0) all_done.set();
          });
    }
  }
  co_await all_done.wait();
  co_return results;
}

net::awaitable<ApiResponse> Service::verify(const ApiRequest& request, const Principal& principal) {
  const Date today = Date::today_utc();
  auto body = parse_json_body(request.body);
  if (auto* e = std::get_if<FieldError>(&body)) {
    co_return co_await refuse(request, &principal, 400, e->code, e->message, e->field);
  }
  auto parsed = parse_verification_request(std::get<json>(body), today);
  if (auto* e = std::get_if<FieldError>(&parsed)) {
    co_return co_await refuse(request, &principal, 400, e->code, e->message, e->field);
  }
  const auto& v = std::get<VerificationRequest>(parsed);
  if (!principal.covers(v.jurisdiction)) {
    co_return co_await refuse(request, &principal, 403, "jurisdiction_not_allowed",
                              "this caller may not verify households in jurisdiction " + v.jurisdiction,
                              "jurisdiction");
  }
  auto policy = parts_.policies.find(v.jurisdiction);
  if (!policy) {
    co_return co_await refuse(request, &principal, 400, "no_policy", policy.error().message, "jurisdiction");
  }
  std::vector<std::string> pseudonyms;
  for (const auto& m : v.members) pseudonyms.push_back(pseudonym(m.id_number));
  auto auth = co_await run_blocking(*parts_.blocking, [&] {
    return parts_.consent->find(v.authorization_id, principal.name);
  });
  if (!auth) co_return error_response(503, "state_unavailable", "authorizations cannot be read now");
  if (!*auth) {
    co_return co_await refuse(request, &principal, 403, "consent_not_found",
                              "no such authorization for this caller", "authorization_id");
  }
  if (auto problem = check_consent(**auth, v.case_id, pseudonyms, today)) {
    co_return co_await refuse(request, &principal, 403, problem->code, problem->message, problem->field);
  }

  // Which agencies are asked: configured here and allowed by the authorisation.
  std::vector<Source> asked;
  for (Source s : kAllSources) {
    if (parts_.adapters.contains(s) && (*auth)->allows(s)) asked.push_back(s);
  }
  const std::string verification_id = "ver_" + crypto::to_hex(crypto::random_bytes(12));
  audit::AuditRecord base = base_record(request, &principal);
  base.request_id = verification_id;
  base.case_id = v.case_id;
  base.authorization_id = v.authorization_id;
  base.programme = v.programme;
  base.jurisdiction = v.jurisdiction;

  // Durable before anyone is asked: the request, and each person it reads.
  std::vector<audit::AuditRecord> before;
  audit::AuditRecord head = base;
  head.action = "verification.request";
  head.status = "accepted";
  std::string asked_names;
  for (Source s : asked) asked_names += (asked_names.empty() ? "" : ",") + std::string(source_name(s));
  head.detail = "members=" + std::to_string(v.members.size()) + " sources=" + asked_names;
  before.push_back(head);
  for (const auto& p : pseudonyms) {
    audit::AuditRecord subject = base;
    subject.action = "verification.subject";
    subject.member = p;
    subject.status = "to_query";
    before.push_back(std::move(subject));
  }
  if (!co_await parts_.audit->append(std::move(before))) {
    co_return error_response(503, "audit_unavailable",
                             "the audit log cannot be written, so no agency is queried");
  }

  std::vector<adapters::MemberQuery> queries;
  for (std::size_t i = 0; i < v.members.size(); ++i) {
    queries.push_back({i, v.members[i].id_number, v.members[i].name,
                       verification_id + "-" + std::to_string(i)});
  }
  const auto deadline = std::chrono::steady_clock::now() + parts_.config->verification_deadline;
  std::vector<SourceResult> results = co_await fan_out(queries, asked, deadline);

  std::vector<audit::AuditRecord> after;
  for (const auto& r : results) {
    audit::AuditRecord q = base;
    q.action = "agency.query";
    q.member = pseudonyms[r.member_index];
    q.source = std::string(source_name(r.source));
    q.status = std::string(status_name(r.status));
    q.latency_ms = r.latency.count();
    q.digest = r.evidence_sha256;
    q.detail = "attempts=" + std::to_string(r.attempts) + (r.detail.empty() ? "" : " " + r.detail);
    after.push_back(std::move(q));
  }
  // Sources not asked are part of the picture too: denied by the
  // authorisation, or not configured in this deployment.
  for (std::size_t i = 0; i < v.members.size(); ++i) {
    for (Source s : kAllSources) {
      if (std::find(asked.begin(), asked.end(), s) != asked.end()) continue;
      SourceResult r;
      r.member_index = i;
      r.source = s;
      if (!(*auth)->allows(s)) {
        r.status = SourceStatus::kDenied;
        r.detail = "not allowed by the authorization";
      } else {
        r.status = SourceStatus::kError;
        r.detail = "no adapter configured for this agency";
      }
      results.push_back(std::move(r));
    }
  }
  if (!after.empty() && !co_await parts_.audit->append(std::move(after))) {
    co_return error_response(503, "audit_unavailable", "the audit log cannot be written; report withheld");
  }

  policies::HouseholdInput input{v.members.size(), v.area, v.reference_date, v.programme, results};
  const policies::Decision decision = policies::evaluate(**policy, input);

  json report = {{"verification_id", verification_id},
                 {"case_id", v.case_id},
                 {"programme", v.programme},
                 {"jurisdiction", v.jurisdiction},
                 {"area", std::string(policies::area_name(v.area))},
                 {"reference_date", v.reference_date.to_string()},
                 {"authorization_id", v.authorization_id},
                 {"outcome", std::string(policies::outcome_name(decision.outcome))},
                 {"classification", decision.classification},
                 {"figures", decision.figures},
                 {"next_review", nullptr},
                 {"policy_version", decision.policy_version},
                 {"generated_at", utc_timestamp_now()}};
  json rules = json::array();
  for (const auto& t : decision.rules) {
    json params = json::array();
    for (const auto& p : t.parameters) {
      params.push_back({{"name", p.name}, {"value", p.value}, {"effective_from", p.from.to_string()},
                        {"reference", p.reference}, {"example", p.example}});
    }
    rules.push_back({{"rule", t.rule},
                     {"result", std::string(policies::rule_result_name(t.result))},
                     {"source", t.clause},
                     {"inputs", t.inputs},
                     {"parameters", params},
                     {"unknown_sources", t.unknown_sources},
                     {"explanation", t.explanation}});
  }
  report["rules"] = rules;
  json sources = json::array();
  for (const auto& r : results) {
    json s = {{"member", mask_id_number(v.members[r.member_index].id_number)},
              {"member_index", r.member_index},
              {"source", std::string(source_name(r.source))},
              {"status", std::string(status_name(r.status))},
              {"attempts", r.attempts}};
    if (!r.received_at.empty()) s["received_at"] = r.received_at;
    if (r.attempts > 0) s["latency_ms"] = r.latency.count();
    if (!r.evidence_sha256.empty()) s["evidence_sha256"] = r.evidence_sha256;
    if (!r.detail.empty()) s["detail"] = r.detail;
    sources.push_back(std::move(s));
  }
  report["sources"] = sources;
  sign_report(report, *parts_.signer);

  audit::AuditRecord issued = base;
  issued.action = "verification.report";
  issued.status = "issued";
  issued.outcome = report["outcome"].get<std::string>();
  issued.digest = crypto::to_hex(crypto::sha256(canonical_report(report)));
  std::vector<audit::AuditRecord> rows;
  rows.push_back(std::move(issued));
  if (!co_await parts_.audit->append(std::move(rows))) {
    co_return error_response(503, "audit_unavailable", "the audit log cannot be written; report withheld");
  }
  co_return ApiResponse{200, std::move(report), {}};
}

std::string key_id(const crypto::Ed25519PublicKey& key) {
  return crypto::to_hex(crypto::sha256(std::span<const std::uint8_t>(key))).substr(0, 16);
}

std::string canonical_report(const json& report) {
  json copy = report;
  copy.erase("signature");
  return copy.dump(-1, ' ', false, json::error_handler_t::strict);
}

void sign_report(json& report, const crypto::Ed25519Signer& signer) {
  const auto signature = signer.sign(canonical_report(report));
  report["signature"] = {{"alg", "Ed25519"},
                         {"key_id", key_id(signer.public_key())},
                         {"value", crypto::to_hex(signature)}};
}

bool verify_report_signature(const json& report, const crypto::Ed25519PublicKey& key) {
  if (!report.is_object() || !report.contains("signature") || !report["signature"].is_object()) return false;
  const auto& sig = report["signature"];
  if (sig.value("alg", "") != "Ed25519" || !sig.contains("value") || !sig["value"].is_string()) return false;
  auto bytes = crypto::from_hex(sig["value"].get<std::string>());
  if (!bytes || bytes->size() != 64) return false;
  return crypto::ed25519_verify(key, canonical_report(report), *bytes);
}

}  // namespace hfv::broker
