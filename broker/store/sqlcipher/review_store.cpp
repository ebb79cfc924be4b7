#include "broker/store/sqlcipher/review_store.hpp"

#include <nlohmann/json.hpp>

namespace hfv::broker {

using nlohmann::json;

namespace {

constexpr const char* kReviewColumns =
    "seq, verification_id, principal, case_id, jurisdiction, programme, area, reference_date, "
    "authorization_id,"
    " members, outcome, classification, income_pc_fen, assets_pc_fen, benefit_fen, real_estate, "
    "vehicles,"
    " businesses, failed_sources, review_months, review_category, next_review, batch_id, "
    "completed_unix,"
    " latency_ms, benefit_since, gradual_exit_until, obligors";

constexpr const char* kItemColumns =
    "idx, case_id, jurisdiction, request, state, attempt, verification_id, http_status, error, "
    "latency_ms,"
    " outcome, classification, severity, changes, failed_sources";

std::string list_text(const std::vector<std::string>& v) { return json(v).dump(); }

std::vector<std::string> list_of(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

void bind_optional(storage::Statement& s, int index, const std::optional<std::int64_t>& v) {
  if (v) {
    s.bind(index, *v);
  } else {
    s.bind_null(index);
  }
}

std::optional<std::int64_t> optional_int(const storage::Statement& s, int index) {
  if (s.column_is_null(index)) return std::nullopt;
  return s.column_int(index);
}

ReviewRecord review_from(const storage::Statement& s) {
  ReviewRecord r;
  r.seq = s.column_int(0);
  r.verification_id = s.column_text(1);
  r.principal = s.column_text(2);
  r.case_id = s.column_text(3);
  r.jurisdiction = s.column_text(4);
  r.programme = s.column_text(5);
  r.area = s.column_text(6);
  r.reference_date = s.column_text(7);
  r.authorization_id = s.column_text(8);
  r.members_json = s.column_text(9);
  r.outcome = s.column_text(10);
  r.classification = s.column_text(11);
  r.income_per_capita_fen = optional_int(s, 12);
  r.assets_per_capita_fen = optional_int(s, 13);
  r.benefit_fen = optional_int(s, 14);
  r.real_estate = list_of(s.column_text(15));
  r.vehicles = list_of(s.column_text(16));
  r.businesses = list_of(s.column_text(17));
  r.failed_sources = list_of(s.column_text(18));
  r.review_months = s.column_int(19);
  r.review_category = s.column_text(20);
  r.next_review = s.column_text(21);
  r.batch_id = s.column_text(22);
  r.completed_unix = s.column_int(23);
  r.latency_ms = optional_int(s, 24);
  r.benefit_since = s.column_text(25);
  r.gradual_exit_until = s.column_text(26);
  r.obligors_json = s.column_text(27);
  return r;
}

// Runs `body` inside one transaction; rolls back if it fails.
template <class F>
Status in_transaction(storage::SqlcipherDb& db, F body) {
  if (auto s = db.exec("BEGIN IMMEDIATE;"); !s) return s;
  Status result = body();
  if (!result) {
    (void)db.exec("ROLLBACK;");
    return result;
  }
  return db.exec("COMMIT;");
}

}  // namespace

Result<std::unique_ptr<SqlcipherReviewStore>> SqlcipherReviewStore::open(
    const std::filesystem::path& path, const crypto::SecretKey& key) {
  auto db = storage::SqlcipherDb::open(path, key, /*create=*/true);
  if (!db) return db.error();
  if (auto s = (*db)->exec(
          "CREATE TABLE IF NOT EXISTS reviews ("
          " seq INTEGER PRIMARY KEY AUTOINCREMENT, verification_id TEXT NOT NULL UNIQUE,"
          " principal TEXT NOT NULL, case_id TEXT NOT NULL, jurisdiction TEXT NOT NULL,"
          " programme TEXT NOT NULL, area TEXT NOT NULL, reference_date TEXT NOT NULL,"
          " authorization_id TEXT NOT NULL, members TEXT NOT NULL, outcome TEXT NOT NULL,"
          " classification TEXT NOT NULL, income_pc_fen INTEGER, assets_pc_fen INTEGER, "
          "benefit_fen INTEGER,"
          " real_estate TEXT NOT NULL, vehicles TEXT NOT NULL, businesses TEXT NOT NULL,"
          " failed_sources TEXT NOT NULL, review_months INTEGER NOT NULL, review_category TEXT NOT "
          "NULL,"
          " next_review TEXT NOT NULL, batch_id TEXT NOT NULL, completed_unix INTEGER NOT NULL,"
          " issued INTEGER NOT NULL DEFAULT 1, latency_ms INTEGER,"
          " benefit_since TEXT NOT NULL DEFAULT '', gradual_exit_until TEXT NOT NULL DEFAULT '',"
          " obligors TEXT NOT NULL DEFAULT '');"
          "CREATE INDEX IF NOT EXISTS reviews_household ON reviews(principal, jurisdiction, "
          "case_id, seq);"
          "CREATE TABLE IF NOT EXISTS batches ("
          " id TEXT PRIMARY KEY, principal TEXT NOT NULL, operator_id TEXT NOT NULL, mode TEXT NOT "
          "NULL,"
          " spec TEXT NOT NULL, state TEXT NOT NULL, total INTEGER NOT NULL, created_unix INTEGER "
          "NOT NULL,"
          " finished_unix INTEGER NOT NULL DEFAULT 0);"
          "CREATE TABLE IF NOT EXISTS batch_items ("
          " batch_id TEXT NOT NULL, idx INTEGER NOT NULL, case_id TEXT NOT NULL, jurisdiction TEXT "
          "NOT NULL,"
          " request TEXT NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,"
          " verification_id TEXT NOT NULL DEFAULT '', http_status INTEGER NOT NULL DEFAULT 0,"
          " error TEXT NOT NULL DEFAULT '', latency_ms INTEGER NOT NULL DEFAULT 0,"
          " outcome TEXT NOT NULL DEFAULT '', classification TEXT NOT NULL DEFAULT '',"
          " severity INTEGER NOT NULL DEFAULT 0, changes TEXT NOT NULL DEFAULT '[]',"
          " failed_sources TEXT NOT NULL DEFAULT '[]',"
          " PRIMARY KEY (batch_id, idx));");
      !s) {
    return s.error();
  }
  // Review databases made before records could be pending, or before the
  // latency, the current benefit or the obligors were kept, lack these columns.
  if (auto added = (*db)->add_column_if_missing("reviews", "issued", "INTEGER NOT NULL DEFAULT 1"); !added) {
    return added.error();
  }
  if (auto added = (*db)->add_column_if_missing("reviews", "latency_ms", "INTEGER"); !added)
    return added.error();
  for (const char* column : {"benefit_since", "gradual_exit_until", "obligors"}) {
    if (auto added = (*db)->add_column_if_missing("reviews", column, "TEXT NOT NULL DEFAULT ''"); !added) {
      return added.error();
    }
  }
  if (auto s =
          (*db)->exec("CREATE INDEX IF NOT EXISTS reviews_completed ON reviews(completed_unix);");
      !s) {
    return s.error();
  }
  if (auto s = (*db)->checkpoint_in_background(path, key); !s) return s.error();
  return std::unique_ptr<SqlcipherReviewStore>(new SqlcipherReviewStore(std::move(*db)));
}

Status SqlcipherReviewStore::record(const ReviewRecord& r) { return insert_review(r, true); }

Status SqlcipherReviewStore::record_pending(const ReviewRecord& r) {
  return insert_review(r, false);
}

Status SqlcipherReviewStore::mark_issued(const std::string& verification_id) {
  std::lock_guard lock(mutex_);
  return mark_issued_locked(verification_id);
}

Status SqlcipherReviewStore::mark_issued_locked(const std::string& verification_id) {
  return db_->run("UPDATE reviews SET issued = 1 WHERE verification_id = ?;", {verification_id});
}

BlockingCall<Status> SqlcipherReviewStore::start_record_pending(const WriteStart& at, ReviewRecord r) {
  return writes_->start(at, [this, r = std::move(r)] { return insert_review_locked(r, false); });
}

BlockingCall<Status> SqlcipherReviewStore::start_mark_issued(const WriteStart& at, std::string verification_id) {
  return writes_->start(at, [this, id = std::move(verification_id)] { return mark_issued_locked(id); });
}

Status SqlcipherReviewStore::drop_pending(const std::string& verification_id) {
  std::lock_guard lock(mutex_);
  return db_->run("DELETE FROM reviews WHERE verification_id = ? AND issued = 0;", {verification_id});
}

Result<std::vector<ReviewRecord>> SqlcipherReviewStore::pending() {
  return query_reviews("issued = 0 ORDER BY seq;", {}, {});
}

Status SqlcipherReviewStore::insert_review(const ReviewRecord& r, bool issued) {
  std::lock_guard lock(mutex_);
  return insert_review_locked(r, issued);
}

Status SqlcipherReviewStore::insert_review_locked(const ReviewRecord& r, bool issued) {
  auto stmt = db_->prepare(
      "INSERT OR IGNORE INTO reviews (verification_id, principal, case_id, jurisdiction, "
      "programme, area,"
      " reference_date, authorization_id, members, outcome, classification, income_pc_fen, "
      "assets_pc_fen,"
      " benefit_fen, real_estate, vehicles, businesses, failed_sources, review_months, "
      "review_category,"
      " next_review, batch_id, completed_unix, issued, latency_ms, benefit_since,"
      " gradual_exit_until, obligors)"
      " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?);");
  if (!stmt) return stmt.error();
  stmt->bind(1, r.verification_id).bind(2, r.principal).bind(3, r.case_id).bind(4, r.jurisdiction);
  stmt->bind(5, r.programme).bind(6, r.area).bind(7, r.reference_date).bind(8, r.authorization_id);
  stmt->bind(9, r.members_json).bind(10, r.outcome).bind(11, r.classification);
  bind_optional(*stmt, 12, r.income_per_capita_fen);
  bind_optional(*stmt, 13, r.assets_per_capita_fen);
  bind_optional(*stmt, 14, r.benefit_fen);
  stmt->bind(15, list_text(r.real_estate))
      .bind(16, list_text(r.vehicles))
      .bind(17, list_text(r.businesses));
  stmt->bind(18, list_text(r.failed_sources)).bind(19, r.review_months).bind(20, r.review_category);
  stmt->bind(21, r.next_review).bind(22, r.batch_id).bind(23, r.completed_unix);
  stmt->bind(24, std::int64_t{issued ? 1 : 0});
  bind_optional(*stmt, 25, r.latency_ms);
  stmt->bind(26, r.benefit_since).bind(27, r.gradual_exit_until).bind(28, r.obligors_json);
  stmt->step();
  return stmt->status();
}

Result<std::vector<ReviewRecord>> SqlcipherReviewStore::query_reviews(
    const std::string& where, std::initializer_list<std::string> text,
    std::initializer_list<std::int64_t> ints, bool with_members) {
  std::lock_guard lock(mutex_);
  std::string columns = kReviewColumns;
  if (!with_members) columns.replace(columns.find(" members,"), 9, " '',");
  auto stmt = db_->prepare("SELECT " + columns + " FROM reviews r WHERE " + where);
  if (!stmt) return stmt.error();
  int i = 1;
  for (const auto& t : text) stmt->bind(i++, t);
  for (const auto n : ints) stmt->bind(i++, n);
  std::vector<ReviewRecord> out;
  while (stmt->step()) out.push_back(review_from(*stmt));
  if (auto s = stmt->status(); !s) return s.error();
  return out;
}

Result<std::optional<ReviewRecord>> SqlcipherReviewStore::find(const std::string& verification_id) {
  auto rows = query_reviews("verification_id = ?;", {verification_id}, {});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<ReviewRecord>();
  return std::optional(std::move(rows->front()));
}

Result<std::optional<ReviewRecord>> SqlcipherReviewStore::issued_in_batch(
    const std::string& batch_id, const std::string& case_id) {
  auto rows =
      query_reviews("batch_id = ? AND case_id = ? AND issued = 1 ORDER BY seq DESC LIMIT 1;",
                    {batch_id, case_id}, {});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<ReviewRecord>();
  return std::optional(std::move(rows->front()));
}

Result<std::optional<ReviewRecord>> SqlcipherReviewStore::previous(const ReviewRecord& current) {
  auto rows = query_reviews(
      "issued = 1 AND principal = ? AND jurisdiction = ? AND case_id = ? AND seq < ? ORDER BY seq "
      "DESC LIMIT 1;",
      {current.principal, current.jurisdiction, current.case_id}, {current.seq});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<ReviewRecord>();
  return std::optional(std::move(rows->front()));
}

Result<std::vector<ReviewRecord>> SqlcipherReviewStore::due(
    const std::string& principal, const std::string& due_by,
    const std::vector<std::string>& jurisdictions) {
  auto rows = query_reviews(
      "principal = ? AND next_review != '' AND next_review <= ? AND seq = (SELECT MAX(seq) FROM "
      "reviews l"
      " WHERE l.issued = 1 AND l.principal = r.principal AND l.jurisdiction = r.jurisdiction"
      " AND l.case_id = r.case_id)"
      " ORDER BY jurisdiction, case_id;",
      {principal, due_by}, {});
  if (!rows) return rows.error();
  if (jurisdictions.empty()) return rows;
  std::vector<ReviewRecord> out;
  for (auto& r : *rows) {
    for (const auto& j : jurisdictions) {
      if (r.jurisdiction.starts_with(j)) {
        out.push_back(std::move(r));
        break;
      }
    }
  }
  return out;
}

Result<std::vector<ReviewRecord>> SqlcipherReviewStore::issued_between(
    std::int64_t from_unix, std::int64_t to_unix, const std::string& principal) {
  if (principal.empty()) {
    return query_reviews("issued = 1 AND completed_unix >= ? AND completed_unix < ? ORDER BY seq;",
                         {}, {from_unix, to_unix}, /*with_members=*/false);
  }
  return query_reviews(
      "principal = ? AND issued = 1 AND completed_unix >= ? AND completed_unix < ? ORDER BY seq;",
      {principal}, {from_unix, to_unix}, /*with_members=*/false);
}

Status SqlcipherReviewStore::create_batch(const BatchRow& batch,
                                          const std::vector<BatchItem>& items) {
  std::lock_guard lock(mutex_);
  return in_transaction(*db_, [&]() -> Status {
    auto b = db_->prepare(
        "INSERT INTO batches (id, principal, operator_id, mode, spec, state, total, created_unix)"
        " VALUES (?,?,?,?,?,?,?,?);");
    if (!b) return b.error();
    b->bind(1, batch.id).bind(2, batch.principal).bind(3, batch.operator_id).bind(4, mode_name(batch.mode));
    b->bind(5, batch.spec).bind(6, state_name(batch.state)).bind(7, batch.total).bind(8, batch.created_unix);
    b->step();
    if (auto s = b->status(); !s) return s;
    auto stmt = db_->prepare(
        "INSERT INTO batch_items (batch_id, idx, case_id, jurisdiction, request, state) VALUES "
        "(?,?,?,?,?,?);");
    if (!stmt) return stmt.error();
    for (const auto& item : items) {
      stmt->reset();
      stmt->bind(1, batch.id).bind(2, item.index).bind(3, item.case_id).bind(4, item.jurisdiction);
      stmt->bind(5, item.request_json).bind(6, state_name(item.state));
      stmt->step();
      if (auto s = stmt->status(); !s) return s;
    }
    return Status{};
  });
}

namespace {
Result<BatchRow> batch_from(const storage::Statement& s) {
  BatchRow b;
  const auto mode = parse_batch_mode(s.column_text(3));
  const auto state = parse_batch_state(s.column_text(5));
  if (!mode || !state) return make_error("corrupt_state", "a batch record cannot be read");
  b.id = s.column_text(0);
  b.principal = s.column_text(1);
  b.operator_id = s.column_text(2);
  b.mode = *mode;
  b.spec = s.column_text(4);
  b.state = *state;
  b.total = s.column_int(6);
  b.created_unix = s.column_int(7);
  b.finished_unix = s.column_int(8);
  return b;
}
constexpr const char* kBatchColumns =
    "id, principal, operator_id, mode, spec, state, total, created_unix, finished_unix";
}  // namespace

Result<std::optional<BatchRow>> SqlcipherReviewStore::find_batch(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(std::string("SELECT ") + kBatchColumns + " FROM batches WHERE id = ?;");
  if (!stmt) return stmt.error();
  stmt->bind(1, id);
  if (!stmt->step()) {
    if (auto s = stmt->status(); !s) return s.error();
    return std::optional<BatchRow>();
  }
  auto batch = batch_from(*stmt);
  if (!batch) return batch.error();
  return std::optional(std::move(*batch));
}

Result<std::vector<BatchRow>> SqlcipherReviewStore::batches_in_state(BatchState state) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(std::string("SELECT ") + kBatchColumns +
                           " FROM batches WHERE state = ? ORDER BY created_unix, id;");
  if (!stmt) return stmt.error();
  stmt->bind(1, state_name(state));
  std::vector<BatchRow> out;
  while (stmt->step()) {
    auto batch = batch_from(*stmt);
    if (!batch) return batch.error();
    out.push_back(std::move(*batch));
  }
  if (auto s = stmt->status(); !s) return s.error();
  return out;
}

Status SqlcipherReviewStore::set_batch_state(const std::string& id, BatchState state,
                                             std::int64_t finished_unix) {
  std::lock_guard lock(mutex_);
  return db_->run("UPDATE batches SET state = ?, finished_unix = ? WHERE id = ?;",
                  {state_name(state), finished_unix, id});
}

namespace {

// A batch item row read with kItemColumns.
Result<BatchItem> item_from(const storage::Statement& stmt) {
  BatchItem i;
  i.index = stmt.column_int(0);
  i.case_id = stmt.column_text(1);
  i.jurisdiction = stmt.column_text(2);
  i.request_json = stmt.column_text(3);
  const auto state = parse_item_state(stmt.column_text(4));
  if (!state) return make_error("corrupt_state", "a batch item cannot be read");
  i.state = *state;
  i.attempt = stmt.column_int(5);
  i.verification_id = stmt.column_text(6);
  i.http_status = stmt.column_int(7);
  i.error = stmt.column_text(8);
  i.latency_ms = stmt.column_int(9);
  i.outcome = stmt.column_text(10);
  i.classification = stmt.column_text(11);
  i.severity = stmt.column_int(12);
  i.changes_json = stmt.column_text(13);
  i.failed_sources = list_of(stmt.column_text(14));
  return i;
}

// Every row a statement selecting kItemColumns gives.
Result<std::vector<BatchItem>> items_of(storage::Statement& stmt) {
  std::vector<BatchItem> out;
  while (stmt.step()) {
    auto item = item_from(stmt);
    if (!item) return item.error();
    out.push_back(std::move(*item));
  }
  if (auto s = stmt.status(); !s) return s.error();
  return out;
}

}  // namespace

Result<std::vector<BatchItem>> SqlcipherReviewStore::items(const std::string& batch_id) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(std::string("SELECT ") + kItemColumns +
                           " FROM batch_items WHERE batch_id = ? ORDER BY idx;");
  if (!stmt) return stmt.error();
  stmt->bind(1, batch_id);
  return items_of(*stmt);
}

Result<std::vector<BatchItem>> SqlcipherReviewStore::claim_items(const std::string& batch_id, std::size_t limit,
                                                                 std::chrono::milliseconds /*lease*/) {
  std::lock_guard lock(mutex_);
  // One process owns this file: claims live in memory, in index order (a
  // claimed item is finished or the process stops), so the claims of a
  // batch are "every index up to the cursor".
  auto stmt = db_->prepare(std::string("SELECT ") + kItemColumns +
                           " FROM batch_items WHERE batch_id = ? AND state = 'pending' AND idx > ?"
                           " ORDER BY idx LIMIT ?;");
  if (!stmt) return stmt.error();
  auto cursor = claimed_up_to_.find(batch_id);
  stmt->bind(1, batch_id).bind(2, cursor == claimed_up_to_.end() ? std::int64_t{-1} : cursor->second);
  stmt->bind(3, static_cast<std::int64_t>(limit));
  auto out = items_of(*stmt);
  if (out && !out->empty()) claimed_up_to_[batch_id] = out->back().index;
  return out;
}

Status SqlcipherReviewStore::renew_claims(const std::string& /*batch_id*/, std::chrono::milliseconds /*lease*/) {
  return Status::success();  // claims end with the process, not with time
}

Status SqlcipherReviewStore::release_claims() {
  std::lock_guard lock(mutex_);
  claimed_up_to_.clear();
  return Status::success();
}

Result<ItemCounts> SqlcipherReviewStore::item_counts(const std::string& batch_id) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare("SELECT state, count(*) FROM batch_items WHERE batch_id = ? GROUP BY state;");
  if (!stmt) return stmt.error();
  stmt->bind(1, batch_id);
  std::vector<std::pair<std::string, std::int64_t>> rows;
  while (stmt->step()) rows.emplace_back(stmt->column_text(0), stmt->column_int(1));
  if (auto s = stmt->status(); !s) return s.error();
  return count_items(rows);
}

Result<bool> SqlcipherReviewStore::finish_batch(const std::string& id, BatchState state,
                                                std::int64_t finished_unix) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare("SELECT state FROM batches WHERE id = ?;");
  if (!stmt) return stmt.error();
  stmt->bind(1, id);
  if (!stmt->step()) {
    if (auto s = stmt->status(); !s) return s.error();
    return false;
  }
  if (stmt->column_text(0) != state_name(BatchState::kRunning)) return false;
  if (auto s = db_->run("UPDATE batches SET state = ?, finished_unix = ? WHERE id = ?;",
                        {state_name(state), finished_unix, id});
      !s) {
    return s.error();
  }
  return true;
}

Status SqlcipherReviewStore::update_items(const std::string& batch_id,
                                          const std::vector<BatchItem>& items) {
  std::lock_guard lock(mutex_);
  return in_transaction(*db_, [&]() -> Status {
    auto stmt = db_->prepare(
        "UPDATE batch_items SET state = ?, attempt = ?, verification_id = ?, http_status = ?, error = ?,"
        " latency_ms = ?, outcome = ?, classification = ?, severity = ?, changes = ?, failed_sources = ?"
        " WHERE batch_id = ? AND idx = ?;");
    if (!stmt) return stmt.error();
    for (const auto& i : items) {
      stmt->reset();
      stmt->bind(1, state_name(i.state)).bind(2, i.attempt).bind(3, i.verification_id).bind(4, i.http_status);
      stmt->bind(5, i.error).bind(6, i.latency_ms).bind(7, i.outcome).bind(8, i.classification);
      stmt->bind(9, i.severity).bind(10, i.changes_json).bind(11, list_text(i.failed_sources));
      stmt->bind(12, batch_id).bind(13, i.index);
      stmt->step();
      if (auto s = stmt->status(); !s) return s;
    }
    return Status{};
  });
}

Status SqlcipherReviewStore::cancel_pending(const std::string& batch_id) {
  std::lock_guard lock(mutex_);
  return db_->run("UPDATE batch_items SET state = 'cancelled' WHERE batch_id = ? AND state = 'pending';",
                  {batch_id});
}

}  // namespace hfv::broker

namespace hfv::broker {

Result<PurgeCounts> SqlcipherReviewStore::purge_before(std::int64_t before_unix) {
  std::lock_guard lock(mutex_);
  PurgeCounts out;
  auto count = [&](const char* sql, std::int64_t& n) -> Status {
    auto stmt = db_->prepare(sql);
    if (!stmt) return stmt.error();
    stmt->bind(1, before_unix);
    n = stmt->step() ? stmt->column_int(0) : 0;
    return {};
  };
  if (auto s = count("SELECT count(*) FROM reviews WHERE completed_unix < ?;", out.reviews); !s) return s.error();
  if (auto s = count("SELECT count(*) FROM batches WHERE state IN ('done','cancelled') AND finished_unix > 0"
                     " AND finished_unix < ?;",
                     out.batches);
      !s) {
    return s.error();
  }
  if (out.reviews > 0) {
    if (auto s = db_->run("DELETE FROM reviews WHERE completed_unix < ?;", {before_unix}); !s) return s.error();
  }
  if (out.batches > 0) {
    if (auto s = db_->run("DELETE FROM batch_items WHERE batch_id IN (SELECT id FROM batches WHERE state IN"
                          " ('done','cancelled') AND finished_unix > 0 AND finished_unix < ?);",
                          {before_unix});
        !s) {
      return s.error();
    }
    if (auto s = db_->run("DELETE FROM batches WHERE state IN ('done','cancelled') AND finished_unix > 0"
                          " AND finished_unix < ?;",
                          {before_unix});
        !s) {
      return s.error();
    }
  }
  return out;
}

}  // namespace hfv::broker
