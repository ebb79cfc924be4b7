// Registry: builds the configured adapters explicitly from configuration —
// no static-initialisation registration. Unknown agency names and malformed
// settings are configuration errors reported at start-up.
#pragma once

#include <map>
#include <string>
#include <cstdint>
#include <memory>
#include <vector>
#include <nlohmann/json_fwd.hpp>

#include "adapters/adapter.hpp"
#include "common/result.hpp"

namespace hfv::adapters {

// Shared: a reload hands an unchanged agency's adapter (its breaker, limits
// and counters) on to the next set while verifications in flight still hold
// the set before (broker/app/daemon.cpp).
using AdapterSet = std::map<Source, std::shared_ptr<Adapter>>;

// Parses one agency's settings: {"base_url", "ca_file", "client_cert_file",
// "client_key_file", "pinned_public_key", "connect_timeout_ms", "timeout_ms",
// "max_concurrent", "rate_per_second", "retry_budget_percent", "max_attempts",
// "breaker_failures", "breaker_cooldown_ms"} (docs/configuration.md).
// Relative file paths are resolved against `base_dir`.
Result<AgencyConfig> parse_agency_config(const nlohmann::json& j, const std::string& base_dir);

// Agency name ("bank", ...) -> its settings.
using AgencyConfigs = std::map<std::string, AgencyConfig>;

// Parses the configuration's "agencies" object; an unknown agency name or a
// bad setting is an error naming "agencies.<name>".
Result<AgencyConfigs> parse_agencies(const nlohmann::json& agencies, const std::string& base_dir);

// Every adapter is decorated with its agency's guard (limits, retries) and
// circuit breaker (adapters/common/resilience.hpp).
Result<AdapterSet> build_adapters(const AgencyConfigs& agencies, HttpClient& http);

// `next`, with the adapter of `current` kept for every agency whose settings
// (`current_settings` and `next_settings`: the configuration's "agencies"
// objects) are the same in both: only a changed or new agency starts its
// breaker, limits and counters afresh.
AdapterSet keep_unchanged(AdapterSet next, const AdapterSet& current, const nlohmann::json& current_settings,
                          const nlohmann::json& next_settings);

// Agency name -> breaker state ("closed", "open", "half_open"), for metrics.
std::map<std::string, std::string> breaker_states(const AdapterSet& adapters);

// A read-only snapshot of one agency's adapter, for /metrics. Counters are
// totals since the adapter was built (Prometheus counters); `breaker` and
// `in_flight` are the current values.
struct AgencyStats {
  std::string agency;                 // "bank" (the configuration key)
  std::string breaker;                // "closed" | "open" | "half_open"
  std::uint64_t breaker_opens = 0;    // times the breaker opened
  std::uint64_t queries = 0;          // member × agency queries asked of the adapter
  std::uint64_t failures = 0;         // of which ended timeout/error (short-circuited included)
  std::uint64_t timeouts = 0;         // of which timed out
  std::uint64_t short_circuited = 0;  // of which answered "circuit open" without a request
  std::uint64_t requests = 0;         // HTTP requests sent (pages, retries)
  std::uint64_t request_errors = 0;   // of which got no answer, 429 or 5xx
  std::uint64_t retries = 0;          // of which were retries
  std::uint64_t hedges = 0;           // of which were hedged second requests
  std::uint64_t hedges_won = 0;       // hedges answered before the request they hedged
  std::uint64_t in_flight = 0;        // HTTP requests in flight now
  std::uint64_t latency_ms_sum = 0;   // query latency (all pages and retries), sent queries only
  std::uint64_t latency_count = 0;
};

// One entry per configured agency, in agency-name order. Call it on the
// adapters' io_context thread (as request handlers run), like query().
std::vector<AgencyStats> agency_stats(const AdapterSet& adapters);

}  // namespace hfv::adapters
