// Connection limits (issue 20) on the real daemon: connections past
// limits.max_connections_per_address, then past limits.max_connections,
// are closed by the server as soon as accepted and counted in /metrics,
// while those under the limits keep their slots; a case system's
// verification from another address still goes through. The hostile
// connections come from other loopback addresses (127.0.0.2, ...: the
// whole of 127/8 is loopback) to the daemon's 127.0.0.1. Every wait is for
// an event (the server's close, a figure in /metrics), bounded generously.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <functional>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "stack.hpp"

using hfv::testing::KeepAliveClient;
using hfv::testing::Stack;
using nlohmann::json;

namespace {

constexpr int kLimitWaitMs = 60000;

// A TCP connection from `from` (a loopback address) to the daemon that
// sends nothing: it holds a slot until closed.
class IdleConnection {
 public:
  IdleConnection(const char* from, int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, from, &local.sin_addr) == 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
    sockaddr_in daemon{};
    daemon.sin_family = AF_INET;
    daemon.sin_port = htons(static_cast<std::uint16_t>(port));
    daemon.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&daemon), sizeof daemon) == 0);
  }
  ~IdleConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  IdleConnection(IdleConnection&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  IdleConnection& operator=(IdleConnection&&) = delete;
  IdleConnection(const IdleConnection&) = delete;
  IdleConnection& operator=(const IdleConnection&) = delete;

  // Sends `bytes` (all of them, or the test fails).
  void send(std::string_view bytes) const {
    REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  }

  // Waits up to `ms` for the server to close the connection: true when it
  // did (end of stream or a reset).
  bool closed_by_server(int ms) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) != 1) return false;
    char byte = 0;
    const ssize_t n = ::recv(fd_, &byte, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  int fd_;
};

// "name{labels} value" lines of an exposition, comments skipped (the
// daemon's own reader is in hfv_broker, which this test does not link).
std::map<std::string, double> read_figures(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const auto space = line.rfind(' ');
    if (line.empty() || line[0] == '#' || space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

// A TLS connection from 127.0.0.1 with the case system's certificate,
// its handshake complete; closed (without close_notify) on destruction.
class TlsConnection {
 public:
  TlsConnection(const hfv::testing::ClientTls& tls, int port)
      : ctx_(SSL_CTX_new(TLS_client_method())), fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(ctx_ != nullptr);
    REQUIRE(fd_ >= 0);
    REQUIRE(SSL_CTX_load_verify_locations(ctx_, tls.ca_file.c_str(), nullptr) == 1);
    REQUIRE(SSL_CTX_use_certificate_chain_file(ctx_, tls.cert_file.c_str()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx_, tls.key_file.c_str(), SSL_FILETYPE_PEM) == 1);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    sockaddr_in daemon{};
    daemon.sin_family = AF_INET;
    daemon.sin_port = htons(static_cast<std::uint16_t>(port));
    daemon.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&daemon), sizeof daemon) == 0);
    ssl_ = SSL_new(ctx_);
    REQUIRE(ssl_ != nullptr);
    SSL_set_fd(ssl_, fd_);
    REQUIRE(SSL_connect(ssl_) == 1);
  }
  ~TlsConnection() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  void write(std::string_view bytes) {
    REQUIRE(SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size()));
  }

 private:
  SSL_CTX* ctx_;
  int fd_;
  SSL* ssl_ = nullptr;
};

int port_of(const Stack& s) { return std::stoi(s.url.substr(s.url.rfind(':') + 1)); }

// Polls /metrics on `scraper` (one kept-alive connection, so scraping takes
// no further slot) until `ready` holds; returns the last figures.
std::map<std::string, double> metrics_when(KeepAliveClient& scraper, const Stack& s,
                                           const std::function<bool(const std::map<std::string, double>&)>& ready) {
  std::map<std::string, double> figures;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kLimitWaitMs);
  while (std::chrono::steady_clock::now() < until) {
    const auto r = scraper.send("GET", s.url + "/metrics");
    if (r.status == 200) {
      figures = read_figures(r.body);
      if (ready(figures)) return figures;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("/metrics never showed what the test waited for");
  return figures;
}

// A figure of `m`, -1 when it is not there.
double figure(const std::map<std::string, double>& m, const std::string& name) {
  const auto it = m.find(name);
  return it == m.end() ? -1 : it->second;
}

const char* const kPerAddress = R"(hfv_connections_refused_total{reason="per_address_limit"})";
const char* const kGlobal = R"(hfv_connections_refused_total{reason="global_limit"})";

json demo_couple() {
  return json::array({hfv::testing::member("230102197503120016", "张伟", "applicant"),
                      hfv::testing::member("230102197808050020", "李娜", "spouse")});
}

}  // namespace

TEST_CASE("connection limits: connections past the per-address limit are closed at once and counted, others are served",
          "[integration][hardening][limits]") {
  // A handshake timeout far beyond the test, so the hostile connections
  // hold their slots until they close.
  Stack s([](json& config, const std::filesystem::path&) {
    config["limits"] = {{"max_connections", 64}, {"max_connections_per_address", 8}, {"handshake_timeout_ms", 300000}};
  });
  const int port = port_of(s);
  KeepAliveClient scraper(s.supervisor, "op-test-01", 60);
  auto before = metrics_when(scraper, s, [](const auto& m) { return figure(m, "hfv_connections_open") == 1; });
  CHECK(before.at(kPerAddress) == 0);

  std::vector<IdleConnection> held;
  for (int i = 0; i < 8; ++i) held.emplace_back("127.0.0.2", port);
  std::vector<IdleConnection> excess;
  for (int i = 0; i < 4; ++i) excess.emplace_back("127.0.0.2", port);
  for (const auto& c : excess) CHECK(c.closed_by_server(kLimitWaitMs));
  // The 8 under the limit are open (the server has not closed them) and counted.
  auto during = metrics_when(scraper, s, [](const auto& m) { return figure(m, kPerAddress) >= 4; });
  CHECK(during.at(kPerAddress) == 4);
  CHECK(during.at(kGlobal) == 0);
  CHECK(during.at("hfv_connections_open") >= 9);  // the 8 and the scraper
  for (const auto& c : held) CHECK_FALSE(c.closed_by_server(0));

  // A case system on 127.0.0.1 is not held back by 127.0.0.2's connections.
  const json report = s.verify("HRB-LIMITS-1", demo_couple());
  CHECK(report.contains("rules"));
  for (const auto& c : held) CHECK_FALSE(c.closed_by_server(0));

  // Once 127.0.0.2 closes its connections its slots are free again.
  held.clear();
  excess.clear();
  metrics_when(scraper, s, [](const auto& m) { return figure(m, "hfv_connections_open") == 1; });
  IdleConnection again("127.0.0.2", port);
  auto after = metrics_when(scraper, s, [](const auto& m) { return figure(m, "hfv_connections_open") == 2; });
  CHECK(after.at(kPerAddress) == 4);
  CHECK_FALSE(again.closed_by_server(0));
}

TEST_CASE("connection limits: connections past the global limit are closed at once and counted, slots come back",
          "[integration][hardening][limits]") {
  Stack s([](json& config, const std::filesystem::path&) {
    config["limits"] = {{"max_connections", 12}, {"max_connections_per_address", 8}, {"handshake_timeout_ms", 300000}};
  });
  const int port = port_of(s);
  // The scraper's one connection is one of the 12 slots.
  KeepAliveClient scraper(s.supervisor, "op-test-01", 60);
  metrics_when(scraper, s, [](const auto& m) { return figure(m, "hfv_connections_open") == 1; });

  std::vector<IdleConnection> held;
  for (int i = 0; i < 8; ++i) held.emplace_back("127.0.0.2", port);
  for (int i = 0; i < 3; ++i) held.emplace_back("127.0.0.3", port);
  // All 12 taken: a new client is refused, whatever its address.
  std::vector<IdleConnection> excess;
  for (const char* from : {"127.0.0.4", "127.0.0.4", "127.0.0.5"}) excess.emplace_back(from, port);
  for (const auto& c : excess) CHECK(c.closed_by_server(kLimitWaitMs));
  for (const auto& c : held) CHECK_FALSE(c.closed_by_server(0));
  auto full = metrics_when(scraper, s, [](const auto& m) { return figure(m, kGlobal) >= 3; });
  CHECK(full.at(kGlobal) == 3);
  CHECK(full.at(kPerAddress) == 0);
  CHECK(full.at("hfv_connections_open") == 12);

  // A hostile client leaving gives its slots back: the case system is served again.
  held.clear();
  excess.clear();
  metrics_when(scraper, s, [](const auto& m) { return figure(m, "hfv_connections_open") == 1; });
  const json report = s.verify("HRB-LIMITS-2", demo_couple());
  CHECK(report.contains("rules"));
}

TEST_CASE("connection limits: a peer that stalls mid-handshake is closed at the handshake timeout, one that hangs up idle or mid-request leaves no connection open",
          "[integration][hardening][limits]") {
  Stack s([](json& config, const std::filesystem::path&) {
    config["limits"] = {{"max_connections", 64}, {"max_connections_per_address", 8}, {"handshake_timeout_ms", 1500}};
  });
  const int port = port_of(s);
  KeepAliveClient scraper(s.supervisor, "op-test-01", 60);
  metrics_when(scraper, s, [](const auto& m) { return figure(m, "hfv_connections_open") == 1; });

  // The first bytes of a TLS record, then silence: the handshake has begun
  // (the server builds its TLS stream) and never ends.
  IdleConnection stalled("127.0.0.2", port);
  const auto sent = std::chrono::steady_clock::now();
  stalled.send(std::string_view("\x16\x03\x01", 3));
  CHECK(stalled.closed_by_server(kLimitWaitMs));
  CHECK(std::chrono::steady_clock::now() - sent >= std::chrono::milliseconds(1400));
  metrics_when(scraper, s, [](const auto& m) { return figure(m, "hfv_connections_open") == 1; });

  {
    // Past the handshake, then gone: one without a byte of HTTP, one in
    // the middle of a request's body.
    TlsConnection idle(s.case_system, port);
    TlsConnection partial(s.case_system, port);
    partial.write("POST /v1/verifications HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                  "Content-Length: 100\r\n\r\n{\"household\":");
    metrics_when(scraper, s, [](const auto& m) { return figure(m, "hfv_connections_open") == 3; });
  }
  metrics_when(scraper, s, [](const auto& m) { return figure(m, "hfv_connections_open") == 1; });
  // The daemon still serves.
  const json report = s.verify("HRB-LIMITS-3", demo_couple());
  CHECK(report.contains("rules"));
}
