#include "common/time.hpp"

#include <cstdio>

#include "common/date.hpp"

namespace hfv {

namespace {

constexpr std::int64_t kDay = 86400;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

bool digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// The number written by `n` digits at `pos` (checked by digits() first).
int number(std::string_view s, std::size_t pos, std::size_t n) {
  int value = 0;
  for (std::size_t i = pos; i < pos + n; ++i) value = value * 10 + (s[i] - '0');
  return value;
}

}  // namespace

std::int64_t unix_seconds_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string utc_timestamp(std::chrono::system_clock::time_point t) {
  const auto days = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{std::chrono::floor<std::chrono::milliseconds>(t - days)};
  char buf[64];
  (void)std::snprintf(
      buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ", static_cast<int>(ymd.year()),
      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
      static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
      static_cast<long>(hms.seconds().count()), static_cast<long>(hms.subseconds().count()));
  return buf;
}

std::string utc_timestamp_now() { return utc_timestamp(std::chrono::system_clock::now()); }

std::string format_utc_seconds(std::int64_t unix_seconds) {
  const std::int64_t day = floor_div(unix_seconds, kDay);
  const std::int64_t in_day = unix_seconds - day * kDay;
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  char out[64];
  (void)std::snprintf(out, sizeof out, "%04d-%02u-%02uT%02d:%02d:%02dZ",
                      static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                      static_cast<unsigned>(ymd.day()), static_cast<int>(in_day / 3600),
                      static_cast<int>(in_day % 3600 / 60), static_cast<int>(in_day % 60));
  return out;
}

std::optional<std::int64_t> parse_utc_seconds(std::string_view ts) {
  if (ts.size() < 10 || !digits(ts, 0, 4) || ts[4] != '-' || !digits(ts, 5, 2) || ts[7] != '-' ||
      !digits(ts, 8, 2))
    return std::nullopt;
  auto date = Date::from_ymd(number(ts, 0, 4), static_cast<unsigned>(number(ts, 5, 2)),
                             static_cast<unsigned>(number(ts, 8, 2)));
  if (!date) return std::nullopt;
  std::int64_t seconds = std::int64_t{date->days_since_epoch()} * kDay;
  if (ts.size() == 10) return seconds;
  if (ts[10] != 'T' && ts[10] != ' ') return std::nullopt;
  if (!digits(ts, 11, 2) || ts.size() < 16 || ts[13] != ':' || !digits(ts, 14, 2))
    return std::nullopt;
  const int h = number(ts, 11, 2);
  const int m = number(ts, 14, 2);
  int s = 0;
  std::size_t rest = 16;
  if (ts.size() > 16 && ts[16] == ':') {
    if (!digits(ts, 17, 2)) return std::nullopt;
    s = number(ts, 17, 2);
    rest = 19;
    if (rest < ts.size() && ts[rest] == '.') {
      ++rest;
      while (rest < ts.size() && ts[rest] >= '0' && ts[rest] <= '9') ++rest;
    }
  }
  if (rest < ts.size() && !(ts[rest] == 'Z' && rest + 1 == ts.size())) return std::nullopt;
  if (h > 23 || m > 59 || s > 60) return std::nullopt;
  return seconds + std::int64_t{h} * 3600 + std::int64_t{m} * 60 + s;
}

}  // namespace hfv
