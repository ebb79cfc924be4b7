// Router: everything the simulator decides about a request, without sockets.
// Given a parsed HTTP request it picks the control endpoint (/_sim/...) or
// the agency (first path segment), lets the agency answer, applies the fault
// plan and latency, counts the request and describes the request-log line.
// The server then only carries out the Decision (wait, answer, hang, reset).
//
// Ownership: owns the Dataset and the counters. Thread-safety: not
// thread-safe; used from the simulator's single io_context thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
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
  Reply reply;                          // for kAnswer
  std::chrono::milliseconds delay{0};   // wait this long before acting
  std::optional<RequestRecord> record;  // for the request log (agency requests only)
};

class Router {
 public:
  explicit Router(Dataset dataset, std::uint64_t seed = 0);

  Decision route(const HttpRequestView& request);

  // {"total":N,"by_agency":{"bank":N,...},"by_path":{"/bank/v2/...":N},"unrouted":N}
  Json counts() const;
  void reset_counts();

  const Dataset& dataset() const { return dataset_; }
  Dataset& dataset() { return dataset_; }
  // Stored for deterministic fault rates (none are defined yet).
  std::uint64_t seed() const { return seed_; }

 private:
  Reply control(std::string_view method, std::string_view path);
  void count(std::string_view agency, std::string_view path);

  Dataset dataset_;
  std::uint64_t seed_;
  std::uint64_t total_ = 0;
  std::uint64_t unrouted_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> by_agency_;
  std::map<std::string, std::uint64_t, std::less<>> by_path_;
};

}  // namespace hfv::sim
