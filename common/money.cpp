#include "common/money.hpp"

#include <cassert>
#include <cstdlib>

namespace hfv {

std::optional<Money> Money::parse(std::string_view text) {
  bool negative = false;
  std::size_t i = 0;
  if (i < text.size() && text[i] == '-') {
    negative = true;
    ++i;
  }
  std::int64_t yuan = 0;
  std::size_t int_digits = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (++int_digits > 15) return std::nullopt;
    yuan = yuan * 10 + (text[i] - '0');
    ++i;
  }
  if (int_digits == 0) return std::nullopt;
  std::int64_t fraction = 0;
  if (i < text.size()) {
    if (text[i] != '.') return std::nullopt;
    ++i;
    std::size_t frac_digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (++frac_digits > 2) return std::nullopt;
      fraction = fraction * 10 + (text[i] - '0');
      ++i;
    }
    if (frac_digits == 0 || i != text.size()) return std::nullopt;
    if (frac_digits == 1) fraction *= 10;
  }
  std::int64_t fen = yuan * 100 + fraction;
  return Money::from_fen(negative ? -fen : fen);
}

std::string Money::to_string() const {
  // Work in unsigned magnitude so INT64_MIN cannot overflow.
  const bool negative = fen_ < 0;
  const std::uint64_t magnitude = negative ? (~static_cast<std::uint64_t>(fen_) + 1U)
                                           : static_cast<std::uint64_t>(fen_);
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / 100U);
  out += '.';
  const auto cents = static_cast<unsigned>(magnitude % 100U);
  out += static_cast<char>('0' + cents / 10U);
  out += static_cast<char>('0' + cents % 10U);
  return out;
}

Money Money::divide_round_half_up(std::int64_t divisor) const {
  assert(divisor > 0);
  const std::int64_t q = fen_ / divisor;
  const std::int64_t r = fen_ % divisor;  // same sign as fen_
  const std::int64_t twice = (r < 0 ? -r : r) * 2;
  if (twice >= divisor) return Money(fen_ < 0 ? q - 1 : q + 1);
  return Money(q);
}

}  // namespace hfv
