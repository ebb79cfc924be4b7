#include "policies/policy.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace hfv::policies {

using nlohmann::json;

std::string_view area_name(Area area) { return area == Area::kUrban ? "urban" : "rural"; }
std::optional<Area> parse_area(std::string_view text) {
  if (text == "urban") return Area::kUrban;
  if (text == "rural") return Area::kRural;
  return std::nullopt;
}

namespace {

// Rule ids this build knows how to evaluate.
const std::set<std::string> kKnownRules = {"savings-cap-24m"};

struct Ctx {
  std::string file;
  Error fail(const std::string& key, const std::string& why) const {
    return make_error("bad_policy_file", file + ": " + key + ": " + why);
  }
};

Status check_keys(const Ctx& ctx, const std::string& where, const json& obj,
                  std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : obj.items()) {
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
      return ctx.fail(where.empty() ? key : where + "." + key, "unknown key");
    }
  }
  return {};
}

template <class T, class ParseValue>
Result<DatedSeries<T>> parse_series(const Ctx& ctx, const std::string& key, const json& arr,
                                    ParseValue parse_value) {
  if (!arr.is_array() || arr.empty()) return ctx.fail(key, "must be a non-empty array of dated values");
  DatedSeries<T> series;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string where = key + "[" + std::to_string(i) + "]";
    const json& e = arr[i];
    if (!e.is_object()) return ctx.fail(where, "must be an object");
    if (auto s = check_keys(ctx, where, e, {"from", "value", "reference", "example"}); !s) return s.error();
    if (!e.contains("from") || !e["from"].is_string()) return ctx.fail(where + ".from", "missing or not a string");
    const auto from = Date::parse(e["from"].get<std::string>());
    if (!from) return ctx.fail(where + ".from", "not a YYYY-MM-DD date");
    if (!e.contains("value")) return ctx.fail(where + ".value", "missing");
    if (!e.contains("reference") || !e["reference"].is_string() || e["reference"].get<std::string>().empty()) {
      return ctx.fail(where + ".reference", "missing: every value needs its source");
    }
    bool example = false;
    if (e.contains("example")) {
      if (!e["example"].is_boolean()) return ctx.fail(where + ".example", "must be true or false");
      example = e["example"].get<bool>();
    }
    auto value = parse_value(e["value"]);
    if (!value) return ctx.fail(where + ".value", value.error().message);
    series.entries.push_back({*from, std::move(*value), e["reference"].get<std::string>(), example});
  }
  std::sort(series.entries.begin(), series.entries.end(),
            [](const auto& a, const auto& b) { return a.from < b.from; });
  for (std::size_t i = 1; i < series.entries.size(); ++i) {
    if (series.entries[i].from == series.entries[i - 1].from) {
      return ctx.fail(key, "two values take effect on " + series.entries[i].from.to_string());
    }
  }
  return series;
}

Result<Money> parse_amount(const json& v) {
  if (!v.is_string()) return make_error("bad_value", "must be a decimal-yuan string such as \"835.00\"");
  auto m = Money::parse(v.get<std::string>());
  if (!m) return make_error("bad_value", "not a decimal-yuan amount");
  if (*m < Money{}) return make_error("bad_value", "must not be negative");
  return *m;
}

template <class T>
std::optional<typename DatedSeries<T>::Entry> in_force(const DatedSeries<T>& s, const Date& on) {
  std::optional<typename DatedSeries<T>::Entry> found;
  for (const auto& e : s.entries) {
    if (e.from <= on) found = e;
  }
  return found;
}

template <class T>
Provenance provenance(const std::string& name, const std::string& value,
                      const typename DatedSeries<T>::Entry& e) {
  return Provenance{name, value, e.from, e.reference, e.example};
}

}  // namespace

std::optional<InForce<Money>> JurisdictionPolicy::dibao_standard(Area area, const Date& on) const {
  const auto& series = area == Area::kUrban ? standard_urban_ : standard_rural_;
  auto e = in_force(series, on);
  if (!e) return std::nullopt;
  return InForce<Money>{e->value, provenance<Money>("dibao_standard_monthly." + std::string(area_name(area)),
                                                    e->value.to_string(), *e)};
}

std::optional<InForce<long>> JurisdictionPolicy::savings_cap_months(const Date& on) const {
  auto e = in_force(savings_cap_months_, on);
  if (!e) return std::nullopt;
  return InForce<long>{e->value, provenance<long>("savings_cap_months", std::to_string(e->value), *e)};
}

std::optional<InForce<std::vector<Source>>> JurisdictionPolicy::monetary_sources(const Date& on) const {
  auto e = in_force(monetary_sources_, on);
  if (!e) return std::nullopt;
  std::string text;
  for (Source s : e->value) text += (text.empty() ? "" : ",") + std::string(source_name(s));
  return InForce<std::vector<Source>>{e->value,
                                      provenance<std::vector<Source>>("monetary_asset_sources", text, *e)};
}

Result<JurisdictionPolicy> load_policy_file(const std::filesystem::path& path) {
  Ctx ctx{path.string()};
  std::ifstream in(path);
  if (!in) return make_error("bad_policy_file", path.string() + ": cannot be read");
  std::stringstream buf;
  buf << in.rdbuf();
  const json doc = json::parse(buf.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return ctx.fail("(file)", "not a JSON object");
  if (auto s = check_keys(ctx, "", doc, {"format", "jurisdiction", "name", "seed", "version", "rules",
                                         "parameters", "notes"});
      !s) {
    return s.error();
  }
  JurisdictionPolicy p;
  auto text = [&](const char* key, std::string& out) -> Status {
    if (!doc.contains(key) || !doc[key].is_string() || doc[key].get<std::string>().empty()) {
      return ctx.fail(key, "missing or not a non-empty string");
    }
    out = doc[key].get<std::string>();
    return {};
  };
  std::string format;
  for (auto [key, out] : {std::pair{"format", &format}, std::pair{"jurisdiction", &p.jurisdiction_},
                          std::pair{"name", &p.name_}, std::pair{"seed", &p.seed_},
                          std::pair{"version", &p.version_}}) {
    if (auto s = text(key, *out); !s) return s.error();
  }
  if (format != "hfv-policy/v1") return ctx.fail("format", "must be \"hfv-policy/v1\"");
  if (p.jurisdiction_.size() != 6 ||
      !std::all_of(p.jurisdiction_.begin(), p.jurisdiction_.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return ctx.fail("jurisdiction", "must be a 6-digit GB/T 2260 code");
  }
  if (path.stem().string() != p.jurisdiction_) {
    return ctx.fail("jurisdiction", "does not match the file name");
  }
  if (!doc.contains("rules") || !doc["rules"].is_array() || doc["rules"].empty()) {
    return ctx.fail("rules", "missing or empty: list the rule ids this jurisdiction applies");
  }
  for (const auto& r : doc["rules"]) {
    if (!r.is_string() || !kKnownRules.contains(r.get<std::string>())) {
      return ctx.fail("rules", "unknown rule id " + r.dump());
    }
    p.rules_.push_back(r.get<std::string>());
  }
  if (!doc.contains("parameters") || !doc["parameters"].is_object()) return ctx.fail("parameters", "missing");
  const json& params = doc["parameters"];
  if (auto s = check_keys(ctx, "parameters", params,
                          {"dibao_standard_monthly", "savings_cap_months", "monetary_asset_sources"});
      !s) {
    return s.error();
  }
  for (const char* key : {"dibao_standard_monthly", "savings_cap_months", "monetary_asset_sources"}) {
    if (!params.contains(key)) return ctx.fail(std::string("parameters.") + key, "missing");
  }
  const json& standard = params["dibao_standard_monthly"];
  if (!standard.is_object()) return ctx.fail("parameters.dibao_standard_monthly", "must have urban and rural");
  if (auto s = check_keys(ctx, "parameters.dibao_standard_monthly", standard, {"urban", "rural"}); !s) {
    return s.error();
  }
  for (auto [area, out] : {std::pair{"urban", &p.standard_urban_}, std::pair{"rural", &p.standard_rural_}}) {
    const std::string key = std::string("parameters.dibao_standard_monthly.") + area;
    if (!standard.contains(area)) return ctx.fail(key, "missing");
    auto series = parse_series<Money>(ctx, key, standard[area], parse_amount);
    if (!series) return series.error();
    *out = std::move(*series);
  }
  auto months = parse_series<long>(ctx, "parameters.savings_cap_months", params["savings_cap_months"],
                                   [](const json& v) -> Result<long> {
                                     if (!v.is_number_integer() || v.get<long>() < 1 || v.get<long>() > 120) {
                                       return make_error("bad_value", "must be an integer from 1 to 120");
                                     }
                                     return v.get<long>();
                                   });
  if (!months) return months.error();
  p.savings_cap_months_ = std::move(*months);
  auto sources = parse_series<std::vector<Source>>(
      ctx, "parameters.monetary_asset_sources", params["monetary_asset_sources"],
      [](const json& v) -> Result<std::vector<Source>> {
        if (!v.is_array() || v.empty()) return make_error("bad_value", "must be a non-empty array of source names");
        std::vector<Source> out;
        for (const auto& s : v) {
          auto src = s.is_string() ? parse_source(s.get<std::string>()) : std::nullopt;
          if (!src) return make_error("bad_value", "unknown source " + s.dump());
          if (std::find(out.begin(), out.end(), *src) != out.end()) {
            return make_error("bad_value", "source listed twice: " + s.dump());
          }
          out.push_back(*src);
        }
        return out;
      });
  if (!sources) return sources.error();
  p.monetary_sources_ = std::move(*sources);
  return p;
}

Result<PolicySet> PolicySet::load_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return make_error("bad_policy_dir", dir.string() + ": not a directory");
  }
  PolicySet set;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto policy = load_policy_file(f);
    if (!policy) return policy.error();
    set.policies_.emplace(policy->jurisdiction(), std::move(*policy));
  }
  if (set.policies_.empty()) return make_error("bad_policy_dir", dir.string() + ": holds no policy files");
  return set;
}

Result<const JurisdictionPolicy*> PolicySet::find(const std::string& jurisdiction) const {
  auto it = policies_.find(jurisdiction);
  if (it == policies_.end()) {
    return make_error("no_policy", "no policy file for jurisdiction " + jurisdiction);
  }
  return &it->second;
}

}  // namespace hfv::policies
