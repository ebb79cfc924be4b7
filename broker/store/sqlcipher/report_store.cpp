#include "broker/store/sqlcipher/report_store.hpp"

#include "common/date.hpp"
#include "common/time.hpp"

namespace hfv::broker {

namespace {
constexpr const char* kColumns =
    "id, principal, idempotency_key, request_sha256, household_key, state, http_status, response, "
    "created_unix, superseded_by";
}

Result<std::unique_ptr<SqlcipherReportStore>> SqlcipherReportStore::open(
    const std::filesystem::path& path, const crypto::SecretKey& key) {
  auto db = storage::SqlcipherDb::open(path, key, /*create=*/true);
  if (!db) return db.error();
  if (auto s = (*db)->exec(
          "CREATE TABLE IF NOT EXISTS verifications ("
          " id TEXT PRIMARY KEY, principal TEXT NOT NULL, idempotency_key TEXT NOT NULL,"
          " request_sha256 TEXT NOT NULL, household_key TEXT NOT NULL, state TEXT NOT NULL,"
          " http_status INTEGER NOT NULL DEFAULT 0, response TEXT NOT NULL DEFAULT '',"
          " created_unix INTEGER NOT NULL, completed_at TEXT);"
          "CREATE UNIQUE INDEX IF NOT EXISTS verifications_key ON verifications(principal, "
          "idempotency_key)"
          " WHERE idempotency_key != '';"
          "CREATE INDEX IF NOT EXISTS verifications_household ON verifications(principal, "
          "household_key,"
          " created_unix);"
          "CREATE TABLE IF NOT EXISTS verification_inputs ("
          " id TEXT PRIMARY KEY, inputs TEXT NOT NULL, inputs_sha256 TEXT NOT NULL,"
          " policy_version TEXT NOT NULL);"
          "CREATE TABLE IF NOT EXISTS policy_versions ("
          " version TEXT PRIMARY KEY, jurisdiction TEXT NOT NULL, content TEXT NOT NULL);"
          "UPDATE verifications SET state = 'interrupted' WHERE state = 'running';");
      !s) {
    return s.error();
  }
  // Appeals (docs/replay-and-what-if.md): the report that superseded this one.
  if (auto s = (*db)->add_column_if_missing("verifications", "superseded_by", "TEXT NOT NULL DEFAULT ''"); !s) {
    return s.error();
  }
  if (auto s = (*db)->checkpoint_in_background(path, key); !s) return s.error();
  return std::unique_ptr<SqlcipherReportStore>(new SqlcipherReportStore(std::move(*db)));
}

Status SqlcipherReportStore::insert_running(const StoredVerification& v) {
  std::lock_guard lock(mutex_);
  return insert_running_locked(v);
}

BlockingCall<Status> SqlcipherReportStore::start_insert_running(const WriteStart& at, StoredVerification v) {
  return writes_->start(at, [this, v = std::move(v)] { return insert_running_locked(v); });
}

BlockingCall<Status> SqlcipherReportStore::start_finish_issued(const WriteStart& at, std::string id,
                                                               std::string report, ArchivedInputs inputs) {
  return writes_->start(at, [this, id = std::move(id), report = std::move(report), inputs = std::move(inputs)] {
    return issue_locked(id, report, inputs);
  });
}

Status SqlcipherReportStore::insert_running_locked(const StoredVerification& v) {
  return db_->run(
      "INSERT INTO verifications (id, principal, idempotency_key, request_sha256, household_key, state,"
      " created_unix) VALUES (?,?,?,?,?,'running',?);",
      {v.id, v.principal, v.idempotency_key, v.request_sha256, v.household_key, v.created_unix});
}

Status SqlcipherReportStore::finish(const std::string& id, long http_status, const std::string& response) {
  std::lock_guard lock(mutex_);
  return db_->run("UPDATE verifications SET state = 'done', http_status = ?, response = ?, completed_at = ? WHERE id = ?;",
                  {static_cast<std::int64_t>(http_status), response, utc_timestamp_now(), id});
}

Status SqlcipherReportStore::issue_locked(const std::string& id, const std::string& report,
                                          const ArchivedInputs& inputs) {
  // The policy file is written once per version: most reports name a
  // version that is kept already (the caller's BEGIN IMMEDIATE holds the
  // write lock, so a purge cannot erase it before this commits).
  auto kept = db_->prepare("SELECT 1 FROM policy_versions WHERE version = ?;");
  if (!kept) return kept.error();
  kept->bind(1, inputs.policy_version);
  if (!kept->step()) {
    if (auto s = kept->status(); !s) return s;
    if (auto s = db_->run("INSERT INTO policy_versions (version, jurisdiction, content) VALUES (?,?,?);",
                          {inputs.policy_version, inputs.policy_jurisdiction, inputs.policy_content});
        !s) {
      return s;
    }
  }
  if (auto s = db_->run(
          "INSERT INTO verification_inputs (id, inputs, inputs_sha256, policy_version) VALUES (?,?,?,?);",
          {id, inputs.text, inputs.sha256, inputs.policy_version});
      !s) {
    return s;
  }
  return db_->run(
      "UPDATE verifications SET state = 'done', http_status = 200, response = ?, completed_at = ? WHERE id = ?;",
      {report, utc_timestamp_now(), id});
}

Status SqlcipherReportStore::in_transaction(const std::function<Status()>& body) {
  if (auto s = db_->exec("BEGIN IMMEDIATE;"); !s) return s;
  if (auto s = body(); !s) {
    (void)db_->exec("ROLLBACK;");
    return s;
  }
  return db_->exec("COMMIT;");
}

Status SqlcipherReportStore::finish_issued(const std::string& id, const std::string& report,
                                           const ArchivedInputs& inputs) {
  std::lock_guard lock(mutex_);
  return in_transaction([&] { return issue_locked(id, report, inputs); });
}

Status SqlcipherReportStore::finish_appeal(const std::string& id, const std::string& report,
                                           const ArchivedInputs& inputs, const std::string& supersedes) {
  std::lock_guard lock(mutex_);
  // BEGIN IMMEDIATE holds the write lock from the check to the commit: no
  // other connection marks the old report in between.
  return in_transaction([&]() -> Status {
    auto stmt = db_->prepare("SELECT superseded_by FROM verifications WHERE id = ?;");
    if (!stmt) return stmt.error();
    stmt->bind(1, supersedes);
    if (!stmt->step()) {
      if (auto s = stmt->status(); !s) return s;
      return make_error("not_found", "the appealed verification is gone");
    }
    if (!stmt->column_text(0).empty()) {
      return make_error("already_superseded", "the appealed report is superseded already");
    }
    if (auto s = issue_locked(id, report, inputs); !s) return s;
    return db_->run("UPDATE verifications SET superseded_by = ? WHERE id = ?;", {id, supersedes});
  });
}

Result<std::optional<ArchivedVerification>> SqlcipherReportStore::find_archived(const std::string& id) {
  auto found = query_one(std::string("SELECT ") + kColumns + " FROM verifications WHERE id = ?;", {id});
  if (!found) return found.error();
  if (!*found) return std::optional<ArchivedVerification>();
  ArchivedVerification out;
  out.verification = std::move(**found);
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(
      "SELECT i.inputs, i.inputs_sha256, i.policy_version, coalesce(p.jurisdiction, ''), coalesce(p.content, '')"
      " FROM verification_inputs i LEFT JOIN policy_versions p ON p.version = i.policy_version WHERE i.id = ?;");
  if (!stmt) return stmt.error();
  stmt->bind(1, id);
  if (stmt->step()) {
    out.inputs.text = stmt->column_text(0);
    out.inputs.sha256 = stmt->column_text(1);
    out.inputs.policy_version = stmt->column_text(2);
    out.inputs.policy_jurisdiction = stmt->column_text(3);
    out.inputs.policy_content = stmt->column_text(4);
  } else if (auto s = stmt->status(); !s) {
    return s.error();
  }
  return std::optional(std::move(out));
}

Result<std::vector<ArchivedVerification>> SqlcipherReportStore::archived_page(std::int64_t from_unix,
                                                                              std::int64_t to_unix,
                                                                              const std::string& after_id,
                                                                              std::size_t limit) {
  std::lock_guard lock(mutex_);
  // Walks the primary key (id) and filters by date: no index on
  // created_unix is needed for a job that reads the period once.
  auto stmt = db_->prepare(
      "SELECT v.id, v.principal, v.idempotency_key, v.request_sha256, v.household_key, v.http_status,"
      " v.response, v.created_unix, i.inputs, i.inputs_sha256, i.policy_version"
      " FROM verifications v JOIN verification_inputs i ON i.id = v.id"
      " WHERE v.id > ? AND v.state = 'done' AND v.http_status = 200 AND v.created_unix >= ?"
      " AND v.created_unix < ? ORDER BY v.id LIMIT ?;");
  if (!stmt) return stmt.error();
  stmt->bind(1, after_id).bind(2, from_unix).bind(3, to_unix).bind(4, static_cast<std::int64_t>(limit));
  std::vector<ArchivedVerification> out;
  while (stmt->step()) {
    ArchivedVerification a;
    a.verification.id = stmt->column_text(0);
    a.verification.principal = stmt->column_text(1);
    a.verification.idempotency_key = stmt->column_text(2);
    a.verification.request_sha256 = stmt->column_text(3);
    a.verification.household_key = stmt->column_text(4);
    a.verification.state = VerificationState::kDone;
    a.verification.http_status = static_cast<long>(stmt->column_int(5));
    a.verification.response = stmt->column_text(6);
    a.verification.created_unix = stmt->column_int(7);
    a.inputs.text = stmt->column_text(8);
    a.inputs.sha256 = stmt->column_text(9);
    a.inputs.policy_version = stmt->column_text(10);
    out.push_back(std::move(a));
  }
  if (auto s = stmt->status(); !s) return s.error();
  return out;
}

Result<std::int64_t> SqlcipherReportStore::count_archived(std::int64_t from_unix, std::int64_t to_unix) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(
      "SELECT count(*) FROM verifications v JOIN verification_inputs i ON i.id = v.id"
      " WHERE v.state = 'done' AND v.http_status = 200 AND v.created_unix >= ? AND v.created_unix < ?;");
  if (!stmt) return stmt.error();
  stmt->bind(1, from_unix).bind(2, to_unix);
  if (!stmt->step()) {
    if (auto s = stmt->status(); !s) return s.error();
    return std::int64_t{0};
  }
  return stmt->column_int(0);
}

Status SqlcipherReportStore::cancel(const std::string& id) {
  std::lock_guard lock(mutex_);
  return db_->run(
      "UPDATE verifications SET state = 'cancelled', idempotency_key = '', completed_at = ? WHERE id = ?;",
      {utc_timestamp_now(), id});
}

Status SqlcipherReportStore::interrupt(const std::string& id) {
  std::lock_guard lock(mutex_);
  return db_->run("UPDATE verifications SET state = 'interrupted' WHERE id = ? AND state = 'running';", {id});
}

Result<std::optional<StoredVerification>> SqlcipherReportStore::query_one(
    const std::string& sql, std::initializer_list<std::string> text_args,
    std::optional<std::int64_t> int_arg) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(sql);
  if (!stmt) return stmt.error();
  int i = 1;
  for (const auto& a : text_args) stmt->bind(i++, a);
  if (int_arg) stmt->bind(i, *int_arg);
  if (!stmt->step()) {
    if (auto s = stmt->status(); !s) return s.error();
    return std::optional<StoredVerification>();
  }
  const auto state = parse_verification_state(stmt->column_text(5));
  if (!state) return make_error("corrupt_state", "a verification record cannot be read");
  StoredVerification v;
  v.id = stmt->column_text(0);
  v.principal = stmt->column_text(1);
  v.idempotency_key = stmt->column_text(2);
  v.request_sha256 = stmt->column_text(3);
  v.household_key = stmt->column_text(4);
  v.state = *state;
  v.http_status = static_cast<long>(stmt->column_int(6));
  v.response = stmt->column_text(7);
  v.created_unix = stmt->column_int(8);
  v.superseded_by = stmt->column_text(9);
  return std::optional(std::move(v));
}

Result<std::optional<StoredVerification>> SqlcipherReportStore::find(const std::string& id,
                                                                     const std::string& principal) {
  return query_one(
      std::string("SELECT ") + kColumns + " FROM verifications WHERE id = ? AND principal = ?;",
      {id, principal});
}

Result<std::optional<StoredVerification>> SqlcipherReportStore::find_by_key(
    const std::string& principal, const std::string& key) {
  return query_one(std::string("SELECT ") + kColumns +
                       " FROM verifications WHERE principal = ? AND idempotency_key = ?"
                       " AND idempotency_key != '';",  // lets SQLite use the partial unique index
                   {principal, key});
}

Result<std::optional<StoredVerification>> SqlcipherReportStore::latest_done(
    const std::string& principal, const std::string& household_key, std::int64_t since_unix) {
  return query_one(
      std::string("SELECT ") + kColumns +
          " FROM verifications WHERE principal = ? AND household_key = ? AND state = 'done'"
          " AND http_status = 200 AND superseded_by = '' AND created_unix >= ? ORDER BY created_unix DESC LIMIT 1;",
      {principal, household_key}, since_unix);
}

}  // namespace hfv::broker

namespace hfv::broker {

Result<std::int64_t> SqlcipherReportStore::purge_before(std::int64_t created_before_unix) {
  std::lock_guard lock(mutex_);
  auto counted = db_->prepare("SELECT count(*) FROM verifications WHERE state <> 'running' AND created_unix < ?;");
  if (!counted) return counted.error();
  counted->bind(1, created_before_unix);
  const std::int64_t n = counted->step() ? counted->column_int(0) : 0;
  if (n == 0) return n;
  if (auto s = db_->run("DELETE FROM verifications WHERE state <> 'running' AND created_unix < ?;",
                        {created_before_unix});
      !s) {
    return s.error();
  }
  // The archive follows its reports; a policy file stays while a report
  // names its version.
  if (auto s = db_->exec(
          "DELETE FROM verification_inputs WHERE id NOT IN (SELECT id FROM verifications);"
          "DELETE FROM policy_versions WHERE version NOT IN (SELECT policy_version FROM verification_inputs);");
      !s) {
    return s.error();
  }
  return n;
}

}  // namespace hfv::broker
