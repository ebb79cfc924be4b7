#include "broker/reviews/batch_review.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <tuple>

#include "common/money.hpp"
#include "policies/catalogue.hpp"
#include "common/time.hpp"

namespace hfv::broker {

using nlohmann::json;

namespace {

std::string yuan(const std::optional<std::int64_t>& fen) {
  return fen ? Money::from_fen(*fen).to_string() : std::string();
}

// Items of `now` beyond their count in `before` (masked identifiers may repeat).
std::vector<std::string> added(const std::vector<std::string>& before, const std::vector<std::string>& now) {
  std::map<std::string, int> count;
  for (const auto& b : before) ++count[b];
  std::vector<std::string> out;
  for (const auto& n : now) {
    if (count[n] > 0) {
      --count[n];
    } else {
      out.push_back(n);
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += (s.empty() ? "" : ",") + e;
  return s;
}

__extension__ using Wide = __int128;  // products of two 64-bit amounts

bool moved(std::int64_t before, std::int64_t now, std::int64_t share_permille) {
  const Wide diff = now > before ? Wide{now} - before : Wide{before} - now;
  if (before == 0) return diff != 0;
  // Exact: diff / |before| > share / 1000, multiplied out.
  const Wide base = before < 0 ? -Wide{before} : Wide{before};
  return diff * 1000 > base * share_permille;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string xml_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::vector<Change> detect_changes(const ReviewRecord* previous, const ReviewRecord& current,
                                   const ChangeSettings& settings) {
  std::vector<Change> out;
  if (previous != nullptr) {
    const ReviewRecord& p = *previous;
    if (p.outcome != current.outcome) {
      out.push_back({"outcome", kSeverityOutcome, p.outcome, current.outcome, ""});
    }
    if (p.classification != current.classification) {
      out.push_back({"classification", kSeverityClassification, p.classification, current.classification, ""});
    }
    const std::pair<const char*, std::vector<std::string> ReviewRecord::*> holdings[] = {
        {"new_real_estate", &ReviewRecord::real_estate},
        {"new_vehicle", &ReviewRecord::vehicles},
        {"new_business", &ReviewRecord::businesses}};
    for (const auto& [kind, member] : holdings) {
      const auto fresh = added(p.*member, current.*member);
      if (!fresh.empty()) {
        out.push_back({kind, kSeverityNewHolding, std::to_string((p.*member).size()),
                       std::to_string((current.*member).size()), joined(fresh)});
      }
    }
    const std::pair<const char*, std::optional<std::int64_t> ReviewRecord::*> figures[] = {
        {"income_per_capita", &ReviewRecord::income_per_capita_fen},
        {"assets_per_capita", &ReviewRecord::assets_per_capita_fen}};
    for (const auto& [kind, member] : figures) {
      const auto& before = p.*member;
      const auto& now = current.*member;
      if (before && now && moved(*before, *now, settings.share_permille)) {
        out.push_back({kind, kSeverityFigure, yuan(before), yuan(now), ""});
      }
    }
  }
  if (!current.failed_sources.empty()) {
    out.push_back({"sources_failed", kSeverityFailedSources, "", "", joined(current.failed_sources)});
  }
  return out;
}

json changes_json(const std::vector<Change>& changes) {
  json out = json::array();
  for (const auto& c : changes) {
    json j = {{"kind", c.kind}, {"severity", c.severity}};
    if (!c.from.empty()) j["from"] = c.from;
    if (!c.to.empty()) j["to"] = c.to;
    if (!c.detail.empty()) j["detail"] = c.detail;
    out.push_back(std::move(j));
  }
  return out;
}

namespace {

struct Row {
  const BatchItem* item;
  json change;
};

std::vector<Row> change_rows(const std::vector<BatchItem>& items) {
  std::vector<Row> rows;
  for (const auto& i : items) {
    if (i.severity == 0) continue;
    const json list = json::parse(i.changes_json, nullptr, false);
    if (!list.is_array()) continue;
    for (const auto& c : list) rows.push_back({&i, c});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    const int sa = a.change.value("severity", 0), sb = b.change.value("severity", 0);
    if (sa != sb) return sa > sb;
    if (a.item->severity != b.item->severity) return a.item->severity > b.item->severity;
    return a.item->case_id < b.item->case_id;
  });
  return rows;
}

}  // namespace

json change_list_json(const std::string& batch_id, const std::vector<BatchItem>& items) {
  json changes = json::array();
  std::size_t households = 0;
  for (const auto& i : items) households += i.severity > 0 ? 1 : 0;
  for (const auto& row : change_rows(items)) {
    json c = row.change;
    c["case_id"] = row.item->case_id;
    c["jurisdiction"] = row.item->jurisdiction;
    c["verification_id"] = row.item->verification_id;
    c["outcome"] = row.item->outcome;
    c["classification"] = row.item->classification;
    changes.push_back(std::move(c));
  }
  return {{"batch_id", batch_id}, {"households_with_changes", households}, {"changes", std::move(changes)}};
}

std::string change_list_csv(const std::vector<BatchItem>& items) {
  std::string out = "severity,kind,case_id,jurisdiction,from,to,detail,outcome,classification,verification_id\n";
  for (const auto& row : change_rows(items)) {
    const json& c = row.change;
    out += std::to_string(c.value("severity", 0)) + "," + csv_field(c.value("kind", "")) + "," +
           csv_field(row.item->case_id) + "," + csv_field(row.item->jurisdiction) + "," +
           csv_field(c.value("from", "")) + "," + csv_field(c.value("to", "")) + "," +
           csv_field(c.value("detail", "")) + "," + csv_field(row.item->outcome) + "," +
           csv_field(row.item->classification) + "," + csv_field(row.item->verification_id) + "\n";
  }
  return out;
}

namespace {
// One more under `key` in a JSON object of counts.
void count(json& object, const std::string& key) { object[key] = object.value(key, std::int64_t{0}) + 1; }
}  // namespace

json statistics_json(const BatchRow& batch, const std::vector<BatchItem>& items) {
  std::map<std::string, std::int64_t> states, outcomes, classifications, failed_sources, change_kinds;
  std::map<std::string, json> places;
  std::int64_t latency_sum = 0, latency_n = 0, with_changes = 0;
  for (const auto& i : items) {
    const std::string state(state_name(i.state));
    ++states[state];
    json& place = places[i.jurisdiction];
    if (place.is_null()) place = {{"households", 0}, {"by_state", json::object()}, {"by_outcome", json::object()}};
    count(place, "households");
    count(place["by_state"], state);
    if (i.state != ItemState::kDone) continue;
    ++outcomes[i.outcome];
    ++classifications[i.classification];
    count(place["by_outcome"], i.outcome);
    for (const auto& s : i.failed_sources) ++failed_sources[s];
    latency_sum += i.latency_ms;
    ++latency_n;
    if (i.severity > 0) {
      ++with_changes;
      const json list = json::parse(i.changes_json, nullptr, false);
      if (list.is_array()) {
        for (const auto& c : list) ++change_kinds[c.value("kind", "")];
      }
    }
  }
  json by_place = json::object();
  for (auto& [code, p] : places) by_place[code] = std::move(p);
  return {{"batch_id", batch.id},
          {"state", state_name(batch.state)},
          {"total", batch.total},
          {"done", states["done"]},
          {"failed", states["failed"]},
          {"cancelled", states["cancelled"]},
          {"remaining", states["pending"]},
          {"by_outcome", outcomes},
          {"by_classification", classifications},
          {"by_jurisdiction", std::move(by_place)},
          {"failed_sources_by_agency", failed_sources},
          {"households_with_changes", with_changes},
          {"changes_by_kind", change_kinds},
          {"average_latency_ms", latency_n > 0 ? latency_sum / latency_n : 0}};
}

std::pair<std::int64_t, std::int64_t> period_interval(const PeriodSpec& spec) {
  const std::int64_t offset = std::int64_t{spec.utc_offset_minutes} * 60;
  return {spec.from.days_since_epoch() * std::int64_t{86400} - offset,
          (spec.to.days_since_epoch() + 1) * std::int64_t{86400} - offset};
}

namespace {
// "YYYY-MM" of the local day a record was completed on.
std::string local_month(std::int64_t unix_seconds, int utc_offset_minutes) {
  const std::int64_t local = unix_seconds + std::int64_t{utc_offset_minutes} * 60;
  const std::int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  char text[16];
  (void)std::snprintf(text, sizeof text, "%04d-%02u", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()));
  return text;
}

}  // namespace

json period_statistics_json(const PeriodSpec& spec, const std::vector<ReviewRecord>& records) {
  std::int64_t in_batches = 0, with_failed = 0, latency_sum = 0, latency_n = 0;
  json failed_sources = json::object(), by_month = json::object();
  // Each household once, by its latest verification of the period.
  std::map<std::tuple<std::string, std::string, std::string>, const ReviewRecord*> latest;
  for (const auto& r : records) {
    if (!r.batch_id.empty()) ++in_batches;
    if (!r.failed_sources.empty()) ++with_failed;
    for (const auto& s : r.failed_sources) count(failed_sources, s);
    if (r.latency_ms) {
      latency_sum += *r.latency_ms;
      ++latency_n;
    }
    json& month = by_month[local_month(r.completed_unix, spec.utc_offset_minutes)];
    if (month.is_null()) month = {{"verifications", 0}, {"by_outcome", json::object()}};
    count(month, "verifications");
    count(month["by_outcome"], r.outcome);
    latest[{r.principal, r.jurisdiction, r.case_id}] = &r;
  }
  json outcomes = json::object(), classifications = json::object(), programmes = json::object(),
       places = json::object();
  for (const auto& [household, r] : latest) {
    count(outcomes, r->outcome);
    count(classifications, r->classification);
    count(programmes, r->programme);
    json& place = places[r->jurisdiction];
    if (place.is_null()) place = {{"households", 0}, {"by_outcome", json::object()}};
    count(place, "households");
    count(place["by_outcome"], r->outcome);
  }
  const auto verifications = static_cast<std::int64_t>(records.size());
  json out = {{"from", spec.from.to_string()},
              {"to", spec.to.to_string()},
              {"utc_offset_minutes", spec.utc_offset_minutes},
              {"verifications", verifications},
              {"verifications_in_batches", in_batches},
              {"verifications_interactive", verifications - in_batches},
              {"verifications_with_failed_sources", with_failed},
              {"households", static_cast<std::int64_t>(latest.size())},
              {"by_outcome", std::move(outcomes)},
              {"by_classification", std::move(classifications)},
              {"by_programme", std::move(programmes)},
              {"by_jurisdiction", std::move(places)},
              {"by_month", std::move(by_month)},
              {"failed_sources_by_agency", std::move(failed_sources)},
              {"latency_measured", latency_n},
              {"average_latency_ms", latency_n > 0 ? latency_sum / latency_n : 0}};
  if (!spec.jurisdiction.empty()) out["jurisdiction"] = spec.jurisdiction;
  return out;
}

std::string statistics_csv(const json& statistics) {
  // Batch and period statistics share this shape: counts at the top level,
  // sections of counts, and per-jurisdiction (and per-month) breakdowns.
  const std::string summary = statistics.contains("batch_id") ? "batch" : "period";
  std::string out = "section,key,value\n";
  for (const auto& [key, value] : statistics.items()) {
    if (value.is_number_integer()) out += summary + "," + csv_field(key) + "," + std::to_string(value.get<std::int64_t>()) + "\n";
  }
  for (const auto& [section, values] : statistics.items()) {
    if (!values.is_object() || section == "by_jurisdiction" || section == "by_month") continue;
    for (const auto& [key, value] : values.items()) {
      if (!value.is_number_integer()) continue;
      out += csv_field(section) + "," + csv_field(key) + "," + std::to_string(value.get<std::int64_t>()) + "\n";
    }
  }
  struct Breakdown {
    const char* section;
    const char* row;
    const char* count;
  };
  for (const Breakdown b : {Breakdown{"by_jurisdiction", "jurisdiction", "households"},
                            Breakdown{"by_month", "month", "verifications"}}) {
    if (!statistics.contains(b.section)) continue;
    for (const auto& [code, part] : statistics[b.section].items()) {
      out += std::string(b.row) + "," + csv_field(code) + "," +
             std::to_string(part.value(b.count, std::int64_t{0})) + "\n";
      const json outcomes = part.value("by_outcome", json::object());  // named: items() needs it alive
      for (const auto& [outcome, n] : outcomes.items()) {
        out += std::string(b.row) + "_outcome," +
               csv_field(std::string(code).append(":").append(outcome)) + "," +
               std::to_string(n.get<std::int64_t>()) + "\n";
      }
    }
  }
  return out;
}

std::string statistics_svg(const json& statistics, const std::string& title) {
  struct Segment {
    const char* key;
    const char* colour;
  };
  const Segment segments[] = {{"eligible", "#2e7d32"},
                              {"ineligible", "#c62828"},
                              {"indeterminate", "#f9a825"},
                              {"failed", "#616161"}};
  const auto& places = statistics["by_jurisdiction"];
  std::int64_t most = 1;
  for (const auto& [code, p] : places.items()) most = std::max(most, p["households"].get<std::int64_t>());
  const int bar_width = 420, left = 80, row = 28;
  const int height = 40 + row * static_cast<int>(places.size()) + 30;
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"" + std::to_string(height) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<text x=\"10\" y=\"20\" font-size=\"14\">" + xml_text(title) +
         ": households by outcome per jurisdiction</text>\n";
  int y = 36;
  for (const auto& [code, p] : places.items()) {
    svg += "<text x=\"10\" y=\"" + std::to_string(y + 15) + "\">" + xml_text(code) + "</text>\n";
    std::int64_t x = left;
    for (const auto& s : segments) {
      std::int64_t n = std::string(s.key) == "failed"
                           ? p.value("by_state", json::object()).value("failed", std::int64_t{0})
                           : p.value("by_outcome", json::object()).value(s.key, std::int64_t{0});
      if (n == 0) continue;
      const std::int64_t w = std::max<std::int64_t>(1, n * bar_width / most);
      svg += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y) + "\" width=\"" + std::to_string(w) +
             "\" height=\"20\" fill=\"" + s.colour + "\"><title>" + s.key + ": " + std::to_string(n) +
             "</title></rect>\n";
      x += w;
    }
    svg += "<text x=\"" + std::to_string(x + 6) + "\" y=\"" + std::to_string(y + 15) + "\">" +
           std::to_string(p["households"].get<std::int64_t>()) + "</text>\n";
    y += row;
  }
  int lx = 10;
  for (const auto& s : segments) {
    svg += "<rect x=\"" + std::to_string(lx) + "\" y=\"" + std::to_string(y + 6) + "\" width=\"12\" height=\"12\" fill=\"" +
           s.colour + "\"/><text x=\"" + std::to_string(lx + 16) + "\" y=\"" + std::to_string(y + 16) + "\">" + s.key +
           "</text>\n";
    lx += 120;
  }
  svg += "</svg>\n";
  return svg;
}

std::string csv_text_cell(const std::string& text) {
  if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos) {
    return csv_field("'" + text);
  }
  return csv_field(text);
}

}  // namespace hfv::broker
