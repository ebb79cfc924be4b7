// The verifier and the batch runner built in-process: real SQLCipher audit
// log and stores in a temporary directory, real policies and division codes,
// and in-process test adapters (TestAdapter below: no HTTP) that record
// when they were asked. The same paths are tested through real processes
// and the agency simulator in tests/integration/ and tests/batch/.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "audit/audit_log.hpp"
#include "broker/ops/divisions.hpp"
#include "broker/reviews/batch.hpp"
#include "broker/store/sqlcipher/authorization_store.hpp"
#include "broker/store/sqlcipher/report_store.hpp"
#include "broker/store/sqlcipher/review_store.hpp"
#include "broker/verification/consent.hpp"
#include "broker/verification/report_signature.hpp"
#include "broker/verification/verifier.hpp"
#include "common/async_event.hpp"
#include "common/blocking_call.hpp"
#include "policies/policy.hpp"
#include "temp_dir.hpp"

namespace b = hfv::broker;
namespace net = boost::asio;
using hfv::Date;
using hfv::FailureKind;
using hfv::Source;
using hfv::SourceResult;
using hfv::SourceStatus;
using nlohmann::json;

namespace {

// An agency in-process: answers "not found" or the failure it is told to,
// after an optional delay that a cancellation cuts short, or once `hold` is
// set (a test holds an answer until it has done what it wants meanwhile).
class TestAdapter : public hfv::adapters::Adapter {
 public:
  TestAdapter(Source source, const hfv::audit::AuditLog& audit) : source_(source), audit_(audit) {}
  Source source() const override { return source_; }
  net::awaitable<SourceResult> query(const hfv::adapters::MemberQuery& member,
                                     hfv::adapters::Deadline /*deadline*/) override {
    ++queries;
    audit_seq_at_query.push_back(audit_.last_seq());
    started_at.push_back(std::chrono::steady_clock::now());
    SourceResult r;
    r.member_index = member.member_index;
    r.source = source_;
    r.attempts = 1;
    if (hold != nullptr) {
      if (on_started) on_started();
      co_await hold->wait();
    }
    if (delay.count() > 0) {
      net::steady_timer timer(co_await net::this_coro::executor, delay);
      const auto registration = hfv::on_cancel(member.cancel.get(), [&timer] { timer.cancel(); });
      if (on_started) on_started();
      // Called off already (before this query, or by on_started): a cancel
      // before the wait begins would not end it, so do not wait at all.
      if (member.cancel == nullptr || !member.cancel->cancelled()) {
        boost::system::error_code ec;
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      }
      if (member.cancel != nullptr && member.cancel->cancelled()) {
        r.status = SourceStatus::kError;
        r.failure = FailureKind::kCancelled;
        r.cancelled = true;
        r.detail = "cancelled";
        co_return r;
      }
    }
    r.status = failure == FailureKind::kNone ? SourceStatus::kNotFound : SourceStatus::kError;
    r.failure = failure;
    if (failure != FailureKind::kNone) r.detail = std::string(hfv::failure_kind_name(failure));
    co_return r;
  }

  FailureKind failure = FailureKind::kNone;
  std::chrono::milliseconds delay{0};
  hfv::AsyncEvent* hold = nullptr;  // on the I/O thread's executor
  std::function<void()> on_started;
  int queries = 0;
  std::vector<std::int64_t> audit_seq_at_query;
  std::vector<std::chrono::steady_clock::time_point> started_at;

 private:
  Source source_;
  const hfv::audit::AuditLog& audit_;
};

// The value of a Result that must be there.
template <class T>
T take(hfv::Result<T> r) {
  REQUIRE(r);
  return std::move(*r);
}

std::string refusal_status(b::RefusalReason reason) { return "refused " + std::string(b::refusal_code(reason)); }

constexpr const char* kApplicant = "230102197503120016";
constexpr const char* kSpouse = "230102197808050020";

// Everything a Verifier needs, in a temporary directory.
struct Fixture {
  hfv::testing::TempDir dir{"hfv-verifier"};
  net::io_context io{1};
  net::thread_pool blocking{1};
  b::Config config;
  b::DivisionCodes divisions = take(b::DivisionCodes::load(HFV_SOURCE_DIR "/broker/data/divisions"));
  std::unique_ptr<hfv::audit::AuditLog> audit =
      take(hfv::audit::AuditLog::open(dir.path / "audit.db", hfv::crypto::SecretKey::random()));
  hfv::crypto::SecretKey state_key = hfv::crypto::SecretKey::random();
  std::unique_ptr<b::AuthorizationStore> authorization_store =
      take(b::SqlcipherAuthorizationStore::open(dir.path / "state.db", state_key));
  std::unique_ptr<b::ReportStore> reports = take(b::SqlcipherReportStore::open(dir.path / "state.db", state_key));
  std::unique_ptr<b::ReviewStore> reviews =
      take(b::SqlcipherReviewStore::open(dir.path / "review.db", hfv::crypto::SecretKey::random()));
  hfv::crypto::Ed25519Signer signer = hfv::crypto::Ed25519Signer::from_seed(std::array<std::uint8_t, 32>{7});
  TestAdapter* bank = nullptr;  // owned by the verifier
  TestAdapter* tax = nullptr;
  std::unique_ptr<b::Verifier> verifier;
  const b::Principal* principal = nullptr;
  std::map<std::string, std::string> authorizations;  // case id -> authorisation id

  Fixture() {
    b::Principal harbin;
    harbin.name = "harbin-case";
    harbin.certificate_cn = "harbin-case";
    harbin.jurisdictions = {"2301"};
    config.principals.push_back(harbin);
    config.verification.repeat_window = std::chrono::hours(0);
    config.review.output_dir = dir.path / "batches";
    principal = config.principal_for_name("harbin-case");

    b::VerifierParts parts;
    parts.config = &config;
    parts.policies = std::make_shared<const hfv::policies::PolicySet>(
        take(hfv::policies::PolicySet::load_dir(HFV_SOURCE_DIR "/policies/data")));
    parts.divisions = &divisions;
    for (Source s : hfv::kAllSources) {  // every agency, so none is "not configured"
      auto adapter = std::make_unique<TestAdapter>(s, *audit);
      if (s == Source::kBank) bank = adapter.get();
      if (s == Source::kTax) tax = adapter.get();
      parts.adapters.emplace(s, std::move(adapter));
    }
    parts.audit = audit.get();
    parts.authorizations = authorization_store.get();
    parts.reports = reports.get();
    parts.signer = &signer;
    parts.consent_pseudonym_key = hfv::crypto::SecretKey::random();
    parts.audit_pseudonym_key = hfv::crypto::SecretKey::random();
    parts.blocking = &blocking;
    parts.reviews = reviews.get();
    parts.refusal_status = &refusal_status;
    verifier = std::make_unique<b::Verifier>(std::move(parts));

    for (const char* case_id : {"HRB-1", "HRB-2", "HRB-3", "HRB-4", "HRB-5", "HRB-6", "HRB-7", "HRB-8", "HRB-9",
                                "HRB-10", "HRB-OLD"}) {
      b::AuthorizationRequest auth;
      auth.case_id = case_id;
      // HRB-OLD: kept from before authorisations named their jurisdiction.
      auth.jurisdiction = std::string_view(case_id) == "HRB-OLD" ? "" : "230100";
      auth.members = {kApplicant, kSpouse};
      auth.all_categories = true;
      auth.valid_from = Date::today_utc().add_months(-1);
      auth.valid_until = Date::today_utc().add_months(1);
      auth.form_sha256 = std::string(64, 'a');
      const auto stored = b::new_authorization(
          auth, {verifier->consent_pseudonym(kApplicant), verifier->consent_pseudonym(kSpouse)}, principal->name);
      REQUIRE(authorization_store->insert(stored));
      authorizations[case_id] = stored.id;
    }
  }

  json request(const std::string& case_id = "HRB-1") const {
    return {{"case_id", case_id},
            {"programme", "dibao"},
            {"jurisdiction", "230100"},
            {"area", "urban"},
            // A date on which Harbin's parameters are in force (its 2024
            // standard is valid for 12 months): on a date past that every
            // household would be indeterminate whatever its sources said.
            {"reference_date", "2024-11-01"},
            {"authorization_id", authorizations.at(case_id)},
            {"obligors", json::array()},
            {"members", json::array({{{"id_number", kApplicant}, {"name", "张伟"}, {"relation", "applicant"}},
                                     {{"id_number", kSpouse}, {"name", "李娜"}, {"relation", "spouse"}}})}};
  }

  b::VerifyCall call(const json& body, std::string key = "") const {
    b::VerifyCall c;
    c.principal = principal;
    c.operator_id = "op-1";
    c.what = "test";
    c.body = body.dump();
    c.idempotency_key = std::move(key);
    return c;
  }

  // Runs `work` on the I/O thread until it ends (the pool and the audit
  // writer post back to it, so the context is kept alive meanwhile).
  template <class T>
  T run(net::awaitable<T> work) {
    std::optional<T> out;
    auto guard = net::make_work_guard(io);
    net::co_spawn(io, std::move(work), [&](const std::exception_ptr& e, T value) {
      if (e) std::rethrow_exception(e);
      out.emplace(std::move(value));
      guard.reset();
    });
    io.restart();
    io.run();
    REQUIRE(out.has_value());
    return std::move(*out);
  }

  std::vector<json> audited(const std::string& action) const {
    hfv::audit::AuditQuery q;
    q.action = action;
    q.limit = 1000;
    std::vector<json> out;
    for (const auto& r : take(audit->query(q))) {
      json j = json::parse(r.body, nullptr, false);
      INFO(r.body);
      REQUIRE(j.is_object());
      j["seq"] = r.seq;
      out.push_back(std::move(j));
    }
    return out;
  }
};

}  // namespace

TEST_CASE("verifier (in-process test adapters): a refused request asks nobody and is audited, in the documented order",
          "[verifier]") {
  Fixture f;
  struct Case {
    const char* what;
    std::function<void(json&)> change;
    b::RefusalReason reason;
    const char* field;
  };
  const std::vector<Case> cases = {
      // A bad field comes before the jurisdiction, which comes before consent.
      {"bad field and foreign place",
       [](json& j) {
         j["area"] = "suburban";
         j["jurisdiction"] = "310101";
       },
       b::RefusalReason::kInvalidField, "area"},
      {"foreign place and unknown authorisation",
       [](json& j) {
         j["jurisdiction"] = "310101";
         j["authorization_id"] = "auth_none";
       },
       b::RefusalReason::kJurisdictionNotAllowed, "jurisdiction"},
      {"unknown division code", [](json& j) { j["jurisdiction"] = "230199"; }, b::RefusalReason::kInvalidField,
       "jurisdiction"},
      {"no policy", [](json& j) { j["jurisdiction"] = "230102"; }, b::RefusalReason::kNoPolicy, "jurisdiction"},
      {"unknown authorisation", [](json& j) { j["authorization_id"] = "auth_none"; },
       b::RefusalReason::kConsentNotFound, "authorization_id"},
      {"another case", [](json& j) { j["case_id"] = "HRB-2"; }, b::RefusalReason::kConsentOtherCase,
       "authorization_id"},
      {"an authorisation without a jurisdiction",
       [&f](json& j) {
         j["case_id"] = "HRB-OLD";
         j["authorization_id"] = f.authorizations["HRB-OLD"];
       },
       b::RefusalReason::kConsentWithoutJurisdiction, "authorization_id"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    json body = f.request();
    c.change(body);
    const b::Outcome o = f.run(f.verifier->verify(f.call(body)));
    REQUIRE(o.kind == b::Outcome::Kind::kRefused);
    CHECK(o.refusal.reason == c.reason);
    CHECK(o.refusal.field == c.field);
    CHECK(o.refusal_audited);
  }
  const b::Outcome not_json = f.run(f.verifier->verify([&] {
    b::VerifyCall c = f.call(json::object());
    c.body = "{not json";
    return c;
  }()));
  CHECK(not_json.refusal.reason == b::RefusalReason::kInvalidJson);
  CHECK(f.bank->queries == 0);
  CHECK(f.tax->queries == 0);
  const auto refused = f.audited("request.refused");
  REQUIRE(refused.size() == cases.size() + 1);
  CHECK(refused[0].value("status", "") == "refused invalid_field");  // as VerifierParts::refusal_status says
  CHECK(refused[0].value("detail", "") == "test field=area");
  CHECK(f.audited("verification.request").empty());
}

TEST_CASE("verifier (in-process test adapters): the request is durable in the audit log before any agency is asked",
          "[verifier]") {
  Fixture f;
  const b::Outcome o = f.run(f.verifier->verify(f.call(f.request())));
  REQUIRE(o.kind == b::Outcome::Kind::kIssued);
  CHECK(o.replay == b::Replay::kNew);
  CHECK(o.failed_sources.empty());
  CHECK(hfv::broker::verify_report_signature(o.report, f.signer.public_key()));
  CHECK(o.report.value("verification_id", "") == o.verification_id);
  REQUIRE(f.bank->queries == 2);  // one per member
  REQUIRE(f.tax->queries == 2);
  const auto requests = f.audited("verification.request");
  REQUIRE(requests.size() == 1);
  const auto subjects = f.audited("verification.subject");
  REQUIRE(subjects.size() == 2);
  const std::int64_t last_before = std::max(subjects[0]["seq"].get<std::int64_t>(), subjects[1]["seq"].get<std::int64_t>());
  for (auto* adapter : {f.bank, f.tax}) {
    for (const std::int64_t seen : adapter->audit_seq_at_query) CHECK(seen >= last_before);
  }
  // One record per member with what each agency answered, its source the list of them.
  const auto answered = f.audited("agency.answers");
  REQUIRE(answered.size() == 2);
  CHECK(answered[0].value("member", "") != answered[1].value("member", ""));
  for (const auto& r : answered) {
    REQUIRE(r["answers"].size() == hfv::kAllSources.size());
    std::string listed;
    for (const auto& a : r["answers"]) {
      listed += (listed.empty() ? "" : ",") + a.value("source", "");
      CHECK_FALSE(a.value("status", "").empty());
      CHECK(a.value("detail", "").starts_with("attempts="));
    }
    CHECK(r.value("source", "") == listed);
  }
  CHECK(f.audited("agency.query").empty());
  const auto issued = f.audited("verification.report");
  REQUIRE(issued.size() == 1);
  CHECK(issued[0]["seq"].get<std::int64_t>() > last_before);
}

TEST_CASE("verifier (in-process test adapters): a summary-only call (batches) gets the decision and no report, "
          "the report stored and audited as for any other",
          "[verifier]") {
  Fixture f;
  const b::Outcome full = f.run(f.verifier->verify(f.call(f.request("HRB-1"))));
  REQUIRE(full.kind == b::Outcome::Kind::kIssued);
  CHECK(full.summary.outcome == full.report.value("outcome", "?"));
  CHECK(full.summary.classification == full.report.value("classification", ""));

  b::VerifyCall call = f.call(f.request("HRB-2"));
  call.summary_only = true;
  const b::Outcome o = f.run(f.verifier->verify(std::move(call)));
  REQUIRE(o.kind == b::Outcome::Kind::kIssued);
  CHECK(o.report.is_null());
  CHECK_FALSE(o.summary.outcome.empty());
  // The stored report is the whole signed report, with the summary's decision.
  const auto stored = f.reports->find(o.verification_id, f.principal->name);
  REQUIRE(stored);
  REQUIRE(stored->has_value());
  const json report = json::parse((*stored)->response);
  CHECK(hfv::broker::verify_report_signature(report, f.signer.public_key()));
  CHECK(report.value("outcome", "?") == o.summary.outcome);
  CHECK(report.value("classification", "") == o.summary.classification);
  bool audited = false;
  for (const auto& r : f.audited("verification.report")) {
    if (r.value("request_id", "") == o.verification_id) audited = r.value("outcome", "?") == o.summary.outcome;
  }
  CHECK(audited);
}

TEST_CASE("verifier (in-process test adapters): failed sources come back typed, a replay asks nobody", "[verifier]") {
  Fixture f;
  f.bank->failure = FailureKind::kThrottled;
  const b::Outcome first = f.run(f.verifier->verify(f.call(f.request(), "key-1")));
  REQUIRE(first.kind == b::Outcome::Kind::kIssued);
  REQUIRE(first.failed_sources.size() == 2);  // the bank, for each member
  for (const auto& s : first.failed_sources) {
    CHECK(s.source == Source::kBank);
    CHECK(s.kind == FailureKind::kThrottled);
  }
  CHECK(first.report.value("outcome", "") == "indeterminate");  // a failed source is never "no assets"
  CHECK(first.report["rules"][0]["rule"] == "savings-cap-24m");
  CHECK(first.report["rules"][0]["unknown_sources"] == json::array({"bank"}));

  const b::Outcome again = f.run(f.verifier->verify(f.call(f.request(), "key-1")));
  CHECK(again.kind == b::Outcome::Kind::kReplayed);
  CHECK(again.replay == b::Replay::kIdempotent);
  CHECK(again.verification_id == first.verification_id);
  CHECK(again.report == first.report);
  CHECK(f.bank->queries == 2);

  json other = f.request();
  other["area"] = "rural";
  const b::Outcome conflict = f.run(f.verifier->verify(f.call(other, "key-1")));
  REQUIRE(conflict.kind == b::Outcome::Kind::kRefused);
  CHECK(conflict.refusal.reason == b::RefusalReason::kIdempotencyConflict);

  const b::Outcome read = f.run(f.verifier->read(*f.principal, "op-1", first.verification_id));
  CHECK(read.kind == b::Outcome::Kind::kReplayed);
  CHECK(read.replay == b::Replay::kRead);
  CHECK(f.run(f.verifier->read(*f.principal, "op-1", "ver_none")).kind == b::Outcome::Kind::kNotFound);
}

TEST_CASE("verifier (in-process test adapters): a caller who leaves cancels the queries, no report, audited",
          "[verifier]") {
  Fixture f;
  auto cancel = std::make_shared<hfv::Cancellation>();
  f.bank->delay = std::chrono::seconds(60);  // only the cancellation ends it
  f.bank->on_started = [&] {
    if (!cancel->cancelled()) cancel->cancel("caller disconnected");
  };
  b::VerifyCall call = f.call(f.request(), "key-c");
  call.cancel = cancel;
  const auto started = std::chrono::steady_clock::now();
  const b::Outcome o = f.run(f.verifier->verify(std::move(call)));
  REQUIRE(o.kind == b::Outcome::Kind::kCancelled);
  // The cancellation ended the queries, not their 60 s (half of it: room
  // for a loaded sanitizer build).
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(30));
  CHECK(o.replay == b::Replay::kNew);
  CHECK(f.audited("verification.report").empty());
  const auto ended = f.audited("verification.cancelled");
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].value("request_id", "") == o.verification_id);
  // Its key is let go: the caller's retry runs anew.
  f.bank->delay = std::chrono::milliseconds(0);
  f.bank->on_started = nullptr;
  const b::Outcome retry = f.run(f.verifier->verify(f.call(f.request(), "key-c")));
  CHECK(retry.kind == b::Outcome::Kind::kIssued);
  CHECK(retry.verification_id != o.verification_id);
}

namespace {

// A batch request (NDJSON) of `households` (at most 4) one-member
// households, cases HRB-1, HRB-2, ...
std::string batch_ndjson(const Fixture& f, int households) {
  std::string ndjson;
  for (int i = 0; i < households; ++i) {
    json r = f.request();
    r["members"] = json::array({r["members"][0]});
    const std::string case_id = "HRB-" + std::to_string(i + 1);
    r["case_id"] = case_id;
    r["authorization_id"] = f.authorizations.at(case_id);
    ndjson += r.dump() + "\n";
  }
  return ndjson;
}

// Runs a batch of `households` (at most 4) one-member households to its end
// and returns its items.
std::vector<b::BatchItem> run_batch(Fixture& f, b::BatchManager& batches, int households) {
  const std::string ndjson = batch_ndjson(f, households);
  const auto created = f.run(batches.create(*f.principal, "op-1", ndjson));
  REQUIRE(std::holds_alternative<json>(created));
  const std::string id = std::get<json>(created).value("batch_id", "");
  for (;;) {
    const auto progress = f.run([&]() -> net::awaitable<b::BatchAnswer<json>> {
      net::steady_timer t(co_await net::this_coro::executor, std::chrono::milliseconds(20));
      co_await t.async_wait(net::use_awaitable);
      co_return co_await batches.progress(id, *f.principal);
    }());
    REQUIRE(std::holds_alternative<json>(progress));
    if (std::get<json>(progress).value("state", "") != "running") break;
  }
  const auto view = f.run(batches.view(id, *f.principal));
  REQUIRE(std::holds_alternative<b::BatchView>(view));
  return std::get<b::BatchView>(view).items;
}

}  // namespace

TEST_CASE("batch runner (in-process test adapters): throttled agencies pause the next household by the backoff",
          "[verifier][batch]") {
  Fixture f;
  f.config.review.capacity_share_permille = 63;  // 16 * 63 / 1000: one member's worth in flight
  f.config.review.backoff_initial = std::chrono::milliseconds(400);
  f.config.review.yield_after_interactive = std::chrono::milliseconds(0);
  f.bank->failure = FailureKind::kThrottled;
  b::BatchManager batches(f.io.get_executor(), *f.verifier, [] { return std::size_t{0}; }, *f.reviews, *f.reports, *f.audit,
                          f.blocking, f.config);
  REQUIRE(batches.slots() == 1);
  const auto items = run_batch(f, batches, 2);
  REQUIRE(items.size() == 2);
  for (const auto& item : items) {
    CHECK(item.state == b::ItemState::kDone);
    CHECK(item.failed_sources == std::vector<std::string>{"bank"});
  }
  REQUIRE(f.bank->started_at.size() == 2);
  // The second household waited out the backoff the first one's throttled
  // bank answer started (a lower bound: a loaded machine only adds to it).
  CHECK(f.bank->started_at[1] - f.bank->started_at[0] >= std::chrono::milliseconds(400));
}

TEST_CASE("batch runner (in-process test adapters): a server error halves concurrency but does not pause",
          "[verifier][batch]") {
  Fixture f;
  f.config.review.capacity_share_permille = 63;
  f.config.review.backoff_initial = std::chrono::seconds(30);  // would make the test time out if it applied
  f.config.review.yield_after_interactive = std::chrono::milliseconds(0);
  f.bank->failure = FailureKind::kServerError;
  b::BatchManager batches(f.io.get_executor(), *f.verifier, [] { return std::size_t{0}; }, *f.reviews, *f.reports, *f.audit,
                          f.blocking, f.config);
  const auto started = std::chrono::steady_clock::now();
  const auto items = run_batch(f, batches, 2);
  REQUIRE(items.size() == 2);
  CHECK(items[1].state == b::ItemState::kDone);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(30));
}

namespace {

// Starts `work` on the I/O thread; its result appears once it has run (see
// run_until). The coroutine keeps references to its arguments: they must
// outlive it (named variables, not temporaries).
template <class T>
std::shared_ptr<std::optional<T>> spawn(Fixture& f, net::awaitable<T> work) {
  auto out = std::make_shared<std::optional<T>>();
  net::co_spawn(f.io, std::move(work), [out](const std::exception_ptr& e, T value) {
    if (e) std::rethrow_exception(e);
    out->emplace(std::move(value));
  });
  return out;
}

// Runs the I/O thread one handler at a time until `done` holds (checked
// between handlers): for tests that hold an agency's answer, where running
// until the context has no more work would never end. Gives up after a minute.
void run_until(Fixture& f, const std::function<bool()>& done) {
  auto guard = net::make_work_guard(f.io);  // the pool and the audit writer post back to it
  f.io.restart();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) FAIL("what the test waits for did not happen");
    f.io.run_one_for(std::chrono::milliseconds(100));
  }
}

// The batch row and items as stored in the review database now.
struct StoredBatch {
  std::optional<b::BatchRow> row;  // empty: not found, or not read
  std::vector<b::BatchItem> items;
};
net::awaitable<StoredBatch> read_stored_batch(Fixture& f, std::string id) {
  StoredBatch out;
  auto row = co_await hfv::run_blocking(f.blocking, [&] { return f.reviews->find_batch(id); });
  auto items = co_await hfv::run_blocking(f.blocking, [&] { return f.reviews->items(id); });
  if (row.ok() && items.ok()) {
    out.row = std::move(*row);
    out.items = std::move(*items);
  }
  co_return out;
}
StoredBatch stored_batch(Fixture& f, const std::string& id) {
  auto stored = spawn(f, read_stored_batch(f, id));
  run_until(f, [&] { return stored->has_value(); });
  REQUIRE((*stored)->row.has_value());
  return std::move(**stored);
}

}  // namespace

TEST_CASE("batch runner (in-process test adapters): a cancelled batch starts no more households, asks no agency for them, is audited",
          "[verifier][batch]") {
  Fixture f;
  f.config.review.capacity_share_permille = 63;  // one household in flight at a time
  f.config.review.yield_after_interactive = std::chrono::milliseconds(0);
  hfv::AsyncEvent started(f.io.get_executor());
  hfv::AsyncEvent release(f.io.get_executor());
  f.bank->hold = &release;  // the first household's bank query waits for it
  f.bank->on_started = [&] { started.set(); };
  b::BatchManager batches(f.io.get_executor(), *f.verifier, [] { return std::size_t{0}; }, *f.reviews, *f.reports, *f.audit,
                          f.blocking, f.config);
  REQUIRE(batches.slots() == 1);

  const std::string ndjson = batch_ndjson(f, 10);  // create() keeps references to it and the operator
  const std::string creator = "op-1";
  auto created = spawn(f, batches.create(*f.principal, creator, ndjson));
  // The first household queries (held at the bank); eight (kSharesPreparing
  // shares of one member) are audited and wait for their turn at the
  // agencies; the tenth has not started.
  run_until(f, [&] {
    return created->has_value() && started.is_set() && batches.progress_snapshot().members_in_flight == 9;
  });
  REQUIRE(std::holds_alternative<json>(**created));
  const std::string id = std::get<json>(**created).value("batch_id", "");
  REQUIRE(f.bank->queries == 1);  // the first household, held

  // Cancelled while the first household is in flight, twice. The answer is
  // the progress when the cancel is durable: the called-off households may
  // have left by then (each leaves as it counts itself cancelled), the held
  // one has not.
  const auto cancel_batch = [&](const std::string& op) {
    auto cancelled = spawn(f, batches.cancel(id, *f.principal, op));
    run_until(f, [&] { return cancelled->has_value(); });
    REQUIRE(std::holds_alternative<json>(**cancelled));
    json answer = std::get<json>(**cancelled);
    CHECK(answer.value("cancel_requested", false));
    CHECK(answer.value("done", -1) == 0);
    return answer;
  };
  const json first = cancel_batch("op-2");
  CHECK(first.value("in_flight", 0) >= 1);
  CHECK(first.value("in_flight", 0) + first.value("cancelled", 0) == 9);
  // Once the eight waiting households have been called off, only the held
  // one is in flight; a second cancel changes nothing and says so.
  run_until(f, [&] { return batches.progress_snapshot().households_done == 8; });
  const json second = cancel_batch("op-3");
  CHECK(second.value("in_flight", 0) == 1);
  CHECK(second.value("cancelled", 0) == 8);
  CHECK(batches.progress_snapshot().members_in_flight == 1);
  // Durable at once: a restart from here on would not resume the batch.
  {
    const auto [row, items] = stored_batch(f, id);
    CHECK(row->state == b::BatchState::kCancelled);
    REQUIRE(items.size() == 10);
    for (std::size_t i = 1; i < items.size(); ++i) CHECK(items[i].state == b::ItemState::kCancelled);
  }
  const int bank_at_cancel = f.bank->queries;
  const int tax_at_cancel = f.tax->queries;

  // The held answer comes; the batch ends with its audit record.
  release.set();
  run_until(f, [&] { return batches.progress_snapshot().running == 0 && !f.audited("batch.cancelled").empty(); });

  CHECK(f.bank->queries == bank_at_cancel);
  CHECK(f.tax->queries == tax_at_cancel);
  CHECK(f.bank->queries == 1);
  CHECK(f.tax->queries == 1);
  const auto view = f.run(batches.view(id, *f.principal));
  REQUIRE(std::holds_alternative<b::BatchView>(view));
  const auto& items = std::get<b::BatchView>(view).items;
  REQUIRE(items.size() == 10);
  CHECK(items[0].state == b::ItemState::kDone);  // in flight when cancelled: finished
  for (std::size_t i = 1; i < items.size(); ++i) CHECK(items[i].state == b::ItemState::kCancelled);
  const auto progress = f.run(batches.progress(id, *f.principal));
  REQUIRE(std::holds_alternative<json>(progress));
  const json& p = std::get<json>(progress);
  CHECK(p.value("state", "") == "cancelled");
  CHECK(p.value("done", -1) == 1);
  CHECK(p.value("failed", -1) == 0);
  CHECK(p.value("cancelled", -1) == 9);
  {
    const auto [row, stored] = stored_batch(f, id);
    CHECK(row->state == b::BatchState::kCancelled);
    CHECK(row->finished_unix != 0);
    REQUIRE(stored.size() == 10);
    CHECK(stored[0].state == b::ItemState::kDone);
    for (std::size_t i = 1; i < stored.size(); ++i) CHECK(stored[i].state == b::ItemState::kCancelled);
  }

  // Audited: the request once (the second cancel changes nothing), the end
  // as cancelled, one verification only, and the household that waited for
  // its turn called off before asking anyone.
  const auto cancel = f.audited("batch.cancel");
  REQUIRE(cancel.size() == 1);
  CHECK(cancel[0].value("request_id", "") == id);
  CHECK(cancel[0].value("status", "") == "requested");
  CHECK(cancel[0].value("operator", "") == "op-2");
  CHECK(cancel[0].value("detail", "") == "remaining=10");
  const auto ended = f.audited("batch.cancelled");
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].value("request_id", "") == id);
  CHECK(ended[0].value("status", "") == "cancelled");
  CHECK(ended[0].value("detail", "") == "total=10 done=1 failed=0 cancelled=9");
  CHECK(ended[0]["seq"].get<std::int64_t>() > cancel[0]["seq"].get<std::int64_t>());
  CHECK(f.audited("batch.finished").empty());
  // Nine households audited (the tenth never started), eight called off.
  CHECK(f.audited("verification.request").size() == 9);
  CHECK(f.audited("verification.report").size() == 1);
  const auto called_off = f.audited("verification.cancelled");
  REQUIRE(called_off.size() == 8);
  std::set<std::string> called_off_ids;
  for (const auto& c : called_off) {
    CHECK(c.value("detail", "") == "the batch was cancelled before any agency was asked; no report issued");
    called_off_ids.insert(c.value("request_id", ""));
  }
  std::set<std::string> prepared_ids;
  for (std::size_t i = 1; i <= 8; ++i) prepared_ids.insert(items[i].verification_id);
  CHECK(called_off_ids == prepared_ids);
  CHECK(items[9].verification_id.empty());
  const auto queried = f.audited("agency.answers");
  CHECK_FALSE(queried.empty());
  for (const auto& q : queried) CHECK(q.value("request_id", "") == items[0].verification_id);  // the first household's only
}
