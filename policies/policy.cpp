#include "policies/policy.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "common/json_error.hpp"
#include "policies/catalogue.hpp"

namespace hfv::policies {

using nlohmann::json;

std::string_view area_name(Area area) { return area == Area::kUrban ? "urban" : "rural"; }
std::optional<Area> parse_area(std::string_view text) {
  if (text == "urban") return Area::kUrban;
  if (text == "rural") return Area::kRural;
  return std::nullopt;
}

Money Ratio::of(Money amount) const {
  return Money::from_fen(amount.fen() * num).divide_round_half_up(den);
}

std::string param_text(const ParamValue& value) {
  struct Visitor {
    std::string operator()(const Money& m) const { return m.to_string(); }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(const Ratio& r) const { return r.text; }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(const std::vector<std::string>& l) const {
      std::string out;
      for (const auto& s : l) out += (out.empty() ? "" : ",") + s;
      return out;
    }
    std::string operator()(const std::vector<ReviewCycle>& l) const {
      std::string out;
      for (const auto& c : l)
        out += (out.empty() ? "" : ",") + c.category + ":" + std::to_string(c.months);
      return out;
    }
    std::string operator()(const AreaM2& a) const { return Money::from_fen(a.centi).to_string(); }
  };
  return std::visit(Visitor{}, value);
}

json param_json(const ParamValue& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) return *i;
  if (const auto* b = std::get_if<bool>(&value)) return *b;
  if (const auto* l = std::get_if<std::vector<std::string>>(&value)) return *l;
  if (const auto* c = std::get_if<std::vector<ReviewCycle>>(&value)) {
    json out = json::array();
    for (const auto& e : *c) out.push_back({{"category", e.category}, {"months", e.months}});
    return out;
  }
  return param_text(value);  // money, ratio, text, area: strings
}

namespace {

// Amounts in files are capped so that exact comparisons in the engine
// (amount x months x members x ratio terms) stay far inside 64 bits.
constexpr std::int64_t kMaxFileFen = 1'000'000'000;  // 10,000,000.00 yuan
constexpr std::int64_t kMaxRatioDen = 10'000;
constexpr std::int64_t kMaxRatioValue = 100;

struct Ctx {
  std::string file;
  Error fail(const std::string& key, const std::string& why) const {
    return make_error("bad_policy_file", file + ": " + key + ": " + why);
  }
};

Status check_keys(const Ctx& ctx, const std::string& where, const json& obj,
                  std::initializer_list<const char*> allowed) {
  for (const auto& item : obj.items()) {
    const std::string& key = item.key();
    if (std::none_of(allowed.begin(), allowed.end(), [&key](const char* a) { return key == a; })) {
      std::string field = where;
      if (!field.empty()) field += '.';
      field += key;
      return ctx.fail(field, "unknown key");
    }
  }
  return {};
}

Result<Money> parse_amount(const json& v) {
  if (!v.is_string())
    return make_error("bad_value", "must be a decimal-yuan string such as \"835.00\"");
  auto m = Money::parse(v.get<std::string>());
  if (!m) return make_error("bad_value", "not a decimal-yuan amount");
  if (*m < Money{}) return make_error("bad_value", "must not be negative");
  if (m->fen() > kMaxFileFen)
    return make_error("bad_value", "implausibly large (over 10,000,000.00)");
  return *m;
}

Result<Ratio> parse_ratio(const json& v) {
  if (!v.is_string()) return make_error("bad_value", "must be a string such as \"1.5\" or \"1/6\"");
  const std::string text = v.get<std::string>();
  auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 9 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  Ratio r;
  r.text = text;
  if (const auto slash = text.find('/'); slash != std::string::npos) {
    const std::string_view a = std::string_view(text).substr(0, slash);
    const std::string_view b = std::string_view(text).substr(slash + 1);
    if (!digits(a) || !digits(b)) return make_error("bad_value", "not a fraction such as \"1/6\"");
    r.num = std::stoll(std::string(a));
    r.den = std::stoll(std::string(b));
  } else {
    const auto dot = text.find('.');
    const std::string_view whole = std::string_view(text).substr(0, dot);
    const std::string_view frac =
        dot == std::string::npos ? std::string_view() : std::string_view(text).substr(dot + 1);
    if (!digits(whole) || (dot != std::string::npos && (!digits(frac) || frac.size() > 4))) {
      return make_error("bad_value", "not a decimal with at most 4 places such as \"1.5\"");
    }
    r.den = 1;
    for (std::size_t i = 0; i < frac.size(); ++i) r.den *= 10;
    r.num =
        std::stoll(std::string(whole)) * r.den + (frac.empty() ? 0 : std::stoll(std::string(frac)));
  }
  if (r.den <= 0 || r.den > kMaxRatioDen)
    return make_error("bad_value", "denominator must be 1 to 10000");
  if (r.num <= 0) return make_error("bad_value", "must be positive");
  if (r.num > kMaxRatioValue * r.den) return make_error("bad_value", "must not exceed 100");
  return r;
}

Result<ParamValue> parse_value(const ParamSpec& spec, const json& v) {
  switch (spec.kind) {
    case ParamKind::kMoney: {
      auto m = parse_amount(v);
      if (!m) return m.error();
      return ParamValue{*m};
    }
    case ParamKind::kArea: {
      auto m = parse_amount(v);
      if (!m) return make_error("bad_value", "must be a non-negative area in m2 such as \"25.50\"");
      return ParamValue{AreaM2{m->fen()}};
    }
    case ParamKind::kInteger: {
      if (!v.is_number_integer() || v.get<std::int64_t>() < spec.min ||
          v.get<std::int64_t>() > spec.max) {
        return make_error("bad_value", "must be an integer from " + std::to_string(spec.min) +
                                           " to " + std::to_string(spec.max));
      }
      return ParamValue{v.get<std::int64_t>()};
    }
    case ParamKind::kRatio: {
      auto r = parse_ratio(v);
      if (!r) return r.error();
      return ParamValue{*r};
    }
    case ParamKind::kBool:
      if (!v.is_boolean()) return make_error("bad_value", "must be true or false");
      return ParamValue{v.get<bool>()};
    case ParamKind::kText: {
      if (!v.is_string() || std::find(spec.allowed.begin(), spec.allowed.end(),
                                      v.get<std::string>()) == spec.allowed.end()) {
        std::string one_of;
        for (auto a : spec.allowed) one_of += (one_of.empty() ? "" : ", ") + std::string(a);
        return make_error("bad_value", "must be one of: " + one_of);
      }
      return ParamValue{v.get<std::string>()};
    }
    case ParamKind::kList: {
      if (!v.is_array() || static_cast<std::int64_t>(v.size()) < spec.min ||
          static_cast<std::int64_t>(v.size()) > spec.max) {
        return make_error("bad_value", "must be an array of " + std::to_string(spec.min) + " to " +
                                           std::to_string(spec.max) + " names");
      }
      std::vector<std::string> out;
      for (const auto& s : v) {
        if (!s.is_string() || std::find(spec.allowed.begin(), spec.allowed.end(),
                                        s.get<std::string>()) == spec.allowed.end()) {
          return make_error("bad_value", "unknown name " + s.dump());
        }
        if (std::find(out.begin(), out.end(), s.get<std::string>()) != out.end()) {
          return make_error("bad_value", "listed twice: " + s.dump());
        }
        out.push_back(s.get<std::string>());
      }
      return ParamValue{out};
    }
    case ParamKind::kCycles: {
      if (!v.is_array() || v.empty()) return make_error("bad_value", "must be a non-empty array");
      std::vector<ReviewCycle> out;
      for (const auto& c : v) {
        if (!c.is_object() || c.size() != 2 || !c.contains("category") || !c.contains("months") ||
            !c["category"].is_string() || !c["months"].is_number_integer()) {
          return make_error("bad_value", "each entry must be {\"category\": …, \"months\": …}");
        }
        const std::string cat = c["category"].get<std::string>();
        if (std::find(spec.allowed.begin(), spec.allowed.end(), cat) == spec.allowed.end()) {
          return make_error("bad_value", "unknown review category \"" + cat + "\"");
        }
        const auto months = c["months"].get<std::int64_t>();
        if (months < spec.min || months > spec.max)
          return make_error("bad_value", "months must be 1 to 60");
        out.push_back({cat, months});
      }
      if (out.back().category != "default") {
        return make_error("bad_value", "the last entry must be the \"default\" category");
      }
      return ParamValue{out};
    }
  }
  return make_error("bad_value", "unsupported");
}

Result<DatedSeries> parse_series(const Ctx& ctx, const std::string& key, const ParamSpec& spec,
                                 const json& arr) {
  if (!arr.is_array() || arr.empty())
    return ctx.fail(key, "must be a non-empty array of dated values");
  DatedSeries series;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string where = key + "[" + std::to_string(i) + "]";
    const json& e = arr[i];
    if (!e.is_object()) return ctx.fail(where, "must be an object");
    if (auto s = check_keys(ctx, where, e, {"from", "value", "reference", "example", "valid_until"});
        !s) {
      return s.error();
    }
    if (!e.contains("from") || !e["from"].is_string())
      return ctx.fail(where + ".from", "missing or not a string");
    const auto from = Date::parse(e["from"].get<std::string>());
    if (!from) return ctx.fail(where + ".from", "not a YYYY-MM-DD date");
    if (!e.contains("value")) return ctx.fail(where + ".value", "missing");
    if (!e.contains("reference") || !e["reference"].is_string() ||
        e["reference"].get<std::string>().empty()) {
      return ctx.fail(where + ".reference", "missing: every value needs its source");
    }
    bool example = false;
    if (e.contains("example")) {
      if (!e["example"].is_boolean()) return ctx.fail(where + ".example", "must be true or false");
      example = e["example"].get<bool>();
    }
    std::optional<Date> valid_until;
    if (e.contains("valid_until")) {
      valid_until = e["valid_until"].is_string()
                        ? Date::parse(e["valid_until"].get<std::string>())
                        : std::nullopt;
      if (!valid_until) return ctx.fail(where + ".valid_until", "not a YYYY-MM-DD date");
      if (*valid_until < *from) return ctx.fail(where + ".valid_until", "before `from`");
    }
    auto value = parse_value(spec, e["value"]);
    if (!value) return ctx.fail(where + ".value", value.error().message);
    series.push_back(
        {*from, std::move(*value), e["reference"].get<std::string>(), example, valid_until});
  }
  std::stable_sort(series.begin(), series.end(),
                   [](const auto& a, const auto& b) { return a.from < b.from; });
  for (std::size_t i = 1; i < series.size(); ++i) {
    if (series[i].from == series[i - 1].from) {
      return ctx.fail(key, "two values take effect on " + series[i].from.to_string());
    }
  }
  return series;
}

// FNV-1a 64: a change detector for policy_version, not a security measure
// (reports are signed by the broker).
std::string digest_hex(const std::string& text) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  char buf[17];
  (void)std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf, 8);
}

bool has_values(const std::map<std::string, DatedSeries>& params, std::string_view name) {
  return params.contains(std::string(name));
}

Provenance provenance_of(const std::string& name, const DatedEntry& e) {
  return Provenance{name, param_text(e.value), e.from, e.reference, e.example, e.valid_until};
}

// stale_after_months: {"<parameter or group>": months}. Each key names a
// parameter the file holds, or a group (e.g. dibao_standard_monthly) of
// which it holds one; a value without its own valid_until is valid until
// `from` + months - 1 day. Every value of a periodic parameter must end up
// with a horizon.
Status resolve_horizons(const Ctx& ctx, const json& doc, std::map<std::string, DatedSeries>& params,
                        std::map<std::string, std::int64_t>& months_out) {
  constexpr std::int64_t kMaxMonths = 120;
  if (doc.contains("stale_after_months")) {
    const json& horizons = doc["stale_after_months"];
    if (!horizons.is_object())
      return ctx.fail("stale_after_months", "must be an object {parameter: months}");
    for (const auto& [key, months] : horizons.items()) {
      const std::string where = "stale_after_months." + key;
      const std::string prefix = key + ".";
      const bool held = params.contains(key) ||
                        std::any_of(params.begin(), params.end(), [&prefix](const auto& p) {
                          return p.first.starts_with(prefix);
                        });
      if (!held) return ctx.fail(where, "names no parameter (or group) this file holds");
      if (!months.is_number_integer() || months.get<std::int64_t>() < 1 ||
          months.get<std::int64_t>() > kMaxMonths) {
        return ctx.fail(where, "must be an integer from 1 to 120 (months)");
      }
      months_out[key] = months.get<std::int64_t>();
    }
  }
  for (auto& [name, series] : params) {
    std::optional<std::int64_t> months;
    if (auto it = months_out.find(name); it != months_out.end()) {
      months = it->second;
    } else if (const auto dot = name.find('.'); dot != std::string::npos) {
      if (auto g = months_out.find(name.substr(0, dot)); g != months_out.end()) months = g->second;
    }
    const bool periodic = std::find(periodic_parameters().begin(), periodic_parameters().end(),
                                    name) != periodic_parameters().end();
    for (std::size_t i = 0; i < series.size(); ++i) {
      DatedEntry& e = series[i];
      if (!e.valid_until && months) {
        e.valid_until = e.from.add_months(static_cast<int>(*months)).add_days(-1);
      }
      if (periodic && !e.valid_until) {
        return ctx.fail("parameters." + name + "[" + std::to_string(i) + "].valid_until",
                        "missing: " + name +
                            " is re-published periodically, so every value needs a validity "
                            "horizon (stale_after_months or valid_until)");
      }
    }
  }
  return {};
}

}  // namespace

const RuleRef* JurisdictionPolicy::rule(std::string_view id) const {
  for (const auto& r : rules_) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

namespace {
// The entry with the latest `from` on or before `on`, stale or not.
const DatedEntry* latest(const std::map<std::string, DatedSeries>& params, const std::string& name,
                         const Date& on) {
  auto it = params.find(name);
  if (it == params.end()) return nullptr;
  const DatedEntry* found = nullptr;
  for (const auto& e : it->second) {
    if (e.from <= on) found = &e;
  }
  return found;
}
}  // namespace

std::optional<InForce<ParamValue>> JurisdictionPolicy::param(const std::string& name,
                                                             const Date& on) const {
  const DatedEntry* found = latest(params_, name, on);
  if (found == nullptr || (found->valid_until && *found->valid_until < on)) return std::nullopt;
  return InForce<ParamValue>{found->value, provenance_of(name, *found)};
}

std::optional<Provenance> JurisdictionPolicy::stale(const std::string& name, const Date& on) const {
  const DatedEntry* found = latest(params_, name, on);
  if (found == nullptr || !found->valid_until || !(*found->valid_until < on)) return std::nullopt;
  return provenance_of(name, *found);
}

std::vector<StaleParameter> JurisdictionPolicy::stale_between(const Date& first,
                                                              const Date& last) const {
  std::vector<StaleParameter> out;
  for (const auto& [name, series] : params_) {
    for (std::size_t i = 0; i < series.size(); ++i) {
      const DatedEntry& e = series[i];
      if (!e.valid_until) continue;
      const Date start = e.valid_until->add_days(1);
      const std::optional<Date> next =
          i + 1 < series.size() ? std::optional<Date>(series[i + 1].from) : std::nullopt;
      if (next && *next <= start) continue;  // replaced before its horizon
      if (last < start || (next && next->add_days(-1) < first)) continue;
      out.push_back({provenance_of(name, e), start, next});
      break;
    }
  }
  return out;
}

namespace {
template <class T>
std::optional<InForce<T>> typed(const std::optional<InForce<ParamValue>>& p) {
  if (!p) return std::nullopt;
  const T* v = std::get_if<T>(&p->value);
  if (v == nullptr) return std::nullopt;
  return InForce<T>{*v, p->provenance};
}
}  // namespace

std::optional<InForce<Money>> JurisdictionPolicy::money(const std::string& n,
                                                        const Date& on) const {
  return typed<Money>(param(n, on));
}
std::optional<InForce<std::int64_t>> JurisdictionPolicy::integer(const std::string& n,
                                                                 const Date& on) const {
  return typed<std::int64_t>(param(n, on));
}
std::optional<InForce<Ratio>> JurisdictionPolicy::ratio(const std::string& n,
                                                        const Date& on) const {
  return typed<Ratio>(param(n, on));
}
std::optional<InForce<std::string>> JurisdictionPolicy::text(const std::string& n,
                                                             const Date& on) const {
  return typed<std::string>(param(n, on));
}
std::optional<InForce<bool>> JurisdictionPolicy::flag(const std::string& n, const Date& on) const {
  return typed<bool>(param(n, on));
}
std::optional<InForce<std::vector<std::string>>> JurisdictionPolicy::list(const std::string& n,
                                                                          const Date& on) const {
  return typed<std::vector<std::string>>(param(n, on));
}
std::optional<InForce<std::vector<ReviewCycle>>> JurisdictionPolicy::cycles(const std::string& n,
                                                                            const Date& on) const {
  return typed<std::vector<ReviewCycle>>(param(n, on));
}
std::optional<InForce<AreaM2>> JurisdictionPolicy::area(const std::string& n,
                                                        const Date& on) const {
  return typed<AreaM2>(param(n, on));
}

std::optional<InForce<Money>> JurisdictionPolicy::dibao_standard(Area a, const Date& on) const {
  return money("dibao_standard_monthly." + std::string(area_name(a)), on);
}

std::optional<InForce<std::int64_t>> JurisdictionPolicy::savings_cap_months(const Date& on) const {
  return integer("savings_cap_months", on);
}

std::optional<InForce<std::vector<Source>>> JurisdictionPolicy::monetary_sources(
    const Date& on) const {
  auto names = list("monetary_asset_sources", on);
  if (!names) return std::nullopt;
  std::vector<Source> out;
  for (const auto& n : names->value) out.push_back(*parse_source(n));  // validated at load
  return InForce<std::vector<Source>>{out, names->provenance};
}

Result<JurisdictionPolicy> load_policy_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return make_error("bad_policy_file", path.string() + ": cannot be read");
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_policy_file(buf.str(), path);
}

Result<JurisdictionPolicy> parse_policy_file(std::string_view content, const std::filesystem::path& path) {
  Ctx ctx{path.string()};
  json doc;
  try {
    doc = json::parse(content);
  } catch (const json::parse_error& e) {
    return make_error("bad_policy_file", path.string() + ":" + json_error_position(content, e.byte) +
                                             ": not valid JSON: " + json_error_reason(e.what()));
  } catch (const json::out_of_range&) {  // a number beyond a double ("1e999")
    return make_error("bad_policy_file", path.string() + ": not valid JSON: a number is out of range");
  }
  if (!doc.is_object()) return ctx.fail("(file)", "not a JSON object");
  if (auto s = check_keys(ctx, "", doc,
                          {"format", "jurisdiction", "name", "seed", "version", "rules",
                           "parameters", "notes", "applies_to_subdivisions", "stale_after_months"});
      !s) {
    return s.error();
  }
  JurisdictionPolicy p;
  p.content_ = std::string(content);
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
                          std::pair{"version", &p.file_version_}}) {
    if (auto s = text(key, *out); !s) return s.error();
  }
  if (format != "hfv-policy/v2") return ctx.fail("format", "must be \"hfv-policy/v2\"");
  if (doc.contains("notes") && !doc["notes"].is_string())
    return ctx.fail("notes", "must be a string");
  if (p.jurisdiction_.size() != 6 || !std::all_of(p.jurisdiction_.begin(), p.jurisdiction_.end(),
                                                  [](char c) { return c >= '0' && c <= '9'; })) {
    return ctx.fail("jurisdiction", "must be a 6-digit GB/T 2260 code");
  }
  if (path.stem().string() != p.jurisdiction_)
    return ctx.fail("jurisdiction", "does not match the file name");
  if (doc.contains("applies_to_subdivisions")) {
    if (!doc["applies_to_subdivisions"].is_boolean()) {
      return ctx.fail("applies_to_subdivisions", "must be true or false");
    }
    p.applies_to_subdivisions_ = doc["applies_to_subdivisions"].get<bool>();
  }

  // Parameters: every key must be in the schema; grouped keys are objects.
  if (!doc.contains("parameters") || !doc["parameters"].is_object())
    return ctx.fail("parameters", "missing");
  for (const auto& [key, value] : doc["parameters"].items()) {
    const std::string where = "parameters." + key;
    if (const ParamSpec* spec = find_param_spec(key)) {
      auto series = parse_series(ctx, where, *spec, value);
      if (!series) return series.error();
      p.params_[key] = std::move(*series);
      continue;
    }
    const std::string prefix = key + ".";
    const bool is_group =
        std::any_of(param_specs().begin(), param_specs().end(),
                    [&prefix](const ParamSpec& s) { return s.name.starts_with(prefix); });
    if (!is_group) return ctx.fail(where, "unknown key");
    if (!value.is_object()) return ctx.fail(where, "must be an object of dated series");
    for (const auto& [sub, series_json] : value.items()) {
      const std::string name = prefix + sub;
      const ParamSpec* spec = find_param_spec(name);
      if (spec == nullptr) return ctx.fail("parameters." + name, "unknown key");
      auto series = parse_series(ctx, "parameters." + name, *spec, series_json);
      if (!series) return series.error();
      p.params_[name] = std::move(*series);
    }
  }

  if (auto s = resolve_horizons(ctx, doc, p.params_, p.stale_after_months_); !s) return s.error();

  // Rules: known ids, a clause the rule may cite, no duplicates; stored in
  // the engine's order.
  if (!doc.contains("rules") || !doc["rules"].is_array() || doc["rules"].empty()) {
    return ctx.fail("rules", "missing or empty: list the rules this jurisdiction applies");
  }
  std::map<std::string, RuleRef> listed;
  for (std::size_t i = 0; i < doc["rules"].size(); ++i) {
    const json& r = doc["rules"][i];
    const std::string where = "rules[" + std::to_string(i) + "]";
    if (!r.is_object()) return ctx.fail(where, "must be an object {id, clause}");
    if (auto s = check_keys(ctx, where, r, {"id", "clause", "example", "note"}); !s)
      return s.error();
    if (!r.contains("id") || !r["id"].is_string()) return ctx.fail(where + ".id", "missing");
    const std::string id = r["id"].get<std::string>();
    const RuleSpec* spec = find_rule_spec(id);
    if (spec == nullptr) return ctx.fail(where + ".id", "unknown rule id \"" + id + "\"");
    if (listed.contains(id)) return ctx.fail(where + ".id", "rule \"" + id + "\" listed twice");
    if (!r.contains("clause") || !r["clause"].is_string())
      return ctx.fail(where + ".clause", "missing");
    RuleRef ref{id, r["clause"].get<std::string>(), false, ""};
    if (std::find(spec->clauses.begin(), spec->clauses.end(), ref.clause) == spec->clauses.end()) {
      return ctx.fail(where + ".clause",
                      "\"" + ref.clause + "\" is not a clause rule " + id + " can cite");
    }
    if (r.contains("example")) {
      if (!r["example"].is_boolean()) return ctx.fail(where + ".example", "must be true or false");
      ref.example = r["example"].get<bool>();
    }
    if (r.contains("note")) {
      if (!r["note"].is_string()) return ctx.fail(where + ".note", "must be a string");
      ref.note = r["note"].get<std::string>();
    }
    if (ref.example && ref.note.empty()) {
      return ctx.fail(where + ".note", "an example rule must say where it comes from");
    }
    listed.emplace(id, std::move(ref));
  }
  for (auto id : mandatory_rules()) {
    if (!listed.contains(std::string(id)))
      return ctx.fail("rules", "must list \"" + std::string(id) + "\"");
  }
  for (const auto& spec : rule_specs()) {
    auto it = listed.find(std::string(spec.id));
    if (it == listed.end()) continue;
    for (auto need : spec.needs) {
      if (!has_values(p.params_, need)) {
        return ctx.fail("parameters." + std::string(need),
                        "missing (needed by rule " + it->first + ")");
      }
    }
    for (auto need : spec.needs_rules) {
      if (!listed.contains(std::string(need))) {
        return ctx.fail("rules",
                        "rule " + it->first + " needs rule " + std::string(need) + " listed too");
      }
    }
    p.rules_.push_back(it->second);
  }
  // Parameters whose need depends on other parameters' values.
  if (p.applies(kRuleSavingsCap)) {
    const bool months = has_values(p.params_, "savings_cap_months");
    const bool small = has_values(p.params_, "savings_cap_fixed_per_capita.small_household");
    const bool large = has_values(p.params_, "savings_cap_fixed_per_capita.large_household");
    if (months == (small || large)) {
      return ctx.fail(
          "parameters.savings_cap_months",
          "give either savings_cap_months or savings_cap_fixed_per_capita, not both or neither");
    }
    if (small != large) {
      return ctx.fail("parameters.savings_cap_fixed_per_capita",
                      "needs both small_household and large_household");
    }
  }
  if (p.applies(kRuleMarginal)) {
    for (const auto& e : p.params_.at("marginal_line_basis")) {
      const auto& basis = std::get<std::string>(e.value);
      const char* need =
          basis == "minimum_wage" ? "minimum_wage_monthly" : "marginal_income_multiple";
      if (!has_values(p.params_, need)) {
        return ctx.fail(std::string("parameters.") + need,
                        "missing (marginal_line_basis is " + basis + ")");
      }
    }
  }
  if (p.applies(kRuleGradualExit)) {
    for (const auto& e : p.params_.at("gradual_exit_upper_bound")) {
      if (std::get<std::string>(e.value) == "income_multiple" &&
          !has_values(p.params_, "gradual_exit_income_multiple")) {
        return ctx.fail("parameters.gradual_exit_income_multiple",
                        "missing (gradual_exit_upper_bound is income_multiple)");
      }
    }
  }
  p.version_ = p.file_version_ + "+" + std::string(kEngineVersion) + "." + digest_hex(doc.dump());
  return p;
}

json parameters_json(const JurisdictionPolicy& policy, const Date& on) {
  json params = json::array();
  json not_in_force = json::array();
  json stale = json::array();
  for (const auto& [name, series] : policy.parameters()) {
    auto p = policy.param(name, on);
    if (!p) {
      if (auto s = policy.stale(name, on)) {
        stale.push_back({{"name", name},
                         {"value", s->value},
                         {"effective_from", s->from.to_string()},
                         {"valid_until", s->valid_until->to_string()},
                         {"reference", s->reference},
                         {"example", s->example}});
      } else {
        not_in_force.push_back(name);
      }
      continue;
    }
    json j = {{"name", name},
              {"value", param_json(p->value)},
              {"effective_from", p->provenance.from.to_string()},
              {"reference", p->provenance.reference},
              {"example", p->provenance.example}};
    if (p->provenance.valid_until) j["valid_until"] = p->provenance.valid_until->to_string();
    params.push_back(std::move(j));
  }
  json rules = json::array();
  for (const auto& r : policy.rules()) {
    json j = {{"rule", r.id}, {"source", r.clause}, {"example", r.example}};
    if (!r.note.empty()) j["note"] = r.note;
    rules.push_back(std::move(j));
  }
  return {{"jurisdiction", policy.jurisdiction()},
          {"name", policy.name()},
          {"seed", policy.seed()},
          {"date", on.to_string()},
          {"policy_version", policy.version()},
          {"applies_to_subdivisions", policy.applies_to_subdivisions()},
          {"rules", rules},
          {"parameters", params},
          {"not_in_force", not_in_force},
          {"stale", stale}};
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
  if (ec) return make_error("bad_policy_dir", dir.string() + ": cannot be listed");
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto policy = load_policy_file(f);
    if (!policy) return policy.error();
    set.policies_.emplace(policy->jurisdiction(), std::move(*policy));
  }
  if (set.policies_.empty())
    return make_error("bad_policy_dir", dir.string() + ": holds no policy files");
  return set;
}

Result<const JurisdictionPolicy*> PolicySet::find(const std::string& jurisdiction) const {
  if (auto it = policies_.find(jurisdiction); it != policies_.end()) return &it->second;
  if (jurisdiction.size() == 6) {
    const std::string city = jurisdiction.substr(0, 4) + "00";
    const std::string province = jurisdiction.substr(0, 2) + "0000";
    for (const std::string& parent : {city, province}) {
      if (parent == jurisdiction) continue;
      auto it = policies_.find(parent);
      if (it == policies_.end()) continue;
      if (it->second.applies_to_subdivisions()) return &it->second;
      break;  // the nearer file exists but does not cover this code: stop there
    }
  }
  return make_error("no_policy", "no policy file for jurisdiction " + jurisdiction +
                                     " (and no parent file that applies to its subdivisions)");
}

}  // namespace hfv::policies
