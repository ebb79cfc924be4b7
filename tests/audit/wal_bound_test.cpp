// The background checkpoint of an SQLCipher store (storage/sqlcipher_db.hpp)
// under writes that never pause: a PASSIVE checkpoint alone never empties
// the WAL then, so the file grew without end (10.8 GB after 45,000 batch
// households) and each checkpoint cost more; past its limit the WAL is
// emptied and truncated, and nothing written is lost.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "storage/sqlcipher_db.hpp"
#include "tests/unit/temp_dir.hpp"

namespace fs = std::filesystem;

TEST_CASE("storage: under writes that never pause, the WAL past its limit is truncated and every row stays",
          "[storage][wal]") {
  hfv::testing::TempDir dir{"hfv-wal-bound"};
  const auto key = hfv::crypto::SecretKey::random();
  const fs::path db = dir.path / "store.db";
  auto writer = hfv::storage::SqlcipherDb::open(db, key, /*create=*/true);
  REQUIRE(writer.ok());
  REQUIRE((*writer)->exec("CREATE TABLE t (x TEXT NOT NULL);").ok());
  constexpr int kLimit = 64;  // frames of 4 KiB
  REQUIRE((*writer)->checkpoint_in_background(db, key, std::chrono::milliseconds(2), kLimit).ok());

  // One commit after another, each of a page or so, until the WAL file is
  // seen smaller than it was (a restarted WAL keeps its size: only the
  // truncation shrinks it). Without the limit this runs to the deadline.
  const fs::path wal = db.string() + "-wal";
  const std::string text(3000, 'x');
  std::uintmax_t peak = 0;
  bool shrunk = false;
  int rows = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!shrunk && std::chrono::steady_clock::now() < deadline) {
    REQUIRE((*writer)->run("INSERT INTO t VALUES (?);", {std::string_view(text)}).ok());
    ++rows;
    std::error_code ec;
    const std::uintmax_t size = fs::exists(wal, ec) ? fs::file_size(wal, ec) : 0;
    shrunk = size < peak;
    peak = std::max(peak, size);
  }
  INFO("rows " << rows << ", largest WAL " << peak << " bytes");
  CHECK(shrunk);
  CHECK(peak > static_cast<std::uintmax_t>(kLimit) * 4096);  // emptied past its limit, not before
  CHECK(peak < std::uintmax_t{64} * 1024 * 1024);  // loose: a loaded machine delays the checkpoint thread

  auto count = (*writer)->prepare("SELECT count(*) FROM t;");
  REQUIRE(count.ok());
  REQUIRE(count->step());
  CHECK(count->column_int(0) == rows);
}

TEST_CASE("storage: a reader holding an old snapshot keeps the WAL until it ends, fails no write, and then the WAL is truncated",
          "[storage][wal]") {
  hfv::testing::TempDir dir{"hfv-wal-reader"};
  const auto key = hfv::crypto::SecretKey::random();
  const fs::path db = dir.path / "store.db";
  auto writer = hfv::storage::SqlcipherDb::open(db, key, /*create=*/true);
  REQUIRE(writer.ok());
  REQUIRE((*writer)->exec("CREATE TABLE t (x TEXT NOT NULL);").ok());
  constexpr int kLimit = 64;
  REQUIRE((*writer)->checkpoint_in_background(db, key, std::chrono::milliseconds(2), kLimit).ok());
  auto reader = hfv::storage::SqlcipherDb::open(db, key, /*create=*/false);
  REQUIRE(reader.ok());
  REQUIRE((*reader)->exec("BEGIN; SELECT count(*) FROM t;").ok());  // a snapshot held open

  const fs::path wal = db.string() + "-wal";
  auto wal_size = [&] {
    std::error_code ec;
    return fs::exists(wal, ec) ? fs::file_size(wal, ec) : std::uintmax_t{0};
  };
  const std::string text(3000, 'x');
  int rows = 0;
  std::uintmax_t peak = 0;
  bool shrunk = false;
  for (; rows < 4 * kLimit; ++rows) {  // well past the limit: every truncation is held up
    REQUIRE((*writer)->run("INSERT INTO t VALUES (?);", {std::string_view(text)}).ok());
    shrunk = shrunk || wal_size() < peak;
    peak = std::max(peak, wal_size());
  }
  CHECK_FALSE(shrunk);
  CHECK(peak > static_cast<std::uintmax_t>(kLimit) * 4096);

  REQUIRE((*reader)->exec("COMMIT;").ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!shrunk && std::chrono::steady_clock::now() < deadline) {  // the back-off is 1 s or 2 s by now
    REQUIRE((*writer)->run("INSERT INTO t VALUES (?);", {std::string_view(text)}).ok());
    ++rows;
    shrunk = wal_size() < peak;
    peak = std::max(peak, wal_size());
  }
  INFO("rows " << rows << ", largest WAL " << peak << " bytes");
  CHECK(shrunk);

  auto count = (*writer)->prepare("SELECT count(*) FROM t;");
  REQUIRE(count.ok());
  REQUIRE(count->step());
  CHECK(count->column_int(0) == rows);
}
