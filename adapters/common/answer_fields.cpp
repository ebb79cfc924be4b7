#include "adapters/common/answer_fields.hpp"

#include <algorithm>

namespace hfv::adapters::fields {

namespace {
bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
std::string quoted(const char* key) { return std::string("'") + key + "'"; }
}  // namespace

Error malformed(std::string_view what) { return make_error("malformed_answer", std::string(what)); }

Result<json> parse_object(std::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return malformed("answer is not a JSON object");
  return doc;
}

Result<json> parse_answer(long status, std::string_view body) {
  if (status != 200) return make_error("agency_error", "agency answered HTTP " + std::to_string(status));
  return parse_object(body);
}

Result<std::string> string_of(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return malformed(quoted(key) + " missing or not a string");
  return it->get<std::string>();
}

Result<std::string> nonempty_string_of(const json& object, const char* key) {
  auto s = string_of(object, key);
  if (s && s->empty()) return malformed(quoted(key) + " is empty");
  return s;
}

Result<const json*> object_of(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_object()) return malformed(quoted(key) + " missing or not an object");
  return &*it;
}

Result<const json*> array_of(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_array()) return malformed(quoted(key) + " missing or not an array");
  return &*it;
}

Result<bool> bool_of(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_boolean()) return malformed(quoted(key) + " missing or not a boolean");
  return it->get<bool>();
}

Result<std::int64_t> integer_of(const json& object, const char* key, std::int64_t min, std::int64_t max) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) {
    return malformed(quoted(key) + " missing or not an integer");
  }
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    return malformed(quoted(key) + " out of range");
  }
  const auto v = it->get<std::int64_t>();
  if (v < min || v > max) return malformed(quoted(key) + " out of range");
  return v;
}

std::optional<Money> parse_grouped_yuan(std::string_view text) {
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  std::string plain;
  std::size_t group = 0;
  bool grouped = whole.find(',') != std::string_view::npos;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    const char c = whole[whole.size() - 1 - i];
    if (grouped && group == 3) {
      if (c != ',') return std::nullopt;
      group = 0;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    plain.insert(plain.begin(), c);
    ++group;
  }
  if (plain.empty()) return std::nullopt;
  if (dot != std::string_view::npos) plain += text.substr(dot);
  auto money = Money::parse(plain);
  if (!money || *money < Money{}) return std::nullopt;
  return money;
}

std::optional<Money> parse_wan_yuan(std::string_view text) {
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (!all_digits(whole) || whole.size() > 9) return std::nullopt;
  if (dot != std::string_view::npos && (!all_digits(frac) || frac.size() > 6)) return std::nullopt;
  std::int64_t fen = std::stoll(std::string(whole)) * 1'000'000;
  std::string padded(frac);
  padded.resize(6, '0');
  fen += std::stoll(padded);
  return Money::from_fen(fen);
}

std::optional<std::pair<int, unsigned>> parse_compact_period(std::string_view text) {
  if (text.size() != 6 || !all_digits(text)) return std::nullopt;
  const int year = std::stoi(std::string(text.substr(0, 4)));
  const auto month = static_cast<unsigned>(std::stoi(std::string(text.substr(4, 2))));
  if (year < 1900 || month < 1 || month > 12) return std::nullopt;
  return std::pair{year, month};
}

std::optional<std::int64_t> parse_centi(std::string_view text) {
  const auto dot = text.find('.');
  if (dot != std::string_view::npos ? dot > 7 : text.size() > 7) return std::nullopt;
  const auto value = Money::parse(text);
  if (!value || value->fen() <= 0) return std::nullopt;
  return value->fen();
}

std::string mask_text(std::string_view text, std::size_t keep) {
  std::size_t points = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++points;
  }
  std::string out;
  std::size_t seen = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool lead = (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    if (lead) ++seen;
    if (points > keep && seen <= points - keep) {
      if (lead) out += '*';
    } else {
      out += text[i];
    }
  }
  if (points <= keep) return std::string(points, '*');
  return out;
}

}  // namespace hfv::adapters::fields
