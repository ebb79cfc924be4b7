// Fault plan: which agency misbehaves for whom, and how slowly it answers.
// Faults are configured per source in the dataset ("faults" key, see
// simulator/README.md) or at run time (POST /_sim/faults): a fixed latency
// for every answer plus an optional long (Pareto) tail, an optional fault
// for every request ("all"), an error rate (a seeded share of requests gets
// `error_kind`) and per-person faults that take precedence over both (a
// person may be given "none" to be exempt).
//
// Randomness is deterministic: decide() draws from a hash of a caller-given
// nonce (the Router derives it from --seed, the source, the person and how
// often that source was asked about that person), so the same seed and the
// same requests give the same faults and latencies, whatever the order in
// which different persons' requests arrive.
//
// apply_fault() turns the agency's normal answer into the faulty one; the
// kinds that involve the connection itself (timeout, reset, slow body) are
// carried out by the server.
//
// Ownership: FaultPlan is a plain value. Thread-safety: decide() and the
// other const members are safe concurrently; set() is not.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/reply.hpp"

namespace hfv::sim {

enum class FaultKind {
  kNone,         // answer normally
  kError500,     // HTTP 500 with a JSON error body
  kError503,     // HTTP 503 with an HTML gateway page
  kTimeout,      // read the request, never answer; hold the connection
  kMalformed,    // HTTP 200 whose body is the normal answer cut in half
  kReset,        // close the connection abruptly (TCP RST), no answer
  kRateLimited,  // HTTP 429 with Retry-After: the source's retry_after (default 1 s)
  kSlowBody,     // the normal answer; header at once, body dribbled over `slow_body`
  kWrongTypes,   // HTTP 200, the normal answer with nested scalars of the wrong JSON type
  kStuckOnce,    // the first request about a person hangs like kTimeout; later ones are answered
                 // (a stuck backend connection: what a hedged request is for). The Router
                 // resolves it per request; apply_fault() treats it as kTimeout.
};

// "error_500" etc.; nullopt for an unknown name. "none" is kNone.
std::optional<FaultKind> parse_fault_kind(std::string_view name);
// The dataset name of a kind; "" for kNone (as written to the request log).
std::string_view fault_name(FaultKind kind);
// Every fault kind's name except "none", so test suites can check they cover them all.
std::vector<std::string_view> fault_kind_names();

struct SourceFaults {
  std::chrono::milliseconds latency{0};
  // Pareto tail (shape 1.5) added to `latency`: extra = tail * (u^(-1/1.5) - 1),
  // median ~0.59 * tail, p99 ~20.5 * tail, capped at kMaxTail. 0: no tail.
  std::chrono::milliseconds latency_tail{0};
  double error_rate = 0.0;                   // share of requests (0 ... 1) given error_kind
  FaultKind error_kind = FaultKind::kError503;
  std::chrono::milliseconds slow_body{2000};  // how long a kSlowBody body takes to send
  std::chrono::seconds retry_after{1};        // the Retry-After of a kRateLimited answer
  std::optional<FaultKind> all;                           // every request to the source
  std::map<std::string, FaultKind, std::less<>> persons;  // by ID number; beats `all`
};

// What happens to one request.
struct FaultDecision {
  FaultKind kind = FaultKind::kNone;
  std::chrono::milliseconds latency{0};    // wait before acting
  std::chrono::milliseconds slow_body{0};  // for kSlowBody
  std::chrono::seconds retry_after{1};     // for kRateLimited
};

inline constexpr std::chrono::milliseconds kMaxTail{60'000};

class FaultPlan {
 public:
  void set(std::string source, SourceFaults faults);
  // Replaces every source's latency (the --latency-ms option).
  void override_latency(std::chrono::milliseconds latency) { latency_override_ = latency; }

  // The fault for a request to `source` about `person` ("" when the request
  // named nobody): the person's own entry, else the source's "all", else kNone.
  // Ignores the error rate (see decide()).
  FaultKind lookup(std::string_view source, std::string_view person) const;
  // The fixed latency (without the tail).
  std::chrono::milliseconds latency(std::string_view source) const;
  // The fault and latency for one request, drawing the error rate and the
  // latency tail from `nonce`: the person's entry, else `all`, else the
  // error rate's draw, else kNone. With --latency-ms the latency is exactly
  // that (no tail).
  FaultDecision decide(std::string_view source, std::string_view person,
                       std::uint64_t nonce) const;
  // Whether any source draws random numbers (error rate or latency tail).
  bool random() const;

 private:
  std::map<std::string, SourceFaults, std::less<>> sources_;
  std::optional<std::chrono::milliseconds> latency_override_;
};

// What happens on the connection.
enum class Action {
  kAnswer,  // send the reply
  kHang,    // send nothing; keep the connection open until the client goes (or 120 s)
  kReset,   // abort the connection
  kSlowBody,  // send the reply's header, then its body in pieces over a while
};

struct FaultOutcome {
  Action action = Action::kAnswer;
  Reply reply;  // meaningful for kAnswer
};

// The answer the client gets under `kind`, given the agency's normal answer
// (`retry_after`: the Retry-After a kRateLimited answer carries).
FaultOutcome apply_fault(FaultKind kind, Reply normal,
                         std::chrono::seconds retry_after = std::chrono::seconds{1});

// The wrong_types transformation of a JSON text: below the top level,
// numbers and booleans become strings and numeric strings ("8,200.50",
// "0000") become numbers. A body that is not a JSON object is returned as is.
std::string wrong_types(std::string_view body);

// splitmix64 finaliser: the hash used for seeded draws.
std::uint64_t mix64(std::uint64_t x);
// FNV-1a of a string, for building nonces.
std::uint64_t fnv1a(std::string_view text, std::uint64_t h = 14695981039346656037ULL);

}  // namespace hfv::sim
