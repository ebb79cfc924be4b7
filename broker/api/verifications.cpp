// Service endpoint for verifications: consent check, audit-first fan-out,
// evaluation, signed report.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "broker/ops/metrics.hpp"
#include "broker/api/service.hpp"
#include "broker/api/service_internal.hpp"
#include "broker/reviews/batch_review.hpp"
#include "broker/ops/log.hpp"
#include <algorithm>

#include "common/id_number.hpp"
#include "crypto/hash.hpp"
#include "common/time.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using detail::error_response;
using detail::BlockingCall;
using detail::run_blocking;
using detail::start_blocking;
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
            // Ended by the verification's deadline (the transfer or the wait
            // for a slot was cut off there, a few ms of timer slack allowed):
            // audited and reported as cancelled.
            if (results[slot].status == SourceStatus::kTimeout &&
                std::chrono::steady_clock::now() + std::chrono::milliseconds(20) >= deadline) {
              results[slot].detail = "cancelled: verification deadline passed; " + results[slot].detail;
            }
            if (--remaining == 0) all_done.set();
          });
    }
  }
  co_await all_done.wait();
  co_return results;
}

// Everything a verification needs once every check has passed.
struct Service::Accepted {
  VerificationRequest request;
  std::string id;
  std::shared_ptr<const policies::PolicySet> policy_set;  // held: a reload cannot change rules mid-way
  const policies::JurisdictionPolicy* policy = nullptr;
  StoredAuthorization auth;
  std::vector<std::string> pseudonyms;
  std::vector<Source> asked;
  audit::AuditRecord base;
  std::string batch_id;  // non-empty for a batch household (broker/reviews/batch.hpp)
  std::shared_ptr<Cancellation> cancel;  // synchronous requests: fired if the caller disconnects
};

namespace {

// Keyed digest of what makes two verifications "the same household check".
std::string household_key(const VerificationRequest& v, std::vector<std::string> pseudonyms) {
  std::sort(pseudonyms.begin(), pseudonyms.end());
  crypto::Sha256 h;
  h.update("hfv-household/v1").update(v.programme).update("|").update(v.jurisdiction).update("|");
  h.update(policies::area_name(v.area)).update("|").update(v.reference_date.to_string());
  for (const auto& p : pseudonyms) h.update("|").update(p);
  return crypto::to_hex(h.finish());
}


}  // namespace

net::awaitable<ApiResponse> Service::verify(const ApiRequest& request, const Principal& principal) {
  const Date today = Date::today_utc();
  std::shared_ptr<InteractiveMark> interactive;
  if (request.batch_id.empty()) interactive = std::make_shared<InteractiveMark>(interactive_);
  if (!request.idempotency_key.empty() && !is_token(request.idempotency_key)) {
    co_return co_await refuse(request, &principal, 400, "invalid_field",
                              "must be 1-64 characters of A-Z a-z 0-9 . _ : -", "Idempotency-Key");
  }
  auto body = parse_json_body(request.body);
  if (auto* e = std::get_if<FieldError>(&body)) {
    co_return co_await refuse(request, &principal, 400, e->code, e->message, e->field);
  }
  auto parsed = parse_verification_request(std::get<json>(body), today);
  if (auto* e = std::get_if<FieldError>(&parsed)) {
    co_return co_await refuse(request, &principal, 400, e->code, e->message, e->field);
  }
  auto accepted = std::make_shared<Accepted>();
  Accepted& a = *accepted;
  a.request = std::get<VerificationRequest>(std::move(parsed));
  const auto& v = a.request;
  if (!parts_.divisions->contains(v.jurisdiction)) {
    co_return co_await refuse(request, &principal, 400, "invalid_field",
                              "is not a GB/T 2260 division code", "jurisdiction");
  }
  if (!principal.covers(v.jurisdiction)) {
    co_return co_await refuse(request, &principal, 403, "jurisdiction_not_allowed",
                              "this caller may not verify households in jurisdiction " + v.jurisdiction,
                              "jurisdiction");
  }
  a.policy_set = parts_.policies;
  auto policy = a.policy_set->find(v.jurisdiction);
  if (!policy) {
    co_return co_await refuse(request, &principal, 400, "no_policy", policy.error().message, "jurisdiction");
  }
  a.policy = *policy;
  for (const auto& m : v.members) a.pseudonyms.push_back(pseudonym(m.id_number));
  auto auth = co_await run_blocking(*parts_.blocking, [&] {
    return parts_.consent->find(v.authorization_id, principal.name);
  });
  if (!auth) co_return error_response(503, "state_unavailable", "authorizations cannot be read now");
  if (!*auth) {
    co_return co_await refuse(request, &principal, 403, "consent_not_found",
                              "no such authorization for this caller", "authorization_id");
  }
  if (auto problem = check_consent(**auth, v.case_id, a.pseudonyms, today)) {
    co_return co_await refuse(request, &principal, 403, problem->code, problem->message, problem->field);
  }
  a.auth = std::move(**auth);

  // Idempotency: the same key from the same caller gets the same answer.
  StoredVerification row;
  row.principal = principal.name;
  row.idempotency_key = request.idempotency_key;
  row.request_sha256 = crypto::to_hex(crypto::sha256(request.body));
  row.household_key = household_key(v, a.pseudonyms);
  row.created_unix = unix_seconds_now();
  if (!row.idempotency_key.empty()) {
    auto earlier = co_await run_blocking(*parts_.blocking, [&] {
      return parts_.reports->find_by_key(principal.name, row.idempotency_key);
    });
    if (!earlier) co_return error_response(503, "state_unavailable", "verifications cannot be read now");
    if (*earlier) {
      if ((*earlier)->request_sha256 != row.request_sha256) {
        co_return co_await refuse(request, &principal, 409, "idempotency_conflict",
                                  "this Idempotency-Key was used for a different request", "Idempotency-Key");
      }
      co_return co_await answer_stored(request, principal, **earlier, "idempotent_replay");
    }
  }
  // Fair use: a recent report of the same household is returned again
  // unless the caller forces a new verification.
  if (!v.force && parts_.config->repeat_window.count() > 0) {
    const auto since = row.created_unix - std::chrono::duration_cast<std::chrono::seconds>(
                                              parts_.config->repeat_window).count();
    auto recent = co_await run_blocking(*parts_.blocking, [&] {
      return parts_.reports->latest_done(principal.name, row.household_key, since);
    });
    if (!recent) co_return error_response(503, "state_unavailable", "verifications cannot be read now");
    if (*recent) co_return co_await answer_stored(request, principal, **recent, "repeat_within_window");
  }

  // Which agencies are asked: configured here and allowed by the authorisation.
  for (Source s : kAllSources) {
    if (parts_.adapters.contains(s) && a.auth.allows(s)) a.asked.push_back(s);
  }
  a.id = "ver_" + crypto::to_hex(crypto::random_bytes(12));
  row.id = a.id;
  a.base = base_record(request, &principal);
  a.base.request_id = a.id;
  a.base.case_id = v.case_id;
  a.base.authorization_id = v.authorization_id;
  a.base.programme = v.programme;
  a.base.jurisdiction = v.jurisdiction;
  a.batch_id = request.batch_id;

  // Durable before anyone is asked: the request, and each person it reads.
  std::vector<audit::AuditRecord> before;
  audit::AuditRecord head = a.base;
  head.action = "verification.request";
  head.status = "accepted";
  std::string asked_names;
  for (Source s : a.asked) asked_names += (asked_names.empty() ? "" : ",") + std::string(source_name(s));
  head.detail = "members=" + std::to_string(v.members.size()) + " sources=" + asked_names +
                (v.force ? " forced" : "") + (v.async ? " async" : "") +
                (a.batch_id.empty() ? "" : " batch=" + a.batch_id);
  before.push_back(head);
  for (const auto& p : a.pseudonyms) {
    audit::AuditRecord subject = a.base;
    subject.action = "verification.subject";
    subject.member = p;
    subject.status = "to_query";
    before.push_back(std::move(subject));
  }
  // The running verification goes into the state database at the same time
  // (it lets a retry with the same Idempotency-Key find it).
  auto executor = co_await net::this_coro::executor;
  auto storing = start_blocking(*parts_.blocking, executor, [this, row] { return parts_.reports->insert_running(row); });
  const auto appended = co_await parts_.audit->append(std::move(before));
  const bool audited = bool(appended);
  const Status stored = co_await storing.get();
  if (!audited) {
    ApiResponse refused =
        error_response(503, "audit_unavailable", "the audit log cannot be written, so no agency is queried");
    if (stored) {
      (void)co_await run_blocking(*parts_.blocking, [&] { return parts_.reports->finish(a.id, 503, refused.body.dump()); });
    }
    co_return refused;
  }
  if (!stored) co_return error_response(503, "state_unavailable", "verifications cannot be stored now");

  if (!v.async) {
    a.cancel = request.cancel;
    co_return co_await execute(accepted);
  }
  // Asynchronous: answer now, finish in the background on this executor.
  ++in_flight_;  // so a graceful stop waits for it
  net::co_spawn(executor, execute(accepted), [this, interactive](std::exception_ptr, ApiResponse) { --in_flight_; });
  ApiResponse accepted_response{202, {{"verification_id", a.id}, {"status", "running"}}, {}};
  accepted_response.headers.emplace_back("Location", "/v1/verifications/" + a.id);
  co_return accepted_response;
}

net::awaitable<ApiResponse> Service::answer_stored(const ApiRequest& request, const Principal& principal,
                                                   const StoredVerification& stored, const std::string& why) {
  // Reading a stored report is an access too.
  audit::AuditRecord r = base_record(request, &principal);
  r.action = "verification.read";
  r.request_id = stored.id;
  r.status = stored.state;
  r.detail = why;
  std::vector<audit::AuditRecord> rows;
  rows.push_back(std::move(r));
  if (!co_await parts_.audit->append(std::move(rows))) {
    co_return error_response(503, "audit_unavailable", "the audit log cannot be written");
  }
  if (stored.state == "running") {
    ApiResponse running{202, {{"verification_id", stored.id}, {"status", "running"}}, {}};
    running.headers.emplace_back("Location", "/v1/verifications/" + stored.id);
    running.headers.emplace_back("Retry-After", "1");
    co_return running;
  }
  if (stored.state == "cancelled") {
    co_return error_response(410, "verification_cancelled",
                             "the caller disconnected before the report was issued; no report exists");
  }
  if (stored.state == "interrupted") {
    co_return error_response(503, "verification_interrupted",
                             "the broker restarted before this verification finished; submit it again");
  }
  ApiResponse done{static_cast<unsigned>(stored.http_status), json::parse(stored.response, nullptr, false), {}};
  if (done.body.is_discarded()) co_return error_response(500, "internal_error", "stored answer is unreadable");
  done.headers.emplace_back("X-HFV-Verification-Id", stored.id);
  if (why == "repeat_within_window") done.headers.emplace_back("X-HFV-Repeat-Of", stored.id);
  co_return done;
}

net::awaitable<ApiResponse> Service::get_verification(const ApiRequest& request, const Principal& principal,
                                                      const std::string& id) {
  auto found = co_await run_blocking(*parts_.blocking, [&] { return parts_.reports->find(id, principal.name); });
  if (!found) co_return error_response(503, "state_unavailable", "verifications cannot be read now");
  if (!*found) co_return error_response(404, "not_found", "no such verification");
  co_return co_await answer_stored(request, principal, **found, "get");
}

// The caller disconnected while the agencies were being asked: their
// outstanding queries were cut (HttpClient, AgencyGuard) and no report is
// made for nobody. What was asked is audited — answers that came in time
// with their status and evidence digest, the cut queries as "cancelled" —
// with the verification's end, and its Idempotency-Key is let go so the
// caller's retry runs anew. The status is for the access log only (nginx's
// 499 "client closed request"): nobody is left to read it.
net::awaitable<ApiResponse> Service::call_off(Accepted& a, std::vector<audit::AuditRecord> rows) {
  audit::AuditRecord end = a.base;
  end.action = "verification.cancelled";
  end.status = "cancelled";
  end.detail = a.cancel->reason() + "; no report issued";
  rows.push_back(std::move(end));
  if (!co_await parts_.audit->append(std::move(rows))) {
    log_event(LogLevel::kError, "audit_failed", {{"verification_id", a.id}, {"action", "verification.cancelled"}});
  }
  if (!co_await run_blocking(*parts_.blocking, [&] { return parts_.reports->cancel(a.id); })) {
    log_event(LogLevel::kError, "state_failed", {{"verification_id", a.id}, {"action", "cancel"}});
  }
  co_return error_response(499, "verification_cancelled", "the caller disconnected; no report was issued");
}

net::awaitable<ApiResponse> Service::execute(std::shared_ptr<Accepted> accepted) {
  Accepted& a = *accepted;
  const VerificationTimer timer(parts_.metrics);
  const auto started = std::chrono::steady_clock::now();
  std::vector<adapters::MemberQuery> queries;
  for (std::size_t i = 0; i < a.request.members.size(); ++i) {
    queries.push_back({i, a.request.members[i].id_number, a.request.members[i].name,
                       a.id + "-" + std::to_string(i), a.cancel});
  }
  const auto deadline = std::chrono::steady_clock::now() + parts_.config->verification_deadline;
  std::vector<SourceResult> results = co_await fan_out(queries, a.asked, deadline);
  observe_fan_out(parts_.metrics, results);

  std::vector<audit::AuditRecord> after;
  for (const auto& r : results) {
    audit::AuditRecord q = a.base;
    q.action = "agency.query";
    q.member = a.pseudonyms[r.member_index];
    q.source = std::string(source_name(r.source));
    q.status = r.cancelled ? "cancelled" : std::string(status_name(r.status));
    q.latency_ms = r.latency.count();
    q.digest = r.evidence_sha256;
    q.detail = "attempts=" + std::to_string(r.attempts) + (r.detail.empty() ? "" : " " + r.detail);
    after.push_back(std::move(q));
  }
  if (a.cancel != nullptr && a.cancel->cancelled()) co_return co_await call_off(a, std::move(after));
  // Sources not asked are part of the picture too: denied by the
  // authorisation, or not configured in this deployment.
  for (std::size_t i = 0; i < a.request.members.size(); ++i) {
    for (Source s : kAllSources) {
      if (std::find(a.asked.begin(), a.asked.end(), s) != a.asked.end()) continue;
      SourceResult r;
      r.member_index = i;
      r.source = s;
      if (!a.auth.allows(s)) {
        r.status = SourceStatus::kDenied;
        r.detail = "not allowed by the authorization";
      } else {
        r.status = SourceStatus::kError;
        r.detail = "no adapter configured for this agency";
      }
      results.push_back(std::move(r));
    }
  }

  policies::HouseholdInput input;
  input.member_count = a.request.members.size();
  for (const auto& m : a.request.members) {
    input.members.push_back({*id_birth_date(m.id_number), m.relation, m.disability_grade, m.disability_kind,
                             m.serious_illness, m.employed, m.labour_capacity});
  }
  input.area = a.request.area;
  input.reference_date = a.request.reference_date;
  input.programme = a.request.programme;
  input.sources = results;
  const policies::Decision decision = policies::evaluate(*a.policy, input);

  // What later reviews compare against (broker/store/review_store.hpp): written
  // pending, while the report is assembled and signed, and durable before
  // the report is issued, so a crash between the audit and the report store
  // cannot lose it; marked issued once audited. A failure here costs only
  // the next review its comparison: logged, not answered.
  auto executor = co_await net::this_coro::executor;
  const bool reviewing = parts_.reviews != nullptr;
  std::optional<BlockingCall<Status>> review_pending;
  if (reviewing) {
    ReviewRecord review = review_record_of(a.id, a.base.principal, a.request, decision, results, a.batch_id);
    review.latency_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    review_pending.emplace(start_blocking(*parts_.blocking, executor, [this, review = std::move(review)] {
      return parts_.reviews->record_pending(review);
    }));
  }

  json report = {{"verification_id", a.id},
                 {"case_id", a.request.case_id},
                 {"programme", a.request.programme},
                 {"jurisdiction", a.request.jurisdiction},
                 {"area", std::string(policies::area_name(a.request.area))},
                 {"reference_date", a.request.reference_date.to_string()},
                 {"authorization_id", a.request.authorization_id},
                 {"generated_at", utc_timestamp_now()}};
  report.update(policies::decision_json(decision));
  json sources = json::array();
  const auto breakers = adapters::breaker_states(parts_.adapters);  // as the report is assembled
  for (const auto& r : results) {
    json s = {{"member", mask_id_number(a.request.members[r.member_index].id_number)},
              {"member_index", r.member_index},
              {"source", std::string(source_name(r.source))},
              {"status", std::string(status_name(r.status))},
              {"attempts", r.attempts}};
    if (!r.received_at.empty()) s["received_at"] = r.received_at;
    if (r.attempts > 0) s["latency_ms"] = r.latency.count();
    if (!r.evidence_sha256.empty()) s["evidence_sha256"] = r.evidence_sha256;
    if (!r.detail.empty()) s["detail"] = r.detail;
    const auto breaker = breakers.find(std::string(source_name(r.source)));
    if (breaker != breakers.end() && breaker->second != "closed") s["breaker"] = breaker->second;
    sources.push_back(std::move(s));
  }
  report["sources"] = sources;
  sign_report(report, *parts_.signer);

  if (review_pending && !co_await review_pending->get()) {
    log_event(LogLevel::kError, "review_record_failed", {{"verification_id", a.id}});
  }

  // One append for what each agency answered and the report issued: one
  // group commit after the fan-out, not two.
  audit::AuditRecord issued = a.base;
  issued.action = "verification.report";
  issued.status = "issued";
  issued.outcome = report["outcome"].get<std::string>();
  issued.digest = crypto::to_hex(crypto::sha256(canonical_report(report)));
  after.push_back(std::move(issued));
  if (!co_await parts_.audit->append(std::move(after))) {
    ApiResponse withheld = error_response(503, "audit_unavailable", "the audit log cannot be written; report withheld");
    (void)co_await run_blocking(*parts_.blocking, [&] {
      if (reviewing) (void)parts_.reviews->drop_pending(a.id);
      return parts_.reports->finish(a.id, 503, withheld.body.dump());
    });
    co_return withheld;
  }
  // The review record and the report are stored at the same time (two
  // databases, two pool threads).
  std::optional<BlockingCall<Status>> marking;
  if (reviewing) {
    marking.emplace(start_blocking(*parts_.blocking, executor, [this, id = a.id] { return parts_.reviews->mark_issued(id); }));
  }
  auto saving = start_blocking(*parts_.blocking, executor,
                               [this, id = a.id, text = report.dump()] { return parts_.reports->finish(id, 200, text); });
  const Status saved = co_await saving.get();
  if (marking && !co_await marking->get()) {
    log_event(LogLevel::kError, "review_record_failed", {{"verification_id", a.id}});
  }
  if (!saved) co_return error_response(503, "state_unavailable", "the report could not be stored");
  ApiResponse done{200, std::move(report), {}};
  done.headers.emplace_back("X-HFV-Verification-Id", a.id);
  co_return done;
}

}  // namespace hfv::broker
