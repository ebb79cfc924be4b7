// Test helpers for integration tests: child processes that are always
// stopped, files awaited with a deadline, and a small libcurl HTTPS client.
#pragma once

#include <algorithm>
#include <atomic>
#include <cctype>
#include <strings.h>
#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace hfv::testing {

// A child process; SIGKILLed in the destructor if still running.
class Process {
 public:
  Process(std::vector<std::string> argv, const std::filesystem::path& log_file) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      FILE* log = std::fopen(log_file.c_str(), "w");
      if (log != nullptr) {
        dup2(fileno(log), STDERR_FILENO);
        dup2(fileno(log), STDOUT_FILENO);
      }
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Sends `signo` and waits up to `timeout`; returns the exit status, or
  // nullopt if it did not exit in time. The default is a ceiling for a
  // loaded sanitizer build, not an expectation: a prompt exit returns at once.
  std::optional<int> stop(int signo = SIGTERM, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    if (pid_ <= 0) return std::nullopt;
    kill(pid_, signo);
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }
  // Sends `signo` without waiting (SIGSTOP and SIGCONT freeze and thaw it).
  void signal(int signo) {
    if (pid_ > 0) kill(pid_, signo);
  }
  bool running() {
    if (pid_ <= 0) return false;
    return waitpid(pid_, nullptr, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = -1;
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Waits until the file exists and is non-empty; returns its contents. The
// default is a ceiling for a loaded sanitizer build (a daemon's start under
// ASan with both cores busy), not an expectation.
inline std::string wait_for_file(const std::filesystem::path& p,
                                 std::chrono::seconds timeout = std::chrono::seconds(60)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    std::error_code ec;
    if (std::filesystem::file_size(p, ec) > 0 && !ec) return read_file(p);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("timed out waiting for " + p.string());
}

struct HttpAnswer {
  long status = 0;  // 0: the connection failed
  std::string body;
  std::string curl_error;
  std::map<std::string, std::string> headers;  // names in lower case (e.g. "retry-after")
};

struct ClientTls {
  std::string ca_file;
  std::string cert_file;  // empty: no client certificate
  std::string key_file;
};

// When HFV_OPENAPI_SAMPLES names a folder, every exchange is written there
// for tests/openapi/check.mjs to check against docs/openapi.yaml.
inline void record_exchange(const std::string& method, const std::string& url, const std::string& request_body,
                            const HttpAnswer& answer) {
  const char* dir = std::getenv("HFV_OPENAPI_SAMPLES");
  if (dir == nullptr || *dir == '\0') return;
  static std::atomic<int> counter{0};  // tests may call from several threads
  std::filesystem::create_directories(dir);
  std::string path = url.substr(url.find('/', url.find("//") + 2));
  path = path.substr(0, path.find('?'));
  const nlohmann::json sample = {{"method", method}, {"path", path}, {"status", answer.status},
                                 {"request_body", request_body}, {"response_body", answer.body}};
  std::ofstream(std::filesystem::path(dir) / (std::to_string(getpid()) + "-" + std::to_string(++counter) + ".json"))
      << sample.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// `timeout_ms`: the client gives up (and closes the connection) after it.
// `hang_up_when`: asked while the exchange is under way (libcurl's progress
// callback, at least once a second); once it returns true the client closes
// the connection, as a caller that stops waiting would.
inline HttpAnswer https(const std::string& method, const std::string& url, const ClientTls& tls,
                        const std::string& body = "", std::vector<std::string> headers = {},
                        long timeout_ms = 30000, const std::function<bool()>& hang_up_when = {}) {
  HttpAnswer answer;
  CURL* curl = curl_easy_init();
  if (hang_up_when) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &hang_up_when);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION,
                     +[](void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
                       return (*static_cast<const std::function<bool()>*>(user))() ? 1 : 0;
                     });
  }
  curl_slist* list = nullptr;
  // JSON unless the caller names a Content-Type itself ("Content-Type:"
  // with no value sends none).
  if (std::none_of(headers.begin(), headers.end(), [](const std::string& h) {
        return h.size() >= 13 && strncasecmp(h.c_str(), "Content-Type:", 13) == 0;
      })) {
    headers.push_back("Content-Type: application/json");
  }
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, tls.cert_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, tls.key_file.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
    static_cast<std::string*>(u)->append(d, s * n);
    return s * n;
  });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
    const std::string line(d, s * n);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      value.erase(value.find_last_not_of("\r\n ") + 1);
      (*static_cast<std::map<std::string, std::string>*>(u))[name] = value;
    }
    return s * n;
  });
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer.headers);
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  } else {
    answer.curl_error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  record_exchange(method, url, body, answer);
  return answer;
}

}  // namespace hfv::testing
