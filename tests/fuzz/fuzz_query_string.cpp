// libFuzzer target: a request target's query string
// (broker/api/query_string.hpp). Properties: query_value agrees with
// query_params for every key it returned, and a malformed string gives ""
// for every key.
#include <string>

#include "broker/api/query_string.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view target = hfv::fuzz::as_text(data, size);
  const auto params = hfv::broker::query_params(target);
  if (!params) {
    if (!hfv::broker::query_value(target, "from").empty()) __builtin_trap();
    return 0;
  }
  for (const auto& [key, value] : *params) {
    if (hfv::broker::query_value(target, key) != value) __builtin_trap();
  }
  return 0;
}
