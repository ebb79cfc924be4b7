// hfv-loadgen: an open-loop HTTP(S) load generator on libcurl's multi
// interface, for bench/run.
//
// Open loop: request i is due at start + i / rate, whether or not earlier
// requests have finished, and its latency is measured from that intended
// time, so a slow server cannot hide its queueing by slowing the client
// down (no coordinated omission). Prints one JSON object on stdout.
//
//   hfv-loadgen --url URL --bodies FILE --rate R --duration S
//               [--ca PEM --cert PEM --key PEM] [--header "K: V"]... [--max-conns N]
//               [--latencies FILE]   (appends each answered request's latency in ms, one per line)
//               [--responses FILE]   (appends each answered request's status and body, one JSON line each:
//                                     {"status": S, "body": <the answer's JSON, or its text>})
//   hfv-loadgen --url URL --bodies FILE --closed N --count C ...   (closed loop, N in flight)
//
// --bodies holds one request body per line (NDJSON), used in turn.
#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string url, bodies_file, ca, cert, key, latencies_file, responses_file;
  std::vector<std::string> headers;
  double rate = 0;          // open loop
  double duration_s = 10;
  long closed = 0;          // closed loop: requests in flight
  long count = 0;           // closed loop: total requests
  long max_conns = 256;
};

struct InFlight {
  Clock::time_point intended;
  std::string response;
  curl_slist* headers = nullptr;
};

std::size_t sink(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size()))) - 1;
  return sorted[std::min(i, sorted.size() - 1)];
}

int usage() {
  std::fprintf(stderr,
               "usage: hfv-loadgen --url URL --bodies FILE (--rate R --duration S | --closed N --count C)\n"
               "                   [--ca PEM --cert PEM --key PEM] [--header 'K: V']... [--max-conns N]\n"
               "                   [--latencies FILE] [--responses FILE]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--url") o.url = next();
    else if (a == "--bodies") o.bodies_file = next();
    else if (a == "--rate") o.rate = std::stod(next());
    else if (a == "--duration") o.duration_s = std::stod(next());
    else if (a == "--closed") o.closed = std::stol(next());
    else if (a == "--count") o.count = std::stol(next());
    else if (a == "--ca") o.ca = next();
    else if (a == "--cert") o.cert = next();
    else if (a == "--key") o.key = next();
    else if (a == "--header") o.headers.push_back(next());
    else if (a == "--max-conns") o.max_conns = std::stol(next());
    else if (a == "--latencies") o.latencies_file = next();
    else if (a == "--responses") o.responses_file = next();
    else return usage();
  }
  if (o.url.empty() || o.bodies_file.empty() || (o.rate <= 0 && o.closed <= 0)) return usage();
  std::vector<std::string> bodies;
  {
    std::ifstream in(o.bodies_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) bodies.push_back(line);
    }
  }
  if (bodies.empty()) {
    std::fprintf(stderr, "hfv-loadgen: no bodies in %s\n", o.bodies_file.c_str());
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, o.max_conns);
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, o.max_conns);

  const long total = o.closed > 0 ? o.count : static_cast<long>(o.rate * o.duration_s);
  std::vector<double> latencies_ms;
  latencies_ms.reserve(static_cast<std::size_t>(total));
  std::map<long, long> statuses;
  long transport_errors = 0, sent = 0, in_flight = 0;
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  std::deque<CURL*> idle;  // finished easy handles, reused so connections are reused
  std::ofstream responses;  // --responses: one JSON line per answered request
  if (!o.responses_file.empty()) {
    responses.open(o.responses_file, std::ios::app);
    if (!responses) {
      std::fprintf(stderr, "hfv-loadgen: cannot write %s\n", o.responses_file.c_str());
      return 1;
    }
  }

  auto launch = [&](Clock::time_point intended) {
    CURL* easy = nullptr;
    if (!idle.empty()) {
      easy = idle.front();
      idle.pop_front();
    } else {
      easy = curl_easy_init();
    }
    auto* f = new InFlight{intended, {}, nullptr};
    for (const auto& h : o.headers) f->headers = curl_slist_append(f->headers, h.c_str());
    f->headers = curl_slist_append(f->headers, "Content-Type: application/json");
    const std::string& body = bodies[static_cast<std::size_t>(sent) % bodies.size()];
    curl_easy_setopt(easy, CURLOPT_URL, o.url.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, f->headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &sink);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &f->response);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, f);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    if (!o.ca.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, o.ca.c_str());
    if (!o.cert.empty()) {
      curl_easy_setopt(easy, CURLOPT_SSLCERT, o.cert.c_str());
      curl_easy_setopt(easy, CURLOPT_SSLKEY, o.key.c_str());
    }
    curl_multi_add_handle(multi, easy);
    ++sent;
    ++in_flight;
  };

  while (sent < total || in_flight > 0) {
    const auto now = Clock::now();
    if (o.closed > 0) {
      while (sent < total && in_flight < o.closed) launch(Clock::now());
    } else {
      while (sent < total) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(static_cast<double>(sent) / o.rate));
        if (due > now) break;
        launch(due);
      }
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      InFlight* f = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&f));
      const auto done = Clock::now();
      if (m->data.result == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        ++statuses[status];
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(done - f->intended).count());
        if (responses.is_open()) {
          nlohmann::json answer = nlohmann::json::parse(f->response, nullptr, false);
          if (answer.is_discarded()) answer = f->response;
          const nlohmann::json line = {{"status", status}, {"body", std::move(answer)}};
          responses << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        }
      } else {
        ++transport_errors;
      }
      curl_multi_remove_handle(multi, m->easy_handle);
      curl_slist_free_all(f->headers);
      delete f;
      idle.push_back(m->easy_handle);
      --in_flight;
    }
    // Wake for the next due request or for I/O, whichever is first.
    int wait_ms = 5;
    if (o.closed == 0 && sent < total) {
      const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(sent) / o.rate));
      wait_ms = static_cast<int>(std::clamp<long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()).count(), 0, 5));
    }
    curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
  }
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  if (!o.latencies_file.empty()) {
    std::ofstream out(o.latencies_file, std::ios::app);
    for (double ms : latencies_ms) out << ms << "\n";
    if (!out) {
      std::fprintf(stderr, "hfv-loadgen: cannot write %s\n", o.latencies_file.c_str());
      return 1;
    }
  }
  if (responses.is_open() && !responses.flush()) {
    std::fprintf(stderr, "hfv-loadgen: cannot write %s\n", o.responses_file.c_str());
    return 1;
  }
  long ok = statuses.count(200) ? statuses[200] : 0;
  nlohmann::json status_json = nlohmann::json::object();
  for (auto [s, n] : statuses) status_json[std::to_string(s)] = n;
  const nlohmann::json out = {{"sent", sent},
                              {"ok", ok},
                              {"statuses", status_json},
                              {"transport_errors", transport_errors},
                              {"elapsed_s", elapsed_s},
                              {"achieved_per_s", static_cast<double>(sent) / elapsed_s},
                              {"p50_ms", percentile(latencies_ms, 50)},
                              {"p90_ms", percentile(latencies_ms, 90)},
                              {"p99_ms", percentile(latencies_ms, 99)},
                              {"p999_ms", percentile(latencies_ms, 99.9)},
                              {"max_ms", latencies_ms.empty() ? 0.0 : latencies_ms.back()}};
  std::printf("%s\n", out.dump().c_str());
  for (CURL* e : idle) curl_easy_cleanup(e);
  curl_multi_cleanup(multi);
  curl_global_cleanup();
  return 0;
}
