#include "broker/verification/request.hpp"

#include "broker/verification/outcome.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "common/id_number.hpp"
#include "common/json_error.hpp"
#include "common/money.hpp"
#include "common/text.hpp"
#include "policies/engine.hpp"

namespace hfv::broker {

using nlohmann::json;

namespace {

FieldError invalid(std::string field, std::string message) {
  return FieldError{"invalid_field", std::move(field), std::move(message)};
}

std::optional<FieldError> check_keys(const json& obj, const std::string& where,
                                     std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string field = where.empty() ? std::string() : where + ".";
      field += member_field(key);
      return invalid(std::move(field), "unknown field");
    }
  }
  return std::nullopt;
}

// Length in Unicode code points of valid UTF-8 (nlohmann has already
// rejected invalid UTF-8 while parsing).
std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::optional<FieldError> get_string(const json& obj, const char* key, const std::string& where,
                                     std::string& out, bool required) {
  auto it = obj.find(key);
  const std::string field = where.empty() ? key : where + "." + key;
  if (it == obj.end()) return required ? std::optional(invalid(field, "is required")) : std::nullopt;
  if (!it->is_string()) return invalid(field, "must be a string");
  out = it->get<std::string>();
  if (auto reason = text_problem(out)) return invalid(field, *reason);
  return std::nullopt;
}

// Where in the body a JSON text failed to parse, for a string the parser
// refused (invalid UTF-8, an unpaired surrogate escape, a raw control
// character): a SAX pass that tracks the path ("members[1].name") and
// stops at the error. Only run once the body is known to be bad.
class ErrorLocator {
 public:
  bool null() { return value(); }
  bool boolean(bool /*unused*/) { return value(); }
  bool number_integer(json::number_integer_t /*unused*/) { return value(); }
  bool number_unsigned(json::number_unsigned_t /*unused*/) { return value(); }
  bool number_float(json::number_float_t /*unused*/, const std::string& /*unused*/) { return value(); }
  bool string(std::string& /*unused*/) { return value(); }
  bool binary(json::binary_t& /*unused*/) { return value(); }
  bool start_object(std::size_t /*unused*/) { return open(false); }
  bool start_array(std::size_t /*unused*/) { return open(true); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    frames_.back().key = k;
    frames_.back().has_key = true;
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& last_token, const json::exception& ex) {
    const std::string what = ex.what();
    if (last_token.empty() || last_token.front() != '"' || what.find("invalid string") == std::string::npos) {
      return false;  // not inside a string: a syntax error, reported as such
    }
    // In an object with no key pending, the bad string is a key: name the object.
    const bool in_key = !frames_.empty() && !frames_.back().array && !frames_.back().has_key;
    field_ = path(in_key);
    if (what.find("surrogate") != std::string::npos) {
      reason_ = "contains an unpaired UTF-16 surrogate escape (\\uD800-\\uDFFF)";
    } else if (what.find("control character") != std::string::npos) {
      reason_ = "contains a control character";
    } else {
      reason_ = "is not valid UTF-8";
    }
    if (in_key) reason_ = "has a field name that " + *reason_;
    return false;
  }

  // Set when the error was in a string: the field (may be "" for the body) and why.
  std::optional<FieldError> error() const {
    if (!reason_) return std::nullopt;
    return FieldError{"invalid_field", field_, *reason_};
  }

 private:
  struct Frame {
    bool array = false;
    std::size_t index = 0;  // arrays: elements so far
    bool has_key = false;   // objects: a key read, its value not yet ended
    std::string key;
  };

  bool value() {
    if (frames_.empty()) return true;
    Frame& f = frames_.back();
    if (f.array) {
      ++f.index;
    } else {
      f.has_key = false;
    }
    return true;
  }
  bool open(bool array) {
    if (frames_.size() > kMaxJsonDepth) return false;
    frames_.push_back(Frame{array, 0, false, {}});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return value();
  }
  std::string path(bool drop_last_key) const {
    std::string out;
    for (std::size_t i = 0; i < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      const bool last = i + 1 == frames_.size();
      if (f.array) {
        out += "[" + std::to_string(f.index) + "]";
      } else if (f.has_key && !(last && drop_last_key)) {
        out += (out.empty() ? "" : ".") + f.key;
      }
    }
    return out;
  }

  std::vector<Frame> frames_;
  std::string field_;
  std::optional<std::string> reason_;
};

// A date field written YYYY-MM-DD; `where` names the enclosing object ("" at
// the top level). `out` is left alone when an optional field is absent.
std::optional<FieldError> get_date(const json& obj, const char* key, const std::string& where,
                                   std::optional<Date>& out, bool required) {
  std::string text;
  if (auto e = get_string(obj, key, where, text, required)) return e;
  if (!obj.contains(key)) return std::nullopt;
  auto d = Date::parse(text);
  if (!d) return invalid(where.empty() ? key : where + "." + key, "must be a real date written YYYY-MM-DD");
  out = *d;
  return std::nullopt;
}

std::optional<FieldError> get_date(const json& obj, const char* key, Date& out) {
  std::optional<Date> d;
  if (auto e = get_date(obj, key, "", d, true)) return e;
  out = *d;
  return std::nullopt;
}

// "jurisdiction": required, six digits (whether it names a division, and one
// the caller may serve, is checked where the division table is known).
std::optional<FieldError> get_jurisdiction(const json& obj, std::string& out) {
  if (auto e = get_string(obj, "jurisdiction", "", out, true)) return e;
  if (out.size() != 6 || !std::all_of(out.begin(), out.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return invalid("jurisdiction", "must be a 6-digit GB/T 2260 division code");
  }
  return std::nullopt;
}

// A declared amount: a decimal-yuan string, more than 0 and at most
// 1,000,000.00 (a bound far above any monthly benefit or rigid spending).
std::optional<FieldError> get_amount(const json& obj, const char* key, const std::string& where,
                                     std::optional<Money>& out) {
  const std::string field = where + "." + key;
  std::string text;
  if (auto e = get_string(obj, key, where, text, true)) return e;
  const auto amount = Money::parse(text);
  if (!amount) return invalid(field, "must be a decimal-yuan string such as \"300.00\"");
  if (*amount <= Money{}) return invalid(field, "must be more than 0");
  if (*amount > Money::from_yuan(1'000'000)) return invalid(field, "must not exceed 1000000.00");
  out = *amount;
  return std::nullopt;
}

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::optional<FieldError> get_evidence(const json& obj, const std::string& where, std::string& out) {
  if (auto e = get_string(obj, "evidence_sha256", where, out, true)) return e;
  if (!is_sha256_hex(out)) {
    return invalid(where + ".evidence_sha256", "must be 64 lowercase hex characters (the document's SHA-256)");
  }
  return std::nullopt;
}

// An object the request may carry only for one programme, and must carry
// for it: `key` is required when programme is `owner`, refused otherwise.
std::optional<FieldError> check_programme_field(const json& body, const char* key, const std::string& programme,
                                                policies::Programme owner) {
  const std::string_view owner_name = policies::programme_name(owner);
  if (body.contains(key) && programme != owner_name) {
    return invalid(key, "only read for programme " + std::string(owner_name));
  }
  if (!body.contains(key) && programme == owner_name) {
    return invalid(key, "is required for programme " + std::string(owner_name));
  }
  return std::nullopt;
}

// `rigid_spending` (programme expenditure): [{"kind", "amount", "period", "evidence_sha256"}].
std::optional<FieldError> get_rigid_spending(const json& body, const std::string& programme,
                                             std::vector<policies::RigidSpending>& out) {
  if (auto e = check_programme_field(body, "rigid_spending", programme, policies::Programme::kExpenditure)) {
    return e;
  }
  auto it = body.find("rigid_spending");
  if (it == body.end()) return std::nullopt;
  if (!it->is_array() || it->empty() || it->size() > kMaxRigidSpending) {
    return invalid("rigid_spending", "must be an array of 1-" + std::to_string(kMaxRigidSpending) + " entries");
  }
  static const std::set<std::string> kKinds = {"hospital_treatment", "rehabilitation", "chronic_illness",
                                               "schooling"};
  for (std::size_t i = 0; i < it->size(); ++i) {
    const std::string where = "rigid_spending[" + std::to_string(i) + "]";
    const json& item = (*it)[i];
    if (!item.is_object()) return invalid(where, "must be an object");
    if (auto e = check_keys(item, where, {"kind", "amount", "period", "evidence_sha256"})) return e;
    policies::RigidSpending spending;
    if (auto e = get_string(item, "kind", where, spending.kind, true)) return e;
    if (!kKinds.contains(spending.kind)) {
      return invalid(where + ".kind", "must be one of hospital_treatment, rehabilitation, chronic_illness, schooling");
    }
    std::optional<Money> amount;
    if (auto e = get_amount(item, "amount", where, amount)) return e;
    spending.amount = *amount;
    std::string period;
    if (auto e = get_string(item, "period", where, period, true)) return e;
    if (period != "monthly" && period != "window") {
      return invalid(where + ".period", "must be monthly or window (the total over the income window)");
    }
    spending.monthly = period == "monthly";
    if (auto e = get_evidence(item, where, spending.evidence_sha256)) return e;
    out.push_back(std::move(spending));
  }
  return std::nullopt;
}

// `emergency` (programme emergency): {"cause", "event_date", "evidence_sha256"}.
std::optional<FieldError> get_emergency(const json& body, const std::string& programme, const Date& reference_date,
                                        std::optional<policies::Emergency>& out) {
  if (auto e = check_programme_field(body, "emergency", programme, policies::Programme::kEmergency)) return e;
  auto it = body.find("emergency");
  if (it == body.end()) return std::nullopt;
  const std::string where = "emergency";
  if (!it->is_object()) return invalid(where, "must be an object");
  if (auto e = check_keys(*it, where, {"cause", "event_date", "evidence_sha256"})) return e;
  policies::Emergency emergency;
  if (auto e = get_string(*it, "cause", where, emergency.cause, true)) return e;
  if (emergency.cause != "public_emergency" && emergency.cause != "other") {
    return invalid(where + ".cause", "must be public_emergency or other");
  }
  std::optional<Date> event_date;
  if (auto e = get_date(*it, "event_date", where, event_date, true)) return e;
  if (*event_date > reference_date) return invalid(where + ".event_date", "must not be after reference_date");
  emergency.event_date = *event_date;
  if (auto e = get_evidence(*it, where, emergency.evidence_sha256)) return e;
  out = std::move(emergency);
  return std::nullopt;
}

// `current_benefit.monthly_amount` and `.amount_set_on`: both or neither.
std::optional<FieldError> get_current_amount(const json& obj, const std::string& where, const Date& reference_date,
                                             policies::CurrentBenefit& benefit) {
  const bool amount = obj.contains("monthly_amount");
  const bool set_on = obj.contains("amount_set_on");
  if (amount != set_on) {
    return invalid(where + (amount ? ".amount_set_on" : ".monthly_amount"),
                   "monthly_amount and amount_set_on come together");
  }
  if (!amount) return std::nullopt;
  if (auto e = get_amount(obj, "monthly_amount", where, benefit.monthly_amount)) return e;
  if (auto e = get_date(obj, "amount_set_on", where, benefit.amount_set_on, true)) return e;
  if (*benefit.amount_set_on > reference_date) {
    return invalid(where + ".amount_set_on", "must not be after reference_date");
  }
  if (*benefit.amount_set_on < benefit.since) return invalid(where + ".amount_set_on", "must not be before since");
  return std::nullopt;
}

// A member's entitlements for Harbin's single-person household:
// `disabled_serviceman_grade` (1-10) and `entitled_group_pension` (bool).
std::optional<FieldError> get_entitlements(const json& m, const std::string& where, Member& member) {
  if (auto it = m.find("disabled_serviceman_grade"); it != m.end()) {
    if (!it->is_number_integer() || it->get<long>() < 1 || it->get<long>() > 10) {
      return invalid(where + ".disabled_serviceman_grade", "must be an integer from 1 to 10");
    }
    member.disabled_serviceman_grade = it->get<int>();
  }
  if (auto it = m.find("entitled_group_pension"); it != m.end()) {
    if (!it->is_boolean()) return invalid(where + ".entitled_group_pension", "must be true or false");
    member.entitled_group_pension = it->get<bool>();
  }
  return std::nullopt;
}

// `current_benefit`: {"programme": "dibao", "since": DATE, "gradual_exit_until"?: DATE,
// "self_reported"?: bool}.
std::optional<FieldError> get_current_benefit(const json& body, const Date& reference_date,
                                              std::optional<policies::CurrentBenefit>& out) {
  auto it = body.find("current_benefit");
  if (it == body.end()) return std::nullopt;
  const std::string where = "current_benefit";
  if (!it->is_object()) return invalid(where, "must be an object");
  if (auto e = check_keys(*it, where, {"programme", "since", "gradual_exit_until", "self_reported", "monthly_amount",
                                       "amount_set_on"})) {
    return e;
  }
  std::string programme;
  if (auto e = get_string(*it, "programme", where, programme, true)) return e;
  if (programme != policies::programme_name(policies::Programme::kDibao)) {
    return invalid(where + ".programme", "must be dibao (the only current benefit a verification reads)");
  }
  policies::CurrentBenefit benefit;
  std::optional<Date> since;
  if (auto e = get_date(*it, "since", where, since, true)) return e;
  if (*since > reference_date) return invalid(where + ".since", "must not be after reference_date");
  benefit.since = *since;
  if (auto e = get_date(*it, "gradual_exit_until", where, benefit.gradual_exit_until, false)) return e;
  if (benefit.gradual_exit_until && *benefit.gradual_exit_until < benefit.since) {
    return invalid(where + ".gradual_exit_until", "must not be before since");
  }
  if (auto s = it->find("self_reported"); s != it->end()) {
    if (!s->is_boolean()) return invalid(where + ".self_reported", "must be true or false");
    benefit.self_reported = s->get<bool>();
  }
  if (auto e = get_current_amount(*it, where, reference_date, benefit)) return e;
  out = benefit;
  return std::nullopt;
}

// A non-negative decimal-yuan string field.
std::optional<FieldError> get_money(const json& obj, const char* key, const std::string& where,
                                    std::optional<Money>& out, bool required) {
  std::string text;
  if (auto e = get_string(obj, key, where, text, required)) return e;
  if (!obj.contains(key)) return std::nullopt;
  auto m = Money::parse(text);
  if (!m || m->fen() < 0) return invalid(where + "." + key, "must be a non-negative amount in yuan, e.g. \"1200.00\"");
  out = *m;
  return std::nullopt;
}

// `obligors`: [{"members": 1-30, "receives_assistance"?: bool,
// "disposable_income_monthly": YUAN, "rigid_spending_monthly": YUAN,
// "evidence_sha256"?: HEX}]; the two amounts are required unless the obligor
// household itself receives dibao or marginal assistance.
std::optional<FieldError> get_obligors(const json& body,
                                       std::optional<std::vector<policies::ObligorHousehold>>& out) {
  auto it = body.find("obligors");
  if (it == body.end()) return std::nullopt;
  if (!it->is_array()) return invalid("obligors", "must be an array (empty when there are none)");
  if (it->size() > kMaxObligors) {
    return invalid("obligors", "at most " + std::to_string(kMaxObligors) + " obligor households");
  }
  std::vector<policies::ObligorHousehold> obligors;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const std::string where = "obligors[" + std::to_string(i) + "]";
    const json& o = (*it)[i];
    if (!o.is_object()) return invalid(where, "must be an object");
    if (auto e = check_keys(o, where, {"members", "receives_assistance", "disposable_income_monthly",
                                       "rigid_spending_monthly", "evidence_sha256"})) {
      return e;
    }
    policies::ObligorHousehold h;
    auto members = o.find("members");
    if (members == o.end()) return invalid(where + ".members", "is required");
    if (!members->is_number_integer() || members->get<long>() < 1 ||
        members->get<long>() > static_cast<long>(kMaxMembers)) {
      return invalid(where + ".members", "must be an integer from 1 to " + std::to_string(kMaxMembers));
    }
    h.member_count = members->get<std::size_t>();
    if (auto a = o.find("receives_assistance"); a != o.end()) {
      if (!a->is_boolean()) return invalid(where + ".receives_assistance", "must be true or false");
      h.receives_assistance = a->get<bool>();
    }
    std::optional<Money> rigid;
    if (auto e = get_money(o, "disposable_income_monthly", where, h.disposable_income_monthly, !h.receives_assistance)) {
      return e;
    }
    if (auto e = get_money(o, "rigid_spending_monthly", where, rigid, !h.receives_assistance)) return e;
    h.rigid_spending_monthly = rigid.value_or(Money{});
    if (auto e = get_string(o, "evidence_sha256", where, h.evidence_sha256, false)) return e;
    if (o.contains("evidence_sha256") && !is_sha256_hex(h.evidence_sha256)) {
      return invalid(where + ".evidence_sha256", "must be 64 lowercase hex characters");
    }
    obligors.push_back(std::move(h));
  }
  out = std::move(obligors);
  return std::nullopt;
}

std::optional<FieldError> check_id(const std::string& id, const std::string& field, const Date& today) {
  const auto problem = validate_id_number(id, today);
  if (problem != IdNumberProblem::kNone) return invalid(field, std::string(describe(problem)));
  return std::nullopt;
}

// "sources": 1-11 distinct data sources; an unknown name is `unknown_code`.
std::optional<FieldError> get_sources(const json& m, const std::string& where, std::string_view unknown_code,
                                      std::vector<Source>& out) {
  auto sources = m.find("sources");
  if (sources == m.end()) return invalid(where + ".sources", "is required");
  if (!sources->is_array() || sources->empty() || sources->size() > kAllSources.size()) {
    return invalid(where + ".sources", "must be an array of 1-" + std::to_string(kAllSources.size()) + " data sources");
  }
  for (std::size_t k = 0; k < sources->size(); ++k) {
    const std::string field = where + ".sources[" + std::to_string(k) + "]";
    const json& c = (*sources)[k];
    if (!c.is_string()) return invalid(field, "must be a data source name");
    auto src = parse_source(c.get<std::string>());
    if (!src) return FieldError{std::string(unknown_code), field, "is not a known data source"};
    if (std::find(out.begin(), out.end(), *src) != out.end()) return invalid(field, "the same source is listed twice");
    out.push_back(*src);
  }
  return std::nullopt;
}

// "categories": "all", or a non-empty array of data sources. A registration
// may name a source twice (kept once); a peer query, sent as registered,
// may not (`distinct`).
std::optional<FieldError> get_categories(const json& obj, const std::string& where, bool distinct, bool& all,
                                         std::vector<Source>& out) {
  const std::string field = where.empty() ? "categories" : where + ".categories";
  auto categories = obj.find("categories");
  if (categories == obj.end()) return invalid(field, "is required");
  if (categories->is_string() && categories->get<std::string>() == "all") {
    all = true;
    return std::nullopt;
  }
  if (!categories->is_array() || categories->empty()) {
    return invalid(field, "must be \"all\" or a non-empty array of data sources");
  }
  for (std::size_t i = 0; i < categories->size(); ++i) {
    const json& c = (*categories)[i];
    auto src = c.is_string() ? parse_source(c.get<std::string>()) : std::nullopt;
    if (!src) return invalid(field + "[" + std::to_string(i) + "]", "is not a known data source");
    const bool seen = std::find(out.begin(), out.end(), *src) != out.end();
    if (seen && distinct) return invalid(field + "[" + std::to_string(i) + "]", "the same source is listed twice");
    if (!seen) out.push_back(*src);
  }
  return std::nullopt;
}

// "member_index": 0-29, not listed before.
std::optional<FieldError> get_member_index(const json& m, const std::string& where, std::set<std::size_t>& seen,
                                           std::size_t& out) {
  auto index = m.find("member_index");
  if (index == m.end()) return invalid(where + ".member_index", "is required");
  if (!index->is_number_unsigned() || index->get<std::uint64_t>() >= kMaxMembers) {
    return invalid(where + ".member_index", "must be an integer from 0 to " + std::to_string(kMaxMembers - 1));
  }
  out = index->get<std::size_t>();
  if (!seen.insert(out).second) return invalid(where + ".member_index", "the same member is listed twice");
  return std::nullopt;
}

// A member named by index (get_member_index), ID number (valid, not listed
// before) and name (1-50 characters), as an appeal and a peer query name them.
std::optional<FieldError> get_named_member(const json& m, const std::string& where, const Date& today,
                                           std::set<std::size_t>& indexes, std::set<std::string>& ids,
                                           std::size_t& index, std::string& id_number, std::string& name) {
  if (auto e = get_member_index(m, where, indexes, index)) return e;
  if (auto e = get_string(m, "id_number", where, id_number, true)) return e;
  if (auto e = check_id(id_number, where + ".id_number", today)) return e;
  if (!ids.insert(id_number).second) return invalid(where + ".id_number", "the same person is listed twice");
  if (auto e = get_string(m, "name", where, name, true)) return e;
  if (name.empty() || utf8_length(name) > 50) return invalid(where + ".name", "must be 1-50 characters");
  return std::nullopt;
}

std::optional<FieldError> get_hex64(const json& obj, const char* key, const std::string& where, std::string& out) {
  if (auto e = get_string(obj, key, where, out, true)) return e;
  if (!is_sha256_hex(out)) return invalid(where.empty() ? key : where + "." + key, "must be 64 lowercase hex characters");
  return std::nullopt;
}

bool is_centre_name(std::string_view s) {
  return !s.empty() && s.size() <= 32 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool is_division_code(std::string_view s) {
  return s.size() == 6 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::optional<std::string> text_problem(std::string_view s) {
  // Decodes the UTF-8 (valid: the JSON parser has checked it) one code point at a time.
  for (std::size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const std::size_t n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    char32_t cp = n == 1 ? lead : n == 2 ? (lead & 0x1FU) : n == 3 ? (lead & 0x0FU) : (lead & 0x07U);
    for (std::size_t k = 1; k < n && i + k < s.size(); ++k) {
      cp = (cp << 6U) | (static_cast<unsigned char>(s[i + k]) & 0x3FU);
    }
    i += n;
    if (!is_unsafe_code_point(cp)) continue;
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      return "must not contain control characters (U+0000-U+001F, U+007F-U+009F)";
    }
    return "must not contain line separators, direction marks or U+FEFF";
  }
  return std::nullopt;
}

bool is_token(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

Parsed<json> parse_json_body(std::string_view body) {
  std::size_t depth = 0;
  bool too_deep = false;
  json::parser_callback_t limit = [&](int /*depth*/, json::parse_event_t event, json& /*parsed*/) {
    if (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) {
      if (++depth > kMaxJsonDepth) too_deep = true;
    } else if (event == json::parse_event_t::object_end || event == json::parse_event_t::array_end) {
      --depth;
    }
    return !too_deep;
  };
  json doc = json::parse(body.begin(), body.end(), limit, /*allow_exceptions=*/false);
  if (too_deep) {
    return FieldError{"too_deep", "", "JSON nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  }
  if (doc.is_discarded()) {
    ErrorLocator locate;
    json::sax_parse(body.begin(), body.end(), &locate, json::input_format_t::json, /*strict=*/true);
    if (auto e = locate.error()) return *e;
    return FieldError{"invalid_json", "", "body is not valid JSON"};
  }
  if (!doc.is_object()) return FieldError{"invalid_json", "", "body must be a JSON object"};
  return doc;
}

Parsed<VerificationRequest> parse_verification_request(const json& body, const Date& today) {
  if (auto e = check_keys(body, "", {"case_id", "programme", "jurisdiction", "area", "reference_date",
                                     "authorization_id", "members", "obligors", "current_benefit", "rigid_spending",
                                     "emergency", "async", "force"})) {
    return *e;
  }
  VerificationRequest r;
  if (auto e = get_string(body, "case_id", "", r.case_id, true)) return *e;
  if (!is_token(r.case_id)) return invalid("case_id", "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
  if (auto e = get_string(body, "programme", "", r.programme, true)) return *e;
  if (!policies::parse_programme(r.programme)) {
    return invalid("programme", "must be one of dibao, marginal, tekun, temporary");
  }
  if (auto e = get_jurisdiction(body, r.jurisdiction)) return *e;
  std::string area;
  if (auto e = get_string(body, "area", "", area, true)) return *e;
  auto parsed_area = policies::parse_area(area);
  if (!parsed_area) return invalid("area", "must be urban or rural");
  r.area = *parsed_area;
  if (auto e = get_date(body, "reference_date", r.reference_date)) return *e;
  if (r.reference_date > today) return invalid("reference_date", "must not be in the future");
  if (auto e = get_current_benefit(body, r.reference_date, r.current_benefit)) return *e;
  if (auto e = get_rigid_spending(body, r.programme, r.rigid_spending)) return *e;
  if (auto e = get_emergency(body, r.programme, r.reference_date, r.emergency)) return *e;
  if (auto e = get_string(body, "authorization_id", "", r.authorization_id, true)) return *e;
  if (!is_token(r.authorization_id)) return invalid("authorization_id", "is not a valid authorization id");
  if (auto e = get_obligors(body, r.obligors)) return *e;
  for (auto [key, out] : {std::pair{"async", &r.async}, std::pair{"force", &r.force}}) {
    if (auto it = body.find(key); it != body.end()) {
      if (!it->is_boolean()) return invalid(key, "must be true or false");
      *out = it->get<bool>();
    }
  }
  auto members = body.find("members");
  if (members == body.end()) return invalid("members", "is required");
  if (!members->is_array() || members->empty()) return invalid("members", "must be a non-empty array");
  if (members->size() > kMaxMembers) {
    return invalid("members", "at most " + std::to_string(kMaxMembers) + " members per household");
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < members->size(); ++i) {
    const std::string where = "members[" + std::to_string(i) + "]";
    const json& m = (*members)[i];
    if (!m.is_object()) return invalid(where, "must be an object");
    if (auto e = check_keys(m, where, {"id_number", "name", "relation", "disability_grade", "disability_kind",
                                       "serious_illness", "employed", "labour_capacity", "disabled_serviceman_grade",
                                       "entitled_group_pension"})) {
      return *e;
    }
    Member member;
    if (auto e = get_string(m, "id_number", where, member.id_number, true)) return *e;
    if (auto e = check_id(member.id_number, where + ".id_number", today)) return *e;
    if (!seen.insert(member.id_number).second) {
      return invalid(where + ".id_number", "the same person is listed twice");
    }
    if (auto e = get_string(m, "name", where, member.name, true)) return *e;
    if (member.name.empty() || utf8_length(member.name) > 50) {
      return invalid(where + ".name", "must be 1-50 characters");
    }
    if (auto e = get_string(m, "relation", where, member.relation, true)) return *e;
    static const std::set<std::string> kRelations = {"applicant", "spouse", "child", "parent",
                                                     "grandparent", "grandchild", "sibling", "other"};
    if (!kRelations.contains(member.relation)) {
      return invalid(where + ".relation",
                     "must be one of applicant, spouse, child, parent, grandparent, grandchild, sibling, other");
    }
    if (auto it = m.find("disability_grade"); it != m.end()) {
      if (!it->is_number_integer() || it->get<long>() < 1 || it->get<long>() > 4) {
        return invalid(where + ".disability_grade", "must be an integer from 1 to 4");
      }
      member.disability_grade = it->get<int>();
    }
    if (auto e = get_string(m, "disability_kind", where, member.disability_kind, false)) return *e;
    if (m.contains("disability_kind") && !policies::is_disability_kind(member.disability_kind)) {
      std::string kinds;
      for (auto k : policies::disability_kinds()) kinds += (kinds.empty() ? "" : ", ") + std::string(k);
      return invalid(where + ".disability_kind", "must be one of " + kinds);
    }
    for (auto [key, out] : {std::pair{"serious_illness", &member.serious_illness},
                            std::pair{"employed", &member.employed}}) {
      if (auto it = m.find(key); it != m.end()) {
        if (!it->is_boolean()) return invalid(where + "." + key, "must be true or false");
        *out = it->get<bool>();
      }
    }
    if (auto e = get_string(m, "labour_capacity", where, member.labour_capacity, false)) return *e;
    if (!member.labour_capacity.empty() && member.labour_capacity != "full" &&
        member.labour_capacity != "partial" && member.labour_capacity != "none") {
      return invalid(where + ".labour_capacity", "must be full, partial or none");
    }
    if (auto e = get_entitlements(m, where, member)) return *e;
    r.members.push_back(std::move(member));
  }
  if (std::count_if(r.members.begin(), r.members.end(),
                    [](const Member& m) { return m.relation == "applicant"; }) != 1) {
    return invalid("members", "exactly one member must have relation \"applicant\"");
  }
  return r;
}

Parsed<AppealRequest> parse_appeal_request(const json& body, const Date& today) {
  if (auto e = check_keys(body, "", {"disputed", "evidence_sha256", "reason"})) return *e;
  AppealRequest r;
  auto disputed = body.find("disputed");
  if (disputed == body.end()) return invalid("disputed", "is required");
  if (!disputed->is_array() || disputed->empty() || disputed->size() > kMaxMembers) {
    return invalid("disputed", "must be an array of 1-" + std::to_string(kMaxMembers) + " members");
  }
  std::set<std::size_t> indexes;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < disputed->size(); ++i) {
    const std::string where = "disputed[" + std::to_string(i) + "]";
    const json& m = (*disputed)[i];
    if (!m.is_object()) return invalid(where, "must be an object");
    if (auto e = check_keys(m, where, {"member_index", "id_number", "name", "sources"})) return *e;
    AppealMember member;
    if (auto e = get_named_member(m, where, today, indexes, ids, member.member_index, member.id_number, member.name)) {
      return *e;
    }
    if (auto e = get_sources(m, where, refusal_code(RefusalReason::kInvalidPair), member.sources)) return *e;
    r.disputed.push_back(std::move(member));
  }
  auto evidence = body.find("evidence_sha256");
  if (evidence == body.end()) return invalid("evidence_sha256", "is required");
  if (!evidence->is_array() || evidence->empty() || evidence->size() > kMaxAppealEvidence) {
    return invalid("evidence_sha256",
                   "must be an array of 1-" + std::to_string(kMaxAppealEvidence) + " document SHA-256 digests");
  }
  for (std::size_t i = 0; i < evidence->size(); ++i) {
    const std::string field = "evidence_sha256[" + std::to_string(i) + "]";
    const json& e = (*evidence)[i];
    if (!e.is_string() || !is_sha256_hex(e.get<std::string>())) {
      return invalid(field, "must be 64 lowercase hex characters (the document's SHA-256)");
    }
    r.evidence_sha256.push_back(e.get<std::string>());
  }
  // Free text that reaches the signed report and the audit log: bounded,
  // and no character that makes it read as something else (text_problem).
  if (auto e = get_string(body, "reason", "", r.reason, true)) return *e;
  if (r.reason.empty() || utf8_length(r.reason) > kMaxAppealReason) {
    return invalid("reason", "must be 1-" + std::to_string(kMaxAppealReason) + " characters");
  }
  return r;
}

Parsed<AuthorizationRequest> parse_authorization_request(const json& body, const Date& today) {
  if (auto e = check_keys(body, "", {"case_id", "jurisdiction", "members", "categories", "valid_from",
                                     "valid_until", "form_sha256"})) {
    return *e;
  }
  AuthorizationRequest r;
  if (auto e = get_string(body, "case_id", "", r.case_id, true)) return *e;
  if (!is_token(r.case_id)) return invalid("case_id", "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
  if (auto e = get_jurisdiction(body, r.jurisdiction)) return *e;
  auto members = body.find("members");
  if (members == body.end() || !members->is_array() || members->empty() || members->size() > kMaxMembers) {
    return invalid("members", "must be an array of 1-" + std::to_string(kMaxMembers) + " ID numbers");
  }
  for (std::size_t i = 0; i < members->size(); ++i) {
    const std::string field = "members[" + std::to_string(i) + "]";
    if (!(*members)[i].is_string()) return invalid(field, "must be an ID number string");
    const std::string id = (*members)[i].get<std::string>();
    if (auto e = check_id(id, field, today)) return *e;
    if (std::find(r.members.begin(), r.members.end(), id) != r.members.end()) {
      return invalid(field, "the same person is listed twice");
    }
    r.members.push_back(id);
  }
  if (auto e = get_categories(body, "", false, r.all_categories, r.categories)) return *e;
  if (auto e = get_date(body, "valid_from", r.valid_from)) return *e;
  if (auto e = get_date(body, "valid_until", r.valid_until)) return *e;
  if (r.valid_until < r.valid_from) return invalid("valid_until", "must not be before valid_from");
  if (auto e = get_string(body, "form_sha256", "", r.form_sha256, true)) return *e;
  if (!is_sha256_hex(r.form_sha256)) {
    return invalid("form_sha256", "must be 64 lowercase hex characters");
  }
  return r;
}

Parsed<PeerQuery> parse_peer_query(const json& body, const Date& today) {
  if (auto e = check_keys(body, "", {"request_id", "origin_centre", "operator", "purpose", "case_id", "jurisdiction",
                                     "reference_date", "deadline_ms", "authorization", "members"})) {
    return *e;
  }
  PeerQuery q;
  for (auto [key, out] : {std::pair{"request_id", &q.request_id}, std::pair{"operator", &q.operator_id},
                          std::pair{"case_id", &q.case_id}}) {
    if (auto e = get_string(body, key, "", *out, true)) return *e;
    if (!is_token(*out)) return invalid(key, "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
  }
  if (auto e = get_string(body, "origin_centre", "", q.origin_centre, true)) return *e;
  if (!is_centre_name(q.origin_centre)) return invalid("origin_centre", "must be 1-32 characters of a-z 0-9 _ -");
  if (auto e = get_string(body, "purpose", "", q.purpose, true)) return *e;
  if (q.purpose != "dibao" && q.purpose != "marginal" && q.purpose != "tekun" && q.purpose != "temporary") {
    return invalid("purpose", "must be dibao, marginal, tekun or temporary");
  }
  if (auto e = get_jurisdiction(body, q.jurisdiction)) return *e;
  if (auto e = get_date(body, "reference_date", q.reference_date)) return *e;
  if (today < q.reference_date) return invalid("reference_date", "must not be in the future");
  auto deadline = body.find("deadline_ms");
  if (deadline == body.end()) return invalid("deadline_ms", "is required");
  // (Written by a client's serialiser as a signed or an unsigned integer.)
  if (!deadline->is_number_integer() || deadline->get<std::int64_t>() < 1 || deadline->get<std::int64_t>() > 600000) {
    return invalid("deadline_ms", "must be an integer from 1 to 600000");
  }
  q.deadline_ms = deadline->get<long>();

  auto auth = body.find("authorization");
  if (auth == body.end()) return invalid("authorization", "is required");
  if (!auth->is_object()) return invalid("authorization", "must be an object");
  if (auto e = check_keys(*auth, "authorization", {"authorization_id", "case_id", "jurisdiction", "categories",
                                                   "valid_from", "valid_until", "form_sha256", "member_commitments",
                                                   "digest"})) {
    return *e;
  }
  PeerAuthorization& a = q.authorization;
  for (auto [key, out] : {std::pair{"authorization_id", &a.authorization_id}, std::pair{"case_id", &a.case_id}}) {
    if (auto e = get_string(*auth, key, "authorization", *out, true)) return *e;
    if (!is_token(*out)) return invalid(std::string("authorization.") + key, "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
  }
  if (auto e = get_string(*auth, "jurisdiction", "authorization", a.jurisdiction, true)) return *e;
  if (!is_division_code(a.jurisdiction)) return invalid("authorization.jurisdiction", "must be a 6-digit GB/T 2260 division code");
  if (auto e = get_categories(*auth, "authorization", true, a.all_categories, a.categories)) return *e;
  std::optional<Date> from, until;
  if (auto e = get_date(*auth, "valid_from", "authorization", from, true)) return *e;
  if (auto e = get_date(*auth, "valid_until", "authorization", until, true)) return *e;
  a.valid_from = *from;
  a.valid_until = *until;
  if (a.valid_until < a.valid_from) return invalid("authorization.valid_until", "must not be before valid_from");
  if (auto e = get_hex64(*auth, "form_sha256", "authorization", a.form_sha256)) return *e;
  if (auto e = get_hex64(*auth, "digest", "authorization", a.digest)) return *e;
  auto commitments = auth->find("member_commitments");
  if (commitments == auth->end()) return invalid("authorization.member_commitments", "is required");
  if (!commitments->is_array() || commitments->empty() || commitments->size() > kMaxMembers) {
    return invalid("authorization.member_commitments", "must be an array of 1-" + std::to_string(kMaxMembers) + " hashes");
  }
  for (std::size_t i = 0; i < commitments->size(); ++i) {
    const std::string field = "authorization.member_commitments[" + std::to_string(i) + "]";
    const json& c = (*commitments)[i];
    if (!c.is_string() || !is_sha256_hex(c.get<std::string>())) return invalid(field, "must be 64 lowercase hex characters");
    if (!a.member_commitments.empty() && !(a.member_commitments.back() < c.get<std::string>())) {
      return invalid(field, "must be sorted and distinct");
    }
    a.member_commitments.push_back(c.get<std::string>());
  }

  auto members = body.find("members");
  if (members == body.end()) return invalid("members", "is required");
  if (!members->is_array() || members->empty() || members->size() > kMaxMembers) {
    return invalid("members", "must be an array of 1-" + std::to_string(kMaxMembers) + " members");
  }
  std::set<std::size_t> indexes;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < members->size(); ++i) {
    const std::string where = "members[" + std::to_string(i) + "]";
    const json& m = (*members)[i];
    if (!m.is_object()) return invalid(where, "must be an object");
    if (auto e = check_keys(m, where, {"member_index", "id_number", "name", "salt", "division", "sources"})) return *e;
    PeerMember member;
    if (auto e = get_named_member(m, where, today, indexes, ids, member.member_index, member.id_number, member.name)) {
      return *e;
    }
    if (auto e = get_hex64(m, "salt", where, member.salt)) return *e;
    if (auto e = get_string(m, "division", where, member.division, true)) return *e;
    if (!is_division_code(member.division)) return invalid(where + ".division", "must be a 6-digit GB/T 2260 division code");
    if (auto e = get_sources(m, where, "invalid_field", member.sources)) return *e;
    q.members.push_back(std::move(member));
  }
  return q;
}

json peer_query_json(const PeerQuery& q) {
  const PeerAuthorization& a = q.authorization;
  json categories = "all";
  if (!a.all_categories) {
    categories = json::array();
    for (Source s : a.categories) categories.push_back(source_name(s));
  }
  json members = json::array();
  for (const auto& m : q.members) {
    json sources = json::array();
    for (Source s : m.sources) sources.push_back(source_name(s));
    members.push_back({{"member_index", m.member_index}, {"id_number", m.id_number}, {"name", m.name},
                       {"salt", m.salt}, {"division", m.division}, {"sources", std::move(sources)}});
  }
  return {{"request_id", q.request_id},
          {"origin_centre", q.origin_centre},
          {"operator", q.operator_id},
          {"purpose", q.purpose},
          {"case_id", q.case_id},
          {"jurisdiction", q.jurisdiction},
          {"reference_date", q.reference_date.to_string()},
          {"deadline_ms", q.deadline_ms},
          {"authorization",
           {{"authorization_id", a.authorization_id},
            {"case_id", a.case_id},
            {"jurisdiction", a.jurisdiction},
            {"categories", std::move(categories)},
            {"valid_from", a.valid_from.to_string()},
            {"valid_until", a.valid_until.to_string()},
            {"form_sha256", a.form_sha256},
            {"member_commitments", a.member_commitments},
            {"digest", a.digest}}},
          {"members", std::move(members)}};
}

}  // namespace hfv::broker
