// `brokerd check-config` against real files: a development setup made by
// `brokerd init` in a temporary folder, then one mistake at a time (and
// several at once); each problem must name the file, the key or the line.
// Also: `brokerd run` exits 78 on a configuration error, --help and
// --version, brokerctl's exit codes, and sd_notify over a real AF_UNIX
// datagram socket, from the function and from the running daemon.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "broker/app/check_config.hpp"
#include "broker/ops/config.hpp"
#include "broker/ops/systemd_notify.hpp"
#include "crypto/ed25519.hpp"
#include "tests/ops/run.hpp"
#include "tests/unit/temp_dir.hpp"

extern char** environ;  // NOLINT: POSIX

namespace fs = std::filesystem;
using namespace hfv::testing;  // run, quote, Ran (run.hpp); TempDir
using nlohmann::json;

namespace {

// A development setup from the real `brokerd init`: keys, PKI, config.
struct Setup {
  TempDir dir{"hfv-cfg"};
  fs::path root = dir.path / "broker";
  fs::path config = root / "brokerd.json";
  Setup() {
    const Ran init = run(std::string(BROKERD_BIN) + " init --dir " + quote(root) +
                         " --listen 127.0.0.1:0 --agency-url http://127.0.0.1:9");
    INFO(init.output);
    REQUIRE(init.exit_code == 0);
  }
  json read() const {
    std::ifstream in(config);
    return json::parse(in);
  }
  void write(const json& j) const { std::ofstream(config, std::ios::trunc) << j.dump(2); }
  void edit(const std::function<void(json&)>& change) const {
    json j = read();
    change(j);
    write(j);
  }
  Ran check() const { return run(std::string(BROKERD_BIN) + " check-config --config " + quote(config)); }
};

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The one line of `output` that holds `part` (empty when none).
std::string line_with(const std::string& output, const std::string& part) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (has(line, part)) return line;
  }
  return {};
}

}  // namespace

TEST_CASE("check-config: a setup from brokerd init is fine and exits 0", "[ops][config]") {
  Setup s;
  const Ran r = s.check();
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(has(r.output, "ok"));
  CHECK(hfv::broker::check_config(s.config).empty());
}

TEST_CASE("check-config: the retention and limits objects are known keys, and a bad limit is named",
          "[ops][config]") {
  Setup s;
  s.edit([](json& j) {
    j["retention"] = {{"reports_days", 30}};
    j["limits"] = {{"max_connections", 2048}, {"max_connections_per_address", 32}};
  });
  const Ran good = s.check();
  INFO(good.output);
  CHECK(good.exit_code == 0);
  s.edit([](json& j) { j["limits"]["max_connections_per_address"] = 0; });
  const Ran bad = s.check();
  INFO(bad.output);
  CHECK(bad.exit_code == 78);
  CHECK(has(bad.output, "limits.max_connections_per_address: must be an integer from 1 to 1000000"));
  CHECK_FALSE(has(bad.output, "limits: unknown key"));
}

TEST_CASE("check-config: a JSON syntax error is reported with its line and column", "[ops][config]") {
  Setup s;
  std::ofstream(s.config, std::ios::trunc) << "{\n  \"listen\": \"127.0.0.1:0\",\n  \"tls\": {\n    \"ca_file\" \"x\"\n}\n";
  const Ran r = s.check();
  INFO(r.output);
  CHECK(r.exit_code == 78);
  CHECK(has(r.output, s.config.string() + ":line 4, column "));
  CHECK(has(r.output, "not valid JSON"));
  // brokerd run says the same and exits 78 (EX_CONFIG), not 1.
  const Ran start = run(std::string(BROKERD_BIN) + " run --config " + quote(s.config));
  INFO(start.output);
  CHECK(start.exit_code == 78);
  CHECK(has(start.output, "line 4, column "));
}

TEST_CASE("check-config: the line and column of a JSON error count characters, not bytes", "[ops][config]") {
  const std::string text = "{\n  \"名\": tru }";
  // nlohmann's byte is 1-based and points at the offending byte.
  const auto at = text.find('}') + 1;
  CHECK(hfv::broker::json_error_position(text, at) == "line 2, column 12");
  CHECK(hfv::broker::json_error_position("", 0) == "line 1, column 1");
}

TEST_CASE("check-config: unknown and mis-typed keys are named by their path, all of them", "[ops][config]") {
  Setup s;
  s.edit([](json& j) {
    j["tls_files"] = "x";          // unknown
    j["listen_adress"] = "x";      // unknown, a second one
    j["max_body_bytes"] = "big";   // mis-typed
  });
  const Ran r = s.check();
  INFO(r.output);
  CHECK(r.exit_code == 78);
  CHECK(has(line_with(r.output, "tls_files"), s.config.string()));
  CHECK(has(r.output, "tls_files: unknown key"));
  CHECK(has(r.output, "listen_adress: unknown key"));
  s.edit([](json& j) {
    j.erase("tls_files");
    j.erase("listen_adress");
  });
  const Ran typed = s.check();
  INFO(typed.output);
  CHECK(typed.exit_code == 78);
  CHECK(has(typed.output, s.config.string() + ": max_body_bytes: must be an integer"));
  s.edit([](json& j) {
    j["max_body_bytes"] = 262144;
    j["tls"]["key_fle"] = "pki/server.key";
  });
  const Ran nested = s.check();
  INFO(nested.output);
  CHECK(has(nested.output, "tls.key_fle: unknown key"));
}

TEST_CASE("check-config: server TLS files, each error names the key and the file", "[ops][config]") {
  Setup s;
  const fs::path pki = s.root / "pki";
  SECTION("missing CA bundle") {
    fs::remove(pki / "ca.pem");
    const Ran r = s.check();
    INFO(r.output);
    CHECK(r.exit_code == 78);
    CHECK(has(r.output, "tls.ca_file: " + (pki / "ca.pem").string() + ": does not exist"));
  }
  SECTION("a certificate file that holds no certificate") {
    std::ofstream(pki / "server.pem", std::ios::trunc) << "not a certificate\n";
    const Ran r = s.check();
    INFO(r.output);
    CHECK(r.exit_code == 78);
    CHECK(has(r.output, "tls.cert_file: " + (pki / "server.pem").string() + ": not a PEM certificate chain"));
  }
  SECTION("a key that is not the certificate's") {
    s.edit([](json& j) { j["tls"]["key_file"] = "pki/demo-case-system.key"; });
    const Ran r = s.check();
    INFO(r.output);
    CHECK(r.exit_code == 78);
    CHECK(has(r.output, "tls.key_file: " + (pki / "demo-case-system.key").string() +
                            ": does not belong to the certificate in tls.cert_file"));
  }
  SECTION("a CRL that is not one") {
    std::ofstream(pki / "crl.pem") << "garbage\n";
    s.edit([](json& j) { j["tls"]["crl_file"] = "pki/crl.pem"; });
    const Ran r = s.check();
    INFO(r.output);
    CHECK(r.exit_code == 78);
    CHECK(has(r.output, "tls.crl_file: " + (pki / "crl.pem").string()));
  }
}

TEST_CASE("check-config: master key, signing key, divisions and storage folders", "[ops][config]") {
  Setup s;
  ::unsetenv("HFV_MASTER_KEY");          // NOLINT(concurrency-mt-unsafe): single-threaded test
  ::unsetenv("CREDENTIALS_DIRECTORY");   // NOLINT(concurrency-mt-unsafe)
  fs::remove(s.root / "keys" / "master.key");
  std::ofstream(s.root / "keys" / "report-signing.key", std::ios::trunc) << "not a key\n";
  s.edit([&](json& j) {
    j["divisions_dir"] = "no-such-divisions";
    j["state_db"] = "missing-folder/state.db";
  });
  const Ran r = s.check();
  INFO(r.output);
  CHECK(r.exit_code == 78);
  CHECK(has(r.output, "master_key_file: " + (s.root / "keys" / "master.key").string()));
  CHECK(has(r.output, "signing_key_file: " + (s.root / "keys" / "report-signing.key").string()));
  CHECK(has(r.output, "divisions_dir: " + (s.root / "no-such-divisions").string()));
  CHECK(has(r.output, "state_db: " + (s.root / "missing-folder" / "state.db").string() + ": its folder"));
  // Every problem is one line naming the config file.
  std::istringstream lines(r.output);
  int problems = 0;
  for (std::string line; std::getline(lines, line);) {
    if (has(line, s.config.string() + ": ")) ++problems;
  }
  CHECK(problems >= 4);
}

TEST_CASE("check-config: a bad policy file is named", "[ops][config]") {
  Setup s;
  const fs::path policies = s.dir.path / "policies";
  fs::copy(HFV_SOURCE_DIR "/policies/data", policies);
  std::ofstream(policies / "230100.json", std::ios::trunc) << "{\"jurisdiction\": \"230100\"}\n";
  s.edit([&](json& j) { j["policies_dir"] = policies.string(); });
  const Ran r = s.check();
  INFO(r.output);
  CHECK(r.exit_code == 78);
  CHECK(has(line_with(r.output, "policies_dir"), "230100.json"));
}

TEST_CASE("check-config: a policy file's JSON syntax error names the file, line and column", "[ops][config]") {
  Setup s;
  const fs::path policies = s.dir.path / "policies";
  fs::copy(HFV_SOURCE_DIR "/policies/data", policies);
  std::ofstream(policies / "610700.json", std::ios::trunc) << "{\n  \"jurisdiction\": \"610700\",,\n}\n";
  s.edit([&](json& j) { j["policies_dir"] = policies.string(); });
  const Ran r = s.check();
  INFO(r.output);
  CHECK(r.exit_code == 78);
  CHECK(has(r.output, (policies / "610700.json").string() + ":line 2, column 28: not valid JSON"));
}

TEST_CASE("check-config: agencies, plain http only with allow_plaintext, and their TLS files", "[ops][config]") {
  Setup s;
  // brokerd init pointed every agency at a plain-http simulator: it says so.
  CHECK(s.read()["agencies"]["bank"].value("allow_plaintext", false));
  s.edit([](json& j) {
    j["agencies"]["bank"].erase("allow_plaintext");
    j["agencies"]["tax"] = {{"base_url", "https://"}};
    j["agencies"]["hukou"] = {{"base_url", "https://hukou.example"}, {"ca_file", "pki/no-such-ca.pem"},
                              {"client_cert_file", "pki/demo-case-system.pem"},
                              {"client_key_file", "pki/server.key"}};
  });
  const Ran r = s.check();
  INFO(r.output);
  CHECK(r.exit_code == 78);
  CHECK(has(r.output, "agencies.bank.base_url: http:// sends ID numbers in clear"));
  CHECK(has(r.output, "agencies.tax.base_url: not a valid http:// or https:// URL"));
  CHECK(has(r.output, "agencies.hukou.ca_file: " + (s.root / "pki" / "no-such-ca.pem").string()));
  CHECK(has(r.output, "agencies.hukou.client_key_file: " + (s.root / "pki" / "server.key").string() +
                          ": does not belong to the certificate"));
  // The loader refuses the plain-http agency too, so `run` does.
  auto loaded = hfv::broker::load_config(s.config);
  REQUIRE_FALSE(loaded);
  CHECK(has(loaded.error().message, "agencies."));
}

TEST_CASE("brokerd: run --help and init --help print usage, --version the version and heap, a bad option exits 2",
          "[ops]") {
  for (const char* args : {" run --help", " init --help", " check-config --help"}) {
    const Ran r = run(std::string(BROKERD_BIN) + args);
    INFO(args << "\n" << r.output);
    CHECK(r.exit_code == 0);
    CHECK(has(r.output, "check-config --config FILE"));
  }
  const Ran version = run(std::string(BROKERD_BIN) + " --version");
  CHECK(version.exit_code == 0);
  CHECK(has(version.output, std::string("brokerd ") + HFV_VERSION));
  // The allocator the build links is the one the daemon runs on (a linker
  // that dropped tcmalloc as unneeded would leave glibc's).
  CHECK(has(version.output, std::string("(malloc: ") + BROKERD_HEAP + ")"));
  CHECK(run(std::string(BROKERD_BIN) + " run --bogus").exit_code == 2);
  CHECK(run(std::string(BROKERD_BIN) + " run --config /nonexistent/brokerd.json").exit_code == 78);
}

TEST_CASE("brokerd: run names the TLS file it cannot load and exits 78", "[ops]") {
  Setup s;
  const fs::path cert = s.root / "pki" / "server.pem";
  std::ofstream(cert, std::ios::trunc) << "not a certificate\n";
  const Ran r = run(std::string(BROKERD_BIN) + " run --config " + quote(s.config));
  INFO(r.output);
  CHECK(r.exit_code == 78);
  CHECK(has(r.output, "tls.cert_file " + cert.string() + " could not be loaded"));
}

TEST_CASE("brokerd: a start failure that is not the configuration keeps exit status 1", "[ops]") {
  Setup s;
  // The configured port is taken by a listener of this test.
  const int taken = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(taken >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(taken, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);  // NOLINT
  REQUIRE(::listen(taken, 1) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(taken, reinterpret_cast<sockaddr*>(&address), &length) == 0);  // NOLINT
  s.edit([&](json& j) { j["listen"] = "127.0.0.1:" + std::to_string(ntohs(address.sin_port)); });
  CHECK(s.check().exit_code == 0);  // nothing wrong with the configuration
  const Ran r = run(std::string(BROKERD_BIN) + " run --config " + quote(s.config));
  ::close(taken);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(has(r.output, "start_failed"));
}

TEST_CASE("brokerctl: --version, usage errors exit 2, status tells its own unreadable files from a daemon down",
          "[ops]") {
  const Ran version = run(std::string(BROKERCTL_BIN) + " --version");
  INFO(version.output);
  CHECK(version.exit_code == 0);
  CHECK(has(version.output, std::string("brokerctl ") + HFV_VERSION));
  CHECK(run(std::string(BROKERCTL_BIN) + " --no-such-option").exit_code == 2);
  CHECK(run(std::string(BROKERCTL_BIN) + " status --bogus").exit_code == 2);
  CHECK(run(std::string(BROKERCTL_BIN) + " no-such-command").exit_code == 2);

  Setup s;
  const fs::path pki = s.root / "pki";
  // Nothing listens on the configured port (the daemon never started):
  // its port file names a port nobody has.
  std::ofstream(s.root / "run" / "brokerd.port") << "1\n";
  const Ran down = run(std::string(BROKERCTL_BIN) + " status --config " + quote(s.config));
  INFO(down.output);
  CHECK(down.exit_code == 1);
  CHECK(has(down.output, "DOWN"));
  const Ran no_key = run(std::string(BROKERCTL_BIN) + " status --config " + quote(s.config) + " --cert " +
                         quote(pki / "demo-supervisor.pem") + " --key " + quote(pki / "missing.key"));
  INFO(no_key.output);
  CHECK(no_key.exit_code == 3);
  CHECK(has(no_key.output, "cannot read the client key " + (pki / "missing.key").string()));
  fs::remove(pki / "ca.pem");
  const Ran no_ca = run(std::string(BROKERCTL_BIN) + " status --config " + quote(s.config));
  INFO(no_ca.output);
  CHECK(no_ca.exit_code == 3);
  CHECK(has(no_ca.output, "cannot read the CA file " + (pki / "ca.pem").string()));
}

namespace {

// A datagram socket standing in for systemd's notification socket.
struct NotifySocket {
  int fd = -1;
  std::string name;  // as $NOTIFY_SOCKET spells it
  explicit NotifySocket(const std::string& socket_name) : name(socket_name) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    if (name[0] == '@') address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                               (name[0] == '@' ? 0 : 1));
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0);  // NOLINT
  }
  ~NotifySocket() { ::close(fd); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  // The next datagram; empty after `ceiling_ms` (a ceiling far above the
  // event awaited, never a sleep).
  std::string next(int ceiling_ms = 30000) const {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, ceiling_ms) != 1) return {};
    char buf[512];
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
};

}  // namespace

TEST_CASE("sd_notify: a datagram to a path or an abstract socket, nothing without NOTIFY_SOCKET",
          "[ops][unit]") {
  TempDir dir("hfv-notify");
  {
    NotifySocket socket((dir.path / "notify").string());
    ::setenv("NOTIFY_SOCKET", socket.name.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
    CHECK(hfv::broker::notify_systemd("READY=1"));
    CHECK(socket.next() == "READY=1");
  }
  {
    NotifySocket socket("@hfv-notify-" + std::to_string(::getpid()));
    ::setenv("NOTIFY_SOCKET", socket.name.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
    CHECK(hfv::broker::notify_systemd("STOPPING=1"));
    CHECK(socket.next() == "STOPPING=1");
  }
  ::unsetenv("NOTIFY_SOCKET");  // NOLINT(concurrency-mt-unsafe)
  CHECK_FALSE(hfv::broker::notify_systemd("READY=1"));
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);  // NOLINT(concurrency-mt-unsafe)
  CHECK_FALSE(hfv::broker::notify_systemd("READY=1"));
  ::unsetenv("NOTIFY_SOCKET");  // NOLINT(concurrency-mt-unsafe)
}

TEST_CASE("sd_notify: brokerd run says READY=1 once listening and STOPPING=1 on SIGTERM", "[ops][integration]") {
  Setup s;
  NotifySocket socket((s.dir.path / "notify").string());
  ::setenv("NOTIFY_SOCKET", socket.name.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
  const std::string config = s.config.string();
  const std::string log = (s.dir.path / "brokerd.log").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const char* argv[] = {BROKERD_BIN, "run", "--config", config.c_str(), nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, BROKERD_BIN, &actions, nullptr, const_cast<char**>(argv), environ);  // NOLINT
  posix_spawn_file_actions_destroy(&actions);
  ::unsetenv("NOTIFY_SOCKET");  // NOLINT(concurrency-mt-unsafe)
  REQUIRE(spawned == 0);
  const std::string ready = socket.next();
  std::ifstream started(s.root / "run" / "brokerd.port");
  std::string port;
  started >> port;
  CHECK(ready == "READY=1");
  CHECK_FALSE(port.empty());  // the port file was written before READY=1
  ::kill(pid, SIGTERM);
  CHECK(socket.next() == "STOPPING=1");
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  INFO(text);
  // init's agencies are plain http with allow_plaintext: each is warned about.
  CHECK(has(text, R"("event":"agency_plaintext")"));
  CHECK(has(text, R"("agency":"bank")"));
}

TEST_CASE("check-config: peers, agency divisions and peer principals are checked, each problem named",
          "[ops][config][cross-region]") {
  Setup s;
  // A peer needs its report key as PEM: this setup's own public key serves.
  const auto signer = hfv::crypto::Ed25519Signer::load(s.root / "keys" / "report-signing.key");
  REQUIRE(signer.ok());
  std::ofstream(s.root / "peer-report.pem") << signer->public_key_pem();
  const json peer = {{"name", "hanzhong"},
                     {"url", "https://127.0.0.1:9443"},
                     {"ca_file", "pki/ca.pem"},
                     {"client_cert_file", "pki/demo-case-system.pem"},
                     {"client_key_file", "pki/demo-case-system.key"},
                     {"report_key", "peer-report.pem"},
                     {"divisions", {"6107"}},
                     {"sources", {"tax", "real_estate"}}};
  s.edit([&](json& j) {
    j["centre"] = "harbin";
    j["agencies"]["tax"]["divisions"] = {"2301"};
    j["peers"] = json::array({peer});
    j["principals"].push_back({{"name", "hanzhong"}, {"certificate_cn", "peer-hanzhong"}, {"role", "peer_broker"},
                               {"jurisdictions", {"2301"}}, {"purposes", {"dibao", "tekun"}}});
  });
  const Ran good = s.check();
  INFO(good.output);
  CHECK(good.exit_code == 0);

  const json fine = s.read();
  const auto fails_with = [&](const std::function<void(json&)>& change, const std::string& message) {
    json j = fine;
    change(j);
    s.write(j);
    const Ran bad = s.check();
    INFO(bad.output);
    CHECK(bad.exit_code == 78);
    CHECK(has(bad.output, message));
  };
  fails_with([](json& j) { j["peers"][0]["url"] = "http://127.0.0.1:9443"; },
             "peers[0].url: must be an https:// URL");
  fails_with([](json& j) { j["peers"][0]["sources"] = {"tax", "loans"}; }, "peers[0].sources: each must be a source name");
  fails_with([](json& j) { j["peers"][0]["divisions"] = {"610"}; },
             "peers[0].divisions: each must be a 2-, 4- or 6-digit division-code prefix");
  fails_with([](json& j) { j["peers"][0]["report_key"] = "pki/ca.pem"; }, "peers[0].report_key: must be the peer's");
  fails_with([](json& j) { j["agencies"]["tax"]["divisions"] = json::array(); },
             "agencies.tax.divisions: must list at least one division prefix");
  fails_with([](json& j) { j.erase("centre"); }, "centre: missing");
  fails_with([](json& j) { j["principals"].back()["purposes"] = {"loans"}; }, ".purposes: each must be dibao");
  fails_with([](json& j) { j["principals"][0]["purposes"] = {"dibao"}; }, "only a peer_broker has purposes");
  // Two peers claiming one prefix for one source: who would answer?
  fails_with(
      [&](json& j) {
        json twin = peer;
        twin["name"] = "shaanxi";
        j["peers"].push_back(twin);
      },
      "peers.shaanxi: division 6107 for tax is already served by peer hanzhong");
}
