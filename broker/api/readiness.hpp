// Readiness (GET /readyz): whether this broker can do its work now, as a
// load balancer or orchestrator asks before sending it requests. /healthz
// stays liveness only (the process answers).
//
// Ready means every check passes:
//   audit     the audit log's last append succeeded (none yet: ok). A probe
//             appends nothing: it reads what the writer last reported.
//   state     the state store answered a read just now.
//   policies  at least one policy is loaded and no loaded policy has a
//             parameter past its validity horizon today.
//   agencies  at least one agency's circuit breaker is not open. Agencies
//             are never queried for a probe: the breakers hold what recent
//             queries found (none recently: closed, so ok).
// Reasons are fixed texts with policy codes and agency names only: nothing
// personal.
//
// Pure logic: no clock, no disk; the Service gathers the inputs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker/ops/metrics.hpp"

namespace hfv::broker {

struct ReadinessInputs {
  std::optional<bool> audit_last_append_ok;  // nullopt: no append yet
  std::optional<std::string> state_error;    // nullopt: the store answered
  std::size_t policies_loaded = 0;
  std::vector<StaleParameterState> stale_parameters;  // stale_policy_parameters() as of today
  std::vector<AgencySnapshot> agencies;
};

struct Readiness {
  bool ready = false;
  // {"ready": bool, "checks": {name: {"ok": bool, "reason": text?}}}
  nlohmann::json body;
};

Readiness assess_readiness(const ReadinessInputs& in);

}  // namespace hfv::broker
