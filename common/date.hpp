// Date: a civil calendar date (proleptic Gregorian), parsed strictly from
// "YYYY-MM-DD". Used for reference dates, effective dates of parameters,
// authorisation validity and review dates. Thread-safety: plain value type.
#pragma once

#include <chrono>
#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace hfv {

class Date {
 public:
  Date() = default;
  // Returns nullopt unless text is exactly YYYY-MM-DD and names a real day
  // between 1900-01-01 and 9999-12-31.
  static std::optional<Date> parse(std::string_view text);
  // Returns nullopt unless y/m/d names a real day.
  static std::optional<Date> from_ymd(int y, unsigned m, unsigned d);
  static Date today_utc();

  int year() const { return static_cast<int>(ymd_.year()); }
  unsigned month() const { return static_cast<unsigned>(ymd_.month()); }
  unsigned day() const { return static_cast<unsigned>(ymd_.day()); }
  // Days since 1970-01-01.
  long days_since_epoch() const;
  // Same day n months later; the day is clamped to the month's last day.
  Date add_months(int n) const;
  // The day n days later (n may be negative).
  Date add_days(long n) const;
  std::string to_string() const;

  friend bool operator==(const Date&, const Date&) = default;
  friend std::strong_ordering operator<=>(const Date& a, const Date& b) {
    return a.days_since_epoch() <=> b.days_since_epoch();
  }

 private:
  explicit Date(std::chrono::year_month_day ymd) : ymd_(ymd) {}
  std::chrono::year_month_day ymd_{std::chrono::year{1970}, std::chrono::month{1},
                                   std::chrono::day{1}};
};

}  // namespace hfv
