#include "common/text.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace hfv {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";     // U+2026

// The code point starting at s[i] and its length; nullopt when the bytes
// there are not valid UTF-8 (overlong, surrogate, beyond U+10FFFF, cut).
std::optional<std::pair<char32_t, std::size_t>> decode(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  char32_t cp = 0;
  if (lead < 0x80) return std::pair<char32_t, std::size_t>{lead, 1};
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
    cp = lead & 0x1FU;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    cp = lead & 0x0FU;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    cp = lead & 0x07U;
  } else {
    return std::nullopt;
  }
  if (i + n > s.size()) return std::nullopt;
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0U) != 0x80U) return std::nullopt;
    cp = (cp << 6U) | (c & 0x3FU);
  }
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return std::nullopt;
  return std::pair<char32_t, std::size_t>{cp, n};
}

}  // namespace

bool is_unsafe_code_point(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F ||
         cp == 0xFEFF;
}

std::string restricted_text(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  const std::size_t room = max_bytes >= kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  std::size_t kept_until_room = 0;  // out's size when it last fitted within `room`
  for (std::size_t i = 0; i < text.size();) {
    const auto decoded = decode(text, i);
    std::string_view piece;
    if (!decoded) {
      piece = kReplacement;
      ++i;
    } else {
      piece = is_unsafe_code_point(decoded->first) ? kReplacement : text.substr(i, decoded->second);
      i += decoded->second;
    }
    if (out.size() + piece.size() > max_bytes) {
      // Cut: back to the last boundary that leaves room for the ellipsis.
      out.resize(kept_until_room);
      if (max_bytes >= kEllipsis.size()) out += kEllipsis;
      return out;
    }
    out += piece;
    if (out.size() <= room) kept_until_room = out.size();
  }
  return out;
}

}  // namespace hfv
