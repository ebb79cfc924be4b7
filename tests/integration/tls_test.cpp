// The daemon's TLS front, seen by a plain OpenSSL client: it hands out no
// session to resume (no TLS 1.3 ticket, no TLS 1.2 session id or ticket), so
// a client certificate is verified on every connection. It used to issue
// tickets and then refuse them ("session id context uninitialized", a failed
// handshake), which lost a browser some of the console's files.
// The agency simulator in mutual-TLS mode does resume sessions, as the
// agencies' servers the broker's clients talk to may.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>

#include "crypto/pki.hpp"
#include "stack.hpp"

using hfv::testing::ClientTls;
using hfv::testing::Stack;

namespace {

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using Ctx = std::unique_ptr<SSL_CTX, CtxFree>;
using Session = std::unique_ptr<SSL_SESSION, SessionFree>;

// The last session the server handed out (a TLS 1.3 ticket, or a TLS 1.2
// session id or ticket), kept as a browser keeps it: a copy taken when it
// arrives, whatever becomes of the connection afterwards.
Session g_handed_out;

Ctx client_context(const ClientTls& tls, int max_version) {
  Ctx ctx(SSL_CTX_new(TLS_client_method()));
  REQUIRE(ctx);
  REQUIRE(SSL_CTX_set_max_proto_version(ctx.get(), max_version) == 1);
  REQUIRE(SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr) == 1);
  REQUIRE(SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(), SSL_FILETYPE_PEM) == 1);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx.get(), [](SSL*, SSL_SESSION* session) {
    // A copy: OpenSSL may later mark the connection's own object unusable.
    g_handed_out.reset(SSL_SESSION_dup(session));
    return 0;  // the connection keeps its reference
  });
  return ctx;
}

struct Exchange {
  bool handshake = false;
  std::string error;  // OpenSSL's reason when the handshake failed
  bool reused = false;
  std::string answer;  // the raw HTTP answer
};

// One connection: handshake (offering `offer` if given), GET `path`, read
// the answer to the end.
Exchange exchange(SSL_CTX* ctx, int port, const std::string& path, SSL_SESSION* offer = nullptr) {
  Exchange e;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  SSL* ssl = SSL_new(ctx);
  REQUIRE(ssl != nullptr);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (offer != nullptr) REQUIRE(SSL_set_session(ssl, offer) == 1);
  if (SSL_connect(ssl) == 1) {
    e.handshake = true;
    e.reused = SSL_session_reused(ssl) == 1;
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    REQUIRE(SSL_write(ssl, request.data(), static_cast<int>(request.size())) == static_cast<int>(request.size()));
    char buffer[4096];
    for (int n; (n = SSL_read(ssl, buffer, sizeof buffer)) > 0;) e.answer.append(buffer, static_cast<std::size_t>(n));
  } else {
    e.error = ERR_reason_error_string(ERR_peek_last_error()) ? ERR_reason_error_string(ERR_peek_last_error()) : "";
    ERR_clear_error();
  }
  SSL_free(ssl);
  ::close(fd);
  return e;
}

}  // namespace

TEST_CASE("tls: no session to resume is handed out, and a client offering what it holds gets a full handshake",
          "[integration][tls]") {
  Stack s;
  const int port = std::stoi(s.url.substr(s.url.rfind(':') + 1));
  for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    INFO("TLS at most " << (version == TLS1_3_VERSION ? "1.3" : "1.2"));
    Ctx ctx = client_context(s.supervisor, version);
    g_handed_out.reset();
    Exchange first = exchange(ctx.get(), port, "/metrics");
    INFO(first.error);
    REQUIRE(first.handshake);
    CHECK(first.answer.starts_with("HTTP/1.1 200"));  // /metrics: supervisors only
    // Nothing to resume: no ticket, no session id the server would keep.
    const bool handed_out = g_handed_out && SSL_SESSION_is_resumable(g_handed_out.get()) == 1;
    CHECK_FALSE(handed_out);
    // A second connection offers whatever the client holds.
    Exchange second = exchange(ctx.get(), port, "/metrics", g_handed_out.get());
    INFO(second.error);
    REQUIRE(second.handshake);
    CHECK_FALSE(second.reused);
    CHECK(second.answer.starts_with("HTTP/1.1 200"));
  }
}

TEST_CASE("tls: the agency simulator in mutual-TLS mode resumes a session its client offers",
          "[integration][tls][simulator]") {
  hfv::testing::TempDir dir{"hfv-sim-tls"};
  hfv::crypto::DevPkiOptions pki;
  pki.dir = dir.path / "pki";
  pki.client_names = {"broker"};
  REQUIRE(hfv::crypto::create_dev_pki(pki).ok());
  hfv::testing::Process sim({AGENCY_SIM_BIN, "--dataset", (std::filesystem::path(HFV_SOURCE_DIR) / "demo" / "dataset.json").string(),
                             "--listen", "127.0.0.1:0", "--port-file", (dir.path / "sim.port").string(),
                             "--tls-cert", (pki.dir / "server.pem").string(), "--tls-key",
                             (pki.dir / "server.key").string(), "--tls-client-ca", (pki.dir / "ca.pem").string()},
                            dir.path / "sim.log");
  const int port = std::stoi(hfv::testing::wait_for_file(dir.path / "sim.port"));
  const ClientTls broker{(pki.dir / "ca.pem").string(), (pki.dir / "broker.pem").string(),
                         (pki.dir / "broker.key").string()};
  for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    INFO("TLS at most " << (version == TLS1_3_VERSION ? "1.3" : "1.2"));
    Ctx ctx = client_context(broker, version);
    g_handed_out.reset();
    Exchange first = exchange(ctx.get(), port, "/_sim/health");
    INFO(first.error);
    REQUIRE(first.handshake);
    CHECK_FALSE(first.reused);
    REQUIRE(g_handed_out);
    CHECK(SSL_SESSION_is_resumable(g_handed_out.get()) == 1);
    // Without a session id context this handshake failed.
    Exchange second = exchange(ctx.get(), port, "/_sim/health", g_handed_out.get());
    INFO(second.error);
    REQUIRE(second.handshake);
    CHECK(second.reused);
    CHECK(second.answer.starts_with("HTTP/1.1 "));
  }
}

TEST_CASE("tls: TLS 1.2 is offered only with ECDHE and an AEAD suite, CBC and static RSA are refused",
          "[integration][tls]") {
  Stack s;
  const int port = std::stoi(s.url.substr(s.url.rfind(':') + 1));
  auto with_ciphers = [&](const char* ciphers) {
    Ctx ctx = client_context(s.case_system, TLS1_2_VERSION);
    REQUIRE(SSL_CTX_set_cipher_list(ctx.get(), ciphers) == 1);
    return exchange(ctx.get(), port, "/healthz");
  };
  for (const char* refused : {"ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA", "AES128-GCM-SHA256"}) {
    INFO(refused);
    const Exchange e = with_ciphers(refused);
    CHECK_FALSE(e.handshake);
    CHECK(e.error.find("handshake failure") != std::string::npos);
  }
  for (const char* accepted : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
    INFO(accepted);
    const Exchange e = with_ciphers(accepted);
    CHECK(e.handshake);
    CHECK(e.answer.rfind("HTTP/1.1 200", 0) == 0);
  }
}

namespace {

// A DevClient of the dev PKI (crypto/pki.hpp).
hfv::crypto::DevClient dev_client(std::string name, std::vector<std::string> common_names,
                                  std::string organization = "HFV development", std::string eku = "clientAuth",
                                  bool from_intermediate = false) {
  hfv::crypto::DevClient c;
  c.name = std::move(name);
  c.common_names = std::move(common_names);
  c.organization = std::move(organization);
  c.extended_key_usage = std::move(eku);
  c.from_intermediate = from_intermediate;
  return c;
}

ClientTls client_files(const Stack& s, const std::string& name) {
  const auto pki = s.broker_dir / "pki";
  return {(pki / "ca.pem").string(), (pki / (name + ".pem")).string(), (pki / (name + ".key")).string()};
}

// Every refusal of unidentified callers the tally recorded, its codes
// ("codes=a:1,b:2") joined.
std::string tallied_codes(const std::vector<nlohmann::json>& records) {
  std::string codes;
  for (const auto& r : records) {
    if (r.value("action", "") != "request.refused.unidentified") continue;
    const std::string detail = r.value("detail", "");
    codes += detail.substr(detail.find("codes=")) + " ";
  }
  return codes;
}

}  // namespace

// Issue 22, finding 4: a principal was its certificate's first CN and
// nothing more. Each of these certificates is from the centre's CA (or a
// CA under it) and names a configured principal's CN; each was accepted.
TEST_CASE("tls: a certificate without clientAuth, from a subordinate CA, of another subject or with two CNs identifies nobody",
          "[integration][tls][identity]") {
  Stack s([](nlohmann::json& config, const std::filesystem::path&) {
    // Bound by its CN alone (no subject configured): two CNs must not reach it either.
    config["principals"].push_back({{"name", "cn-only-supervisor"},
                                    {"certificate_cn", "cn-only"},
                                    {"role", "supervisor"},
                                    {"jurisdictions", {"2301"}}});
  });
  hfv::crypto::DevPkiOptions variants;
  variants.dir = s.broker_dir / "pki";
  variants.clients = {
      dev_client("no-eku", {"demo-supervisor"}, "HFV development", ""),
      dev_client("server-eku", {"demo-supervisor"}, "HFV development", "serverAuth"),
      dev_client("subordinate", {"demo-supervisor"}, "HFV development", "clientAuth", true),
      dev_client("elsewhere", {"demo-supervisor"}, "Elsewhere"),
      dev_client("two-cns", {"demo-supervisor", "intruder"}),
      dev_client("two-cns-plain", {"cn-only", "intruder"}),
      dev_client("cn-only", {"cn-only"}, "Anything"),
  };
  REQUIRE(hfv::crypto::create_dev_pki(variants).ok());

  struct Case {
    const char* name;
    const char* error;  // the 401's code
    bool handshake_may_fail;
  };
  for (const Case& c : {Case{"no-eku", "client_certificate_not_for_client_auth", false},
                        Case{"server-eku", "client_certificate_not_for_client_auth", true},
                        Case{"subordinate", "client_certificate_chain_too_long", false},
                        Case{"elsewhere", "unknown_client_certificate", false},
                        Case{"two-cns", "client_certificate_cn_not_unique", false},
                        Case{"two-cns-plain", "client_certificate_cn_not_unique", false}}) {
    INFO(c.name);
    const auto r = hfv::testing::https("GET", s.url + "/metrics", client_files(s, c.name));
    INFO(r.status << " " << r.body << " " << r.curl_error);
    if (c.handshake_may_fail && r.status == 0) continue;  // refused by OpenSSL already
    CHECK(r.status == 401);
    const auto body = nlohmann::json::parse(r.body, nullptr, false);
    CHECK((body.is_object() && body.value("error", "") == c.error));
    CHECK((body.is_object() && !body.value("message", "").empty()));
  }
  // The certificates the configuration names still work: the demo
  // supervisor's (subject bound by brokerd init), and one of any subject
  // for a principal bound by its CN alone.
  CHECK(hfv::testing::https("GET", s.url + "/metrics", s.supervisor).status == 200);
  CHECK(hfv::testing::https("GET", s.url + "/metrics", client_files(s, "cn-only")).status == 200);

  // Audited actions name the certificate they were taken with.
  s.verify("HRB-ID-1", nlohmann::json::array({hfv::testing::member("230102197503120016", "张伟", "applicant")}));
  const auto audit_query = hfv::testing::https("GET", s.url + "/v1/audit?limit=1", s.supervisor);
  CHECK(audit_query.status == 200);
  const auto case_cert = hfv::crypto::read_certificate_file(s.case_system.cert_file);
  const auto supervisor_cert = hfv::crypto::read_certificate_file(s.supervisor.cert_file);
  REQUIRE(case_cert.ok());
  REQUIRE(supervisor_cert.ok());
  REQUIRE(case_cert->sha256_fingerprint.size() == 64);

  const auto records = s.audit_records();
  std::set<std::string> stamped;  // actions carrying their certificate
  for (const auto& r : records) {
    const std::string principal = r.value("principal", "");
    const auto* cert = principal == "demo-case-system" ? &*case_cert
                       : principal == "demo-supervisor" ? &*supervisor_cert
                                                        : nullptr;
    if (cert == nullptr || !r.contains("cert_sha256")) continue;
    INFO(r.dump());
    CHECK(r.value("cert_sha256", "") == cert->sha256_fingerprint);
    CHECK(r.value("cert_serial", "") == cert->serial);
    stamped.insert(r.value("action", ""));
  }
  for (const char* action : {"authorization.register", "verification.request", "verification.subject",
                             "agency.answers", "verification.report", "audit.query"}) {
    INFO(action);
    CHECK(stamped.contains(action));
  }
  // The refusals are in the tally of unidentified callers, by code.
  const std::string codes = tallied_codes(records);
  INFO(codes);
  for (const char* code : {"client_certificate_not_for_client_auth", "client_certificate_chain_too_long",
                           "unknown_client_certificate", "client_certificate_cn_not_unique"}) {
    CHECK(codes.find(code) != std::string::npos);
  }
}

TEST_CASE("tls: a deeper chain needs tls.verify_depth and a principal naming its issuer, and a pinned key is that key only",
          "[integration][tls][identity]") {
  std::string pinned_spki;
  Stack s([&](nlohmann::json& config, const std::filesystem::path& dir) {
    hfv::crypto::DevPkiOptions variants;
    variants.dir = dir / "pki";
    variants.clients = {dev_client("sub-unbound", {"sub-unbound"}, "HFV development", "clientAuth", true),
                        dev_client("sub-bound", {"sub-bound"}, "HFV development", "clientAuth", true),
                        dev_client("pinned", {"pinned"}), dev_client("pinned-other-key", {"pinned"})};
    // pinned-other-key has the same CN and subject: only its key differs.
    REQUIRE(hfv::crypto::create_dev_pki(variants).ok());
    const auto pinned = hfv::crypto::read_certificate_file(dir / "pki" / "pinned.pem");
    REQUIRE(pinned.ok());
    pinned_spki = pinned->spki_sha256;
    config["tls"]["verify_depth"] = 2;
    auto supervisor = [](const char* cn) {
      return nlohmann::json{{"name", cn}, {"certificate_cn", cn}, {"role", "supervisor"}, {"jurisdictions", {"2301"}}};
    };
    config["principals"].push_back(supervisor("sub-unbound"));  // no issuer: the centre's CA itself
    auto bound = supervisor("sub-bound");
    bound["issuer"] = "CN=HFV development intermediate CA,O=HFV development";
    bound["subject"] = "CN=sub-bound,O=HFV development";
    config["principals"].push_back(bound);
    auto pin = supervisor("pinned");
    pin["spki_sha256"] = {std::string(64, '0'), pinned_spki};
    config["principals"].push_back(pin);
  });
  auto get = [&](const std::string& name) { return hfv::testing::https("GET", s.url + "/metrics", client_files(s, name)); };
  const auto unbound = get("sub-unbound");
  CHECK(unbound.status == 401);
  CHECK(nlohmann::json::parse(unbound.body, nullptr, false).value("error", "") == "unknown_client_certificate");
  CHECK(get("sub-bound").status == 200);
  CHECK(get("pinned").status == 200);
  const auto other_key = get("pinned-other-key");
  CHECK(other_key.status == 401);
  CHECK(nlohmann::json::parse(other_key.body, nullptr, false).value("error", "") == "unknown_client_certificate");
  // The demo principals (issued directly by the centre's CA) are unaffected.
  CHECK(hfv::testing::https("GET", s.url + "/metrics", s.supervisor).status == 200);
}
