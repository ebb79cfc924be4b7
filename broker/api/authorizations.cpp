// Service endpoints for authorisations (consent): register, read, revoke.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/use_awaitable.hpp>

#include "broker/api/service.hpp"
#include "broker/api/service_internal.hpp"
#include "crypto/hash.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using detail::error_response;
using nlohmann::json;

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
  if (parts_.divisions == nullptr || !parts_.divisions->contains(auth_request.jurisdiction)) {
    co_return co_await refuse(request, &principal, 400, "invalid_field", "is not a GB/T 2260 division code",
                              "jurisdiction");
  }
  if (!principal.covers(auth_request.jurisdiction)) {
    co_return co_await refuse(request, &principal, 403, "jurisdiction_not_allowed",
                              "this caller may not register households in jurisdiction " + auth_request.jurisdiction,
                              "jurisdiction");
  }
  std::vector<std::string> pseudonyms;
  for (const auto& id : auth_request.members) pseudonyms.push_back(consent_pseudonym(id));
  const StoredAuthorization authorization =
      new_authorization(auth_request, pseudonyms, principal.name, [this](const std::string& id, const std::string& number) {
        return member_commitment(parts_.verifier->member_salt(id, number), number);
      });
  const auto inserted = co_await run_blocking(
      *parts_.blocking, [&] { return parts_.authorizations->insert(authorization); });
  const auto* stored = inserted ? &authorization : nullptr;
  if (!stored)
    co_return error_response(503, "state_unavailable", "authorizations cannot be stored now");
  audit::AuditRecord r = base_record(request, &principal);
  r.action = "authorization.register";
  r.status = "created";
  r.case_id = stored->case_id;
  r.jurisdiction = stored->jurisdiction;
  r.authorization_id = stored->id;
  r.digest = stored->form_sha256;
  // The digest a peer recomputes (docs/cross-region.md): both audit logs hold it.
  r.detail = "members=" + std::to_string(pseudonyms.size()) + " authorization_digest=" + stored->digest;
  std::vector<audit::AuditRecord> rows;
  rows.push_back(std::move(r));
  if (!co_await parts_.audit->append(std::move(rows))) {
    co_return error_response(503, "audit_unavailable", "the audit log cannot be written");
  }
  ApiResponse response{201, authorization_json(*stored), {}};
  response.headers.emplace_back("Location", "/v1/authorizations/" + stored->id);
  co_return response;
}

net::awaitable<ApiResponse> Service::read_authorization(const ApiRequest& request,
                                                        const Principal& principal,
                                                        const std::string& id, bool revoke) {
  auto found = co_await run_blocking(*parts_.blocking, [&] {
    return revoke ? parts_.authorizations->revoke(id, principal.name)
                  : parts_.authorizations->find(id, principal.name);
  });
  if (!found)
    co_return error_response(503, "state_unavailable", "authorizations cannot be read now");
  if (!*found) co_return error_response(404, "not_found", "no such authorization");
  if (revoke) {
    audit::AuditRecord r = base_record(request, &principal);
    r.action = "authorization.revoke";
    r.status = "revoked";
    r.case_id = (*found)->case_id;
    if (!(*found)->jurisdiction.empty()) r.jurisdiction = (*found)->jurisdiction;
    r.authorization_id = id;
    std::vector<audit::AuditRecord> rows;
    rows.push_back(std::move(r));
    if (!co_await parts_.audit->append(std::move(rows))) {
      co_return error_response(503, "audit_unavailable", "the audit log cannot be written");
    }
  }
  co_return ApiResponse{200, authorization_json(**found), {}};
}

}  // namespace hfv::broker
