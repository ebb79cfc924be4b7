// `audit verify` proves the whole SQLCipher file (storage/page_check.hpp):
// a real audit log made with AuditLog, then one byte flipped on every page
// of a copy (and in the reserve of a few pages), each copy checked with the
// function `brokerctl audit verify` calls; every flip must be found at its
// page. The WAL's frames are authenticated too.
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <sstream>

#include "audit/audit_log.hpp"
#include "storage/page_check.hpp"
#include "storage/sqlcipher_db.hpp"
#include "tests/unit/temp_dir.hpp"

namespace audit = hfv::audit;
namespace crypto = hfv::crypto;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kPage = hfv::storage::kSqlcipherPageSize;
constexpr std::size_t kReserve = 48;  // 16-byte IV, 20-byte HMAC-SHA1, 12 bytes of filler

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// A closed audit log of 240 records with details (several dozen pages)
// and six signed heads, its anchor beside it.
struct Log {
  hfv::testing::TempDir dir{"hfv-pages"};
  crypto::SecretKey kek = crypto::SecretKey::random();
  fs::path db = dir.path / "audit.db";
  fs::path anchor = dir.path / "audit.anchor";
  fs::path copy_dir = dir.path / "copy";
  fs::path copy = copy_dir / "audit.db";

  Log() {
    audit::AuditLogOptions options;
    options.anchor_file = anchor;
    auto log = audit::AuditLog::open(db, kek, options);
    REQUIRE(log.ok());
    for (int batch = 0; batch < 6; ++batch) {
      std::vector<audit::AuditRecord> rows;
      for (int i = 0; i < 40; ++i) {
        audit::AuditRecord r;
        r.action = "agency.query";
        r.principal = "demo-case-system";
        r.member = "pseudonym-" + std::to_string(batch * 40 + i);
        r.jurisdiction = "230102";
        r.status = "ok";
        r.detail = std::string(300, static_cast<char>('a' + batch)) + std::to_string(i);
        rows.push_back(std::move(r));
      }
      REQUIRE((*log)->append_blocking(std::move(rows)).ok());
      REQUIRE((*log)->publish_head().ok());
    }
  }

  // `bytes` as the database of a fresh copy (with the keyring), verified
  // as `brokerctl audit verify --db <copy>` verifies it.
  audit::ChainReport verify_copy(const std::string& bytes) const {
    fs::remove_all(copy_dir);
    fs::create_directories(copy_dir);
    write(copy, bytes);
    fs::copy_file(audit::keyring_path(db), audit::keyring_path(copy));
    auto report = audit::AuditLog::verify_file(copy, kek, anchor);
    INFO((report ? std::string() : report.error().message));
    REQUIRE(report.ok());
    return *report;
  }
};

void flip(std::string& bytes, std::size_t offset) {
  bytes[offset] = static_cast<char>(static_cast<unsigned char>(bytes[offset]) ^ 0x5a);
}

// SQLite's WAL checksum (wal.c), written again here from its documentation
// so that the test can re-seal a frame it altered, as a forger would.
void wal_sum(const std::string& data, std::size_t from, std::size_t n, std::uint32_t& s0,
             std::uint32_t& s1) {
  auto word = [&](std::size_t at) {  // little-endian: magic 0x377f0682 on x86
    return static_cast<std::uint32_t>(static_cast<unsigned char>(data[at])) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(data[at + 1])) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(data[at + 2])) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(data[at + 3])) << 24;
  };
  for (std::size_t i = from; i < from + n; i += 8) {
    s0 += word(i) + s1;
    s1 += word(i + 4) + s0;
  }
}
void put_be32(std::string& data, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) data[at + static_cast<std::size_t>(i)] = static_cast<char>(v >> (24 - 8 * i));
}

}  // namespace

TEST_CASE("audit: verify authenticates every page, and a flipped byte on any page is found there",
          "[audit][pages]") {
  const Log log;
  REQUIRE_FALSE(fs::exists(log.db.string() + "-wal"));  // closed: everything is in the file
  const std::string pristine = slurp(log.db);
  REQUIRE(pristine.size() % kPage == 0);
  const std::size_t pages = pristine.size() / kPage;
  REQUIRE(pages >= 20);

  {
    const auto clean = log.verify_copy(pristine);
    CHECK(clean.ok);
    CHECK(clean.records == 240);
    CHECK(clean.heads_checked == 6);
    CHECK(clean.anchor_checked);
    REQUIRE(clean.pages);
    CHECK(clean.pages->ok());
    CHECK(clean.pages->pages == static_cast<std::int64_t>(pages));
    CHECK(clean.pages->first_bad_page == 0);
    CHECK(clean.pages->wal_frames == 0);
    CHECK(clean.pages->structure_checked);
  }

  // One byte in the body of every page (page 1's body starts after the salt).
  for (std::size_t n = 1; n <= pages; ++n) {
    const std::size_t start = n == 1 ? 16 : 0;
    const std::size_t offset = (n - 1) * kPage + start + (n * 997) % (kPage - kReserve - start);
    std::string damaged = pristine;
    flip(damaged, offset);
    const auto report = log.verify_copy(damaged);
    INFO("page " << n << ", offset " << offset << ": " << report.problem);
    CHECK_FALSE(report.ok);
    REQUIRE(report.pages);
    CHECK(report.pages->first_bad_page == static_cast<std::int64_t>(n));
    CHECK(report.pages->bad_pages == 1);
    CHECK(report.problem.find("page " + std::to_string(n) + " of") != std::string::npos);
  }

  // The reserve: the IV and the HMAC tag of a few pages. (Its last 12 bytes
  // are random filler that SQLCipher never reads or authenticates.)
  for (const std::size_t n : {std::size_t{1}, std::size_t{2}, pages / 2, pages}) {
    for (const std::size_t in_reserve : {std::size_t{3}, std::size_t{16 + 7}}) {
      std::string damaged = pristine;
      flip(damaged, n * kPage - kReserve + in_reserve);
      const auto report = log.verify_copy(damaged);
      INFO("page " << n << ", reserve byte " << in_reserve);
      CHECK_FALSE(report.ok);
      REQUIRE(report.pages);
      CHECK(report.pages->first_bad_page == static_cast<std::int64_t>(n));
    }
  }

  // The salt: every page's HMAC key changes, page 1 is the first reported.
  {
    std::string damaged = pristine;
    flip(damaged, 5);
    const auto report = log.verify_copy(damaged);
    CHECK_FALSE(report.ok);
    REQUIRE(report.pages);
    CHECK(report.pages->first_bad_page == 1);
    CHECK(report.pages->bad_pages == static_cast<std::int64_t>(pages));
  }

  // A page swapped for another (each authentic where it was): both found.
  {
    std::string damaged = pristine;
    const std::size_t a = pages - 3;
    const std::size_t b = pages - 1;
    std::string page_a = pristine.substr((a - 1) * kPage, kPage);
    damaged.replace((a - 1) * kPage, kPage, pristine.substr((b - 1) * kPage, kPage));
    damaged.replace((b - 1) * kPage, kPage, page_a);
    const auto report = log.verify_copy(damaged);
    CHECK_FALSE(report.ok);
    REQUIRE(report.pages);
    CHECK(report.pages->first_bad_page == static_cast<std::int64_t>(a));
    CHECK(report.pages->bad_pages == 2);
  }

  // A file that ends inside a page.
  {
    const auto report = log.verify_copy(pristine + std::string(100, '\0'));
    CHECK_FALSE(report.ok);
    REQUIRE(report.pages);
    CHECK(report.pages->first_bad_page == static_cast<std::int64_t>(pages) + 1);
  }
}

TEST_CASE("audit: the page check authenticates the WAL's frames", "[audit][pages]") {
  hfv::testing::TempDir dir{"hfv-pages-wal"};
  const auto key = crypto::SecretKey::random();
  const fs::path db = dir.path / "live.db";
  auto writer = hfv::storage::SqlcipherDb::open(db, key, /*create=*/true);
  REQUIRE(writer.ok());
  REQUIRE((*writer)->exec("PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x TEXT);").ok());
  const std::string text(3000, 'x');
  for (int i = 0; i < 8; ++i) {
    REQUIRE((*writer)->run("INSERT INTO t VALUES (?);", {std::string_view(text)}).ok());
  }
  // Open, uncheckpointed: the pages are in the WAL.
  auto live = hfv::storage::authenticate_pages(db, key);
  REQUIRE(live.ok());
  INFO(live->problem);
  CHECK(live->ok());
  CHECK(live->wal_frames >= 8);
  CHECK(live->structure_checked);

  // A copy of both files with one frame altered and its checksums re-sealed
  // (SQLite would read it): only the HMAC can tell.
  const std::string wal = slurp(db.string() + "-wal");
  const std::size_t frame = 24 + kPage;
  REQUIRE((wal.size() - 32) % frame == 0);
  const std::size_t frames = (wal.size() - 32) / frame;
  REQUIRE(frames >= 8);
  const std::size_t k = 3;  // the frame altered (1-based)
  std::string forged = wal;
  flip(forged, 32 + (k - 1) * frame + 24 + 1000);
  std::uint32_t s0 = 0;
  std::uint32_t s1 = 0;
  wal_sum(forged, 0, 24, s0, s1);
  for (std::size_t i = 1; i <= frames; ++i) {
    const std::size_t at = 32 + (i - 1) * frame;
    wal_sum(forged, at, 8, s0, s1);
    wal_sum(forged, at + 24, kPage, s0, s1);
    if (i >= k) {
      put_be32(forged, at + 16, s0);
      put_be32(forged, at + 20, s1);
    }
  }
  const fs::path copy = dir.path / "copy.db";
  write(copy, slurp(db));
  write(copy.string() + "-wal", forged);
  auto report = hfv::storage::authenticate_pages(copy, key);
  REQUIRE(report.ok());
  CHECK_FALSE(report->ok());
  CHECK(report->first_bad_page == 0);
  CHECK(report->first_bad_wal_frame == static_cast<std::int64_t>(k));

  // The same byte altered without re-sealing: SQLite's checksum chain ends
  // before that frame, so SQLite reads none from there on; they are counted
  // as ignored, not authenticated.
  std::string torn = wal;
  flip(torn, 32 + (k - 1) * frame + 24 + 1000);
  write(copy.string() + "-wal", torn);
  fs::remove(copy.string() + "-shm");
  report = hfv::storage::authenticate_pages(copy, key);
  REQUIRE(report.ok());
  CHECK(report->first_bad_wal_frame == 0);
  CHECK(report->wal_frames < static_cast<std::int64_t>(k));
  CHECK(report->wal_frames_ignored >= static_cast<std::int64_t>(frames - k + 1));
}
