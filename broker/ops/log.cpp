#include "broker/ops/log.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <mutex>

#include "common/date.hpp"
#include "common/time.hpp"

namespace hfv::broker {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<std::FILE*> g_stream{nullptr};  // null: stderr
std::mutex g_mutex;

// Field names that hold personal data somewhere in this project.
constexpr std::string_view kPersonalFields[] = {
    "id_number", "name", "member", "members", "case_id", "operator_id", "operator",
    "authorization_id", "verification_id", "request_id", "address", "phone", "subject_cn"};

bool personal_key(std::string_view key) {
  return std::find(std::begin(kPersonalFields), std::end(kPersonalFields), key) != std::end(kPersonalFields);
}

// 17 digits then a digit or X: a GB 11643 resident ID number, anywhere in
// the text.
bool contains_id_number(std::string_view s) {
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      if (++run >= 18) return true;
    } else {
      if (run == 17 && (c == 'X' || c == 'x')) return true;
      run = 0;
    }
  }
  return false;
}

void redact(nlohmann::json& value) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (personal_key(it.key())) {
        it.value() = "[redacted]";
      } else {
        redact(it.value());
      }
    }
  } else if (value.is_array()) {
    for (auto& v : value) redact(v);
  } else if (value.is_string() && contains_id_number(value.get_ref<const std::string&>())) {
    value = "[redacted]";
  }
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return 7;
    case LogLevel::kInfo: return 6;
    case LogLevel::kWarn: return 4;
    case LogLevel::kError: return 3;
  }
  return 6;
}

bool writes_to_journal(std::FILE* stream) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the broker never changes its environment.
  const char* names = std::getenv("JOURNAL_STREAM");
  if (names == nullptr || stream == nullptr) return false;
  const std::string_view text(names);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  unsigned long long device = 0, inode = 0;
  const auto parse = [](std::string_view digits, unsigned long long& out) {
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return ec == std::errc() && end == digits.data() + digits.size();
  };
  if (!parse(text.substr(0, colon), device) || !parse(text.substr(colon + 1), inode)) return false;
  struct stat st {};
  if (::fstat(::fileno(stream), &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == device && static_cast<unsigned long long>(st.st_ino) == inode;
}

void set_log_level(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }
void set_log_stream(std::FILE* stream) { g_stream = stream; }

std::string format_log_line(LogLevel level, std::string_view event, nlohmann::json fields,
                            const std::string& timestamp) {
  if (!fields.is_object()) fields = nlohmann::json::object();
  redact(fields);
  // The three fixed keys come last so a caller's field cannot replace them.
  fields["ts"] = timestamp;
  fields["level"] = log_level_name(level);
  fields["event"] = event;
  return fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void log_event(LogLevel level, std::string_view event, nlohmann::json fields) {
  if (static_cast<int>(level) < g_level) return;
  const std::string line = format_log_line(level, event, std::move(fields), utc_timestamp_now());
  std::FILE* stream = g_stream.load();
  if (stream == nullptr) stream = stderr;
  std::lock_guard lock(g_mutex);
  // Whether the stream is the journal is asked once per stream.
  static std::FILE* checked = nullptr;
  static bool journal = false;
  if (stream != checked) {
    checked = stream;
    journal = writes_to_journal(stream);
  }
  // A log line that cannot be written has nowhere better to go.
  if (journal) {
    (void)std::fprintf(stream, "<%d>%s\n", syslog_priority(level), line.c_str());
  } else {
    (void)std::fprintf(stream, "%s\n", line.c_str());
  }
  (void)std::fflush(stream);
}

}  // namespace hfv::broker
