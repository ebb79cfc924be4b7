// Text from outside — callers, agencies — before it is shown, logged or
// signed: which characters are unsafe in it, and a restricted copy of text
// the broker keeps rather than refuses (an agency's words).
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hfv {

// Control characters (C0, DEL, C1: a NUL ends a C string downstream, others
// garble logs, CSV and queries), line and paragraph separators,
// bidirectional formatting characters and U+FEFF (they make a name read
// differently from what it is).
bool is_unsafe_code_point(char32_t cp);

// `text` with every unsafe code point and every byte that is not part of
// valid UTF-8 replaced by U+FFFD, cut at a code-point boundary to at most
// `max_bytes` bytes (an ellipsis "…" marks a cut, within the limit).
std::string restricted_text(std::string_view text, std::size_t max_bytes);

}  // namespace hfv
