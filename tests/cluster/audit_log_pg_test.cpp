// The audit log on PostgreSQL (audit/postgresql_log.hpp) against a real
// server: several brokers appending to one hash-chained Merkle log, the
// whole log verifying; what a database administrator can read (no ID
// number, name, operator, case or request id in a pg_dump) and change
// (every edit, deletion, reordering or rollback is found by verification);
// retention; and appends failing, then resuming by themselves, while the
// server is down.
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "audit/audit_log.hpp"
#include "audit/keyring.hpp"
#include "crypto/aead.hpp"
#include "pg_server.hpp"
#include "storage/compression.hpp"

namespace audit = hfv::audit;
using hfv::testing::PgServer;
using hfv::testing::TempDir;

namespace {

const hfv::crypto::SecretKey kKek = hfv::crypto::SecretKey::random();

audit::AuditRecord record(const std::string& case_id, const std::string& member, int n) {
  audit::AuditRecord r;
  r.action = "agency.query";
  r.principal = "CN=case-system,O=Harbin";
  r.operator_id = "op-" + case_id;
  r.centre = "230100";
  r.request_id = "ver_" + case_id;
  r.case_id = case_id;
  r.authorization_id = "auth_" + case_id;
  r.programme = "dibao";
  r.jurisdiction = "230102";
  r.member = member;
  r.source = n % 2 == 0 ? "bank" : "tax";
  r.status = "ok";
  r.latency_ms = n;
  r.detail = "query " + std::to_string(n);
  return r;
}

// A broker's view of the shared log: its own anchor file.
struct Node {
  TempDir dir{"hfv-audit-node"};
  std::filesystem::path anchor = dir.path / "audit.anchor";
  std::unique_ptr<audit::AuditLog> log;
  Node(const PgServer& pg, const std::string& db) {
    audit::AuditLogOptions o;
    o.anchor_file = anchor;
    o.head_interval = std::chrono::milliseconds(50);
    auto opened = audit::AuditLog::open(audit::LogLocation::shared(pg.conninfo(db)), kKek, o);
    INFO((opened ? std::string() : opened.error().message));
    REQUIRE(opened.ok());
    log = std::move(*opened);
  }
};

audit::ChainReport verify(const PgServer& pg, const std::string& db,
                          const std::filesystem::path& anchor = {}) {
  auto report = audit::AuditLog::verify_at(audit::LogLocation::shared(pg.conninfo(db)), kKek, anchor);
  INFO((report ? std::string() : report.error().message));
  REQUIRE(report.ok());
  CHECK_FALSE(report->pages);  // the SQLCipher page check does not apply here
  return *report;
}

// A database with `n` records written by one broker that then closed (its
// last head stored and anchored); returns that broker's anchor file.
std::filesystem::path filled(const PgServer& pg, const std::string& db, int n, TempDir& keep) {
  pg.sql("CREATE DATABASE " + db);
  Node node(pg, db);
  std::vector<audit::AuditRecord> rows;
  for (int i = 1; i <= n; ++i) rows.push_back(record("C" + std::to_string(i), "m" + std::to_string(i), i));
  REQUIRE(node.log->append_blocking(rows).ok());
  node.log.reset();  // signs and anchors the final head
  const auto anchor = keep.path / (db + ".anchor");
  std::filesystem::copy_file(node.anchor, anchor);
  return anchor;
}

}  // namespace

TEST_CASE("cluster: brokers append to one audit log on PostgreSQL and the whole log verifies",
          "[cluster][audit]") {
  PgServer pg;
  Node a(pg, "postgres");
  Node b(pg, "postgres");  // the second broker reads the keyring the first made
  CHECK(a.log->public_key() == b.log->public_key());
  constexpr int kRounds = 60;
  std::set<std::int64_t> firsts;
  std::mutex m;
  std::atomic<int> failures{0};
  auto writer = [&](audit::AuditLog& log, const std::string& who) {
    for (int i = 0; i < kRounds; ++i) {
      const std::string c = who + std::to_string(i);
      auto seq = log.append_blocking({record(c, "m-" + c, i), record(c, "m-" + c, i + 1)});
      if (!seq) {
        ++failures;
        continue;
      }
      std::lock_guard lock(m);
      firsts.insert(*seq);
    }
  };
  std::thread ta(writer, std::ref(*a.log), "A");
  std::thread tb(writer, std::ref(*b.log), "B");
  ta.join();
  tb.join();
  REQUIRE(failures == 0);
  // Every append got two consecutive numbers of its own: 1, 3, 5, ...
  REQUIRE(firsts.size() == 2 * kRounds);
  std::int64_t expected = 1;
  for (auto s : firsts) {
    CHECK(s == expected);
    expected += 2;
  }
  // Each broker's tree takes in the other's entries at its next append.
  REQUIRE(a.log->append_blocking({record("A-last", "m", 0)}).ok());
  CHECK(a.log->last_seq() == 4 * kRounds + 1);
  auto head = a.log->publish_head();
  REQUIRE(head.ok());
  CHECK(head->tree_size == 4 * kRounds + 1);

  // Any broker reads any broker's records, by their personal fields too.
  audit::AuditQuery q;
  q.case_id = "B7";
  auto found = a.log->query(q);
  REQUIRE(found.ok());
  REQUIRE(found->size() == 2);
  CHECK((*found)[0].body.find("\"operator\":\"op-B7\"") != std::string::npos);
  q = {};
  q.member = "m-A3";
  CHECK(b.log->query(q)->size() == 2);
  q = {};
  q.source = "tax";
  q.jurisdiction_prefixes = {"2301"};
  q.limit = 1000;
  CHECK(a.log->query(q)->size() == 2 * kRounds);
  // A proof from one broker for an entry the other wrote checks against the signed head.
  auto proof = a.log->inclusion_proof(*firsts.rbegin());
  REQUIRE(proof.ok());
  CHECK(proof->head.tree_size == head->tree_size);

  const auto report = verify(pg, "postgres", a.anchor);
  CHECK(report.ok);
  CHECK(report.records == 4 * kRounds + 1);
  CHECK(report.heads_checked >= 1);
  CHECK(report.anchor_checked);
  CHECK(report.head_hash == hfv::crypto::to_hex(head->root));
  // The export is signed and covers the other broker's entries too.
  auto exported = b.log->export_ndjson(1, 5, [](const std::string&) { return true; });
  REQUIRE(exported.ok());
  CHECK(exported->find("\"type\":\"end\"") != std::string::npos);
  // The source filter finds a source inside an agency.answers record's list.
  audit::AuditRecord listed = record("A-list", "m-list", 0);
  listed.action = "agency.answers";
  listed.answers = {{"social_insurance", "ok", 4, "", ""}, {"insurance", "not_found", 5, "", ""}};
  REQUIRE(b.log->append_blocking({listed}).ok());
  q = {};
  q.source = "insurance";
  auto in_list = a.log->query(q);
  REQUIRE(in_list.ok());
  REQUIRE(in_list->size() == 1);
  CHECK(in_list->front().body.find("\"answers\":[") != std::string::npos);
  q.source = "social_insurance";
  CHECK(a.log->query(q)->size() == 1);
  q.source = "internet_finance";
  CHECK(a.log->query(q)->empty());
}

TEST_CASE("cluster: a pg_dump of the audit log holds no ID number, name, operator, case or request id",
          "[cluster][audit][privacy]") {
  PgServer pg;
  Node node(pg, "postgres");
  auto r = record("HRB-2024-0042", "7d3f0a9c", 1);
  r.operator_id = "王芳-230102197503120016";
  r.request_id = "ver_secret_request";
  r.authorization_id = "auth_secret_form";
  REQUIRE(node.log->append_blocking({r, record("HRB-2024-0043", "8e4a1b2d", 2)}).ok());
  // The broker itself reads everything back, and finds by case and member.
  audit::AuditQuery q;
  q.case_id = "HRB-2024-0042";
  auto found = node.log->query(q);
  REQUIRE(found.ok());
  REQUIRE(found->size() == 1);
  CHECK(found->front().body.find("王芳-230102197503120016") != std::string::npos);
  q = {};
  q.member = "8e4a1b2d";
  CHECK(node.log->query(q)->size() == 1);

  node.log.reset();
  const std::string dump = pg.run_tool("pg_dump", {"--data-only", "-h", "127.0.0.1", "-p",
                                                   std::to_string(pg.port()), "-U", "hfv", "postgres"});
  CHECK(dump.find("COPY public.audit_records") != std::string::npos);
  CHECK(dump.find("agency.query") != std::string::npos);  // the clear columns are there
  for (const char* secret : {"230102197503120016", "王芳", "HRB-2024-0042", "ver_secret_request",
                             "auth_secret_form", "7d3f0a9c", "query 1"}) {
    INFO(secret);
    CHECK(dump.find(secret) == std::string::npos);
  }
}

TEST_CASE("cluster: every edit, deletion, reordering or rollback of the audit log in PostgreSQL is found",
          "[cluster][audit][tamper]") {
  PgServer pg;
  TempDir keep{"hfv-audit-anchors"};
  struct Tamper {
    const char* name;
    std::string sql;
    std::int64_t first_bad;
  };
  const std::vector<Tamper> cases = {
      {"edited clear column", "UPDATE audit_records SET source = 'vehicle' WHERE seq = 5", 5},
      {"edited pseudonym", "UPDATE audit_records SET case_id = (SELECT case_id FROM audit_records WHERE seq = 2)"
                           " WHERE seq = 6", 6},
      {"edited sealed envelope",
       "UPDATE audit_records SET envelope = overlay(envelope placing"
       " (CASE WHEN substr(envelope, 40, 1) = '0' THEN '1' ELSE '0' END) from 40 for 1) WHERE seq = 7", 7},
      {"envelope moved from another row",
       "UPDATE audit_records SET envelope = (SELECT envelope FROM audit_records WHERE seq = 3),"
       " leaf_hash = (SELECT leaf_hash FROM audit_records WHERE seq = 3) WHERE seq = 8", 8},
      {"deleted row", "DELETE FROM audit_records WHERE seq = 9", 9},
      {"reordered rows",
       "UPDATE audit_records SET seq = -1 WHERE seq = 4; UPDATE audit_records SET seq = 4 WHERE seq = 10;"
       " UPDATE audit_records SET seq = 10 WHERE seq = -1", 4},
      {"erased personal part outside retention", "UPDATE audit_records SET personal = NULL WHERE seq = 11", 11},
  };
  int n = 0;
  for (const auto& t : cases) {
    const std::string db = "tamper" + std::to_string(n++);
    const auto anchor = filled(pg, db, 20, keep);
    REQUIRE(verify(pg, db, anchor).ok);
    pg.sql(t.sql, db);
    INFO(t.name);
    const auto report = verify(pg, db, anchor);
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq == t.first_bad);
    CHECK_FALSE(report.problem.empty());
  }

  // The records table restored from an older copy: the stored heads no
  // longer match it.
  {
    const auto anchor = filled(pg, "rolled1", 20, keep);
    pg.sql("DELETE FROM audit_records WHERE seq > 15", "rolled1");
    const auto report = verify(pg, "rolled1");
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq == 16);
  }
  // Records and heads both rolled back: only the brokers' anchors know;
  // verification with one finds it, and a broker refuses to open on it.
  {
    const auto anchor = filled(pg, "rolled2", 20, keep);
    pg.sql("DELETE FROM audit_records WHERE seq > 15", "rolled2");
    pg.sql("DELETE FROM audit_heads WHERE tree_size > 15", "rolled2");
    CHECK(verify(pg, "rolled2").ok);  // without an anchor, a shorter log is all there is
    const auto report = verify(pg, "rolled2", anchor);
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad_seq == 16);
    CHECK(report.problem.find("rolled back") != std::string::npos);
    audit::AuditLogOptions o;
    o.anchor_file = anchor;
    auto refused = audit::AuditLog::open(audit::LogLocation::shared(pg.conninfo("rolled2")), kKek, o);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == "rollback_detected");
  }
  // Rows removed under a running broker: it stops appending instead of
  // reusing their numbers.
  {
    pg.sql("CREATE DATABASE truncated");
    Node node(pg, "truncated");
    REQUIRE(node.log->append_blocking({record("T1", "m", 1), record("T2", "m", 2)}).ok());
    pg.sql("DELETE FROM audit_records WHERE seq = 2", "truncated");
    auto refused = node.log->append_blocking({record("T3", "m", 3)});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == "rollback_detected");
  }
  // Another master key: nothing opens.
  {
    auto wrong = audit::AuditLog::verify_at(audit::LogLocation::shared(pg.conninfo("rolled1")),
                                            hfv::crypto::SecretKey::random(), {});
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == "bad_key");
  }
}

// The key the log seals its boxes with, from its keyring row.
hfv::crypto::SecretKey seal_key(const PgServer& pg, const std::string& db) {
  const auto rows = pg.column("SELECT keyring FROM audit_keyring WHERE id = 1", {}, db);
  REQUIRE(rows.size() == 1);
  auto keyring = audit::Keyring::from_sealed_text(rows.front(), kKek, "in the test");
  REQUIRE(keyring.ok());
  return hfv::crypto::derive_key(keyring->db_key, "hfv/audit-pg-seal/v1");
}

// A box's associated data (docs/audit-log-format.md, PostgreSQL).
std::string box_context(const std::string& field, int seq) {
  return "audit_records|" + field + "|" + std::to_string(seq);
}

// Record seq's envelope box opened without expanding it.
std::string opened_envelope(const PgServer& pg, const std::string& db, const hfv::crypto::SecretKey& key, int seq) {
  const auto box = pg.column("SELECT envelope FROM audit_records WHERE seq = $1", {std::to_string(seq)}, db);
  REQUIRE(box.size() == 1);
  auto plain = hfv::crypto::aes256gcm_open_hex(key, box.front(), box_context("envelope", seq));
  REQUIRE(plain.has_value());
  return *plain;
}

std::string format_of(const PgServer& pg, const std::string& db) {
  const auto v = pg.column("SELECT value FROM audit_meta WHERE key = 'format'", {}, db);
  return v.empty() ? std::string() : v.front();
}

TEST_CASE("cluster: the audit log on PostgreSQL seals its records compressed and reads and upgrades a log written "
          "before that",
          "[cluster][audit][upgrade]") {
  PgServer pg;
  TempDir keep{"hfv-audit-anchors"};
  const auto anchor = filled(pg, "upgraded", 20, keep);
  const auto key = seal_key(pg, "upgraded");
  CHECK(format_of(pg, "upgraded") == "hfv-audit/v2+zstd");
  CHECK(hfv::storage::is_zstd_frame(opened_envelope(pg, "upgraded", key, 1)));

  // As a broker of the version before left it: every box holds its JSON
  // uncompressed, and the format names the records' format alone.
  for (int seq = 1; seq <= 20; ++seq) {
    for (const std::string field : {"envelope", "personal"}) {
      const std::string context = box_context(field, seq);
      const auto box = pg.column("SELECT " + field + " FROM audit_records WHERE seq = $1", {std::to_string(seq)},
                                 "upgraded");
      REQUIRE(box.size() == 1);
      auto plain = hfv::storage::open_hex_compressed(key, box.front(), context, 1 << 20);
      REQUIRE(plain.has_value());
      pg.sql("UPDATE audit_records SET " + field + " = '" + hfv::crypto::aes256gcm_seal_hex(key, *plain, context) +
                 "' WHERE seq = " + std::to_string(seq),
             "upgraded");
    }
  }
  pg.sql("UPDATE audit_meta SET value = 'hfv-audit/v2' WHERE key = 'format'", "upgraded");
  CHECK(opened_envelope(pg, "upgraded", key, 1).front() == '{');

  // A reader takes it as it is and changes nothing.
  CHECK(verify(pg, "upgraded", anchor).ok);
  CHECK(format_of(pg, "upgraded") == "hfv-audit/v2");
  // The first writer marks it; its records are compressed, the old ones
  // stay as they were, and the whole log verifies.
  {
    Node node(pg, "upgraded");
    CHECK(format_of(pg, "upgraded") == "hfv-audit/v2+zstd");
    REQUIRE(node.log->append_blocking({record("U1", "m", 1), record("U2", "m", 2)}).ok());
  }
  CHECK(opened_envelope(pg, "upgraded", key, 1).front() == '{');
  CHECK(hfv::storage::is_zstd_frame(opened_envelope(pg, "upgraded", key, 21)));
  const auto report = verify(pg, "upgraded");
  CHECK(report.ok);
  CHECK(report.records >= 22);

  // A format this build does not know: neither writer nor reader opens it.
  pg.sql("UPDATE audit_meta SET value = 'hfv-audit/v3' WHERE key = 'format'", "upgraded");
  audit::AuditLogOptions o;
  o.anchor_file = keep.path / "other.anchor";
  auto writer = audit::AuditLog::open(audit::LogLocation::shared(pg.conninfo("upgraded")), kKek, o);
  REQUIRE_FALSE(writer.ok());
  CHECK(writer.error().code == "unsupported_format");
  auto reader = audit::AuditLog::verify_at(audit::LogLocation::shared(pg.conninfo("upgraded")), kKek, {});
  REQUIRE_FALSE(reader.ok());
  CHECK(reader.error().code == "unsupported_format");
}

TEST_CASE("cluster: retention erases the personal part on PostgreSQL and the log still verifies",
          "[cluster][audit]") {
  PgServer pg;
  Node node(pg, "postgres");
  REQUIRE(node.log->append_blocking({record("R1", "m1", 1), record("R2", "m2", 2)}).ok());
  auto erased = node.log->erase_personal_before("9999-01-01T00:00:00.000Z");
  REQUIRE(erased.ok());
  CHECK(*erased == 2);
  audit::AuditQuery q;
  q.case_id = "R1";
  CHECK(node.log->query(q)->empty());  // the pseudonym went with the personal part
  auto rows = node.log->read(1, 10);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK(rows->front().personal.empty());
  CHECK(rows->front().body.find("R1") == std::string::npos);
  node.log.reset();
  CHECK(verify(pg, "postgres", node.anchor).ok);
}

TEST_CASE("cluster: audit appends fail while PostgreSQL is down and resume by themselves",
          "[cluster][audit][failover]") {
  PgServer pg;
  Node node(pg, "postgres");
  REQUIRE(node.log->append_blocking({record("F1", "m", 1)}).ok());
  pg.kill_postmaster();
  pg.wait_orphans_gone();  // no orphaned backend still serves the open connection
  auto during = node.log->append_blocking({record("F2", "m", 2)});
  REQUIRE_FALSE(during.ok());
  CHECK(during.error().code == "db_unavailable");
  pg.start();
  auto after = node.log->append_blocking({record("F3", "m", 3)});
  INFO((after ? std::string() : after.error().message));
  REQUIRE(after.ok());
  CHECK(*after == 2);  // nothing half-written took a number
  node.log.reset();
  const auto report = verify(pg, "postgres", node.anchor);
  CHECK(report.ok);
  CHECK(report.records == 2);
}

TEST_CASE("cluster: a broker joining the shared audit log starts its own anchor, checked from its first head",
          "[cluster][audit]") {
  PgServer pg;
  TempDir keep{"hfv-audit-anchors"};
  const auto first_anchor = filled(pg, "joined", 5, keep);  // heads signed by the first broker
  Node late(pg, "joined");  // no anchor file of its own yet: opens
  CHECK_FALSE(std::filesystem::exists(late.anchor));
  REQUIRE(late.log->append_blocking({record("J6", "m", 6)}).ok());
  REQUIRE(late.log->publish_head().ok());
  REQUIRE(std::filesystem::exists(late.anchor));
  late.log.reset();
  CHECK(verify(pg, "joined", late.anchor).ok);
  CHECK(verify(pg, "joined", first_anchor).ok);
  // From then on its anchor guards the log like any other.
  pg.sql("DELETE FROM audit_records WHERE seq = 6; DELETE FROM audit_heads WHERE tree_size = 6", "joined");
  audit::AuditLogOptions o;
  o.anchor_file = late.anchor;
  auto refused = audit::AuditLog::open(audit::LogLocation::shared(pg.conninfo("joined")), kKek, o);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "rollback_detected");
}

TEST_CASE("cluster: queries scope by jurisdiction on PostgreSQL as on SQLCipher, records without one for the whole centre only",
          "[cluster][audit][query]") {
  PgServer pg;
  Node a(pg, "postgres");
  audit::AuditRecord daemon;
  daemon.action = "daemon.start";
  audit::AuditRecord shanghai = record("S1", "m-S1", 0);
  shanghai.jurisdiction = "310101";
  REQUIRE(a.log->append_blocking({daemon, record("H1", "m-H1", 0), shanghai, record("H2", "m-H2", 1)}).ok());
  audit::AuditQuery q;
  q.jurisdiction_prefixes = {"2301"};
  auto rows = a.log->query(q);
  REQUIRE(rows.ok());
  CHECK(rows->size() == 2);
  q.unscoped_too = true;
  rows = a.log->query(q);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 3);
  CHECK((*rows)[0].seq == 1);  // the daemon's record
  q.jurisdiction_prefixes = {"2301", "31"};
  q.unscoped_too = false;
  CHECK(a.log->query(q)->size() == 3);
}

TEST_CASE("cluster: the signing key of the audit log on PostgreSQL rotates in one transaction, and the log verifies "
          "from its first key",
          "[cluster][audit][keys]") {
  PgServer pg;
  const auto where = audit::LogLocation::shared(pg.conninfo("postgres"));
  Node node(pg, "postgres");
  REQUIRE(node.log->append_blocking({record("K1", "m1", 1), record("K2", "m2", 2)}).ok());
  const auto first = node.log->public_key();
  node.log.reset();
  auto t = audit::AuditLog::rotate_signing_key(where, kKek, "hfv.example/cluster/audit");
  INFO((t ? std::string() : t.error().message));
  REQUIRE(t.ok());
  CHECK(t->tree_size == 2);
  CHECK(t->old_key == first);
  auto identity = audit::AuditLog::public_key_at(where, kKek);
  REQUIRE(identity.ok());
  CHECK(*identity == first);  // what audit.public_key pins
  auto history = audit::AuditLog::key_history_at(where, kKek);
  REQUIRE(history.ok());
  CHECK(history->current() == t->new_key);

  // Reopened (the anchor holds the retired key's head of 2): new heads are the new key's.
  audit::AuditLogOptions o;
  o.anchor_file = node.anchor;
  auto reopened = audit::AuditLog::open(where, kKek, o);
  INFO((reopened ? std::string() : reopened.error().message));
  REQUIRE(reopened.ok());
  REQUIRE((*reopened)->append_blocking({record("K3", "m3", 3)}).ok());
  auto head = (*reopened)->publish_head();
  REQUIRE(head.ok());
  CHECK(head->tree_size == 3);
  CHECK(head->key_id == audit::audit_key_id(t->new_key));
  reopened->reset();
  const auto report = verify(pg, "postgres", node.anchor);
  INFO(report.problem);
  CHECK(report.ok);
  CHECK(report.heads_checked >= 2);
}
