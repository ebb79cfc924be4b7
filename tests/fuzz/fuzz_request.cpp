// libFuzzer target: a request body as POST /v1/verifications, POST
// /v1/authorizations, POST /v1/verifications/{id}/appeals and POST
// /v1/peer/queries read it (broker/verification/request.hpp):
// parse_json_body (depth limit), then parse_verification_request's,
// parse_authorization_request's, parse_appeal_request's and
// parse_peer_query's field checks, "today" fixed.
//
// Property, for each: whatever is accepted, written back as JSON by to_json
// below (the requests have no JSON form of their own) and parsed again, must
// be accepted and give the same request (compared through to_json, which
// writes every field the parser reads). Anything else traps.
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <variant>

#include "broker/verification/request.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using nlohmann::json;
using hfv::broker::AppealRequest;
using hfv::broker::AuthorizationRequest;
using hfv::broker::VerificationRequest;

json member_json(const hfv::broker::Member& m) {
  json j = {{"id_number", m.id_number}, {"name", m.name}, {"relation", m.relation},
            {"serious_illness", m.serious_illness}, {"employed", m.employed},
            {"entitled_group_pension", m.entitled_group_pension}};
  if (m.disability_grade) j["disability_grade"] = *m.disability_grade;
  if (!m.disability_kind.empty()) j["disability_kind"] = m.disability_kind;
  if (!m.labour_capacity.empty()) j["labour_capacity"] = m.labour_capacity;
  if (m.disabled_serviceman_grade) j["disabled_serviceman_grade"] = *m.disabled_serviceman_grade;
  return j;
}

json to_json(const VerificationRequest& r) {
  json j = {{"case_id", r.case_id},
            {"programme", r.programme},
            {"jurisdiction", r.jurisdiction},
            {"area", std::string(hfv::policies::area_name(r.area))},
            {"reference_date", r.reference_date.to_string()},
            {"authorization_id", r.authorization_id},
            {"members", json::array()},
            {"async", r.async},
            {"force", r.force}};
  for (const auto& m : r.members) j["members"].push_back(member_json(m));
  if (r.current_benefit) {
    const auto& b = *r.current_benefit;
    json c = {{"programme", std::string(hfv::policies::programme_name(b.programme))},
              {"since", b.since.to_string()}};
    if (b.gradual_exit_until) c["gradual_exit_until"] = b.gradual_exit_until->to_string();
    if (b.self_reported) c["self_reported"] = *b.self_reported;
    if (b.monthly_amount) c["monthly_amount"] = b.monthly_amount->to_string();
    if (b.amount_set_on) c["amount_set_on"] = b.amount_set_on->to_string();
    j["current_benefit"] = c;
  }
  if (r.obligors) {
    json list = json::array();
    for (const auto& o : *r.obligors) {
      json h = {{"members", o.member_count},
                {"receives_assistance", o.receives_assistance},
                {"rigid_spending_monthly", o.rigid_spending_monthly.to_string()}};
      if (o.disposable_income_monthly) h["disposable_income_monthly"] = o.disposable_income_monthly->to_string();
      if (!o.evidence_sha256.empty()) h["evidence_sha256"] = o.evidence_sha256;
      list.push_back(h);
    }
    j["obligors"] = list;
  }
  if (!r.rigid_spending.empty()) {
    json list = json::array();
    for (const auto& s : r.rigid_spending) {
      list.push_back({{"kind", s.kind},
                      {"amount", s.amount.to_string()},
                      {"period", s.monthly ? "monthly" : "window"},
                      {"evidence_sha256", s.evidence_sha256}});
    }
    j["rigid_spending"] = list;
  }
  if (r.emergency) {
    j["emergency"] = {{"cause", r.emergency->cause},
                      {"event_date", r.emergency->event_date.to_string()},
                      {"evidence_sha256", r.emergency->evidence_sha256}};
  }
  return j;
}

json to_json(const AuthorizationRequest& r) {
  json j = {{"case_id", r.case_id},
            {"jurisdiction", r.jurisdiction},
            {"members", r.members},
            {"valid_from", r.valid_from.to_string()},
            {"valid_until", r.valid_until.to_string()},
            {"form_sha256", r.form_sha256}};
  if (r.all_categories) {
    j["categories"] = "all";
  } else {
    j["categories"] = json::array();
    for (auto c : r.categories) j["categories"].push_back(std::string(hfv::source_name(c)));
  }
  return j;
}

json to_json(const AppealRequest& r) {
  json j = {{"disputed", json::array()}, {"evidence_sha256", r.evidence_sha256}, {"reason", r.reason}};
  for (const auto& m : r.disputed) {
    json sources = json::array();
    for (auto s : m.sources) sources.push_back(std::string(hfv::source_name(s)));
    j["disputed"].push_back(
        {{"member_index", m.member_index}, {"id_number", m.id_number}, {"name", m.name}, {"sources", sources}});
  }
  return j;
}

// The peer query has a JSON form of its own: the origin sends exactly it.
json to_json(const hfv::broker::PeerQuery& q) { return hfv::broker::peer_query_json(q); }

// Parses `body` as a request of type R; if accepted, checks the round trip.
template <typename R, typename Parse>
void round_trip(const json& body, const hfv::Date& today, Parse parse) {
  auto parsed = parse(body, today);
  if (!std::holds_alternative<R>(parsed)) return;
  const json first = to_json(std::get<R>(parsed));
  // Through the same text path as a client's body.
  auto again_body = hfv::broker::parse_json_body(first.dump());
  if (!std::holds_alternative<json>(again_body)) std::abort();
  auto again = parse(std::get<json>(again_body), today);
  if (!std::holds_alternative<R>(again)) std::abort();
  if (to_json(std::get<R>(again)) != first) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const hfv::Date kToday = *hfv::Date::from_ymd(2026, 11, 22);
  auto body = hfv::broker::parse_json_body(hfv::fuzz::as_text(data, size));
  if (!std::holds_alternative<json>(body)) return 0;
  round_trip<VerificationRequest>(std::get<json>(body), kToday, hfv::broker::parse_verification_request);
  round_trip<AuthorizationRequest>(std::get<json>(body), kToday, hfv::broker::parse_authorization_request);
  round_trip<AppealRequest>(std::get<json>(body), kToday, hfv::broker::parse_appeal_request);
  round_trip<hfv::broker::PeerQuery>(std::get<json>(body), kToday, hfv::broker::parse_peer_query);
  return 0;
}
