// PeerClient: the origin's side of cross-region verification
// (docs/cross-region.md): asks one peer broker (POST /v1/peer/queries)
// about the members routed to it, as an agency is asked — the same
// concurrency limit, retries (only where nothing was answered: connection
// failures, 429, 502-504), deadline and circuit breaker
// (adapters/common/resilience.hpp). A peer that does not answer, refuses,
// or answers anything but its signed answer for exactly the pairs asked
// (peer_answer.hpp) is a failed agency: every pair asked comes back
// kTimeout or kError with the reason, never missing and never "no records".
//
// Threading: like the adapters, on the io_context thread that owns the
// HttpClient; ask() may run many times at once.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "adapters/common/http_client.hpp"
#include "adapters/common/resilience.hpp"
#include "broker/ops/config.hpp"
#include "broker/verification/request.hpp"
#include "common/cancellation.hpp"
#include "common/records.hpp"

namespace hfv::broker {

// What a peer made of one query.
struct PeerReply {
  std::vector<SourceResult> results;  // one per member x source asked, in the query's order
  bool answered = false;              // a signed answer for this query was read
  std::string answer_sha256;          // answered: hex SHA-256 of the answer's bytes
  std::string failure;                // otherwise: why (no personal data), e.g. "403 purpose_not_allowed"
  int attempts = 0;
};

// A reply in which every member x source of `query` failed the same way
// (`detail` the reason each pair carries), as the client answers for a peer
// that did not answer, and the verifier for a query it could not send.
PeerReply failed_peer_reply(const PeerQuery& query, SourceStatus status, FailureKind kind, const std::string& detail,
                            int attempts = 0, std::chrono::milliseconds latency = {});

class PeerClient {
 public:
  PeerClient(PeerSettings settings, adapters::HttpClient& http);
  const PeerSettings& settings() const { return settings_; }
  adapters::BreakerState breaker_state() const { return breaker_->state(); }

  // Asks the peer about every member x source of `query`, finishing by
  // `deadline` (the query's deadline_ms is set from it).
  boost::asio::awaitable<PeerReply> ask(PeerQuery query, adapters::Deadline deadline, Cancellation* cancel);

 private:
  PeerSettings settings_;
  adapters::HttpClient& http_;
  std::shared_ptr<adapters::AgencyGuard> guard_;
  std::shared_ptr<adapters::CircuitBreaker> breaker_;
};

}  // namespace hfv::broker
