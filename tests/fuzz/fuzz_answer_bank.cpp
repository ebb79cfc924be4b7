// libFuzzer target: the bank agency's answer parser
// (adapters/bank/bank_adapter.hpp parse_page; pages from 1). Input: see
// fuzz_input.hpp split_answer. Any answer must give records or an error
// value, never a crash, leak, UB or hang.
#include "adapters/bank/bank_adapter.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = hfv::fuzz::split_answer(hfv::fuzz::as_text(data, size), 1);
  auto page = hfv::adapters::bank::parse_page(in.status, in.body, in.page);
  if (page && page->total && *page->total < 0) __builtin_trap();
  return 0;
}
