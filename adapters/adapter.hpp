// Adapter: the one small interface every agency adapter implements. An
// adapter owns its agency's wire format and the mapping of answers into
// normalised records (common/records.hpp); it never lets a failure look like
// "no records": anything that is not a complete, well-formed answer comes
// back as kTimeout or kError with a reason.
//
// Threading: adapters are used on the io_context thread that owns their
// HttpClient; query() may run many times concurrently on that thread.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "adapters/common/http_client.hpp"
#include "common/cancellation.hpp"
#include "common/records.hpp"

namespace hfv::adapters {

// Who to ask about. The id number is personal data: adapters put it only in
// the request body sent to the agency, never in a URL, log or error detail.
struct MemberQuery {
  std::size_t member_index = 0;
  std::string id_number;
  std::string name;
  std::string query_id;  // opaque correlation id, safe to send and log
  // Set when the verification can be called off before its deadline (its
  // caller disconnected): waits end and transfers are removed at once.
  std::shared_ptr<Cancellation> cancel;
};

// Per-agency limits, retries and breaker (adapters/common/resilience.hpp).
struct ResilienceConfig {
  int max_concurrent = 16;
  int rate_per_second = 0;  // 0: unlimited
  int retry_budget_percent = 20;
  int max_attempts = 3;  // requests per page, including the first
  int breaker_failures = 5;
  std::chrono::milliseconds breaker_cooldown{5000};
  // Hedged requests: when a page's first request has had no answer after
  // the agency's observed p95 latency, a second, identical request is sent
  // and the first answer wins (the other is cancelled). Paid from the retry
  // budget; needs 20 answered requests before the p95 is trusted.
  bool hedge = false;
};

// Per-agency connection settings, from the daemon's configuration.
struct AgencyConfig {
  std::string base_url;  // e.g. "https://bank.example:9443"
  TlsClientOptions tls;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds timeout{3000};
  ResilienceConfig resilience;
};

using Deadline = std::chrono::steady_clock::time_point;

class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual Source source() const = 0;
  // Asks the agency about one member, finishing by `deadline` at the latest.
  virtual boost::asio::awaitable<SourceResult> query(const MemberQuery& member,
                                                     Deadline deadline) = 0;

  // Admission first, without a coroutine while waiting: a fan-out of many
  // households queues thousands of queries at a busy agency, and a waiting
  // coroutine chain costs kilobytes where this costs a few hundred bytes.
  // `then(std::nullopt)`: a query of `member` may start now; run it with
  // query_admitted(), which holds the place until it ends. `then(result)`:
  // it may not (deadline passed, called off), `result` is its answer.
  // `then` runs on the adapter's thread, possibly inside this call;
  // `member` must outlive it. Default: no admission, query() as it is.
  using AdmitThen = std::function<void(std::optional<SourceResult>)>;
  virtual void admit(const MemberQuery& member, Deadline deadline, AdmitThen then) {
    (void)member;
    (void)deadline;
    const AdmitThen done = std::move(then);  // by value: overrides keep it until admitted
    done(std::nullopt);
  }
  virtual boost::asio::awaitable<SourceResult> query_admitted(const MemberQuery& member, Deadline deadline) {
    return query(member, deadline);
  }
};

// The time left until `deadline`, capped at `cap`, never below 1 ms (curl
// treats 0 as "no timeout").
std::chrono::milliseconds time_left(Deadline deadline, std::chrono::milliseconds cap);

}  // namespace hfv::adapters
