#include "simulator/agencies/wire.hpp"

#include <algorithm>

namespace hfv::sim::wire {

namespace {
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool contains(std::initializer_list<const char*> list, std::string_view key) {
  return std::any_of(list.begin(), list.end(), [&](const char* k) { return key == k; });
}
// "<at>: unknown field '<key>'".
std::string unknown_field(const std::string& at, const std::string& key) {
  std::string out = at;
  out.append(": unknown field '").append(key).append("'");
  return out;
}
}  // namespace

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Reply json_reply(int status, const Json& body) {
  Reply r;
  r.status = status;
  r.body = dump(body);
  return r;
}

bool is_decimal_yuan(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  const std::size_t int_start = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == int_start || i - int_start > 15) return false;
  if (i == s.size()) return true;
  if (s[i] != '.') return false;
  const std::size_t frac_start = ++i;
  while (i < s.size() && is_digit(s[i])) ++i;
  return i == s.size() && (i - frac_start == 1 || i - frac_start == 2);
}

bool is_iso_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (const std::size_t i : {0UL, 1UL, 2UL, 3UL, 5UL, 6UL, 8UL, 9UL}) {
    if (!is_digit(s[i])) return false;
  }
  auto num = [&](std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  const int year = num(0, 4);
  const int month = num(5, 2);
  const int day = num(8, 2);
  if (year < 1900 || month < 1 || month > 12 || day < 1) return false;
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int max_day = month == 2 && leap ? 29 : kDays[month - 1];
  return day <= max_day;
}

bool is_json_media_type(std::string_view content_type) {
  const auto semi = content_type.find(';');
  std::string_view type = content_type.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  constexpr std::string_view kWanted = "application/json";
  if (type.size() != kWanted.size()) return false;
  for (std::size_t i = 0; i < type.size(); ++i) {
    const char c = (type[i] >= 'A' && type[i] <= 'Z') ? static_cast<char>(type[i] - 'A' + 'a') : type[i];
    if (c != kWanted[i]) return false;
  }
  return true;
}

std::optional<Json> json_object_body(const AgencyRequest& request) {
  if (!is_json_media_type(request.content_type)) return std::nullopt;
  Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) return std::nullopt;
  return body;
}

std::optional<Json> post_body(const AgencyRequest& request, const Endpoint& endpoint, AgencyAnswer& out) {
  if (request.path != endpoint.path) {
    out.reply = endpoint.no_such_path();
    return std::nullopt;
  }
  if (request.method != "POST") {
    out.reply = endpoint.not_post();
    out.reply.headers = {{"Allow", "POST"}};
    return std::nullopt;
  }
  auto body = json_object_body(request);
  if (!body) out.reply = endpoint.not_json_object();
  return body;
}

bool read_person(const Json& object, const PersonId& id, AgencyAnswer& out) {
  if (id.cert_type_field != nullptr) {
    if (auto t = object.find(id.cert_type_field); t != object.end() && *t != id.cert_type) {
      out.reply = id.wrong_cert_type();
      return false;
    }
  }
  const auto number = object.find(id.field);
  if (number == object.end() || !number->is_string() || number->get_ref<const std::string&>().size() != 18) {
    out.reply = id.invalid();
    return false;
  }
  out.person = number->get<std::string>();
  return true;
}

std::optional<std::uint64_t> integer_field(const Json& object, const char* key, std::uint64_t absent,
                                           std::uint64_t min, std::uint64_t max) {
  const auto it = object.find(key);
  if (it == object.end()) return absent;
  std::uint64_t n = 0;
  if (it->is_number_unsigned()) {
    n = it->get<std::uint64_t>();
  } else if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
    n = static_cast<std::uint64_t>(it->get<std::int64_t>());
  } else {
    return std::nullopt;
  }
  if (n < min || n > max) return std::nullopt;
  return n;
}

std::optional<std::size_t> cursor_offset(const Json& cursor, std::string_view prefix) {
  if (!cursor.is_string()) return std::nullopt;
  const std::string& text = cursor.get_ref<const std::string&>();
  if (text.empty()) return 0;
  constexpr std::size_t kMaxDigits = 9;
  if (!text.starts_with(prefix) || text.size() == prefix.size() || text.size() > prefix.size() + kMaxDigits ||
      text.find_first_not_of("0123456789", prefix.size()) != std::string::npos) {
    return std::nullopt;
  }
  return std::stoul(text.substr(prefix.size()));
}

std::optional<std::string> validate_list(const Json& records, std::initializer_list<const char*> strings,
                                         std::initializer_list<const char*> amounts,
                                         std::initializer_list<const char*> dates,
                                         std::initializer_list<const char*> optional_strings) {
  if (!records.is_array()) return ": must be an array";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Json& r = records[i];
    std::string at = "[";
    at += std::to_string(i);
    at += ']';
    if (!r.is_object()) return at + ": must be an object";
    for (auto group : {strings, amounts, dates}) {
      for (const char* field : group) {
        const auto it = r.find(field);
        if (it == r.end()) return at + "." + field + ": is missing";
        if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
          return at + "." + field + ": must be a non-empty string";
        }
      }
    }
    for (const char* field : amounts) {
      if (!is_decimal_yuan(r[field].get_ref<const std::string&>())) {
        return at + "." + field + ": must be a decimal-yuan string such as \"12345.67\"";
      }
    }
    for (const char* field : dates) {
      if (!is_iso_date(r[field].get_ref<const std::string&>())) return at + "." + field + ": must be a YYYY-MM-DD date";
    }
    for (const auto& [key, value] : r.items()) {
      if (contains(strings, key) || contains(amounts, key) || contains(dates, key)) continue;
      if (!contains(optional_strings, key)) return unknown_field(at, key);
      if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        std::string out = at;
        return out.append(".").append(key).append(": must be a non-empty string");
      }
    }
  }
  return std::nullopt;
}

std::int64_t yuan_to_fen(std::string_view s) {
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  std::int64_t fen = 0;
  std::size_t i = 0;
  for (; i < s.size() && s[i] != '.'; ++i) fen = fen * 10 + (s[i] - '0');
  fen *= 100;
  if (i < s.size()) {
    const std::string_view frac = s.substr(i + 1);
    fen += (frac[0] - '0') * 10 + (frac.size() > 1 ? frac[1] - '0' : 0);
  }
  return negative ? -fen : fen;
}

bool is_non_negative_yuan(std::string_view s) { return is_decimal_yuan(s) && s[0] != '-'; }

bool is_year_month(std::string_view s) {
  if (s.size() != 7 || s[4] != '-') return false;
  std::string day(s);
  day += "-01";
  return is_iso_date(day);
}

std::string fen_to_yuan(std::int64_t fen) {
  const bool negative = fen < 0;
  const std::uint64_t magnitude =
      negative ? static_cast<std::uint64_t>(-(fen + 1)) + 1 : static_cast<std::uint64_t>(fen);
  std::string cents = std::to_string(magnitude % 100);
  if (cents.size() < 2) cents.insert(0, "0");
  return (negative ? "-" : "") + std::to_string(magnitude / 100) + "." + cents;
}

std::optional<std::string> check_string(const Json& r, const std::string& at, const char* key) {
  const auto it = r.find(key);
  if (it == r.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return at + "." + key + ": must be a non-empty string";
  }
  return std::nullopt;
}

std::optional<std::string> check_amount(const Json& r, const std::string& at, const char* key) {
  if (auto problem = check_string(r, at, key)) return problem;
  if (!is_non_negative_yuan(r[key].get_ref<const std::string&>())) {
    return at + "." + key + ": must be a non-negative decimal-yuan string such as \"12345.67\"";
  }
  return std::nullopt;
}

std::string index_at(std::size_t i) { return "[" + std::to_string(i) + "]"; }

std::optional<std::string> check_keys(const Json& r, const std::string& at,
                                      std::initializer_list<const char*> required,
                                      std::initializer_list<const char*> optional) {
  if (!r.is_object()) return at + ": must be an object";
  for (const char* key : required) {
    if (!r.contains(key)) return at + "." + key + ": is missing";
  }
  for (const auto& [key, value] : r.items()) {
    if (!contains(required, key) && !contains(optional, key)) {
      return unknown_field(at, key);
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_enum(const Json& r, const std::string& at, const char* key,
                                      std::initializer_list<const char*> allowed) {
  const auto it = r.find(key);
  if (it != r.end() && it->is_string() && contains(allowed, it->get_ref<const std::string&>())) {
    return std::nullopt;
  }
  std::string names;
  for (const char* a : allowed) names += (names.empty() ? "" : "|") + std::string(a);
  return at + "." + key + ": must be one of " + names;
}

}  // namespace hfv::sim::wire
