// Money: an exact amount in integer fen (1 yuan = 100 fen). Parsing and
// formatting use decimal-yuan strings ("1234.56"), the only form money takes
// at the system's edges. No floating point anywhere.
//
// Rounding: the one place the broker divides money is per-capita figures;
// divide_round_half_up() rounds to the nearest fen, halves away from zero.
// Decisions never depend on that rounding: rules compare totals against
// limits multiplied by the household size, which is exact.
// Thread-safety: plain value type.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hfv {

class Money {
 public:
  constexpr Money() = default;
  static constexpr Money from_fen(std::int64_t fen) { return Money(fen); }
  static constexpr Money from_yuan(std::int64_t yuan) { return Money(yuan * 100); }

  // Strict parse of a decimal-yuan string: optional '-', 1..15 integer digits,
  // optional '.' followed by 1 or 2 digits. Nothing else (no spaces, '+',
  // exponents, thousands separators). Returns nullopt on anything else.
  static std::optional<Money> parse(std::string_view text);

  constexpr std::int64_t fen() const { return fen_; }
  // "1234.56", "-0.05", "0.00": always two decimals.
  std::string to_string() const;

  friend constexpr auto operator<=>(Money, Money) = default;
  friend constexpr Money operator+(Money a, Money b) { return Money(a.fen_ + b.fen_); }
  friend constexpr Money operator-(Money a, Money b) { return Money(a.fen_ - b.fen_); }
  constexpr Money& operator+=(Money o) { fen_ += o.fen_; return *this; }
  constexpr Money& operator-=(Money o) { fen_ -= o.fen_; return *this; }
  friend constexpr Money operator*(Money a, std::int64_t k) { return Money(a.fen_ * k); }

  // Nearest fen, halves rounded away from zero. divisor must be > 0.
  Money divide_round_half_up(std::int64_t divisor) const;

 private:
  constexpr explicit Money(std::int64_t fen) : fen_(fen) {}
  std::int64_t fen_ = 0;
};

}  // namespace hfv
