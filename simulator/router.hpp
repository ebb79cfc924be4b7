// Router: everything the simulator decides about a request, without sockets.
// Given a parsed HTTP request it picks the control endpoint (/_sim/...) or
// the agency (first path segment), lets the agency answer, applies the fault
// plan and latency, counts the request and describes the request-log line.
// The server then only carries out the Decision (wait, answer, hang, reset,
// send slowly) and calls finished() when it is done with an agency request,
// so the Router also knows how many requests each agency has in flight (and
// the peak since the last reset: tests check client concurrency limits).
//
// Ownership: owns the Dataset and the counters. Thread-safety: not
// thread-safe; used from the simulator's single io_context thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <string_view>

#include "simulator/dataset.hpp"
#include "simulator/faults.hpp"
#include "simulator/reply.hpp"
#include "simulator/request_log.hpp"

namespace hfv::sim {

struct HttpRequestView {
  std::string_view method;        // "POST"
  std::string_view target;        // may carry a query string
  std::string_view content_type;  // "" if absent
  std::string_view body;
};

struct Decision {
  Action action = Action::kAnswer;
  Reply reply;                          // for kAnswer and kSlowBody
  std::chrono::milliseconds delay{0};   // wait this long before acting
  std::chrono::milliseconds body_time{0};  // kSlowBody: spread the body over this long
  std::optional<RequestRecord> record;  // for the request log (agency requests only)
};

class Router {
 public:
  explicit Router(Dataset dataset, std::uint64_t seed = 0);

  Decision route(const HttpRequestView& request);
  // The server is done with an agency request (`record->agency` of its
  // Decision): answered, held until the client left, or aborted.
  void finished(std::string_view agency);

  // {"total":N,"by_agency":{"bank":N,...},"by_path":{"/bank/v2/...":N},"unrouted":N,
  //  "in_flight":{"bank":N,...},"max_in_flight":{"bank":N,...}}
  Json counts() const;
  // Counts and peaks back to 0 (the peak to what is in flight now).
  void reset_counts();

  const Dataset& dataset() const { return dataset_; }
  Dataset& dataset() { return dataset_; }
  // Seeds the error-rate and latency-tail draws (see faults.hpp).
  std::uint64_t seed() const { return seed_; }

 private:
  Reply control(const HttpRequestView& request, std::string_view path);
  Reply set_faults(std::string_view body);
  Reply set_records(std::string_view body);
  void count(std::string_view agency, std::string_view path);
  std::uint64_t nonce(std::string_view agency, std::string_view person);

  Dataset dataset_;
  std::uint64_t seed_;
  std::uint64_t total_ = 0;
  std::uint64_t unrouted_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> by_agency_;
  std::map<std::string, std::uint64_t, std::less<>> by_path_;
  std::map<std::string, std::uint64_t, std::less<>> in_flight_;
  std::map<std::string, std::uint64_t, std::less<>> max_in_flight_;
  // How often each source was asked about each person ("bank|<id>"), for
  // the draws' nonces; only kept while the plan draws at all.
  std::map<std::string, std::uint64_t, std::less<>> asked_;
  // "bank|<id>" pairs a stuck_once fault has already held once.
  std::set<std::string, std::less<>> stuck_;
};

}  // namespace hfv::sim
