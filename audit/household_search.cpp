#include "audit/household_search.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace hfv::audit {

using nlohmann::json;

namespace {

std::string text(const json& rec, const char* key) {
  auto it = rec.find(key);
  return it != rec.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void fill(std::string& field, const std::string& value) {
  if (field.empty()) field = value;
}

// What one access amounts to, from the actions of its records.
void classify(HouseholdAccess& a, const std::vector<json>& records) {
  a.kind = a.action;
  a.outcome = "recorded";
  for (const auto& rec : records) {
    const std::string action = text(rec, "action");
    if (action == "verification.request") {
      a.kind = "verification";
      if (a.outcome == "recorded") a.outcome = "accepted";
    } else if (action == "verification.report") {
      a.outcome = "issued";
      a.result = text(rec, "outcome");
    } else if (action == "verification.cancelled") {
      a.outcome = "cancelled";
      a.reason = text(rec, "detail");
    } else if (action == "request.refused") {
      a.kind = "refusal";
      a.outcome = "refused";
      a.reason = text(rec, "status");
    } else if (action == "verification.read") {
      a.kind = "report_read";
      a.outcome = "report_read";
      a.reason = text(rec, "detail");
    } else if (action == "access_log.read") {
      a.kind = "access_log_read";
      a.outcome = "read";
    } else if (action.starts_with("audit.")) {
      a.kind = "audit_search";
      a.outcome = "read";
    }
  }
}

}  // namespace

Result<HouseholdResult> search_household(const AuditLog& log, const HouseholdSearch& search) {
  HouseholdResult out;
  std::set<std::string> members_seen, cases_seen;
  std::vector<std::string> members_todo, cases_todo;
  auto add_member = [&](const std::string& m) {
    if (m.empty() || members_seen.contains(m)) return;
    if (members_seen.size() >= search.max_members) {
      out.truncated = true;
      return;
    }
    members_seen.insert(m);
    members_todo.push_back(m);
    out.members.push_back(m);
  };
  auto add_case = [&](const std::string& c) {
    if (c.empty() || cases_seen.contains(c)) return;
    if (cases_seen.size() >= search.max_cases) {
      out.truncated = true;
      return;
    }
    cases_seen.insert(c);
    cases_todo.push_back(c);
    out.case_ids.push_back(c);
  };
  add_member(search.member);
  add_case(search.case_id);

  std::map<std::int64_t, json> found;  // by seq
  std::map<std::int64_t, std::string> ts_of;
  auto visit = [&](const StoredRecord& r) {
    if (search.ignore_from_seq > 0 && r.seq >= search.ignore_from_seq) return true;
    if (found.contains(r.seq)) return true;
    json rec = json::parse(r.body, nullptr, false);
    if (!rec.is_object()) return true;
    add_member(text(rec, "member"));
    add_case(text(rec, "case_id"));
    ts_of[r.seq] = r.ts;
    found.emplace(r.seq, std::move(rec));
    return true;
  };
  AuditQuery base;
  base.from_ts = search.from_ts;
  base.to_ts = search.to_ts;
  base.jurisdiction_prefixes = search.jurisdiction_prefixes;
  base.unscoped_too = search.unscoped_too;
  base.limit = 1000;
  while (!members_todo.empty() || !cases_todo.empty()) {
    AuditQuery q = base;
    if (!members_todo.empty()) {
      q.member = members_todo.back();
      members_todo.pop_back();
    } else {
      q.case_id = cases_todo.back();
      cases_todo.pop_back();
    }
    if (auto s = log.scan(q, visit); !s) return s.error();
  }

  // Grouping, oldest first: a record joins the open access of its request
  // (reads: the latest read of that request), or starts one.
  std::vector<HouseholdAccess> accesses;
  std::vector<std::vector<json>> records_of;
  std::map<std::string, std::size_t> open;
  for (auto& [seq, rec] : found) {
    const std::string action = text(rec, "action");
    const std::string request = text(rec, "request_id");
    std::string key;
    bool starts = request.empty();
    if (!request.empty()) {
      const bool read = action == "verification.read" || action == "read.subject";
      key = (read ? "read:" : "req:") + request;
      starts = action == "verification.read" || !open.contains(key);
    }
    std::size_t index = 0;
    if (starts) {
      index = accesses.size();
      accesses.emplace_back();
      records_of.emplace_back();
      accesses[index].ts = ts_of[seq];
      accesses[index].action = action;
      accesses[index].request_id = request;
      if (!key.empty()) open[key] = index;
    } else {
      index = open[key];
    }
    HouseholdAccess& a = accesses[index];
    a.seqs.push_back(seq);
    fill(a.principal, text(rec, "principal"));
    fill(a.operator_id, text(rec, "operator"));
    fill(a.centre, text(rec, "centre"));
    fill(a.programme, text(rec, "programme"));
    fill(a.authorization_id, text(rec, "authorization_id"));
    fill(a.case_id, text(rec, "case_id"));
    fill(a.jurisdiction, text(rec, "jurisdiction"));
    const std::string m = text(rec, "member");
    if (!m.empty() && std::find(a.members.begin(), a.members.end(), m) == a.members.end()) a.members.push_back(m);
    records_of[index].push_back(std::move(rec));
  }
  for (std::size_t i = 0; i < accesses.size(); ++i) classify(accesses[i], records_of[i]);
  std::stable_sort(accesses.begin(), accesses.end(), [](const HouseholdAccess& x, const HouseholdAccess& y) {
    return x.seqs.front() > y.seqs.front();  // seq order is time order
  });
  if (accesses.size() > search.max_accesses) {
    accesses.resize(search.max_accesses);
    out.truncated = true;
  }
  out.accesses = std::move(accesses);
  return out;
}

}  // namespace hfv::audit
