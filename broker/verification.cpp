// Service endpoint for verifications: consent check, audit-first fan-out,
// evaluation, signed report.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "broker/service.hpp"
#include "broker/service_internal.hpp"
#include "common/id_number.hpp"
#include "crypto/hash.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using detail::error_response;
using detail::run_blocking;
using nlohmann::json;

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
  if (!parts_.divisions->contains(v.jurisdiction)) {
    co_return co_await refuse(request, &principal, 400, "invalid_field",
                              "is not a GB/T 2260 division code", "jurisdiction");
  }
  if (!principal.covers(v.jurisdiction)) {
    co_return co_await refuse(request, &principal, 403, "jurisdiction_not_allowed",
                              "this caller may not verify households in jurisdiction " + v.jurisdiction,
                              "jurisdiction");
  }
  // Held for the whole verification, so a reload cannot change rules mid-way.
  const std::shared_ptr<const policies::PolicySet> policy_set = parts_.policies;
  auto policy = policy_set->find(v.jurisdiction);
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

  policies::HouseholdInput input;
  input.member_count = v.members.size();
  for (const auto& m : v.members) {
    input.members.push_back({*id_birth_date(m.id_number), m.relation, m.disability_grade, m.disability_kind,
                             m.serious_illness, m.employed, m.labour_capacity});
  }
  input.area = v.area;
  input.reference_date = v.reference_date;
  input.programme = v.programme;
  input.sources = results;
  const policies::Decision decision = policies::evaluate(**policy, input);

  json report = {{"verification_id", verification_id},
                 {"case_id", v.case_id},
                 {"programme", v.programme},
                 {"jurisdiction", v.jurisdiction},
                 {"area", std::string(policies::area_name(v.area))},
                 {"reference_date", v.reference_date.to_string()},
                 {"authorization_id", v.authorization_id},
                 {"generated_at", utc_timestamp_now()}};
  report.update(policies::decision_json(decision));
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

}  // namespace hfv::broker
