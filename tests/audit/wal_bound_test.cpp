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

// The WAL file: a header, then per frame a header and a 4 KiB page. A
// commit of one row here writes the row's page and the interior pages
// above it: a few frames.
constexpr std::uintmax_t kWalHeader = 32;
constexpr std::uintmax_t kFrameBytes = 24 + 4096;
constexpr int kFramesPerCommit = 4;

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
  // Emptied past its limit, not before. The commit that takes the WAL past
  // it truncates it before the size is looked at, so the largest size seen
  // is the commit before's: up to a commit's frames (the row's page and the
  // b-tree pages above it, re-appended each time) below the limit, and
  // which one it is depends on where the background checkpoint restarted
  // the WAL (this once saw 63 frames, and failed when it asked for 64).
  CHECK(store.peak >= kWalHeader + static_cast<std::uintmax_t>(WalStore::kLimit - kFramesPerCommit) * kFrameBytes);
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
