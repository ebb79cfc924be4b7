// libFuzzer target: a policy file as the loader checks it
// (policies/policy.hpp parse_policy_file, which load_policy_file calls on
// the file's text). Input: the file's name (its stem must be the
// jurisdiction) on the first line, then the file's text; without a first
// line of at most 32 bytes the name is "230100.json".
#include <filesystem>
#include <string>

#include "policies/policy.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = hfv::fuzz::as_text(data, size);
  std::string name = "230100.json";
  if (const auto nl = text.find('\n'); nl != std::string_view::npos && nl <= 32 && text.substr(0, nl).find('{') == std::string_view::npos) {
    name = std::string(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  auto policy = hfv::policies::parse_policy_file(text, std::filesystem::path("policies") / name);
  if (policy && policy->jurisdiction().size() != 6) __builtin_trap();
  return 0;
}
