// Fault plan: which agency misbehaves for whom, and how slowly it answers.
// Faults are configured per source in the dataset ("faults" key, see
// simulator/README.md): a latency for every answer, an optional fault for
// every request ("all") and per-person faults that take precedence over
// "all" (a person may be given "none" to be exempt from "all").
//
// apply_fault() turns the agency's normal answer into the faulty one; the
// kinds that involve the connection itself (timeout, reset) are carried out
// by the server.
//
// Ownership: FaultPlan is a plain value. Thread-safety: immutable after
// set-up; concurrent lookups are safe.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "simulator/reply.hpp"

namespace hfv::sim {

enum class FaultKind {
  kNone,         // answer normally
  kError500,     // HTTP 500 with a JSON error body
  kError503,     // HTTP 503 with an HTML gateway page
  kTimeout,      // read the request, never answer; hold the connection
  kMalformed,    // HTTP 200 whose body is the normal answer cut in half
  kReset,        // close the connection abruptly (TCP RST), no answer
  kRateLimited,  // HTTP 429 with Retry-After: 1
};

// "error_500" etc.; nullopt for an unknown name. "none" is kNone.
std::optional<FaultKind> parse_fault_kind(std::string_view name);
// The dataset name of a kind; "" for kNone (as written to the request log).
std::string_view fault_name(FaultKind kind);

struct SourceFaults {
  std::chrono::milliseconds latency{0};
  std::optional<FaultKind> all;                           // every request to the source
  std::map<std::string, FaultKind, std::less<>> persons;  // by ID number; beats `all`
};

class FaultPlan {
 public:
  void set(std::string source, SourceFaults faults);
  // Replaces every source's latency (the --latency-ms option).
  void override_latency(std::chrono::milliseconds latency) { latency_override_ = latency; }

  // The fault for a request to `source` about `person` ("" when the request
  // named nobody): the person's own entry, else the source's "all", else kNone.
  FaultKind lookup(std::string_view source, std::string_view person) const;
  std::chrono::milliseconds latency(std::string_view source) const;

 private:
  std::map<std::string, SourceFaults, std::less<>> sources_;
  std::optional<std::chrono::milliseconds> latency_override_;
};

// What happens on the connection.
enum class Action {
  kAnswer,  // send the reply
  kHang,    // send nothing; keep the connection open until the client goes (or 120 s)
  kReset,   // abort the connection
};

struct FaultOutcome {
  Action action = Action::kAnswer;
  Reply reply;  // meaningful for kAnswer
};

// The answer the client gets under `kind`, given the agency's normal answer.
FaultOutcome apply_fault(FaultKind kind, Reply normal);

}  // namespace hfv::sim
