#include "adapters/registry.hpp"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "adapters/bank/bank_adapter.hpp"
#include "adapters/common/resilience.hpp"
#include "adapters/business/business_adapter.hpp"
#include "adapters/hukou/hukou_adapter.hpp"
#include "adapters/insurance/insurance_adapter.hpp"
#include "adapters/internet_finance/internet_finance_adapter.hpp"
#include "adapters/provident_fund/provident_fund_adapter.hpp"
#include "adapters/real_estate/real_estate_adapter.hpp"
#include "adapters/securities/securities_adapter.hpp"
#include "adapters/social_insurance/social_insurance_adapter.hpp"
#include "adapters/tax/tax_adapter.hpp"
#include "adapters/vehicle/vehicle_adapter.hpp"

namespace hfv::adapters {

using nlohmann::json;

std::chrono::milliseconds time_left(Deadline deadline, std::chrono::milliseconds cap) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::clamp(left, std::chrono::milliseconds(1), cap);
}

Result<AgencyConfig> parse_agency_config(const json& j, const std::string& base_dir) {
  if (!j.is_object()) return make_error("bad_config", "agency settings must be an object");
  static const char* kKnown[] = {"base_url", "ca_file", "client_cert_file", "client_key_file",
                                 "pinned_public_key", "connect_timeout_ms", "timeout_ms", "max_concurrent",
                                 "rate_per_second", "retry_budget_percent", "max_attempts", "breaker_failures",
                                 "breaker_cooldown_ms", "hedge"};
  for (const auto& [key, value] : j.items()) {
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      return make_error("bad_config", "unknown agency setting '" + key + "'");
    }
  }
  AgencyConfig c;
  auto url = j.find("base_url");
  if (url == j.end() || !url->is_string() ||
      !(url->get<std::string>().starts_with("http://") || url->get<std::string>().starts_with("https://"))) {
    return make_error("bad_config", "'base_url' must be an http:// or https:// URL");
  }
  c.base_url = url->get<std::string>();
  while (c.base_url.ends_with('/')) c.base_url.pop_back();
  auto path = [&](const char* key, std::string& out) -> Status {
    auto it = j.find(key);
    if (it == j.end()) return {};
    if (!it->is_string()) return make_error("bad_config", std::string("'") + key + "' must be a string");
    std::filesystem::path p(it->get<std::string>());
    out = p.is_absolute() ? p.string() : (std::filesystem::path(base_dir) / p).string();
    return {};
  };
  for (auto [key, out] : {std::pair{"ca_file", &c.tls.ca_file},
                          std::pair{"client_cert_file", &c.tls.client_cert_file},
                          std::pair{"client_key_file", &c.tls.client_key_file}}) {
    if (auto s = path(key, *out); !s) return s.error();
  }
  if (c.tls.client_cert_file.empty() != c.tls.client_key_file.empty()) {
    return make_error("bad_config", "'client_cert_file' and 'client_key_file' go together");
  }
  if (auto it = j.find("pinned_public_key"); it != j.end()) {
    if (!it->is_string()) return make_error("bad_config", "'pinned_public_key' must be a string");
    c.tls.pinned_public_key = it->get<std::string>();
  }
  auto millis = [&](const char* key, std::chrono::milliseconds& out) -> Status {
    auto it = j.find(key);
    if (it == j.end()) return {};
    if (!it->is_number_integer() || it->get<long>() <= 0 || it->get<long>() > 600000) {
      return make_error("bad_config", std::string("'") + key + "' must be an integer from 1 to 600000");
    }
    out = std::chrono::milliseconds(it->get<long>());
    return {};
  };
  if (auto s = millis("connect_timeout_ms", c.connect_timeout); !s) return s.error();
  if (auto s = millis("timeout_ms", c.timeout); !s) return s.error();
  auto integer = [&](const char* key, int min, int max, int& out) -> Status {
    auto it = j.find(key);
    if (it == j.end()) return {};
    if (!it->is_number_integer() || it->get<long>() < min || it->get<long>() > max) {
      return make_error("bad_config", std::string("'") + key + "' must be an integer from " + std::to_string(min) +
                                          " to " + std::to_string(max));
    }
    out = static_cast<int>(it->get<long>());
    return {};
  };
  ResilienceConfig& r = c.resilience;
  if (auto s = integer("max_concurrent", 1, 10000, r.max_concurrent); !s) return s.error();
  if (auto s = integer("rate_per_second", 0, 100000, r.rate_per_second); !s) return s.error();
  if (auto s = integer("retry_budget_percent", 0, 100, r.retry_budget_percent); !s) return s.error();
  if (auto s = integer("max_attempts", 1, 10, r.max_attempts); !s) return s.error();
  if (auto s = integer("breaker_failures", 1, 1000, r.breaker_failures); !s) return s.error();
  if (auto s = millis("breaker_cooldown_ms", r.breaker_cooldown); !s) return s.error();
  if (auto it = j.find("hedge"); it != j.end()) {
    if (!it->is_boolean()) return make_error("bad_config", "'hedge' must be true or false");
    r.hedge = it->get<bool>();
  }
  return c;
}

Result<AgencyConfigs> parse_agencies(const json& agencies, const std::string& base_dir) {
  if (!agencies.is_object()) return make_error("bad_config", "'agencies' must be an object");
  AgencyConfigs out;
  for (const auto& [name, settings] : agencies.items()) {
    if (!parse_source(name)) return make_error("bad_config", "agencies." + name + ": unknown agency");
    auto config = parse_agency_config(settings, base_dir);
    if (!config) return make_error("bad_config", "agencies." + name + ": " + config.error().message);
    out.emplace(name, std::move(*config));
  }
  return out;
}

Result<AdapterSet> build_adapters(const AgencyConfigs& agencies, HttpClient& http) {
  AdapterSet set;
  for (const auto& [name, settings] : agencies) {
    AgencyConfig config = settings;
    std::optional<PagedAgency> agency;
    if (name == bank::kName) {
      agency = bank::agency();
    } else if (name == securities::kName) {
      agency = securities::agency();
    } else if (name == insurance::kName) {
      agency = insurance::agency();
    } else if (name == internet_finance::kName) {
      agency = internet_finance::agency();
    } else if (name == tax::kName) {
      agency = tax::agency();
    } else if (name == social_insurance::kName) {
      agency = social_insurance::agency();
    } else if (name == real_estate::kName) {
      agency = real_estate::agency();
    } else if (name == vehicle::kName) {
      agency = vehicle::agency();
    } else if (name == business::kName) {
      agency = business::agency();
    } else if (name == provident_fund::kName) {
      agency = provident_fund::agency();
    } else if (name == hukou::kName) {
      agency = hukou::agency();
    }
    if (agency) {
      const Source source = agency->source;
      const ResilienceConfig r = config.resilience;
      auto guard = std::make_shared<AgencyGuard>(http.io().get_executor(), r);
      auto breaker = std::make_shared<CircuitBreaker>(r.breaker_failures, r.breaker_cooldown);
      auto paged = std::make_unique<PagedAdapter>(std::move(config), http, std::move(*agency), guard);
      set.emplace(source, std::make_unique<ResilientAdapter>(std::move(paged), std::move(breaker), std::move(guard)));
    } else {
      return make_error("bad_config", "agencies." + name + ": no adapter for this agency yet");
    }
  }
  return set;
}

AdapterSet keep_unchanged(AdapterSet next, const AdapterSet& current, const json& current_settings,
                          const json& next_settings) {
  for (auto& [source, adapter] : next) {
    const std::string name(source_name(source));
    const auto was = current.find(source);
    if (was == current.end() || !current_settings.is_object() || !next_settings.is_object()) continue;
    const auto before = current_settings.find(name);
    const auto after = next_settings.find(name);
    if (before != current_settings.end() && after != next_settings.end() && *before == *after) adapter = was->second;
  }
  return next;
}

std::map<std::string, std::string> breaker_states(const AdapterSet& adapters) {
  std::map<std::string, std::string> out;
  for (const auto& [source, adapter] : adapters) {
    if (const auto* r = dynamic_cast<const ResilientAdapter*>(adapter.get())) {
      out.emplace(std::string(source_name(source)), std::string(breaker_state_name(r->breaker_state())));
    }
  }
  return out;
}

}  // namespace hfv::adapters

namespace hfv::adapters {

std::vector<AgencyStats> agency_stats(const AdapterSet& adapters) {
  std::vector<AgencyStats> out;
  for (const auto& [source, adapter] : adapters) {
    AgencyStats s;
    s.agency = std::string(source_name(source));
    s.breaker = "closed";
    if (const auto* r = dynamic_cast<const ResilientAdapter*>(adapter.get())) {
      s.breaker = std::string(breaker_state_name(r->breaker_state()));
      s.breaker_opens = r->breaker().opens();
      const QueryCounters& c = r->counters();
      s.queries = c.queries;
      s.failures = c.failures;
      s.timeouts = c.timeouts;
      s.short_circuited = c.short_circuited;
      s.latency_ms_sum = c.latency_ms_sum;
      s.latency_count = c.latency_count;
      s.requests = r->guard().requests_sent();
      s.request_errors = r->guard().request_failures();
      s.retries = r->guard().retries_sent();
      s.hedges = r->guard().hedges_sent();
      s.hedges_won = r->guard().hedges_won();
      s.in_flight = r->guard().in_flight();
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const AgencyStats& a, const AgencyStats& b) { return a.agency < b.agency; });
  return out;
}

}  // namespace hfv::adapters
