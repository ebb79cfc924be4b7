#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "audit/audit_log.hpp"
#include "temp_dir.hpp"

namespace audit = hfv::audit;
namespace crypto = hfv::crypto;
namespace net = boost::asio;

namespace {

audit::AuditRecord record(const std::string& action, const std::string& member = "") {
  audit::AuditRecord r;
  r.action = action;
  r.principal = "demo-case-system";
  r.member = member;
  r.status = "ok";
  return r;
}

std::string file_head(const std::filesystem::path& p, std::size_t n) {
  std::ifstream in(p, std::ios::binary);
  std::string s(n, '\0');
  in.read(s.data(), static_cast<std::streamsize>(n));
  return s;
}

}  // namespace

TEST_CASE("unit: Audit records are chained and verify", "[audit]") {
  hfv::testing::TempDir dir;
  const auto key = crypto::SecretKey::random();
  const auto path = dir.path / "audit.db";
  {
    auto log = audit::AuditLog::open(path, key);
    REQUIRE(log.ok());
    auto first = (*log)->append_blocking({record("a"), record("b", "pseudonym-1")});
    REQUIRE(first.ok());
    CHECK(*first == 1);
    CHECK(*(*log)->append_blocking({record("c")}) == 3);
    auto report = (*log)->verify();
    REQUIRE(report.ok());
    CHECK(report->ok);
    CHECK(report->records == 3);
    auto rows = (*log)->read(1, 10);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 3);
    CHECK((*rows)[0].prev_hash == std::string(64, '0'));
    CHECK((*rows)[1].prev_hash == (*rows)[0].hash);
    CHECK((*rows)[1].hash == audit::chain_hash((*rows)[0].hash, (*rows)[1].body));
    CHECK(nlohmann::json::parse((*rows)[1].body)["member"] == "pseudonym-1");
  }
  // Reopened, the sequence and the chain continue.
  auto log = audit::AuditLog::open(path, key);
  REQUIRE(log.ok());
  CHECK(*(*log)->append_blocking({record("d")}) == 4);
  CHECK((*log)->verify()->ok);
}

TEST_CASE("unit: The audit database is unreadable without its key", "[audit][encryption]") {
  hfv::testing::TempDir dir;
  const auto path = dir.path / "audit.db";
  {
    auto log = audit::AuditLog::open(path, crypto::SecretKey::random());
    REQUIRE(log.ok());
    REQUIRE((*log)->append_blocking({record("secret-action")}).ok());
  }
  CHECK(file_head(path, 16) != std::string("SQLite format 3\0", 16));
  auto wrong = audit::AuditLog::open(path, crypto::SecretKey::random());
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == "bad_key");
}

TEST_CASE("unit: Editing or deleting a row is detected at its sequence number", "[audit][tamper]") {
  hfv::testing::TempDir dir;
  const auto key = crypto::SecretKey::random();
  const auto path = dir.path / "audit.db";
  auto log = audit::AuditLog::open(path, key);
  REQUIRE(log.ok());
  REQUIRE((*log)->append_blocking({record("a"), record("b"), record("c"), record("d")}).ok());

  SECTION("edited body") {
    auto db = audit::SqlcipherDb::open(path, key, false);
    REQUIRE(db.ok());
    REQUIRE((*db)->exec("UPDATE audit_records SET body = replace(body, '\"b\"', '\"x\"') WHERE seq = 2;").ok());
    auto report = (*log)->verify();
    REQUIRE(report.ok());
    CHECK_FALSE(report->ok);
    CHECK(report->first_bad_seq == 2);
  }
  SECTION("deleted row") {
    auto db = audit::SqlcipherDb::open(path, key, false);
    REQUIRE(db.ok());
    REQUIRE((*db)->exec("DELETE FROM audit_records WHERE seq = 3;").ok());
    auto report = (*log)->verify();
    REQUIRE(report.ok());
    CHECK_FALSE(report->ok);
    CHECK(report->first_bad_seq == 3);
  }
  SECTION("indexed column changed without the body") {
    auto db = audit::SqlcipherDb::open(path, key, false);
    REQUIRE(db.ok());
    REQUIRE((*db)->exec("UPDATE audit_records SET action = 'harmless' WHERE seq = 4;").ok());
    auto report = (*log)->verify();
    REQUIRE(report.ok());
    CHECK(report->first_bad_seq == 4);
  }
}

TEST_CASE("unit: A flipped byte in the database file is detected", "[audit][tamper]") {
  hfv::testing::TempDir dir;
  const auto key = crypto::SecretKey::random();
  const auto path = dir.path / "audit.db";
  {
    auto log = audit::AuditLog::open(path, key);
    REQUIRE(log.ok());
    std::vector<audit::AuditRecord> many;
    for (int i = 0; i < 200; ++i) many.push_back(record("row-" + std::to_string(i)));
    REQUIRE((*log)->append_blocking(std::move(many)).ok());
  }
  {
    // Checkpoint the WAL into the main file so the byte we flip holds records.
    auto db = audit::SqlcipherDb::open(path, key, false);
    REQUIRE(db.ok());
    REQUIRE((*db)->exec("PRAGMA wal_checkpoint(TRUNCATE);").ok());
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(4096 + 200);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x01);
    f.seekp(4096 + 200);
    f.write(&c, 1);
  }
  auto log = audit::AuditLog::open(path, key);
  if (!log.ok()) {
    SUCCEED("open refused the damaged file: " + log.error().message);
    return;
  }
  auto report = (*log)->verify();
  const bool detected = !report.ok() || !report->ok;
  CHECK(detected);
}

TEST_CASE("unit: Concurrent appends are all durable, ordered and chained (group commit)", "[audit][concurrency]") {
  hfv::testing::TempDir dir;
  auto log = audit::AuditLog::open(dir.path / "audit.db", crypto::SecretKey::random());
  REQUIRE(log.ok());
  net::io_context io;
  std::set<std::int64_t> firsts;
  int failures = 0;
  constexpr int kWriters = 200;
  for (int i = 0; i < kWriters; ++i) {
    net::co_spawn(io, [&, i]() -> net::awaitable<void> {
      std::vector<audit::AuditRecord> rows{record("w" + std::to_string(i)), record("w" + std::to_string(i) + "b")};
      auto r = co_await (*log)->append(std::move(rows));
      if (r.ok()) firsts.insert(*r); else ++failures;
    }, net::detached);
  }
  io.run();
  CHECK(failures == 0);
  CHECK(firsts.size() == kWriters);
  CHECK((*log)->last_seq() == 2 * kWriters);
  auto report = (*log)->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(report->records == 2 * kWriters);
  // Each writer's two records are consecutive.
  for (auto first : firsts) CHECK(first % 2 == 1);
}
