#include "broker/ops/anomaly_rules.hpp"

#include <algorithm>
#include <iterator>
#include <optional>

#include "common/date.hpp"

namespace hfv::broker {

using nlohmann::json;

namespace {

bool digits(const std::string& s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

int number(const std::string& s, std::size_t pos, std::size_t n) {
  return std::stoi(s.substr(pos, n));
}

std::optional<int> parse_hh_mm(const std::string& s, std::size_t pos) {
  if (!digits(s, pos, 2) || pos + 5 > s.size() || s[pos + 2] != ':' || !digits(s, pos + 3, 2))
    return std::nullopt;
  const int h = number(s, pos, 2);
  const int m = number(s, pos + 3, 2);
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

}  // namespace

Result<AnomalyRules> parse_anomaly_rules(const json& object, const std::filesystem::path& base) {
  AnomalyRules rules;
  auto fail = [](const std::string& key, const std::string& why) {
    return make_error("bad_config", "anomalies." + key + ": " + why);
  };
  if (!object.is_object()) return make_error("bad_config", "anomalies: must be an object");
  static const char* kKnown[] = {
      "utc_offset_minutes",   "working_hours", "working_days", "holidays",     "repeat_cases",
      "volume_baseline_days", "volume_factor", "volume_min",   "refusals_min", "relations_file"};
  for (const auto& [key, value] : object.items()) {
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown))
      return fail(key, "unknown key");
  }
  auto integer = [&](const char* key, int lo, int hi, int& out) -> Status {
    auto it = object.find(key);
    if (it == object.end()) return {};
    if (!it->is_number_integer() || it->get<long>() < lo || it->get<long>() > hi) {
      return fail(key,
                  "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    out = it->get<int>();
    return {};
  };
  if (auto s = integer("utc_offset_minutes", -720, 840, rules.utc_offset_minutes); !s)
    return s.error();
  if (auto s = integer("repeat_cases", 2, 1000, rules.repeat_cases); !s) return s.error();
  if (auto s = integer("volume_baseline_days", 1, 366, rules.volume_baseline_days); !s)
    return s.error();
  if (auto s = integer("volume_min", 1, 1000000, rules.volume_min); !s) return s.error();
  if (auto s = integer("refusals_min", 1, 1000000, rules.refusals_min); !s) return s.error();
  if (auto it = object.find("volume_factor"); it != object.end()) {
    if (!it->is_number() || it->get<double>() < 1.0 || it->get<double>() > 1000.0) {
      return fail("volume_factor", "must be a number from 1 to 1000");
    }
    rules.volume_factor = it->get<double>();
  }
  if (auto it = object.find("working_hours"); it != object.end()) {
    const std::string text = it->is_string() ? it->get<std::string>() : "";
    auto start = text.size() == 11 && text[5] == '-' ? parse_hh_mm(text, 0) : std::nullopt;
    auto end = start ? parse_hh_mm(text, 6) : std::nullopt;
    if (!start || !end || *end <= *start)
      return fail("working_hours", "must be \"HH:MM-HH:MM\" with the end after the start");
    rules.work_start_minute = *start;
    rules.work_end_minute = *end;
  }
  if (auto it = object.find("working_days"); it != object.end()) {
    if (!it->is_array())
      return fail("working_days", "must be a list of ISO weekdays (1 = Monday .. 7 = Sunday)");
    rules.work_days.clear();
    for (const auto& d : *it) {
      if (!d.is_number_integer() || d.get<long>() < 1 || d.get<long>() > 7) {
        return fail("working_days", "must be a list of ISO weekdays (1 = Monday .. 7 = Sunday)");
      }
      rules.work_days.push_back(d.get<unsigned>());
    }
  }
  if (auto it = object.find("holidays"); it != object.end()) {
    if (!it->is_array()) return fail("holidays", "must be a list of dates YYYY-MM-DD");
    for (const auto& d : *it) {
      if (!d.is_string() || !Date::parse(d.get<std::string>()))
        return fail("holidays", "must be a list of dates YYYY-MM-DD");
      rules.holidays.push_back(d.get<std::string>());
    }
  }
  if (auto it = object.find("relations_file"); it != object.end()) {
    if (!it->is_string() || it->get<std::string>().empty())
      return fail("relations_file", "must be a non-empty path");
    std::filesystem::path p(it->get<std::string>());
    rules.relations_file = p.is_absolute() ? p : base / p;
  }
  return rules;
}

}  // namespace hfv::broker
