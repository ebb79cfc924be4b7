#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "audit/audit_log.hpp"
#include "audit/export.hpp"
#include "crypto/aead.hpp"
#include "crypto/hash.hpp"
#include "storage/sqlcipher_db.hpp"
#include "tests/unit/temp_dir.hpp"

namespace audit = hfv::audit;
namespace crypto = hfv::crypto;
namespace fs = std::filesystem;
namespace net = boost::asio;
using nlohmann::json;

namespace {

audit::AuditRecord record(const std::string& action, const std::string& member = "",
                          const std::string& jurisdiction = "") {
  audit::AuditRecord r;
  r.action = action;
  r.principal = "demo-case-system";
  r.member = member;
  r.jurisdiction = jurisdiction;
  r.case_id = member.empty() ? "" : "CASE-1";
  r.status = "ok";
  return r;
}

std::string file_head(const fs::path& p, std::size_t n) {
  std::ifstream in(p, std::ios::binary);
  std::string s(n, '\0');
  in.read(s.data(), static_cast<std::streamsize>(n));
  return s;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A log under test: database, keyring and anchor in a temporary folder.
struct Fixture {
  hfv::testing::TempDir dir{"hfv-audit"};
  crypto::SecretKey kek = crypto::SecretKey::random();
  fs::path db = dir.path / "audit.db";
  fs::path anchor = dir.path / "anchor" / "audit.anchor";
  Fixture() { fs::create_directories(anchor.parent_path()); }
  audit::AuditLogOptions options() const {
    audit::AuditLogOptions o;
    o.anchor_file = anchor;
    return o;
  }
  std::unique_ptr<audit::AuditLog> open() {
    auto log = audit::AuditLog::open(db, kek, options());
    INFO((log ? std::string() : log.error().message));
    REQUIRE(log.ok());
    return std::move(*log);
  }
  // Edits the database directly with its (unwrapped) key, as an insider could.
  void sql(const std::string& statement) {
    auto kr = audit::Keyring::load(audit::keyring_path(db), kek);
    REQUIRE(kr.ok());
    auto raw = hfv::storage::SqlcipherDb::open(db, kr->db_key, false);
    REQUIRE(raw.ok());
    REQUIRE((*raw)->exec(statement).ok());
  }
  audit::ChainReport verify() {
    auto report = audit::AuditLog::verify_file(db, kek, anchor);
    REQUIRE(report.ok());
    return *report;
  }
};

std::vector<audit::AuditRecord> many(int n) {
  std::vector<audit::AuditRecord> rows;
  for (int i = 0; i < n; ++i)
    rows.push_back(record("row-" + std::to_string(i), "p" + std::to_string(i), "230102"));
  return rows;
}

}  // namespace

TEST_CASE("audit: AES-256-GCM wraps and refuses a wrong key or slot", "[audit][crypto]") {
  const auto key = crypto::SecretKey::random();
  const std::string secret = "thirty-two bytes of key material";
  const auto box = crypto::aes256gcm_seal(key, crypto::as_bytes(secret), "slot-a");
  auto opened = crypto::aes256gcm_open(key, box, "slot-a");
  REQUIRE(opened);
  CHECK(std::string(opened->begin(), opened->end()) == secret);
  CHECK_FALSE(crypto::aes256gcm_open(crypto::SecretKey::random(), box, "slot-a"));
  CHECK_FALSE(crypto::aes256gcm_open(key, box, "slot-b"));
  auto flipped = box;
  flipped[20] ^= 1;
  CHECK_FALSE(crypto::aes256gcm_open(key, flipped, "slot-a"));
}

TEST_CASE("audit: The master key comes from the environment, a credential or the file",
          "[audit][keys]") {
  hfv::testing::TempDir dir;
  const fs::path file = dir.path / "master.key";
  REQUIRE(crypto::create_master_key_file(file).ok());
  const auto from_file = crypto::load_master_key_file(file);
  REQUIRE(from_file.ok());
  std::string source;
  ::unsetenv("HFV_MASTER_KEY");
  ::unsetenv("CREDENTIALS_DIRECTORY");
  auto k = crypto::load_master_key(file, &source);
  REQUIRE(k.ok());
  CHECK(source == "file");

  const fs::path creds = dir.path / "creds";
  fs::create_directories(creds);
  REQUIRE(crypto::create_master_key_file(creds / "master.key").ok());
  ::setenv("CREDENTIALS_DIRECTORY", creds.c_str(), 1);
  k = crypto::load_master_key(file, &source);
  REQUIRE(k.ok());
  CHECK(source == "credential");
  CHECK_FALSE(crypto::constant_time_equal(k->bytes(), from_file->bytes()));

  const auto env_key = crypto::SecretKey::random();
  ::setenv("HFV_MASTER_KEY", crypto::to_hex(env_key.bytes()).c_str(), 1);
  k = crypto::load_master_key(file, &source);
  REQUIRE(k.ok());
  CHECK(source == "env");
  CHECK(crypto::constant_time_equal(k->bytes(), env_key.bytes()));
  ::setenv("HFV_MASTER_KEY", "not-hex", 1);
  k = crypto::load_master_key(file, &source);
  REQUIRE_FALSE(k.ok());
  CHECK(k.error().code == "bad_key_env");
  CHECK(k.error().message.find("not-hex") == std::string::npos);
  ::unsetenv("HFV_MASTER_KEY");
  ::unsetenv("CREDENTIALS_DIRECTORY");
}

TEST_CASE("audit: Records are appended as Merkle leaves and verify after reopening", "[audit]") {
  Fixture f;
  {
    auto log = f.open();
    auto first = log->append_blocking({record("a"), record("b", "pseudonym-1", "230102")});
    REQUIRE(first.ok());
    CHECK(*first == 1);
    CHECK(*log->append_blocking({record("c")}) == 3);
    auto report = log->verify();
    REQUIRE(report.ok());
    CHECK(report->ok);
    CHECK(report->records == 3);
    auto rows = log->read(1, 10);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 3);
    const json body = json::parse((*rows)[1].body);
    CHECK(body["member"] == "pseudonym-1");
    CHECK(body["case_id"] == "CASE-1");
    // The member is in the personal part, committed to by hash in the leaf.
    CHECK((*rows)[1].envelope.find("pseudonym-1") == std::string::npos);
    CHECK(json::parse((*rows)[1].envelope).contains("personal_sha256"));
  }
  // Closing signed a head and wrote the anchor.
  auto anchor = audit::read_anchor(f.anchor);
  REQUIRE(anchor.ok());
  REQUIRE(anchor->has_value());
  CHECK((*anchor)->tree_size == 3);
  auto log = f.open();
  CHECK(*log->append_blocking({record("d")}) == 4);
  auto head = log->publish_head();
  REQUIRE(head.ok());
  CHECK(head->tree_size == 4);
  CHECK(audit::verify_tree_head(*head, log->public_key()));
  auto report = log->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(report->heads_checked >= 2);
  CHECK(report->anchor_checked);
}

TEST_CASE("audit: The database is unreadable without the master key", "[audit][encryption]") {
  Fixture f;
  {
    auto log = f.open();
    REQUIRE(log->append_blocking({record("secret-action")}).ok());
  }
  CHECK(file_head(f.db, 16) != std::string("SQLite format 3\0", 16));
  CHECK(slurp(f.db).find("secret-action") == std::string::npos);
  CHECK(slurp(audit::keyring_path(f.db)).find("db_key") != std::string::npos);
  auto wrong = audit::AuditLog::open(f.db, crypto::SecretKey::random());
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == "bad_key");
  // The data key is random, not derived: the KEK itself does not open it.
  auto direct = hfv::storage::SqlcipherDb::open(f.db, f.kek, false);
  REQUIRE_FALSE(direct.ok());
  CHECK(direct.error().code == "bad_key");
}

TEST_CASE("audit: Editing or deleting a row is detected at its sequence number",
          "[audit][tamper]") {
  Fixture f;
  {
    auto log = f.open();
    REQUIRE(log->append_blocking({record("a"), record("b"), record("c"), record("d")}).ok());
  }
  SECTION("edited envelope") {
    f.sql("UPDATE audit_records SET envelope = replace(envelope, '\"b\"', '\"x\"') WHERE seq = 2;");
    const auto report = f.verify();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq == 2);
  }
  SECTION("deleted row") {
    f.sql("DELETE FROM audit_records WHERE seq = 3;");
    const auto report = f.verify();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq == 3);
  }
  SECTION("indexed column changed without the envelope") {
    f.sql("UPDATE audit_records SET action = 'harmless' WHERE seq = 4;");
    const auto report = f.verify();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq == 4);
  }
  SECTION("edited with a recomputed leaf hash: the signed head catches it") {
    const std::string envelope = json({{"action", "forged"},
                                       {"principal", "demo-case-system"},
                                       {"seq", 2},
                                       {"status", "ok"},
                                       {"ts", "2026-01-01T00:00:00.000Z"}})
                                     .dump();
    const std::string leaf = crypto::to_hex(audit::merkle::leaf_hash(envelope));
    f.sql("UPDATE audit_records SET envelope = '" + envelope + "', leaf_hash = '" + leaf +
          "', action = 'forged', ts = '2026-01-01T00:00:00.000Z' WHERE seq = 2;");
    const auto report = f.verify();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq <= 2);
    CHECK(report.first_bad_seq >= 1);
  }
  SECTION("last rows removed: the heads and the anchor catch it") {
    f.sql("DELETE FROM audit_records WHERE seq >= 3;");
    const auto report = f.verify();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq == 3);
    auto reopened = audit::AuditLog::open(f.db, f.kek, f.options());
    REQUIRE_FALSE(reopened.ok());
    CHECK(reopened.error().code == "rollback_detected");
  }
}

TEST_CASE("audit: A flipped byte in the database file is detected", "[audit][tamper]") {
  Fixture f;
  {
    auto log = f.open();
    REQUIRE(log->append_blocking(many(200)).ok());
  }
  {
    std::fstream file(f.db, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(4096 + 200);
    char c = 0;
    file.read(&c, 1);
    c = static_cast<char>(c ^ 0x01);
    file.seekp(4096 + 200);
    file.write(&c, 1);
  }
  auto log = audit::AuditLog::open(f.db, f.kek, f.options());
  if (!log.ok()) {
    SUCCEED("open refused the damaged file: " + log.error().message);
    return;
  }
  auto report = (*log)->verify();
  const bool detected = !report.ok() || !report->ok;
  CHECK(detected);
}

TEST_CASE("audit: A database replaced by an older copy is detected through the anchor",
          "[audit][rollback]") {
  Fixture f;
  const fs::path saved = f.dir.path / "old-copy.db";
  {
    auto log = f.open();
    REQUIRE(log->append_blocking(many(10)).ok());
  }
  fs::copy_file(f.db, saved);
  {
    auto log = f.open();
    REQUIRE(log->append_blocking(many(5)).ok());
  }
  fs::remove(f.db);
  fs::copy_file(saved, f.db);
  auto reopened = audit::AuditLog::open(f.db, f.kek, f.options());
  REQUIRE_FALSE(reopened.ok());
  CHECK(reopened.error().code == "rollback_detected");
  const auto report = f.verify();
  CHECK_FALSE(report.ok);
  CHECK(report.first_bad_seq == 11);
  CHECK(report.problem.find("rolled back") != std::string::npos);
  // Without the anchor the old copy looks fine: the anchor is what catches it.
  auto without = audit::AuditLog::verify_file(f.db, f.kek, {});
  REQUIRE(without.ok());
  CHECK(without->ok);
  // Deleting the anchor too is refused when the log has signed heads.
  fs::remove(f.anchor);
  auto no_anchor = audit::AuditLog::open(f.db, f.kek, f.options());
  REQUIRE_FALSE(no_anchor.ok());
  CHECK(no_anchor.error().code == "anchor_missing");
}

TEST_CASE("audit: Only one process opens the log for writing", "[audit]") {
  Fixture f;
  auto log = f.open();
  auto second = audit::AuditLog::open(f.db, f.kek, f.options());
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == "locked");
}

TEST_CASE("audit: Concurrent appends share commits and stay ordered", "[audit][concurrency]") {
  Fixture f;
  auto log = f.open();
  net::io_context io;
  std::set<std::int64_t> firsts;
  int failures = 0;
  constexpr int kWriters = 200;
  for (int i = 0; i < kWriters; ++i) {
    net::co_spawn(
        io,
        [&, i]() -> net::awaitable<void> {
          std::vector<audit::AuditRecord> rows{record("w" + std::to_string(i)),
                                               record("w" + std::to_string(i) + "b")};
          auto r = co_await log->append(std::move(rows));
          if (r.ok()) {
            firsts.insert(*r);
          } else {
            ++failures;
          }
        },
        net::detached);
  }
  io.run();
  CHECK(failures == 0);
  CHECK(firsts.size() == kWriters);
  CHECK(log->last_seq() == 2 * kWriters);
  auto report = log->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(report->records == 2 * kWriters);
  for (auto first : firsts) CHECK(first % 2 == 1);
}

TEST_CASE("audit: Inclusion and consistency proofs check against signed heads", "[audit][proofs]") {
  Fixture f;
  auto log = f.open();
  REQUIRE(log->append_blocking(many(7)).ok());
  auto h7 = log->publish_head();
  REQUIRE(h7.ok());
  REQUIRE(log->append_blocking(many(6)).ok());
  auto h13 = log->publish_head();
  REQUIRE(h13.ok());
  for (std::int64_t seq = 1; seq <= 13; ++seq) {
    auto proof = log->inclusion_proof(seq);
    REQUIRE(proof.ok());
    CHECK(audit::merkle::verify_inclusion(proof->leaf_hash, static_cast<std::uint64_t>(seq - 1),
                                          proof->head.tree_size, proof->path, proof->head.root));
  }
  auto old = log->inclusion_proof(3, 7);
  REQUIRE(old.ok());
  CHECK(audit::merkle::verify_inclusion(old->leaf_hash, 2, 7, old->path, h7->root));
  CHECK_FALSE(log->inclusion_proof(9, 7).ok());
  auto consistency = log->consistency_proof(7);
  REQUIRE(consistency.ok());
  CHECK(audit::merkle::verify_consistency(7, 13, h7->root, h13->root, consistency->path));
}

TEST_CASE("audit: A signed export verifies offline and any change is caught", "[audit][export]") {
  Fixture f;
  auto log = f.open();
  std::vector<audit::AuditRecord> rows = many(6);
  rows.push_back(record("elsewhere", "p-other", "610102"));
  REQUIRE(log->append_blocking(std::move(rows)).ok());
  REQUIRE(log->publish_head().ok());
  auto text = log->export_ndjson(2, 7, [](const std::string& envelope) {
    return envelope.find("610102") == std::string::npos;
  });
  REQUIRE(text.ok());
  CHECK(text->find("p-other") == std::string::npos);
  auto report = audit::verify_export(*text, log->public_key());
  REQUIRE(report.ok());
  INFO(report->problem);
  CHECK(report->ok);
  CHECK(report->records == 6);
  CHECK(report->withheld == 1);
  SECTION("edited record") {
    std::string edited = *text;
    edited.replace(edited.find("row-3"), 5, "row-9");
    auto bad = audit::verify_export(edited, log->public_key());
    REQUIRE(bad.ok());
    CHECK_FALSE(bad->ok);
  }
  SECTION("wrong key") {
    auto other = crypto::Ed25519Signer::from_seed(crypto::SecretKey::random().bytes());
    auto bad = audit::verify_export(*text, other.public_key());
    REQUIRE(bad.ok());
    CHECK_FALSE(bad->ok);
  }
}

namespace {

// seq -> member of each exported record line (personal part), and whether
// any personal part still carries the commitment's salt.
std::map<std::int64_t, std::string> exported_members(const std::string& ndjson, bool& salted) {
  std::map<std::int64_t, std::string> members;
  std::istringstream in(ndjson);
  for (std::string line; std::getline(in, line);) {
    const json l = json::parse(line);
    if (l.value("type", "") != "record" || !l["personal"].is_string()) continue;
    const json p = json::parse(l["personal"].get<std::string>());
    if (p.contains("salt")) salted = true;
    if (p.contains("member")) members[l["seq"].get<std::int64_t>()] = p["member"].get<std::string>();
  }
  return members;
}

}  // namespace

TEST_CASE("audit: An export re-pseudonymises members with a key of its own", "[audit][export][pseudonym]") {
  Fixture f;
  auto log = f.open();
  std::vector<audit::AuditRecord> rows;
  rows.push_back(record("read", "p-alice", "230102"));
  rows.push_back(record("read", "p-bob", "230102"));
  rows.push_back(record("read", "p-alice", "230102"));
  rows.push_back(record("head"));  // no personal part
  REQUIRE(log->append_blocking(std::move(rows)).ok());
  REQUIRE(log->publish_head().ok());
  auto first = log->export_ndjson(1, 4, [](const std::string&) { return true; });
  auto second = log->export_ndjson(1, 4, [](const std::string&) { return true; });
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->find("hfv-audit-export/v2") != std::string::npos);
  for (const auto* text : {&*first, &*second}) {
    CHECK(text->find("p-alice") == std::string::npos);
    CHECK(text->find("p-bob") == std::string::npos);
    auto report = audit::verify_export(*text, log->public_key());
    REQUIRE(report.ok());
    INFO(report->problem);
    CHECK(report->ok);
    CHECK(report->records == 4);
    CHECK(report->rekeyed == 3);
  }
  bool salted = false;
  auto a = exported_members(*first, salted);
  auto b = exported_members(*second, salted);
  CHECK_FALSE(salted);  // the old salt would let personal_sha256 test a guessed stored pseudonym
  REQUIRE(a.size() == 3);
  REQUIRE(b.size() == 3);
  // One person, one pseudonym within an export; another person another.
  CHECK(a[1] == a[3]);
  CHECK(a[1] != a[2]);
  CHECK(b[1] == b[3]);
  // Two exports share no pseudonym.
  for (const auto& [seq, member] : a) {
    for (const auto& [other_seq, other] : b) CHECK(member != other);
  }
  SECTION("a re-keyed personal part edited after signing is caught") {
    std::string edited = *first;
    edited.replace(edited.find(a[2]), a[2].size(), a[1]);
    auto bad = audit::verify_export(edited, log->public_key());
    REQUIRE(bad.ok());
    CHECK_FALSE(bad->ok);
  }
}

TEST_CASE("audit: Data-key rotation keeps every row and survives a crash midway",
          "[audit][rotation]") {
  Fixture f;
  {
    auto log = f.open();
    REQUIRE(log->append_blocking(many(20)).ok());
  }
  auto before = audit::Keyring::load(audit::keyring_path(f.db), f.kek);
  REQUIRE(before.ok());
  auto rotated = audit::AuditLog::rotate_data_key(f.db, f.kek);
  INFO((rotated ? std::string() : rotated.error().message));
  REQUIRE(rotated.ok());
  auto after = audit::Keyring::load(audit::keyring_path(f.db), f.kek);
  REQUIRE(after.ok());
  CHECK_FALSE(crypto::constant_time_equal(before->db_key.bytes(), after->db_key.bytes()));
  CHECK_FALSE(after->next_db_key);
  CHECK(crypto::constant_time_equal(before->signing_seed.bytes(), after->signing_seed.bytes()));
  CHECK_FALSE(hfv::storage::SqlcipherDb::open(f.db, before->db_key, false).ok());
  CHECK(f.verify().ok);
  CHECK(f.verify().records == 20);

  SECTION("crash after the file was replaced, before the keyring was updated") {
    audit::Keyring stale = *after;
    stale.db_key = before->db_key;  // as if step 4 never happened
    stale.next_db_key = after->db_key;
    REQUIRE(stale.save(audit::keyring_path(f.db), f.kek).ok());
    auto log = f.open();
    CHECK(log->verify()->ok);
    CHECK(log->last_seq() == 20);
  }
  SECTION("crash before the file was replaced") {
    audit::Keyring pending = *after;
    pending.next_db_key = crypto::SecretKey::random();  // never used
    REQUIRE(pending.save(audit::keyring_path(f.db), f.kek).ok());
    std::ofstream(f.dir.path / "audit.db.rekey") << "half-written";
    auto log = f.open();
    CHECK(log->verify()->ok);
    CHECK_FALSE(fs::exists(f.dir.path / "audit.db.rekey"));
  }
  SECTION("refused while the log is open") {
    auto log = f.open();
    auto s = audit::AuditLog::rotate_data_key(f.db, f.kek);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == "locked");
  }
}

TEST_CASE("audit: Master rotation re-wraps the keyring", "[audit][rotation]") {
  Fixture f;
  {
    auto log = f.open();
    REQUIRE(log->append_blocking(many(3)).ok());
  }
  const auto new_kek = crypto::SecretKey::random();
  REQUIRE(audit::AuditLog::rewrap_keyring(f.db, f.kek, new_kek).ok());
  auto old_open = audit::AuditLog::open(f.db, f.kek, f.options());
  REQUIRE_FALSE(old_open.ok());
  CHECK(old_open.error().code == "bad_key");
  auto report = audit::AuditLog::verify_file(f.db, new_kek, f.anchor);
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(report->records == 3);
}

TEST_CASE("audit: Retention erases personal fields and the tree still verifies",
          "[audit][retention]") {
  Fixture f;
  auto log = f.open();
  REQUIRE(log->append_blocking(many(5)).ok());
  REQUIRE(log->publish_head().ok());
  auto erased = log->erase_personal_before("9999-01-01T00:00:00.000Z");
  REQUIRE(erased.ok());
  CHECK(*erased == 5);
  auto rows = log->read(1, 10);
  REQUIRE(rows.ok());
  for (const auto& r : *rows) {
    CHECK(r.personal.empty());
    CHECK_FALSE(json::parse(r.body).contains("member"));
  }
  audit::AuditQuery q;
  q.member = "p1";
  CHECK(log->query(q)->empty());
  auto report = log->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
  auto proof = log->inclusion_proof(2);
  REQUIRE(proof.ok());
  CHECK(audit::merkle::verify_inclusion(proof->leaf_hash, 1, proof->head.tree_size, proof->path,
                                        proof->head.root));
}

TEST_CASE("audit: The source filter finds a source in an agency.answers record's list and in an older "
          "agency.query record and nowhere else",
          "[audit][query]") {
  Fixture f;
  auto log = f.open();
  auto answers = [](const std::string& member, std::vector<std::string> sources) {
    audit::AuditRecord r = record("agency.answers", member, "230102");
    r.status.clear();
    for (auto& s : sources) r.answers.push_back({std::move(s), "ok", 3, std::string(64, 'c'), "attempts=1"});
    return r;
  };
  audit::AuditRecord older = record("agency.query", "m3", "230102");
  older.source = "tax";
  REQUIRE(log->append_blocking({answers("m1", {"tax", "social_insurance", "bank"}),
                                answers("m2", {"insurance", "internet_finance"}), older,
                                answers("m4", {"bank", "vehicle"})})
              .ok());
  auto seqs = [&](const std::string& source) {
    audit::AuditQuery q;
    q.source = source;
    const auto found = log->query(q);
    REQUIRE(found.ok());
    std::vector<std::int64_t> out;
    for (const auto& r : *found) out.push_back(r.seq);
    return out;
  };
  CHECK(seqs("tax") == std::vector<std::int64_t>{1, 3});
  CHECK(seqs("bank") == std::vector<std::int64_t>{1, 4});
  CHECK(seqs("social_insurance") == std::vector<std::int64_t>{1});
  CHECK(seqs("vehicle") == std::vector<std::int64_t>{4});
  // A name that is part of another, or of two neighbours, is not found.
  CHECK(seqs("insurance") == std::vector<std::int64_t>{2});
  CHECK(seqs("finance").empty());
  // Stored as written, and the file verifies (the column is the envelope's source).
  const json body = json::parse((*log->read(1, 1))[0].body);
  CHECK(body["source"] == "tax,social_insurance,bank");
  REQUIRE(body["answers"].size() == 3);
  CHECK(body["answers"][1] == json{{"source", "social_insurance"}, {"status", "ok"}, {"latency_ms", 3},
                                   {"digest", std::string(64, 'c')}, {"detail", "attempts=1"}});
  auto report = log->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE("audit: Queries filter and scope by jurisdiction", "[audit][query]") {
  Fixture f;
  auto log = f.open();
  REQUIRE(log->append_blocking({record("daemon.start"), record("q", "m1", "230102"),
                                record("q", "m2", "610102"), record("q", "m1", "230103")})
              .ok());
  audit::AuditQuery q;
  q.jurisdiction_prefixes = {"2301"};
  auto rows = log->query(q);
  REQUIRE(rows.ok());
  CHECK(rows->size() == 2);  // the daemon event has no jurisdiction: for the whole centre only
  q.unscoped_too = true;     // a whole-centre supervisor's scope
  rows = log->query(q);
  REQUIRE(rows.ok());
  CHECK(rows->size() == 3);
  q.member = "m1";
  CHECK(log->query(q)->size() == 2);
  q.member.clear();
  q.limit = 1;
  q.after_seq = 1;
  rows = log->query(q);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].seq == 2);
}
