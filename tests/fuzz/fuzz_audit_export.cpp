// libFuzzer target: the offline verifier of a signed audit export
// (audit/export.hpp verify_export), with the public key of the log that
// signed the seed exports (audit_export_key.hpp, from tests/fuzz/make-seeds),
// so that mutations get past the signature checks' framing. Any text must
// give a report or a "bad_export" error, never a crash, leak, UB or hang;
// a report that says ok names no problem.
#include "audit/export.hpp"
#include "tests/fuzz/audit_export_key.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto report = hfv::audit::verify_export(hfv::fuzz::as_text(data, size), hfv::fuzz::kExportKey);
  if (report && report->ok && !report->problem.empty()) __builtin_trap();
  return 0;
}
