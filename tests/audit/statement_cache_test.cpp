// storage::SqlcipherDb's idle statements on a real SQLCipher file: a
// statement released comes back from prepare() reset and unbound, one
// released part-way through its rows holds no read transaction, two alive
// at once of one text both work, and no more than kIdleStatements are kept.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "storage/sqlcipher_db.hpp"
#include "tests/unit/temp_dir.hpp"

namespace {

using hfv::storage::SqlcipherDb;

struct StatementDb {
  hfv::testing::TempDir dir{"hfv-statements"};
  hfv::crypto::SecretKey key = hfv::crypto::SecretKey::random();
  std::unique_ptr<SqlcipherDb> db;

  StatementDb() {
    auto opened = SqlcipherDb::open(dir.path / "s.db", key, true);
    REQUIRE(opened.ok());
    db = std::move(*opened);
    REQUIRE(db->exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT);").ok());
    for (int k = 1; k <= 3; ++k) REQUIRE(db->run("INSERT INTO t VALUES (?, 'x');", {std::int64_t{k}}).ok());
  }
};

}  // namespace

TEST_CASE("storage: A released statement is prepared again from the idle ones reset and with no value bound",
          "[storage][statements]") {
  StatementDb d;
  const auto before = d.db->idle_statements();
  {
    auto first = d.db->prepare("SELECT ?1;");
    REQUIRE(first.ok());
    first->bind(1, std::int64_t{42});
    REQUIRE(first->step());
    CHECK(first->column_int(0) == 42);
  }
  CHECK(d.db->idle_statements() == before + 1);
  auto again = d.db->prepare("SELECT ?1;");
  REQUIRE(again.ok());
  CHECK(d.db->idle_statements() == before);  // taken from the idle ones
  REQUIRE(again->step());                     // from the first row: it was reset
  CHECK(again->column_is_null(0));            // the 42 is not bound any more
  CHECK_FALSE(again->step());
  CHECK(again->status().ok());
}

TEST_CASE("storage: A statement released part-way through its rows holds no read transaction",
          "[storage][statements]") {
  StatementDb d;
  {
    auto rows = d.db->prepare("SELECT k FROM t ORDER BY k;");
    REQUIRE(rows.ok());
    REQUIRE(rows->step());  // a read transaction is open now, one row of three read
  }
  // Another connection writes and truncates the WAL: a reader still inside
  // its snapshot would leave the checkpoint busy (first column 1).
  auto other = SqlcipherDb::open(d.dir.path / "s.db", d.key, false);
  REQUIRE(other.ok());
  REQUIRE((*other)->run("INSERT INTO t VALUES (4, 'y');", {}).ok());
  auto checkpoint = (*other)->prepare("PRAGMA wal_checkpoint(TRUNCATE);");
  REQUIRE(checkpoint.ok());
  REQUIRE(checkpoint->step());
  CHECK(checkpoint->column_int(0) == 0);
  auto count = d.db->prepare("SELECT count(*) FROM t;");
  REQUIRE(count.ok());
  REQUIRE(count->step());
  CHECK(count->column_int(0) == 4);  // the first connection sees the new row: no old snapshot
}

TEST_CASE("storage: Two statements of one text alive at once both run and at most kIdleStatements are kept",
          "[storage][statements]") {
  StatementDb d;
  {
    auto a = d.db->prepare("SELECT v FROM t WHERE k = ?;");
    auto b = d.db->prepare("SELECT v FROM t WHERE k = ?;");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    a->bind(1, std::int64_t{1});
    b->bind(1, std::int64_t{2});
    REQUIRE(a->step());
    REQUIRE(b->step());
    CHECK(a->column_text(0) == "x");
    CHECK(b->column_text(0) == "x");
  }
  const auto idle = d.db->idle_statements();
  CHECK(idle >= 1);
  for (std::size_t i = 0; i < 2 * SqlcipherDb::kIdleStatements; ++i) {
    auto s = d.db->prepare("SELECT k + " + std::to_string(i) + " FROM t WHERE k = 1;");
    REQUIRE(s.ok());
    REQUIRE(s->step());
    CHECK(s->column_int(0) == static_cast<std::int64_t>(1 + i));
  }
  CHECK(d.db->idle_statements() == SqlcipherDb::kIdleStatements);
  CHECK(d.db->run("UPDATE t SET v = 'z' WHERE k = 3;", {}).ok());  // still usable after evictions
}
