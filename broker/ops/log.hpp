// Structured logs: one JSON object per line on stderr (journald keeps them
// under systemd): {"ts", "level", "event", ...fields}. Callers pass only
// non-personal fields; as a second line of defence log_event replaces the
// value of any field whose name is personal (kPersonalFields: ID numbers,
// names, case, operator, authorisation and verification ids) and any string
// that looks like an 18-character resident ID number with "[redacted]".
// The level comes from the config key "log_level" (docs/configuration.md).
// When the stream is the systemd journal (JOURNAL_STREAM names its device
// and inode, systemd.exec(5)) each line starts with its syslog priority
// "<N>" (error 3, warn 4, info 6, debug 7), which journald takes as the
// entry's priority and strips (SyslogLevelPrefix=, on by default), so
// `journalctl -p err` finds the errors; anywhere else lines are plain JSON.
// Thread-safety: every function may be called from any thread.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace hfv::broker {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
// "debug" | "info" | "warn" | "error"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);
std::string_view log_level_name(LogLevel level);

void set_log_level(LogLevel level);
LogLevel log_level();
// Where lines go (default stderr); for tests. The stream is not closed.
void set_log_stream(std::FILE* stream);

void log_event(LogLevel level, std::string_view event, nlohmann::json fields = nlohmann::json::object());

// The syslog priority of a level (error 3, warn 4, info 6, debug 7).
int syslog_priority(LogLevel level);
// Whether `stream` is the journal's stream, per the JOURNAL_STREAM
// environment variable ("device:inode", decimal) systemd sets.
bool writes_to_journal(std::FILE* stream);

// The line log_event writes (without the newline), with redaction applied.
std::string format_log_line(LogLevel level, std::string_view event, nlohmann::json fields,
                            const std::string& timestamp);

}  // namespace hfv::broker
