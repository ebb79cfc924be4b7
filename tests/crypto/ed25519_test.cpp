#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/files.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/hash.hpp"
#include "crypto/keys.hpp"

using namespace hfv::crypto;
using hfv::write_new_file;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("hfv-ed25519-test-" + to_hex(random_bytes(8)))) {
    fs::create_directory(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

template <std::size_t N>
std::array<std::uint8_t, N> fixed(std::string_view hex) {
  auto b = from_hex(hex);
  REQUIRE(b.has_value());
  REQUIRE(b->size() == N);
  std::array<std::uint8_t, N> out{};
  std::copy(b->begin(), b->end(), out.begin());
  return out;
}

}  // namespace

TEST_CASE("crypto: ed25519_verify accepts RFC 8032 test 1 and rejects tampering",
          "[crypto][ed25519]") {
  const auto pk = fixed<32>("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto sig = fixed<64>(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf"
      "9b46bd25bf5f0595bbe24655141438e7a100b");
  CHECK(ed25519_verify(pk, "", sig));
  CHECK_FALSE(ed25519_verify(pk, "x", sig));
  sig[10] ^= 0x01;
  CHECK_FALSE(ed25519_verify(pk, "", sig));
}

TEST_CASE("crypto: Ed25519 key file: create, load, sign, verify", "[crypto][ed25519]") {
  TempDir dir;
  const fs::path path = dir.path() / "signing.key";
  REQUIRE(create_ed25519_key_file(path).ok());
  CHECK((fs::status(path).permissions() & fs::perms::mask) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  const std::string pem = slurp(path);
  CHECK(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0);

  const auto again = create_ed25519_key_file(path);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == "exists");
  CHECK(slurp(path) == pem);

  auto signer = Ed25519Signer::load(path);
  REQUIRE(signer.ok());

  const std::string message = "report 2024-001: income verified";
  const Ed25519Signature sig = signer->sign(message);
  CHECK(ed25519_verify(signer->public_key(), message, sig));
  CHECK(signer->sign(message) == sig);  // Ed25519 is deterministic
  CHECK(ed25519_verify(signer->public_key(), "", signer->sign("")));

  std::string tampered = message;
  tampered[0] ^= 0x01;
  CHECK_FALSE(ed25519_verify(signer->public_key(), tampered, sig));

  for (std::size_t i : {std::size_t{0}, std::size_t{31}, std::size_t{32}, std::size_t{63}}) {
    Ed25519Signature bad = sig;
    bad[i] ^= 0x80;
    CHECK_FALSE(ed25519_verify(signer->public_key(), message, bad));
  }
  CHECK_FALSE(
      ed25519_verify(signer->public_key(), message, std::span<const std::uint8_t>(sig).first(63)));

  Ed25519PublicKey other_key = signer->public_key();
  other_key[0] ^= 0x01;
  CHECK_FALSE(ed25519_verify(other_key, message, sig));

  // A second load of the same file yields the same key; a moved signer still works.
  auto reloaded = Ed25519Signer::load(path);
  REQUIRE(reloaded.ok());
  CHECK(reloaded->public_key() == signer->public_key());
  Ed25519Signer moved = std::move(reloaded).value();
  CHECK(ed25519_verify(moved.public_key(), message, moved.sign(message)));
}

TEST_CASE("crypto: public_key_pem round-trips", "[crypto][ed25519]") {
  TempDir dir;
  const fs::path path = dir.path() / "signing.key";
  REQUIRE(create_ed25519_key_file(path).ok());
  auto signer = Ed25519Signer::load(path);
  REQUIRE(signer.ok());
  const std::string pem = signer->public_key_pem();
  CHECK(pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0) == 0);
  auto parsed = ed25519_public_key_from_pem(pem);
  REQUIRE(parsed.ok());
  CHECK(*parsed == signer->public_key());

  CHECK_FALSE(ed25519_public_key_from_pem("").ok());
  CHECK_FALSE(ed25519_public_key_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n").ok());
  // A private key is not a public key.
  CHECK_FALSE(ed25519_public_key_from_pem(slurp(path)).ok());
}

TEST_CASE("crypto: Ed25519Signer::load errors", "[crypto][ed25519]") {
  TempDir dir;
  SECTION("missing file") {
    auto s = Ed25519Signer::load(dir.path() / "missing.key");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == "not_found");
  }
  SECTION("readable by others") {
    const fs::path path = dir.path() / "signing.key";
    REQUIRE(create_ed25519_key_file(path).ok());
    fs::permissions(path, fs::perms::others_read, fs::perm_options::add);
    auto s = Ed25519Signer::load(path);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == "key_file_mode");
    CHECK(s.error().message.find("chmod 600") != std::string::npos);
  }
  SECTION("not a key") {
    const fs::path path = dir.path() / "garbage.key";
    REQUIRE(write_new_file(path, "hello\n", 0600).ok());
    auto s = Ed25519Signer::load(path);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == "bad_key_file");
  }
  SECTION("a master key file is not an Ed25519 key") {
    const fs::path path = dir.path() / "master.key";
    REQUIRE(create_master_key_file(path).ok());
    auto s = Ed25519Signer::load(path);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == "bad_key_file");
  }
}
