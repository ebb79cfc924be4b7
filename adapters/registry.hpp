// Registry: builds the configured adapters explicitly from configuration —
// no static-initialisation registration. Unknown agency names and malformed
// settings are configuration errors reported at start-up.
#pragma once

#include <map>
#include <string>
#include <memory>
#include <nlohmann/json_fwd.hpp>

#include "adapters/adapter.hpp"
#include "common/result.hpp"

namespace hfv::adapters {

using AdapterSet = std::map<Source, std::unique_ptr<Adapter>>;

// Parses one agency's settings: {"base_url", "ca_file", "client_cert_file",
// "client_key_file", "pinned_public_key", "connect_timeout_ms", "timeout_ms",
// "max_concurrent", "rate_per_second", "retry_budget_percent", "max_attempts",
// "breaker_failures", "breaker_cooldown_ms"} (docs/configuration.md).
// Relative file paths are resolved against `base_dir`.
Result<AgencyConfig> parse_agency_config(const nlohmann::json& j, const std::string& base_dir);

// `agencies` maps agency names ("bank", ...) to their settings. Every adapter
// is decorated with its agency's guard (limits, retries) and circuit breaker
// (adapters/common/resilience.hpp).
Result<AdapterSet> build_adapters(const nlohmann::json& agencies, const std::string& base_dir,
                                  HttpClient& http);

// Agency name -> breaker state ("closed", "open", "half_open"), for metrics.
std::map<std::string, std::string> breaker_states(const AdapterSet& adapters);

}  // namespace hfv::adapters
