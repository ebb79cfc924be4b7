#include "common/date.hpp"

#include <cstdio>

namespace hfv {

namespace {
bool parse_digits(std::string_view s, unsigned& out) {
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10U + static_cast<unsigned>(c - '0');
  }
  return !s.empty();
}
}  // namespace

std::optional<Date> Date::from_ymd(int y, unsigned m, unsigned d) {
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m},
                                  std::chrono::day{d}};
  if (!ymd.ok() || y < 1900 || y > 9999) return std::nullopt;
  return Date(ymd);
}

std::optional<Date> Date::parse(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  unsigned y = 0, m = 0, d = 0;
  if (!parse_digits(text.substr(0, 4), y) || !parse_digits(text.substr(5, 2), m) ||
      !parse_digits(text.substr(8, 2), d)) {
    return std::nullopt;
  }
  return from_ymd(static_cast<int>(y), m, d);
}

Date Date::today_utc() {
  const auto now = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  return Date(std::chrono::year_month_day{now});
}

long Date::days_since_epoch() const {
  return static_cast<long>(std::chrono::sys_days{ymd_}.time_since_epoch().count());
}

Date Date::add_months(int n) const {
  auto ym = std::chrono::year_month{ymd_.year(), ymd_.month()} + std::chrono::months{n};
  const auto last = std::chrono::year_month_day_last{ym.year(), std::chrono::month_day_last{ym.month()}};
  const auto day = ymd_.day() > last.day() ? last.day() : ymd_.day();
  return Date(std::chrono::year_month_day{ym.year(), ym.month(), day});
}

Date Date::add_days(long n) const {
  return Date(std::chrono::year_month_day{std::chrono::sys_days{ymd_} + std::chrono::days{n}});
}

std::string Date::to_string() const {
  char buf[16];
  (void)std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", year(), month(), day());
  return buf;
}

}  // namespace hfv
