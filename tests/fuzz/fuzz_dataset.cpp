// libFuzzer target: the agency simulator's dataset loader
// (simulator/dataset.hpp parse_dataset, which also runs each agency's
// validate on its records). A bad dataset throws DatasetError, and nothing
// else may escape.
#include "simulator/dataset.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto dataset = hfv::sim::parse_dataset(hfv::fuzz::as_text(data, size));
    (void)dataset.person_count();
  } catch (const hfv::sim::DatasetError&) {
  }
  return 0;
}
