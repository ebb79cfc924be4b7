#include "broker/verification/verifier.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <exception>
#include <map>
#include <optional>

#include "audit/untrusted_json.hpp"
#include "broker/ops/log.hpp"
#include "broker/ops/metrics.hpp"
#include "broker/store/review_store.hpp"
#include "broker/verification/input_archive.hpp"
#include "policies/household_json.hpp"
#include "broker/verification/report_signature.hpp"
#include "broker/verification/request.hpp"
#include "broker/verification/review_record.hpp"
#include "broker/verification/routing.hpp"
#include "common/async_event.hpp"
#include "common/blocking_call.hpp"
#include "common/id_number.hpp"
#include "common/time.hpp"
#include "crypto/hash.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using nlohmann::json;

audit::AuditRecord caller_record(const Principal& principal, const std::string& operator_id,
                                 const CallerCertificate& certificate) {
  audit::AuditRecord r;
  r.principal = principal.name;
  r.cert_sha256 = certificate.sha256;
  r.cert_serial = certificate.serial;
  r.operator_id = is_token(operator_id) ? operator_id : "";
  for (const auto& j : principal.jurisdictions) r.centre += (r.centre.empty() ? "" : ",") + j;
  // What the record concerns until a household's jurisdiction says more.
  r.jurisdiction = principal.scope();
  return r;
}

// Counts an interactive verification from its parsing to its report (an
// asynchronous one until its background part ends).
class Verifier::InteractiveMark {
 public:
  explicit InteractiveMark(std::shared_ptr<Activity> a) : activity_(std::move(a)) { ++activity_->interactive; }
  ~InteractiveMark() {
    --activity_->interactive;
    activity_->last_interactive_end = std::chrono::steady_clock::now();
  }
  InteractiveMark(const InteractiveMark&) = delete;
  InteractiveMark& operator=(const InteractiveMark&) = delete;

 private:
  std::shared_ptr<Activity> activity_;
};

// Everything a verification needs once every check has passed.
struct Verifier::Accepted {
  VerificationRequest request;
  std::string id;
  std::shared_ptr<const policies::PolicySet> policy_set;  // held: a reload cannot change rules mid-way
  const policies::JurisdictionPolicy* policy = nullptr;
  StoredAuthorization auth;
  std::vector<std::string> pseudonyms;        // the members' consent pseudonyms
  std::vector<std::string> audit_pseudonyms;  // and their audit log pseudonyms
  std::vector<Source> asked;
  std::shared_ptr<adapters::AdapterSet> adapters;  // held: a reload cannot swap them mid-way
  audit::AuditRecord base;
  std::string batch_id;                  // non-empty for a batch household
  bool summary_only = false;             // VerifyCall::summary_only
  std::shared_ptr<Cancellation> cancel;  // synchronous requests: fired if the caller disconnects
  std::function<net::awaitable<bool>()> before_queries;  // VerifyCall::before_queries
  std::function<void(const std::vector<SourceFailure>&)> queries_done;  // VerifyCall::queries_done
  std::function<std::chrono::milliseconds()> writes_may_wait;             // VerifyCall::writes_may_wait
  std::shared_ptr<InteractiveMark> interactive;

  std::chrono::milliseconds writes_wait() const {
    return writes_may_wait ? writes_may_wait() : std::chrono::milliseconds(0);
  }
};

namespace {

// A stored report is read back too (replays): a field that is not a string
// reads as absent instead of throwing.
ReportSummary summary_of(const json& report) {
  return {audit::untrusted::text_of(report, "outcome"), audit::untrusted::text_of(report, "classification")};
}

// Agency failures in the log, for operators: one line per agency and kind
// of failure in a verification (how many members), never who.
void log_agency_failures(const std::string& verification_id, const std::vector<SourceResult>& results) {
  std::map<std::pair<Source, FailureKind>, int> failed;
  for (const auto& r : results) {
    if (is_known(r.status) || r.status == SourceStatus::kDenied || r.cancelled) continue;
    if (r.failure == FailureKind::kCancelled) continue;
    ++failed[{r.source, r.failure}];
  }
  for (const auto& [key, members] : failed) {
    log_event(LogLevel::kWarn, "agency_failed",
              {{"agency", std::string(source_name(key.first))},
               {"kind", std::string(failure_kind_name(key.second))},
               {"members", members},
               {"verification_id", verification_id}});
  }
}

// The verification.report record's detail when the outcome rests on
// example parameter values (docs/audit-log-format.md): "provisional:
// <name>=<value> (from <date>); ...", read by the supervisor console. Values
// are policy figures, nothing personal.
std::string provisional_detail(const std::vector<policies::Provenance>& values) {
  std::string out;
  for (const auto& p : values) {
    out += out.empty() ? "provisional: " : "; ";
    out += p.name;
    out += '=';
    out += p.value;
    out += " (from ";
    out += p.from.to_string();
    out += ')';
  }
  return out;
}

// Keyed digest of what makes two verifications "the same household check".
std::string household_key(const json& body, const std::vector<std::string>& pseudonyms) {
  // Every field that can change the decision, as the caller sent it, except
  // who asks for it (case, authorisation) and how it is answered (async,
  // force); members by pseudonym, never by ID number or name, in a fixed
  // order. A corrected fact (a disability grade, an obligor's figures, the
  // current benefit) is a new check, not a repeat.
  json facts = body;
  for (const char* key : {"case_id", "authorization_id", "async", "force"}) facts.erase(key);
  std::vector<std::string> members;
  const json& listed = body.at("members");
  for (std::size_t i = 0; i < listed.size() && i < pseudonyms.size(); ++i) {
    json m = listed[i];
    m.erase("id_number");
    m.erase("name");
    m["pseudonym"] = pseudonyms[i];
    members.push_back(m.dump());
  }
  std::sort(members.begin(), members.end());
  facts["members"] = members;
  crypto::Sha256 h;
  h.update("hfv-household/v2").update(facts.dump());
  return crypto::to_hex(h.finish());
}

// What a verification.read record says about why a stored answer was read.
std::string_view replay_name(Replay how) {
  switch (how) {
    case Replay::kIdempotent: return "idempotent_replay";
    case Replay::kRepeat: return "repeat_within_window";
    case Replay::kRead: return "get";
    case Replay::kNew: break;
  }
  return "get";
}

// A refusal's audit rows: the refusal, then one refusal.subject per person
// the refused body named (`members`: their audit pseudonyms), so the
// citizen's access log shows it.
std::vector<audit::AuditRecord> with_refusal_subjects(const audit::AuditRecord& refusal,
                                                      const std::vector<std::string>& members) {
  std::vector<audit::AuditRecord> rows;
  rows.reserve(members.size() + 1);
  rows.push_back(refusal);
  for (const auto& p : members) {
    audit::AuditRecord subject = refusal;
    subject.action = "refusal.subject";
    subject.member = p;
    subject.detail.clear();
    rows.push_back(std::move(subject));
  }
  return rows;
}

// The report store keeps the HTTP status a finished verification was
// answered with (200: a report; otherwise the stored error body).
constexpr long kStoredReport = 200;
constexpr long kStoredWithheld = 503;

}  // namespace

Verifier::Verifier(VerifierParts parts)
    : parts_(std::move(parts)), adapters_(std::make_shared<adapters::AdapterSet>(std::move(parts_.adapters))) {}
Verifier::~Verifier() = default;

std::string Verifier::consent_pseudonym(const std::string& id_number) const {
  return crypto::to_hex(crypto::hmac_sha256(parts_.consent_pseudonym_key.bytes(), id_number));
}

std::string Verifier::member_salt(const std::string& authorization_id, const std::string& id_number) const {
  return crypto::to_hex(crypto::hmac_sha256(parts_.consent_pseudonym_key.bytes(),
                                            "hfv-member-salt/v1\n" + authorization_id + "\n" + id_number));
}

std::string Verifier::audit_pseudonym(const std::string& id_number) const {
  return crypto::to_hex(crypto::hmac_sha256(parts_.audit_pseudonym_key.bytes(), id_number));
}

std::vector<std::string> Verifier::named_pseudonyms(const json& body, const char* key) const {
  std::vector<std::string> members;
  auto listed = body.find(key);
  if (listed == body.end() || !listed->is_array() || listed->size() > kMaxMembers) return members;
  const Date today = Date::today_utc();
  for (const auto& m : *listed) {
    if (!m.is_object() || !m.contains("id_number") || !m["id_number"].is_string()) continue;
    const std::string id = m["id_number"].get<std::string>();
    if (validate_id_number(id, today) != IdNumberProblem::kNone) continue;
    const std::string p = audit_pseudonym(id);
    if (std::find(members.begin(), members.end(), p) == members.end()) members.push_back(p);
  }
  return members;
}

std::vector<audit::AuditRecord> Verifier::refusal_records(audit::AuditRecord refusal, const std::string& body) const {
  const json b = json::parse(body, nullptr, false);
  std::vector<std::string> members;
  if (b.is_object()) {
    auto token = [&](const char* key) {
      auto it = b.find(key);
      return it != b.end() && it->is_string() && is_token(it->get<std::string>()) ? it->get<std::string>()
                                                                                   : std::string();
    };
    refusal.case_id = token("case_id");
    refusal.authorization_id = token("authorization_id");
    refusal.programme = token("programme");
    const std::string jurisdiction = token("jurisdiction");
    if (parts_.divisions != nullptr && parts_.divisions->contains(jurisdiction)) refusal.jurisdiction = jurisdiction;
    members = named_pseudonyms(b, "members");
  }
  if (!members.empty() || !refusal.case_id.empty()) refusal.request_id = "rfs_" + crypto::to_hex(crypto::random_bytes(12));
  return with_refusal_subjects(refusal, members);
}

net::awaitable<Outcome> Verifier::refuse(const VerifyCall& call, RefusalReason reason, std::string message,
                                         std::string field) {
  audit::AuditRecord r = caller_record(*call.principal, call.operator_id, call.certificate);
  r.action = "request.refused";
  r.status = parts_.refusal_status != nullptr ? parts_.refusal_status(reason) : std::string(refusal_code(reason));
  r.detail = call.what + (field.empty() ? "" : " field=" + field);
  // A refusal queries nobody, so it is answered even if it cannot be
  // audited; the failure to audit is what the operator must then see.
  std::vector<audit::AuditRecord> rows = refusal_records(std::move(r), call.body);
  const bool audited = bool(co_await parts_.audit->append(std::move(rows)));
  co_return Outcome::refused(Refusal{reason, std::move(field), std::move(message)}, audited);
}

net::awaitable<std::vector<SourceResult>> Verifier::fan_out(const adapters::AdapterSet& adapters,
                                                            const std::vector<adapters::MemberQuery>& queries,
                                                            const std::vector<Source>& sources,
                                                            adapters::Deadline deadline) {
  std::vector<QueryPair> pairs;
  for (std::size_t q = 0; q < queries.size(); ++q) {
    for (Source s : sources) pairs.push_back({q, s});
  }
  co_return co_await fan_out(adapters, queries, pairs, deadline);
}

net::awaitable<std::vector<SourceResult>> Verifier::fan_out(const adapters::AdapterSet& adapters,
                                                            const std::vector<adapters::MemberQuery>& queries,
                                                            const std::vector<QueryPair>& pairs,
                                                            adapters::Deadline deadline) {
  auto executor = co_await net::this_coro::executor;
  std::vector<SourceResult> results(pairs.size());
  std::size_t remaining = results.size();
  AsyncEvent all_done(executor);
  if (remaining == 0) all_done.set();
  // A slot's answer is in: checked and counted.
  auto settle = [&](std::size_t slot) {
    restrict_supplied_text(results[slot]);
    // Ended by the verification's deadline (the transfer or the wait for a
    // slot was cut off there, a few ms of timer slack allowed): audited and
    // reported as cancelled.
    if (results[slot].status == SourceStatus::kTimeout &&
        std::chrono::steady_clock::now() + std::chrono::milliseconds(20) >= deadline) {
      results[slot].detail = "cancelled: verification deadline passed; " + results[slot].detail;
    }
    if (--remaining == 0) all_done.set();
  };
  // Each query waits for its agency's admission without a coroutine (a
  // few hundred bytes where a waiting coroutine chain took kilobytes, see
  // Adapter::admit); only an admitted query gets one.
  for (std::size_t slot = 0; slot < pairs.size(); ++slot) {
    const std::size_t q = pairs[slot].query;
    adapters::Adapter* adapter = adapters.at(pairs[slot].source).get();
    results[slot].member_index = queries[q].member_index;
    results[slot].source = pairs[slot].source;
    adapter->admit(queries[q], deadline, [&, adapter, slot, q](std::optional<SourceResult> refused) {
      if (refused) {
        results[slot] = std::move(*refused);
        settle(slot);
        return;
      }
      net::co_spawn(
          executor,
          [&, adapter, slot, q]() -> net::awaitable<void> {
            results[slot] = co_await adapter->query_admitted(queries[q], deadline);
          },
          [&, slot](const std::exception_ptr& failure) {
            if (failure) {  // an adapter bug must not look like an answer
              results[slot].status = SourceStatus::kError;
              results[slot].failure = FailureKind::kInternal;
              results[slot].detail = "internal error in adapter";
              results[slot].records = {};
            }
            settle(slot);
          });
    });
  }
  co_await all_done.wait();
  co_return results;
}

// --- Cross-region (docs/cross-region.md) --------------------------------------

net::awaitable<std::vector<SourceResult>> Verifier::fan_out_across_regions(
    Accepted& a, const std::vector<adapters::MemberQuery>& queries, adapters::Deadline deadline,
    std::vector<audit::AuditRecord>& after, std::map<std::pair<std::size_t, Source>, std::string>& answered_by) {
  const std::string local = parts_.config->centre;
  const RouteTable table = route_table_of(*parts_.config);
  const bool asks_hukou = std::find(a.asked.begin(), a.asked.end(), Source::kHukou) != a.asked.end();
  std::vector<SourceResult> results;
  // 1. Where each member is registered: the local registry, asked first.
  std::vector<const SourceResult*> registry(queries.size(), nullptr);
  if (asks_hukou && a.adapters->contains(Source::kHukou)) {
    const std::vector<Source> registry_only = {Source::kHukou};
    results = co_await fan_out(*a.adapters, queries, registry_only, deadline);
    for (const auto& r : results) registry[r.member_index] = &r;
  }
  // 2. Who answers each member x source.
  std::vector<QueryPair> local_pairs;
  std::map<std::pair<std::string, std::size_t>, PeerQuery> peer_queries;  // (peer, member)
  std::vector<SourceResult> unrouted;
  std::vector<std::size_t> registry_replaced;  // hukou results a peer answers instead
  for (std::size_t q = 0; q < queries.size(); ++q) {
    const Registration where = registration_of(registry[q], queries[q].id_number);
    for (Source s : a.asked) {
      const SourceRoute to = route(table, where.division, s);
      if (to.kind == SourceRoute::Kind::kLocal) {
        if (s != Source::kHukou) local_pairs.push_back({q, s});
        answered_by[{queries[q].member_index, s}] = local;
        continue;
      }
      if (to.kind == SourceRoute::Kind::kNone) {
        SourceResult r;
        r.member_index = queries[q].member_index;
        r.source = s;
        r.status = SourceStatus::kError;
        r.failure = FailureKind::kNotConfigured;
        r.detail = "no agency or peer serves division " + where.division + " for " + std::string(source_name(s));
        if (s == Source::kHukou && registry[q] != nullptr) registry_replaced.push_back(q);
        unrouted.push_back(std::move(r));
        continue;
      }
      if (s == Source::kHukou && registry[q] != nullptr) registry_replaced.push_back(q);
      PeerQuery& pq = peer_queries[{to.peer, q}];
      if (pq.members.empty()) {
        pq.request_id = a.id;
        pq.origin_centre = local;
        pq.operator_id = a.base.operator_id.empty() ? "none" : a.base.operator_id;
        pq.purpose = a.request.programme;
        pq.case_id = a.request.case_id;
        pq.jurisdiction = a.request.jurisdiction;
        pq.reference_date = a.request.reference_date;
        pq.authorization = peer_authorization(a.auth);
        PeerMember m;
        m.member_index = queries[q].member_index;
        m.id_number = queries[q].id_number;
        m.name = queries[q].name;
        m.salt = member_salt(a.auth.id, queries[q].id_number);
        m.division = where.division;
        pq.members.push_back(std::move(m));
      }
      pq.members.front().sources.push_back(s);
      answered_by[{queries[q].member_index, s}] = to.peer;
    }
  }
  // The registry's answer stands only where the registry is what routing chose.
  std::vector<SourceResult> kept;
  for (auto& r : results) {
    if (std::find(registry_replaced.begin(), registry_replaced.end(), r.member_index) == registry_replaced.end()) {
      kept.push_back(std::move(r));
    }
  }
  results = std::move(kept);
  // 3. Peer queries audited before they are sent; an authorisation from
  // before commitments existed cannot be used through a peer.
  std::vector<audit::AuditRecord> asking;
  for (const auto& entry : peer_queries) {
    const PeerQuery& pq = entry.second;
    audit::AuditRecord r = a.base;
    r.action = "peer.query";
    r.member = a.audit_pseudonyms[pq.members.front().member_index];
    r.status = "to_query";
    std::string names;
    for (Source s : pq.members.front().sources) names += (names.empty() ? "" : ",") + std::string(source_name(s));
    r.detail = "peer=" + entry.first.first + " division=" + pq.members.front().division + " sources=" + names +
               " authorization_digest=" + pq.authorization.digest;
    asking.push_back(std::move(r));
  }
  const bool commitments = !a.auth.member_commitments.empty();
  const bool audited = asking.empty() || (commitments && bool(co_await parts_.audit->append(std::move(asking))));
  // 4. Local agencies and peers at once.
  auto executor = co_await net::this_coro::executor;
  std::vector<PeerReply> replies(peer_queries.size());
  std::size_t remaining = peer_queries.size();
  AsyncEvent peers_done(executor);
  if (remaining == 0) peers_done.set();
  std::size_t slot = 0;
  for (auto& entry : peer_queries) {
    const std::string& peer_name = entry.first.first;
    const PeerQuery& pq = entry.second;
    std::shared_ptr<PeerClient> client;
    for (const auto& p : parts_.peers) {
      if (p->settings().name == peer_name) client = p;
    }
    if (!audited || client == nullptr) {
      std::string why = "not asked: the audit log cannot be written";
      if (!commitments) why = "not asked: the authorization was registered before cross-region verification";
      replies[slot] = failed_peer_reply(pq, SourceStatus::kError, FailureKind::kInternal,
                                        std::string("peer ").append(peer_name).append(": ").append(why));
      replies[slot].failure = why;
      if (--remaining == 0) peers_done.set();
      ++slot;
      continue;
    }
    net::co_spawn(
        executor,
        [&replies, slot, client, query = pq, deadline, cancel = a.cancel]() -> net::awaitable<void> {
          replies[slot] = co_await client->ask(query, deadline, cancel.get());
        },
        [&, slot, query = pq](const std::exception_ptr& failure) {
          if (failure) {  // a bug must not look like an answer
            replies[slot] = failed_peer_reply(query, SourceStatus::kError, FailureKind::kInternal,
                                              "internal error asking the peer");
            replies[slot].failure = "internal error";
          }
          if (--remaining == 0) peers_done.set();
        });
    ++slot;
  }
  std::vector<SourceResult> local_results = co_await fan_out(*a.adapters, queries, local_pairs, deadline);
  co_await peers_done.wait();
  for (auto& r : local_results) results.push_back(std::move(r));
  slot = 0;
  for (const auto& entry : peer_queries) {
    const std::string& peer_name = entry.first.first;
    const PeerQuery& pq = entry.second;
    PeerReply& reply = replies[slot++];
    audit::AuditRecord r = a.base;
    r.action = std::string(reply.answered ? "peer.answered" : "peer.failed");
    r.member = a.audit_pseudonyms[pq.members.front().member_index];
    r.status = std::string(reply.answered ? "answered" : "failed");
    r.digest = reply.answer_sha256;
    r.detail = "peer=" + peer_name + (reply.answered ? "" : " " + reply.failure);
    after.push_back(std::move(r));
    for (auto& result : reply.results) {
      if (reply.answered) result.evidence_sha256 = reply.answer_sha256;
      restrict_supplied_text(result);
      results.push_back(std::move(result));
    }
  }
  for (auto& r : unrouted) results.push_back(std::move(r));
  co_return results;
}

net::awaitable<Outcome> Verifier::verify(VerifyCall call) {
  const Date today = Date::today_utc();
  const Principal& principal = *call.principal;
  std::shared_ptr<InteractiveMark> interactive;
  if (call.batch_id.empty()) interactive = std::make_shared<InteractiveMark>(activity_);
  if (!call.idempotency_key.empty() && !is_token(call.idempotency_key)) {
    co_return co_await refuse(call, RefusalReason::kInvalidField, "must be 1-64 characters of A-Z a-z 0-9 . _ : -",
                              "Idempotency-Key");
  }
  auto body = parse_json_body(call.body);
  if (auto* e = std::get_if<FieldError>(&body)) {
    co_return co_await refuse(call, refusal_reason(e->code), e->message, e->field);
  }
  auto parsed = parse_verification_request(std::get<json>(body), today);
  if (auto* e = std::get_if<FieldError>(&parsed)) {
    co_return co_await refuse(call, refusal_reason(e->code), e->message, e->field);
  }
  auto accepted = std::make_shared<Accepted>();
  Accepted& a = *accepted;
  a.request = std::get<VerificationRequest>(std::move(parsed));
  const auto& v = a.request;
  if (!parts_.divisions->contains(v.jurisdiction)) {
    co_return co_await refuse(call, RefusalReason::kInvalidField, "is not a GB/T 2260 division code", "jurisdiction");
  }
  if (!principal.covers(v.jurisdiction)) {
    co_return co_await refuse(call, RefusalReason::kJurisdictionNotAllowed,
                              "this caller may not verify households in jurisdiction " + v.jurisdiction,
                              "jurisdiction");
  }
  a.policy_set = parts_.policies;
  auto policy = a.policy_set->find(v.jurisdiction);
  if (!policy) co_return co_await refuse(call, RefusalReason::kNoPolicy, policy.error().message, "jurisdiction");
  a.policy = *policy;
  for (const auto& m : v.members) {
    a.pseudonyms.push_back(consent_pseudonym(m.id_number));
    a.audit_pseudonyms.push_back(audit_pseudonym(m.id_number));
  }
  auto auth = co_await run_blocking(*parts_.blocking, [&] {
    return parts_.authorizations->find(v.authorization_id, principal.name);
  });
  if (!auth) co_return Outcome::unavailable_because(Unavailable::kState, "authorizations cannot be read now");
  if (!*auth) {
    co_return co_await refuse(call, RefusalReason::kConsentNotFound, "no such authorization for this caller",
                              "authorization_id");
  }
  if (auto problem = check_consent(**auth, v.case_id, v.jurisdiction, a.pseudonyms, today)) {
    co_return co_await refuse(call, refusal_reason(problem->code), problem->message, problem->field);
  }
  a.auth = std::move(**auth);

  // Idempotency: the same key from the same caller gets the same answer.
  StoredVerification row;
  row.principal = principal.name;
  row.idempotency_key = call.idempotency_key;
  row.request_sha256 = crypto::to_hex(crypto::sha256(call.body));
  row.household_key = household_key(std::get<json>(body), a.pseudonyms);
  row.created_unix = unix_seconds_now();
  if (!row.idempotency_key.empty()) {
    auto earlier = co_await run_blocking(*parts_.blocking, [&] {
      return parts_.reports->find_by_key(principal.name, row.idempotency_key);
    });
    if (!earlier) co_return Outcome::unavailable_because(Unavailable::kState, "verifications cannot be read now");
    if (*earlier) {
      if ((*earlier)->request_sha256 != row.request_sha256) {
        co_return co_await refuse(call, RefusalReason::kIdempotencyConflict,
                                  "this Idempotency-Key was used for a different request", "Idempotency-Key");
      }
      co_return co_await answer_stored(principal, call.operator_id, call.certificate, **earlier, Replay::kIdempotent, a.audit_pseudonyms);
    }
  }
  // Fair use: a recent report of the same household is returned again
  // unless the caller forces a new verification.
  if (!v.force && parts_.config->verification.repeat_window.count() > 0) {
    const auto since =
        row.created_unix - std::chrono::duration_cast<std::chrono::seconds>(parts_.config->verification.repeat_window).count();
    auto recent = co_await run_blocking(*parts_.blocking, [&] {
      return parts_.reports->latest_done(principal.name, row.household_key, since);
    });
    if (!recent) co_return Outcome::unavailable_because(Unavailable::kState, "verifications cannot be read now");
    if (*recent) co_return co_await answer_stored(principal, call.operator_id, call.certificate, **recent, Replay::kRepeat, a.audit_pseudonyms);
  }

  // Which agencies are asked: configured here and allowed by the authorisation.
  a.adapters = adapters_;
  // With peers (docs/cross-region.md), also what a peer answers.
  for (Source s : kAllSources) {
    const bool peer_answers = std::any_of(parts_.peers.begin(), parts_.peers.end(), [s](const auto& peer) {
      const auto& sources = peer->settings().sources;
      return std::find(sources.begin(), sources.end(), s) != sources.end();
    });
    if ((a.adapters->contains(s) || peer_answers) && a.auth.allows(s)) a.asked.push_back(s);
  }
  a.id = "ver_" + crypto::to_hex(crypto::random_bytes(12));
  row.id = a.id;
  a.base = caller_record(principal, call.operator_id, call.certificate);
  a.base.request_id = a.id;
  a.base.case_id = v.case_id;
  a.base.authorization_id = v.authorization_id;
  a.base.programme = v.programme;
  a.base.jurisdiction = v.jurisdiction;
  a.batch_id = call.batch_id;
  a.summary_only = call.summary_only;
  a.before_queries = std::move(call.before_queries);
  a.queries_done = std::move(call.queries_done);
  a.writes_may_wait = std::move(call.writes_may_wait);

  // Durable before anyone is asked: the request, and each person it reads.
  std::vector<audit::AuditRecord> before;
  before.reserve(1 + a.audit_pseudonyms.size());
  audit::AuditRecord head = a.base;
  head.action = "verification.request";
  head.status = "accepted";
  std::string asked_names;
  for (Source s : a.asked) asked_names += (asked_names.empty() ? "" : ",") + std::string(source_name(s));
  head.detail = "members=" + std::to_string(v.members.size()) + " sources=" + asked_names +
                (v.obligors ? " obligors=" + std::to_string(v.obligors->size()) : "") +
                (v.force ? " forced" : "") + (v.async ? " async" : "") +
                (a.batch_id.empty() ? "" : " batch=" + a.batch_id);  // for supervisors (docs/api.md)
  // Declared hardship (docs/api.md): counted here; the evidence hashes are
  // in the signed report, whose digest the audit keeps.
  if (!v.rigid_spending.empty()) head.detail += " rigid_spending=" + std::to_string(v.rigid_spending.size());
  if (v.emergency) head.detail += " emergency";
  before.push_back(std::move(head));
  for (const auto& p : a.audit_pseudonyms) {
    audit::AuditRecord subject = a.base;
    subject.action = "verification.subject";
    subject.member = p;
    subject.status = "to_query";
    before.push_back(std::move(subject));
  }
  // The running verification goes into the state database at the same time
  // (it lets a retry with the same Idempotency-Key find it).
  auto executor = co_await net::this_coro::executor;
  auto storing = parts_.reports->start_insert_running(WriteStart{*parts_.blocking, executor, a.writes_wait()}, row);
  const auto appended = co_await parts_.audit->append(std::move(before), a.writes_wait());
  const bool audited = bool(appended);
  const Status stored = co_await storing.get();
  if (!audited) {
    Outcome refused = Outcome::unavailable_because(Unavailable::kAudit,
                                                   "the audit log cannot be written, so no agency is queried");
    if (stored) {
      const std::string text = json{{"error", unavailable_code(Unavailable::kAudit)}, {"message", refused.message}}.dump();
      (void)co_await run_blocking(*parts_.blocking, [&] { return parts_.reports->finish(a.id, kStoredWithheld, text); });
    }
    co_return refused;
  }
  if (!stored) co_return Outcome::unavailable_because(Unavailable::kState, "verifications cannot be stored now");

  a.interactive = std::move(interactive);
  if (!v.async) {
    a.cancel = call.cancel;
    co_return co_await execute(accepted);
  }
  // Asynchronous: answer now, finish in the background on this executor.
  ++activity_->background;
  net::co_spawn(executor, execute(accepted), [activity = activity_](const std::exception_ptr&, const Outcome&) {
    --activity->background;
  });
  Outcome running;
  running.kind = Outcome::Kind::kRunning;
  running.verification_id = a.id;
  co_return running;
}

net::awaitable<Outcome> Verifier::answer_stored(const Principal& principal, const std::string& operator_id,
                                                CallerCertificate certificate,
                                                const StoredVerification& stored, Replay how,
                                                std::vector<std::string> pseudonyms) {
  // Reading a stored report is an access too, recorded with the household
  // it concerns: the report's case and purpose, and one read.subject record
  // per member (by pseudonym; from the verification's own subject records
  // when the reader did not name them).
  audit::AuditRecord r = caller_record(principal, operator_id, certificate);
  r.action = "verification.read";
  r.request_id = stored.id;
  r.status = std::string(state_name(stored.state));
  r.detail = replay_name(how);
  if (stored.http_status == kStoredReport) {
    const json report = json::parse(stored.response, nullptr, false);
    if (report.is_object()) {
      r.case_id = report.value("case_id", "");
      r.authorization_id = report.value("authorization_id", "");
      r.programme = report.value("programme", "");
      r.jurisdiction = report.value("jurisdiction", r.jurisdiction);
    }
  }
  if (pseudonyms.empty() && !r.case_id.empty()) {
    audit::AuditQuery q;
    q.case_id = r.case_id;
    q.action = "verification.subject";
    q.limit = 1000;
    const auto subjects = co_await run_blocking(*parts_.blocking, [&] { return parts_.audit->query(q); });
    if (subjects) {
      for (const auto& s : *subjects) {
        const json rec = json::parse(s.body, nullptr, false);
        if (rec.is_object() && rec.value("request_id", "") == stored.id && rec.contains("member"))
          pseudonyms.push_back(rec["member"].get<std::string>());
      }
    }
  }
  std::vector<audit::AuditRecord> rows;
  rows.push_back(r);
  for (auto& p : pseudonyms) {
    audit::AuditRecord subject = r;
    subject.action = "read.subject";
    subject.member = std::move(p);
    subject.detail.clear();
    rows.push_back(std::move(subject));
  }
  if (!co_await parts_.audit->append(std::move(rows))) {
    co_return Outcome::unavailable_because(Unavailable::kAudit, "the audit log cannot be written");
  }
  Outcome o;
  o.replay = how;
  o.verification_id = stored.id;
  if (stored.state == VerificationState::kRunning) {
    o.kind = Outcome::Kind::kRunning;
    co_return o;
  }
  if (stored.state == VerificationState::kCancelled) {
    o.kind = Outcome::Kind::kCancelled;
    o.message = "the caller disconnected before the report was issued; no report exists";
    co_return o;
  }
  if (stored.state == VerificationState::kInterrupted) {
    o.kind = Outcome::Kind::kInterrupted;
    co_return o;
  }
  json body = json::parse(stored.response, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    co_return Outcome::unavailable_because(Unavailable::kInternal, "stored answer is unreadable", stored.id);
  }
  if (stored.http_status != kStoredReport) {  // withheld: the audit log could not be written
    co_return Outcome::unavailable_because(
        body.value("error", "") == unavailable_code(Unavailable::kAudit) ? Unavailable::kAudit : Unavailable::kState,
        body.value("message", "no report was issued"), stored.id);
  }
  o.kind = Outcome::Kind::kReplayed;
  o.summary = summary_of(body);
  o.report = std::move(body);
  o.superseded_by = stored.superseded_by;
  co_return o;
}

net::awaitable<Outcome> Verifier::read(const Principal& principal, const std::string& operator_id,
                                       const std::string& id, CallerCertificate certificate) {
  auto found = co_await run_blocking(*parts_.blocking, [&] { return parts_.reports->find(id, principal.name); });
  if (!found) co_return Outcome::unavailable_because(Unavailable::kState, "verifications cannot be read now");
  if (!*found) {
    Outcome none;
    none.kind = Outcome::Kind::kNotFound;
    co_return none;
  }
  co_return co_await answer_stored(principal, operator_id, std::move(certificate), **found, Replay::kRead);
}

net::awaitable<ReplayOutcome> Verifier::replay(const Principal& principal, const std::string& operator_id,
                                               const std::string& id, CallerCertificate certificate) {
  ReplayOutcome out;
  auto fail = [&out](ReplayOutcome::Kind kind, std::string code, std::string message, std::string field = {}) {
    out.kind = kind;
    out.code = std::move(code);
    out.message = std::move(message);
    out.field = std::move(field);
    return std::move(out);
  };
  auto found = co_await run_blocking(*parts_.blocking, [&] { return parts_.reports->find_archived(id); });
  if (!found) {
    co_return fail(ReplayOutcome::Kind::kUnavailable, "state_unavailable", "verifications cannot be read now");
  }
  const bool supervisor = principal.role == Role::kSupervisor;
  // A case system sees only its own verifications; another's is "not found".
  if (!*found || (!supervisor && (*found)->verification.principal != principal.name)) {
    co_return fail(ReplayOutcome::Kind::kNotFound, "not_found", "no such verification", "id");
  }
  const StoredVerification& stored = (*found)->verification;
  json report;
  if (stored.state == VerificationState::kDone && stored.http_status == kStoredReport) {
    report = json::parse(stored.response, nullptr, false);
  }
  audit::AuditRecord r = caller_record(principal, operator_id, certificate);
  r.request_id = stored.id;
  if (report.is_object()) {
    r.case_id = report.value("case_id", "");
    r.authorization_id = report.value("authorization_id", "");
    r.programme = report.value("programme", "");
    r.jurisdiction = report.value("jurisdiction", r.jurisdiction);
  }
  // A report that does not open names no jurisdiction: only a supervisor of
  // the whole centre sees it (and is told it was tampered with, below).
  const bool unopenable = (*found)->report_unopenable;
  const std::string jurisdiction = report.is_object() ? report.value("jurisdiction", "") : "";
  if (supervisor && !principal.sees(jurisdiction)) {
    // Refused and audited like any refusal, naming only what the caller
    // sent (the id): nothing of the other jurisdiction's household.
    r = caller_record(principal, operator_id, certificate);
    r.request_id = stored.id;
    r.action = "request.refused";
    r.status = parts_.refusal_status != nullptr ? parts_.refusal_status(RefusalReason::kJurisdictionNotAllowed)
                                                : std::string(refusal_code(RefusalReason::kJurisdictionNotAllowed));
    r.detail = "GET /v1/verifications/{id}/replay field=jurisdiction";
    std::vector<audit::AuditRecord> refusal(1, r);
    if (!co_await parts_.audit->append(std::move(refusal))) {
      co_return fail(ReplayOutcome::Kind::kUnavailable, "audit_unavailable", "the audit log cannot be written");
    }
    co_return fail(ReplayOutcome::Kind::kForbidden, "jurisdiction_not_allowed",
                   "this caller may not replay reports of this jurisdiction", "jurisdiction");
  }
  if (!report.is_object() && !unopenable) {
    co_return fail(ReplayOutcome::Kind::kNoReport, "no_report",
                   "this verification issued no report (state " + std::string(state_name(stored.state)) + ")", "id");
  }
  // Who replays which report, durable before the archive is read.
  r.action = "verification.replay";
  r.status = "started";
  r.detail = "policy_version=" + (report.is_object() ? report.value("policy_version", "") : std::string());
  std::vector<audit::AuditRecord> started(1, r);
  if (!co_await parts_.audit->append(std::move(started))) {
    co_return fail(ReplayOutcome::Kind::kUnavailable, "audit_unavailable", "the audit log cannot be written");
  }
  // An archive or a stored report that was edited: loud, never compared.
  auto answer = replay_stored(**found, report, parts_.report_keys);
  // The result, for supervisors: identical, different, or why it failed.
  r.status = answer ? (answer->identical ? "identical" : "different") : answer.error().code;
  r.detail = answer ? "differences=" + std::to_string(answer->differences.size()) : "";
  std::vector<audit::AuditRecord> result(1, r);
  if (!co_await parts_.audit->append(std::move(result))) {
    log_event(LogLevel::kError, "audit_failed", {{"verification_id", stored.id}, {"action", "verification.replay"}});
  }
  if (!answer) {
    log_event(LogLevel::kError, "replay_failed", {{"verification_id", stored.id}, {"error", answer.error().code}});
    co_return fail(ReplayOutcome::Kind::kFailed, answer.error().code, answer.error().message);
  }
  if (!answer->identical) {
    log_event(LogLevel::kWarn, "replay_differs",
              {{"verification_id", stored.id}, {"differences", static_cast<std::int64_t>(answer->differences.size())}});
  }
  out.kind = ReplayOutcome::Kind::kDone;
  out.answer = std::move(*answer);
  out.replayed_at = utc_timestamp_now();
  co_return out;
}

std::vector<audit::AuditRecord> Verifier::answers_records(
    const std::vector<SourceResult>& results, std::size_t members,
    const std::function<std::size_t(std::size_t k)>& member_of,
    const std::function<audit::AuditRecord(std::size_t member)>& record_of) {
  std::vector<std::vector<audit::AgencyAnswer>> answers(members);
  for (std::size_t k = 0; k < results.size(); ++k) {
    const SourceResult& r = results[k];
    audit::AgencyAnswer answer;
    answer.source = std::string(source_name(r.source));
    answer.status = r.cancelled ? "cancelled" : std::string(status_name(r.status));
    answer.latency_ms = r.latency.count();
    answer.digest = r.evidence_sha256;
    answer.detail = "attempts=" + std::to_string(r.attempts) + (r.detail.empty() ? "" : " " + r.detail);
    answers.at(member_of(k)).push_back(std::move(answer));
  }
  std::vector<audit::AuditRecord> out;
  for (std::size_t m = 0; m < members; ++m) {
    if (answers[m].empty()) continue;
    audit::AuditRecord record = record_of(m);
    record.action = "agency.answers";
    record.answers = std::move(answers[m]);
    out.push_back(std::move(record));
  }
  return out;
}

// The caller disconnected while the agencies were being asked: their
// outstanding queries were cut (HttpClient, AgencyGuard) and no report is
// made for nobody. What was asked is audited — answers that came in time
// with their status and evidence digest, the cut queries as "cancelled" —
// with the verification's end, and its Idempotency-Key is let go so the
// caller's retry runs anew.
net::awaitable<Outcome> Verifier::call_off(Accepted& a, std::vector<audit::AuditRecord> rows, std::string why) {
  if (a.cancel != nullptr && a.cancel->cancelled()) why = a.cancel->reason();
  audit::AuditRecord end = a.base;
  end.action = "verification.cancelled";
  end.status = "cancelled";
  end.detail = why + "; no report issued";
  rows.push_back(std::move(end));
  if (!co_await parts_.audit->append(std::move(rows))) {
    log_event(LogLevel::kError, "audit_failed", {{"verification_id", a.id}, {"action", "verification.cancelled"}});
  }
  if (!co_await run_blocking(*parts_.blocking, [&] { return parts_.reports->cancel(a.id); })) {
    log_event(LogLevel::kError, "state_failed", {{"verification_id", a.id}, {"action", "cancel"}});
  }
  Outcome o;
  o.kind = Outcome::Kind::kCancelled;
  o.verification_id = a.id;
  o.message = why + "; no report was issued";
  co_return o;
}

namespace {

// A household's report as issued, assembled off the I/O thread. (The
// implicit moves are noexcept, as json's and string's are; the check reads
// json's invariant assertion as a possible throw.)
struct AssembledReport {  // NOLINT(bugprone-exception-escape)
  ArchivedInputs archived;  // what the decision rested on (input_archive.hpp)
  json report;              // signed (null when the call wanted the summary only)
  ReportSummary summary;    // the report's decision
  std::string text;         // report.dump(): the bytes stored, and hashed for the audit record
  std::exception_ptr failed;  // thrown while assembling: rethrown on the I/O thread
};

// What a decision rested on, stored with its report; the report names its
// digest (broker/verification/input_archive.hpp). Verifications and appeals.
ArchivedInputs archived_inputs(const std::string& id, const std::string& jurisdiction,
                               const policies::JurisdictionPolicy& policy, const policies::HouseholdInput& input) {
  ArchivedInputs archived;
  archived.text = archive_text(id, jurisdiction, policy, input);
  archived.sha256 = inputs_sha256(archived.text);
  archived.policy_version = policy.version();
  archived.policy_jurisdiction = policy.jurisdiction();
  archived.policy_content = policy.content();
  return archived;
}

// A report's entry for one agency query (`member`: the masked ID number),
// with the agency's breaker state when it is not closed.
json source_entry(std::string member, const SourceResult& r, const std::map<std::string, std::string>& breakers) {
  const std::string source(source_name(r.source));
  json s = {{"member", std::move(member)},
            {"member_index", r.member_index},
            {"source", source},
            {"status", std::string(status_name(r.status))},
            {"attempts", r.attempts}};
  if (!r.received_at.empty()) s["received_at"] = r.received_at;
  if (r.attempts > 0) s["latency_ms"] = r.latency.count();
  if (!r.evidence_sha256.empty()) s["evidence_sha256"] = r.evidence_sha256;
  if (!r.detail.empty()) s["detail"] = r.detail;
  const auto breaker = breakers.find(source);
  if (breaker != breakers.end() && breaker->second != "closed") s["breaker"] = breaker->second;
  return s;
}

// The queries among `results` that failed (error or timeout), for the
// caller's outcome and a batch's pace.
std::vector<SourceFailure> failures_of(const std::vector<SourceResult>& results) {
  std::vector<SourceFailure> failed;
  for (const auto& r : results) {
    if (r.status == SourceStatus::kError || r.status == SourceStatus::kTimeout) failed.push_back({r.source, r.failure});
  }
  return failed;
}

// Reads only what the verification owns and does not change while it waits
// (the request, its policy, the results) and the signer (const, OpenSSL 3
// keys may sign from several threads): safe on any thread.
AssembledReport assemble_report(const std::string& id, const VerificationRequest& request,
                                const policies::JurisdictionPolicy& policy, const policies::HouseholdInput& input,
                                const policies::Decision& decision, const std::vector<SourceResult>& results,
                                const std::map<std::pair<std::size_t, Source>, std::string>& answered_by,
                                const std::map<std::string, std::string>& breakers,
                                const crypto::Ed25519Signer& signer) {
  AssembledReport out;
  try {
    out.archived = archived_inputs(id, request.jurisdiction, policy, input);

    json report = {{"verification_id", id},
                   {"case_id", request.case_id},
                   {"programme", request.programme},
                   {"jurisdiction", request.jurisdiction},
                   {"area", std::string(policies::area_name(request.area))},
                   {"reference_date", request.reference_date.to_string()},
                   {"authorization_id", request.authorization_id},
                   {"generated_at", utc_timestamp_now()}};
    report.update(policies::decision_json(decision));
    json sources = json::array();
    for (const auto& r : results) {
      json s = source_entry(mask_id_number(request.members[r.member_index].id_number), r, breakers);
      // Only with peers (docs/cross-region.md) is anything answered elsewhere.
      if (const auto by = answered_by.find({r.member_index, r.source}); by != answered_by.end()) {
        s["answered_by"] = by->second;
      }
      sources.push_back(std::move(s));
    }
    report["sources"] = std::move(sources);
    report["inputs_sha256"] = out.archived.sha256;
    sign_report(report, signer);
    // The signed report's bytes as the caller receives them: a saved report
    // is matched to its audit record by hashing the file.
    out.text = report.dump(-1, ' ', false, json::error_handler_t::strict);
    out.summary = summary_of(report);
    out.report = std::move(report);
  } catch (...) {
    out.failed = std::current_exception();
  }
  return out;
}

}  // namespace

net::awaitable<Outcome> Verifier::execute(std::shared_ptr<Accepted> accepted) {
  Accepted& a = *accepted;
  if (a.before_queries) {  // a batch household: its turn at the agencies
    const auto turn = std::exchange(a.before_queries, nullptr);
    const bool go = co_await turn();
    if (!go) co_return co_await call_off(a, {}, "the batch was cancelled before any agency was asked");
  }
  const VerificationTimer timer(parts_.metrics);
  const auto started = std::chrono::steady_clock::now();
  std::vector<adapters::MemberQuery> queries;
  for (std::size_t i = 0; i < a.request.members.size(); ++i) {
    queries.push_back({i, a.request.members[i].id_number, a.request.members[i].name,
                       a.id + "-" + std::to_string(i), a.cancel});
  }
  const auto deadline = std::chrono::steady_clock::now() + parts_.config->verification.deadline;
  std::vector<audit::AuditRecord> after;
  std::map<std::pair<std::size_t, Source>, std::string> answered_by;  // with peers: who answered each pair
  // (Not a conditional expression: GCC 12 miscompiles co_await in one.)
  std::vector<SourceResult> results;
  if (parts_.peers.empty()) {
    results = co_await fan_out(*a.adapters, queries, a.asked, deadline);
  } else {
    results = co_await fan_out_across_regions(a, queries, deadline, after, answered_by);
  }
  observe_fan_out(parts_.metrics, results);
  if (a.queries_done) std::exchange(a.queries_done, nullptr)(failures_of(results));
  log_agency_failures(a.id, results);

  {
    auto answered = answers_records(
        results, a.request.members.size(), [&](std::size_t k) { return results[k].member_index; },
        [&](std::size_t m) {
          audit::AuditRecord r = a.base;
          r.member = a.audit_pseudonyms[m];
          return r;
        });
    after.reserve(after.size() + answered.size() + 1);  // and the report's
    std::move(answered.begin(), answered.end(), std::back_inserter(after));
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
        r.failure = FailureKind::kNotConfigured;
        r.detail = "no adapter configured for this agency";
      }
      results.push_back(std::move(r));
    }
  }

  policies::HouseholdInput input;
  input.member_count = a.request.members.size();
  for (const auto& m : a.request.members) {
    policies::MemberFacts f;
    f.birth_date = *id_birth_date(m.id_number);
    f.relation = m.relation;
    f.disability_grade = m.disability_grade;
    f.disability_kind = m.disability_kind;
    f.serious_illness = m.serious_illness;
    f.employed = m.employed;
    f.labour_capacity = m.labour_capacity;
    f.disabled_serviceman_grade = m.disabled_serviceman_grade;
    f.entitled_group_pension = m.entitled_group_pension;
    input.members.push_back(std::move(f));
  }
  input.area = a.request.area;
  input.reference_date = a.request.reference_date;
  input.programme = a.request.programme;
  input.current_benefit = a.request.current_benefit;
  input.obligors = a.request.obligors;
  input.rigid_spending = a.request.rigid_spending;
  input.emergency = a.request.emergency;
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
    review_pending.emplace(
        parts_.reviews->start_record_pending(WriteStart{*parts_.blocking, executor, a.writes_wait()}, std::move(review)));
  }

  // The report's archive, JSON, signature and bytes: about a third of the
  // I/O thread's time per household in a batch (docs/performance.md), so
  // built on the compute pool when there is one. The breakers are read
  // here, on the I/O thread that owns them, as the report is assembled.
  const auto breakers = adapters::breaker_states(*a.adapters);
  auto assemble = [&] {
    AssembledReport assembled = assemble_report(a.id, a.request, *a.policy, input, decision, results, answered_by,
                                                breakers, *parts_.signer);
    if (a.summary_only) assembled.report = json();  // freed here, off the I/O thread
    return assembled;
  };
  AssembledReport assembled;
  if (parts_.compute != nullptr) {
    auto assembling = start_blocking(*parts_.compute, executor, assemble);
    assembled = co_await assembling.get();
  } else {
    assembled = assemble();
  }
  if (assembled.failed) std::rethrow_exception(assembled.failed);
  json& report = assembled.report;
  ArchivedInputs& archived = assembled.archived;
  Outcome issued_outcome;
  issued_outcome.failed_sources = failures_of(results);

  if (review_pending && !co_await review_pending->get()) {
    log_event(LogLevel::kError, "review_record_failed", {{"verification_id", a.id}});
  }

  // One append for what each agency answered and the report issued: one
  // group commit after the fan-out, not two.
  audit::AuditRecord issued = a.base;
  issued.action = "verification.report";
  issued.status = "issued";
  issued.outcome = assembled.summary.outcome;
  // The signed report's bytes as the caller receives them: a saved report
  // is matched to this record by hashing the file.
  issued.digest = crypto::to_hex(crypto::sha256(assembled.text));
  issued.detail = provisional_detail(decision.provisional_parameters);
  after.push_back(std::move(issued));
  if (!co_await parts_.audit->append(std::move(after), a.writes_wait())) {
    Outcome withheld = Outcome::unavailable_because(
        Unavailable::kAudit, "the audit log cannot be written; report withheld", a.id);
    const std::string text = json{{"error", unavailable_code(Unavailable::kAudit)}, {"message", withheld.message}}.dump();
    (void)co_await run_blocking(*parts_.blocking, [&] {
      if (reviewing) (void)parts_.reviews->drop_pending(a.id);
      return parts_.reports->finish(a.id, kStoredWithheld, text);
    });
    co_return withheld;
  }
  // The review record and the report are stored at the same time (two
  // databases, each with its writer).
  std::optional<BlockingCall<Status>> marking;
  const WriteStart writing{*parts_.blocking, executor, a.writes_wait()};
  if (reviewing) marking.emplace(parts_.reviews->start_mark_issued(writing, a.id));
  auto saving = parts_.reports->start_finish_issued(writing, a.id, std::move(assembled.text), std::move(archived));
  const Status saved = co_await saving.get();
  if (marking && !co_await marking->get()) {
    log_event(LogLevel::kError, "review_record_failed", {{"verification_id", a.id}});
  }
  if (!saved) co_return Outcome::unavailable_because(Unavailable::kState, "the report could not be stored", a.id);
  issued_outcome.kind = Outcome::Kind::kIssued;
  issued_outcome.verification_id = a.id;
  issued_outcome.summary = std::move(assembled.summary);
  issued_outcome.report = std::move(report);
  co_return issued_outcome;
}

// --- Appeals (docs/replay-and-what-if.md "Appeals") ---------------------------

net::awaitable<AppealOutcome> Verifier::refuse_appeal(const AppealCall& call, audit::AuditRecord record,
                                                      std::string code, std::string message, std::string field) {
  // Audited like a refused verification: who, what the caller may know of
  // the verification (its own), and one refusal.subject per person the
  // body named with a valid ID number, never the number.
  record.action = "request.refused";
  record.request_id.clear();
  record.status = parts_.appeal_refusal_status != nullptr ? parts_.appeal_refusal_status(code) : code;
  record.detail = "POST /v1/verifications/{id}/appeals" + (field.empty() ? "" : " field=" + field);
  const json b = json::parse(call.body, nullptr, false);
  const std::vector<std::string> members = b.is_object() ? named_pseudonyms(b, "disputed") : std::vector<std::string>();
  if (!members.empty()) record.request_id = "rfs_" + crypto::to_hex(crypto::random_bytes(12));
  std::vector<audit::AuditRecord> rows = with_refusal_subjects(record, members);
  AppealOutcome out;
  out.kind = AppealOutcome::Kind::kRefused;
  out.code = std::move(code);
  out.message = std::move(message);
  out.field = std::move(field);
  out.audited = bool(co_await parts_.audit->append(std::move(rows)));
  co_return out;
}

net::awaitable<AppealOutcome> Verifier::appeal(AppealCall call) {
  const Date today = Date::today_utc();
  const Principal& principal = *call.principal;
  const InteractiveMark interactive(activity_);  // batches yield to it like to a verification
  auto unavailable = [](std::string code, std::string message) {
    AppealOutcome o;
    o.kind = AppealOutcome::Kind::kUnavailable;
    o.code = std::move(code);
    o.message = std::move(message);
    return o;
  };
  audit::AuditRecord base = caller_record(principal, call.operator_id, call.certificate);

  // 1. The verification: the caller's own, with a standing report.
  auto found = co_await run_blocking(*parts_.blocking, [&] { return parts_.reports->find_archived(call.id); });
  if (!found) co_return unavailable("state_unavailable", "verifications cannot be read now");
  // Another case system's verification is "not found", as for a read.
  if (!*found || (*found)->verification.principal != principal.name) {
    co_return co_await refuse_appeal(call, base, "not_found", "no such verification", "id");
  }
  const StoredVerification& stored = (*found)->verification;
  json old_report;
  if (stored.state == VerificationState::kDone && stored.http_status == kStoredReport) {
    old_report = json::parse(stored.response, nullptr, false);
  }
  if ((*found)->report_unopenable) {  // edited where it is stored: loud, never appealed
    log_event(LogLevel::kError, "appeal_failed", {{"verification_id", stored.id}, {"error", "archive_tampered"}});
    co_return co_await refuse_appeal(call, base, "archive_tampered",
                                     "the stored report does not open (edited, moved or sealed under another "
                                     "key): not appealed",
                                     "");
  }
  if (!old_report.is_object()) {
    co_return co_await refuse_appeal(
        call, base, "no_report",
        "this verification issued no report (state " + std::string(state_name(stored.state)) + ")", "id");
  }
  base.case_id = old_report.value("case_id", "");
  base.authorization_id = old_report.value("authorization_id", "");
  base.programme = old_report.value("programme", "");
  base.jurisdiction = old_report.value("jurisdiction", base.jurisdiction);
  if (!stored.superseded_by.empty()) {
    co_return co_await refuse_appeal(call, base, std::string(refusal_code(RefusalReason::kAlreadySuperseded)),
                                     "this report was superseded by " + stored.superseded_by +
                                         ": appeal that one",
                                     "id");
  }

  // 2. The appeal itself.
  auto body = parse_json_body(call.body);
  if (auto* e = std::get_if<FieldError>(&body)) {
    co_return co_await refuse_appeal(call, base, e->code, e->message, e->field);
  }
  auto parsed = parse_appeal_request(std::get<json>(body), today);
  if (auto* e = std::get_if<FieldError>(&parsed)) {
    co_return co_await refuse_appeal(call, base, e->code, e->message, e->field);
  }
  const AppealRequest request = std::get<AppealRequest>(std::move(parsed));

  // 3. What the old decision rested on, checked as a replay checks it
  // (open_stored_archive: the report's signature, the archive against its
  // inputs_sha256, its format, verification id, policy version and
  // jurisdiction).
  auto opened = open_stored_archive(**found, old_report, parts_.report_keys);
  if (!opened) {
    const std::string code = opened.error().code;
    if (code == "archive_missing") {
      co_return co_await refuse_appeal(call, base, code,
                                       opened.error().message +
                                           ": it cannot be appealed, verify the household again",
                                       "id");
    }
    log_event(LogLevel::kError, "appeal_failed", {{"verification_id", stored.id}, {"error", code}});
    co_return co_await refuse_appeal(call, base, code == "archive_tampered" ? code : "archive_unreadable",
                                     opened.error().message + ": not appealed", "");
  }
  policies::HouseholdInput* household = &opened->household;  // the disputed entries are replaced below

  // 4. Each pair can be appealed: the member exists, the source was asked
  // (not denied by the authorisation) and has an adapter now.
  auto adapters = adapters_;  // held: a reload cannot swap them mid-way
  for (std::size_t i = 0; i < request.disputed.size(); ++i) {
    const AppealMember& m = request.disputed[i];
    const std::string where = "disputed[" + std::to_string(i) + "]";
    if (m.member_index >= household->members.size()) {
      co_return co_await refuse_appeal(call, base, std::string(refusal_code(RefusalReason::kInvalidPair)),
                                       "the verification has " + std::to_string(household->members.size()) +
                                           " members (indexes from 0)",
                                       where + ".member_index");
    }
    for (std::size_t k = 0; k < m.sources.size(); ++k) {
      const std::string field = where + ".sources[" + std::to_string(k) + "]";
      const auto entry = std::find_if(household->sources.begin(), household->sources.end(), [&](const SourceResult& r) {
        return r.member_index == m.member_index && r.source == m.sources[k];
      });
      if (entry == household->sources.end() || entry->status == SourceStatus::kDenied) {
        co_return co_await refuse_appeal(call, base, std::string(refusal_code(RefusalReason::kInvalidPair)),
                                         "this source was not asked about this member in the verification", field);
      }
      if (!adapters->contains(m.sources[k])) {
        co_return co_await refuse_appeal(call, base, std::string(refusal_code(RefusalReason::kInvalidPair)), "no adapter is configured for this agency now",
                                         field);
      }
    }
  }

  // 5. Each disputed member is the person the verification read: the
  // birth date in the archive, and the audit pseudonym of its
  // verification.subject record (one per member, in request order).
  std::vector<std::string> read_pseudonyms;
  {
    audit::AuditQuery q;
    q.case_id = base.case_id;
    q.action = "verification.subject";
    q.limit = 1000;
    for (int page = 0; page < 100 && read_pseudonyms.size() < household->members.size(); ++page) {
      const auto rows = co_await run_blocking(*parts_.blocking, [&] { return parts_.audit->query(q); });
      if (!rows) co_return unavailable("audit_unavailable", "the audit log cannot be read now");
      for (const auto& row : *rows) {
        const json rec = json::parse(row.body, nullptr, false);
        if (rec.is_object() && rec.value("request_id", "") == stored.id && rec.contains("member"))
          read_pseudonyms.push_back(rec["member"].get<std::string>());
      }
      if (static_cast<std::int64_t>(rows->size()) < q.limit) break;
      q.after_seq = rows->back().seq;
    }
  }
  for (std::size_t i = 0; i < request.disputed.size(); ++i) {
    const AppealMember& m = request.disputed[i];
    const bool same_birth = id_birth_date(m.id_number) == household->members[m.member_index].birth_date;
    const bool same_person = read_pseudonyms.size() == household->members.size() &&
                             read_pseudonyms[m.member_index] == audit_pseudonym(m.id_number);
    if (!same_birth || !same_person) {
      co_return co_await refuse_appeal(call, base, std::string(refusal_code(RefusalReason::kMemberMismatch)),
                                       "is not the person the verification read as member " +
                                           std::to_string(m.member_index),
                                       "disputed[" + std::to_string(i) + "].id_number");
    }
  }

  // 6. The authorisation still covers it, now: the same checks as a new
  // verification, for the members re-queried and the sources asked.
  std::vector<std::string> consent;
  for (const auto& m : request.disputed) consent.push_back(consent_pseudonym(m.id_number));
  auto auth = co_await run_blocking(*parts_.blocking, [&] {
    return parts_.authorizations->find(base.authorization_id, principal.name);
  });
  if (!auth) co_return unavailable("state_unavailable", "authorizations cannot be read now");
  if (!*auth) {
    co_return co_await refuse_appeal(call, base, "consent_not_found", "the report's authorization is gone",
                                     "authorization_id");
  }
  if (auto problem = check_consent(**auth, base.case_id, base.jurisdiction, consent, today)) {
    std::string field = problem->field;
    // check_consent names "members[i]": here that is the i-th disputed member.
    if (field.starts_with("members[")) field = "disputed[" + field.substr(8);
    co_return co_await refuse_appeal(call, base, problem->code, problem->message, field);
  }
  for (std::size_t i = 0; i < request.disputed.size(); ++i) {
    for (std::size_t k = 0; k < request.disputed[i].sources.size(); ++k) {
      if ((*auth)->allows(request.disputed[i].sources[k])) continue;
      co_return co_await refuse_appeal(call, base, std::string(refusal_code(RefusalReason::kInvalidPair)), "the authorization does not allow this source",
                                       "disputed[" + std::to_string(i) + "].sources[" + std::to_string(k) + "]");
    }
  }
  // The policy in force now (not the report's version: an appeal is a new
  // decision, and says so).
  auto policy_set = parts_.policies;
  auto policy = policy_set->find(base.jurisdiction);
  if (!policy) co_return co_await refuse_appeal(call, base, "no_policy", policy.error().message, "jurisdiction");

  // 7. Durable before anyone is asked: the appeal (which pairs, the
  // evidence digests), one appeal.subject per disputed pair (the citizen's
  // access log shows it) and one verification.subject per member of the
  // new verification (re-queried, or read from the archive).
  const std::string id = "ver_" + crypto::to_hex(crypto::random_bytes(12));
  base.request_id = id;
  std::string pairs_text;
  std::vector<QueryPair> pairs;
  std::vector<adapters::MemberQuery> queries;
  for (const auto& m : request.disputed) {
    for (Source s : m.sources) {
      pairs_text += (pairs_text.empty() ? "" : ",") + std::to_string(m.member_index) + ":" + std::string(source_name(s));
      pairs.push_back({queries.size(), s});
    }
    queries.push_back({m.member_index, m.id_number, m.name, id + "-" + std::to_string(m.member_index), nullptr});
  }
  std::string evidence_text;
  for (const auto& e : request.evidence_sha256) evidence_text += (evidence_text.empty() ? "" : ",") + e;
  std::vector<audit::AuditRecord> before;
  audit::AuditRecord head = base;
  head.action = "verification.appeal";
  head.status = "accepted";
  // The reason is the citizen's words: in the signed report (whose digest
  // the audit keeps), not in the log's non-personal detail.
  head.detail = "appeal_of=" + stored.id + " disputed=" + pairs_text + " evidence_sha256=" + evidence_text;
  before.push_back(head);
  for (const auto& m : request.disputed) {
    for (Source s : m.sources) {
      audit::AuditRecord subject = base;
      subject.action = "appeal.subject";
      subject.member = read_pseudonyms[m.member_index];
      subject.source = std::string(source_name(s));
      subject.status = "disputed";
      before.push_back(std::move(subject));
    }
  }
  for (std::size_t i = 0; i < read_pseudonyms.size(); ++i) {
    audit::AuditRecord subject = base;
    subject.action = "verification.subject";
    subject.member = read_pseudonyms[i];
    const bool disputed = std::any_of(request.disputed.begin(), request.disputed.end(),
                                      [i](const AppealMember& m) { return m.member_index == i; });
    subject.status = disputed ? "to_query" : "from_archive";
    before.push_back(std::move(subject));
  }
  StoredVerification row;
  row.id = id;
  row.principal = principal.name;
  row.request_sha256 = crypto::to_hex(crypto::sha256(call.body));
  row.household_key = stored.household_key;  // the same household: the fair-use window finds the new report
  row.created_unix = unix_seconds_now();
  auto executor = co_await net::this_coro::executor;
  auto storing = parts_.reports->start_insert_running(WriteStart{*parts_.blocking, executor}, row);
  const bool audited = bool(co_await parts_.audit->append(std::move(before)));
  const Status inserted = co_await storing.get();
  if (!audited) {
    if (inserted) {
      const std::string text =
          json{{"error", "audit_unavailable"}, {"message", "the audit log cannot be written"}}.dump();
      (void)co_await run_blocking(*parts_.blocking, [&] { return parts_.reports->finish(id, kStoredWithheld, text); });
    }
    co_return unavailable("audit_unavailable", "the audit log cannot be written, so no agency is queried");
  }
  if (!inserted) co_return unavailable("state_unavailable", "verifications cannot be stored now");

  // 8. Only the disputed pairs, through the verifier's own fan-out
  // (adapters, retries, breakers, deadline as for a verification).
  const auto deadline = std::chrono::steady_clock::now() + parts_.config->verification.deadline;
  std::vector<SourceResult> results = co_await fan_out(*adapters, queries, pairs, deadline);
  observe_fan_out(parts_.metrics, results);
  log_agency_failures(id, results);
  std::vector<audit::AuditRecord> after = answers_records(
      results, read_pseudonyms.size(), [&](std::size_t k) { return results[k].member_index; },
      [&](std::size_t m) {
        audit::AuditRecord r = base;
        r.member = read_pseudonyms[m];
        return r;
      });

  // 9. The archived input with exactly those entries replaced (a failed
  // one fails closed, as always), evaluated under the policy in force.
  for (const auto& r : results) {
    for (auto& entry : household->sources) {
      if (entry.member_index == r.member_index && entry.source == r.source) entry = r;
    }
  }
  const policies::Decision decision = policies::evaluate(**policy, *household);
  ArchivedInputs inputs = archived_inputs(id, base.jurisdiction, **policy, *household);

  const std::string appealed_at = utc_timestamp_now();
  json report = {{"verification_id", id},
                 {"case_id", base.case_id},
                 {"programme", base.programme},
                 {"jurisdiction", base.jurisdiction},
                 {"area", old_report.value("area", "")},
                 {"reference_date", old_report.value("reference_date", "")},
                 {"authorization_id", base.authorization_id},
                 {"generated_at", appealed_at}};
  report.update(policies::decision_json(decision));
  // The old report's source entries, the re-queried ones replaced.
  const auto breakers = adapters::breaker_states(*adapters);
  json sources = json::array();
  for (const auto& entry : old_report.value("sources", json::array())) {
    const std::size_t member_index = entry.value("member_index", std::size_t{0});
    const std::string source = entry.value("source", "");
    const auto fresh = std::find_if(results.begin(), results.end(), [&](const SourceResult& r) {
      return r.member_index == member_index && source_name(r.source) == source;
    });
    if (fresh == results.end()) {
      sources.push_back(entry);
      continue;
    }
    json s = source_entry(entry.value("member", ""), *fresh, breakers);
    s["appealed"] = true;
    sources.push_back(std::move(s));
  }
  report["sources"] = std::move(sources);
  report["inputs_sha256"] = inputs.sha256;
  report["supersedes"] = stored.id;
  json disputed = json::array();
  for (const auto& m : request.disputed) {
    for (Source s : m.sources) {
      disputed.push_back({{"member_index", m.member_index},
                          {"member", mask_id_number(m.id_number)},
                          {"source", std::string(source_name(s))}});
    }
  }
  report["appeal"] = {{"disputed", std::move(disputed)},
                      {"evidence_sha256", request.evidence_sha256},
                      {"reason", request.reason},
                      {"appealed_at", appealed_at},
                      // An appeal is a new decision: the policy in force when
                      // it was made, not the appealed report's version.
                      {"policy", "in_force"},
                      {"appealed_policy_version", old_report.value("policy_version", "")}};
  sign_report(report, *parts_.signer);

  // 10. What each agency answered and the report issued, in one append;
  // then the report, its archive and the old report's mark in one
  // transaction.
  audit::AuditRecord issued = base;
  issued.action = "verification.report";
  issued.status = "issued";
  issued.outcome = report["outcome"].get<std::string>();
  // The bytes stored and answered, hashed for the record (dumped once).
  const std::string report_text = report.dump();
  issued.digest = crypto::to_hex(crypto::sha256(report_text));
  issued.detail = "supersedes=" + stored.id;
  if (!decision.provisional_parameters.empty()) issued.detail += " " + provisional_detail(decision.provisional_parameters);
  after.push_back(std::move(issued));
  auto withhold = [&](const std::string& code, const std::string& message) {
    return json{{"error", code}, {"message", message}}.dump();
  };
  if (!co_await parts_.audit->append(std::move(after))) {
    const std::string text = withhold("audit_unavailable", "the audit log cannot be written; report withheld");
    (void)co_await run_blocking(*parts_.blocking, [&] { return parts_.reports->finish(id, kStoredWithheld, text); });
    co_return unavailable("audit_unavailable", "the audit log cannot be written; report withheld");
  }
  // Captured by reference only: a temporary lambda owning a string in a
  // co_await expression is destroyed twice by GCC 12's coroutines.
  const Status saved = co_await run_blocking(*parts_.blocking, [&] {
    return parts_.reports->finish_appeal(id, report_text, inputs, stored.id);
  });
  if (!saved) {
    const std::string superseded(refusal_code(RefusalReason::kAlreadySuperseded));
    const bool lost_race = saved.error().code == superseded;
    log_event(LogLevel::kError, "appeal_not_stored", {{"verification_id", id}, {"error", saved.error().code}});
    const std::string text = withhold(lost_race ? superseded : "state_unavailable",
                                      lost_race ? "another appeal superseded the report first; this one is withheld"
                                                : "the report could not be stored");
    (void)co_await run_blocking(*parts_.blocking, [&] { return parts_.reports->finish(id, kStoredWithheld, text); });
    if (lost_race) {
      AppealOutcome o;
      o.kind = AppealOutcome::Kind::kRefused;
      o.code = superseded;
      o.message = "another appeal superseded this report first";
      o.field = "id";
      co_return o;
    }
    co_return unavailable("state_unavailable", "the report could not be stored");
  }
  log_event(LogLevel::kInfo, "appeal_issued",
            {{"verification_id", id}, {"supersedes", stored.id}, {"pairs", static_cast<std::int64_t>(pairs.size())}});
  AppealOutcome out;
  out.kind = AppealOutcome::Kind::kIssued;
  out.verification_id = id;
  out.report = std::move(report);
  co_return out;
}

}  // namespace hfv::broker
