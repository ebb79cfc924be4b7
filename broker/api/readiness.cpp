#include "broker/api/readiness.hpp"

#include <algorithm>
#include <set>

namespace hfv::broker {

Readiness assess_readiness(const ReadinessInputs& in) {
  Readiness r;
  r.ready = true;
  nlohmann::json checks = nlohmann::json::object();
  const auto check = [&](const char* name, bool ok, const std::string& reason) {
    nlohmann::json c = {{"ok", ok}};
    if (!reason.empty()) c["reason"] = reason;
    checks[name] = std::move(c);
    r.ready = r.ready && ok;
  };

  if (in.audit_last_append_ok.value_or(true)) {
    check("audit", true, "");
  } else {
    check("audit", false, "the last audit append failed");
  }

  check("state", !in.state_error.has_value(),
        in.state_error ? "the state store did not answer: " + *in.state_error : "");

  std::set<std::string> stale;
  for (const auto& p : in.stale_parameters) {
    if (p.stale_now) stale.insert(p.jurisdiction);
  }
  if (in.policies_loaded == 0) {
    check("policies", false, "no policy is loaded");
  } else if (!stale.empty()) {
    std::string codes;
    for (const auto& code : stale) codes += (codes.empty() ? "" : ", ") + code;
    check("policies", false, "stale today: " + codes);
  } else {
    check("policies", true, "");
  }

  const bool any_reachable =
      in.agencies.empty() ||
      std::any_of(in.agencies.begin(), in.agencies.end(),
                  [](const AgencySnapshot& a) { return a.breaker != "open"; });
  check("agencies", any_reachable, any_reachable ? "" : "every agency's circuit breaker is open");

  r.body = {{"ready", r.ready}, {"checks", std::move(checks)}};
  return r;
}

}  // namespace hfv::broker
