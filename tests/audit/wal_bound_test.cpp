// The WAL of an SQLCipher store (storage/sqlcipher_db.hpp) under writes
// that never pause: the background PASSIVE checkpoint alone never empties
// it then, so the file grew without end (10.8 GB after 45,000 batch
// households) and each checkpoint cost more; past its limit the writer
// empties and truncates it after its commit, and nothing written is lost.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "storage/sqlcipher_db.hpp"
#include "tests/unit/temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

// A store whose WAL is truncated past kLimit frames, written one commit
// after another (each of a page or so).
struct WalStore {
  static constexpr int kLimit = 64;  // frames of 4 KiB
  hfv::testing::TempDir dir{"hfv-wal"};
  hfv::crypto::SecretKey key = hfv::crypto::SecretKey::random();
  fs::path db = dir.path / "store.db";
  std::unique_ptr<hfv::storage::SqlcipherDb> writer;
  std::string text = std::string(3000, 'x');
  int rows = 0;
  std::uintmax_t peak = 0;  // the largest WAL seen

  WalStore() {
    auto opened = hfv::storage::SqlcipherDb::open(db, key, /*create=*/true);
    REQUIRE(opened.ok());
    writer = std::move(*opened);
    REQUIRE(writer->exec("CREATE TABLE t (x TEXT NOT NULL);").ok());
    REQUIRE(writer->checkpoint_in_background(db, key, std::chrono::milliseconds(2), kLimit).ok());
  }
  std::uintmax_t wal_size() const {
    std::error_code ec;
    const fs::path wal = db.string() + "-wal";
    return fs::exists(wal, ec) ? fs::file_size(wal, ec) : std::uintmax_t{0};
  }
  // One more row; true when the WAL file is now smaller than it was (a
  // restarted WAL keeps its size: only the truncation shrinks it).
  bool write() {
    REQUIRE(writer->run("INSERT INTO t VALUES (?);", {std::string_view(text)}).ok());
    ++rows;
    const std::uintmax_t size = wal_size();
    const bool shrunk = size < peak;
    peak = std::max(peak, size);
    return shrunk;
  }
  // Writes until the WAL shrinks or a minute passes: whether it shrank.
  bool write_until_shrunk() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (write()) return true;
    }
    return false;
  }
  std::int64_t rows_stored() {
    auto count = writer->prepare("SELECT count(*) FROM t;");
    REQUIRE(count.ok());
    REQUIRE(count->step());
    return count->column_int(0);
  }
};

}  // namespace

TEST_CASE("storage: under writes that never pause, the WAL past its limit is truncated and every row stays",
          "[storage][wal]") {
  WalStore store;
  const bool shrunk = store.write_until_shrunk();  // without the limit this runs to the deadline
  INFO("rows " << store.rows << ", largest WAL " << store.peak << " bytes");
  CHECK(shrunk);
  CHECK(store.peak > static_cast<std::uintmax_t>(WalStore::kLimit) * 4096);  // emptied past its limit, not before
  // Loose: a loaded machine delays the background checkpoint the truncation waits for.
  CHECK(store.peak < std::uintmax_t{64} * 1024 * 1024);
  CHECK(store.rows_stored() == store.rows);
}

TEST_CASE("storage: a reader holding an old snapshot keeps the WAL until it ends, fails no write, and then the WAL is truncated",
          "[storage][wal]") {
  WalStore store;
  auto reader = hfv::storage::SqlcipherDb::open(store.db, store.key, /*create=*/false);
  REQUIRE(reader.ok());
  REQUIRE((*reader)->exec("BEGIN; SELECT count(*) FROM t;").ok());  // a snapshot held open

  bool shrunk = false;
  while (store.rows < 4 * WalStore::kLimit) shrunk = store.write() || shrunk;  // every truncation held up
  CHECK_FALSE(shrunk);
  CHECK(store.peak > static_cast<std::uintmax_t>(WalStore::kLimit) * 4096);

  REQUIRE((*reader)->exec("COMMIT;").ok());
  shrunk = store.write_until_shrunk();  // the back-off is 1 s or 2 s by now
  INFO("rows " << store.rows << ", largest WAL " << store.peak << " bytes");
  CHECK(shrunk);
  CHECK(store.rows_stored() == store.rows);
}
