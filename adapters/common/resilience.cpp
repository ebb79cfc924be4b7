#include "adapters/common/resilience.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>

#include "common/async_event.hpp"
#include "common/time.hpp"

namespace hfv::adapters {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {
constexpr int kMaxBankedCenti = 1000;  // at most 10 retries banked
constexpr std::chrono::milliseconds kBackoffBase{50};
constexpr std::chrono::milliseconds kBackoffCap{2000};
constexpr const char* kNotSentInTime = "deadline passed while waiting to send (agency concurrency or rate limit)";

bool is_cancelled(const Cancellation* cancel) { return cancel != nullptr && cancel->cancelled(); }

HttpResult cancelled_result(const Cancellation& cancel) {
  HttpResult r;
  r.error = HttpErrorKind::kCancelled;
  r.error_detail = cancel.reason();
  return r;
}

// A query's result when no request was sent for it.
SourceResult unsent(const MemberQuery& member, Source source, SourceStatus status, FailureKind failure,
                    std::string detail) {
  SourceResult r;
  r.member_index = member.member_index;
  r.source = source;
  r.status = status;
  r.failure = failure;
  r.detail = std::move(detail);
  return r;
}
}  // namespace

std::string_view breaker_state_name(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half_open";
  }
  return "closed";
}

// ------------------------------------------------------------ breaker

BreakerState CircuitBreaker::state(Clock::time_point now) const {
  if (state_ == BreakerState::kOpen && now - opened_at_ >= cooldown_) return BreakerState::kHalfOpen;
  return state_;
}

bool CircuitBreaker::allow(Clock::time_point now) {
  if (state_ == BreakerState::kClosed) return true;
  if (state_ == BreakerState::kOpen) {
    if (now - opened_at_ < cooldown_) return false;
    state_ = BreakerState::kHalfOpen;
    probe_in_flight_ = false;
  }
  if (probe_in_flight_) return false;
  probe_in_flight_ = true;
  return true;
}

void CircuitBreaker::open(Clock::time_point now) {
  ++opens_;
  state_ = BreakerState::kOpen;
  opened_at_ = now;
  probe_in_flight_ = false;
}

void CircuitBreaker::record(bool success, Clock::time_point now) {
  if (state_ == BreakerState::kHalfOpen) {
    probe_in_flight_ = false;
    if (success) {
      state_ = BreakerState::kClosed;
      consecutive_ = 0;
      window_.clear();
    } else {
      open(now);
    }
    return;
  }
  if (state_ == BreakerState::kOpen) return;  // a query sent before it opened
  window_.push_back(!success);
  if (window_.size() > kWindow) window_.pop_front();
  consecutive_ = success ? 0 : consecutive_ + 1;
  const auto failed = static_cast<std::size_t>(std::count(window_.begin(), window_.end(), true));
  if (consecutive_ >= failures_to_open_ || (window_.size() == kWindow && failed * 2 >= kWindow)) {
    open(now);
    consecutive_ = 0;
    window_.clear();
  }
}

// ------------------------------------------------------------ guard

bool is_retryable(const HttpResult& result) {
  if (result.error == HttpErrorKind::kNetwork) return true;
  if (result.error != HttpErrorKind::kNone) return false;
  const long s = result.response.status;
  return s == 429 || s == 502 || s == 503 || s == 504;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) {
  while (!value.empty() && (value.back() == ' ' || value.back() == '\r' || value.back() == '\n')) {
    value.remove_suffix(1);
  }
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (value.empty() || value.size() > 6) return std::nullopt;
  long seconds = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  return std::chrono::milliseconds(seconds * 1000);
}

AgencyGuard::AgencyGuard(net::any_io_executor executor, ResilienceConfig config)
    : executor_(std::move(executor)), config_(config), random_(std::random_device{}()) {
  tokens_ = static_cast<double>(std::max(1, config_.rate_per_second));
  refilled_ = Clock::now();
}

net::awaitable<bool> AgencyGuard::sleep_until(Clock::time_point t, Deadline deadline, Cancellation* cancel) {
  if (t >= deadline || is_cancelled(cancel)) co_return false;
  net::steady_timer timer(executor_, t);
  const auto registration = on_cancel(cancel, [&timer] { timer.cancel(); });
  boost::system::error_code ignored;
  co_await timer.async_wait(net::redirect_error(net::use_awaitable, ignored));
  co_return Clock::now() < deadline && !is_cancelled(cancel);
}

AgencyGuard::Entry AgencyGuard::try_enter(Gate& gate, Cancellation* cancel) const {
  if (is_cancelled(cancel)) return Entry::kRefused;
  if (gate.in_use < static_cast<std::size_t>(config_.max_concurrent)) {
    ++gate.in_use;
    return Entry::kTaken;
  }
  return Entry::kWait;
}

template <typename Done>
void AgencyGuard::wait_then(Gate& gate, Deadline deadline, Cancellation* cancel, Done done) {
  auto waiter = std::make_shared<Waiter>(executor_);
  waiter->timer.expires_at(deadline);
  gate.waiters.push_back(waiter);
  auto registration = on_cancel(cancel, [weak = std::weak_ptr<Waiter>(waiter)] {
    if (auto w = weak.lock()) w->timer.cancel();
  });
  waiter->timer.async_wait([&gate, waiter, registration = std::move(registration),
                            done = std::move(done)](boost::system::error_code /*ignored*/) mutable {
    if (waiter->granted) {  // the place was handed over by leave()
      std::move(done)(true);
      return;
    }
    // Left in the queue for leave() to skip: erasing each refused waiter
    // from the middle would make a mass expiry (thousands of queries past
    // their deadline together) quadratic. The queue is compacted when more
    // than half of it is refused, so it stays within twice the live waiters.
    waiter->refused = true;
    if (++gate.refused * 2 > gate.waiters.size()) {
      std::erase_if(gate.waiters, [](const std::shared_ptr<Waiter>& w) { return w->refused; });
      gate.refused = 0;
    }
    std::move(done)(false);
  });
}

net::awaitable<bool> AgencyGuard::enter(Gate& gate, Deadline deadline, Cancellation* cancel) {
  const Entry entry = try_enter(gate, cancel);
  if (entry != Entry::kWait) co_return entry == Entry::kTaken;
  const bool granted = co_await net::async_initiate<const net::use_awaitable_t<>&, void(bool)>(
      [this, &gate, deadline, cancel](auto handler) { wait_then(gate, deadline, cancel, std::move(handler)); },
      net::use_awaitable);
  co_return granted;
}

void AgencyGuard::leave(Gate& gate) {
  while (!gate.waiters.empty()) {
    auto next = gate.waiters.front();
    gate.waiters.pop_front();
    if (next->refused) {
      --gate.refused;
      continue;
    }
    next->granted = true;  // the place passes on; in_use stays
    next->timer.cancel();
    return;
  }
  --gate.in_use;
}

net::awaitable<bool> AgencyGuard::admit(Deadline deadline, Cancellation* cancel) {
  return enter(admitted_, deadline, cancel);
}

void AgencyGuard::admit_then(Deadline deadline, Cancellation* cancel, std::function<void(bool)> done) {
  const Entry entry = try_enter(admitted_, cancel);
  if (entry != Entry::kWait) {
    done(entry == Entry::kTaken);
    return;
  }
  wait_then(admitted_, deadline, cancel, std::move(done));
}

void AgencyGuard::leave() { leave(admitted_); }

bool AgencyGuard::try_rate_token() {
  if (config_.rate_per_second <= 0) return true;
  const double rate = config_.rate_per_second;
  const auto now = Clock::now();
  tokens_ = std::min(std::max(1.0, rate), tokens_ + std::chrono::duration<double>(now - refilled_).count() * rate);
  refilled_ = now;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

net::awaitable<bool> AgencyGuard::take_rate_token(Deadline deadline, Cancellation* cancel) {
  while (!try_rate_token()) {
    const auto wait = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>((1.0 - tokens_) / config_.rate_per_second));
    if (!co_await sleep_until(Clock::now() + wait + std::chrono::microseconds(100), deadline, cancel)) {
      co_return false;
    }
  }
  co_return true;
}

void AgencyGuard::note_answer(const HttpResult& result) {
  if (result.error != HttpErrorKind::kNone) return;
  answered_us_[answered_n_ % answered_us_.size()] =
      std::chrono::duration_cast<std::chrono::microseconds>(result.elapsed).count();
  ++answered_n_;
}

std::optional<Clock::duration> AgencyGuard::observed_p95() const {
  const std::size_t n = std::min(answered_n_, answered_us_.size());
  if (n < 20) return std::nullopt;
  std::array<std::int64_t, 128> sorted = answered_us_;
  const auto at = sorted.begin() + static_cast<std::ptrdiff_t>(n * 95 / 100);
  std::nth_element(sorted.begin(), at, sorted.begin() + static_cast<std::ptrdiff_t>(n));
  return std::chrono::microseconds(std::max<std::int64_t>(*at, 1000));
}

net::awaitable<HttpResult> AgencyGuard::send(HttpClient& http, HttpRequest request, bool may_hedge,
                                             Deadline deadline, int& sent) {
  const auto p95 = may_hedge ? observed_p95() : std::nullopt;
  if (!p95) {
    HttpResult result = co_await http.fetch(std::move(request));
    ++sent;
    note_answer(result);
    co_return result;
  }
  // A race of the request and, after the p95 without an answer, its hedge:
  // the first to finish (not cancelled) wins and the other is cancelled.
  // Both transfers have ended before this returns.
  struct Race {
    explicit Race(const net::any_io_executor& ex) : hedge_timer(ex), decided(ex), finished(ex) {}
    net::steady_timer hedge_timer;
    AsyncEvent decided, finished;
    std::array<Cancellation, 2> cancel;
    std::optional<HttpResult> winner;
    int winner_index = -1;
    int running = 0;
  };
  auto race = std::make_shared<Race>(executor_);
  Cancellation* outer = request.cancel;  // the caller's, if any: calls off both
  const auto outer_registration = on_cancel(outer, [race, outer] {
    for (auto& c : race->cancel) c.cancel(outer->reason());
  });
  auto start = [&](int i) {
    HttpRequest copy = request;
    copy.total_timeout = time_left(deadline, request.total_timeout);  // the hedge ends by the deadline too
    copy.cancel = &race->cancel[static_cast<std::size_t>(i)];
    ++race->running;
    ++sent;
    net::co_spawn(
        executor_,
        [this, &http, race, i, copy = std::move(copy)]() mutable -> net::awaitable<void> {
          HttpResult result = co_await http.fetch(std::move(copy));
          note_answer(result);
          if (!race->winner && (result.error != HttpErrorKind::kCancelled || race->running == 1)) {
            race->winner = std::move(result);
            race->winner_index = i;
            race->cancel[static_cast<std::size_t>(1 - i)].cancel("hedge: the other request answered first");
            race->hedge_timer.cancel();
            race->decided.set();
          }
          if (--race->running == 0) race->finished.set();
        },
        net::detached);
  };
  start(0);
  race->hedge_timer.expires_after(*p95);
  boost::system::error_code ignored;
  co_await race->hedge_timer.async_wait(net::redirect_error(net::use_awaitable, ignored));
  bool hedged = false;
  if (!race->winner && !is_cancelled(outer) && Clock::now() < deadline && slots_.in_use < static_cast<std::size_t>(config_.max_concurrent) &&
      take_retry_token()) {
    if (try_rate_token()) {
      ++slots_.in_use;  // the hedge holds a concurrency slot of its own
      hedged = true;
      ++hedges_;
      start(1);
    } else {
      budget_centi_ += 100;  // not sent: the retry is not spent
    }
  }
  co_await race->decided.wait();
  co_await race->finished.wait();
  if (hedged) {
    leave(slots_);
    if (race->winner_index == 1) ++hedges_won_;
  }
  co_return std::move(*race->winner);
}

bool AgencyGuard::take_retry_token() {
  if (budget_centi_ < 100) return false;
  budget_centi_ -= 100;
  return true;
}

net::awaitable<HttpResult> AgencyGuard::fetch(HttpClient& http, HttpRequest request, Deadline deadline,
                                              int& attempts) {
  HttpResult last;
  last.error = HttpErrorKind::kTimeout;
  last.error_detail = kNotSentInTime;
  const auto cap = request.total_timeout;
  for (int attempt = 1; attempt <= std::max(1, config_.max_attempts); ++attempt) {
    if (attempt == 1) {
      ++firsts_;
      budget_centi_ = std::min(kMaxBankedCenti, budget_centi_ + config_.retry_budget_percent);
    }
    if (!co_await take_rate_token(deadline, request.cancel) || !co_await acquire_slot(deadline, request.cancel)) {
      co_return is_cancelled(request.cancel) ? cancelled_result(*request.cancel) : last;
    }
    if (attempt > 1) ++retries_;
    HttpRequest copy = request;
    copy.total_timeout = time_left(deadline, cap);
    int sent = 0;
    HttpResult result = co_await send(http, std::move(copy), attempt == 1 && config_.hedge, deadline, sent);
    release_slot();
    attempts += sent;
    requests_ += static_cast<std::uint64_t>(sent);
    if (result.error != HttpErrorKind::kNone || result.response.status == 429 ||
        result.response.status >= 500) {
      ++request_failures_;
    }
    last = std::move(result);
    if (!is_retryable(last) || attempt == config_.max_attempts) co_return last;
    // Decide the wait before spending budget: a wait past the deadline ends here.
    std::chrono::milliseconds wait{0};
    const auto retry_after = last.error == HttpErrorKind::kNone && last.response.status == 429
                                 ? parse_retry_after(last.response.retry_after)
                                 : std::nullopt;
    if (retry_after) {
      wait = *retry_after;
    } else {
      const auto ceiling = std::min(kBackoffCap, kBackoffBase * (1 << std::min(attempt - 1, 10)));
      wait = std::chrono::milliseconds(std::uniform_int_distribution<long>(0, ceiling.count())(random_));
    }
    if (Clock::now() + wait >= deadline) co_return last;
    if (!take_retry_token()) co_return last;
    if (!co_await sleep_until(Clock::now() + wait, deadline, request.cancel)) {
      co_return is_cancelled(request.cancel) ? cancelled_result(*request.cancel) : last;
    }
  }
  co_return last;
}

// ------------------------------------------------------------ decorator

SourceResult ResilientAdapter::not_admitted(const MemberQuery& member) {
  if (is_cancelled(member.cancel.get())) {  // called off, not the agency's doing: no failure counted
    SourceResult r = unsent(member, inner_->source(), SourceStatus::kError, FailureKind::kCancelled,
                            std::string(http_error_name(HttpErrorKind::kCancelled)) + ": " + member.cancel->reason());
    r.cancelled = true;
    return r;
  }
  ++counters_.failures;
  ++counters_.timeouts;
  return unsent(member, inner_->source(), SourceStatus::kTimeout, FailureKind::kTimeout, kNotSentInTime);
}

net::awaitable<SourceResult> ResilientAdapter::query(const MemberQuery& member, Deadline deadline) {
  ++counters_.queries;
  // Wait for admission before anything else (memory, see admit()); the
  // breaker is asked after it, so a half-open probe is not held here.
  // Statements, not `if (!co_await …) co_return …; co_return co_await …;`:
  // GCC 12 compiled that form into an illegal instruction.
  const bool admitted = co_await guard_->admit(deadline, member.cancel.get());
  if (!admitted) co_return not_admitted(member);
  SourceResult r = co_await query_admitted(member, deadline);
  co_return r;
}

void ResilientAdapter::admit(const MemberQuery& member, Deadline deadline, AdmitThen then) {
  ++counters_.queries;
  guard_->admit_then(deadline, member.cancel.get(), [this, &member, then = std::move(then)](bool admitted) {
    if (admitted) {
      then(std::nullopt);
    } else {
      then(not_admitted(member));
    }
  });
}

net::awaitable<SourceResult> ResilientAdapter::query_admitted(const MemberQuery& member, Deadline deadline) {
  struct Admitted {
    AgencyGuard& guard;
    // leave() throws only via steady_timer::cancel(), which never fails in Asio's timer service.
    ~Admitted() { guard.leave(); }  // NOLINT(bugprone-exception-escape)
  } admitted{*guard_};
  if (!breaker_->allow()) {
    ++counters_.failures;
    ++counters_.short_circuited;
    SourceResult r = unsent(member, inner_->source(), SourceStatus::kError, FailureKind::kCircuitOpen,
                            "circuit open");
    r.received_at = utc_timestamp_now();
    co_return r;
  }
  SourceResult r = co_await inner_->query(member, deadline);
  if (r.cancelled) {  // the agency was not given the chance to answer: nothing to hold against it
    breaker_->release();
    co_return r;
  }
  const bool success = is_known(r.status);
  breaker_->record(success);
  if (!success) ++counters_.failures;
  if (r.status == SourceStatus::kTimeout) ++counters_.timeouts;
  counters_.latency_ms_sum += static_cast<std::uint64_t>(std::max<std::int64_t>(0, r.latency.count()));
  ++counters_.latency_count;
  // A failure says what it did to the breaker, when it is no longer closed.
  if (const BreakerState after = breaker_->state(); !success && after != BreakerState::kClosed) {
    r.detail += " (breaker " + std::string(breaker_state_name(after)) + ")";
  }
  co_return r;
}

}  // namespace hfv::adapters
