// storage::WriteGroup on a real SQLCipher file: queued writes share one
// transaction, a failing job is rolled back alone, a full queue is written
// without waiting, and the destructor writes what is queued.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/sqlcipher_db.hpp"
#include "storage/write_group.hpp"
#include "tests/unit/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using hfv::Status;

constexpr auto kHour = std::chrono::milliseconds(std::chrono::hours(1));

// A database with one table, and what the group's callbacks reported.
struct GroupedDb {
  hfv::testing::TempDir dir{"hfv-write-group"};
  std::mutex db_mutex;
  std::unique_ptr<hfv::storage::SqlcipherDb> db;

  std::mutex m;
  std::condition_variable cv;
  std::vector<Status> results;  // in the order the callbacks ran

  GroupedDb() {
    auto opened = hfv::storage::SqlcipherDb::open(dir.path / "w.db", hfv::crypto::SecretKey::random(), true);
    REQUIRE(opened.ok());
    db = std::move(*opened);
    REQUIRE(db->exec("CREATE TABLE t (k TEXT PRIMARY KEY);").ok());
  }
  hfv::storage::WriteGroup::Job insert(std::string key) {
    return [this, key = std::move(key)] { return db->run("INSERT INTO t (k) VALUES (?);", {key}); };
  }
  hfv::storage::WriteGroup::Done record() {
    return [this](Status s) {
      std::lock_guard lock(m);
      results.push_back(std::move(s));
      cv.notify_all();
    };
  }
  // Waits (bounded generously: sanitizers, a loaded machine) for n callbacks.
  bool wait_for(std::size_t n) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 60s, [&] { return results.size() >= n; });
  }
  std::int64_t rows(const std::string& where = "1") {
    std::lock_guard lock(db_mutex);
    auto stmt = db->prepare("SELECT count(*) FROM t WHERE " + where + ";");
    REQUIRE(stmt.ok());
    REQUIRE(stmt->step());
    return stmt->column_int(0);
  }
  std::size_t reported() {
    std::lock_guard lock(m);
    return results.size();
  }
  std::size_t failures() {
    std::lock_guard lock(m);
    std::size_t n = 0;
    for (const auto& s : results) n += s ? 0 : 1;
    return n;
  }
};

}  // namespace

TEST_CASE("write group: jobs queued together share one transaction and one that fails is rolled back alone",
          "[write_group]") {
  GroupedDb g;
  hfv::storage::WriteGroup group(*g.db, g.db_mutex, "test-writes");
  // Ten may wait an hour: none is written until the eleventh, due now,
  // takes them all along.
  for (int i = 0; i < 10; ++i) group.submit(g.insert("k" + std::to_string(i)), kHour, g.record());
  // Two that fail: a duplicate key, and one whose insert succeeded before
  // it reported an error (its row must go with it).
  group.submit(g.insert("k3"), kHour, g.record());
  group.submit(
      [&g] {
        if (auto s = g.db->run("INSERT INTO t (k) VALUES ('undone');", {}); !s) return s;
        return Status(hfv::make_error("refused", "the job refuses after writing"));
      },
      kHour, g.record());
  CHECK(g.reported() == 0);
  group.submit(g.insert("now"), 0ms, g.record());
  REQUIRE(g.wait_for(13));
  CHECK(group.transactions() == 1);
  CHECK(g.failures() == 2);
  CHECK(g.rows() == 11);  // k0..k9 and "now"
  CHECK(g.rows("k = 'undone'") == 0);
  CHECK(g.rows("k = 'k3'") == 1);
}

TEST_CASE("write group: a full queue is written without waiting and the destructor writes what is queued",
          "[write_group]") {
  GroupedDb g;
  {
    hfv::storage::WriteGroup group(*g.db, g.db_mutex, "test-writes");
    for (std::size_t i = 0; i < hfv::storage::WriteGroup::kEnoughJobs; ++i) {
      group.submit(g.insert("full" + std::to_string(i)), kHour, g.record());
    }
    REQUIRE(g.wait_for(hfv::storage::WriteGroup::kEnoughJobs));
    CHECK(group.transactions() == 1);
    CHECK(g.rows() == static_cast<std::int64_t>(hfv::storage::WriteGroup::kEnoughJobs));
    for (int i = 0; i < 3; ++i) group.submit(g.insert("left" + std::to_string(i)), kHour, g.record());
  }
  CHECK(g.reported() == hfv::storage::WriteGroup::kEnoughJobs + 3);
  CHECK(g.failures() == 0);
  CHECK(g.rows("k LIKE 'left%'") == 3);
}

TEST_CASE("write group: when the transaction itself fails every job of the group gets the error and nothing is kept",
          "[write_group]") {
  GroupedDb g;
  hfv::storage::WriteGroup group(*g.db, g.db_mutex, "test-writes");
  // A job that ends the group's transaction under it: the savepoint is
  // gone, so the group cannot commit what the others wrote.
  group.submit(g.insert("a"), kHour, g.record());
  group.submit([&g] { return g.db->exec("ROLLBACK;"); }, kHour, g.record());
  group.submit(g.insert("b"), 0ms, g.record());
  REQUIRE(g.wait_for(3));
  CHECK(g.failures() == 3);
  CHECK(g.rows() == 0);
  // The connection is usable again: the next group commits.
  group.submit(g.insert("c"), 0ms, g.record());
  REQUIRE(g.wait_for(4));
  CHECK(g.failures() == 3);
  CHECK(g.rows() == 1);
}
