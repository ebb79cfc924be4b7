// The "anomalies" section of the daemon configuration: thresholds and
// working hours of the supervisors' anomaly flags (broker/supervision/
// anomalies.hpp reads them; docs/configuration.md and docs/console.md).
// Parsed once with the rest of the configuration (broker/ops/config.hpp).
// Thread-safety: a plain value and a pure function.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hfv::broker {

// Thresholds and working hours ("anomalies" object in the configuration,
// docs/configuration.md and docs/console.md).
struct AnomalyRules {
  int utc_offset_minutes = 480;    // local time of the centre: China Standard Time
  int work_start_minute = 8 * 60;  // local minutes after midnight, inclusive
  int work_end_minute = 18 * 60;   // exclusive
  std::vector<unsigned> work_days = {1, 2, 3, 4, 5};  // ISO weekdays, 1 = Monday
  std::vector<std::string> holidays;  // local dates YYYY-MM-DD that are not working days
  int repeat_cases = 3;
  int volume_baseline_days = 28;
  double volume_factor = 3.0;
  int volume_min = 20;
  int refusals_min = 5;
  // Explicit operator-relative links (format in docs/console.md); empty: none.
  std::filesystem::path relations_file;
};

// Parses the "anomalies" configuration object; relative paths against `base`.
// The error names the key at fault.
Result<AnomalyRules> parse_anomaly_rules(const nlohmann::json& object,
                                         const std::filesystem::path& base);

}  // namespace hfv::broker
