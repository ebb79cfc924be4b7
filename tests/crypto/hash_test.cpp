#include <catch2/catch.hpp>

#include <string>

#include "crypto/hash.hpp"

using namespace hfv::crypto;

namespace {

Bytes hex(std::string_view s) {
  auto b = from_hex(s);
  REQUIRE(b.has_value());
  return *b;
}

std::string str(const Bytes& b) { return std::string(b.begin(), b.end()); }

}  // namespace

TEST_CASE("crypto: sha256 matches the FIPS 180-2 vectors", "[crypto][hash]") {
  CHECK(to_hex(sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(to_hex(sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(to_hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256(as_bytes("abc")) == sha256("abc"));
}

TEST_CASE("crypto: incremental Sha256 equals one-shot", "[crypto][hash]") {
  const std::string text = "the quick brown fox jumps over the lazy dog";
  Sha256 h;
  h.update(text.substr(0, 3)).update("").update(as_bytes(text.substr(3, 10)));
  h.update(text.substr(13));
  CHECK(h.finish() == sha256(text));

  Sha256 empty;
  CHECK(empty.finish() == sha256(""));
}

TEST_CASE("crypto: hmac_sha256 matches RFC 4231 test case 2", "[crypto][hash]") {
  CHECK(to_hex(hmac_sha256(as_bytes("Jefe"), "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("crypto: hmac_sha256 accepts an empty key", "[crypto][hash]") {
  // HMAC-SHA256("", "") is a well-known value.
  CHECK(to_hex(hmac_sha256({}, "")) ==
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("crypto: hkdf_sha256 matches RFC 5869 test cases 1 and 3", "[crypto][hash]") {
  const Bytes ikm(22, 0x0b);
  SECTION("test case 1") {
    const Bytes salt = hex("000102030405060708090a0b0c");
    const Bytes info = hex("f0f1f2f3f4f5f6f7f8f9");
    CHECK(to_hex(hkdf_sha256(ikm, str(salt), str(info), 42)) ==
          "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  }
  SECTION("test case 3: empty salt and info") {
    CHECK(to_hex(hkdf_sha256(ikm, "", "", 42)) ==
          "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  }
  SECTION("lengths") {
    CHECK(hkdf_sha256(ikm, "s", "i", 0).empty());
    CHECK(hkdf_sha256(ikm, "s", "i", 255 * 32).size() == 255 * 32);
    CHECK_THROWS(hkdf_sha256(ikm, "s", "i", 255 * 32 + 1));
  }
}

TEST_CASE("crypto: random_bytes returns fresh bytes of the requested size", "[crypto][hash]") {
  CHECK(random_bytes(0).empty());
  const Bytes a = random_bytes(32);
  const Bytes b = random_bytes(32);
  CHECK(a.size() == 32);
  CHECK(a != b);
}

TEST_CASE("crypto: hex round trip and rejection of bad input", "[crypto][hash]") {
  const Bytes all = [] {
    Bytes b;
    for (int i = 0; i < 256; ++i) b.push_back(static_cast<std::uint8_t>(i));
    return b;
  }();
  const std::string h = to_hex(all);
  CHECK(h.size() == 512);
  CHECK(h.substr(0, 8) == "00010203");
  CHECK(h.substr(504) == "fcfdfeff");
  CHECK(from_hex(h) == all);

  CHECK(from_hex("ABcdEF") == Bytes{0xab, 0xcd, 0xef});
  CHECK(from_hex("") == Bytes{});
  CHECK_FALSE(from_hex("abc").has_value());
  CHECK_FALSE(from_hex("zz").has_value());
  CHECK_FALSE(from_hex("0g").has_value());
  CHECK_FALSE(from_hex("a ").has_value());
  CHECK_FALSE(from_hex("0x12").has_value());
}

TEST_CASE("crypto: constant_time_equal", "[crypto][hash]") {
  const Bytes a{1, 2, 3};
  CHECK(constant_time_equal(a, Bytes{1, 2, 3}));
  CHECK_FALSE(constant_time_equal(a, Bytes{1, 2, 4}));
  CHECK_FALSE(constant_time_equal(a, Bytes{1, 2}));
  CHECK_FALSE(constant_time_equal(a, Bytes{}));
  CHECK(constant_time_equal(Bytes{}, Bytes{}));
}
