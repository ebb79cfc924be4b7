// The generic verifiable log (audit/verifiable_log.hpp) on its own, with a
// personality of the tests' making: a small JSON envelope, an optional
// personal blob committed to by its SHA-256, and two index columns ("kind",
// and the personal "owner"). Nothing here uses AuditLog or its records;
// audit_log_test.cpp tests the broker's personality on top.
#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange without it

#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "audit/export.hpp"
#include "audit/verifiable_log.hpp"
#include "crypto/hash.hpp"
#include "storage/sqlcipher_db.hpp"
#include "tests/unit/temp_dir.hpp"

namespace audit = hfv::audit;
namespace crypto = hfv::crypto;
namespace fs = std::filesystem;
namespace net = boost::asio;
using nlohmann::json;

namespace {

// The tests' personality: what one entry says.
struct Entry {
  std::string kind;   // index column, not personal
  std::string owner;  // index column and personal blob (erasable); empty: none
  std::string text;   // only in the envelope
};

const audit::LogSchema& test_schema() {
  static const audit::LogSchema schema{"test-log/v1",
                                       {{"kind", "TEXT NOT NULL", false}, {"owner", "TEXT", true}},
                                       {{"test_records_owner", "owner"}}};
  return schema;
}

audit::Leaf to_leaf(const Entry& e, std::int64_t seq, const std::string& ts) {
  json envelope = {{"seq", seq}, {"ts", ts}, {"kind", e.kind}, {"text", e.text}};
  audit::Leaf leaf;
  if (!e.owner.empty()) {
    leaf.personal = json{{"owner", e.owner}}.dump();
    envelope["personal_sha256"] = crypto::to_hex(crypto::sha256(leaf.personal));
  }
  leaf.envelope = envelope.dump();
  leaf.columns = {e.kind, e.owner.empty() ? std::nullopt : std::optional<std::string>(e.owner)};
  return leaf;
}

// Counts the writer's encode calls (it must call each once).
struct Encoded {
  std::atomic<int> calls{0};
};

audit::LeafBatch batch_of(std::vector<Entry> entries, Encoded* encoded = nullptr) {
  audit::LeafBatch batch;
  batch.count = entries.size();
  batch.encode = [entries = std::move(entries), encoded](std::size_t i, std::int64_t seq,
                                                          const std::string& ts) {
    if (encoded != nullptr) ++encoded->calls;
    return to_leaf(entries[i], seq, ts);
  };
  return batch;
}

// Entries "<name>-0" … "<name>-<n-1>" of kind "w", counted as they are encoded.
audit::LeafBatch named_batch(const std::string& name, int n, Encoded& encoded,
                             std::chrono::milliseconds may_wait = std::chrono::milliseconds(0)) {
  std::vector<Entry> e;
  e.reserve(static_cast<std::size_t>(n));
  for (int j = 0; j < n; ++j) e.push_back({"w", "", name + "-" + std::to_string(j)});
  audit::LeafBatch batch = batch_of(std::move(e), &encoded);
  batch.may_wait = may_wait;
  return batch;
}

// Watches a log's appends: how many entries had been encoded when each one
// completed (-1 for one that failed).
struct AppendWatch {
  Encoded encoded;
  std::mutex m;
  std::vector<int> encodes_at_append;
  int failed = 0;

  void watch(audit::LogOptions& o) {
    o.on_append = [this](std::chrono::steady_clock::duration elapsed, bool ok) {
      std::lock_guard lock(m);
      encodes_at_append.push_back(ok ? encoded.calls.load() : -1);
      if (!ok || elapsed.count() < 0) ++failed;
    };
  }
  std::vector<int> at_append() {
    std::lock_guard lock(m);
    return encodes_at_append;
  }
  int failures() {
    std::lock_guard lock(m);
    return failed;
  }
};

// The personality's check: the envelope carries the row's seq, ts and kind,
// the owner column equals the personal blob's (empty once erased), and the
// personal blob hashes to the envelope's commitment.
std::string check_entry(const audit::LeafRow& row) {
  const json e = json::parse(row.envelope, nullptr, false);
  if (!e.is_object() || e.value("seq", std::int64_t{-1}) != row.seq || e.value("ts", "") != row.ts ||
      e.value("kind", "") != row.columns[0]) {
    return "envelope does not match the row";
  }
  if (row.personal_is_null) return row.columns[1].empty() ? "" : "owner without personal blob";
  const json p = json::parse(row.personal, nullptr, false);
  if (!p.is_object() || p.value("owner", "") != row.columns[1]) return "owner column does not match";
  if (crypto::to_hex(crypto::sha256(row.personal)) != e.value("personal_sha256", "")) {
    return "personal blob does not match its commitment";
  }
  return "";
}

std::vector<Entry> entries(int n, const std::string& prefix = "e") {
  std::vector<Entry> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    out.push_back({i % 2 == 0 ? "even" : "odd", i % 3 == 0 ? "" : "owner-" + std::to_string(i),
                   prefix + std::to_string(i)});
  }
  return out;
}

// A log under test: database, keyring and anchor in a temporary folder.
struct Fixture {
  hfv::testing::TempDir dir{"hfv-vlog"};
  crypto::SecretKey kek = crypto::SecretKey::random();
  fs::path db = dir.path / "log.db";
  fs::path anchor = dir.path / "anchor" / "log.anchor";
  Fixture() { fs::create_directories(anchor.parent_path()); }

  audit::LogOptions options() const {
    audit::LogOptions o;
    o.anchor_file = anchor;
    return o;
  }
  hfv::Result<std::unique_ptr<audit::VerifiableLog>> try_open(audit::LogOptions o) const {
    return audit::VerifiableLog::open(db, kek, test_schema(), std::move(o));
  }
  std::unique_ptr<audit::VerifiableLog> open(audit::LogOptions o) const {
    auto log = try_open(std::move(o));
    INFO((log ? std::string() : log.error().message));
    REQUIRE(log.ok());
    return std::move(*log);
  }
  std::unique_ptr<audit::VerifiableLog> open() const { return open(options()); }

  // Edits the database directly with its (unwrapped) key, as an insider could.
  void sql(const std::string& statement) const {
    auto kr = audit::Keyring::load(audit::keyring_path(db), kek);
    REQUIRE(kr.ok());
    auto raw = hfv::storage::SqlcipherDb::open(db, kr->db_key, false);
    REQUIRE(raw.ok());
    REQUIRE((*raw)->exec(statement).ok());
  }
  audit::ChainReport verify_file(const audit::LeafCheck& check = check_entry) const {
    auto report = audit::verify_log_file(db, kek, anchor, test_schema(), check);
    REQUIRE(report.ok());
    return *report;
  }
};

std::vector<audit::StoredLeaf> all_leaves(const audit::VerifiableLog& log) {
  auto leaves = log.query({}, 0, 1000000);
  REQUIRE(leaves.ok());
  return *leaves;
}

}  // namespace

TEST_CASE("verifiable log: appended leaves are numbered from 1 without gaps and verify after reopening",
          "[audit][verifiable_log]") {
  Fixture f;
  Encoded encoded;
  {
    auto log = f.open();
    CHECK(log->last_seq() == 0);
    CHECK_FALSE(log->latest_head().has_value());
    auto first = log->append_blocking(batch_of(entries(2), &encoded));
    REQUIRE(first.ok());
    CHECK(*first == 1);
    CHECK(*log->append_blocking(batch_of(entries(1), &encoded)) == 3);
    // An empty batch writes nothing and answers the next entry's number.
    CHECK(*log->append_blocking(batch_of({}, &encoded)) == 4);
    CHECK(log->last_seq() == 3);
    CHECK(encoded.calls.load() == 3);  // once per entry
    auto report = log->verify(check_entry);
    REQUIRE(report.ok());
    CHECK(report->ok);
    CHECK(report->records == 3);
  }
  // Closing signed a head over everything and wrote it to the anchor.
  auto anchor = audit::read_anchor(f.anchor);
  REQUIRE(anchor.ok());
  REQUIRE(anchor->has_value());
  CHECK((*anchor)->tree_size == 3);

  auto log = f.open();
  CHECK(log->last_seq() == 3);
  REQUIRE(log->latest_head().has_value());
  CHECK(log->latest_head()->tree_size == 3);
  CHECK(audit::verify_tree_head(*log->latest_head(), log->public_key()));
  CHECK(*log->append_blocking(batch_of(entries(1, "after"))) == 4);
  auto report = log->verify(check_entry);
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(report->records == 4);
  CHECK(report->anchor_checked);
  CHECK(report->heads_checked >= 1);

  // Stored as encoded, with the writer's seq and ts, hashed as RFC 6962 leaves.
  const auto leaves = all_leaves(*log);
  REQUIRE(leaves.size() == 4);
  std::vector<audit::merkle::Hash> hashes;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    const auto& leaf = leaves[i];
    CHECK(leaf.seq == static_cast<std::int64_t>(i) + 1);
    const json e = json::parse(leaf.envelope);
    CHECK(e["seq"] == leaf.seq);
    CHECK(e["ts"] == leaf.ts);
    CHECK(leaf.leaf_hash == crypto::to_hex(audit::merkle::leaf_hash(leaf.envelope)));
    hashes.push_back(audit::merkle::leaf_hash(leaf.envelope));
  }
  CHECK(json::parse(leaves[0].envelope)["text"] == "e0");
  CHECK(json::parse(leaves[3].envelope)["text"] == "after0");
  CHECK(leaves[1].personal == json{{"owner", "owner-1"}}.dump());
  CHECK(leaves[0].personal.empty());  // entry 0 has no owner
  CHECK(report->head_hash == crypto::to_hex(audit::merkle::root(hashes)));
}

TEST_CASE("verifiable log: envelopes are opaque, the personality's check is the only parser",
          "[audit][verifiable_log]") {
  Fixture f;
  const std::vector<std::string> raw = {"not json at all", "{\"half\": ", "ünïcødé ✓ 1 < 2"};
  auto log = f.open();
  audit::LeafBatch batch;
  batch.count = raw.size();
  batch.encode = [&raw](std::size_t i, std::int64_t, const std::string&) {
    audit::Leaf leaf;
    leaf.envelope = raw[i];
    leaf.columns = {"opaque", std::nullopt};
    return leaf;
  };
  const auto appended = log->append_blocking(std::move(batch));
  REQUIRE(appended.ok());
  std::vector<std::int64_t> checked;
  auto report = log->verify([&](const audit::LeafRow& row) {
    checked.push_back(row.seq);
    return std::string();
  });
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(checked == std::vector<std::int64_t>{1, 2, 3});  // every row, in order
  const auto leaves = all_leaves(*log);
  REQUIRE(leaves.size() == 3);
  for (std::size_t i = 0; i < raw.size(); ++i) CHECK(leaves[i].envelope == raw[i]);
  // What the check says is reported at the row it says it of.
  report = log->verify([](const audit::LeafRow& row) {
    return row.seq == 2 ? std::string("the personality objects") : std::string();
  });
  REQUIRE(report.ok());
  CHECK_FALSE(report->ok);
  CHECK(report->first_bad_seq == 2);
  CHECK(report->problem == "the personality objects");
}

TEST_CASE("verifiable log: a changed leaf or row is detected at its sequence number",
          "[audit][verifiable_log][tamper]") {
  Fixture f;
  {
    auto log = f.open();
    REQUIRE(log->append_blocking(batch_of(entries(6))).ok());
  }
  REQUIRE(f.verify_file().ok);
  SECTION("edited envelope: its hash no longer matches") {
    f.sql("UPDATE audit_records SET envelope = replace(envelope, '\"e2\"', '\"x2\"') WHERE seq = 3;");
    const auto report = f.verify_file();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq == 3);
  }
  SECTION("deleted row") {
    f.sql("DELETE FROM audit_records WHERE seq = 4;");
    const auto report = f.verify_file();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq == 4);
  }
  SECTION("index column changed without the envelope: the personality's check finds it") {
    f.sql("UPDATE audit_records SET kind = 'harmless' WHERE seq = 5;");
    auto report = f.verify_file();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq == 5);
    // The generic part does not read columns: a check that accepts
    // everything passes the same file (the heads and anchor still match).
    report = f.verify_file([](const audit::LeafRow&) { return std::string(); });
    CHECK(report.ok);
  }
  SECTION("personal blob changed") {
    f.sql("UPDATE audit_records SET personal = '{\"owner\":\"owner-2\"}', owner = 'owner-2' WHERE seq = 2;");
    const auto report = f.verify_file();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq == 2);
    CHECK(report.problem == "personal blob does not match its commitment");
  }
  SECTION("rewritten with a recomputed leaf hash: the signed heads catch it") {
    const std::string envelope =
        json{{"seq", 3}, {"ts", "2026-01-01T00:00:00.000Z"}, {"kind", "even"}, {"text", "forged"}}.dump();
    const std::string hash = crypto::to_hex(audit::merkle::leaf_hash(envelope));
    f.sql("UPDATE audit_records SET envelope = '" + envelope + "', leaf_hash = '" + hash +
          "', ts = '2026-01-01T00:00:00.000Z', owner = NULL, personal = NULL WHERE seq = 3;");
    const auto report = f.verify_file();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq >= 1);
    CHECK(report.first_bad_seq <= 3);
  }
  SECTION("last rows removed: the head and the anchor catch it, open refuses it") {
    f.sql("DELETE FROM audit_records WHERE seq >= 5;");
    const auto report = f.verify_file();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq == 5);
    auto reopened = f.try_open(f.options());
    REQUIRE_FALSE(reopened.ok());
    CHECK(reopened.error().code == "rollback_detected");
  }
}

TEST_CASE("verifiable log: open refuses a rolled-back copy, a lost anchor, a second writer, a wrong key or format",
          "[audit][verifiable_log][rollback]") {
  Fixture f;
  const fs::path saved = f.dir.path / "old-copy.db";
  {
    auto log = f.open();
    REQUIRE(log->append_blocking(batch_of(entries(4))).ok());
  }
  fs::copy_file(f.db, saved);
  {
    auto log = f.open();
    auto second = f.try_open(f.options());
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code == "locked");
    REQUIRE(log->append_blocking(batch_of(entries(2))).ok());
  }
  auto wrong_key = audit::VerifiableLog::open(f.db, crypto::SecretKey::random(), test_schema(), f.options());
  REQUIRE_FALSE(wrong_key.ok());
  CHECK(wrong_key.error().code == "bad_key");
  audit::LogSchema other = test_schema();
  other.format = "test-log/v2";
  auto wrong_format = audit::VerifiableLog::open(f.db, f.kek, other, f.options());
  REQUIRE_FALSE(wrong_format.ok());
  CHECK(wrong_format.error().code == "unsupported_format");

  fs::remove(f.db);
  fs::copy_file(saved, f.db);
  auto rolled_back = f.try_open(f.options());
  REQUIRE_FALSE(rolled_back.ok());
  CHECK(rolled_back.error().code == "rollback_detected");
  CHECK(f.verify_file().first_bad_seq == 5);
  fs::remove(f.anchor);
  auto no_anchor = f.try_open(f.options());
  REQUIRE_FALSE(no_anchor.ok());
  CHECK(no_anchor.error().code == "anchor_missing");
  // Without an anchor configured the old copy opens: the anchor is the check.
  audit::LogOptions unanchored;
  auto opened = f.try_open(unanchored);
  REQUIRE(opened.ok());
  CHECK((*opened)->last_seq() == 4);
}

TEST_CASE("verifiable log: inclusion and consistency proofs check against signed heads",
          "[audit][verifiable_log][proofs]") {
  Fixture f;
  std::vector<audit::SignedTreeHead> seen;  // on_head runs on the writer; read after publish_head
  std::mutex seen_mutex;
  audit::LogOptions o = f.options();
  o.head_interval = std::chrono::hours(1);  // heads come from publish_head (and closing) only
  o.on_head = [&](const audit::SignedTreeHead& h) {
    std::lock_guard lock(seen_mutex);
    seen.push_back(h);
  };
  auto log = f.open(o);
  auto none = log->publish_head();
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == "empty");
  CHECK_FALSE(log->inclusion_proof(1).ok());

  REQUIRE(log->append_blocking(batch_of(entries(5))).ok());
  auto h5 = log->publish_head();
  REQUIRE(h5.ok());
  CHECK(h5->tree_size == 5);
  CHECK(audit::verify_tree_head(*h5, log->public_key()));
  // Nothing new: no new head.
  auto again = log->publish_head();
  REQUIRE(again.ok());
  CHECK(again->signature == h5->signature);
  REQUIRE(log->append_blocking(batch_of(entries(4, "more"))).ok());
  auto h9 = log->publish_head();
  REQUIRE(h9.ok());
  CHECK(h9->tree_size == 9);
  CHECK(audit::verify_tree_head(*h9, log->public_key()));
  {
    std::lock_guard lock(seen_mutex);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].tree_size == 5);
    CHECK(seen[1].signature == h9->signature);
  }
  auto anchored = audit::read_anchor(f.anchor);
  REQUIRE(anchored.ok());
  REQUIRE(anchored->has_value());
  CHECK((*anchored)->tree_size == 9);

  const auto leaves = all_leaves(*log);
  REQUIRE(leaves.size() == 9);
  for (std::int64_t seq = 1; seq <= 9; ++seq) {
    INFO("seq " << seq);
    auto proof = log->inclusion_proof(seq);
    REQUIRE(proof.ok());
    CHECK(proof->seq == seq);
    CHECK(proof->head.signature == h9->signature);
    CHECK(crypto::to_hex(proof->leaf_hash) == leaves[static_cast<std::size_t>(seq - 1)].leaf_hash);
    CHECK(audit::merkle::verify_inclusion(proof->leaf_hash, static_cast<std::uint64_t>(seq - 1), 9,
                                          proof->path, h9->root));
    // A proof does not verify at another position or against another root.
    CHECK_FALSE(audit::merkle::verify_inclusion(proof->leaf_hash, static_cast<std::uint64_t>(seq % 9), 9,
                                                proof->path, h9->root));
    CHECK_FALSE(audit::merkle::verify_inclusion(proof->leaf_hash, static_cast<std::uint64_t>(seq - 1), 9,
                                                proof->path, h5->root));
  }
  auto old = log->inclusion_proof(3, 5);
  REQUIRE(old.ok());
  CHECK(old->head.tree_size == 5);
  CHECK(audit::merkle::verify_inclusion(old->leaf_hash, 2, 5, old->path, h5->root));
  auto beyond = log->inclusion_proof(7, 5);
  REQUIRE_FALSE(beyond.ok());
  CHECK(beyond.error().code == "not_found");
  auto no_such_head = log->inclusion_proof(1, 6);
  REQUIRE_FALSE(no_such_head.ok());
  CHECK(no_such_head.error().code == "not_found");

  for (const std::int64_t second : {std::int64_t{0}, std::int64_t{9}}) {
    auto consistency = log->consistency_proof(5, second);
    REQUIRE(consistency.ok());
    CHECK(consistency->first.signature == h5->signature);
    CHECK(consistency->second.signature == h9->signature);
    CHECK(audit::merkle::verify_consistency(5, 9, h5->root, h9->root, consistency->path));
    CHECK_FALSE(audit::merkle::verify_consistency(5, 9, h9->root, h9->root, consistency->path));
  }
  CHECK_FALSE(log->consistency_proof(9, 5).ok());
  CHECK_FALSE(log->consistency_proof(4).ok());  // no head of that size
}

TEST_CASE("verifiable log: group commit keeps each append's entries consecutive and in order",
          "[audit][verifiable_log][concurrency]") {
  Fixture f;
  AppendWatch appends_seen;
  audit::LogOptions o = f.options();
  appends_seen.watch(o);
  auto log = f.open(o);
  // Each append: three entries "<writer>-0..2", counted as they are encoded.
  auto triple = [&appends_seen](const std::string& writer) { return named_batch(writer, 3, appends_seen.encoded); };

  // Hold the writer inside a first append, so that the next ones queue up.
  std::promise<void> entered, release;
  auto released = release.get_future().share();
  audit::LeafBatch gate;
  gate.count = 1;
  gate.encode = [&entered, released](std::size_t, std::int64_t seq, const std::string& ts) {
    entered.set_value();
    released.wait();
    return to_leaf({"gate", "", "gate"}, seq, ts);
  };
  auto gate_done = std::async(std::launch::async, [&] { return log->append_blocking(std::move(gate)); });
  entered.get_future().wait();

  net::io_context io;
  constexpr int kCoroutines = 50;
  std::map<std::int64_t, std::string> firsts;  // first seq -> writer
  int errors = 0;
  for (int i = 0; i < kCoroutines; ++i) {
    net::co_spawn(
        io,
        [&, i]() -> net::awaitable<void> {
          const std::string name = "c" + std::to_string(i);
          auto r = co_await log->append(triple(name));
          if (r.ok()) {
            firsts[*r] = name;
          } else {
            ++errors;
          }
        },
        net::detached);
  }
  io.poll();  // every coroutine has submitted its append and waits for it
  release.set_value();
  REQUIRE(gate_done.get().ok());
  io.run();  // until every append is answered
  REQUIRE(errors == 0);
  REQUIRE(firsts.size() == static_cast<std::size_t>(kCoroutines));
  {
    const auto encodes_at_append = appends_seen.at_append();
    REQUIRE(encodes_at_append.size() == static_cast<std::size_t>(1 + kCoroutines));
    // They were queued together, so they were written in one transaction:
    // all of them encoded before the first of them was durable.
    CHECK(encodes_at_append[1] == 3 * kCoroutines);
  }

  // Then appends from plain threads and coroutines at once.
  constexpr int kThreads = 4, kPerThread = 10;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::mutex firsts_mutex;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        const std::string name = "t" + std::to_string(t) + "." + std::to_string(k);
        auto r = log->append_blocking(triple(name));
        std::lock_guard lock(firsts_mutex);
        if (r.ok()) {
          firsts[*r] = name;
        } else {
          ++errors;
        }
      }
    });
  }
  io.restart();
  for (int i = 0; i < kCoroutines; ++i) {
    net::co_spawn(
        io,
        [&, i]() -> net::awaitable<void> {
          const std::string name = "d" + std::to_string(i);
          auto r = co_await log->append(triple(name));
          std::lock_guard lock(firsts_mutex);
          if (r.ok()) {
            firsts[*r] = name;
          } else {
            ++errors;
          }
        },
        net::detached);
  }
  io.run();
  for (auto& t : threads) t.join();
  REQUIRE(errors == 0);
  const int appends = 2 * kCoroutines + kThreads * kPerThread;
  REQUIRE(firsts.size() == static_cast<std::size_t>(appends));
  const std::int64_t total = 1 + 3 * appends;
  CHECK(log->last_seq() == total);
  CHECK(appends_seen.at_append().size() == static_cast<std::size_t>(1 + appends));  // on_append once per append
  CHECK(appends_seen.failures() == 0);
  CHECK(appends_seen.encoded.calls.load() == 3 * appends);  // the gate's is not counted

  const auto leaves = all_leaves(*log);
  REQUIRE(leaves.size() == static_cast<std::size_t>(total));
  for (std::size_t i = 0; i < leaves.size(); ++i) CHECK(leaves[i].seq == static_cast<std::int64_t>(i) + 1);
  for (const auto& [first, name] : firsts) {
    INFO(name << " from " << first);
    REQUIRE(first >= 2);
    REQUIRE(first + 2 <= total);
    for (int j = 0; j < 3; ++j) {
      CHECK(json::parse(leaves[static_cast<std::size_t>(first - 1 + j)].envelope)["text"] ==
            name + "-" + std::to_string(j));
    }
  }
  auto report = log->verify(check_entry);
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(report->records == total);
}

TEST_CASE("verifiable log: a head is signed by itself every head_interval while entries arrive",
          "[audit][verifiable_log]") {
  Fixture f;
  std::promise<audit::SignedTreeHead> signed_head;
  std::atomic<bool> fulfilled{false};
  audit::LogOptions o = f.options();
  o.head_interval = std::chrono::milliseconds(20);
  o.on_head = [&](const audit::SignedTreeHead& h) {
    if (h.tree_size == 3 && !fulfilled.exchange(true)) signed_head.set_value(h);
  };
  auto log = f.open(o);
  auto head = signed_head.get_future();
  REQUIRE(log->append_blocking(batch_of(entries(3))).ok());
  // Bounded wait for the event (a loaded machine is slow, not wrong).
  REQUIRE(head.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  const auto h = head.get();
  CHECK(audit::verify_tree_head(h, log->public_key()));
  const auto latest = log->latest_head();
  REQUIRE(latest.has_value());
  CHECK(latest->tree_size == 3);
  auto anchored = audit::read_anchor(f.anchor);
  REQUIRE(anchored.ok());
  REQUIRE(anchored->has_value());
  CHECK((*anchored)->tree_size == 3);
}

TEST_CASE("verifiable log: queries filter on the schema's columns, a foreign column is bad_query",
          "[audit][verifiable_log][query]") {
  Fixture f;
  auto log = f.open();
  REQUIRE(log->append_blocking(batch_of({{"a", "ann", "1"},
                                         {"b", "", "2"},
                                         {"a", "bob", "3"},
                                         {"c", "anders", "4"},
                                         {"a", "ann", "5"}}))
              .ok());
  using Op = audit::ColumnCondition::Op;
  auto seqs = [&](const std::vector<audit::ColumnCondition>& conditions, std::int64_t after = 0,
                  std::int64_t limit = 100) {
    auto leaves = log->query(conditions, after, limit);
    REQUIRE(leaves.ok());
    std::vector<std::int64_t> out;
    for (const auto& l : *leaves) out.push_back(l.seq);
    return out;
  };
  using V = std::vector<std::int64_t>;
  CHECK(seqs({}) == V{1, 2, 3, 4, 5});
  CHECK(seqs({{"kind", Op::equals, {"a"}}}) == V{1, 3, 5});
  CHECK(seqs({{"kind", Op::equals, {"a"}}, {"owner", Op::equals, {"ann"}}}) == V{1, 5});
  CHECK(seqs({{"kind", Op::any_of, {"b", "c"}}}) == V{2, 4});
  CHECK(seqs({{"owner", Op::null_or_prefix, {"an"}}}) == V{1, 2, 4, 5});
  CHECK(seqs({{"kind", Op::equals, {"a"}}}, 1, 1) == V{3});  // after seq 1, at most 1
  CHECK(seqs({}, 0, -1).empty());
  const auto leaves = all_leaves(*log);
  CHECK(seqs({{"ts", Op::at_least, {leaves[0].ts}}}).size() == 5);
  CHECK(seqs({{"ts", Op::below, {leaves[0].ts}}}).empty());
  auto bad = log->query({{"text", Op::equals, {"1"}}}, 0, 10);  // in the envelope, not a column
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "bad_query");
}

TEST_CASE("verifiable log: erasing personal blobs keeps every leaf, root and proof",
          "[audit][verifiable_log][retention]") {
  Fixture f;
  {
    auto log = f.open();
    REQUIRE(log->append_blocking(batch_of(entries(6))).ok());  // entries 1, 2, 4, 5 have an owner
    auto h = log->publish_head();
    REQUIRE(h.ok());
    auto erased = log->erase_personal_before("9999-01-01T00:00:00.000Z");
    REQUIRE(erased.ok());
    CHECK(*erased == 4);
    CHECK(*log->erase_personal_before("9999-01-01T00:00:00.000Z") == 0);
    for (const auto& leaf : all_leaves(*log)) {
      CHECK(leaf.personal.empty());
      CHECK(leaf.leaf_hash == crypto::to_hex(audit::merkle::leaf_hash(leaf.envelope)));
    }
    using Op = audit::ColumnCondition::Op;
    auto by_owner = log->query({{"owner", Op::equals, {"owner-1"}}}, 0, 10);
    REQUIRE(by_owner.ok());
    CHECK(by_owner->empty());  // the personal column went with the blob
    auto by_kind = log->query({{"kind", Op::equals, {"odd"}}}, 0, 10);
    REQUIRE(by_kind.ok());
    CHECK(by_kind->size() == 3);  // the others stay
    auto report = log->verify(check_entry);
    REQUIRE(report.ok());
    CHECK(report->ok);
    auto proof = log->inclusion_proof(2);
    REQUIRE(proof.ok());
    CHECK(audit::merkle::verify_inclusion(proof->leaf_hash, 1, 6, proof->path, h->root));
  }
  SECTION("the writer erases by itself at open what personal_cutoff says") {
    {
      auto log = f.open();
      REQUIRE(log->append_blocking(batch_of(entries(3, "later"))).ok());  // entries 8, 9 have an owner
    }
    std::promise<void> asked;
    std::atomic<bool> once{false};
    audit::LogOptions o = f.options();
    o.personal_cutoff = [&] {
      if (!once.exchange(true)) asked.set_value();
      return std::string("9999-01-01T00:00:00.000Z");
    };
    auto log = f.open(o);
    REQUIRE(asked.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    // The writer runs one thing at a time: this job runs after that erasure.
    REQUIRE(log->erase_personal_before("0000-01-01T00:00:00.000Z").ok());
    for (const auto& leaf : all_leaves(*log)) CHECK(leaf.personal.empty());
    CHECK(f.verify_file().ok);
  }
}

TEST_CASE("verifiable log: a signed export verifies offline, withheld entries by their leaf hash",
          "[audit][verifiable_log][export]") {
  Fixture f;
  auto log = f.open();
  REQUIRE(log->append_blocking(batch_of({{"public", "", "p1"},
                                         {"secret", "own", "s1"},
                                         {"public", "", "p2"},
                                         {"public", "own", "p3"}}))
              .ok());
  CHECK_FALSE(log->export_ndjson(1, 2, [](const std::string&) { return true; }).ok());  // no head yet
  REQUIRE(log->publish_head().ok());
  auto text = log->export_ndjson(
      1, 4, [](const std::string& envelope) { return envelope.find("\"secret\"") == std::string::npos; });
  REQUIRE(text.ok());
  CHECK(text->find("s1") == std::string::npos);
  auto report = audit::verify_export(*text, log->public_key());
  REQUIRE(report.ok());
  INFO(report->problem);
  CHECK(report->ok);
  CHECK(report->records == 4);
  CHECK(report->withheld == 1);
  std::string edited = *text;
  edited.replace(edited.find("p2"), 2, "p9");
  auto bad = audit::verify_export(edited, log->public_key());
  REQUIRE(bad.ok());
  CHECK_FALSE(bad->ok);
  auto beyond = log->export_ndjson(2, 5, [](const std::string&) { return true; });
  REQUIRE_FALSE(beyond.ok());
  CHECK(beyond.error().code == "not_found");
}

TEST_CASE("verifiable log: data-key rotation and keyring re-wrap keep every entry and the signing key",
          "[audit][verifiable_log][rotation]") {
  Fixture f;
  crypto::Ed25519PublicKey key{};
  {
    auto log = f.open();
    REQUIRE(log->append_blocking(batch_of(entries(5))).ok());
    key = log->public_key();
    auto busy = audit::VerifiableLog::rotate_data_key(f.db, f.kek, test_schema());
    REQUIRE_FALSE(busy.ok());
    CHECK(busy.error().code == "locked");
  }
  auto before = audit::Keyring::load(audit::keyring_path(f.db), f.kek);
  REQUIRE(before.ok());
  REQUIRE(audit::VerifiableLog::rotate_data_key(f.db, f.kek, test_schema()).ok());
  auto after = audit::Keyring::load(audit::keyring_path(f.db), f.kek);
  REQUIRE(after.ok());
  CHECK_FALSE(crypto::constant_time_equal(before->db_key.bytes(), after->db_key.bytes()));
  CHECK_FALSE(hfv::storage::SqlcipherDb::open(f.db, before->db_key, false).ok());
  {
    auto log = f.open();
    CHECK(log->public_key() == key);
    CHECK(log->last_seq() == 5);
    auto report = log->verify(check_entry);
    REQUIRE(report.ok());
    CHECK(report->ok);
  }
  const auto new_kek = crypto::SecretKey::random();
  REQUIRE(audit::VerifiableLog::rewrap_keyring(f.db, f.kek, new_kek).ok());
  auto old_kek = f.try_open(f.options());
  REQUIRE_FALSE(old_kek.ok());
  CHECK(old_kek.error().code == "bad_key");
  auto report = audit::verify_log_file(f.db, new_kek, f.anchor, test_schema(), check_entry);
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(report->records == 5);
}

// --- Signing-key rotation (audit/key_history.hpp) ---------------------------

TEST_CASE("signing-key rotation: heads after the transition are signed by the new key, and the log, its anchor "
          "and an export verify from the first key",
          "[audit][vlog][keys]") {
  Fixture f;
  const auto where = audit::LogLocation::sqlcipher(f.db);
  const std::string origin = "test.example/log";
  crypto::Ed25519PublicKey first{};
  {
    auto log = f.open();
    REQUIRE(log->append_blocking(batch_of(entries(5))).ok());
    first = log->public_key();
    // Not while the log is open.
    auto busy = audit::VerifiableLog::rotate_signing_key(where, f.kek, test_schema(), origin);
    REQUIRE_FALSE(busy.ok());
    CHECK(busy.error().code == "locked");
  }
  auto bad_origin = audit::VerifiableLog::rotate_signing_key(where, f.kek, test_schema(), "hfv-audit-sth/x");
  REQUIRE_FALSE(bad_origin.ok());
  CHECK(bad_origin.error().code == "bad_origin");

  auto t = audit::VerifiableLog::rotate_signing_key(where, f.kek, test_schema(), origin);
  INFO((t ? std::string() : t.error().message));
  REQUIRE(t.ok());
  CHECK(t->tree_size == 5);
  CHECK(t->old_key == first);
  CHECK(t->new_key != first);
  CHECK(t->origin == origin);
  CHECK(audit::verify_key_transition(*t));
  auto keyring = audit::Keyring::load(audit::keyring_path(f.db), f.kek);
  REQUIRE(keyring.ok());
  CHECK(keyring->public_key == t->new_key);
  REQUIRE(keyring->history.transitions.size() == 1);
  // The identity key stays the first: what audit.public_key pins.
  auto identity = audit::Keyring::load_public_key(audit::keyring_path(f.db));
  REQUIRE(identity.ok());
  CHECK(*identity == first);
  auto history = audit::VerifiableLog::key_history_at(where, f.kek, test_schema());
  REQUIRE(history.ok());
  CHECK(history->first == first);
  CHECK(history->current() == t->new_key);

  std::string exported;
  {
    // The anchor (a head of 5 signed by the retired key) still opens the log.
    auto log = f.open();
    CHECK(log->public_key() == t->new_key);
    CHECK(log->first_public_key() == first);
    REQUIRE(log->append_blocking(batch_of(entries(3, "after"))).ok());
    auto head = log->publish_head();
    REQUIRE(head.ok());
    CHECK(head->tree_size == 8);
    CHECK(head->key_id == audit::audit_key_id(t->new_key));
    CHECK(audit::verify_tree_head(*head, t->new_key));
    CHECK_FALSE(audit::verify_tree_head(*head, first));
    CHECK(log->checkpoint_note(origin, *head).ok());
    auto text = log->export_ndjson(1, 8, [](const std::string&) { return true; });
    REQUIRE(text.ok());
    exported = *text;
  }
  // Verified with the first key only: the export's transition leads to the new one.
  auto from_first = audit::verify_export(exported, first);
  REQUIRE(from_first.ok());
  INFO(from_first->problem);
  CHECK(from_first->ok);
  CHECK(from_first->records == 8);
  CHECK(from_first->key_transitions == 1);
  auto from_new = audit::verify_export(exported, t->new_key);
  REQUIRE(from_new.ok());
  CHECK(from_new->ok);
  auto stranger = audit::verify_export(
      exported, crypto::Ed25519Signer::from_seed(crypto::SecretKey::random().bytes()).public_key());
  REQUIRE(stranger.ok());
  CHECK_FALSE(stranger->ok);

  const auto report = f.verify_file();
  INFO(report.problem);
  CHECK(report.ok);
  CHECK(report.records == 8);
  CHECK(report.heads_checked >= 2);
  CHECK(report.anchor_checked);
}

TEST_CASE("signing-key rotation: the old key signs heads up to the transition, the new key from it on",
          "[audit][vlog][keys]") {
  const crypto::SecretKey s0 = crypto::SecretKey::random();
  const crypto::SecretKey s1 = crypto::SecretKey::random();
  const auto k0 = crypto::Ed25519Signer::from_seed(s0.bytes());
  const auto k1 = crypto::Ed25519Signer::from_seed(s1.bytes());
  const std::string ts = "2026-01-01T00:00:00.000Z";
  audit::KeyHistory history;
  history.first = k0.public_key();
  history.transitions = {audit::sign_key_transition(k0, k1, "test.example/log", 5, {}, ts)};
  REQUIRE(audit::check_key_history(history).ok());
  CHECK(history.verifies(audit::sign_tree_head(k0, 5, {}, ts)));
  CHECK_FALSE(history.verifies(audit::sign_tree_head(k0, 6, {}, ts)));  // a retired key beyond its time
  CHECK(history.verifies(audit::sign_tree_head(k1, 5, {}, ts)));
  CHECK(history.verifies(audit::sign_tree_head(k1, 6, {}, ts)));
  CHECK_FALSE(history.verifies(audit::sign_tree_head(k1, 4, {}, ts)));
  // The published document reads back, checked; one with a broken chain does not.
  const auto doc = audit::key_history_json(history);
  auto back = audit::key_history_from_json(doc);
  REQUIRE(back.ok());
  CHECK(back->current() == k1.public_key());
  auto broken = doc;
  broken["transitions"][0]["old_signature"] = broken["transitions"][0]["new_signature"];
  auto refused = audit::key_history_from_json(broken);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "bad_transition");
}

TEST_CASE("signing-key rotation: a transition not signed by the retiring key is refused", "[audit][vlog][keys]") {
  Fixture f;
  {
    auto log = f.open();
    REQUIRE(log->append_blocking(batch_of(entries(3))).ok());
  }
  auto keyring = audit::Keyring::load(audit::keyring_path(f.db), f.kek);
  REQUIRE(keyring.ok());
  // An insider with the KEK but not the log's signing key: a transition to a
  // key of their own, signed by that key alone.
  const crypto::SecretKey seed = crypto::SecretKey::random();
  const auto theirs = crypto::Ed25519Signer::from_seed(seed.bytes());
  audit::KeyTransition forged =
      audit::sign_key_transition(theirs, theirs, "test.example/log", 3, {}, "2026-01-01T00:00:00.000Z");
  forged.old_key = keyring->public_key;
  CHECK_FALSE(audit::verify_key_transition(forged));
  audit::KeyHistory chain;
  chain.first = keyring->public_key;
  chain.transitions = {forged};
  auto checked = audit::check_key_history(chain);
  REQUIRE_FALSE(checked.ok());
  CHECK(checked.error().code == "bad_transition");

  audit::Keyring tampered = *keyring;
  tampered.signing_seed = seed;
  tampered.public_key = theirs.public_key();
  tampered.history.transitions = {forged};
  REQUIRE(tampered.save(audit::keyring_path(f.db), f.kek).ok());
  auto load = audit::Keyring::load(audit::keyring_path(f.db), f.kek);
  REQUIRE_FALSE(load.ok());
  CHECK(load.error().code == "bad_keyring");
  auto open = f.try_open(f.options());
  REQUIRE_FALSE(open.ok());
  CHECK(open.error().code == "bad_keyring");
  CHECK_FALSE(audit::verify_log_file(f.db, f.kek, f.anchor, test_schema(), check_entry).ok());
}

TEST_CASE("verifiable log: an append that may wait is held until its time or until one that may not comes and takes it along",
          "[audit][verifiable_log][concurrency]") {
  Fixture f;
  AppendWatch appends_seen;
  audit::LogOptions o = f.options();
  appends_seen.watch(o);
  auto log = f.open(o);
  auto counted = [&appends_seen](const std::string& text, std::chrono::milliseconds may_wait) {
    return named_batch(text, 2, appends_seen.encoded, may_wait);
  };

  // Held: the writer runs a job queued after it (publish_head) and writes nothing.
  net::io_context io;
  std::vector<std::pair<std::string, hfv::Result<std::int64_t>>> done;
  auto spawn = [&](const std::string& name, std::chrono::milliseconds may_wait) {
    net::co_spawn(
        io,
        [&, name, may_wait]() -> net::awaitable<void> {
          auto r = co_await log->append(counted(name, may_wait));
          done.emplace_back(name, std::move(r));
        },
        net::detached);
  };
  spawn("held", std::chrono::minutes(10));
  io.poll();  // submitted
  const auto head = log->publish_head();  // a job on the writer, queued after the append
  REQUIRE_FALSE(head.ok());
  CHECK(head.error().code == "empty");  // nothing was written
  CHECK(log->last_seq() == 0);
  CHECK(appends_seen.encoded.calls.load() == 0);

  // One that may not wait takes it along, in one transaction, in order.
  spawn("now", std::chrono::milliseconds(0));
  io.run();
  REQUIRE(done.size() == 2);
  for (const auto& [name, r] : done) {
    INFO(name);
    REQUIRE(r.ok());
  }
  std::map<std::string, std::int64_t> first;
  for (const auto& [name, r] : done) first[name] = *r;
  CHECK(first["held"] == 1);
  CHECK(first["now"] == 3);
  {
    const auto encodes_at_append = appends_seen.at_append();
    REQUIRE(encodes_at_append.size() == 2);
    CHECK(encodes_at_append[0] == 4);  // both encoded before the first was durable
  }

  // Alone, it is written once its time is over, not before.
  const auto t0 = std::chrono::steady_clock::now();
  auto alone = log->append_blocking(counted("alone", std::chrono::milliseconds(300)));
  const auto waited = std::chrono::steady_clock::now() - t0;
  REQUIRE(alone.ok());
  CHECK(*alone == 5);
  CHECK(waited >= std::chrono::milliseconds(300));
  CHECK(waited < std::chrono::seconds(60));  // (a loaded machine's margin: it was written)

  // Closing the log writes what waits, at once.
  done.clear();
  io.restart();
  spawn("closing", std::chrono::hours(1));
  io.poll();   // submitted
  log.reset();  // the destructor flushes it
  io.run();
  REQUIRE(done.size() == 1);
  REQUIRE(done[0].second.ok());
  CHECK(*done[0].second == 7);
  auto reopened = f.open();
  CHECK(reopened->last_seq() == 8);
  auto report = reopened->verify(check_entry);
  REQUIRE(report.ok());
  CHECK(report->ok);
}
