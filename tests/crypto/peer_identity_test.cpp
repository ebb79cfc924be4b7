// What the broker reads from a client certificate (crypto/peer_identity.hpp),
// checked against the OpenSSL command line on certificates of the dev PKI's
// variants (crypto/pki.hpp DevClient).
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <string>

#include "crypto/hash.hpp"
#include "crypto/peer_identity.hpp"
#include "crypto/pki.hpp"

using namespace hfv::crypto;
namespace fs = std::filesystem;

namespace {

struct Dir {
  fs::path path = fs::temp_directory_path() / ("hfv-peer-test-" + to_hex(random_bytes(8)));
  Dir() = default;
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A shell command's standard output, trailing newline removed; "" when it failed.
std::string output_of(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 512> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) out += buffer.data();
  if (::pclose(pipe) != 0) return "";
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// "key=AB:CD" -> "abcd"
std::string cli_hex(const std::string& line) {
  std::string out;
  for (char c : line.substr(line.find('=') + 1)) {
    if (c != ':') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

DevClient client(std::string name, std::vector<std::string> cns, std::string org = "HFV development",
                 std::string eku = "clientAuth", bool from_intermediate = false) {
  DevClient c;
  c.name = std::move(name);
  c.common_names = std::move(cns);
  c.organization = std::move(org);
  c.extended_key_usage = std::move(eku);
  c.from_intermediate = from_intermediate;
  return c;
}

}  // namespace

TEST_CASE("crypto: a certificate's names, fingerprint, serial, key hash and client use read as the OpenSSL CLI reads them",
          "[crypto][pki][identity]") {
  Dir tmp;
  DevPkiOptions options;
  options.dir = tmp.path / "pki";
  options.client_names = {"centre-a"};
  options.clients = {client("no-eku", {"no-eku"}, "HFV development", ""),
                     client("server-eku", {"server-eku"}, "HFV development", "serverAuth"),
                     client("both-eku", {"both-eku"}, "HFV development", "serverAuth,clientAuth"),
                     client("two-cns", {"first", "second"}),
                     client("subordinate", {"subordinate"}, "HFV development", "clientAuth", true),
                     client("civil-affairs", {"民政局"}, "哈尔滨市民政局, 救助科")};
  REQUIRE(create_dev_pki(options).ok());
  const fs::path& dir = options.dir;

  auto centre = read_certificate_file(dir / "centre-a.pem");
  REQUIRE(centre.ok());
  CHECK(centre->subject_cn == "centre-a");
  CHECK(centre->subject_cn_count == 1);
  CHECK(centre->issuer_cn == "HFV development CA");
  CHECK(centre->subject == "CN=centre-a,O=HFV development");
  CHECK(centre->issuer == "CN=HFV development CA,O=HFV development");
  CHECK(centre->client_auth);
  CHECK(centre->chain_length == 0);  // not from a handshake
  const fs::path pem = dir / "centre-a.pem";
  CHECK(centre->sha256_fingerprint == cli_hex(output_of("openssl x509 -noout -fingerprint -sha256 -in " + q(pem))));
  CHECK(centre->serial == cli_hex(output_of("openssl x509 -noout -serial -in " + q(pem))));
  CHECK(centre->spki_sha256 ==
        cli_hex(output_of("openssl x509 -noout -pubkey -in " + q(pem) +
                          " | openssl pkey -pubin -outform der | openssl dgst -sha256 -r | cut -d' ' -f1")));
  CHECK(centre->subject == output_of("openssl x509 -noout -subject -nameopt RFC2253,-esc_msb -in " + q(pem))
                               .substr(std::string("subject=").size()));
  CHECK(centre->sha256_fingerprint.size() == 64);
  CHECK(centre->spki_sha256.size() == 64);
  CHECK(centre->serial.size() == 32);

  // Extended key usage: clientAuth must be listed; no extension is no use.
  CHECK_FALSE(read_certificate_file(dir / "no-eku.pem")->client_auth);
  CHECK_FALSE(read_certificate_file(dir / "server-eku.pem")->client_auth);
  CHECK(read_certificate_file(dir / "both-eku.pem")->client_auth);
  CHECK(output_of("openssl x509 -noout -ext extendedKeyUsage -in " + q(dir / "no-eku.pem")).empty());

  // Two CNs: nobody's CN, and the count says why.
  auto two = read_certificate_file(dir / "two-cns.pem");
  REQUIRE(two.ok());
  CHECK(two->subject_cn.empty());
  CHECK(two->subject_cn_count == 2);
  CHECK(two->subject == "CN=second,CN=first,O=HFV development");

  // From the intermediate: the file carries the chain, which verifies to the CA.
  auto sub = read_certificate_file(dir / "subordinate.pem");
  REQUIRE(sub.ok());
  CHECK(sub->issuer == "CN=HFV development intermediate CA,O=HFV development");
  CHECK(output_of("grep -c 'BEGIN CERTIFICATE' " + q(dir / "subordinate.pem")) == "2");
  CHECK(output_of("openssl verify -CAfile " + q(dir / "ca.pem") + " -untrusted " + q(dir / "subordinate.pem") +
                  " -purpose sslclient " + q(dir / "subordinate.pem")) != "");
  CHECK(output_of("openssl verify -CAfile " + q(dir / "ca.pem") + " " + q(dir / "subordinate.pem")).empty());

  // UTF-8 stays UTF-8; RFC 4514 escapes the comma.
  auto civil = read_certificate_file(dir / "civil-affairs.pem");
  REQUIRE(civil.ok());
  CHECK(civil->subject_cn == "民政局");
  CHECK(civil->subject == "CN=民政局,O=哈尔滨市民政局\\, 救助科");
  CHECK(civil->subject == output_of("openssl x509 -noout -subject -nameopt RFC2253,-esc_msb -in " +
                                    q(dir / "civil-affairs.pem"))
                              .substr(std::string("subject=").size()));

  CHECK(read_certificate_file(dir / "absent.pem").error().code == "not_found");
  CHECK(read_certificate_file(dir / "centre-a.key").error().code == "bad_cert_file");
}

TEST_CASE("crypto: a certificate identifies a caller only with one CN, clientAuth and a short enough chain",
          "[crypto][identity]") {
  PeerCertificate peer;
  peer.subject_cn = "centre-a";
  peer.subject_cn_count = 1;
  peer.client_auth = true;
  peer.chain_length = 2;  // leaf, centre's CA
  CHECK_FALSE(client_certificate_refusal(peer, 1));

  auto code = [](const PeerCertificate& p, int depth) {
    auto refusal = client_certificate_refusal(p, depth);
    CHECK((!refusal || !refusal->message.empty()));
    return refusal ? refusal->code : std::string();
  };
  PeerCertificate two = peer;
  two.subject_cn.clear();
  two.subject_cn_count = 2;
  CHECK(code(two, 1) == "client_certificate_cn_not_unique");
  two.subject_cn_count = 0;
  CHECK(code(two, 1) == "client_certificate_cn_not_unique");

  PeerCertificate no_eku = peer;
  no_eku.client_auth = false;
  CHECK(code(no_eku, 1) == "client_certificate_not_for_client_auth");

  PeerCertificate deep = peer;
  deep.chain_length = 3;  // leaf, subordinate CA, centre's CA
  CHECK(code(deep, 1) == "client_certificate_chain_too_long");
  CHECK(code(deep, 2).empty());
  deep.chain_length = 4;
  CHECK(code(deep, 2) == "client_certificate_chain_too_long");
  // A leaf that is its own trust anchor, or a chain nobody verified.
  PeerCertificate alone = peer;
  alone.chain_length = 1;
  CHECK(code(alone, 1) == "client_certificate_chain_too_long");
  alone.chain_length = 0;
  CHECK(code(alone, 1) == "client_certificate_chain_too_long");
}

TEST_CASE("crypto: the dev PKI's client variants are validated and kept like the rest", "[crypto][pki]") {
  Dir tmp;
  DevPkiOptions options;
  options.dir = tmp.path;
  options.clients = {client("intermediate-ca", {})};
  CHECK(create_dev_pki(options).error().code == "bad_options");
  options.clients = {client("x", {""})};
  CHECK(create_dev_pki(options).error().code == "bad_options");
  options.client_names = {"dup"};
  options.clients = {client("dup", {})};
  CHECK(create_dev_pki(options).error().code == "bad_options");
  CHECK_FALSE(fs::exists(tmp.path / "ca.key"));

  // The intermediate is made once, and reused for a later client.
  options.client_names = {};
  options.clients = {client("sub-1", {}, "HFV development", "clientAuth", true)};
  auto first = create_dev_pki(options);
  REQUIRE(first.ok());
  CHECK(std::count(first->created.begin(), first->created.end(), tmp.path / "intermediate-ca.pem") == 1);
  CHECK(read_certificate_file(tmp.path / "sub-1.pem")->subject == "CN=sub-1,O=HFV development");
  options.clients.push_back(client("sub-2", {}, "", "clientAuth", true));
  auto second = create_dev_pki(options);
  REQUIRE(second.ok());
  CHECK(second->created.size() == 2);  // sub-2's key and certificate
  CHECK(std::count(second->kept.begin(), second->kept.end(), tmp.path / "intermediate-ca.pem") == 1);
  auto sub2 = read_certificate_file(tmp.path / "sub-2.pem");
  REQUIRE(sub2.ok());
  CHECK(sub2->subject == "CN=sub-2");  // no organisation
  CHECK(sub2->issuer == "CN=HFV development intermediate CA,O=HFV development");
  CHECK(output_of("openssl verify -CAfile " + q(tmp.path / "ca.pem") + " -untrusted " +
                  q(tmp.path / "intermediate-ca.pem") + " " + q(tmp.path / "sub-2.pem")) != "");
}
