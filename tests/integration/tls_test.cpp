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
