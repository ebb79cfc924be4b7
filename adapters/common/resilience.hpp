// Resilience for agency queries, as decorators around adapters: the
// Adapter interface does not change.
//
// AgencyGuard (one per agency) sits between an adapter's paging loop and the
// HttpClient and decides, per HTTP request:
//  - concurrency: at most `max_concurrent` requests in flight to the agency;
//    others wait (asynchronously, on timers) until a slot frees or the
//    query's deadline passes;
//  - rate: a token bucket of `rate_per_second` (burst = one second's worth,
//    at least 1); 0 means unlimited;
//  - retries, only for failures where the agency certainly did not produce
//    an answer and asking again is safe (every agency query is a read):
//    connection failures and resets (HttpErrorKind::kNetwork) and HTTP 429,
//    502, 503, 504. Not retried: timeouts (the request's time is spent, and
//    re-sending to a slow agency adds load), HTTP 500 and other statuses,
//    malformed answers, TLS errors. At most `max_attempts` requests per page.
//    Backoff is exponential from 50 ms with full jitter; a 429's
//    Retry-After (delay-seconds) is waited instead. No wait runs past the
//    deadline: if it would, the last failure is returned.
//  - a retry budget: every first attempt earns `retry_budget_percent`/100 of
//    a retry, every retry spends one (banked up to 10, starting with 1), so
//    retries add at most that share of extra requests (plus one);
//  - hedging (optional, `hedge`): a first attempt still unanswered after the
//    agency's observed p95 (over its last 128 answered requests, once 20
//    are known) gets a second, identical request, if the retry budget, a
//    concurrency slot and a rate token allow it at once; the first answer
//    wins and the other transfer is cancelled.
// CircuitBreaker (one per agency) is checked per query by ResilientAdapter:
// it opens after `breaker_failures` consecutive failed queries, or when at
// least half of the last 20 queries failed; after `breaker_cooldown` one
// probe query is let through (half-open); its success closes the breaker,
// its failure re-opens it. While open, queries are not sent and come back
// kError with detail "circuit open".
//
// Threading: like HttpClient, everything runs on one io_context thread.
// Guards and breakers are owned (shared) by the adapters built for them.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <array>
#include <deque>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "adapters/adapter.hpp"

namespace hfv::adapters {

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string_view breaker_state_name(BreakerState state);

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  CircuitBreaker(int failures, std::chrono::milliseconds cooldown)
      : failures_to_open_(failures), cooldown_(cooldown) {}

  // Whether a query may be sent now. In half-open state only one probe is
  // let through until its outcome is recorded.
  bool allow(Clock::time_point now = Clock::now());
  // The outcome of a query that allow() let through.
  void record(bool success, Clock::time_point now = Clock::now());
  // A query allow() let through was called off before the agency answered
  // (cancelled): no outcome is recorded; a half-open probe may be sent again.
  void release() {
    if (state_ == BreakerState::kHalfOpen) probe_in_flight_ = false;
  }
  BreakerState state(Clock::time_point now = Clock::now()) const;
  // How many times it has opened (from closed or half-open).
  std::uint64_t opens() const { return opens_; }

 private:
  static constexpr std::size_t kWindow = 20;
  void open(Clock::time_point now);
  int failures_to_open_;
  std::chrono::milliseconds cooldown_;
  BreakerState state_ = BreakerState::kClosed;
  int consecutive_ = 0;
  std::deque<bool> window_;  // recent outcomes, true = failure
  Clock::time_point opened_at_{};
  bool probe_in_flight_ = false;
  std::uint64_t opens_ = 0;
};

class AgencyGuard {
 public:
  AgencyGuard(boost::asio::any_io_executor executor, ResilienceConfig config);

  // Sends `request` with the limits and retries above; `attempts` is
  // increased by the number of requests actually sent. When request.cancel
  // fires, waits end and the answer is kCancelled.
  boost::asio::awaitable<HttpResult> fetch(HttpClient& http, HttpRequest request, Deadline deadline,
                                           int& attempts);

  // Admission of whole queries (member × this agency), max_concurrent at a
  // time: a query waits here, in a small frame, before its adapter builds
  // requests, so a verification whose queries wait for this agency holds
  // little memory (ResilientAdapter). false: the deadline passed first, or
  // `cancel` fired (or had fired).
  boost::asio::awaitable<bool> admit(Deadline deadline, Cancellation* cancel = nullptr);
  // The same admission without a coroutine: `done(true)` when admitted
  // (possibly inside this call), `done(false)` when the deadline passed or
  // `cancel` fired first. `cancel` must outlive the wait.
  void admit_then(Deadline deadline, Cancellation* cancel, std::function<void(bool)> done);
  void leave();

  const ResilienceConfig& config() const { return config_; }
  std::size_t in_flight() const { return slots_.in_use; }
  // Retries sent so far and first attempts (for tests and metrics).
  std::uint64_t retries_sent() const { return retries_; }
  std::uint64_t first_attempts() const { return firsts_; }
  // HTTP requests sent (first attempts and retries, every page), and those
  // that failed: no answer (timeout, network, TLS) or HTTP 429 / 5xx.
  std::uint64_t requests_sent() const { return requests_; }
  std::uint64_t request_failures() const { return request_failures_; }
  // Hedged second requests sent, and those that answered first.
  std::uint64_t hedges_sent() const { return hedges_; }
  std::uint64_t hedges_won() const { return hedges_won_; }
  // The p95 of the last answered requests' latency; nullopt until 20 are known.
  std::optional<std::chrono::steady_clock::duration> observed_p95() const;

 private:
  struct Waiter {
    explicit Waiter(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    bool granted = false;
    bool refused = false;  // deadline passed or called off; still queued, leave() skips it
  };
  // At most `limit` holders; the others wait in order until a holder
  // leaves or their deadline passes.
  struct Gate {
    std::size_t in_use = 0;
    std::deque<std::shared_ptr<Waiter>> waiters;
    std::size_t refused = 0;  // refused waiters still in `waiters`
  };
  // One set of rules for both gates, with or without a coroutine:
  // try_enter takes a free place at once (kTaken), refuses when `cancel`
  // has fired (kRefused), else says to wait; wait_then queues for the next
  // place: done(true) when leave() hands one over, done(false) at the
  // deadline or on cancel (`done`: void(bool), may be move-only).
  enum class Entry { kTaken, kRefused, kWait };
  Entry try_enter(Gate& gate, Cancellation* cancel) const;
  template <typename Done>
  void wait_then(Gate& gate, Deadline deadline, Cancellation* cancel, Done done);
  boost::asio::awaitable<bool> enter(Gate& gate, Deadline deadline, Cancellation* cancel);
  static void leave(Gate& gate);
  boost::asio::awaitable<bool> acquire_slot(Deadline deadline, Cancellation* cancel) {
    return enter(slots_, deadline, cancel);
  }
  void release_slot() { leave(slots_); }
  boost::asio::awaitable<bool> take_rate_token(Deadline deadline, Cancellation* cancel);
  bool take_retry_token();
  // A rate token now or not at all (refills the bucket first).
  bool try_rate_token();
  // Sends one request, hedged when `may_hedge` and the p95 is known; adds
  // the requests sent to `sent`.
  boost::asio::awaitable<HttpResult> send(HttpClient& http, HttpRequest request, bool may_hedge, Deadline deadline,
                                          int& sent);
  void note_answer(const HttpResult& result);
  // false: the deadline comes first, or `cancel` fired.
  boost::asio::awaitable<bool> sleep_until(std::chrono::steady_clock::time_point t, Deadline deadline,
                                           Cancellation* cancel);

  boost::asio::any_io_executor executor_;
  ResilienceConfig config_;
  Gate slots_;      // HTTP requests in flight
  Gate admitted_;   // queries between admit() and leave()
  double tokens_ = 0;  // rate bucket (request tokens, not money)
  std::chrono::steady_clock::time_point refilled_{};
  int budget_centi_ = 100;  // retry budget in hundredths of a retry
  std::uint64_t retries_ = 0;
  std::uint64_t firsts_ = 0;
  std::uint64_t requests_ = 0;
  std::uint64_t request_failures_ = 0;
  std::uint64_t hedges_ = 0;
  std::uint64_t hedges_won_ = 0;
  std::array<std::int64_t, 128> answered_us_{};  // ring of answered requests' latency (µs)
  std::size_t answered_n_ = 0;
  std::minstd_rand random_;
};

// Whether a result may be retried (see above).
bool is_retryable(const HttpResult& result);
// Retry-After as delay-seconds ("1"), nullopt for anything else.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value);

// Counters of one ResilientAdapter's queries (member × agency), for metrics.
struct QueryCounters {
  std::uint64_t queries = 0;          // query() calls
  std::uint64_t failures = 0;         // ended kTimeout or kError (circuit-open ones included)
  std::uint64_t timeouts = 0;         // of which kTimeout
  std::uint64_t short_circuited = 0;  // answered "circuit open" without sending
  std::uint64_t latency_ms_sum = 0;   // over the queries that were sent
  std::uint64_t latency_count = 0;
};

// Decorates an adapter with a circuit breaker.
class ResilientAdapter final : public Adapter {
 public:
  ResilientAdapter(std::unique_ptr<Adapter> inner, std::shared_ptr<CircuitBreaker> breaker,
                   std::shared_ptr<AgencyGuard> guard)
      : inner_(std::move(inner)), breaker_(std::move(breaker)), guard_(std::move(guard)) {}
  Source source() const override { return inner_->source(); }
  boost::asio::awaitable<SourceResult> query(const MemberQuery& member, Deadline deadline) override;
  void admit(const MemberQuery& member, Deadline deadline, AdmitThen then) override;
  boost::asio::awaitable<SourceResult> query_admitted(const MemberQuery& member, Deadline deadline) override;
  BreakerState breaker_state() const { return breaker_->state(); }
  const CircuitBreaker& breaker() const { return *breaker_; }
  const AgencyGuard& guard() const { return *guard_; }
  const QueryCounters& counters() const { return counters_; }

 private:
  SourceResult not_admitted(const MemberQuery& member);  // the answer of a query that could not start

  std::unique_ptr<Adapter> inner_;
  std::shared_ptr<CircuitBreaker> breaker_;
  std::shared_ptr<AgencyGuard> guard_;
  QueryCounters counters_;
};

}  // namespace hfv::adapters
