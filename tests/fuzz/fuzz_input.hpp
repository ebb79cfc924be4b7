// Helpers shared by the libFuzzer targets in tests/fuzz: the bytes as a
// string_view, and the agency answers' input shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hfv::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// An agency answer as a fuzz input: an optional first line "<status> <page>"
// (decimal; status 0-999, page 0-1000, the page the adapter asked for), then
// the body. Without that line the input is all body, status 200, the first page.
struct AnswerInput {
  long status = 200;
  long page = 0;
  std::string_view body;
};

inline AnswerInput split_answer(std::string_view text, long first_page) {
  AnswerInput in{200, first_page, text};
  const auto nl = text.find('\n');
  if (nl == std::string_view::npos || nl > 16) return in;
  const std::string_view head = text.substr(0, nl);
  long numbers[2] = {0, 0};
  int n = 0;
  bool digits = false;
  for (const char c : head) {
    if (c >= '0' && c <= '9') {
      if (n > 1) return in;
      numbers[n] = numbers[n] * 10 + (c - '0');
      if (numbers[n] > 100000) return in;
      digits = true;
    } else if (c == ' ' && digits) {
      ++n;
      digits = false;
    } else {
      return in;
    }
  }
  if (!digits || numbers[0] > 999 || numbers[1] > 1000) return in;
  in.status = numbers[0];
  if (n == 1) in.page = numbers[1];
  in.body = text.substr(nl + 1);
  return in;
}

}  // namespace hfv::fuzz
