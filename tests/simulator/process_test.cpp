// agency-sim as a real process: started with fork/execv on an ephemeral
// port, spoken to over real sockets with a small Boost.Beast client, stopped
// with SIGTERM. Covers answers, keep-alive, every fault kind, counters, the
// request log, timer-based latency under concurrency, HTTPS with client
// certificates, and a bad dataset.
#include <catch2/catch.hpp>

#include <utility>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "crypto/pki.hpp"
#include "sim_fixtures.hpp"
#include "simulator/request_log.hpp"

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using hfv::sim::Json;
using namespace std::chrono_literals;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "hfv-sim-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// agency-sim as a child process; SIGKILLed and reaped in the destructor if
// the test ends (or fails) while it still runs.
class SimProcess {
 public:
  SimProcess(const TempDir& dir, std::vector<std::string> extra_args)
      : port_file_(dir.path / "sim.port"), log_file_(dir.path / "sim.stderr") {
    std::vector<std::string> argv = {AGENCY_SIM_BIN, "--listen", "127.0.0.1:0", "--port-file",
                                     port_file_.string()};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      FILE* log = std::fopen(log_file_.c_str(), "w");
      if (log != nullptr) dup2(fileno(log), STDERR_FILENO);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~SimProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  // Waits for the port file (written atomically once listening). Fails the
  // test if the process exits first or the deadline passes.
  unsigned short wait_for_port(std::chrono::seconds limit = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string text = read_file(port_file_);
      if (!text.empty()) {
        REQUIRE(text.back() == '\n');
        return static_cast<unsigned short>(std::stoul(text));
      }
      if (auto status = exited()) FAIL("agency-sim exited with " << *status << ": " << log());
      std::this_thread::sleep_for(10ms);
    }
    FAIL("agency-sim did not write its port file in time: " << log());
    return 0;
  }

  // The exit status if the process has ended (128+N for signal N).
  std::optional<int> exited() {
    int status = 0;
    if (pid_ <= 0 || waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // Sends `signo` and waits for the exit status (nullopt: still running).
  std::optional<int> stop(int signo = SIGTERM, std::chrono::seconds limit = 60s) {
    kill(pid_, signo);
    return wait(limit);
  }
  std::optional<int> wait(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto status = exited()) return status;
      std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
  }

  std::string log() const { return read_file(log_file_); }

 private:
  fs::path port_file_;
  fs::path log_file_;
  pid_t pid_ = -1;
};

struct Answer {
  int status = 0;
  std::string body;
  http::response<http::string_body> message;
  Json json() const { return Json::parse(body); }
};

// A tiny HTTP(S)/1.1 client on one keep-alive connection. Every step has a
// deadline (async operations run to completion on a private io_context);
// failures throw boost::system::system_error.
class Client {
 public:
  explicit Client(unsigned short port, net::ssl::context* tls = nullptr) {
    const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
    if (tls != nullptr) {
      tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, *tls);
      tls_->set_verify_callback(net::ssl::host_name_verification("127.0.0.1"));
    } else {
      plain_ = std::make_unique<beast::tcp_stream>(io_);
    }
    lowest().expires_after(5s);
    run([&](auto done) { lowest().async_connect(endpoint, [done](error_code ec) { done(ec); }); });
    if (tls_) {
      lowest().expires_after(5s);
      run([&](auto done) { tls_->async_handshake(net::ssl::stream_base::client, done); });
    }
  }

  void send(const std::string& method, const std::string& target, const std::string& body = "",
            const std::string& content_type = "application/json") {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = body;
    req.keep_alive(true);
    req.prepare_payload();
    lowest().expires_after(5s);
    on_stream([&](auto& s) {
      run([&](auto done) {
        http::async_write(s, req, [done](error_code ec, std::size_t) { done(ec); });
      });
    });
  }

  Answer receive(std::chrono::milliseconds limit = 5000ms) {
    Answer a;
    lowest().expires_after(limit);
    on_stream([&](auto& s) {
      run([&](auto done) {
        http::async_read(s, buffer_, a.message, [done](error_code ec, std::size_t) { done(ec); });
      });
    });
    a.status = static_cast<int>(a.message.result_int());
    a.body = a.message.body();
    return a;
  }

  Answer request(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::string& content_type = "application/json") {
    send(method, target, body, content_type);
    return receive();
  }

 private:
  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  template <class F>
  void on_stream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }
  // Starts an operation with a completion callback `done(ec)` and runs the
  // io_context until it completes.
  template <class Start>
  void run(Start&& start) {
    error_code result;
    bool finished = false;
    start([&result, &finished](error_code ec) {
      result = ec;
      finished = true;
    });
    io_.restart();
    io_.run();
    if (!finished) throw std::runtime_error("operation did not complete");
    if (result) throw boost::system::system_error(result);
  }

  net::io_context io_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
};

std::string inquiry(const std::string& id, int page_no = 1, int page_size = 50) {
  return Json{{"certType", "01"},
              {"certNo", id},
              {"queryId", "q-" + id.substr(14)},
              {"pageNo", page_no},
              {"pageSize", page_size}}
      .dump();
}

const std::string kPath = "/bank/v2/deposit-inquiry";
const std::string kError500 = "110101199003070051";
const std::string kTimeout = "110101199003070068";
const std::string kReset = "110101199003070076";
const std::string kMalformed = "110101199003070084";
const std::string kRateLimited = "110101199003070092";

std::string process_dataset() {
  Json d = Json::parse(hfv::sim::testing::sample_dataset_text());
  d["faults"] = Json{{"bank",
                      {{"persons",
                        {{kError500, "error_500"},
                         {kTimeout, "timeout"},
                         {kReset, "reset"},
                         {kMalformed, "malformed"},
                         {kRateLimited, "rate_limited"}}}}}};
  return d.dump();
}

}  // namespace

TEST_CASE("sim process: answers, faults, counters, request log, graceful stop",
          "[simulator][process]") {
  using hfv::sim::testing::kAbsent;
  using hfv::sim::testing::kRich;
  TempDir dir;
  write_file(dir.path / "dataset.json", process_dataset());
  const fs::path request_log = dir.path / "requests.ndjson";
  SimProcess sim(dir, {"--dataset", (dir.path / "dataset.json").string(), "--request-log",
                       request_log.string(), "--seed", "11"});
  const unsigned short port = sim.wait_for_port();
  INFO(sim.log());

  Client client(port);
  const Answer health = client.request("GET", "/_sim/health");
  CHECK(health.status == 200);
  CHECK(health.json() == Json{{"status", "ok"}});

  // Two pages over the same keep-alive connection.
  const Answer page1 = client.request("POST", kPath, inquiry(kRich, 1, 2));
  REQUIRE(page1.status == 200);
  const Json p1 = page1.json();
  CHECK(p1["retCode"] == "0000");
  CHECK(p1["queryId"] == "q-0011");
  CHECK(p1["body"]["custName"] == "张三");
  CHECK(p1["body"]["totalCount"] == 3);
  REQUIRE(p1["body"]["accounts"].size() == 2);
  CHECK(p1["body"]["accounts"][0]["balance"] == "12345.67");
  CHECK(p1["body"]["accounts"][0]["balanceDate"] == "20261101");
  const Answer page2 = client.request("POST", kPath, inquiry(kRich, 2, 2));
  REQUIRE(page2.status == 200);
  CHECK(page2.json()["body"]["accounts"].size() == 1);

  CHECK(client.request("POST", kPath, inquiry(kAbsent)).json()["retCode"] == "1001");
  const Answer bad = client.request("POST", kPath, R"({"certNo":"123"})");
  CHECK(bad.status == 400);
  CHECK(bad.json()["retCode"] == "9001");
  CHECK(client.request("GET", kPath).status == 405);
  CHECK(client.request("POST", "/nowhere", "{}").status == 404);

  const Answer e500 = client.request("POST", kPath, inquiry(kError500));
  CHECK(e500.status == 500);
  const Answer malformed = client.request("POST", kPath, inquiry(kMalformed));
  CHECK(malformed.status == 200);
  CHECK(Json::parse(malformed.body, nullptr, false).is_discarded());
  const Answer limited = client.request("POST", kPath, inquiry(kRateLimited));
  CHECK(limited.status == 429);
  CHECK(limited.message[http::field::retry_after] == "1");

  // Reset: the connection is aborted without an answer.
  {
    Client victim(port);
    victim.send("POST", kPath, inquiry(kReset));
    CHECK_THROWS_AS(victim.receive(), boost::system::system_error);
  }

  // Timeout: no answer, the connection stays open, others are still served.
  Client hanging(port);
  hanging.send("POST", kPath, inquiry(kTimeout));
  try {
    hanging.receive(300ms);
    FAIL("the timeout fault answered");
  } catch (const boost::system::system_error& e) {
    CHECK(e.code() == beast::error::timeout);
  }
  CHECK(Client(port).request("GET", "/_sim/health").status == 200);

  const Json counts = client.request("GET", "/_sim/requests").json();
  CHECK(counts["total"] == 10);
  CHECK(counts["by_agency"]["bank"] == 10);
  CHECK(counts["by_path"][kPath] == 10);
  CHECK(counts["unrouted"] == 1);

  // One line per agency request; ID numbers only as hashes.
  const std::string log = read_file(request_log);
  std::vector<Json> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) lines.push_back(Json::parse(line));
  REQUIRE(lines.size() == 10);
  CHECK(lines[0]["agency"] == "bank");
  CHECK(lines[0]["path"] == kPath);
  CHECK(lines[0]["person_sha256"] == hfv::sim::sha256_hex(kRich));
  CHECK(lines[0]["status"] == 200);
  CHECK(lines[0]["fault"] == "");
  CHECK(lines[0]["ts"].get<std::string>().size() == 24);
  std::map<std::string, std::pair<int, std::string>> by_person;
  for (const auto& l : lines) by_person[l["person_sha256"]] = {l["status"], l["fault"]};
  CHECK(by_person[hfv::sim::sha256_hex(kError500)] ==
        std::pair<int, std::string>{500, "error_500"});
  CHECK(by_person[hfv::sim::sha256_hex(kReset)] == std::pair<int, std::string>{0, "reset"});
  CHECK(by_person[hfv::sim::sha256_hex(kTimeout)] == std::pair<int, std::string>{0, "timeout"});
  for (const std::string& id : {std::string(kRich), kError500, kTimeout, kReset, kMalformed}) {
    CHECK(log.find(id) == std::string::npos);
  }

  CHECK(client.request("POST", "/_sim/reset-requests").status == 200);
  CHECK(client.request("GET", "/_sim/requests").json()["total"] == 0);

  // SIGTERM with a connection still held by the timeout fault: exits 0
  // promptly, not when the held connection's 120 s are up (the bound leaves
  // room for a loaded sanitizer build).
  const auto stopping = std::chrono::steady_clock::now();
  REQUIRE(sim.stop(SIGTERM) == 0);
  CHECK(std::chrono::steady_clock::now() - stopping < 30s);
  const std::string stderr_text = sim.log();
  CHECK_THAT(stderr_text,
             Catch::Matchers::Contains("listening on http://127.0.0.1:" + std::to_string(port)));
  CHECK(stderr_text.find(kRich) == std::string::npos);
}

TEST_CASE("sim process: latency waits on timers, so slow requests overlap",
          "[simulator][process]") {
  TempDir dir;
  write_file(dir.path / "dataset.json", hfv::sim::testing::sample_dataset_text());
  // 3 s each: long enough that the bounds below tell overlap and "not
  // delayed" apart from their alternatives with room for a loaded
  // sanitizer build.
  SimProcess sim(dir, {"--dataset", (dir.path / "dataset.json").string(), "--latency-ms", "3000"});
  const unsigned short port = sim.wait_for_port();

  constexpr int kClients = 100;  // 300 s if served one after the other
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<Client>(port));
  const auto start = std::chrono::steady_clock::now();
  for (auto& c : clients) c->send("POST", kPath, inquiry(hfv::sim::testing::kRich));
  for (auto& c : clients) CHECK(c->receive(60'000ms).status == 200);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= 3000ms);
  CHECK(elapsed < 30s);  // a tenth of one after the other
  // Control endpoints are not delayed: well under the 3 s every agency answer waits.
  const auto control_start = std::chrono::steady_clock::now();
  CHECK(clients[0]->request("GET", "/_sim/health").status == 200);
  CHECK(std::chrono::steady_clock::now() - control_start < 1500ms);
  CHECK(sim.stop(SIGINT) == 0);
}

TEST_CASE("sim process: HTTPS only, with client certificates required", "[simulator][process]") {
  TempDir dir;
  hfv::crypto::DevPkiOptions pki;
  pki.dir = dir.path / "pki";
  pki.client_names = {"broker"};
  REQUIRE(hfv::crypto::create_dev_pki(pki).ok());
  write_file(dir.path / "dataset.json", hfv::sim::testing::sample_dataset_text());
  SimProcess sim(dir,
                 {"--dataset", (dir.path / "dataset.json").string(), "--tls-cert",
                  (pki.dir / "server.pem").string(), "--tls-key", (pki.dir / "server.key").string(),
                  "--tls-client-ca", (pki.dir / "ca.pem").string()});
  const unsigned short port = sim.wait_for_port();
  INFO(sim.log());

  net::ssl::context with_cert(net::ssl::context::tls_client);
  with_cert.load_verify_file((pki.dir / "ca.pem").string());
  with_cert.set_verify_mode(net::ssl::verify_peer);
  with_cert.use_certificate_chain_file((pki.dir / "broker.pem").string());
  with_cert.use_private_key_file((pki.dir / "broker.key").string(), net::ssl::context::pem);
  Client client(port, &with_cert);
  const Answer a = client.request("POST", kPath, inquiry(hfv::sim::testing::kRich));
  CHECK(a.status == 200);
  CHECK(a.json()["body"]["totalCount"] == 3);  // the sample's "all" fault exempts this person
  CHECK(client.request("GET", "/_sim/health").status == 200);

  net::ssl::context no_cert(net::ssl::context::tls_client);
  no_cert.load_verify_file((pki.dir / "ca.pem").string());
  no_cert.set_verify_mode(net::ssl::verify_peer);
  CHECK_THROWS([&] {
    Client anonymous(port, &no_cert);
    anonymous.request("GET", "/_sim/health");
  }());
  net::ssl::context old_tls(net::ssl::context::tls_client);
  old_tls.set_verify_mode(net::ssl::verify_none);
  SSL_CTX_set_max_proto_version(old_tls.native_handle(), TLS1_1_VERSION);
  CHECK_THROWS([&] { Client ancient(port, &old_tls); }());
  CHECK_THROWS([&] { Client(port).request("GET", "/_sim/health"); }());  // plain HTTP

  CHECK(sim.stop(SIGTERM) == 0);
  CHECK_THAT(sim.log(), Catch::Matchers::Contains("listening on https://127.0.0.1:"));
}

TEST_CASE("sim process: a bad dataset exits 1 naming the place, ID masked",
          "[simulator][process]") {
  TempDir dir;
  write_file(dir.path / "dataset.json",
             R"({"persons": {"230102197503120016": {"bank": [{"bank": "x", "account": "1",
                 "balance": 5, "as_of": "2026-11-01"}]}}})");
  SimProcess sim(dir, {"--dataset", (dir.path / "dataset.json").string()});
  REQUIRE(sim.wait(20s) == 1);
  const std::string err = sim.log();
  CHECK_THAT(err, Catch::Matchers::Contains("persons[0] (230102********0016): bank[0].balance"));
  CHECK(err.find("230102197503120016") == std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "sim.port"));
}
