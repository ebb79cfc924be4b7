// The C2SP formats (audit/checkpoint.hpp) against the specifications'
// examples, and the witness's add-checkpoint checks (witness/witness.hpp)
// without a socket.
#include <catch2/catch.hpp>

#include <array>
#include <filesystem>
#include <fstream>

#include "audit/checkpoint.hpp"
#include "audit/merkle.hpp"
#include "crypto/ed25519.hpp"
#include "witness/witness.hpp"

namespace {

using namespace hfv;
namespace note = hfv::audit::note;
using audit::merkle::Hash;

crypto::Ed25519Signer seeded(std::uint8_t fill) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(fill);
  return crypto::Ed25519Signer::from_seed(seed);
}

std::vector<Hash> leaves(std::size_t n) {
  std::vector<Hash> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(audit::merkle::leaf_hash("leaf " + std::to_string(i)));
  return out;
}

// The checkpoint note a log with `key` signs for the first n of `all`.
std::string log_note(const crypto::Ed25519Signer& key, const std::string& origin,
                     const std::vector<Hash>& all, std::size_t n) {
  return audit::signed_checkpoint(
      key, audit::Checkpoint{origin, n, audit::merkle::root(std::span(all).first(n)), {}});
}

std::filesystem::path scratch(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("hfv-witness-unit-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("signed-note: the specification's example verifies with its vkey", "[witness][note]") {
  auto key = note::parse_vkey("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
  REQUIRE(key);
  CHECK(key->name == "example.com/foo");
  CHECK(key->key_id == 0x530d903au);
  CHECK(note::vkey_text(*key) == "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
  const std::string text =
      "This is an example message.\n\n"
      "\xE2\x80\x94 example.com/foo "
      "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
  auto parsed = note::parse_note(text);
  REQUIRE(parsed);
  CHECK(parsed->text == "This is an example message.\n");
  const note::Verifier trusted[] = {*key};
  auto verified = note::verify_note(*parsed, trusted);
  REQUIRE(verified);
  CHECK(verified->size() == 1);

  // One changed byte of text: the known key's signature fails the note.
  auto tampered = note::parse_note("This is an example message!" + text.substr(27));
  REQUIRE(tampered);
  auto refused = note::verify_note(*tampered, trusted);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == "bad_signature");
}

TEST_CASE("signed-note: vkeys whose id, type or form is wrong are refused", "[witness][note]") {
  CHECK_FALSE(note::parse_vkey("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"));
  CHECK_FALSE(note::parse_vkey("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"));
  CHECK_FALSE(note::parse_vkey("example.com/foo+530d903a"));
  CHECK_FALSE(note::parse_vkey("example.com foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"));
  CHECK_FALSE(note::parse_vkey("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k+x"));
  // A key whose base64 holds '+' (only the first two pluses separate).
  for (std::uint8_t fill = 0; fill < 64; ++fill) {
    auto k = note::make_verifier("a.example/k", note::KeyType::kEd25519, seeded(fill).public_key());
    const std::string text = note::vkey_text(k);
    auto back = note::parse_vkey(text);
    INFO(text);
    REQUIRE(back);
    CHECK(back->key == k.key);
  }
  // Type 0x02 (ECDSA) is not one this broker verifies.
  auto signer = seeded(3);
  auto v = note::make_verifier("a.example/x", note::KeyType::kEd25519, signer.public_key());
  std::string text = note::vkey_text(v);
  CHECK(note::parse_vkey(text));
  auto cos = note::make_verifier("a.example/x", note::KeyType::kCosignatureV1, signer.public_key());
  CHECK(cos.key_id != v.key_id);  // the type byte is in the key id
  auto back = note::parse_vkey(note::vkey_text(cos));
  REQUIRE(back);
  CHECK(back->type == note::KeyType::kCosignatureV1);
}

TEST_CASE("signed-note: malformed notes are refused", "[witness][note]") {
  const std::string sig = "\xE2\x80\x94 a.example/x AAAAAAAA\n";
  CHECK(note::parse_note("text\n\n" + sig));
  CHECK_FALSE(note::parse_note("text\n" + sig));                 // no blank line
  CHECK_FALSE(note::parse_note("text\n\n"));                      // no signature
  CHECK_FALSE(note::parse_note("te\txt\n\n" + sig));              // control character
  CHECK_FALSE(note::parse_note("text\n\n- a.example/x AAAAAAAA\n"));  // not an em dash
  CHECK_FALSE(note::parse_note("text\n\n\xE2\x80\x94 a.example/x AAAA\n"));  // under 5 bytes
  CHECK_FALSE(note::parse_note("text\n\n\xE2\x80\x94 a.example/x AAAAAAAA"));  // no final newline
  CHECK_FALSE(note::parse_note("text\n\n\xE2\x80\x94 a+b AAAAAAAA\n"));  // plus in the name
  CHECK_FALSE(note::parse_note("t\xC0\xAFxt\n\n" + sig));         // overlong UTF-8
  // The last blank line separates: the text may hold empty lines.
  auto multi = note::parse_note("a\n\nb\n\n" + sig);
  REQUIRE(multi);
  CHECK(multi->text == "a\n\nb\n");
}

TEST_CASE("tlog-witness: the specification's request body and cosignature parse", "[witness][note]") {
  const std::string body =
      "old 20852014\n"
      "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
      "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
      "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
      "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
      "\n"
      "example.com/behind-the-sofa\n"
      "20852163\n"
      "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
      "\n"
      "\xE2\x80\x94 example.com/behind-the-sofa "
      "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
      "\xE2\x80\x94 witness.example.com/w1 "
      "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
  auto request = audit::parse_add_checkpoint(body);
  REQUIRE(request);
  CHECK(request->old_size == 20852014u);
  CHECK(request->proof.size() == 4);
  auto parsed = note::parse_note(request->checkpoint_note);
  REQUIRE(parsed);
  REQUIRE(parsed->signatures.size() == 2);
  auto checkpoint = audit::parse_checkpoint(parsed->text);
  REQUIRE(checkpoint);
  CHECK(checkpoint->origin == "example.com/behind-the-sofa");
  CHECK(checkpoint->size == 20852163u);
  CHECK(audit::checkpoint_text(*checkpoint) == parsed->text);
  // The cosignature example of tlog-cosignature: its timestamp is the
  // "time 1679315147" of the signed message shown there.
  const auto& cosig = parsed->signatures[1].signature;
  REQUIRE(cosig.size() == 72);
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < 8; ++i) t = (t << 8) | cosig[i];
  CHECK(t == 1679315147u);
  CHECK(note::cosignature_message(parsed->text, t) ==
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
  CHECK(audit::add_checkpoint_body(request->old_size, request->proof, request->checkpoint_note) == body);
}

TEST_CASE("checkpoint: malformed checkpoints and request bodies are refused", "[witness][note]") {
  const std::string root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
  CHECK(audit::parse_checkpoint("o.example/l\n5\n" + root + "\n"));
  CHECK(audit::parse_checkpoint("o.example/l\n5\n" + root + "\next\n"));
  CHECK_FALSE(audit::parse_checkpoint("o.example/l\n5\n" + root + "\n\n"));   // empty extension line
  CHECK_FALSE(audit::parse_checkpoint("o.example/l\n05\n" + root + "\n"));    // leading zero
  CHECK_FALSE(audit::parse_checkpoint("o.example/l\n-5\n" + root + "\n"));
  CHECK_FALSE(audit::parse_checkpoint("o.example/l\n5\n" + root.substr(4) + "\n"));  // short root
  CHECK_FALSE(audit::parse_checkpoint("\n5\n" + root + "\n"));
  CHECK_FALSE(audit::parse_checkpoint("o.example/l\n5\n"));
  CHECK_FALSE(audit::parse_add_checkpoint("old 01\n\nx"));
  CHECK_FALSE(audit::parse_add_checkpoint("new 1\n\nx"));
  CHECK_FALSE(audit::parse_add_checkpoint("old 1\nnot-base64\n\nx"));
  CHECK_FALSE(audit::parse_add_checkpoint("old 1\n" + root));
  std::string many = "old 1\n";
  for (int i = 0; i < 64; ++i) many += root + "\n";
  CHECK_FALSE(audit::parse_add_checkpoint(many + "\nx"));
  CHECK_FALSE(note::base64_decode("QQ=="  "x"));
  CHECK_FALSE(note::base64_decode("QR=="));  // non-zero bits under the padding
  CHECK(note::base64_decode("QQ==") == crypto::Bytes{'A'});
  CHECK_FALSE(audit::valid_origin("hfv-audit-sth/v2"));
  CHECK(audit::valid_origin("hfv.example/harbin/audit"));
}

TEST_CASE("cosignature: a witness's cosignature verifies and binds the checkpoint and time", "[witness][note]") {
  auto log_key = seeded(1);
  auto witness_key = seeded(2);
  const auto all = leaves(5);
  const std::string signed_note = log_note(log_key, "hfv.example/log", all, 5);
  auto parsed = note::parse_note(signed_note);
  REQUIRE(parsed);
  const std::string line = note::cosign(witness_key, "w.example/w", parsed->text, 1700000000);
  auto with_cosig = note::parse_note(signed_note + line);
  REQUIRE(with_cosig);
  const note::Verifier witness_only[] = {
      note::make_verifier("w.example/w", note::KeyType::kCosignatureV1, witness_key.public_key())};
  auto ok = note::verify_note(*with_cosig, witness_only);
  REQUIRE(ok);
  REQUIRE(ok->size() == 1);
  CHECK((*ok)[0].timestamp == 1700000000u);
  // The same signature over another checkpoint does not verify.
  const std::string other = log_note(log_key, "hfv.example/log", all, 4);
  auto moved = note::parse_note(other + line);
  REQUIRE(moved);
  CHECK(note::verify_note(*moved, witness_only).error().code == "bad_signature");
  // A key with the same name but another type is not this key.
  const note::Verifier as_log_key[] = {
      note::make_verifier("w.example/w", note::KeyType::kEd25519, witness_key.public_key())};
  CHECK(note::verify_note(*with_cosig, as_log_key).error().code == "no_trusted_signature");
}

TEST_CASE("witness: cosigns consistent checkpoints only, as tlog-witness answers", "[witness]") {
  const auto dir = scratch("answers");
  auto log_key = seeded(1);
  const std::string origin = "hfv.example/log";
  std::vector<witness::WitnessedLog> logs = {
      {origin, note::make_verifier(origin, note::KeyType::kEd25519, log_key.public_key()), {}}};
  auto w = witness::Witness::open("w.example/w", seeded(2), logs, dir / "state.json");
  REQUIRE(w);
  const auto all = leaves(20);
  auto add = [&](std::uint64_t old_size, std::size_t n, std::vector<Hash> proof) {
    return w->add_checkpoint(audit::add_checkpoint_body(old_size, proof, log_note(log_key, origin, all, n)),
                             1700000000);
  };

  // First checkpoint: old 0, no proof.
  auto first = add(0, 5, {});
  REQUIRE(first.status == 200);
  auto cosigned = note::parse_note(log_note(log_key, origin, all, 5) + first.body);
  REQUIRE(cosigned);
  const note::Verifier mine[] = {w->verifier()};
  CHECK(note::verify_note(*cosigned, mine));

  // A stale old size: 409 with the latest size.
  auto stale = add(0, 8, {});
  CHECK(stale.status == 409);
  CHECK(stale.content_type == "text/x.tlog.size");
  CHECK(stale.body == "5\n");
  // A smaller tree than the one seen: the old size cannot be 5 (400).
  CHECK(add(5, 4, {}).status == 400);
  // A bad proof: 422.
  auto good_proof = audit::merkle::consistency_proof(std::span(all).first(8), 5);
  auto bad_proof = good_proof;
  bad_proof[0][0] ^= 1;
  CHECK(add(5, 8, bad_proof).status == 422);
  CHECK(add(5, 8, {}).status == 422);
  // The same size with another root: 422.
  auto other_leaves = leaves(5);
  other_leaves[4] = audit::merkle::leaf_hash("forked");
  CHECK(w->add_checkpoint(audit::add_checkpoint_body(5, {}, log_note(log_key, origin, other_leaves, 5)), 1).status ==
        422);
  // Unknown origin: 404; another key: 403.
  CHECK(w->add_checkpoint(audit::add_checkpoint_body(0, {}, log_note(log_key, "other.example/log", all, 5)), 1)
            .status == 404);
  auto stranger = seeded(9);
  CHECK(w->add_checkpoint(audit::add_checkpoint_body(5, good_proof, log_note(stranger, origin, all, 8)), 1)
            .status == 403);
  CHECK(w->add_checkpoint("old 5\n", 1).status == 400);

  // The good proof: 200, and the latest checkpoint is served.
  REQUIRE(add(5, 8, good_proof).status == 200);
  auto latest = w->latest(audit::origin_hash(origin));
  REQUIRE(latest.status == 200);
  auto served = note::parse_note(latest.body);
  REQUIRE(served);
  CHECK(audit::parse_checkpoint(served->text)->size == 8u);
  CHECK(w->latest(audit::origin_hash("other.example/log")).status == 404);

  // The state survives a restart: the reopened witness still wants old 8.
  auto reopened = witness::Witness::open("w.example/w", seeded(2), logs, dir / "state.json");
  REQUIRE(reopened);
  auto after = reopened->add_checkpoint(audit::add_checkpoint_body(0, {}, log_note(log_key, origin, all, 9)), 1);
  CHECK(after.status == 409);
  CHECK(after.body == "8\n");
  std::filesystem::remove_all(dir);
}

TEST_CASE("witness: a malformed configuration or state file is refused", "[witness]") {
  const auto dir = scratch("config");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  auto log_key = seeded(1);
  const std::string vkey =
      note::vkey_text(note::make_verifier("hfv.example/log", note::KeyType::kEd25519, log_key.public_key()));
  auto good = witness::load_witness_config(write(
      "good.json", R"({"name": "w.example/w", "key_file": "k.pem", "state_file": "s.json",
                      "listen": "127.0.0.1:0", "logs": [{"origin": "hfv.example/log", "vkey": ")" +
                       vkey + R"("}]})"));
  REQUIRE(good);
  CHECK(good->key_file == dir / "k.pem");
  CHECK(good->logs.size() == 1);
  auto wrong_name = witness::load_witness_config(write(
      "bad.json", R"({"name": "w.example/w", "key_file": "k.pem", "state_file": "s.json",
                     "logs": [{"origin": "hfv.example/other", "vkey": ")" + vkey + R"("}]})"));
  REQUIRE_FALSE(wrong_name);
  CHECK(wrong_name.error().message.find("logs[0].vkey") != std::string::npos);
  auto unknown = witness::load_witness_config(write("unknown.json", R"({"name": "w", "extra": 1})"));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("extra") != std::string::npos);
  write("state.json", "{not json");
  auto broken = witness::Witness::open("w.example/w", seeded(2), good->logs, dir / "state.json");
  REQUIRE_FALSE(broken);
  CHECK(broken.error().code == "bad_state");
  std::filesystem::remove_all(dir);
}

TEST_CASE("witness: a log that rotated its signing key is cosigned under any of its vkeys, consistently",
          "[witness][keys]") {
  const auto dir = scratch("vkeys");
  const std::string origin = "hfv.example/log";
  auto old_key = seeded(1);
  auto new_key = seeded(3);
  const std::string old_vkey =
      note::vkey_text(note::make_verifier(origin, note::KeyType::kEd25519, old_key.public_key()));
  const std::string new_vkey =
      note::vkey_text(note::make_verifier(origin, note::KeyType::kEd25519, new_key.public_key()));
  std::ofstream(dir / "w.json") << R"({"name": "w.example/w", "key_file": "k.pem", "state_file": "s.json",
      "listen": "127.0.0.1:0", "logs": [{"origin": ")" + origin + R"(", "vkeys": [")" + new_vkey + R"(", ")" +
                                       old_vkey + R"("]}]})";
  auto config = witness::load_witness_config(dir / "w.json");
  INFO((config ? std::string() : config.error().message));
  REQUIRE(config);
  REQUIRE(config->logs.size() == 1);
  CHECK(config->logs[0].other_keys.size() == 1);
  // "vkey" and "vkeys" together, or an empty list: refused.
  std::ofstream(dir / "both.json") << R"({"name": "w.example/w", "key_file": "k.pem", "state_file": "s.json",
      "logs": [{"origin": ")" + origin + R"(", "vkey": ")" + old_vkey + R"(", "vkeys": []}]})";
  CHECK_FALSE(witness::load_witness_config(dir / "both.json"));

  auto w = witness::Witness::open("w.example/w", seeded(2), config->logs, dir / "state.json");
  REQUIRE(w);
  const auto all = leaves(12);
  // Before the rotation, the old key's checkpoint of 5; after it, the new
  // key's checkpoint of 9, consistent with it.
  CHECK(w->add_checkpoint(audit::add_checkpoint_body(0, {}, log_note(old_key, origin, all, 5)), 1700000000).status ==
        200);
  auto proof = audit::merkle::consistency_proof(std::span(all).first(9), 5);
  CHECK(w->add_checkpoint(audit::add_checkpoint_body(5, proof, log_note(new_key, origin, all, 9)), 1700000001)
            .status == 200);
  // Still no fork, whichever key signs: another tree of 9 is refused.
  auto other = leaves(12);
  other[8] = audit::merkle::leaf_hash("forked");
  CHECK(w->add_checkpoint(audit::add_checkpoint_body(9, {}, log_note(new_key, origin, other, 9)), 1700000002).status ==
        422);
  // A key that is not listed: 403.
  CHECK(w->add_checkpoint(audit::add_checkpoint_body(9, {}, log_note(seeded(4), origin, all, 9)), 1700000003).status ==
        403);
  std::filesystem::remove_all(dir);
}
