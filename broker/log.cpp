#include "broker/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "common/date.hpp"

namespace hfv::broker {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mutex;
const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}
}  // namespace

void set_log_level(LogLevel level) { g_level = static_cast<int>(level); }

void log_event(LogLevel level, std::string_view event, nlohmann::json fields) {
  if (static_cast<int>(level) < g_level) return;
  if (!fields.is_object()) fields = nlohmann::json::object();
  fields["ts"] = utc_timestamp_now();
  fields["level"] = level_name(level);
  fields["event"] = event;
  const std::string line = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace hfv::broker
