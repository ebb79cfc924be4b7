// libFuzzer target: a published signing-key history of the audit log
// (audit/key_history.hpp), as `brokerctl audit check-key-history` and
// `audit verify --history` read it from a file or a URL: JSON, then the
// chain of cross-signed key transitions checked from its first key.
// Properties: a history accepted, written back and read again, is accepted
// and the same; every transition of an accepted chain verifies, its old key
// the key before it; the chain also holds from each of its keys.
#include <nlohmann/json.hpp>
#include <string>

#include "audit/key_history.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nlohmann::json doc = nlohmann::json::parse(hfv::fuzz::as_text(data, size), nullptr, false);
  if (doc.is_discarded()) return 0;
  auto history = hfv::audit::key_history_from_json(doc);
  if (!history) return 0;
  const nlohmann::json written = hfv::audit::key_history_json(*history);
  auto again = hfv::audit::key_history_from_json(written);
  if (!again || hfv::audit::key_history_json(*again) != written) __builtin_trap();
  const auto keys = history->keys();
  if (keys.size() != history->transitions.size() + 1) __builtin_trap();
  for (std::size_t i = 0; i < history->transitions.size(); ++i) {
    const auto& t = history->transitions[i];
    if (t.old_key != keys[i] || !hfv::audit::verify_key_transition(t)) __builtin_trap();
  }
  for (const auto& key : keys) {
    if (!hfv::audit::key_history_from(key, *history)) __builtin_trap();
  }
  return 0;
}
