// Resilience against the real agency-sim process (nothing mocked): which
// failures are retried, the retry budget, 429 Retry-After, the circuit
// breaker's open / half-open / closed cycle, and per-agency concurrency and
// rate limits. Request counts come from the simulator's own request log and
// counters, not from the client's view.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#include "adapters/common/resilience.hpp"
#include "crypto/hash.hpp"
#include "sim_harness.hpp"

namespace a = hfv::adapters;
using a::testing::agency_settings;
using a::testing::Sim;
using hfv::Source;
using hfv::SourceResult;
using hfv::SourceStatus;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr const char* kKnown = "110101199003070011";

std::string person_hash(const std::string& id) { return hfv::crypto::to_hex(hfv::crypto::sha256(id)); }

// A made-up, distinct ID number per index (the simulator does not check checksums).
std::string person(int i) {
  std::string tail = std::to_string(100000 + i);
  return "110101199003" + tail.substr(tail.size() - 6);
}

json bank_records() {
  return json{{"bank", json::array({{{"bank", "工行"}, {"account", "6222020200112233445"},
                                      {"balance", "10.00"}, {"as_of", "2026-10-01"}}})}};
}

// Adapters built once, kept across queries (so their guards and breakers
// carry state), driven on one io_context.
class Rig {
 public:
  // The HttpClient's transfers on `transfer_threads` threads of their own
  // (0: on the Rig's io_context, like every test that does not say).
  explicit Rig(const json& agencies, unsigned transfer_threads = 0) : http_(io_, transfer_threads) {
    auto parsed = a::parse_agencies(agencies, "/");
    if (!parsed) throw std::runtime_error(parsed.error().message);
    auto built = a::build_adapters(*parsed, http_);
    if (!built) throw std::runtime_error(built.error().message);
    set_ = std::move(*built);
  }
  // Runs the queries concurrently; returns when all are done. With `cancel`,
  // the queries carry it and it fires after `cancel_after` (at once if 0).
  std::vector<SourceResult> run(Source s, const std::vector<std::string>& ids, milliseconds budget,
                                const std::shared_ptr<hfv::Cancellation>& cancel = nullptr,
                                milliseconds cancel_after = milliseconds(0)) {
    std::vector<SourceResult> out(ids.size());
    std::vector<a::MemberQuery> members;
    for (std::size_t i = 0; i < ids.size(); ++i) members.push_back({i, ids[i], "测试", "q-" + std::to_string(i), cancel});
    const auto deadline = std::chrono::steady_clock::now() + budget;
    a::Adapter* adapter = set_.at(s).get();
    boost::asio::steady_timer fire(io_, cancel_after);
    if (cancel != nullptr) {
      fire.async_wait([cancel](boost::system::error_code) { cancel->cancel("test: the caller disconnected"); });
    }
    for (std::size_t i = 0; i < ids.size(); ++i) {
      boost::asio::co_spawn(
          io_,
          [&out, &members, adapter, deadline, i]() -> boost::asio::awaitable<void> {
            out[i] = co_await adapter->query(members[i], deadline);
          },
          boost::asio::detached);
    }
    io_.restart();
    io_.run();
    return out;
  }
  SourceResult one(Source s, const std::string& id, milliseconds budget) { return run(s, {id}, budget).at(0); }
  const a::ResilientAdapter& adapter(Source s) const {
    return dynamic_cast<const a::ResilientAdapter&>(*set_.at(s));
  }
  a::AgencyStats stats(Source s) const {
    for (auto& st : a::agency_stats(set_)) {
      if (st.agency == hfv::source_name(s)) return st;
    }
    throw std::runtime_error("no stats");
  }
  std::size_t transfers_in_flight() const { return http_.in_flight(); }

 private:
  boost::asio::io_context io_;
  a::HttpClient http_;
  a::AdapterSet set_;
};

json bank_config(const Sim& sim, const json& extra) { return {{"bank", agency_settings(sim.url(), extra)}}; }

std::size_t requests_about(const Sim& sim, const std::string& id) {
  const auto lines = sim.requests("bank");
  return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const json& l) {
    return l["person_sha256"] == person_hash(id);
  }));
}

}  // namespace

TEST_CASE("resilience: only failures without an answer, 429 and 502-504 are retried",
          "[adapters][resilience]") {
  // fault -> (requests the simulator must see with max_attempts 3, resulting status)
  const std::vector<std::tuple<std::string, std::size_t, SourceStatus>> cases = {
      {"error_503", 3, SourceStatus::kError}, {"reset", 3, SourceStatus::kError},
      {"error_500", 1, SourceStatus::kError}, {"malformed", 1, SourceStatus::kError},
      {"wrong_types", 1, SourceStatus::kError}, {"timeout", 1, SourceStatus::kTimeout},
      {"slow_body", 1, SourceStatus::kTimeout}, {"none", 1, SourceStatus::kOk}};
  json persons = json::object();
  json faults = json::object();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    persons[person(static_cast<int>(i))] = bank_records();
    faults[person(static_cast<int>(i))] = std::get<0>(cases[i]);
  }
  // A slow body takes far longer than the request timeout, which in turn
  // leaves an answered request ample time on a loaded sanitizer build.
  const Sim sim(json{{"persons", persons}, {"faults", {{"bank", {{"persons", faults}, {"slow_body_ms", 60000}}}}}});
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& [fault, expected_requests, expected_status] = cases[i];
    INFO("fault " << fault);
    // A fresh guard each time: the budget (100 %) is not what limits here.
    Rig rig(bank_config(sim, {{"max_attempts", 3}, {"retry_budget_percent", 100}, {"timeout_ms", 2000}}));
    const std::string id = person(static_cast<int>(i));
    const SourceResult r = rig.one(Source::kBank, id, milliseconds(15000));
    INFO("detail " << r.detail);
    CHECK(r.status == expected_status);
    CHECK(requests_about(sim, id) == expected_requests);
    CHECK(static_cast<std::size_t>(r.attempts) == expected_requests);
    CHECK(rig.stats(Source::kBank).requests == expected_requests);
    CHECK(rig.stats(Source::kBank).retries == expected_requests - 1);
  }
}

TEST_CASE("resilience: the retry budget keeps extra requests within 20 percent", "[adapters][resilience]") {
  // 40 % of requests fail with a retryable 503, drawn from a fixed seed.
  const Sim sim(json{{"persons", json::object()},
                     {"faults", {{"bank", {{"error_rate", 0.4}, {"error_kind", "error_503"}}}}}},
                2026);
  Rig rig(bank_config(sim, {{"max_attempts", 3}, {"retry_budget_percent", 20}, {"max_concurrent", 16}}));
  // Ten batches of 20 concurrent queries, as a busy broker would send them.
  std::vector<std::string> ids;
  std::vector<SourceResult> results;
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<std::string> batch_ids;
    for (int i = 0; i < 20; ++i) batch_ids.push_back(person(batch * 20 + i));
    for (auto& r : rig.run(Source::kBank, batch_ids, milliseconds(20000))) results.push_back(std::move(r));
    ids.insert(ids.end(), batch_ids.begin(), batch_ids.end());
  }
  const std::size_t sent = sim.requests("bank").size();
  const std::size_t firsts = ids.size();  // one page each (nobody is known: not found)
  INFO("requests " << sent);
  // Without a budget ~40 % + 16 % + ... more requests would be sent; the
  // budget lets through at most 20 % more (+1 banked at the start), and
  // with this many failures it is (nearly) used up.
  CHECK(sent <= firsts * 120 / 100 + 1);
  CHECK(sent >= firsts * 115 / 100);
  const auto failed = std::count_if(results.begin(), results.end(),
                                    [](const SourceResult& r) { return r.status == SourceStatus::kError; });
  CHECK(failed > 0);
  const auto ok = std::count_if(results.begin(), results.end(),
                                [](const SourceResult& r) { return r.status == SourceStatus::kNotFound; });
  CHECK(static_cast<std::size_t>(ok + failed) == ids.size());
  // The client's own counts agree with the simulator's.
  const a::AgencyStats st = rig.stats(Source::kBank);
  CHECK(st.requests == sent);
  CHECK(st.retries == sent - firsts);
  CHECK(st.queries == ids.size());
  CHECK(st.failures == static_cast<std::uint64_t>(failed));
  CHECK(st.latency_count == ids.size());
}

TEST_CASE("resilience: a 429's Retry-After is waited, but never past the deadline", "[adapters][resilience]") {
  const Sim sim(json{{"persons", {{kKnown, bank_records()}}},
                     {"faults", {{"bank", {{"persons", {{kKnown, "rate_limited"}}}}}}}});
  {
    Rig rig(bank_config(sim, {{"max_attempts", 2}, {"retry_budget_percent", 100}}));
    const auto started = std::chrono::steady_clock::now();
    const SourceResult r = rig.one(Source::kBank, kKnown, milliseconds(5000));
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(r.status == SourceStatus::kError);
    CHECK(r.attempts == 2);
    CHECK(took >= milliseconds(1000));  // Retry-After: 1 (backoff alone would be <= 50 ms)
    const auto log = sim.requests("bank");
    REQUIRE(log.size() == 2);
    CHECK(log[0]["status"] == 429);
    CHECK(log[1]["status"] == 429);
    // Log timestamps (ms resolution) are at least a second apart.
    const std::string t0 = log[0]["ts"];
    const std::string t1 = log[1]["ts"];
    const auto millis = [](const std::string& ts) {
      return std::stol(ts.substr(11, 2)) * 3600000 + std::stol(ts.substr(14, 2)) * 60000 +
             std::stol(ts.substr(17, 2)) * 1000 + std::stol(ts.substr(20, 3));
    };
    CHECK((millis(t1) - millis(t0) + 86400000) % 86400000 >= 990);
  }
  {
    // A Retry-After of a minute with ten seconds left: waiting is pointless,
    // so no retry, and the answer comes at once, not when the deadline
    // passes (the half-way bound leaves room for a loaded sanitizer build).
    sim.set_faults({{"bank", {{"persons", {{kKnown, "rate_limited"}}}, {"retry_after_s", 60}}}});
    Rig rig(bank_config(sim, {{"max_attempts", 3}, {"retry_budget_percent", 100}}));
    const auto started = std::chrono::steady_clock::now();
    const SourceResult r = rig.one(Source::kBank, kKnown, milliseconds(10000));
    CHECK(std::chrono::steady_clock::now() - started < milliseconds(5000));
    CHECK(r.status == SourceStatus::kError);
    CHECK(r.attempts == 1);
    const auto log = sim.requests("bank");
    REQUIRE(log.size() == 3);
    CHECK(log[2]["status"] == 429);
  }
}

TEST_CASE("resilience: the breaker opens, answers without sending, half-opens and closes",
          "[adapters][resilience]") {
  const Sim sim(json{{"persons", {{kKnown, bank_records()}}}, {"faults", {{"bank", {{"all", "error_500"}}}}}});
  // A cool-down long enough that the checks between the breaker opening and
  // the next query (one of them asks the simulator) fit inside it on a
  // loaded sanitizer build; its end is waited for as an event, not slept.
  Rig rig(bank_config(sim, {{"max_attempts", 1}, {"breaker_failures", 3}, {"breaker_cooldown_ms", 3000}}));
  using a::BreakerState;
  const auto wait_for_half_open = [&rig] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (rig.adapter(Source::kBank).breaker_state() != BreakerState::kHalfOpen &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    return rig.adapter(Source::kBank).breaker_state();
  };
  for (int i = 0; i < 3; ++i) {
    CHECK(rig.adapter(Source::kBank).breaker_state() == BreakerState::kClosed);
    CHECK(rig.one(Source::kBank, kKnown, milliseconds(10000)).status == SourceStatus::kError);
  }
  CHECK(rig.adapter(Source::kBank).breaker_state() == BreakerState::kOpen);
  CHECK(rig.stats(Source::kBank).breaker == "open");
  CHECK(sim.requests("bank").size() == 3);

  // Open: answered at once, nothing sent.
  const SourceResult refused = rig.one(Source::kBank, kKnown, milliseconds(10000));
  CHECK(refused.status == SourceStatus::kError);
  CHECK(refused.detail == "circuit open");
  CHECK(refused.attempts == 0);
  CHECK(sim.requests("bank").size() == 3);
  CHECK(rig.stats(Source::kBank).short_circuited == 1);

  // After the cool-down one probe goes out; it fails, so the breaker re-opens.
  CHECK(wait_for_half_open() == BreakerState::kHalfOpen);
  CHECK(rig.one(Source::kBank, kKnown, milliseconds(10000)).attempts == 1);
  CHECK(sim.requests("bank").size() == 4);
  CHECK(rig.adapter(Source::kBank).breaker_state() == BreakerState::kOpen);
  CHECK(rig.stats(Source::kBank).breaker_opens == 2);

  // The agency recovers (slowly, so the probe is still in flight when the
  // others arrive); half-open lets exactly one of three concurrent queries through.
  sim.set_faults({{"bank", {{"latency_ms", 100}}}});
  REQUIRE(wait_for_half_open() == BreakerState::kHalfOpen);
  const auto three = rig.run(Source::kBank, {kKnown, kKnown, kKnown}, milliseconds(10000));
  const auto ok = std::count_if(three.begin(), three.end(),
                                [](const SourceResult& r) { return r.status == SourceStatus::kOk; });
  const auto short_circuited = std::count_if(three.begin(), three.end(),
                                             [](const SourceResult& r) { return r.detail == "circuit open"; });
  CHECK(ok == 1);
  CHECK(short_circuited == 2);
  CHECK(sim.requests("bank").size() == 5);
  CHECK(rig.adapter(Source::kBank).breaker_state() == BreakerState::kClosed);

  // Closed again: everything is sent.
  const auto after = rig.run(Source::kBank, {kKnown, kKnown}, milliseconds(10000));
  CHECK(after[0].status == SourceStatus::kOk);
  CHECK(after[1].status == SourceStatus::kOk);
  CHECK(sim.requests("bank").size() == 7);
  CHECK(rig.stats(Source::kBank).breaker == "closed");
}

TEST_CASE("resilience: the agency never sees more than max_concurrent requests at once",
          "[adapters][resilience]") {
  const Sim sim(json{{"persons", json::object()}, {"faults", {{"bank", {{"latency_ms", 100}}}}}});
  std::vector<std::string> ids;
  for (int i = 0; i < 24; ++i) ids.push_back(person(i));
  {
    Rig rig(bank_config(sim, {{"max_concurrent", 4}}));
    const auto started = std::chrono::steady_clock::now();
    const auto results = rig.run(Source::kBank, ids, milliseconds(10000));
    const auto took = std::chrono::steady_clock::now() - started;
    for (const auto& r : results) CHECK(r.status == SourceStatus::kNotFound);
    const json counts = sim.counts();
    CHECK(counts["max_in_flight"]["bank"] == 4);  // the limit, reached
    CHECK(took >= milliseconds(24 / 4 * 100 - 20));
    const a::AgencyStats st = rig.stats(Source::kBank);
    CHECK(st.in_flight == 0);
    CHECK(st.latency_count == 24);
    CHECK(st.latency_ms_sum >= 24 * 100);  // each waited out the agency's latency
    CHECK(st.failures == 0);
  }
  sim.reset_counts();
  {
    // The measure itself works: without a tight limit the agency sees more.
    Rig rig(bank_config(sim, {{"max_concurrent", 64}}));
    const auto results = rig.run(Source::kBank, ids, milliseconds(10000));
    for (const auto& r : results) CHECK(r.status == SourceStatus::kNotFound);
    CHECK(sim.counts()["max_in_flight"]["bank"].get<int>() > 4);
  }
}

TEST_CASE("resilience: the rate limit spreads requests out", "[adapters][resilience]") {
  const Sim sim(json{{"persons", json::object()}});
  Rig rig(bank_config(sim, {{"rate_per_second", 20}}));
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(person(i));
  const auto started = std::chrono::steady_clock::now();
  const auto results = rig.run(Source::kBank, ids, milliseconds(10000));
  const auto took = std::chrono::steady_clock::now() - started;
  for (const auto& r : results) CHECK(r.status == SourceStatus::kNotFound);
  // A burst of 20, then 20 a second: the last 10 take at least half a second.
  CHECK(took >= milliseconds(450));
  CHECK(sim.requests("bank").size() == 30);
}

TEST_CASE("resilience: a cancellation cuts the transfer in flight and the queries waiting, and nothing is held "
          "against the agency",
          "[adapters][resilience][cancel]") {
  // The bank never answers these four people; one request at a time, and a
  // breaker that would open on the first failure counted.
  json persons = json::object();
  json faults = json::object();
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(person(i));
    persons[ids.back()] = bank_records();
    faults[ids.back()] = "timeout";
  }
  persons[kKnown] = bank_records();
  const Sim sim(json{{"persons", persons}, {"faults", {{"bank", {{"persons", faults}}}}}});
  // The same with the transfers on a thread of their own (as the daemon
  // runs them): the cancellation is handed to that thread.
  const unsigned transfer_threads = GENERATE(0U, 1U);
  INFO("transfer threads " << transfer_threads);
  Rig rig(bank_config(sim, {{"max_concurrent", 1}, {"max_attempts", 1}, {"breaker_failures", 1},
                            {"timeout_ms", 30000}}),
          transfer_threads);

  auto cancel = std::make_shared<hfv::Cancellation>();
  const auto started = std::chrono::steady_clock::now();
  const auto results = rig.run(Source::kBank, ids, milliseconds(30000), cancel, milliseconds(300));
  const auto took = std::chrono::steady_clock::now() - started;
  int sent = 0;
  for (const auto& r : results) {
    INFO(r.detail);
    CHECK(r.status == SourceStatus::kError);
    CHECK(r.cancelled);
    CHECK(r.detail.starts_with("cancelled: test: the caller disconnected"));
    CHECK(r.records.holdings.empty());
    sent += r.attempts;
  }
  CHECK(sent == 1);  // one was in flight; three waited for admission and were never sent
  CHECK(took < milliseconds(15000));  // not the 30 s deadline (half of it: room for a loaded ASan build)
  CHECK(rig.transfers_in_flight() == 0);
  std::size_t asked = 0;
  for (const auto& id : ids) asked += requests_about(sim, id);
  CHECK(asked == 1);
  const auto stats = rig.stats(Source::kBank);
  CHECK(stats.breaker == "closed");  // a cancelled query is not the agency's failure
  CHECK(stats.failures == 0);
  CHECK(stats.in_flight == 0);

  // The admission place and the request slot were given back: the next
  // query is answered at once, not stuck behind a leaked place.
  const SourceResult after = rig.one(Source::kBank, kKnown, milliseconds(3000));
  CHECK(after.status == SourceStatus::kOk);
  CHECK_FALSE(after.cancelled);

  // Called off before it starts: nothing is sent at all.
  auto early = std::make_shared<hfv::Cancellation>();
  early->cancel("test: the caller disconnected");
  const auto none = rig.run(Source::kBank, {kKnown}, milliseconds(3000), early);
  CHECK(none.at(0).cancelled);
  CHECK(none.at(0).attempts == 0);
  CHECK(requests_about(sim, kKnown) == 1);  // only the earlier, answered query
}

TEST_CASE("resilience: a hedged request answers for a stuck one after the agency's p95, within the budget",
          "[adapters][resilience][hedge]") {
  // Thirty people the bank answers at once (they teach the guard its p95),
  // and two whose first request the bank holds (stuck_once).
  json persons = json::object();
  std::vector<std::string> warm;
  for (int i = 0; i < 30; ++i) {
    warm.push_back(person(i));
    persons[warm.back()] = bank_records();
  }
  const std::string stuck = person(100), stuck_too = person(101);
  persons[stuck] = bank_records();
  persons[stuck_too] = bank_records();
  const Sim sim(json{{"persons", persons},
                     {"faults", {{"bank", {{"persons", {{stuck, "stuck_once"}, {stuck_too, "stuck_once"}}}}}}}});

  // The stuck request would take the whole 20 s request timeout; the hedge
  // answers after the observed p95, which even a loaded sanitizer build
  // keeps far below that.
  const unsigned transfer_threads = GENERATE(0U, 1U);
  INFO("transfer threads " << transfer_threads);
  Rig hedging(bank_config(sim, {{"hedge", true}, {"max_attempts", 1}, {"timeout_ms", 20000}}), transfer_threads);
  CHECK_FALSE(hedging.adapter(Source::kBank).guard().observed_p95().has_value());  // nothing learnt yet
  for (const auto& r : hedging.run(Source::kBank, warm, milliseconds(5000))) REQUIRE(r.status == SourceStatus::kOk);
  const auto p95 = hedging.adapter(Source::kBank).guard().observed_p95();
  REQUIRE(p95.has_value());
  CHECK(*p95 < milliseconds(5000));
  CHECK(hedging.stats(Source::kBank).hedges == 0);  // all sent before any p95 was known
  const auto hedges_before = hedging.stats(Source::kBank).hedges;

  const auto started = std::chrono::steady_clock::now();
  const SourceResult r = hedging.one(Source::kBank, stuck, milliseconds(15000));
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(r.detail);
  CHECK(r.status == SourceStatus::kOk);
  CHECK(r.records.holdings.size() == 1);
  CHECK(r.attempts == 2);                // the stuck request and its hedge
  CHECK(took < *p95 + milliseconds(5000));  // the p95, then the hedge's own answer
  CHECK(took < milliseconds(10000));         // not the 20 s the stuck request would take
  const auto stats = hedging.stats(Source::kBank);
  CHECK(stats.hedges == hedges_before + 1);
  CHECK(stats.hedges_won >= 1);
  CHECK(stats.in_flight == 0);
  CHECK(hedging.transfers_in_flight() == 0);  // the stuck transfer was cancelled, not left behind
  const auto lines = sim.requests("bank");
  std::vector<std::string> faults_seen;
  for (const auto& l : lines) {
    if (l["person_sha256"] == person_hash(stuck)) faults_seen.push_back(l["fault"]);
  }
  CHECK(faults_seen == std::vector<std::string>{"stuck_once", ""});

  // Without hedging the same fault costs the whole request timeout.
  Rig plain(bank_config(sim, {{"max_attempts", 1}, {"timeout_ms", 800}}));
  for (const auto& w : plain.run(Source::kBank, warm, milliseconds(5000))) REQUIRE(w.status == SourceStatus::kOk);
  const SourceResult slow = plain.one(Source::kBank, stuck_too, milliseconds(5000));
  CHECK(slow.status == SourceStatus::kTimeout);
  CHECK(slow.attempts == 1);
  CHECK(plain.stats(Source::kBank).hedges == 0);
}

// Admission without a coroutine (AgencyGuard::admit_then, used by the
// verifier's fan-out): places are given at once while free, then in order
// as holders leave; a waiter is refused when its deadline passes or its
// cancellation fires, and a refused waiter takes no place.
TEST_CASE("resilience: admission without a coroutine grants in order, and refuses at the deadline or on cancel",
          "[adapters][resilience]") {
  boost::asio::io_context io;
  a::ResilienceConfig config;
  config.max_concurrent = 2;
  a::AgencyGuard guard(io.get_executor(), config);
  std::vector<std::string> events;
  auto note = [&events](std::string who) {
    return [&events, who = std::move(who)](bool admitted) { events.push_back(who + (admitted ? "+" : "-")); };
  };
  const auto far = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  guard.admit_then(far, nullptr, note("first"));
  guard.admit_then(far, nullptr, note("second"));
  CHECK(events == std::vector<std::string>{"first+", "second+"});  // free places: at once

  auto cancel = std::make_shared<hfv::Cancellation>();
  guard.admit_then(far, nullptr, note("third"));
  guard.admit_then(std::chrono::steady_clock::now() + milliseconds(50), nullptr, note("late"));
  guard.admit_then(far, cancel.get(), note("called-off"));
  guard.admit_then(far, nullptr, note("fourth"));
  CHECK(events.size() == 2);  // the rest wait
  // Runs the loop until `n` events are in (bounded: a loaded sanitizer build).
  auto until = [&](std::size_t n) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    io.restart();  // the loop stops each time it runs out of work
    while (events.size() < n && std::chrono::steady_clock::now() < give_up) io.run_one_for(milliseconds(100));
    return events.size() >= n;
  };
  cancel->cancel("test: the caller left");
  REQUIRE(until(3));
  CHECK(events[2] == "called-off-");
  REQUIRE(until(4));
  CHECK(events[3] == "late-");  // its deadline passed; nobody left
  guard.leave();
  REQUIRE(until(5));
  CHECK(events[4] == "third+");  // first come, first served; the refused ones took no place
  guard.leave();
  REQUIRE(until(6));
  CHECK(events[5] == "fourth+");
  CHECK(guard.in_flight() == 0);  // HTTP requests: none were sent
  // Two holders now (third, fourth): one more waits until one leaves.
  guard.admit_then(far, nullptr, note("fifth"));
  io.restart();
  io.poll();
  CHECK(events.size() == 6);
  guard.leave();
  REQUIRE(until(7));
  CHECK(events[6] == "fifth+");
  guard.leave();
  guard.leave();
}

TEST_CASE("resilience: after a mass expiry of waiters, both admission paths still grant the live ones in order",
          "[adapters][resilience]") {
  // 600 queries wait for one place: every other one with a short deadline.
  // When those expire together, the live ones (half waiting in coroutines,
  // half with completion handlers) must still be granted one per leave(),
  // first come first served, and the expired ones take no place.
  boost::asio::io_context io;
  a::ResilienceConfig config;
  config.max_concurrent = 1;
  a::AgencyGuard guard(io.get_executor(), config);
  const auto far = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const auto soon = std::chrono::steady_clock::now() + milliseconds(100);
  std::vector<int> granted;
  int refused = 0;
  guard.admit_then(far, nullptr, [](bool admitted) { REQUIRE(admitted); });  // holds the place
  constexpr int kWaiters = 600;
  for (int i = 0; i < kWaiters; ++i) {
    const bool live = i % 2 == 0;
    auto settle = [&granted, &refused, i](bool admitted) {
      if (admitted) granted.push_back(i);
      else ++refused;
    };
    if (i % 4 < 2) {
      guard.admit_then(live ? far : soon, nullptr, settle);
    } else {
      boost::asio::co_spawn(
          io,
          [&guard, deadline = live ? far : soon, settle]() -> boost::asio::awaitable<void> {
            const bool admitted = co_await guard.admit(deadline);
            settle(admitted);
          },
          boost::asio::detached);
      io.restart();
      io.poll();  // the coroutine reaches its wait before the next query comes
    }
  }
  auto run_until = [&io](auto done) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    io.restart();
    while (!done() && std::chrono::steady_clock::now() < give_up) io.run_one_for(milliseconds(100));
    return done();
  };
  REQUIRE(run_until([&] { return refused == kWaiters / 2; }));
  CHECK(granted.empty());  // expired waiters took no place
  for (int n = 1; n <= kWaiters / 2; ++n) {
    guard.leave();
    REQUIRE(run_until([&] { return granted.size() == static_cast<std::size_t>(n); }));
  }
  std::vector<int> expected;
  for (int i = 0; i < kWaiters; i += 2) expected.push_back(i);
  CHECK(granted == expected);
  guard.leave();
  // The place is free again: the next query is admitted at once.
  bool admitted_now = false;
  guard.admit_then(far, nullptr, [&admitted_now](bool admitted) { admitted_now = admitted; });
  CHECK(admitted_now);
  guard.leave();
}
