#include "broker/store/postgresql/review_store.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "broker/store/postgresql/schema.hpp"

namespace hfv::broker {

using nlohmann::json;

namespace {

constexpr const char* kReviewColumns =
    "seq, verification_id, principal, case_id, jurisdiction, next_review, batch_id, completed_unix, payload";
constexpr const char* kItemColumns = "idx, case_id, jurisdiction, request, state, attempt, verification_id, result";
constexpr const char* kBatchColumns =
    "id, principal, operator_id, mode, spec, state, total, created_unix, finished_unix";

std::string review_context(const std::string& verification_id) { return "reviews/" + verification_id; }
std::string item_context(const std::string& batch_id, std::int64_t index, const char* column) {
  return "batch_items/" + batch_id + "/" + std::to_string(index) + "/" + column;
}

json optional_json(const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); }
std::optional<std::int64_t> optional_of(const json& j) {
  return j.is_number_integer() ? std::optional(j.get<std::int64_t>()) : std::nullopt;
}

// The sealed part of a review record: every field the store does not
// search by.
json review_payload(const ReviewRecord& r) {
  return {{"programme", r.programme},
          {"area", r.area},
          {"reference_date", r.reference_date},
          {"authorization_id", r.authorization_id},
          {"members", r.members_json},
          {"outcome", r.outcome},
          {"classification", r.classification},
          {"income_pc_fen", optional_json(r.income_per_capita_fen)},
          {"assets_pc_fen", optional_json(r.assets_per_capita_fen)},
          {"benefit_fen", optional_json(r.benefit_fen)},
          {"real_estate", r.real_estate},
          {"vehicles", r.vehicles},
          {"businesses", r.businesses},
          {"failed_sources", r.failed_sources},
          {"review_months", r.review_months},
          {"review_category", r.review_category},
          {"latency_ms", optional_json(r.latency_ms)},
          {"benefit_since", r.benefit_since},
          {"gradual_exit_until", r.gradual_exit_until},
          {"obligors", r.obligors_json}};
}

Result<ReviewRecord> review_from(const storage::PgRow& row, const crypto::SecretKey& key, bool with_members) {
  for (const auto& column : row) {
    if (!column) return make_error("corrupt_state", "a review record cannot be read");
  }
  ReviewRecord r;
  r.seq = std::stoll(*row[0]);
  r.verification_id = *row[1];
  r.principal = *row[2];
  r.case_id = *row[3];
  r.jurisdiction = *row[4];
  r.next_review = *row[5];
  r.batch_id = *row[6];
  r.completed_unix = std::stoll(*row[7]);
  auto text = pg::open_column(key, *row[8], review_context(r.verification_id));
  if (!text) return text.error();
  const json p = json::parse(*text, nullptr, false);
  if (!p.is_object()) return make_error("corrupt_state", "a review record cannot be read");
  try {
    r.programme = p.at("programme").get<std::string>();
    r.area = p.at("area").get<std::string>();
    r.reference_date = p.at("reference_date").get<std::string>();
    r.authorization_id = p.at("authorization_id").get<std::string>();
    if (with_members) r.members_json = p.at("members").get<std::string>();
    r.outcome = p.at("outcome").get<std::string>();
    r.classification = p.at("classification").get<std::string>();
    r.income_per_capita_fen = optional_of(p.at("income_pc_fen"));
    r.assets_per_capita_fen = optional_of(p.at("assets_pc_fen"));
    r.benefit_fen = optional_of(p.at("benefit_fen"));
    r.real_estate = p.at("real_estate").get<std::vector<std::string>>();
    r.vehicles = p.at("vehicles").get<std::vector<std::string>>();
    r.businesses = p.at("businesses").get<std::vector<std::string>>();
    r.failed_sources = p.at("failed_sources").get<std::vector<std::string>>();
    r.review_months = p.at("review_months").get<std::int64_t>();
    r.review_category = p.at("review_category").get<std::string>();
    r.latency_ms = optional_of(p.at("latency_ms"));
    r.benefit_since = p.at("benefit_since").get<std::string>();
    r.gradual_exit_until = p.at("gradual_exit_until").get<std::string>();
    r.obligors_json = p.at("obligors").get<std::string>();
  } catch (const json::exception&) {
    return make_error("corrupt_state", "a review record cannot be read");
  }
  return r;
}

// A batch item's sealed result: what verifying it found.
json item_result(const BatchItem& i) {
  return {{"http_status", i.http_status}, {"error", i.error},
          {"latency_ms", i.latency_ms},   {"outcome", i.outcome},
          {"classification", i.classification}, {"severity", i.severity},
          {"changes", i.changes_json},    {"failed_sources", i.failed_sources}};
}

}  // namespace

Result<std::unique_ptr<PostgresqlReviewStore>> PostgresqlReviewStore::open(const std::string& conninfo,
                                                                           const crypto::SecretKey& key,
                                                                           const std::string& node) {
  auto db = storage::PostgresqlDb::connect(conninfo);
  if (!db) return db.error();
  if (auto s = pg::migrate(**db); !s) return s.error();
  std::unique_ptr<PostgresqlReviewStore> store(new PostgresqlReviewStore(std::move(*db), key, node));
  // Claims a previous process of this node held end with it: the others
  // need not wait for their leases.
  if (auto s = store->release_claims(); !s) return s.error();
  return store;
}

Status PostgresqlReviewStore::record(const ReviewRecord& r) { return insert_review(r, true); }
Status PostgresqlReviewStore::record_pending(const ReviewRecord& r) { return insert_review(r, false); }

Status PostgresqlReviewStore::insert_review(const ReviewRecord& r, bool issued) {
  const std::string payload = pg::seal_column(key_, review_payload(r).dump(), review_context(r.verification_id));
  std::lock_guard lock(mutex_);
  // A record already written for this verification stays (as on SQLCipher).
  return db_->run(
      "INSERT INTO reviews (verification_id, principal, case_id, jurisdiction, next_review, batch_id,"
      " completed_unix, issued, payload, node) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
      " ON CONFLICT (verification_id) DO NOTHING",
      {r.verification_id, r.principal, r.case_id, r.jurisdiction, r.next_review, r.batch_id,
       std::to_string(r.completed_unix), issued ? "true" : "false", payload, node_});
}

Status PostgresqlReviewStore::mark_issued(const std::string& verification_id) {
  std::lock_guard lock(mutex_);
  return db_->run("UPDATE reviews SET issued = true WHERE verification_id = $1", {verification_id});
}

Status PostgresqlReviewStore::drop_pending(const std::string& verification_id) {
  std::lock_guard lock(mutex_);
  return db_->run("DELETE FROM reviews WHERE verification_id = $1 AND NOT issued", {verification_id});
}

Result<std::vector<ReviewRecord>> PostgresqlReviewStore::query_reviews(
    const std::string& where, const std::vector<storage::PgValue>& params, bool with_members) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query(std::string("SELECT ") + kReviewColumns + " FROM reviews r WHERE " + where, params);
  if (!rows) return rows.error();
  std::vector<ReviewRecord> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) {
    auto r = review_from(row, key_, with_members);
    if (!r) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

namespace {
Result<std::optional<ReviewRecord>> first_of(Result<std::vector<ReviewRecord>> rows) {
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<ReviewRecord>();
  return std::optional(std::move(rows->front()));
}
}  // namespace

Result<std::vector<ReviewRecord>> PostgresqlReviewStore::pending() {
  return query_reviews("NOT issued AND node = $1 ORDER BY seq", {node_});
}

Result<std::optional<ReviewRecord>> PostgresqlReviewStore::find(const std::string& verification_id) {
  return first_of(query_reviews("verification_id = $1", {verification_id}));
}

Result<std::optional<ReviewRecord>> PostgresqlReviewStore::issued_in_batch(const std::string& batch_id,
                                                                           const std::string& case_id) {
  return first_of(
      query_reviews("batch_id = $1 AND case_id = $2 AND issued ORDER BY seq DESC LIMIT 1", {batch_id, case_id}));
}

Result<std::optional<ReviewRecord>> PostgresqlReviewStore::previous(const ReviewRecord& current) {
  return first_of(query_reviews(
      "issued AND principal = $1 AND jurisdiction = $2 AND case_id = $3 AND seq < $4 ORDER BY seq DESC LIMIT 1",
      {current.principal, current.jurisdiction, current.case_id, std::to_string(current.seq)}));
}

Result<std::vector<ReviewRecord>> PostgresqlReviewStore::due(const std::string& principal,
                                                             const std::string& due_by,
                                                             const std::vector<std::string>& jurisdictions) {
  // The latest issued record of each household, due on or before due_by, in
  // the jurisdictions given (a prefix: a city covers its districts).
  json prefixes = json::array();
  for (const auto& j : jurisdictions) prefixes.push_back(j);
  return query_reviews(
      "principal = $1 AND next_review != '' AND next_review <= $2 AND seq = (SELECT max(seq) FROM reviews l"
      " WHERE l.issued AND l.principal = r.principal AND l.jurisdiction = r.jurisdiction AND l.case_id = r.case_id)"
      " AND (jsonb_array_length($3::jsonb) = 0 OR EXISTS (SELECT 1 FROM jsonb_array_elements_text($3::jsonb) p"
      " WHERE starts_with(r.jurisdiction, p))) ORDER BY jurisdiction, case_id",
      {principal, due_by, prefixes.dump()});
}

Result<std::vector<ReviewRecord>> PostgresqlReviewStore::issued_between(std::int64_t from_unix,
                                                                        std::int64_t to_unix,
                                                                        const std::string& principal) {
  return query_reviews(
      "issued AND completed_unix >= $1 AND completed_unix < $2 AND ($3 = '' OR principal = $3) ORDER BY seq",
      {std::to_string(from_unix), std::to_string(to_unix), principal}, /*with_members=*/false);
}

Status PostgresqlReviewStore::create_batch(const BatchRow& batch, const std::vector<BatchItem>& items) {
  std::vector<std::string> requests;
  requests.reserve(items.size());
  for (const auto& item : items) {
    requests.push_back(pg::seal_column(key_, item.request_json, item_context(batch.id, item.index, "request")));
  }
  std::lock_guard lock(mutex_);
  return storage::transaction(*db_, [&]() -> Status {
    if (auto s = db_->run("INSERT INTO batches (id, principal, operator_id, mode, spec, state, total, created_unix)"
                          " VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                          {batch.id, batch.principal, batch.operator_id, std::string(mode_name(batch.mode)),
                           batch.spec, std::string(state_name(batch.state)), std::to_string(batch.total),
                           std::to_string(batch.created_unix)});
        !s) {
      return s;
    }
    for (std::size_t n = 0; n < items.size(); ++n) {
      const auto& item = items[n];
      if (auto s = db_->run("INSERT INTO batch_items (batch_id, idx, case_id, jurisdiction, request, state)"
                            " VALUES ($1,$2,$3,$4,$5,$6)",
                            {batch.id, std::to_string(item.index), item.case_id, item.jurisdiction, requests[n],
                             std::string(state_name(item.state))});
          !s) {
        return s;
      }
    }
    return Status::success();
  });
}

Result<std::vector<BatchRow>> PostgresqlReviewStore::query_batches(const std::string& where,
                                                                   const std::vector<storage::PgValue>& params) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query(std::string("SELECT ") + kBatchColumns + " FROM batches WHERE " + where, params);
  if (!rows) return rows.error();
  std::vector<BatchRow> out;
  for (const auto& row : *rows) {
    for (const auto& column : row) {
      if (!column) return make_error("corrupt_state", "a batch record cannot be read");
    }
    const auto mode = parse_batch_mode(*row[3]);
    const auto state = parse_batch_state(*row[5]);
    if (!mode || !state) return make_error("corrupt_state", "a batch record cannot be read");
    out.push_back(BatchRow{*row[0], *row[1], *row[2], *mode, *row[4], *state, std::stoll(*row[6]),
                           std::stoll(*row[7]), std::stoll(*row[8])});
  }
  return out;
}

Result<std::optional<BatchRow>> PostgresqlReviewStore::find_batch(const std::string& id) {
  auto rows = query_batches("id = $1", {id});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<BatchRow>();
  return std::optional(std::move(rows->front()));
}

Result<std::vector<BatchRow>> PostgresqlReviewStore::batches_in_state(BatchState state) {
  return query_batches("state = $1 ORDER BY created_unix, id", {std::string(state_name(state))});
}

Status PostgresqlReviewStore::set_batch_state(const std::string& id, BatchState state, std::int64_t finished_unix) {
  std::lock_guard lock(mutex_);
  return db_->run("UPDATE batches SET state = $2, finished_unix = $3 WHERE id = $1",
                  {id, std::string(state_name(state)), std::to_string(finished_unix)});
}

Result<BatchItem> PostgresqlReviewStore::item_from(const std::string& batch_id, const storage::PgRow& row) const {
  for (std::size_t c = 0; c < 7; ++c) {
    if (!row[c]) return make_error("corrupt_state", "a batch item cannot be read");
  }
  BatchItem i;
  i.index = std::stoll(*row[0]);
  i.case_id = *row[1];
  i.jurisdiction = *row[2];
  auto request = pg::open_column(key_, *row[3], item_context(batch_id, i.index, "request"));
  if (!request) return request.error();
  i.request_json = std::move(*request);
  const auto state = parse_item_state(*row[4]);
  if (!state) return make_error("corrupt_state", "a batch item cannot be read");
  i.state = *state;
  i.attempt = std::stoll(*row[5]);
  i.verification_id = *row[6];
  if (row[7]) {  // written once the item was verified (or failed)
    auto text = pg::open_column(key_, *row[7], item_context(batch_id, i.index, "result"));
    if (!text) return text.error();
    const json r = json::parse(*text, nullptr, false);
    try {
      i.http_status = r.at("http_status").get<std::int64_t>();
      i.error = r.at("error").get<std::string>();
      i.latency_ms = r.at("latency_ms").get<std::int64_t>();
      i.outcome = r.at("outcome").get<std::string>();
      i.classification = r.at("classification").get<std::string>();
      i.severity = r.at("severity").get<std::int64_t>();
      i.changes_json = r.at("changes").get<std::string>();
      i.failed_sources = r.at("failed_sources").get<std::vector<std::string>>();
    } catch (const json::exception&) {
      return make_error("corrupt_state", "a batch item cannot be read");
    }
  }
  return i;
}

Result<std::vector<BatchItem>> PostgresqlReviewStore::items_from(const std::string& batch_id,
                                                                 const storage::PgRows& rows) const {
  std::vector<BatchItem> out;
  for (const auto& row : rows) {
    auto item = item_from(batch_id, row);
    if (!item) return item.error();
    out.push_back(std::move(*item));
  }
  return out;
}

Result<std::vector<BatchItem>> PostgresqlReviewStore::items(const std::string& batch_id) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query(std::string("SELECT ") + kItemColumns + " FROM batch_items WHERE batch_id = $1 ORDER BY idx",
                         {batch_id});
  if (!rows) return rows.error();
  return items_from(batch_id, *rows);
}

Status PostgresqlReviewStore::update_items(const std::string& batch_id, const std::vector<BatchItem>& items) {
  std::vector<std::string> results;
  results.reserve(items.size());
  for (const auto& i : items) {
    results.push_back(pg::seal_column(key_, item_result(i).dump(), item_context(batch_id, i.index, "result")));
  }
  std::lock_guard lock(mutex_);
  return storage::transaction(*db_, [&]() -> Status {
    for (std::size_t n = 0; n < items.size(); ++n) {
      const auto& i = items[n];
      // Only the item's holder writes its outcome: a node whose lease ran
      // out and whose item another node took over writes nothing.
      if (auto s = db_->run("UPDATE batch_items SET state = $3, attempt = $4, verification_id = $5, result = $6"
                            " WHERE batch_id = $1 AND idx = $2 AND owner = $7",
                            {batch_id, std::to_string(i.index), std::string(state_name(i.state)),
                             std::to_string(i.attempt), i.verification_id, results[n], node_});
          !s) {
        return s;
      }
    }
    return Status::success();
  });
}

Status PostgresqlReviewStore::cancel_pending(const std::string& batch_id) {
  std::lock_guard lock(mutex_);
  return db_->run("UPDATE batch_items SET state = 'cancelled' WHERE batch_id = $1 AND state = 'pending'", {batch_id});
}

Result<bool> PostgresqlReviewStore::finish_batch(const std::string& id, BatchState state,
                                                 std::int64_t finished_unix) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query("UPDATE batches SET state = $2, finished_unix = $3 WHERE id = $1 AND state = 'running'"
                         " RETURNING id",
                         {id, std::string(state_name(state)), std::to_string(finished_unix)});
  if (!rows) return rows.error();
  return !rows->empty();
}

namespace {

// Now on the database's clock, in milliseconds since 1970: every node's
// leases are measured on one clock.
constexpr const char* kNowMs = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

}  // namespace

Result<std::vector<BatchItem>> PostgresqlReviewStore::claim_items(const std::string& batch_id, std::size_t limit,
                                                                  std::chrono::milliseconds lease) {
  std::lock_guard lock(mutex_);
  // SKIP LOCKED: two nodes claiming at once take different items instead
  // of waiting for each other.
  auto rows = db_->query(
      std::string("UPDATE batch_items SET owner = $2, lease_until = ") + kNowMs +
          " + $3 WHERE (batch_id, idx) IN (SELECT batch_id, idx FROM batch_items WHERE batch_id = $1"
          " AND state = 'pending' AND (owner = '' OR lease_until < " + kNowMs +
          ") ORDER BY idx LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING " + kItemColumns,
      {batch_id, node_, std::to_string(lease.count()), std::to_string(limit)});
  if (!rows) return rows.error();
  auto items = items_from(batch_id, *rows);
  if (!items) return items.error();
  std::sort(items->begin(), items->end(), [](const BatchItem& a, const BatchItem& b) { return a.index < b.index; });
  return items;
}

Status PostgresqlReviewStore::renew_claims(const std::string& batch_id, std::chrono::milliseconds lease) {
  std::lock_guard lock(mutex_);
  return db_->run(std::string("UPDATE batch_items SET lease_until = ") + kNowMs +
                      " + $3 WHERE batch_id = $1 AND owner = $2 AND state = 'pending'",
                  {batch_id, node_, std::to_string(lease.count())});
}

Status PostgresqlReviewStore::release_claims() {
  std::lock_guard lock(mutex_);
  return db_->run("UPDATE batch_items SET owner = '', lease_until = 0 WHERE owner = $1 AND state = 'pending'",
                  {node_});
}

Result<ItemCounts> PostgresqlReviewStore::item_counts(const std::string& batch_id) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query("SELECT state, count(*) FROM batch_items WHERE batch_id = $1 GROUP BY state", {batch_id});
  if (!rows) return rows.error();
  std::vector<std::pair<std::string, std::int64_t>> counted;
  for (const auto& row : *rows) {
    if (!row[0] || !row[1]) return make_error("corrupt_state", "batch items cannot be counted");
    counted.emplace_back(*row[0], std::stoll(*row[1]));
  }
  return count_items(counted);
}

}  // namespace hfv::broker

namespace hfv::broker {

Result<PurgeCounts> PostgresqlReviewStore::purge_before(std::int64_t before_unix) {
  std::lock_guard lock(mutex_);
  const std::vector<storage::PgValue> params = {std::to_string(before_unix)};
  auto count_of = [](const Result<storage::PgRows>& rows) -> std::int64_t {
    return rows->empty() || !rows->front()[0] ? 0 : std::stoll(*rows->front()[0]);
  };
  PurgeCounts out;
  auto reviews = db_->query(
      "WITH d AS (DELETE FROM reviews WHERE completed_unix < $1 RETURNING 1) SELECT count(*) FROM d", params);
  if (!reviews) return reviews.error();
  out.reviews = count_of(reviews);
  const std::string finished =
      "SELECT id FROM batches WHERE state IN ('done','cancelled') AND finished_unix > 0 AND finished_unix < $1";
  if (auto s = db_->run("DELETE FROM batch_items WHERE batch_id IN (" + finished + ")", params); !s) return s.error();
  auto batches = db_->query("WITH d AS (DELETE FROM batches WHERE id IN (" + finished +
                                ") RETURNING 1) SELECT count(*) FROM d",
                            params);
  if (!batches) return batches.error();
  out.batches = count_of(batches);
  return out;
}

}  // namespace hfv::broker
