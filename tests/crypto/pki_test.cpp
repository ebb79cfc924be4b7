#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "crypto/ed25519.hpp"
#include "crypto/hash.hpp"
#include "crypto/pki.hpp"

using namespace hfv::crypto;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("hfv-pki-test-" + to_hex(random_bytes(8)))) {}
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

constexpr auto kMode600 = fs::perms::owner_read | fs::perms::owner_write;
constexpr auto kMode644 = kMode600 | fs::perms::group_read | fs::perms::others_read;

bool contains(const std::vector<fs::path>& v, const fs::path& p) {
  return std::find(v.begin(), v.end(), p) != v.end();
}

// Runs a shell command (paths are from temp_directory_path and a hex suffix,
// so they need no quoting beyond single quotes).
int run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out[e.path().filename()] = slurp(e.path());
  return out;
}

// The certificate's public key equals the key file's (compared via the CLI).
bool cert_matches_key(const fs::path& dir, const std::string& name) {
  const fs::path a = dir / (name + ".certpub");
  const fs::path b = dir / (name + ".keypub");
  const bool ran =
      run("openssl x509 -noout -pubkey -in " + q(dir / (name + ".pem")) + " -out " + q(a)) == 0 &&
      run("openssl pkey -pubout -in " + q(dir / (name + ".key")) + " -out " + q(b)) == 0;
  const bool same = ran && !slurp(a).empty() && slurp(a) == slurp(b);
  fs::remove(a);
  fs::remove(b);
  return same;
}

}  // namespace

TEST_CASE("crypto: create_dev_pki creates, keeps, reissues and detects inconsistency",
          "[crypto][pki]") {
  TempDir tmp;
  DevPkiOptions options;
  options.dir = tmp.path() / "pki";
  options.client_names = {"centre-a", "centre-b"};
  const fs::path& dir = options.dir;
  const std::vector<std::string> items{"ca", "server", "centre-a", "centre-b"};

  auto first = create_dev_pki(options);
  REQUIRE(first.ok());
  CHECK(first->kept.empty());
  CHECK(first->created.size() == 8);
  CHECK(perms_of(dir) == fs::perms::owner_all);
  for (const auto& name : items) {
    const fs::path key = dir / (name + ".key");
    const fs::path cert = dir / (name + ".pem");
    INFO(name);
    CHECK(contains(first->created, key));
    CHECK(contains(first->created, cert));
    CHECK(perms_of(key) == kMode600);
    CHECK(perms_of(cert) == kMode644);
    CHECK(slurp(key).rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0);
    CHECK(slurp(cert).rfind("-----BEGIN CERTIFICATE-----\n", 0) == 0);
    CHECK(cert_matches_key(dir, name));
  }

  // Chains and purposes, checked by the OpenSSL CLI.
  const std::string verify = "openssl verify -CAfile " + q(dir / "ca.pem");
  CHECK(run(verify + " " + q(dir / "server.pem")) == 0);
  CHECK(run(verify + " -purpose sslserver " + q(dir / "server.pem")) == 0);
  CHECK(run(verify + " -purpose sslclient " + q(dir / "server.pem")) != 0);
  CHECK(run(verify + " -purpose sslclient " + q(dir / "centre-a.pem")) == 0);
  CHECK(run(verify + " -purpose sslserver " + q(dir / "centre-a.pem")) != 0);
  CHECK(run(verify + " -x509_strict " + q(dir / "centre-b.pem")) == 0);
  CHECK(run(verify + " -verify_hostname localhost " + q(dir / "server.pem")) == 0);
  CHECK(run(verify + " -verify_ip 127.0.0.1 " + q(dir / "server.pem")) == 0);
  CHECK(run(verify + " -verify_ip ::1 " + q(dir / "server.pem")) == 0);
  CHECK(run(verify + " -verify_hostname example.com " + q(dir / "server.pem")) != 0);
  // The client certificate's subject carries the CN as given and O.
  CHECK(run("openssl x509 -noout -subject -nameopt RFC2253 -in " + q(dir / "centre-a.pem") +
            " | grep -qx 'subject=CN=centre-a,O=HFV development'") == 0);

  // An ECDSA key is not an Ed25519 signing key.
  auto signer = Ed25519Signer::load(dir / "server.key");
  REQUIRE_FALSE(signer.ok());
  CHECK(signer.error().code == "bad_key_file");

  SECTION("running again keeps everything") {
    const auto before = snapshot(dir);
    auto second = create_dev_pki(options);
    REQUIRE(second.ok());
    CHECK(second->created.empty());
    CHECK(second->kept.size() == 8);
    CHECK(snapshot(dir) == before);
  }

  SECTION("a missing client certificate is reissued for the existing key") {
    const auto before = snapshot(dir);
    fs::remove(dir / "centre-a.pem");
    auto again = create_dev_pki(options);
    REQUIRE(again.ok());
    REQUIRE(again->created.size() == 1);
    CHECK(again->created[0] == dir / "centre-a.pem");
    CHECK(again->kept.size() == 7);
    CHECK(contains(again->kept, dir / "centre-a.key"));
    auto after = snapshot(dir);
    CHECK(after["centre-a.key"] == before.at("centre-a.key"));
    CHECK(after["centre-a.pem"] != before.at("centre-a.pem"));
    after.erase("centre-a.pem");
    auto expected = before;
    expected.erase("centre-a.pem");
    CHECK(after == expected);
    CHECK(perms_of(dir / "centre-a.pem") == kMode644);
    CHECK(cert_matches_key(dir, "centre-a"));
    CHECK(run(verify + " -purpose sslclient " + q(dir / "centre-a.pem")) == 0);
  }

  SECTION("a new client name adds only that client") {
    options.client_names.push_back("centre-c");
    auto again = create_dev_pki(options);
    REQUIRE(again.ok());
    CHECK(again->created.size() == 2);
    CHECK(contains(again->created, dir / "centre-c.key"));
    CHECK(contains(again->created, dir / "centre-c.pem"));
    CHECK(again->kept.size() == 8);
    CHECK(run(verify + " -purpose sslclient " + q(dir / "centre-c.pem")) == 0);
  }

  SECTION("a missing CA certificate is reissued for the existing CA key") {
    fs::remove(dir / "ca.pem");
    auto again = create_dev_pki(options);
    REQUIRE(again.ok());
    REQUIRE(again->created.size() == 1);
    CHECK(again->created[0] == dir / "ca.pem");
    // Existing leaf certificates still chain to the reissued CA (same key and name).
    CHECK(run(verify + " " + q(dir / "server.pem")) == 0);
  }

  SECTION("a certificate without its key is 'pki_inconsistent'") {
    fs::remove(dir / "centre-b.key");
    const auto before = snapshot(dir);
    auto again = create_dev_pki(options);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == "pki_inconsistent");
    CHECK(again.error().message.find("centre-b") != std::string::npos);
    CHECK(snapshot(dir) == before);  // nothing written
  }

  SECTION("a CA key readable by others is refused when it must be used") {
    fs::remove(dir / "server.pem");
    fs::permissions(dir / "ca.key", fs::perms::others_read, fs::perm_options::add);
    auto again = create_dev_pki(options);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == "key_file_mode");
  }
}

TEST_CASE("crypto: create_dev_pki rejects bad options", "[crypto][pki]") {
  TempDir tmp;
  DevPkiOptions options;
  options.dir = tmp.path();
  for (const std::string bad : {"", "../evil", "a/b", ".hidden", "ca", "server", "x y"}) {
    options.client_names = {bad};
    auto r = create_dev_pki(options);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "bad_options");
  }
  options.client_names = {"dup", "dup"};
  CHECK_FALSE(create_dev_pki(options).ok());
  options.client_names = {};
  options.server_ips = {"not-an-ip"};
  CHECK_FALSE(create_dev_pki(options).ok());
  options.server_ips = {};
  options.validity_days = 0;
  CHECK_FALSE(create_dev_pki(options).ok());
  CHECK_FALSE(fs::exists(tmp.path() / "ca.key"));
}
