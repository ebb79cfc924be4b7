#include "broker/supervision/anomalies.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "common/date.hpp"
#include "common/time.hpp"
#include "common/id_number.hpp"

namespace hfv::broker {

using nlohmann::json;

namespace {

constexpr std::int64_t kDay = 86400;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

std::string date_of_day(std::int64_t day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  char out[32];
  (void)std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return out;
}

// Local (centre) time of a record.
struct LocalTime {
  std::int64_t day = 0;  // days since 1970-01-01, local
  int minute = 0;        // minutes after local midnight
  unsigned weekday = 1;  // ISO, 1 = Monday
};

std::optional<LocalTime> local_time(const std::string& ts, const AnomalyRules& rules) {
  auto utc = parse_utc_seconds(ts);
  if (!utc) return std::nullopt;
  const std::int64_t local = *utc + std::int64_t{rules.utc_offset_minutes} * 60;
  LocalTime t;
  t.day = floor_div(local, kDay);
  t.minute = static_cast<int>((local - t.day * kDay) / 60);
  t.weekday = std::chrono::weekday{std::chrono::sys_days{std::chrono::days{t.day}}}.iso_encoding();
  return t;
}

std::string hh_mm(int minute) {
  char out[32];
  (void)std::snprintf(out, sizeof out, "%02d:%02d", minute / 60, minute % 60);
  return out;
}

int severity_rank(const std::string& s) { return s == "high" ? 0 : s == "medium" ? 1 : 2; }

// Collects evidence for one flag: all seqs counted, the first kMaxEvidence kept.
struct Evidence {
  std::vector<std::int64_t> seqs;
  std::int64_t count = 0;
  void add(std::int64_t seq) {
    ++count;
    if (seqs.size() < kMaxEvidence) seqs.push_back(seq);
  }
};

AnomalyFlag make_flag(std::string kind, std::string severity, std::string principal, std::string op,
                      std::string subject, const Evidence& evidence, json facts) {
  AnomalyFlag f;
  f.kind = std::move(kind);
  f.severity = std::move(severity);
  f.principal = std::move(principal);
  f.operator_id = std::move(op);
  f.subject = std::move(subject);
  f.seqs = evidence.seqs;
  f.evidence_count = evidence.count;
  f.facts = std::move(facts);
  return f;
}

json sorted_list(const std::set<std::string>& items, std::size_t cap = 20) {
  json out = json::array();
  for (const auto& s : items) {
    if (out.size() >= cap) break;
    out.push_back(s);
  }
  return out;
}

std::string refusal_code(const std::string& status) {
  const auto space = status.find(' ');
  return space == std::string::npos ? status : status.substr(space + 1);
}

}  // namespace

AnomalyRecord anomaly_record(std::int64_t seq, const std::string& ts, const json& body) {
  AnomalyRecord r;
  r.seq = seq;
  r.ts = ts;
  if (!body.is_object()) return r;
  auto text = [&](const char* key) {
    auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  r.action = text("action");
  r.principal = text("principal");
  r.operator_id = text("operator");
  r.case_id = text("case_id");
  r.authorization_id = text("authorization_id");
  r.member = text("member");
  r.source = text("source");
  r.status = text("status");
  if (const auto answers = body.find("answers"); answers != body.end() && answers->is_array()) {
    for (const json& a : *answers) {
      if (!a.is_object()) continue;
      r.answers.emplace_back(a.value("source", ""), a.value("status", ""));
    }
  }
  return r;
}

Result<std::vector<RelativeLink>> load_relative_links(
    const std::filesystem::path& file,
    const std::function<std::string(const std::string&)>& pseudonym) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    return make_error("relations_unreadable", "the relations file cannot be read");
  if ((st.st_mode & S_IROTH) != 0 || (st.st_mode & S_IWOTH) != 0) {
    return make_error(
        "relations_unsafe",
        "the relations file must not be readable or writable by others (chmod o-rwx)");
  }
  std::ifstream in(file);
  if (!in) return make_error("relations_unreadable", "the relations file cannot be read");
  std::stringstream buf;
  buf << in.rdbuf();
  const json doc = json::parse(buf.str(), nullptr, false);
  auto bad = [](const std::string& where) {
    return make_error("relations_invalid",
                      "relations file: " + where + " is not valid (see docs/console.md)");
  };
  if (doc.is_discarded() || !doc.is_object() ||
      doc.value("format", "") != "hfv-relative-links/v1" || !doc.contains("links") ||
      !doc["links"].is_array()) {
    return bad("the document");
  }
  std::vector<RelativeLink> links;
  for (std::size_t i = 0; i < doc["links"].size(); ++i) {
    const json& l = doc["links"][i];
    const std::string where = "links[" + std::to_string(i) + "]";
    if (!l.is_object()) return bad(where);
    RelativeLink link;
    link.operator_id = l.value("operator", "");
    link.principal = l.value("principal", "");
    link.relation = l.value("relation", "");
    if (link.operator_id.empty() || link.relation.empty()) return bad(where);
    const std::string id = l.value("relative_id_number", "");
    const std::string given = l.value("relative_pseudonym", "");
    if (!id.empty()) {
      if (validate_id_number(id, Date::today_utc()) != IdNumberProblem::kNone)
        return bad(where + ".relative_id_number");
      link.member = pseudonym(id);
    } else if (given.size() == 64 &&
               given.find_first_not_of("0123456789abcdef") == std::string::npos) {
      link.member = given;
    } else {
      return bad(where);
    }
    links.push_back(std::move(link));
  }
  return links;
}

json anomaly_flag_json(const AnomalyFlag& f) {
  json j = {{"kind", f.kind},       {"severity", f.severity}, {"principal", f.principal},
            {"subject", f.subject}, {"seqs", f.seqs},         {"evidence_count", f.evidence_count},
            {"facts", f.facts}};
  if (!f.operator_id.empty()) j["operator"] = f.operator_id;
  return j;
}

AnomalyReport detect_anomalies(const AnomalyInput& in, const AnomalyRules& rules) {
  AnomalyReport report;
  auto in_window = [&](const AnomalyRecord& r) { return r.ts >= in.from_ts && r.ts < in.to_ts; };

  // Chart buckets: hours for a window of two days or less, else days (local time).
  const auto from_s = parse_utc_seconds(in.from_ts);
  const auto to_s = parse_utc_seconds(in.to_ts);
  const bool hourly = from_s && to_s && *to_s - *from_s <= 2 * kDay;
  auto bucket_of = [&](const LocalTime& t) {
    return hourly ? date_of_day(t.day) + " " + hh_mm(t.minute / 60 * 60) : date_of_day(t.day);
  };
  json volume_by_principal = json::object(), volume_by_source = json::object();
  json refusals_by_principal = json::object(), refusals_over_time = json::object(),
       agencies = json::object();
  auto bump = [](json& table, const std::string& row, const std::string& col) {
    json& cell = table[row][col];
    cell = cell.is_number() ? cell.get<std::int64_t>() + 1 : 1;
  };

  struct AuthState {
    std::string principal, case_id;
    std::int64_t revoked_seq = 0;
  };
  std::map<std::string, AuthState> auths;
  using OperatorKey = std::pair<std::string, std::string>;  // principal, operator
  std::map<std::tuple<std::string, std::string, std::string>,
           std::pair<Evidence, std::set<std::string>>>
      no_auth;
  struct Person {
    std::set<std::string> cases, principals, operators;
    Evidence evidence;
  };
  std::map<std::string, Person> persons;
  struct Day {
    Evidence evidence;
    std::vector<std::string> times;
    std::string reason;
  };
  std::map<std::tuple<std::string, std::string, std::int64_t>, Day> late;
  std::map<OperatorKey, std::map<std::int64_t, std::int64_t>> daily;  // all days, for baselines
  std::map<OperatorKey, std::map<std::int64_t, Evidence>>
      daily_in_window;  // days with window records
  std::map<std::tuple<std::string, std::string, std::string>,
           std::pair<Evidence, std::set<std::string>>>
      relatives;
  std::map<std::string, std::pair<Evidence, std::map<std::string, std::int64_t>>> refusals;
  const std::set<unsigned> work_days(rules.work_days.begin(), rules.work_days.end());
  const std::set<std::string> holidays(rules.holidays.begin(), rules.holidays.end());

  for (const AnomalyRecord& r : in.records) {
    if (r.action == "authorization.register") {
      if (!r.authorization_id.empty()) auths[r.authorization_id] = {r.principal, r.case_id, 0};
      continue;
    }
    if (r.action == "authorization.revoke") {
      if (auto it = auths.find(r.authorization_id);
          it != auths.end() && it->second.revoked_seq == 0)
        it->second.revoked_seq = r.seq;
      continue;
    }
    const auto local = local_time(r.ts, rules);
    if (!local) continue;
    const bool inside = in_window(r);
    if (r.action == "verification.request") {
      const OperatorKey who{r.principal, r.operator_id};
      ++daily[who][local->day];
      if (!inside) continue;
      daily_in_window[who][local->day].add(r.seq);
      bump(volume_by_principal, r.principal, bucket_of(*local));
      // Backed by an authorisation registered earlier, by the same principal,
      // for the same case, not revoked before this request?
      std::string reason;
      auto it = auths.find(r.authorization_id);
      if (r.authorization_id.empty()) {
        reason = "missing_authorization_id";
      } else if (it == auths.end()) {
        reason = "authorization_not_registered";
      } else if (it->second.principal != r.principal) {
        reason = "authorization_of_other_principal";
      } else if (it->second.case_id != r.case_id) {
        reason = "authorization_other_case";
      } else if (it->second.revoked_seq != 0 && it->second.revoked_seq < r.seq) {
        reason = "authorization_revoked";
      }
      if (!reason.empty()) {
        auto& entry = no_auth[{r.principal, r.operator_id, reason}];
        entry.first.add(r.seq);
        if (!r.case_id.empty()) entry.second.insert(r.case_id);
      }
      // Working hours, in the centre's local time.
      const std::string date = date_of_day(local->day);
      std::string why;
      if (holidays.contains(date)) {
        why = "holiday";
      } else if (!work_days.contains(local->weekday)) {
        why = "rest_day";
      } else if (local->minute < rules.work_start_minute) {
        why = "before_hours";
      } else if (local->minute >= rules.work_end_minute) {
        why = "after_hours";
      }
      if (!why.empty()) {
        Day& d = late[{r.principal, r.operator_id, local->day}];
        d.evidence.add(r.seq);
        if (d.times.size() < 10) d.times.push_back(hh_mm(local->minute));
        if (d.reason.empty()) d.reason = why;
      }
      continue;
    }
    if (!inside) continue;
    if (r.action == "verification.subject" && !r.member.empty()) {
      Person& p = persons[r.member];
      if (!r.case_id.empty()) p.cases.insert(r.case_id);
      p.principals.insert(r.principal);
      if (!r.operator_id.empty()) p.operators.insert(r.operator_id);
      p.evidence.add(r.seq);
      for (const RelativeLink& link : in.links) {
        if (link.member == r.member && link.operator_id == r.operator_id &&
            (link.principal.empty() || link.principal == r.principal)) {
          auto& entry = relatives[{r.principal, r.operator_id, r.member}];
          entry.first.add(r.seq);
          entry.second.insert(link.relation);
        }
      }
    } else if (r.action == "agency.answers" || r.action == "agency.query") {
      // One agency asked: a pair of an "agency.answers" record, or an older
      // log's "agency.query" record.
      auto asked = [&](const std::string& source, const std::string& status) {
        if (source.empty()) return;
        bump(volume_by_source, source, bucket_of(*local));
        json& a = agencies[source];
        if (!a.is_object()) a = {{"total", 0}, {"failed", 0}, {"statuses", json::object()}};
        a["total"] = a["total"].get<std::int64_t>() + 1;
        if (status == "timeout" || status == "error") a["failed"] = a["failed"].get<std::int64_t>() + 1;
        json& n = a["statuses"][status.empty() ? "unknown" : status];
        n = n.is_number() ? n.get<std::int64_t>() + 1 : 1;
      };
      if (r.action == "agency.query") asked(r.source, r.status);
      for (const auto& [source, status] : r.answers) asked(source, status);
    } else if (r.action == "request.refused") {
      const std::string code = refusal_code(r.status);
      auto& entry = refusals[r.principal];
      entry.first.add(r.seq);
      ++entry.second[code];
      bump(refusals_by_principal, r.principal, code);
      json& n = refusals_over_time[bucket_of(*local)];
      n = n.is_number() ? n.get<std::int64_t>() + 1 : 1;
      if (code.starts_with("consent_")) {
        auto& e = no_auth[{r.principal, r.operator_id, "refused_without_consent"}];
        e.first.add(r.seq);
      }
    }
  }

  for (const auto& [key, entry] : no_auth) {
    const auto& [principal, op, reason] = key;
    report.flags.push_back(make_flag(
        "no_authorization", reason == "refused_without_consent" ? "medium" : "high", principal, op,
        reason, entry.first,
        {{"reason", reason}, {"count", entry.first.count}, {"cases", sorted_list(entry.second)}}));
  }
  for (const auto& [member, p] : persons) {
    if (static_cast<int>(p.cases.size()) < rules.repeat_cases) continue;
    report.flags.push_back(make_flag(
        "repeated_person", "medium",
        p.principals.size() == 1 ? *p.principals.begin() : std::string(),
        p.operators.size() == 1 ? *p.operators.begin() : std::string(), member, p.evidence,
        {{"cases", p.cases.size()},
         {"case_ids", sorted_list(p.cases)},
         {"threshold", rules.repeat_cases},
         {"principals", sorted_list(p.principals)},
         {"operators", sorted_list(p.operators)}}));
  }
  for (const auto& [key, d] : late) {
    const auto& [principal, op, day] = key;
    report.flags.push_back(make_flag(
        "out_of_hours", "low", principal, op, date_of_day(day), d.evidence,
        {{"local_date", date_of_day(day)},
         {"count", d.evidence.count},
         {"local_times", d.times},
         {"reason", d.reason},
         {"working_hours", hh_mm(rules.work_start_minute) + "-" + hh_mm(rules.work_end_minute)},
         {"utc_offset_minutes", rules.utc_offset_minutes}}));
  }
  for (const auto& [who, days] : daily_in_window) {
    const auto& counts = daily.at(who);
    for (const auto& [day, evidence] : days) {
      std::int64_t before = 0;
      for (auto it = counts.lower_bound(day - rules.volume_baseline_days);
           it != counts.end() && it->first < day; ++it)
        before += it->second;
      const double mean = static_cast<double>(before) / rules.volume_baseline_days;
      const std::int64_t count = counts.at(day);
      const double threshold =
          std::max(static_cast<double>(rules.volume_min), rules.volume_factor * mean);
      if (static_cast<double>(count) < threshold ||
          static_cast<double>(count) <= rules.volume_factor * mean)
        continue;
      report.flags.push_back(make_flag("volume_spike", "medium", who.first, who.second,
                                       date_of_day(day), evidence,
                                       {{"local_date", date_of_day(day)},
                                        {"count", count},
                                        {"baseline_mean", std::round(mean * 100) / 100},
                                        {"baseline_days", rules.volume_baseline_days},
                                        {"threshold", std::round(threshold * 100) / 100}}));
    }
  }
  for (const auto& [key, entry] : relatives) {
    const auto& [principal, op, member] = key;
    report.flags.push_back(
        make_flag("relative_queried", "high", principal, op, member, entry.first,
                  {{"relations", sorted_list(entry.second)}, {"count", entry.first.count}}));
  }
  for (const auto& [principal, entry] : refusals) {
    if (entry.first.count < rules.refusals_min) continue;
    report.flags.push_back(make_flag("refusals", "medium", principal, "", principal, entry.first,
                                     {{"count", entry.first.count},
                                      {"codes", entry.second},
                                      {"threshold", rules.refusals_min}}));
  }
  std::stable_sort(
      report.flags.begin(), report.flags.end(), [](const AnomalyFlag& a, const AnomalyFlag& b) {
        const auto ka =
            std::make_tuple(severity_rank(a.severity), a.kind, a.seqs.empty() ? 0 : a.seqs.front());
        const auto kb =
            std::make_tuple(severity_rank(b.severity), b.kind, b.seqs.empty() ? 0 : b.seqs.front());
        return ka < kb;
      });
  report.stats = {
      {"bucket", hourly ? "hour" : "day"},        {"volume_by_principal", volume_by_principal},
      {"volume_by_source", volume_by_source},     {"refusals_by_principal", refusals_by_principal},
      {"refusals_over_time", refusals_over_time}, {"agencies", agencies}};
  return report;
}

}  // namespace hfv::broker
