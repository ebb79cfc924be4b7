#include "simulator/faults.hpp"

#include <array>
#include <cmath>
#include <cstdlib>
#include <string>
#include <nlohmann/json.hpp>
#include <utility>

namespace hfv::sim {

namespace {

struct KindName {
  FaultKind kind;
  std::string_view name;
};

constexpr std::array<KindName, 10> kKindNames = {{
    {FaultKind::kNone, "none"},
    {FaultKind::kError500, "error_500"},
    {FaultKind::kError503, "error_503"},
    {FaultKind::kTimeout, "timeout"},
    {FaultKind::kMalformed, "malformed"},
    {FaultKind::kReset, "reset"},
    {FaultKind::kRateLimited, "rate_limited"},
    {FaultKind::kSlowBody, "slow_body"},
    {FaultKind::kWrongTypes, "wrong_types"},
    {FaultKind::kStuckOnce, "stuck_once"},
}};

constexpr double kTailShape = 1.5;

// A uniform double in (0, 1) from a 64-bit hash.
double unit_interval(std::uint64_t bits) {
  return (static_cast<double>(bits >> 11) + 0.5) / 9007199254740992.0;  // 2^53
}

using OrderedJson = nlohmann::ordered_json;

// "-?digits(.digits)?" once thousands separators are removed.
bool numeric_text(std::string_view text, std::string& plain) {
  plain.clear();
  for (char c : text) {
    if (c != ',') plain.push_back(c);
  }
  std::size_t i = plain.starts_with('-') ? 1 : 0;
  const std::size_t digits_from = i;
  while (i < plain.size() && plain[i] >= '0' && plain[i] <= '9') ++i;
  if (i == digits_from) return false;
  if (i < plain.size() && plain[i] == '.') {
    const std::size_t fraction_from = ++i;
    while (i < plain.size() && plain[i] >= '0' && plain[i] <= '9') ++i;
    if (i == fraction_from) return false;
  }
  return i == plain.size() && plain.size() <= 30;
}

void swap_types(OrderedJson& value) {
  if (value.is_object() || value.is_array()) {
    for (auto& child : value) swap_types(child);
  } else if (value.is_number() || value.is_boolean()) {
    value = value.dump();
  } else if (value.is_string()) {
    std::string plain;
    if (numeric_text(value.get_ref<const std::string&>(), plain)) {
      // Integers stay integers ("0101" -> 101); long or fractional ones become doubles.
      if (plain.find('.') == std::string::npos && plain.size() <= 18) {
        value = std::stoll(plain);
      } else {
        value = std::strtod(plain.c_str(), nullptr);
      }
    }
  }
}

}  // namespace

std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t fnv1a(std::string_view text, std::uint64_t h) {
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

std::string wrong_types(std::string_view body) {
  OrderedJson doc = OrderedJson::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return std::string(body);
  for (auto& child : doc) {
    if (child.is_structured()) swap_types(child);  // the envelope's own scalars stay
  }
  return doc.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

std::optional<FaultKind> parse_fault_kind(std::string_view name) {
  for (const auto& k : kKindNames) {
    if (k.name == name) return k.kind;
  }
  return std::nullopt;
}

std::vector<std::string_view> fault_kind_names() {
  std::vector<std::string_view> out;
  for (const auto& k : kKindNames) {
    if (k.kind != FaultKind::kNone) out.push_back(k.name);
  }
  return out;
}

std::string_view fault_name(FaultKind kind) {
  if (kind == FaultKind::kNone) return "";
  for (const auto& k : kKindNames) {
    if (k.kind == kind) return k.name;
  }
  return "";
}

void FaultPlan::set(std::string source, SourceFaults faults) {
  sources_[std::move(source)] = std::move(faults);
}

FaultKind FaultPlan::lookup(std::string_view source, std::string_view person) const {
  const auto s = sources_.find(source);
  if (s == sources_.end()) return FaultKind::kNone;
  if (!person.empty()) {
    const auto p = s->second.persons.find(person);
    if (p != s->second.persons.end()) return p->second;
  }
  return s->second.all.value_or(FaultKind::kNone);
}

bool FaultPlan::random() const {
  for (const auto& [name, f] : sources_) {
    if (f.error_rate > 0.0 || (!latency_override_ && f.latency_tail.count() > 0)) return true;
  }
  return false;
}

FaultDecision FaultPlan::decide(std::string_view source, std::string_view person,
                                std::uint64_t nonce) const {
  FaultDecision out;
  const auto s = sources_.find(source);
  if (s == sources_.end()) {
    out.latency = latency_override_.value_or(std::chrono::milliseconds{0});
    return out;
  }
  const SourceFaults& f = s->second;
  const auto p = person.empty() ? f.persons.end() : f.persons.find(person);
  if (p != f.persons.end()) {
    out.kind = p->second;
  } else if (f.all) {
    out.kind = *f.all;
  } else if (f.error_rate > 0.0 && unit_interval(mix64(nonce ^ 0x6572726f72ULL)) < f.error_rate) {
    out.kind = f.error_kind;
  }
  if (latency_override_) {
    out.latency = *latency_override_;
  } else {
    out.latency = f.latency;
    if (f.latency_tail.count() > 0) {
      const double u = unit_interval(mix64(nonce ^ 0x6c6174656e6379ULL));
      const double extra =
          static_cast<double>(f.latency_tail.count()) * (std::pow(u, -1.0 / kTailShape) - 1.0);
      const double capped = std::min(extra, static_cast<double>(kMaxTail.count()));
      out.latency += std::chrono::milliseconds{static_cast<std::int64_t>(capped)};
    }
  }
  out.slow_body = f.slow_body;
  out.retry_after = f.retry_after;
  return out;
}

std::chrono::milliseconds FaultPlan::latency(std::string_view source) const {
  if (latency_override_) return *latency_override_;
  const auto s = sources_.find(source);
  return s == sources_.end() ? std::chrono::milliseconds{0} : s->second.latency;
}

FaultOutcome apply_fault(FaultKind kind, Reply normal, std::chrono::seconds retry_after) {
  FaultOutcome out;
  switch (kind) {
    case FaultKind::kNone:
      out.reply = std::move(normal);
      break;
    case FaultKind::kError500:
      out.reply.status = 500;
      out.reply.body = R"({"retCode":"9999","retMsg":"SYSTEM ERROR"})";
      break;
    case FaultKind::kError503:
      out.reply.status = 503;
      out.reply.content_type = "text/html; charset=utf-8";
      out.reply.body =
          "<html><head><title>503 Service Temporarily Unavailable</title></head>"
          "<body><h1>503 Service Temporarily Unavailable</h1></body></html>\n";
      break;
    case FaultKind::kRateLimited:
      out.reply.status = 429;
      out.reply.headers = {{"Retry-After", std::to_string(retry_after.count())}};
      out.reply.body = R"({"retCode":"9429","retMsg":"TOO MANY REQUESTS"})";
      break;
    case FaultKind::kMalformed: {
      // A strict prefix of a JSON object's text is never valid JSON: the
      // closing brace that balances the first one is the last character.
      out.reply = std::move(normal);
      out.reply.status = 200;
      out.reply.headers.clear();
      std::string& body = out.reply.body;
      if (body.size() < 8) {
        body = R"({"retCode":"00)";
      } else {
        body.resize(body.size() / 2);
      }
      break;
    }
    case FaultKind::kTimeout:
    case FaultKind::kStuckOnce:
      out.action = Action::kHang;
      break;
    case FaultKind::kReset:
      out.action = Action::kReset;
      break;
    case FaultKind::kSlowBody:
      out.action = Action::kSlowBody;
      out.reply = std::move(normal);
      break;
    case FaultKind::kWrongTypes:
      out.reply = std::move(normal);
      out.reply.status = 200;
      out.reply.body = wrong_types(out.reply.body);
      break;
  }
  return out;
}

}  // namespace hfv::sim
