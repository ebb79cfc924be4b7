// libFuzzer target: the hukou agency's answer parser
// (adapters/hukou/hukou_adapter.hpp parse_page; a single-answer or cursor agency: the page is not an argument). Input: see
// fuzz_input.hpp split_answer. Any answer must give records or an error
// value, never a crash, leak, UB or hang.
#include "adapters/hukou/hukou_adapter.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = hfv::fuzz::split_answer(hfv::fuzz::as_text(data, size), 0);
  auto page = hfv::adapters::hukou::parse_page(in.status, in.body);
  if (page && page->total && *page->total < 0) __builtin_trap();
  return 0;
}
