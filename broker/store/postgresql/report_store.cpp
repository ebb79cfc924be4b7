#include "broker/store/postgresql/report_store.hpp"

#include "broker/store/postgresql/schema.hpp"
#include "common/time.hpp"

namespace hfv::broker {

namespace {

constexpr const char* kColumns =
    "id, principal, idempotency_key, request_sha256, household_key, state, http_status, response,"
    " created_unix, superseded_by";

// The sealed body's associated data: the table and the row.
std::string context(const std::string& id) { return "verifications/" + id; }
std::string inputs_context(const std::string& id) { return "verification_inputs/" + id; }

}  // namespace

Result<std::unique_ptr<PostgresqlReportStore>> PostgresqlReportStore::open(const std::string& conninfo,
                                                                           const crypto::SecretKey& key,
                                                                           const std::string& node) {
  auto db = storage::PostgresqlDb::connect(conninfo);
  if (!db) return db.error();
  if (auto s = pg::migrate(**db); !s) return s.error();
  if (auto s = (*db)->run("UPDATE verifications SET state = 'interrupted' WHERE state = 'running' AND node = $1",
                          {node});
      !s) {
    return s.error();
  }
  return std::unique_ptr<PostgresqlReportStore>(new PostgresqlReportStore(std::move(*db), key, node));
}

Status PostgresqlReportStore::insert_running(const StoredVerification& v) {
  std::lock_guard lock(mutex_);
  return db_->run(
      "INSERT INTO verifications (id, node, principal, idempotency_key, request_sha256, household_key,"
      " state, created_unix) VALUES ($1,$2,$3,$4,$5,$6,'running',$7)",
      {v.id, node_, v.principal, v.idempotency_key, v.request_sha256, v.household_key,
       std::to_string(v.created_unix)});
}

Status PostgresqlReportStore::finish(const std::string& id, long http_status, const std::string& response) {
  const std::string sealed = pg::seal_column(key_, response, context(id));
  std::lock_guard lock(mutex_);
  return db_->run(
      "UPDATE verifications SET state = 'done', http_status = $2, response = $3, completed_at = $4"
      " WHERE id = $1",
      {id, std::to_string(http_status), sealed, utc_timestamp_now()});
}

Status PostgresqlReportStore::issue_locked(const std::string& id, const std::string& sealed,
                                           const std::string& sealed_inputs, const ArchivedInputs& inputs) {
  // The policy file goes over the wire once per version: most reports name
  // a version that is kept already. FOR KEY SHARE holds the row against
  // another node's retention purge until this commits; two nodes adding the
  // same new version meet at ON CONFLICT.
  auto kept = db_->query("SELECT 1 FROM policy_versions WHERE version = $1 FOR KEY SHARE", {inputs.policy_version});
  if (!kept) return kept.error();
  if (kept->empty()) {
    if (auto s = db_->run("INSERT INTO policy_versions (version, jurisdiction, content) VALUES ($1,$2,$3)"
                          " ON CONFLICT (version) DO NOTHING",
                          {inputs.policy_version, inputs.policy_jurisdiction, inputs.policy_content});
        !s) {
      return s;
    }
  }
  if (auto s = db_->run("INSERT INTO verification_inputs (id, inputs, inputs_sha256, policy_version)"
                        " VALUES ($1,$2,$3,$4)",
                        {id, sealed_inputs, inputs.sha256, inputs.policy_version});
      !s) {
    return s;
  }
  return db_->run(
      "UPDATE verifications SET state = 'done', http_status = 200, response = $2, completed_at = $3"
      " WHERE id = $1",
      {id, sealed, utc_timestamp_now()});
}

Status PostgresqlReportStore::finish_issued(const std::string& id, const std::string& report,
                                            const ArchivedInputs& inputs) {
  const std::string sealed = pg::seal_column(key_, report, context(id));
  const std::string sealed_inputs = pg::seal_column(key_, inputs.text, inputs_context(id));
  std::lock_guard lock(mutex_);
  return storage::transaction(*db_, [&]() -> Status { return issue_locked(id, sealed, sealed_inputs, inputs); });
}

Status PostgresqlReportStore::finish_appeal(const std::string& id, const std::string& report,
                                            const ArchivedInputs& inputs, const std::string& supersedes) {
  const std::string sealed = pg::seal_column(key_, report, context(id));
  const std::string sealed_inputs = pg::seal_column(key_, inputs.text, inputs_context(id));
  std::lock_guard lock(mutex_);
  // The mark first, conditional on no other: a concurrent appeal on another
  // node waits on the row lock and then finds it marked (its transaction
  // changes nothing). A failure anywhere rolls back both.
  return storage::transaction(*db_, [&]() -> Status {
    auto marked = db_->query(
        "UPDATE verifications SET superseded_by = $1 WHERE id = $2 AND superseded_by = '' RETURNING id",
        {id, supersedes});
    if (!marked) return marked.error();
    if (marked->empty()) return make_error("already_superseded", "the appealed report is superseded already");
    return issue_locked(id, sealed, sealed_inputs, inputs);
  });
}

Result<std::optional<ArchivedVerification>> PostgresqlReportStore::find_archived(const std::string& id) {
  bool report_unopenable = false;
  auto found = query_one("id = $1", {id}, &report_unopenable);
  if (!found) return found.error();
  if (!*found) return std::optional<ArchivedVerification>();
  ArchivedVerification out;
  out.verification = std::move(**found);
  out.report_unopenable = report_unopenable;
  std::lock_guard lock(mutex_);
  auto rows = db_->query(
      "SELECT i.inputs, i.inputs_sha256, i.policy_version, coalesce(p.jurisdiction, ''), coalesce(p.content, '')"
      " FROM verification_inputs i LEFT JOIN policy_versions p ON p.version = i.policy_version WHERE i.id = $1",
      {id});
  if (!rows) return rows.error();
  if (!rows->empty()) {
    const storage::PgRow& row = rows->front();
    for (const auto& column : row) {
      if (!column) return make_error("corrupt_state", "an archived input cannot be read");
    }
    auto text = pg::open_column(key_, *row[0], inputs_context(id));
    if (text) {
      out.inputs.text = std::move(*text);
    } else {
      out.inputs_unopenable = true;
    }
    out.inputs.sha256 = *row[1];
    out.inputs.policy_version = *row[2];
    out.inputs.policy_jurisdiction = *row[3];
    out.inputs.policy_content = *row[4];
  }
  return std::optional(std::move(out));
}

Result<std::vector<ArchivedVerification>> PostgresqlReportStore::archived_page(std::int64_t from_unix,
                                                                               std::int64_t to_unix,
                                                                               const std::string& after_id,
                                                                               std::size_t limit) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query(
      "SELECT v.id, v.principal, v.idempotency_key, v.request_sha256, v.household_key, v.http_status,"
      " v.response, v.created_unix, i.inputs, i.inputs_sha256, i.policy_version"
      " FROM verifications v JOIN verification_inputs i ON i.id = v.id"
      " WHERE v.id > $1 AND v.state = 'done' AND v.http_status = 200 AND v.created_unix >= $2"
      " AND v.created_unix < $3 ORDER BY v.id LIMIT $4",
      {after_id, std::to_string(from_unix), std::to_string(to_unix), std::to_string(limit)});
  if (!rows) return rows.error();
  std::vector<ArchivedVerification> out;
  out.reserve(rows->size());
  for (const storage::PgRow& row : *rows) {
    for (const auto& column : row) {
      if (!column) return make_error("corrupt_state", "an archived decision cannot be read");
    }
    ArchivedVerification a;
    a.verification.id = *row[0];
    a.verification.principal = *row[1];
    a.verification.idempotency_key = *row[2];
    a.verification.request_sha256 = *row[3];
    a.verification.household_key = *row[4];
    a.verification.state = VerificationState::kDone;
    a.verification.http_status = std::stol(*row[5]);
    if (auto body = pg::open_column(key_, *row[6], context(a.verification.id))) {
      a.verification.response = std::move(*body);
    } else {
      a.report_unopenable = true;  // counted as tampered, the page goes on
    }
    a.verification.created_unix = std::stoll(*row[7]);
    auto text = pg::open_column(key_, *row[8], inputs_context(a.verification.id));
    if (text) {
      a.inputs.text = std::move(*text);
    } else {
      a.inputs_unopenable = true;
    }
    a.inputs.sha256 = *row[9];
    a.inputs.policy_version = *row[10];
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::int64_t> PostgresqlReportStore::count_archived(std::int64_t from_unix, std::int64_t to_unix) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query(
      "SELECT count(*) FROM verifications v JOIN verification_inputs i ON i.id = v.id"
      " WHERE v.state = 'done' AND v.http_status = 200 AND v.created_unix >= $1 AND v.created_unix < $2",
      {std::to_string(from_unix), std::to_string(to_unix)});
  if (!rows) return rows.error();
  if (rows->empty() || !rows->front()[0]) return make_error("corrupt_state", "archived decisions cannot be counted");
  return std::stoll(*rows->front()[0]);
}

Status PostgresqlReportStore::cancel(const std::string& id) {
  std::lock_guard lock(mutex_);
  return db_->run(
      "UPDATE verifications SET state = 'cancelled', idempotency_key = '', completed_at = $2 WHERE id = $1",
      {id, utc_timestamp_now()});
}

Status PostgresqlReportStore::interrupt(const std::string& id) {
  std::lock_guard lock(mutex_);
  return db_->run("UPDATE verifications SET state = 'interrupted' WHERE id = $1 AND state = 'running'", {id});
}

Result<std::optional<StoredVerification>> PostgresqlReportStore::query_one(
    const std::string& where, const std::vector<storage::PgValue>& params, bool* report_unopenable) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query(std::string("SELECT ") + kColumns + " FROM verifications WHERE " + where, params);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<StoredVerification>();
  const storage::PgRow& row = rows->front();
  for (const auto& column : row) {
    if (!column) return make_error("corrupt_state", "a verification record cannot be read");
  }
  const auto state = parse_verification_state(*row[5]);
  if (!state) return make_error("corrupt_state", "a verification record cannot be read");
  StoredVerification v;
  v.id = *row[0];
  v.principal = *row[1];
  v.idempotency_key = *row[2];
  v.request_sha256 = *row[3];
  v.household_key = *row[4];
  v.state = *state;
  v.http_status = std::stol(*row[6]);
  if (!row[7]->empty()) {
    auto body = pg::open_column(key_, *row[7], context(v.id));
    if (body) {
      v.response = std::move(*body);
    } else if (report_unopenable != nullptr) {
      *report_unopenable = true;
    } else {
      return body.error();
    }
  }
  v.created_unix = std::stoll(*row[8]);
  v.superseded_by = *row[9];
  return std::optional(std::move(v));
}

Result<std::optional<StoredVerification>> PostgresqlReportStore::find(const std::string& id,
                                                                      const std::string& principal) {
  return query_one("id = $1 AND principal = $2", {id, principal});
}

Result<std::optional<StoredVerification>> PostgresqlReportStore::find_by_key(const std::string& principal,
                                                                             const std::string& key) {
  return query_one("principal = $1 AND idempotency_key = $2 AND idempotency_key != ''", {principal, key});
}

Result<std::optional<StoredVerification>> PostgresqlReportStore::latest_done(const std::string& principal,
                                                                             const std::string& household_key,
                                                                             std::int64_t since_unix) {
  return query_one(
      "principal = $1 AND household_key = $2 AND state = 'done' AND http_status = 200 AND superseded_by = ''"
      " AND created_unix >= $3 ORDER BY created_unix DESC LIMIT 1",
      {principal, household_key, std::to_string(since_unix)});
}

}  // namespace hfv::broker

namespace hfv::broker {

Result<std::int64_t> PostgresqlReportStore::purge_before(std::int64_t created_before_unix) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query(
      "WITH d AS (DELETE FROM verifications WHERE state <> 'running' AND created_unix < $1 RETURNING 1)"
      " SELECT count(*) FROM d",
      {std::to_string(created_before_unix)});
  if (!rows) return rows.error();
  if (rows->empty() || !rows->front()[0]) return std::int64_t{0};
  const std::int64_t n = std::stoll(*rows->front()[0]);
  // The archive follows its reports; a policy file stays while a report
  // names its version.
  if (auto s = db_->exec(
          "DELETE FROM verification_inputs i WHERE NOT EXISTS (SELECT 1 FROM verifications v WHERE v.id = i.id);"
          "DELETE FROM policy_versions p WHERE NOT EXISTS"
          " (SELECT 1 FROM verification_inputs i WHERE i.policy_version = p.version);");
      !s) {
    return s.error();
  }
  return n;
}

}  // namespace hfv::broker
