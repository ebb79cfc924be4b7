// hfv-conn-bench: what connections that send nothing cost brokerd, and
// whether the memory a burst of them took comes back (issue 20), for
// bench/run. Reads the daemon's RSS (/proc/PID/status VmRSS) and counts its
// open descriptors (/proc/PID/fd) to know when it has accepted, or let go
// of, the connections this tool opened. Prints one JSON object on stdout.
//
//   hfv-conn-bench --port P --pid PID --ca PEM --cert PEM --key PEM [--idle N] [--burst M]
//
// Phases, each against the same daemon: N TCP connections that send
// nothing; N that complete the TLS handshake (client certificate
// included) and then send nothing; then a burst of M held at once, a third
// of each kind (idle; TLS then nothing; TLS then a request line and
// silence), all closed together. RSS is read before and after each.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  long pid = 0;
  std::string ca, cert, key;
  int idle = 1000;
  int burst = 5000;
};

long rss_bytes(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) * 1024;
  }
  return -1;
}

long open_fds(long pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return -1;
  long n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

// Waits until the daemon holds `fds` descriptors (it accepted, or closed,
// the connections), then a moment for it to settle; false after a minute.
bool wait_for_fds(long pid, long fds) {
  const auto until = Clock::now() + std::chrono::seconds(60);
  while (open_fds(pid) != fds) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  return true;
}

int tcp_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

enum class Kind { kIdle, kTls, kRequestLine };

struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;
};

// `count` connections of the kinds given (in turn), opened by 4 threads.
std::vector<Connection> open_connections(SSL_CTX* ctx, int port, int count, const std::vector<Kind>& kinds,
                                         std::atomic<int>& failures) {
  std::vector<Connection> out(static_cast<std::size_t>(count));
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i; (i = next++) < count;) {
      Connection& c = out[static_cast<std::size_t>(i)];
      c.fd = tcp_connect(port);
      if (c.fd < 0) {
        ++failures;
        continue;
      }
      const Kind kind = kinds[static_cast<std::size_t>(i) % kinds.size()];
      if (kind == Kind::kIdle) continue;
      c.ssl = SSL_new(ctx);
      SSL_set_fd(c.ssl, c.fd);
      if (SSL_connect(c.ssl) != 1) {
        ++failures;
        continue;
      }
      if (kind == Kind::kRequestLine) {
        static constexpr char kLine[] = "GET /v1/verifications HTTP/1.1\r\n";
        if (SSL_write(c.ssl, kLine, sizeof kLine - 1) <= 0) ++failures;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  return out;
}

void close_all(std::vector<Connection>& connections) {
  for (auto& c : connections) {
    if (c.ssl != nullptr) SSL_free(c.ssl);
    if (c.fd >= 0) ::close(c.fd);
  }
  connections.clear();
}

int usage() {
  std::fprintf(stderr, "usage: hfv-conn-bench --port P --pid PID --ca PEM --cert PEM --key PEM [--idle N] [--burst M]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--port") o.port = std::stoi(next());
    else if (a == "--pid") o.pid = std::stol(next());
    else if (a == "--ca") o.ca = next();
    else if (a == "--cert") o.cert = next();
    else if (a == "--key") o.key = next();
    else if (a == "--idle") o.idle = std::stoi(next());
    else if (a == "--burst") o.burst = std::stoi(next());
    else return usage();
  }
  if (o.port == 0 || o.pid == 0 || o.ca.empty() || o.cert.empty() || o.key.empty()) return usage();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (SSL_CTX_load_verify_locations(ctx, o.ca.c_str(), nullptr) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx, o.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, o.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::fprintf(stderr, "hfv-conn-bench: cannot load the client's TLS files\n");
    return 1;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  std::atomic<int> failures{0};
  const long base_fds = open_fds(o.pid);
  nlohmann::json out;
  bool settled = wait_for_fds(o.pid, base_fds);
  const long rss_idle = rss_bytes(o.pid);
  out["rss_idle_bytes"] = rss_idle;

  // Each phase: open, wait until the daemon holds them all, read RSS,
  // close, wait until it has let them all go.
  auto phase = [&](const char* name, int count, const std::vector<Kind>& kinds) {
    const long before = rss_bytes(o.pid);
    const auto started = Clock::now();
    auto connections = open_connections(ctx, o.port, count, kinds, failures);
    const double open_s = std::chrono::duration<double>(Clock::now() - started).count();
    settled = wait_for_fds(o.pid, base_fds + count) && settled;
    const long held = rss_bytes(o.pid);
    close_all(connections);
    settled = wait_for_fds(o.pid, base_fds) && settled;
    const long after = rss_bytes(o.pid);
    out[name] = {{"connections", count},
                 {"rss_before_bytes", before},
                 {"rss_held_bytes", held},
                 {"rss_after_close_bytes", after},
                 {"bytes_per_connection", count > 0 ? (held - before) / count : 0},
                 {"seconds_to_open", open_s}};
  };
  phase("idle_tcp", o.idle, {Kind::kIdle});
  phase("idle_after_tls", o.idle, {Kind::kTls});
  phase("burst", o.burst, {Kind::kIdle, Kind::kTls, Kind::kRequestLine});
  const long rss_end = rss_bytes(o.pid);
  out["rss_after_burst_bytes"] = rss_end;
  out["rss_after_burst_over_idle"] = static_cast<double>(rss_end) / static_cast<double>(rss_idle);
  out["connection_failures"] = failures.load();
  out["settled"] = settled;  // false: the daemon did not accept or let go of every connection within a minute
  SSL_CTX_free(ctx);
  std::printf("%s\n", out.dump().c_str());
  return settled && failures == 0 ? 0 : 1;
}
