// Where a JSON syntax error is, for messages that name the line and column
// of a configuration or policy file (nlohmann's parse_error gives a byte
// offset only). Header-only, pure functions: thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace hfv {

// "line L, column C" from nlohmann's parse_error::byte (1-based, counted in
// bytes, the offending byte included) over `text`; columns count characters,
// not UTF-8 continuation bytes.
inline std::string json_error_position(std::string_view text, std::size_t byte) {
  const std::size_t end = std::min(byte == 0 ? 0 : byte - 1, text.size());
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// nlohmann's parse_error::what() without its "[json.exception...] parse error
// at ...:" prefix: "syntax error while parsing object - unexpected ...".
inline std::string json_error_reason(std::string_view what) {
  if (auto at = what.find("syntax error"); at != std::string_view::npos) return std::string(what.substr(at));
  if (auto colon = what.find(": "); colon != std::string_view::npos) return std::string(what.substr(colon + 2));
  return std::string(what);
}

// The `field` an error names for a JSON object's member `key`: the key
// itself, or `""` (two quote marks) for a member whose name is empty, since
// an error's field is never empty (a fuzz target found such a body).
inline std::string member_field(std::string_view key) {
  return key.empty() ? std::string("\"\"") : std::string(key);
}

}  // namespace hfv
