#include "simulator/faults.hpp"

#include <array>
#include <utility>

namespace hfv::sim {

namespace {

struct KindName {
  FaultKind kind;
  std::string_view name;
};

constexpr std::array<KindName, 7> kKindNames = {{
    {FaultKind::kNone, "none"},
    {FaultKind::kError500, "error_500"},
    {FaultKind::kError503, "error_503"},
    {FaultKind::kTimeout, "timeout"},
    {FaultKind::kMalformed, "malformed"},
    {FaultKind::kReset, "reset"},
    {FaultKind::kRateLimited, "rate_limited"},
}};

}  // namespace

std::optional<FaultKind> parse_fault_kind(std::string_view name) {
  for (const auto& k : kKindNames) {
    if (k.name == name) return k.kind;
  }
  return std::nullopt;
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

std::chrono::milliseconds FaultPlan::latency(std::string_view source) const {
  if (latency_override_) return *latency_override_;
  const auto s = sources_.find(source);
  return s == sources_.end() ? std::chrono::milliseconds{0} : s->second.latency;
}

FaultOutcome apply_fault(FaultKind kind, Reply normal) {
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
      out.reply.headers = {{"Retry-After", "1"}};
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
      out.action = Action::kHang;
      break;
    case FaultKind::kReset:
      out.action = Action::kReset;
      break;
  }
  return out;
}

}  // namespace hfv::sim
