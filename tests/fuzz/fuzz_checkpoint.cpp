// libFuzzer target: the C2SP formats a witness and the broker read from the
// network (audit/checkpoint.hpp): a tlog-witness add-checkpoint body, the
// signed note inside it, its checkpoint text, the log's signature checked
// against a fixed key (checkpoint_key.hpp), and the consistency proof, in the
// order hfv-witness runs them (witness/witness.cpp add_checkpoint); the whole
// input also as a signed note (a witness's answer, a cosigned file's entry)
// and as a verifier key.
// Properties: what each parser accepts, written back, is the input byte for
// byte (the formats are canonical); a note the log key verifies names the log.
#include <string>

#include "audit/checkpoint.hpp"
#include "audit/merkle.hpp"
#include "crypto/ed25519.hpp"
#include "tests/fuzz/checkpoint_key.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

namespace note = hfv::audit::note;

const note::Verifier& log_verifier() {
  static const note::Verifier v = note::make_verifier(
      std::string(hfv::fuzz::kLogOrigin), note::KeyType::kEd25519,
      hfv::crypto::Ed25519Signer::from_seed(hfv::fuzz::kLogSeed).public_key());
  return v;
}

const note::Verifier& witness_verifier() {
  static const note::Verifier v = note::make_verifier(
      std::string(hfv::fuzz::kWitnessName), note::KeyType::kCosignatureV1,
      hfv::crypto::Ed25519Signer::from_seed(hfv::fuzz::kWitnessSeed).public_key());
  return v;
}

// A signed note: parse, write back, check the signatures.
void signed_note(std::string_view text) {
  auto parsed = note::parse_note(text);
  if (!parsed) return;
  if (note::note_text_with_signatures(*parsed) != text) __builtin_trap();
  const note::Verifier trusted[] = {log_verifier(), witness_verifier()};
  auto verified = note::verify_note(*parsed, trusted);
  if (verified) {
    if (verified->empty()) __builtin_trap();
    for (const auto& v : *verified) {
      if (v.name != log_verifier().name && v.name != witness_verifier().name) __builtin_trap();
    }
  }
  auto checkpoint = hfv::audit::parse_checkpoint(parsed->text);
  if (checkpoint && hfv::audit::checkpoint_text(*checkpoint) != parsed->text) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = hfv::fuzz::as_text(data, size);

  // As hfv-witness reads a POST /add-checkpoint.
  if (auto request = hfv::audit::parse_add_checkpoint(body)) {
    if (request->proof.size() > hfv::audit::kMaxProofLines) __builtin_trap();
    if (hfv::audit::add_checkpoint_body(request->old_size, request->proof, request->checkpoint_note) != body) {
      __builtin_trap();
    }
    signed_note(request->checkpoint_note);
    if (auto parsed = note::parse_note(request->checkpoint_note)) {
      if (auto checkpoint = hfv::audit::parse_checkpoint(parsed->text);
          checkpoint && request->old_size > 0 && request->old_size <= checkpoint->size) {
        // The witness checks the proof against the root it cosigned last;
        // here, the first proof hash stands in for it.
        const auto old_root = request->proof.empty() ? checkpoint->root : request->proof.front();
        (void)hfv::audit::merkle::verify_consistency(request->old_size, checkpoint->size, old_root,
                                                     checkpoint->root, request->proof);
      }
    }
  }

  // As a signed note on its own (a witness's cosignature answer, a stored one).
  signed_note(body);

  // As a verifier key (configuration: a witness's or a log's vkey).
  if (auto vkey = note::parse_vkey(body)) {
    auto again = note::parse_vkey(note::vkey_text(*vkey));
    if (!again || again->key_id != vkey->key_id || again->name != vkey->name || again->key != vkey->key) {
      __builtin_trap();
    }
  }
  return 0;
}
