// The peer's side of cross-region verification (docs/cross-region.md "What
// a peer is asked, and what it checks"): Verifier::answer_peer. The
// origin's side (routing, asking peers) is Verifier::fan_out_across_regions
// in verifier.cpp.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <algorithm>

#include "broker/verification/consent.hpp"
#include "broker/verification/outcome.hpp"
#include "broker/verification/peer_answer.hpp"
#include "broker/verification/verifier.hpp"
#include "common/time.hpp"
#include "crypto/hash.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using nlohmann::json;

net::awaitable<PeerOutcome> Verifier::refuse_peer(audit::AuditRecord record, std::string code, std::string message,
                                                  std::string field) {
  record.action = "peer.refused";
  record.status = parts_.peer_refusal_status != nullptr ? parts_.peer_refusal_status(code) : code;
  record.detail = "POST /v1/peer/queries" + (field.empty() ? "" : " field=" + field) + " " + record.detail;
  while (record.detail.ends_with(' ')) record.detail.pop_back();
  std::vector<audit::AuditRecord> rows;
  rows.push_back(std::move(record));
  PeerOutcome out;
  out.kind = PeerOutcome::Kind::kRefused;
  out.code = std::move(code);
  out.message = std::move(message);
  out.field = std::move(field);
  out.audited = bool(co_await parts_.audit->append(std::move(rows)));
  co_return out;
}

net::awaitable<PeerOutcome> Verifier::answer_peer(PeerCall call) {
  const Date today = Date::today_utc();
  const Principal& principal = *call.principal;
  audit::AuditRecord base = caller_record(principal, "", call.certificate);
  auto body = parse_json_body(call.body);
  if (auto* e = std::get_if<FieldError>(&body)) co_return co_await refuse_peer(base, e->code, e->message, e->field);
  auto parsed = parse_peer_query(std::get<json>(body), today);
  if (auto* e = std::get_if<FieldError>(&parsed)) {
    // What the refusal can name of a malformed query: its request id, so
    // that the origin's supervisors find both sides.
    const json& b = std::get<json>(body);
    if (b.is_object() && b.contains("request_id") && b["request_id"].is_string() &&
        is_token(b["request_id"].get<std::string>())) {
      base.request_id = b["request_id"].get<std::string>();
    }
    co_return co_await refuse_peer(base, e->code, e->message, e->field);
  }
  const PeerQuery q = std::get<PeerQuery>(std::move(parsed));
  base.request_id = q.request_id;
  base.operator_id = q.operator_id;
  base.case_id = q.case_id;
  base.authorization_id = q.authorization.authorization_id;
  base.programme = q.purpose;
  base.detail = "origin=" + q.origin_centre + " authorization_digest=" + q.authorization.digest;
  auto refuse = [&](std::string code, std::string message, std::string field) {
    return refuse_peer(base, std::move(code), std::move(message), std::move(field));
  };
  if (q.origin_centre != principal.name) {
    co_return co_await refuse("origin_centre_mismatch", "is not the centre this certificate belongs to", "origin_centre");
  }
  if (std::find(principal.purposes.begin(), principal.purposes.end(), q.purpose) == principal.purposes.end()) {
    co_return co_await refuse("purpose_not_allowed", "this centre may not ask for this purpose", "purpose");
  }
  const StoredAuthorization terms = authorization_of(q.authorization);
  if (authorization_digest(terms) != q.authorization.digest) {
    co_return co_await refuse("authorization_digest_mismatch", "is not the digest of the authorization sent",
                              "authorization.digest");
  }
  if (q.authorization.case_id != q.case_id) {
    co_return co_await refuse("consent_other_case", "the authorization is for another case", "case_id");
  }
  if (today < terms.valid_from) {  // in force now, as for a local verification (consent.hpp)
    co_return co_await refuse("consent_not_yet_valid", "the authorization is not yet valid", "authorization.valid_from");
  }
  if (terms.valid_until < today) {
    co_return co_await refuse("consent_expired", "the authorization has expired", "authorization.valid_until");
  }
  for (std::size_t i = 0; i < q.members.size(); ++i) {
    const PeerMember& m = q.members[i];
    const std::string where = "members[" + std::to_string(i) + "]";
    const std::string commitment = member_commitment(m.salt, m.id_number);
    if (!std::binary_search(terms.member_commitments.begin(), terms.member_commitments.end(), commitment)) {
      co_return co_await refuse("member_not_covered", "this member did not sign the authorization", where + ".salt");
    }
    for (std::size_t k = 0; k < m.sources.size(); ++k) {
      if (!terms.allows(m.sources[k])) {
        co_return co_await refuse("source_not_allowed", "the authorization does not allow this source",
                                  where + ".sources[" + std::to_string(k) + "]");
      }
    }
    if (!principal.covers(m.division)) {
      co_return co_await refuse("jurisdiction_not_allowed", "this broker does not answer that centre for this division",
                                where + ".division");
    }
  }

  // Durable before any agency is asked: the request, and each person it reads.
  std::vector<std::string> divisions;
  for (const auto& m : q.members) divisions.push_back(m.division);
  base.jurisdiction = common_division_prefix(divisions);
  std::vector<audit::AuditRecord> before;
  audit::AuditRecord head = base;
  head.action = "peer.request";
  head.status = "accepted";
  before.push_back(head);
  std::vector<adapters::MemberQuery> queries;
  std::vector<std::string> pseudonyms;
  std::vector<QueryPair> pairs;
  std::vector<SourceResult> results;
  const auto adapters = adapters_;  // held: a reload cannot swap them mid-way
  for (std::size_t i = 0; i < q.members.size(); ++i) {
    const PeerMember& m = q.members[i];
    audit::AuditRecord subject = base;
    subject.action = "peer.subject";
    subject.jurisdiction = m.division;
    subject.member = audit_pseudonym(m.id_number);
    subject.status = "to_query";
    pseudonyms.push_back(subject.member);
    before.push_back(std::move(subject));
    queries.push_back({m.member_index, m.id_number, m.name, q.request_id + "-p" + std::to_string(m.member_index), nullptr});
    for (Source s : m.sources) {
      if (adapters->contains(s)) {
        pairs.push_back({i, s});
        continue;
      }
      SourceResult r;
      r.member_index = m.member_index;
      r.source = s;
      r.status = SourceStatus::kError;
      r.failure = FailureKind::kNotConfigured;
      results.push_back(std::move(r));
    }
  }
  const auto unavailable = [](std::string message) {
    PeerOutcome out;
    out.kind = PeerOutcome::Kind::kUnavailable;
    out.code = "audit_unavailable";
    out.message = std::move(message);
    return out;
  };
  if (!co_await parts_.audit->append(std::move(before))) {
    co_return unavailable("the audit log cannot be written, so no agency is queried");
  }
  // The origin stops waiting at deadline_ms: its agencies get nine tenths,
  // the rest is for the audit append, the signature and the way back.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::min(parts_.config->verification.deadline, std::chrono::milliseconds(q.deadline_ms * 9 / 10 + 1));
  std::vector<SourceResult> asked = co_await fan_out(*adapters, queries, pairs, deadline);

  std::vector<audit::AuditRecord> after = answers_records(
      asked, q.members.size(), [&](std::size_t k) { return pairs[k].query; },
      [&](std::size_t m) {
        audit::AuditRecord r = base;
        r.jurisdiction = q.members[m].division;
        r.member = pseudonyms[m];
        return r;
      });
  for (auto& r : asked) results.push_back(std::move(r));
  PeerAnswer answer;
  answer.request_id = q.request_id;
  answer.answering_centre = parts_.config->centre;
  answer.answered_at = utc_timestamp_now();
  answer.results = std::move(results);
  std::string text = peer_answer_text(answer, *parts_.signer);
  audit::AuditRecord answered = base;
  answered.action = "peer.answered";
  answered.status = "answered";
  answered.digest = crypto::to_hex(crypto::sha256(text));
  after.push_back(std::move(answered));
  if (!co_await parts_.audit->append(std::move(after))) {
    co_return unavailable("the audit log cannot be written; answer withheld");
  }
  PeerOutcome out;
  out.kind = PeerOutcome::Kind::kAnswered;
  out.answer = std::move(text);
  co_return out;
}

}  // namespace hfv::broker
