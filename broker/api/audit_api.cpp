// Service endpoints over the audit log: supervisors' search, verification,
// signed heads, proofs and export (/v1/audit...), and the citizen access log
// (/v1/access-log). Every read of the log is itself audited.
//
// Scope (docs/security.md "Who sees which audit records"): a supervisor
// sees, searches, proves and exports the records of its own jurisdictions;
// records concerning none (daemon events, unauthenticated callers) only a
// supervisor configured for the whole centre. The access log answers for
// one person only: the case system must hold an authorisation covering that
// person, only records naming that person's pseudonym are returned, and
// another caller's case, request and operator are left out.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <map>

#include "audit/export.hpp"
#include "audit/key_history.hpp"
#include "audit/household_search.hpp"
#include "broker/api/query_string.hpp"
#include "broker/api/service.hpp"
#include "broker/api/service_internal.hpp"
#include "common/id_number.hpp"
#include "common/json_error.hpp"
#include "common/records.hpp"
#include "common/time.hpp"
#include "crypto/hash.hpp"
#include "storage/page_check.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using detail::error_response;
using nlohmann::json;

namespace {

constexpr std::int64_t kMaxPage = 1000;
constexpr std::int64_t kMaxExport = 20000;

std::optional<std::int64_t> to_int(const std::string& s) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(s);
}

json record_json(const audit::StoredRecord& r) {
  json body = json::parse(r.body, nullptr, false);
  return {{"seq", r.seq},
          {"ts", r.ts},
          {"record", body.is_discarded() ? json(nullptr) : body},
          {"personal_erased",
           r.personal.empty() && r.envelope.find("personal_sha256") != std::string::npos},
          {"leaf_hash", r.leaf_hash}};
}

// The page check of GET /v1/audit/verify (docs/openapi.yaml, AuditVerify):
// what was authenticated, or why it does not apply.
json page_check_json(const std::optional<storage::PageCheckReport>& pages) {
  if (!pages) {
    return {{"applies", false},
            {"note", "PostgreSQL backend: the page check is for the SQLCipher file; PostgreSQL's "
                     "own data checksums guard its pages"}};
  }
  json answer = {{"applies", true},
                 {"ok", pages->ok()},
                 {"pages", pages->pages},
                 {"wal_frames", pages->wal_frames},
                 {"wal_frames_ignored", pages->wal_frames_ignored},
                 {"integrity_check", pages->structure_checked}};
  if (!pages->ok()) {
    if (pages->first_bad_page != 0) answer["first_bad_page"] = pages->first_bad_page;
    if (pages->first_bad_wal_frame != 0) answer["first_bad_wal_frame"] = pages->first_bad_wal_frame;
    answer["problem"] = pages->problem;
  }
  return answer;
}

json hashes_json(const std::vector<audit::merkle::Hash>& hashes) {
  json out = json::array();
  for (const auto& h : hashes) out.push_back(crypto::to_hex(h));
  return out;
}

// "YYYY-MM-DD" or an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SS[.mmm]Z": the
// bounds of a household search, compared with records' times as text.
bool is_time_bound(const std::string& s) {
  if (s.size() < 10 || !Date::parse(s.substr(0, 10))) return false;
  if (s.size() == 10) return true;
  if (s.size() < 20 || s[10] != 'T' || s.back() != 'Z' || s.size() > 24) return false;
  for (std::size_t i = 11; i + 1 < s.size(); ++i) {
    const char c = s[i];
    const bool digit = c >= '0' && c <= '9';
    if (!(digit || ((i == 13 || i == 16) && c == ':') || (i == 19 && c == '.'))) return false;
  }
  return true;
}

json access_json(const audit::HouseholdAccess& a) {
  json out = {{"ts", a.ts},         {"action", a.action}, {"kind", a.kind},
              {"outcome", a.outcome}, {"members", a.members}, {"records", a.seqs}};
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) out[key] = value;
  };
  put("reason", a.reason);
  put("result", a.result);
  put("request_id", a.request_id);
  put("principal", a.principal);
  put("operator", a.operator_id);
  put("centre", a.centre);
  put("programme", a.programme);
  put("authorization_id", a.authorization_id);
  put("case_id", a.case_id);
  put("jurisdiction", a.jurisdiction);
  return out;
}

bool visible_to(const Principal& principal, const std::string& envelope) {
  const json e = json::parse(envelope, nullptr, false);
  if (e.is_discarded()) return false;
  return principal.sees(e.value("jurisdiction", ""));
}

}  // namespace

net::awaitable<ApiResponse> Service::handle_audit(const ApiRequest& request,
                                                  const Principal& principal,
                                                  const std::string& path) {
  audit::AuditLog* log = parts_.audit;
  auto note_access = [&](std::string action, std::string detail, std::string member,
                         std::string jurisdiction = {}) -> net::awaitable<bool> {
    audit::AuditRecord r = base_record(request, &principal);
    if (!jurisdiction.empty()) r.jurisdiction = std::move(jurisdiction);
    r.action = std::move(action);
    r.status = "ok";
    r.detail = std::move(detail);
    r.member = std::move(member);
    std::vector<audit::AuditRecord> rows;
    rows.push_back(std::move(r));
    auto written = co_await log->append(std::move(rows));
    co_return written.ok();
  };
  const auto params = query_params(request.target);
  if (!params) co_return error_response(400, "invalid_field", "malformed query string", "query");
  auto param = [&](const char* key) {
    auto it = params->find(key);
    return it == params->end() ? std::string() : it->second;
  };

  // --- Citizen access log ---------------------------------------------------
  if (path == "/v1/access-log") {
    auto body = parse_json_body(request.body);
    if (auto* e = std::get_if<FieldError>(&body)) {
      co_return co_await refuse(request, &principal, 400, e->code, e->message, e->field);
    }
    const json& b = std::get<json>(body);
    const std::string id = b.is_object() ? b.value("id_number", "") : "";
    const std::string auth_id = b.is_object() ? b.value("authorization_id", "") : "";
    if (validate_id_number(id, Date::today_utc()) != IdNumberProblem::kNone) {
      co_return co_await refuse(request, &principal, 400, "invalid_field",
                                "must be a valid resident ID number", "id_number");
    }
    if (!is_token(auth_id)) {
      co_return co_await refuse(request, &principal, 400, "invalid_field",
                                "authorization_id is required", "authorization_id");
    }
    // The authorisation names the person under the consent store's key, the
    // log under its own (broker/store/store_keys.hpp).
    const std::string member = audit_pseudonym(id);
    auto auth = co_await run_blocking(
        *parts_.blocking, [&] { return parts_.authorizations->find(auth_id, principal.name); });
    if (!auth)
      co_return error_response(503, "state_unavailable", "authorizations cannot be read now");
    if (!*auth || !(*auth)->member_pseudonyms.contains(consent_pseudonym(id))) {
      co_return co_await refuse(request, &principal, 403, "consent_not_found",
                                "no authorization of this caller covers this person",
                                "authorization_id");
    }
    if (!co_await note_access("access_log.read", "authorization=" + auth_id, member, (*auth)->jurisdiction)) {
      co_return error_response(503, "audit_unavailable", "the audit log cannot be written now");
    }
    audit::AuditQuery q;
    q.member = member;
    q.actions = {"verification.subject", "agency.answers", "agency.query", "appeal.subject"};
    q.limit = kMaxPage;
    if (auto after = to_int(param("after_seq"))) q.after_seq = *after;
    auto rows = co_await run_blocking(*parts_.blocking, [&] { return log->query(q); });
    if (!rows)
      co_return error_response(503, "audit_unavailable", "the audit log cannot be read now");
    json accesses = json::array();
    for (const auto& r : *rows) {
      const json rec = json::parse(r.body, nullptr, false);
      if (rec.is_discarded()) continue;
      json a = {{"seq", r.seq}, {"ts", r.ts}, {"action", rec.value("action", "")}};
      for (const char* key : {"principal", "centre", "programme", "jurisdiction", "source", "status"}) {
        if (rec.contains(key)) a[key] = rec[key];
      }
      // Through or for which other centre (cross-region, docs/cross-region.md):
      // "peer=hanzhong" on the asking side, "origin=harbin" on the answering side.
      if (a["action"].get<std::string>().starts_with("peer.")) {
        const std::string detail = rec.value("detail", "");
        for (const char* key : {"peer=", "origin="}) {
          const auto at = detail.find(key);
          if (at == std::string::npos) continue;
          const auto start = at + std::strlen(key);
          a["other_centre"] = detail.substr(start, detail.find(' ', start) - start);
        }
      }
      // Who read the person, and where, is the person's to know; another
      // caller's case, request and operator stay with that caller.
      if (rec.value("principal", "") == principal.name) {
        for (const char* key : {"operator", "case_id", "request_id"}) {
          if (rec.contains(key)) a[key] = rec[key];
        }
      }
      // An "agency.answers" record is one access per agency it lists, shown
      // as the per-agency "agency.query" rows of older logs were.
      const auto answers = rec.find("answers");
      if (answers == rec.end() || !answers->is_array()) {
        accesses.push_back(std::move(a));
        continue;
      }
      a["action"] = "agency.query";
      for (const json& each : *answers) {
        json one = a;
        for (const char* key : {"source", "status"}) {
          if (each.is_object() && each.contains(key)) one[key] = each[key];
        }
        accesses.push_back(std::move(one));
      }
    }
    json answer = {{"accesses", accesses}, {"count", accesses.size()}};
    if (static_cast<std::int64_t>(rows->size()) == kMaxPage)
      answer["next_after_seq"] = rows->back().seq;
    co_return ApiResponse{200, std::move(answer), {}};
  }


  // --- Supervisor API (broker/api/routes.cpp: supervisors only) --------------
  // Household search: one row per access to any member of the households
  // one member (or one case) appeared in (audit/household_search.hpp).
  if (path == "/v1/audit/household-search") {
    auto body = parse_json_body(request.body);
    if (auto* e = std::get_if<FieldError>(&body)) co_return error_response(400, e->code, e->message, e->field);
    const json& b = std::get<json>(body);
    if (!b.is_object()) co_return error_response(400, "invalid_field", "must be a JSON object", "body");
    audit::HouseholdSearch search;
    std::string described;
    for (const auto& [k, v] : b.items()) {
      if (k != "member_id" && k != "case_id" && k != "from" && k != "to")
        co_return error_response(400, "invalid_field", "unknown field", member_field(k));
      if (!v.is_string()) co_return error_response(400, "invalid_field", "must be a string", k);
    }
    const std::string id = b.value("member_id", "");
    search.case_id = b.value("case_id", "");
    if (id.empty() == search.case_id.empty()) {
      co_return error_response(400, "invalid_field", "give exactly one of member_id and case_id", "member_id");
    }
    if (!id.empty()) {
      if (validate_id_number(id, Date::today_utc()) != IdNumberProblem::kNone)
        co_return error_response(400, "invalid_field", "must be a valid resident ID number", "member_id");
      search.member = audit_pseudonym(id);
      described = "member_id=*";
    } else {
      if (!is_token(search.case_id))
        co_return error_response(400, "invalid_field", "must be 1-64 characters of A-Z a-z 0-9 . _ : -", "case_id");
      described = "case_id=" + search.case_id;
    }
    // Default range: the last six months (183 days), as long as the log
    // keeps personal fields by default.
    search.from_ts = b.value("from", utc_timestamp(std::chrono::system_clock::now() - std::chrono::days(183)));
    search.to_ts = b.value("to", "");
    for (const auto& [key, value] : {std::pair{"from", search.from_ts}, std::pair{"to", search.to_ts}}) {
      if (!value.empty() && !is_time_bound(value))
        co_return error_response(400, "invalid_field", "must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.mmm]Z", key);
    }
    if (!search.to_ts.empty() && search.to_ts <= search.from_ts)
      co_return error_response(400, "invalid_field", "must be later than from", "to");
    described += " from=" + search.from_ts + (search.to_ts.empty() ? "" : " to=" + search.to_ts);
    search.jurisdiction_prefixes = principal.jurisdictions;
    search.unscoped_too = principal.whole_centre;
    // Audited before it is read; its own record is left out of its answer.
    audit::AuditRecord note = base_record(request, &principal);
    note.action = "audit.household_search";
    note.status = "ok";
    note.detail = described;
    note.member = search.member;
    note.case_id = search.case_id;
    std::vector<audit::AuditRecord> notes;
    notes.push_back(std::move(note));
    auto written = co_await log->append(std::move(notes));
    if (!written) co_return error_response(503, "audit_unavailable", "the audit log cannot be written now");
    search.ignore_from_seq = *written;
    auto found = co_await run_blocking(*parts_.blocking, [&] { return audit::search_household(*log, search); });
    if (!found) co_return error_response(503, "audit_unavailable", "the audit log cannot be read now");
    json accesses = json::array();
    for (const auto& a : found->accesses) accesses.push_back(access_json(a));
    json answer = {{"accesses", accesses},
                   {"count", accesses.size()},
                   {"members", found->members},
                   {"case_ids", found->case_ids},
                   {"from", search.from_ts},
                   {"truncated", found->truncated}};
    if (!search.to_ts.empty()) answer["to"] = search.to_ts;
    co_return ApiResponse{200, std::move(answer), {}};
  }

  if (path == "/v1/audit" || path == "/v1/audit/search") {
    const bool post = path == "/v1/audit/search";
    std::map<std::string, std::string> filters = *params;
    if (post) {  // the body keeps an ID number out of URLs and access logs
      auto body = parse_json_body(request.body);
      if (auto* e = std::get_if<FieldError>(&body))
        co_return error_response(400, e->code, e->message, e->field);
      const json& b = std::get<json>(body);
      if (!b.is_object())
        co_return error_response(400, "invalid_field", "must be a JSON object", "body");
      for (const auto& [k, v] : b.items()) {
        if (v.is_string())
          filters[k] = v.get<std::string>();
        else if (v.is_number_integer())
          filters[k] = std::to_string(v.get<std::int64_t>());
        else
          co_return error_response(400, "invalid_field", "filters are strings or integers", k);
      }
    }
    audit::AuditQuery q;
    std::string described;
    for (const auto& [key, value] : filters) {
      if (key == "from")
        q.from_ts = value;
      else if (key == "to")
        q.to_ts = value;
      else if (key == "principal")
        q.principal = value;
      else if (key == "operator")
        q.operator_id = value;
      else if (key == "case_id")
        q.case_id = value;
      else if (key == "source") {
        // Matched inside an "agency.answers" record's list: only a name.
        if (!parse_source(value)) co_return error_response(400, "invalid_field", "must be an agency name", "source");
        q.source = value;
      }
      else if (key == "outcome")
        q.outcome = value;
      else if (key == "action")
        q.action = value;
      else if (key == "member_id") {
        if (validate_id_number(value, Date::today_utc()) != IdNumberProblem::kNone) {
          co_return error_response(400, "invalid_field", "must be a valid resident ID number",
                                   "member_id");
        }
        q.member = audit_pseudonym(value);
      } else if (key == "member")
        q.member = value;  // a pseudonym, as in the records
      else if (key == "after_seq" || key == "limit") {
        auto n = to_int(value);
        if (!n)
          co_return error_response(400, "invalid_field", "must be a non-negative integer", key);
        if (key == "after_seq")
          q.after_seq = *n;
        else
          q.limit = std::min<std::int64_t>(std::max<std::int64_t>(*n, 1), kMaxPage);
      } else {
        co_return error_response(400, "invalid_field", "unknown filter", key);
      }
      // What was searched for, without the ID number itself.
      if (key != "after_seq" && key != "limit") {
        described += (described.empty() ? "" : " ") + key + "=" +
                     (key == "member_id" ? std::string("*") : value);
      }
    }
    if (described.size() > 200) described.resize(200);
    q.jurisdiction_prefixes = principal.jurisdictions;
    q.unscoped_too = principal.whole_centre;
    if (!co_await note_access("audit.query", described, q.member)) {
      co_return error_response(503, "audit_unavailable", "the audit log cannot be written now");
    }
    auto rows = co_await run_blocking(*parts_.blocking, [&] { return log->query(q); });
    if (!rows)
      co_return error_response(503, "audit_unavailable", "the audit log cannot be read now");
    json records = json::array();
    for (const auto& r : *rows) records.push_back(record_json(r));
    json answer = {{"records", records}, {"count", records.size()}};
    if (static_cast<std::int64_t>(rows->size()) == q.limit && !rows->empty()) {
      answer["next_after_seq"] = rows->back().seq;
    }
    co_return ApiResponse{200, std::move(answer), {}};
  }

  if (path == "/v1/audit/verify") {
    if (!co_await note_access("audit.verify", "", "")) {
      co_return error_response(503, "audit_unavailable", "the audit log cannot be written now");
    }
    auto head = co_await run_blocking(*parts_.blocking, [&] { return log->publish_head(); });
    auto report = co_await run_blocking(*parts_.blocking, [&] { return log->verify(); });
    if (!report) {
      co_return ApiResponse{200, {{"ok", false}, {"problem", report.error().message}}, {}};
    }
    json answer = {{"ok", report->ok},
                   {"records", report->records},
                   {"root_hash", report->head_hash},
                   {"heads_checked", report->heads_checked},
                   {"anchor_checked", report->anchor_checked}};
    if (!report->ok) {
      answer["first_bad_seq"] = report->first_bad_seq;
      answer["problem"] = report->problem;
    }
    answer["page_check"] = page_check_json(report->pages);
    if (head) answer["tree_head"] = audit::tree_head_json(*head);
    co_return ApiResponse{200, std::move(answer), {}};
  }

  if (path == "/v1/audit/head") {
    auto head = co_await run_blocking(*parts_.blocking, [&] { return log->publish_head(); });
    if (!head) co_return error_response(404, "not_found", "the audit log has no signed head yet");
    json answer = audit::tree_head_json(*head);
    answer["public_key"] = crypto::to_hex(log->public_key());
    co_return ApiResponse{200, std::move(answer), {}};
  }

  // The history of the log's signing keys (audit/key_history.hpp): the
  // first key (audit.public_key), the cross-signed transitions to the current
  // one; no transition before a first rotation.
  if (path == "/v1/audit/key-history") {
    co_return ApiResponse{200, audit::key_history_json(log->key_history()), {}};
  }

  if (path == "/v1/audit/proof") {
    auto seq = to_int(param("seq"));
    if (!seq || *seq < 1) co_return error_response(400, "invalid_field", "seq is required", "seq");
    const std::int64_t size = to_int(param("tree_size")).value_or(0);
    // A record outside the caller's jurisdictions is not there for it: no
    // proof of its existence either.
    auto rows = co_await run_blocking(*parts_.blocking, [&] { return log->read(*seq, 1); });
    if (!rows) co_return error_response(503, "audit_unavailable", "the audit log cannot be read now");
    if (rows->empty() || !visible_to(principal, rows->front().envelope)) {
      co_return error_response(404, "not_found", "no record " + std::to_string(*seq) + " in this caller's jurisdictions");
    }
    if (size == 0)
      (void)co_await run_blocking(*parts_.blocking, [&] { return log->publish_head(); });
    auto proof =
        co_await run_blocking(*parts_.blocking, [&] { return log->inclusion_proof(*seq, size); });
    if (!proof) co_return error_response(404, "not_found", proof.error().message);
    json answer = {{"seq", proof->seq},
                   {"leaf_index", proof->seq - 1},
                   {"leaf_hash", crypto::to_hex(proof->leaf_hash)},
                   {"path", hashes_json(proof->path)},
                   {"tree_head", audit::tree_head_json(proof->head)}};
    answer["envelope"] = rows->front().envelope;
    co_return ApiResponse{200, std::move(answer), {}};
  }

  if (path == "/v1/audit/consistency") {
    auto first = to_int(param("first"));
    if (!first || *first < 1)
      co_return error_response(400, "invalid_field", "first is required", "first");
    const std::int64_t second = to_int(param("second")).value_or(0);
    if (second == 0)
      (void)co_await run_blocking(*parts_.blocking, [&] { return log->publish_head(); });
    auto proof = co_await run_blocking(*parts_.blocking,
                                       [&] { return log->consistency_proof(*first, second); });
    if (!proof) co_return error_response(404, "not_found", proof.error().message);
    co_return ApiResponse{200,
                          {{"first", audit::tree_head_json(proof->first)},
                           {"second", audit::tree_head_json(proof->second)},
                           {"path", hashes_json(proof->path)}},
                          {}};
  }

  if (path == "/v1/audit/export") {
    auto from = to_int(param("from_seq"));
    auto to = to_int(param("to_seq"));
    if (!from || *from < 1)
      co_return error_response(400, "invalid_field", "from_seq is required", "from_seq");
    auto head = co_await run_blocking(*parts_.blocking, [&] { return log->publish_head(); });
    if (!head) co_return error_response(404, "not_found", "the audit log has no records yet");
    const std::int64_t last = to ? *to : static_cast<std::int64_t>(head->tree_size);
    if (last < *from || last - *from >= kMaxExport) {
      co_return error_response(
          400, "invalid_field",
          "to_seq must be >= from_seq and the range at most " + std::to_string(kMaxExport),
          "to_seq");
    }
    if (!co_await note_access(
            "audit.export", "from=" + std::to_string(*from) + " to=" + std::to_string(last), "")) {
      co_return error_response(503, "audit_unavailable", "the audit log cannot be written now");
    }
    const Principal* who = &principal;
    auto text = co_await run_blocking(*parts_.blocking, [&] {
      return log->export_ndjson(*from, last,
                                [who](const std::string& e) { return visible_to(*who, e); });
    });
    if (!text) co_return error_response(404, "not_found", text.error().message);
    co_return ApiResponse{200, {{"format", "hfv-audit-export/v2"}, {"ndjson", *text}}, {}};
  }

  co_return error_response(404, "not_found", "no such audit endpoint");
}

}  // namespace hfv::broker
