// BatchManager, running batches: resuming, scheduling households within the
// agencies' capacity, verifying each through the Verifier, backing off,
// writing results and the batch's outputs. Creating and reading batches is
// in batch_requests.cpp.
#include "broker/reviews/batch.hpp"
#include "broker/reviews/batch_run.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <cmath>
#include <set>

#include "adapters/registry.hpp"
#include "broker/ops/log.hpp"
#include "common/blocking_call.hpp"
#include "common/files.hpp"
#include "common/scoped_count.hpp"
#include "crypto/hash.hpp"
#include "common/time.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kFlushEvery = 64;
constexpr auto kFlushInterval = std::chrono::milliseconds(200);
// While interactive verifications keep running, a batch still starts one
// household at least this often (interactive first, batches never starved).
constexpr auto kLongestYield = std::chrono::milliseconds(1000);
// A household waiting for the batch's capacity is woken when a household
// in flight gives some back; while interactive work or other requests hold
// the batch back (nothing here is told when they end) it looks again this
// often, and otherwise at least this often in case a wake-up was missed.
constexpr auto kExternalPoll = std::chrono::milliseconds(2);
constexpr auto kCapacityFallback = std::chrono::milliseconds(100);
// Households prepared ahead of their turn at the agencies (audited, stored
// as running: each waits for its commits), in agencies' shares: at most one
// share's members query at a time, so with only one share preparing the
// agencies waited for the databases whenever a commit was slow. Eight (four
// before 2026-12-07): the audit appends and store writes now wait up to
// kWritesMayWait to share transactions, and the pipeline covers that wait
// (docs/performance.md). Households past their fan-out are bounded by as
// many shares.
constexpr std::size_t kSharesPreparing = 8;
// How long a household's audit appends and store writes may wait for other
// households' to share a transaction (writes_may_wait()).
constexpr std::chrono::milliseconds kWritesMayWait{25};


// Change lists and statistics hold case data: owner-only, replaced whole.
bool write_private_file(const std::filesystem::path& path, const std::string& text) {
  return bool(replace_file_atomically(path, text, 0600));
}

}  // namespace


BatchManager::BatchManager(net::any_io_executor executor, Verifier& verifier,
                           std::function<std::size_t()> other_requests, ReviewStore& store, ReportStore& reports,
                           audit::AuditLog& audit, net::thread_pool& blocking, const Config& config)
    : executor_(std::move(executor)),
      verifier_(verifier),
      other_requests_(std::move(other_requests)),
      store_(store),
      reports_(reports),
      audit_(audit),
      blocking_(blocking),
      config_(config) {
  // Capacity: the smallest per-agency concurrency limit among configured agencies.
  long smallest = 0;
  for (const auto& [name, settings] : config.agencies) {
    const long c = settings.resilience.max_concurrent;
    if (c > 0 && (smallest == 0 || c < smallest)) smallest = c;
  }
  if (smallest == 0) smallest = 16;
  slots_ = std::max<std::size_t>(1, static_cast<std::size_t>(smallest) * config.review.capacity_share_permille / 1000);
  limit_ = slots_;
}

BatchManager::~BatchManager() = default;

void BatchManager::start() {
  net::co_spawn(executor_, watch(), [](const std::exception_ptr& e) {
    if (e) log_event(LogLevel::kError, "batch_resume_failed", {{"reason", "internal error"}});
  });
}

std::chrono::milliseconds BatchManager::poll_interval() const {
  return std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(config_.review.claim_lease / 3),
                    std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
}

net::awaitable<void> BatchManager::watch() {
  // The running batches in the store, now and then every poll interval: those
  // left by the previous process of this node, and those other nodes start.
  net::steady_timer timer(executor_);
  boost::system::error_code ec;
  bool failing = false;  // logged once per outage, not every poll
  while (!stopping_) {
    auto running = co_await run_blocking(blocking_, [&] { return store_.batches_in_state(BatchState::kRunning); });
    if (!running && !failing) log_event(LogLevel::kError, "batch_resume_failed", {{"reason", running.error().message}});
    failing = !running;
    for (auto& row : running ? *running : std::vector<BatchRow>{}) {
      if (stopping_ || runs_.contains(row.id)) continue;
      // (a plain [&] capture: GCC 12 destroys init-captures of a lambda
      // temporary inside co_await twice)
      const std::string id = row.id;
      auto run = std::make_shared<Run>();
      auto loaded = co_await run_blocking(blocking_, [&]() -> Status {
        auto items = store_.items(id);
        if (!items) return items.error();
        run->items = std::move(*items);
        run->members.reserve(run->items.size());
        for (const auto& item : run->items) {
          run->members.push_back(Run::members_of(json::parse(item.request_json, nullptr, false)));
        }
        return {};
      });
      if (!loaded) {
        log_event(LogLevel::kError, "batch_resume_failed", {{"batch_id", row.id}, {"reason", loaded.error().message}});
        continue;
      }
      if (runs_.contains(row.id)) continue;  // created here meanwhile
      run->batch = row;
      log_event(LogLevel::kInfo, "batch_resumed", {{"batch_id", row.id}, {"total", row.total}});
      launch(run);
    }
    timer.expires_after(poll_interval());
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
}

void BatchManager::stop() { stopping_ = true; }

std::size_t BatchManager::Run::members_of(const json& body) {
  if (!body.is_object()) return 1;
  const auto listed = body.find("members");
  if (listed == body.end() || !listed->is_array()) return 1;
  return std::max<std::size_t>(1, listed->size());
}

void BatchManager::Run::turn_over(std::size_t at) {
  BatchItem& item = items[at];
  std::string().swap(item.request_json);
  dirty.push_back(item);
}

void BatchManager::count_items(Run& run) const {
  run.done = run.failed = run.cancelled = 0;
  for (const auto& item : run.items) {
    run.done += item.state == ItemState::kDone ? 1 : 0;
    run.failed += item.state == ItemState::kFailed ? 1 : 0;
    run.cancelled += item.state == ItemState::kCancelled ? 1 : 0;
  }
}

void BatchManager::launch(const std::shared_ptr<Run>& run) {
  if (runs_.contains(run->batch.id)) return;  // already running here
  if (run->members.size() != run->items.size()) {
    // Both callers count them; were one to forget, the batch stays in the
    // store as running and the next look from watch resumes it counted.
    log_event(LogLevel::kError, "batch_launch_refused",
              {{"batch_id", run->batch.id}, {"reason", "internal error: member counts missing"}});
    return;
  }
  run->position.clear();
  for (std::size_t p = 0; p < run->items.size(); ++p) {
    auto& item = run->items[p];
    run->position[item.index] = p;
    std::string().swap(item.request_json);  // read again from the store when claimed
  }
  count_items(*run);
  runs_[run->batch.id] = run;
  net::co_spawn(executor_, drive(run), [id = run->batch.id](const std::exception_ptr& e) {
    if (e) log_event(LogLevel::kError, "batch_stopped", {{"batch_id", id}, {"reason", "internal error"}});
  });
}

Clock::time_point BatchManager::next_look(Clock::time_point now) const {
  const bool external = verifier_.interactive_in_flight() > 0 || other_requests_() > 0 ||
                        now - verifier_.last_interactive_end() < config_.review.yield_after_interactive;
  return now + (external ? kExternalPoll : kCapacityFallback);
}

net::awaitable<void> BatchManager::wait_for_capacity(net::steady_timer& timer, Clock::time_point at_latest) {
  boost::system::error_code ec;
  capacity_waiters_.push_back(&timer);
  timer.expires_at(at_latest);
  co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
  std::erase(capacity_waiters_, &timer);
}

net::awaitable<bool> BatchManager::take_turn(std::shared_ptr<Run> run, std::shared_ptr<Stage> stage,
                                             std::size_t need) {
  if (*stage != Stage::kPreparing) co_return true;  // a retry: the household's first attempt had its turn
  // In the order households come, once a back-off is over: the agencies'
  // share has room for this one's members, or nothing of the batches
  // queries now (then one may, unless an interactive verification runs: at
  // most kLongestYield since the last turn). A cancelled batch's household
  // asks nobody; a stopping broker's still does (it was audited as asking:
  // those in flight finish).
  const std::uint64_t ticket = next_turn_++;
  net::steady_timer timer(executor_);
  for (;;) {
    const auto now = Clock::now();
    const bool room = now >= backoff_until_ &&
                      (in_flight_members_ + need <= allowed() ||
                       (in_flight_members_ == 0 &&
                        (verifier_.interactive_in_flight() == 0 || now - last_turn_ >= kLongestYield)));
    if (ticket == serving_turn_ && (room || run->cancel_requested)) break;
    co_await wait_for_capacity(timer, now < backoff_until_ ? backoff_until_ : next_look(now));
  }
  ++serving_turn_;
  if (run->cancel_requested) {
    capacity_freed();  // the next in line looks too
    co_return false;
  }
  last_turn_ = Clock::now();
  preparing_members_ -= need;
  in_flight_members_ += need;
  *stage = Stage::kQuerying;
  capacity_freed();  // the next in line may fit too, and another household may prepare
  co_return true;
}

void BatchManager::leave(Stage& stage, std::size_t need) {
  switch (stage) {
    case Stage::kPreparing: preparing_members_ -= need; break;
    case Stage::kQuerying: in_flight_members_ -= need; break;
    case Stage::kPast: --past_fan_out_; break;
    case Stage::kDone: return;
  }
  stage = Stage::kDone;
  capacity_freed();
}

void BatchManager::capacity_freed() {
  // Every driver waiting for capacity looks again (each batch has one).
  for (net::steady_timer* waiting : std::exchange(capacity_waiters_, {})) waiting->cancel();
}

std::chrono::milliseconds BatchManager::writes_may_wait() const {
  // In full flow other households' writes come within this, and one
  // transaction of several households' records writes fewer bytes and
  // fsyncs once (docs/performance.md, "A batch household's audit appends
  // share transactions"). While interactive work runs or has just run, a
  // batch keeps one household in flight: nothing would come to share with,
  // and the interactive writes take waiting ones along anyway.
  return allowed() == 0 ? std::chrono::milliseconds(0) : kWritesMayWait;
}

std::size_t BatchManager::allowed() const {
  // Interactive first: agencies and the broker's own thread are shared, so
  // while a case worker's verification runs, and for a moment after (they
  // come in bursts), batches keep only one household in flight (0 here: see
  // drive()).
  if (verifier_.interactive_in_flight() > 0 ||
      Clock::now() - verifier_.last_interactive_end() < config_.review.yield_after_interactive) {
    return 0;
  }
  std::size_t n = std::min(limit_, slots_);
  // Other requests (reads, status polls) in progress: half of the share.
  if (other_requests_() > 0) n = std::min(n, std::max<std::size_t>(1, slots_ / 2));
  return std::max<std::size_t>(1, n);
}

void BatchManager::record_outcome(bool clean, bool back_off) {
  if (clean) {
    limit_ = std::min(slots_, limit_ + 1);
    backoff_ = std::chrono::milliseconds(0);
    return;
  }
  limit_ = std::max<std::size_t>(1, limit_ / 2);
  if (back_off) {
    backoff_ = std::min(config_.review.backoff_max,
                        backoff_.count() == 0 ? config_.review.backoff_initial : backoff_ * 2);
    backoff_until_ = Clock::now() + backoff_;
  }
}

net::awaitable<bool> BatchManager::claim(const std::shared_ptr<Run>& run) {
  // A few households at a time: enough to fill this node's share, few
  // enough that the other nodes get the rest.
  const std::string id = run->batch.id;
  const std::size_t wanted = std::max<std::size_t>(1, slots_);
  auto got = co_await run_blocking(blocking_, [&] { return store_.claim_items(id, wanted, config_.review.claim_lease); });
  if (!got) {
    log_event(LogLevel::kWarn, "batch_claim_failed", {{"batch_id", id}, {"reason", got.error().message}});
    co_return false;
  }
  for (auto& item : *got) {
    auto at = run->position.find(item.index);
    if (at == run->position.end()) continue;  // not an item this node loaded: cannot happen (items are fixed)
    BatchItem& mine = run->items[at->second];
    // Its own item still in flight whose lease ran out (renewals failed
    // while the database was away): it is running here, not again.
    if (mine.state == ItemState::kRunning) continue;
    mine = std::move(item);  // as stored: its attempt count may have grown on another node
    run->claimed.push_back(at->second);
  }
  co_return !run->claimed.empty();
}

net::awaitable<bool> BatchManager::finished_or_held_elsewhere(const std::shared_ptr<Run>& run) {
  // Nothing to claim and nothing of this node in flight: either every
  // household is finished, or other nodes hold the rest. Counted from the
  // store (with this node's results written first), so progress shows the
  // whole cluster's work.
  co_await flush(run);
  const std::string id = run->batch.id;
  auto counts = co_await run_blocking(blocking_, [&] { return store_.item_counts(id); });
  if (!counts || !run->dirty.empty()) co_return false;
  if (counts->pending == 0) co_return true;
  auto row = co_await run_blocking(blocking_, [&] { return store_.find_batch(id); });
  if (row && *row && (*row)->state != BatchState::kRunning) {
    run->ended_elsewhere = true;  // cancelled on another node
    co_return true;
  }
  run->done = static_cast<std::size_t>(counts->done);
  run->failed = static_cast<std::size_t>(counts->failed);
  run->cancelled = static_cast<std::size_t>(counts->cancelled);
  co_return false;
}

net::awaitable<void> BatchManager::drive(std::shared_ptr<Run> run) {
  net::steady_timer timer(executor_);
  boost::system::error_code ec;
  auto pause = [&](std::chrono::milliseconds d) -> net::awaitable<void> {
    timer.expires_after(d);
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
  };
  const auto renew_every = std::chrono::duration_cast<std::chrono::milliseconds>(config_.review.claim_lease / 3);
  auto next_renewal = Clock::now() + renew_every;
  while (!stopping_ && !run->cancel_requested) {
    if (Clock::now() >= next_renewal) {
      const std::string id = run->batch.id;
      auto renewed = co_await run_blocking(blocking_, [&] { return store_.renew_claims(id, config_.review.claim_lease); });
      if (!renewed) log_event(LogLevel::kWarn, "batch_claims_not_renewed", {{"batch_id", id}, {"reason", renewed.error().message}});
      next_renewal = Clock::now() + renew_every;
    }
    if (run->claimed.empty() && !co_await claim(run)) {
      if (run->in_flight > 0) {  // this node's households are still running
        co_await pause(std::chrono::milliseconds(20));
        continue;
      }
      if (co_await finished_or_held_elsewhere(run)) break;
      co_await pause(poll_interval());  // held by other nodes (or the store is away): look again
      continue;
    }
    const std::size_t next = run->claimed.front();
    const std::size_t need = run->members[next];
    const auto now = Clock::now();
    // Nothing of the batches in flight: one household may start, unless an
    // interactive verification is running; then it waits, at most
    // kLongestYield since the last batch household started.
    const bool idle = preparing_members_ == 0 && in_flight_members_ == 0 && past_fan_out_ == 0 &&
                      (verifier_.interactive_in_flight() == 0 || now - last_start_ >= kLongestYield);
    // A household is audited and stored before it takes its turn at the
    // agencies (take_turn): households prepare while others query, the
    // members of kSharesPreparing agencies' shares (one household at
    // least), and households past their fan-out (audit, report, stores:
    // nothing sent to agencies) are bounded apart, so the next ones query
    // while earlier ones are written.
    const std::size_t share = allowed();
    const bool capacity = idle || (share > 0 &&
                                   (preparing_members_ == 0 || preparing_members_ + need <= kSharesPreparing * share) &&
                                   past_fan_out_ < std::max<std::size_t>(1, kSharesPreparing * slots_));
    if (now < backoff_until_ || !capacity) {
      co_await wait_for_capacity(timer, now < backoff_until_ ? backoff_until_ : next_look(now));
      continue;
    }
    run->claimed.pop_front();
    preparing_members_ += need;
    last_start_ = now;
    ++run->in_flight;
    run->items[next].state = ItemState::kRunning;  // in memory only: the store keeps it pending
    auto stage = std::make_shared<Stage>(Stage::kPreparing);
    net::co_spawn(executor_, run_item(run, next, stage, need),
                  [this, run, need, stage, position = next](const std::exception_ptr& e) {
      leave(*stage, need);
      --run->in_flight;
      if (e) {  // counted and reported, never silently dropped
        BatchItem& item = run->items[position];
        item.state = ItemState::kFailed;
        item.error = "internal_error";
        ++run->failed;
        run->turn_over(position);
        log_event(LogLevel::kError, "batch_item_failed", {{"batch_id", run->batch.id}, {"reason", "internal error"}});
      }
    });
    if (!run->flushing && (run->dirty.size() >= kFlushEvery || Clock::now() - run->last_flush > kFlushInterval)) {
      co_await flush(run);
    }
  }
  while (run->in_flight > 0) {
    co_await pause(std::chrono::milliseconds(5));
    if (!run->flushing && Clock::now() - run->last_flush > kFlushInterval) co_await flush(run);
  }
  while (run->flushing) co_await pause(std::chrono::milliseconds(5));
  co_await flush(run);
  if (stopping_) co_return;  // still "running" in the store: continues at the next start (or on another node)
  co_await finish(run);
}

net::awaitable<void> BatchManager::finish(std::shared_ptr<Run> run) {
  // A stop waits for this (busy()): the batch's end is audited before the process ends.
  const ScopedCount finishing(finishing_);
  const bool cancelled = run->cancel_requested;
  const std::string id = run->batch.id;
  if (cancelled) {
    (void)co_await run_blocking(blocking_, [&] { return store_.cancel_pending(id); });
  }
  run->batch.finished_unix = unix_seconds_now();
  // The state this process shows changes last, once the outputs are
  // written and the end audited: a caller who sees "done" finds them.
  const BatchState final_state = cancelled ? BatchState::kCancelled : BatchState::kDone;
  bool mine = false;  // this node ends the batch: it writes the outputs and the audit record
  if (cancelled) {
    // cancel() already moved it from running (so no other node claims);
    // this stamps when it ended.
    auto saved = co_await run_blocking(blocking_, [&] {
      return store_.set_batch_state(id, final_state, run->batch.finished_unix);
    });
    if (!saved) log_event(LogLevel::kError, "batch_state_not_saved", {{"batch_id", id}});
    mine = true;
  } else if (!run->ended_elsewhere) {
    auto ended = co_await run_blocking(blocking_, [&] {
      return store_.finish_batch(id, final_state, run->batch.finished_unix);
    });
    if (!ended) log_event(LogLevel::kError, "batch_state_not_saved", {{"batch_id", id}});
    mine = ended && *ended;
  }
  if (!mine) {
    runs_.erase(id);  // another node finished or cancelled it and writes its outputs
    co_return;
  }
  // The whole batch as stored (other nodes' households too) for the
  // outputs, unless this node's own results could not be written.
  if (run->dirty.empty()) {
    auto stored = co_await run_blocking(blocking_, [&] { return store_.items(id); });
    if (stored) run->items = std::move(*stored);
  }
  for (auto& item : run->items) {
    if (cancelled && item.state == ItemState::kPending) item.state = ItemState::kCancelled;
  }
  count_items(*run);

  // The outputs for case workers and the periodic statistics.
  const auto dir = config_.review.output_dir / id;
  BatchRow ended = run->batch;
  ended.state = final_state;
  const json stats = statistics_json(ended, run->items);
  auto written = co_await run_blocking(blocking_, [&] {
    std::error_code e;
    std::filesystem::create_directories(dir, e);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, e);
    bool ok = !e;
    ok = ok && write_private_file(dir / "changes.json", change_list_json(id, run->items).dump(2) + "\n");
    ok = ok && write_private_file(dir / "changes.csv", change_list_csv(run->items));
    ok = ok && write_private_file(dir / "statistics.json", stats.dump(2) + "\n");
    ok = ok && write_private_file(dir / "statistics.csv", statistics_csv(stats));
    ok = ok && write_private_file(dir / "statistics.svg", statistics_svg(stats, "Batch " + id));
    return ok;
  });
  if (!written) log_event(LogLevel::kError, "batch_outputs_not_written", {{"batch_id", id}});

  audit::AuditRecord r = audit_base(config_.principal_for_name(run->batch.principal), run->batch.operator_id);
  r.action = cancelled ? "batch.cancelled" : "batch.finished";
  r.jurisdiction = run->jurisdiction();
  r.request_id = id;
  r.status = std::string(state_name(final_state));
  r.detail = "total=" + std::to_string(run->batch.total) + " done=" + std::to_string(run->done) +
             " failed=" + std::to_string(run->failed) + " cancelled=" + std::to_string(run->cancelled);
  std::vector<audit::AuditRecord> rows{r};
  if (!co_await audit_.append(std::move(rows))) {
    log_event(LogLevel::kError, "batch_end_not_audited", {{"batch_id", id}, {"state", state_name(final_state)}});
  }
  log_event(LogLevel::kInfo, "batch_finished",
            {{"batch_id", id}, {"state", state_name(final_state)}, {"done", run->done}, {"failed", run->failed}});
  run->batch.state = final_state;
  run->finished = true;
  runs_.erase(id);  // from now on answered from the store
}

net::awaitable<void> BatchManager::flush(std::shared_ptr<Run> run) {
  if (run->dirty.empty() || run->flushing) co_return;
  run->flushing = true;
  std::vector<BatchItem> rows;
  rows.swap(run->dirty);
  auto s = co_await run_blocking(blocking_, [&] { return store_.update_items(run->batch.id, rows); });
  if (!s) {
    // Not lost: the items stay pending in the store and are replayed (by
    // their Idempotency-Key) after a restart. Keep them for the next try.
    log_event(LogLevel::kError, "batch_items_not_saved", {{"batch_id", run->batch.id}, {"reason", s.error().message}});
    run->dirty.insert(run->dirty.end(), rows.begin(), rows.end());
  }
  run->last_flush = Clock::now();
  run->flushing = false;
}

namespace {

// Failures that say an agency is overloaded or unreachable: back off.
bool calls_for_backoff(FailureKind kind) {
  return kind == FailureKind::kTimeout || kind == FailureKind::kThrottled || kind == FailureKind::kCircuitOpen;
}
bool calls_for_backoff(const std::vector<SourceFailure>& failed) {
  return std::any_of(failed.begin(), failed.end(), [](const SourceFailure& f) { return calls_for_backoff(f.kind); });
}

}  // namespace

net::awaitable<void> BatchManager::wait_for_backoff() {
  net::steady_timer wait(executor_);
  wait.expires_at(backoff_until_);
  boost::system::error_code ec;
  co_await wait.async_wait(net::redirect_error(net::use_awaitable, ec));
}

net::awaitable<void> BatchManager::run_item(std::shared_ptr<Run> run, std::size_t position,
                                            std::shared_ptr<Stage> stage, std::size_t need) {
  BatchItem& item = run->items[position];
  const Principal* principal = config_.principal_for_name(run->batch.principal);
  const auto started = Clock::now();
  std::string error;
  bool verified = false;   // a report exists for this household in this batch
  bool recovered = false;  // issued before a crash, its report not stored
  bool called_off = false;  // the batch was cancelled while it waited for its turn
  std::int64_t unsettled = 0;  // tries to learn whether an interrupted attempt was issued
  Outcome outcome;
  for (;;) {
    if (principal == nullptr) {
      error = "principal_removed";
      break;
    }
    VerifyCall call;
    call.principal = principal;
    call.operator_id = run->batch.operator_id;
    call.what = "batch " + run->batch.id;
    call.body = item.request_json;
    call.idempotency_key = run->batch.id + "." + std::to_string(item.index) + "." + std::to_string(item.attempt);
    call.batch_id = run->batch.id;
    call.summary_only = true;  // the item keeps the decision; the report is in the report store
    // A retry after the household's turn stays within the agencies' own limits.
    call.before_queries = [this, run, stage, need] { return take_turn(run, stage, need); };
    call.queries_done = [this, stage, need](const std::vector<SourceFailure>& failed) {
      if (*stage != Stage::kQuerying) return;
      // What the agencies answered sets the pace (and a back-off) for the
      // households after this one, before its report is written.
      record_outcome(failed.empty(), calls_for_backoff(failed));
      in_flight_members_ -= need;
      ++past_fan_out_;
      *stage = Stage::kPast;
      capacity_freed();
    };
    call.writes_may_wait = [this] { return writes_may_wait(); };
    outcome = co_await verifier_.verify(std::move(call));
    if (outcome.kind == Outcome::Kind::kIssued || outcome.kind == Outcome::Kind::kReplayed) {
      verified = true;
      break;
    }
    if (outcome.kind == Outcome::Kind::kCancelled && run->cancel_requested) {
      called_off = true;  // cancelled before its turn at the agencies (take_turn)
      break;
    }
    error = std::string(outcome_error_code(outcome));  // what the item records if this attempt is its last
    if (outcome.kind == Outcome::Kind::kInterrupted || outcome.kind == Outcome::Kind::kRunning) {
      // A crash interrupted this attempt (interrupted), or another node
      // started it and died holding the household (running: a live node
      // renews its claim, so this node could not have claimed it). If its
      // report was already issued (the review record settled at start-up, or
      // settled now from the audit) the household was verified in this batch
      // and must not be again; otherwise a fresh attempt.
      const std::string left = outcome.verification_id;
      auto issued = co_await run_blocking(blocking_, [&]() -> Result<std::optional<ReviewRecord>> {
        if (outcome.kind == Outcome::Kind::kRunning) return settle_abandoned(store_, reports_, audit_, left);
        return store_.issued_in_batch(run->batch.id, item.case_id);
      });
      if (issued && outcome.kind == Outcome::Kind::kRunning) {
        log_event(LogLevel::kInfo, "batch_household_taken_over",
                  {{"batch_id", run->batch.id}, {"index", item.index}, {"report_was_issued", issued->has_value()}});
      }
      if (issued && *issued) {
        item.verification_id = (*issued)->verification_id;
        item.outcome = (*issued)->outcome;
        verified = recovered = true;
        break;
      }
      if (issued) {
        ++item.attempt;
        continue;
      }
      // Not known whether it was issued: never guess. The same attempt is
      // tried again after the back-off (a new one could verify twice); if
      // the store stays away the household fails, not verified twice.
      outcome = Outcome::unavailable_because(Unavailable::kState, "batch items cannot be settled now");
      error = std::string(outcome_error_code(outcome));
      if (++unsettled < config_.review.max_attempts && !stopping_) {
        record_outcome(false, true);
        co_await wait_for_backoff();
        continue;
      }
      break;
    }
    if (outcome.kind == Outcome::Kind::kUnavailable && item.attempt + 1 < config_.review.max_attempts && !stopping_) {
      ++item.attempt;
      record_outcome(false, true);
      co_await wait_for_backoff();
      continue;
    }
    break;
  }
  item.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  if (verified) {
    item.state = ItemState::kDone;
    item.error.clear();
    std::set<std::string> failed;
    if (!recovered) {
      item.verification_id = outcome.verification_id;
      item.outcome = outcome.summary.outcome;
      item.classification = outcome.summary.classification;
      for (const auto& f : outcome.failed_sources) failed.insert(std::string(source_name(f.source)));
      if (*stage == Stage::kPreparing) {  // else counted at queries_done
        record_outcome(failed.empty(), calls_for_backoff(outcome.failed_sources));
      }
    }
    // Change detection against the household's previous verification. The
    // household's review record is read once: for a recovered item (issued
    // before the crash, its report not stored) it also has what the report
    // said (written before the report was issued, settled at start-up).
    struct Compared {
      ReviewRecord current;
      std::vector<Change> changes;
    };
    auto compared = co_await run_blocking(blocking_, [&]() -> Result<Compared> {
      auto current = store_.find(item.verification_id);
      if (!current) return current.error();
      if (!*current) return make_error("not_found", "no review record");
      auto previous = store_.previous(**current);
      if (!previous) return previous.error();
      ChangeSettings settings;
      settings.share_permille = config_.review.change_share_permille;
      auto changes = detect_changes(*previous ? &**previous : nullptr, **current, settings);
      return Compared{std::move(**current), std::move(changes)};
    });
    if (compared) {
      if (recovered) {
        item.classification = compared->current.classification;
        failed.insert(compared->current.failed_sources.begin(), compared->current.failed_sources.end());
      }
      item.changes_json = changes_json(compared->changes).dump();
      item.severity = 0;
      for (const auto& c : compared->changes) item.severity = std::max<std::int64_t>(item.severity, c.severity);
    } else {
      item.changes_json = "[]";
      item.severity = 0;
      item.error = "no_review_record";
    }
    item.failed_sources.assign(failed.begin(), failed.end());
    if (recovered && item.error.empty()) item.error = "report_not_stored";  // the case worker cannot fetch it
    ++run->done;
  } else if (called_off) {
    item.state = ItemState::kCancelled;
    item.verification_id = outcome.verification_id;  // audited as called off
    item.error.clear();
    ++run->cancelled;
  } else {
    item.state = ItemState::kFailed;
    item.error = error;
    if (outcome.kind == Outcome::Kind::kUnavailable) record_outcome(false, true);
    ++run->failed;
  }
  ++run->completed_here;
  const auto now = Clock::now();
  run->completions.push_back(now);
  while (!run->completions.empty() && now - run->completions.front() > kRateWindow) run->completions.pop_front();
  run->turn_over(position);
}

BatchProgress BatchManager::progress_snapshot() const {
  BatchProgress p;
  for (const auto& [id, run] : runs_) {
    if (run->finished) continue;
    ++p.running;
    p.households_total += run->items.size();
    p.households_done += run->done + run->failed + run->cancelled;
  }
  p.members_in_flight = preparing_members_ + in_flight_members_;  // started, not past their queries
  return p;
}

audit::AuditRecord BatchManager::audit_base(const Principal* principal, const std::string& operator_id,
                                            const CallerCertificate& certificate) const {
  if (principal != nullptr) return caller_record(*principal, operator_id, certificate);
  audit::AuditRecord r;  // the principal was removed from the configuration
  r.operator_id = operator_id;
  return r;
}

json BatchManager::progress_json(const Run& run) const {
  const std::size_t total = run.items.size();
  const std::size_t finished = run.done + run.failed + run.cancelled;
  const std::size_t remaining = total - finished;
  double rate = 0;
  if (!run.completions.empty()) {
    const double span =
        std::chrono::duration<double>(Clock::now() - std::max(run.started, Clock::now() - kRateWindow)).count();
    if (span > 0.05) rate = static_cast<double>(run.completions.size()) / span;
  }
  json j = {{"batch_id", run.batch.id},
            {"state", state_name(run.batch.state)},
            {"mode", mode_name(run.batch.mode)},
            {"total", total},
            {"done", run.done},
            {"failed", run.failed},
            {"cancelled", run.cancelled},
            {"remaining", remaining},
            {"in_flight", run.in_flight},
            {"rate_per_s", std::round(rate * 10) / 10},
            {"created_at", format_utc_seconds(run.batch.created_unix)},
            {"links",
             {{"changes", "/v1/batches/" + run.batch.id + "/changes"},
              {"statistics", "/v1/batches/" + run.batch.id + "/statistics"}}}};
  if (run.batch.state == BatchState::kRunning) {
    j["eta_s"] = rate > 0 ? json(static_cast<std::int64_t>(std::ceil(static_cast<double>(remaining) / rate)))
                          : json(nullptr);
  }
  if (run.batch.finished_unix != 0) j["finished_at"] = format_utc_seconds(run.batch.finished_unix);
  std::size_t changed = 0;
  for (const auto& i : run.items) changed += i.severity > 0 ? 1 : 0;
  j["households_with_changes"] = changed;
  if (run.finished || run.batch.state != BatchState::kRunning) {
    const auto dir = config_.review.output_dir / run.batch.id;
    j["files"] = {{"changes_json", (dir / "changes.json").string()},
                  {"changes_csv", (dir / "changes.csv").string()},
                  {"statistics_json", (dir / "statistics.json").string()},
                  {"statistics_csv", (dir / "statistics.csv").string()},
                  {"statistics_svg", (dir / "statistics.svg").string()}};
  }
  return j;
}

}  // namespace hfv::broker
