// libFuzzer target: the provident_fund agency's answer parser
// (adapters/provident_fund/provident_fund_adapter.hpp parse_page; a single-answer or cursor agency: the page is not an argument). Input: see
// fuzz_input.hpp split_answer. Any answer must give records or an error
// value, never a crash, leak, UB or hang.
#include "adapters/provident_fund/provident_fund_adapter.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = hfv::fuzz::split_answer(hfv::fuzz::as_text(data, size), 0);
  auto page = hfv::adapters::provident_fund::parse_page(in.status, in.body);
  if (page && page->total && *page->total < 0) __builtin_trap();
  return 0;
}
