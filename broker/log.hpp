// Structured logs: one JSON object per line on stderr. Callers pass only
// non-personal fields (never ID numbers, names or key material).
// Thread-safety: log_event may be called from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace hfv::broker {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
void set_log_level(LogLevel level);
void log_event(LogLevel level, std::string_view event, nlohmann::json fields = nlohmann::json::object());

}  // namespace hfv::broker
