#include <catch2/catch.hpp>

#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/files.hpp"
#include "crypto/hash.hpp"
#include "crypto/key_wrap.hpp"
#include "crypto/keys.hpp"

using namespace hfv::crypto;
using hfv::write_new_file;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("hfv-keys-test-" + to_hex(random_bytes(8)))) {
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

fs::perms perms_of(const fs::path& p) { return fs::status(p).permissions() & fs::perms::mask; }

}  // namespace

TEST_CASE("crypto: SecretKey basics", "[crypto][keys]") {
  const SecretKey zero;
  for (auto b : zero.bytes()) CHECK(b == 0);
  const SecretKey a = SecretKey::random();
  const SecretKey b = SecretKey::random();
  CHECK_FALSE(constant_time_equal(a.bytes(), b.bytes()));
  const SecretKey copy = a;
  CHECK(constant_time_equal(a.bytes(), copy.bytes()));
  std::array<std::uint8_t, 32> raw{};
  raw[0] = 7;
  const SecretKey from_raw{std::span<const std::uint8_t, 32>(raw)};
  CHECK(from_raw.bytes()[0] == 7);
}

TEST_CASE("crypto: derive_key is deterministic, HKDF-based and differs per purpose",
          "[crypto][keys]") {
  const SecretKey master = SecretKey::random();
  const SecretKey a1 = derive_key(master, kPurposeAuditDb);
  const SecretKey a2 = derive_key(master, kPurposeAuditDb);
  const SecretKey p = derive_key(master, kPurposeMemberPseudonym);
  const SecretKey s = derive_key(master, kPurposeStateDb);
  CHECK(constant_time_equal(a1.bytes(), a2.bytes()));
  CHECK_FALSE(constant_time_equal(a1.bytes(), p.bytes()));
  CHECK_FALSE(constant_time_equal(a1.bytes(), s.bytes()));
  CHECK_FALSE(constant_time_equal(p.bytes(), s.bytes()));
  CHECK_FALSE(constant_time_equal(a1.bytes(), master.bytes()));
  const Bytes expected = hkdf_sha256(master.bytes(), "hfv", kPurposeAuditDb, 32);
  CHECK(constant_time_equal(a1.bytes(), expected));

  const SecretKey other_master = SecretKey::random();
  CHECK_FALSE(constant_time_equal(derive_key(other_master, kPurposeAuditDb).bytes(), a1.bytes()));
}

TEST_CASE("crypto: master key file lifecycle", "[crypto][keys]") {
  TempDir dir;
  const fs::path path = dir.path() / "master.key";

  REQUIRE(create_master_key_file(path).ok());
  CHECK(perms_of(path) == (fs::perms::owner_read | fs::perms::owner_write));
  const std::string content = slurp(path);
  REQUIRE(content.size() == 65);
  CHECK(content.back() == '\n');
  CHECK(content.find_first_not_of("0123456789abcdef") == 64);

  SECTION("creating again fails with 'exists' and leaves the file alone") {
    const auto status = create_master_key_file(path);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == "exists");
    CHECK(slurp(path) == content);
  }

  SECTION("load returns the bytes written") {
    auto key = load_master_key_file(path);
    REQUIRE(key.ok());
    CHECK(to_hex(key->bytes()) + "\n" == content);
  }

  SECTION("load accepts a file without the trailing newline and in upper case") {
    fs::remove(path);
    std::string upper = content.substr(0, 64);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    REQUIRE(write_new_file(path, upper, 0600).ok());
    auto key = load_master_key_file(path);
    REQUIRE(key.ok());
    CHECK(to_hex(key->bytes()) + "\n" == content);
  }

  SECTION("group- or world-accessible file is rejected with 'key_file_mode'") {
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::others_read);
    auto key = load_master_key_file(path);
    REQUIRE_FALSE(key.ok());
    CHECK(key.error().code == "key_file_mode");
    CHECK(key.error().message.find(path.string()) != std::string::npos);
    CHECK(key.error().message.find("chmod 600") != std::string::npos);
    // No key material in the message.
    CHECK(key.error().message.find(content.substr(0, 16)) == std::string::npos);

    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_write);
    auto again = load_master_key_file(path);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == "key_file_mode");
  }

  SECTION("garbage is rejected with 'bad_key_file'") {
    for (const std::string& garbage :
         {std::string("not a key\n"), content.substr(0, 63) + "\n", content + "\n",
          content.substr(0, 63) + "g\n", std::string(), content.substr(0, 64) + " "}) {
      fs::remove(path);
      REQUIRE(write_new_file(path, garbage, 0600).ok());
      auto key = load_master_key_file(path);
      REQUIRE_FALSE(key.ok());
      CHECK(key.error().code == "bad_key_file");
      CHECK(key.error().message.find(content.substr(0, 16)) == std::string::npos);
    }
  }
}

TEST_CASE("crypto: load_master_key_file on a missing file is 'not_found'", "[crypto][keys]") {
  TempDir dir;
  auto key = load_master_key_file(dir.path() / "missing.key");
  REQUIRE_FALSE(key.ok());
  CHECK(key.error().code == "not_found");
}

TEST_CASE("A wrapped key opens only under its KEK, format and slot", "[crypto][keys]") {
  const SecretKey kek = SecretKey::random();
  const SecretKey key = SecretKey::random();
  const std::string box = wrap_key(kek, key, "hfv-test-keyring/v1", "state/db_key");
  CHECK(box.size() == 2 * (12 + 32 + 16));
  CHECK(box != wrap_key(kek, key, "hfv-test-keyring/v1", "state/db_key"));  // a fresh nonce each time
  auto opened = unwrap_key(kek, box, "hfv-test-keyring/v1", "state/db_key");
  REQUIRE(opened.has_value());
  CHECK(constant_time_equal(opened->bytes(), key.bytes()));
  CHECK_FALSE(unwrap_key(SecretKey::random(), box, "hfv-test-keyring/v1", "state/db_key").has_value());
  CHECK_FALSE(unwrap_key(kek, box, "hfv-test-keyring/v1", "review/db_key").has_value());
  CHECK_FALSE(unwrap_key(kek, box, "hfv-audit-keyring/v1", "state/db_key").has_value());
  std::string edited = box;
  edited[30] = edited[30] == '0' ? '1' : '0';
  CHECK_FALSE(unwrap_key(kek, edited, "hfv-test-keyring/v1", "state/db_key").has_value());
  CHECK_FALSE(unwrap_key(kek, "not hex", "hfv-test-keyring/v1", "state/db_key").has_value());
  // The KEK's identifier: public, stable, and another for another KEK or label.
  CHECK(kek_identifier(kek, "a").size() == 16);
  CHECK(kek_identifier(kek, "a") == kek_identifier(kek, "a"));
  CHECK(kek_identifier(kek, "a") != kek_identifier(kek, "b"));
  CHECK(kek_identifier(kek, "a") != kek_identifier(SecretKey::random(), "a"));
}
