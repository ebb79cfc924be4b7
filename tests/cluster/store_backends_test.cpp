// The broker's stores on both backends: the same contract checked on the
// embedded SQLCipher file and on a real PostgreSQL server; then what only
// the cluster backend has to show: two brokers on one database, node-scoped
// interruption, sealed report bodies (a pg_dump holds no ID number, name or
// amount; a moved or edited body is refused), the schema version guard,
// and reconnection after the server restarts.
#include <catch2/catch.hpp>

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>

#include <fstream>
#include <functional>

#include <atomic>
#include <memory>
#include <thread>

#include "broker/store/postgresql/authorization_store.hpp"
#include "broker/store/postgresql/report_store.hpp"
#include "broker/store/postgresql/review_store.hpp"
#include "broker/store/postgresql/schema.hpp"
#include "broker/store/retention.hpp"
#include "broker/store/sqlcipher/authorization_store.hpp"
#include "broker/store/sqlcipher/report_store.hpp"
#include "broker/store/sqlcipher/review_store.hpp"
#include "broker/store/store_keys.hpp"
#include "crypto/hash.hpp"
#include "pg_server.hpp"
#include "storage/postgresql_db.hpp"
#include "storage/sqlcipher_db.hpp"

namespace b = hfv::broker;
using hfv::Date;
using hfv::Source;
using hfv::testing::PgServer;
using hfv::testing::TempDir;

namespace {

const hfv::crypto::SecretKey kKey = hfv::crypto::SecretKey::random();

b::StoredAuthorization authorization(const std::string& id, const std::string& principal) {
  b::StoredAuthorization a;
  a.id = id;
  a.principal = principal;
  a.case_id = "HRB-2024-0001";
  a.jurisdiction = "230100";
  a.valid_from = *Date::parse("2024-01-01");
  a.valid_until = *Date::parse("2025-12-31");
  a.form_sha256 = std::string(64, 'f');
  a.categories = {Source::kBank, Source::kTax};
  a.member_pseudonyms = {"p1", "p2"};
  a.created_at = "2024-11-01T08:00:00.000Z";
  return a;
}

void check_authorizations(b::AuthorizationStore& store) {
  REQUIRE(store.insert(authorization("auth_1", "case-system")).ok());
  CHECK_FALSE(store.insert(authorization("auth_1", "case-system")).ok());  // ids are unique
  auto found = store.find("auth_1", "case-system");
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  const auto& a = **found;
  CHECK(a.case_id == "HRB-2024-0001");
  CHECK(a.jurisdiction == "230100");
  CHECK(a.valid_until.to_string() == "2025-12-31");
  CHECK(a.allows(Source::kBank));
  CHECK_FALSE(a.allows(Source::kVehicle));
  CHECK(a.member_pseudonyms == std::set<std::string>{"p1", "p2"});
  CHECK(a.revoked_at.empty());
  // Another principal does not see it; an unknown id is not found.
  CHECK_FALSE(store.find("auth_1", "other-system")->has_value());
  CHECK_FALSE(store.find("auth_9", "case-system")->has_value());
  CHECK_FALSE(store.revoke("auth_1", "other-system")->has_value());
  // Revocation is idempotent: the first time stays.
  auto first = store.revoke("auth_1", "case-system");
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  const std::string when = (*first)->revoked_at;
  CHECK_FALSE(when.empty());
  auto again = store.revoke("auth_1", "case-system");
  REQUIRE(again.ok());
  CHECK((*again)->revoked_at == when);
  CHECK((*store.find("auth_1", "case-system"))->revoked_at == when);
  // Retention: deleted once ended (valid_until passed, or revoked) before the cutoff day.
  auto valid_until = [](const char* id, const char* until) {
    auto ending = authorization(id, "case-system");
    ending.valid_until = *Date::parse(until);
    return ending;
  };
  REQUIRE(store.insert(valid_until("auth_2030", "2030-12-31")).ok());
  REQUIRE(store.insert(valid_until("auth_2099", "2099-12-31")).ok());
  REQUIRE(store.insert(valid_until("auth_2099_revoked", "2099-12-31")).ok());
  REQUIRE(store.revoke("auth_2099_revoked", "case-system")->has_value());
  CHECK(store.purge_ended_before("2025-12-31").value() == 0);  // ends that day: kept
  CHECK(store.purge_ended_before("2026-01-01").value() == 1);  // auth_1
  CHECK_FALSE(store.find("auth_1", "case-system")->has_value());
  CHECK(store.find("auth_2030", "case-system")->has_value());
  CHECK(store.purge_ended_before("2099-01-01").value() == 2);  // auth_2030, and the revoked one
  CHECK_FALSE(store.find("auth_2099_revoked", "case-system")->has_value());
  CHECK(store.find("auth_2099", "case-system")->has_value());
}

b::StoredVerification running(const std::string& id, const std::string& key, std::int64_t created) {
  b::StoredVerification v;
  v.id = id;
  v.principal = "case-system";
  v.idempotency_key = key;
  v.request_sha256 = std::string(64, 'a');
  v.household_key = "household-1";
  v.created_unix = created;
  return v;
}

void check_reports(b::ReportStore& store) {
  REQUIRE(store.insert_running(running("ver_1", "key-1", 1000)).ok());
  // The same Idempotency-Key from the same principal is refused.
  CHECK_FALSE(store.insert_running(running("ver_2", "key-1", 1001)).ok());
  auto by_key = store.find_by_key("case-system", "key-1");
  REQUIRE(by_key.ok());
  REQUIRE(by_key->has_value());
  CHECK((*by_key)->id == "ver_1");
  CHECK((*by_key)->state == b::VerificationState::kRunning);
  CHECK_FALSE(store.find("ver_1", "other-system")->has_value());
  // Not done yet: no repeat answer.
  CHECK_FALSE(store.latest_done("case-system", "household-1", 0)->has_value());
  const std::string body = R"({"outcome":"eligible","benefit_monthly":"1579.00"})";
  REQUIRE(store.finish("ver_1", 200, body).ok());
  auto done = store.find("ver_1", "case-system");
  REQUIRE(done.ok());
  CHECK((*done)->state == b::VerificationState::kDone);
  CHECK((*done)->http_status == 200);
  CHECK((*done)->response == body);
  CHECK((*store.latest_done("case-system", "household-1", 1000))->id == "ver_1");
  CHECK_FALSE(store.latest_done("case-system", "household-1", 1001)->has_value());  // outside the window
  // A newer one is the one a repeat returns.
  REQUIRE(store.insert_running(running("ver_3", "", 2000)).ok());
  REQUIRE(store.finish("ver_3", 200, body).ok());
  CHECK((*store.latest_done("case-system", "household-1", 0))->id == "ver_3");
  // A cancelled one lets go of its key: the retry with it can run.
  REQUIRE(store.insert_running(running("ver_4", "key-4", 3000)).ok());
  REQUIRE(store.cancel("ver_4").ok());
  CHECK((*store.find("ver_4", "case-system"))->state == b::VerificationState::kCancelled);
  CHECK_FALSE(store.find_by_key("case-system", "key-4")->has_value());
  CHECK(store.insert_running(running("ver_5", "key-4", 3001)).ok());
  // An abandoned running one is interrupted; a finished one stays as it is.
  REQUIRE(store.interrupt("ver_5").ok());
  CHECK((*store.find("ver_5", "case-system"))->state == b::VerificationState::kInterrupted);
  REQUIRE(store.interrupt("ver_3").ok());
  CHECK((*store.find("ver_3", "case-system"))->state == b::VerificationState::kDone);
}

constexpr const char* kMembers = R"([{"id_number":"230102197503120016","name":"张伟","relation":"applicant"}])";

b::ReviewRecord review(const std::string& id, const std::string& case_id, const std::string& next_review,
                       std::int64_t completed) {
  b::ReviewRecord r;
  r.verification_id = id;
  r.principal = "case-system";
  r.case_id = case_id;
  r.jurisdiction = "230102";
  r.programme = "dibao";
  r.area = "urban";
  r.reference_date = "2024-11-01";
  r.authorization_id = "auth_1";
  r.members_json = kMembers;
  r.outcome = "eligible";
  r.classification = "dibao";
  r.income_per_capita_fen = 157937;
  r.benefit_fen = 48063;
  r.real_estate = {"黑(2009)****0001号"};
  r.failed_sources = {"vehicle"};
  r.review_months = 12;
  r.review_category = "default";
  r.next_review = next_review;
  r.benefit_since = "2024-11-01";
  r.obligors_json = "[]";
  r.completed_unix = completed;
  r.latency_ms = 812;
  return r;
}

void check_reviews(b::ReviewStore& store) {
  REQUIRE(store.record(review("ver_1", "HRB-1", "2025-11-01", 100)).ok());
  REQUIRE(store.record_pending(review("ver_2", "HRB-1", "2025-05-01", 200)).ok());
  REQUIRE(store.record(review("ver_3", "HRB-2", "2026-11-01", 300)).ok());
  // A second record for the same verification changes nothing.
  REQUIRE(store.record(review("ver_1", "HRB-9", "2030-01-01", 999)).ok());
  auto first = store.find("ver_1");
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  const auto& r = **first;
  CHECK(r.case_id == "HRB-1");
  CHECK(r.members_json == kMembers);
  CHECK(r.income_per_capita_fen == 157937);
  CHECK_FALSE(r.assets_per_capita_fen.has_value());
  CHECK(r.benefit_fen == 48063);
  CHECK(r.real_estate == std::vector<std::string>{"黑(2009)****0001号"});
  CHECK(r.failed_sources == std::vector<std::string>{"vehicle"});
  CHECK(r.review_months == 12);
  CHECK(r.latency_ms == 812);
  CHECK(r.obligors_json == "[]");
  CHECK(r.benefit_since == "2024-11-01");
  // Pending until issued; the previous record of a household is issued.
  auto pending = store.pending();
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 1);
  CHECK(pending->front().verification_id == "ver_2");
  auto second = store.find("ver_2");
  REQUIRE(second->has_value());
  CHECK(store.previous(**second)->value().verification_id == "ver_1");
  // Due by 2025-12-31: HRB-1's latest issued record is ver_1 (ver_2 pending).
  auto due = store.due("case-system", "2025-12-31", {});
  REQUIRE(due.ok());
  REQUIRE(due->size() == 1);
  CHECK(due->front().verification_id == "ver_1");
  REQUIRE(store.mark_issued("ver_2").ok());
  CHECK(store.pending()->empty());
  due = store.due("case-system", "2026-12-31", {});
  REQUIRE(due->size() == 2);
  CHECK(due->at(0).verification_id == "ver_2");  // the latest of HRB-1
  CHECK(due->at(1).verification_id == "ver_3");
  CHECK(store.due("case-system", "2026-12-31", {"2301"})->size() == 2);  // a city covers its districts
  CHECK(store.due("case-system", "2026-12-31", {"4105"})->empty());
  CHECK(store.due("other-system", "2026-12-31", {})->empty());
  // Dropping a pending record: only while pending.
  REQUIRE(store.drop_pending("ver_2").ok());
  CHECK(store.find("ver_2")->has_value());
  REQUIRE(store.record_pending(review("ver_4", "HRB-3", "2025-11-01", 400)).ok());
  REQUIRE(store.drop_pending("ver_4").ok());
  CHECK_FALSE(store.find("ver_4")->has_value());
  // Statistics read no members.
  auto between = store.issued_between(150, 301, "");
  REQUIRE(between.ok());
  REQUIRE(between->size() == 2);
  CHECK(between->at(0).verification_id == "ver_2");
  CHECK(between->at(0).members_json.empty());
  CHECK(between->at(0).income_per_capita_fen == 157937);
  CHECK(store.issued_between(0, 1000, "other-system")->empty());

  // Batches: created with their items in one step, items updated in place.
  const b::BatchRow batch{"bat_1", "case-system", "op-1", b::BatchMode::kDue, R"({"due_by":"2025-12-31"})",
                          b::BatchState::kRunning, 3, 500, 0};
  std::vector<b::BatchItem> items(3);
  for (std::size_t n = 0; n < items.size(); ++n) {
    items[n].index = static_cast<std::int64_t>(n);
    items[n].case_id = "HRB-" + std::to_string(n);
    items[n].jurisdiction = "230102";
    items[n].request_json = std::string(R"({"members":)") + kMembers + "}";
  }
  REQUIRE(store.create_batch(batch, items).ok());
  CHECK_FALSE(store.create_batch(batch, items).ok());  // one batch per id, nothing half-written
  auto found = store.find_batch("bat_1");
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->mode == b::BatchMode::kDue);
  CHECK((*found)->total == 3);
  CHECK(store.batches_in_state(b::BatchState::kRunning)->size() == 1);
  // Claims: lowest index first, each item once, as stored.
  const auto lease = std::chrono::seconds(60);
  auto claimed = store.claim_items("bat_1", 2, lease);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 2);
  CHECK(claimed->at(0).index == 0);
  CHECK(claimed->at(1).index == 1);
  CHECK(claimed->at(1).request_json == items[1].request_json);
  claimed = store.claim_items("bat_1", 2, lease);
  REQUIRE(claimed->size() == 1);
  CHECK(claimed->at(0).index == 2);
  CHECK(store.claim_items("bat_1", 2, lease)->empty());
  REQUIRE(store.renew_claims("bat_1", lease).ok());
  b::BatchItem done = items[1];
  done.state = b::ItemState::kDone;
  done.attempt = 1;
  done.verification_id = "ver_9";
  done.outcome = "ineligible";
  done.classification = "none";
  done.severity = 2;
  done.changes_json = R"([{"field":"income","from":"376.67","to":"1579.37"}])";
  done.failed_sources = {"bank"};
  done.latency_ms = 950;
  REQUIRE(store.update_items("bat_1", {done}).ok());
  REQUIRE(store.cancel_pending("bat_1").ok());
  auto stored = store.items("bat_1");
  REQUIRE(stored.ok());
  REQUIRE(stored->size() == 3);
  CHECK(stored->at(0).state == b::ItemState::kCancelled);
  CHECK(stored->at(0).request_json == items[0].request_json);
  CHECK(stored->at(1).state == b::ItemState::kDone);
  CHECK(stored->at(1).verification_id == "ver_9");
  CHECK(stored->at(1).changes_json == done.changes_json);
  CHECK(stored->at(1).failed_sources == std::vector<std::string>{"bank"});
  CHECK(stored->at(1).severity == 2);
  CHECK(stored->at(1).latency_ms == 950);
  CHECK(stored->at(2).state == b::ItemState::kCancelled);
  auto counts = store.item_counts("bat_1");
  REQUIRE(counts.ok());
  CHECK(counts->pending == 0);
  CHECK(counts->done == 1);
  CHECK(counts->cancelled == 2);
  // Finished once: a second node finding it finished changes nothing.
  CHECK(store.finish_batch("bat_1", b::BatchState::kDone, 600).value());
  CHECK_FALSE(store.finish_batch("bat_1", b::BatchState::kCancelled, 700).value());
  CHECK(store.find_batch("bat_1")->value().finished_unix == 600);
  CHECK(store.find_batch("bat_1")->value().state == b::BatchState::kDone);
  CHECK(store.batches_in_state(b::BatchState::kRunning)->empty());
  CHECK_FALSE(store.find_batch("bat_2")->has_value());
}

// The input archive (issue 19): stored with the report in one step, read
// back whoever asks (the caller checks), kept under the report's retention;
// a policy file kept once per version while a report names it.
void check_archive(b::ReportStore& reports) {
  auto archived = [](const std::string& id, const std::string& version) {
    b::ArchivedInputs a;
    a.text = R"({"format":"hfv-inputs/v1","verification_id":")" + id + R"(","amount_fen":157937})";
    a.sha256 = std::string(64, 'd');
    a.policy_version = version;
    a.policy_jurisdiction = "230100";
    a.policy_content = R"({"version":")" + version + R"("})";
    return a;
  };
  REQUIRE(reports.insert_running(running("ver_a_old", "", 1000)).ok());
  REQUIRE(reports.finish_issued("ver_a_old", R"({"outcome":"eligible"})", archived("ver_a_old", "v1")).ok());
  REQUIRE(reports.insert_running(running("ver_a_new", "", 5000)).ok());
  REQUIRE(reports.finish_issued("ver_a_new", R"({"outcome":"ineligible"})", archived("ver_a_new", "v2")).ok());
  REQUIRE(reports.insert_running(running("ver_a_same", "", 5000)).ok());
  b::ArchivedInputs same = archived("ver_a_same", "v2");
  same.policy_content = "ignored: version v2 is kept already";
  REQUIRE(reports.finish_issued("ver_a_same", R"({"outcome":"ineligible"})", same).ok());
  REQUIRE(reports.insert_running(running("ver_a_none", "", 5000)).ok());
  REQUIRE(reports.finish("ver_a_none", 200, R"({"outcome":"eligible"})").ok());  // before the archive

  auto found = reports.find_archived("ver_a_old");
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  const b::ArchivedVerification& old = **found;
  CHECK(old.verification.principal == "case-system");
  CHECK(old.verification.state == b::VerificationState::kDone);
  CHECK(old.verification.http_status == 200);
  CHECK(old.verification.response == R"({"outcome":"eligible"})");
  CHECK(old.inputs.text == archived("ver_a_old", "v1").text);
  CHECK(old.inputs.sha256 == std::string(64, 'd'));
  CHECK(old.inputs.policy_version == "v1");
  CHECK(old.inputs.policy_jurisdiction == "230100");
  CHECK(old.inputs.policy_content == R"({"version":"v1"})");
  CHECK_FALSE(old.inputs_unopenable);
  CHECK(reports.find_archived("ver_a_same")->value().inputs.policy_content == R"({"version":"v2"})");
  auto none = reports.find_archived("ver_a_none");
  REQUIRE(none.ok());
  REQUIRE(none->has_value());
  CHECK((*none)->inputs.text.empty());
  CHECK((*none)->inputs.policy_content.empty());
  CHECK_FALSE(reports.find_archived("ver_nowhere")->has_value());
  // A second archive for one report is refused, and the report stays as it was.
  REQUIRE(reports.insert_running(running("ver_a_twice", "", 5000)).ok());
  REQUIRE(reports.finish_issued("ver_a_twice", R"({"n":1})", archived("ver_a_twice", "v2")).ok());
  CHECK_FALSE(reports.finish_issued("ver_a_twice", R"({"n":2})", archived("ver_a_twice", "v2")).ok());
  CHECK(reports.find_archived("ver_a_twice")->value().verification.response == R"({"n":1})");

  // Retention: the old report goes with its archive and its policy file,
  // which no remaining report names; v2 stays with its reports.
  auto purged = reports.purge_before(2000);
  REQUIRE(purged.ok());
  CHECK(*purged == 1);
  CHECK_FALSE(reports.find_archived("ver_a_old")->has_value());
  REQUIRE(reports.insert_running(running("ver_a_back", "", 5000)).ok());
  REQUIRE(reports.finish_issued("ver_a_back", "{}", archived("ver_a_back", "v1")).ok());
  CHECK(reports.find_archived("ver_a_back")->value().inputs.policy_content == R"({"version":"v1"})");
  CHECK(reports.find_archived("ver_a_new")->value().inputs.policy_content == R"({"version":"v2"})");
}

// The archived decisions of a period, page by page (the what-if's walk,
// broker/reviews/what_if.hpp): issued reports with an archive created in
// [from, to), each once, in id order, across pages; not the running, the
// refused or those before the archive.
void check_archived_pages(b::ReportStore& reports) {
  b::ArchivedInputs a;
  a.text = R"({"format":"hfv-inputs/v1"})";
  a.sha256 = std::string(64, 'e');
  a.policy_version = "v9";
  a.policy_jurisdiction = "230100";
  a.policy_content = R"({"version":"v9"})";
  for (const auto& [id, created] : std::vector<std::pair<std::string, std::int64_t>>{
           {"ver_p_5", 10005}, {"ver_p_1", 10001}, {"ver_p_3", 10003}, {"ver_p_2", 10002},
           {"ver_p_4", 10004}, {"ver_p_early", 9999}, {"ver_p_late", 10010}}) {
    REQUIRE(reports.insert_running(running(id, "", created)).ok());
    REQUIRE(reports.finish_issued(id, R"({"id":")" + id + R"("})", a).ok());
  }
  REQUIRE(reports.insert_running(running("ver_p_running", "", 10003)).ok());
  REQUIRE(reports.insert_running(running("ver_p_refused", "", 10003)).ok());
  REQUIRE(reports.finish("ver_p_refused", 403, R"({"error":"consent_expired"})").ok());
  auto total = reports.count_archived(10000, 10010);
  REQUIRE(total.ok());
  CHECK(*total == 5);
  std::vector<std::string> seen;
  std::string after;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = reports.archived_page(10000, 10010, after, 2);
    REQUIRE(page.ok());
    for (const auto& row : *page) {
      seen.push_back(row.verification.id);
      CHECK(row.verification.response == R"({"id":")" + row.verification.id + R"("})");
      CHECK(row.inputs.text == a.text);
      CHECK(row.inputs.sha256 == a.sha256);
      CHECK(row.inputs.policy_version == "v9");
      CHECK(row.inputs.policy_content.empty());
      CHECK_FALSE(row.inputs_unopenable);
    }
    if (page->size() < 2) break;
    after = page->back().verification.id;
  }
  CHECK(seen == std::vector<std::string>{"ver_p_1", "ver_p_2", "ver_p_3", "ver_p_4", "ver_p_5"});
}

// Retention: what is older than the cutoff goes, what is newer or still
// running stays, and the counts say how many went.
// `check` on a report store and a review store of each backend, a
// Catch2 section each.
void on_both_backends(const std::function<void(b::ReportStore&, b::ReviewStore&)>& check) {
  SECTION("SQLCipher") {
    TempDir dir;
    auto reports = b::SqlcipherReportStore::open(dir.path / "state.db", kKey);
    auto reviews = b::SqlcipherReviewStore::open(dir.path / "review.db", kKey);
    REQUIRE(reports.ok());
    REQUIRE(reviews.ok());
    check(**reports, **reviews);
  }
  SECTION("PostgreSQL") {
    PgServer pg;
    auto reports = b::PostgresqlReportStore::open(pg.conninfo(), kKey, "node-a");
    auto reviews = b::PostgresqlReviewStore::open(pg.conninfo(), kKey, "node-a");
    REQUIRE(reports.ok());
    REQUIRE(reviews.ok());
    check(**reports, **reviews);
  }
}

void check_purge(b::ReportStore& reports, b::ReviewStore& reviews) {
  REQUIRE(reports.insert_running(running("ver_old", "", 1000)).ok());
  REQUIRE(reports.finish("ver_old", 200, R"({"outcome":"eligible"})").ok());
  REQUIRE(reports.insert_running(running("ver_old_running", "", 1000)).ok());
  REQUIRE(reports.insert_running(running("ver_new", "", 5000)).ok());
  REQUIRE(reports.finish("ver_new", 200, R"({"outcome":"eligible"})").ok());
  auto purged = reports.purge_before(2000);
  REQUIRE(purged.ok());
  CHECK(*purged == 1);
  CHECK_FALSE(reports.find("ver_old", "case-system")->has_value());
  CHECK(reports.find("ver_old_running", "case-system")->has_value());
  CHECK(reports.find("ver_new", "case-system")->has_value());
  CHECK(reports.purge_before(2000).value() == 0);

  REQUIRE(reviews.record(review("ver_old", "HRB-1", "2025-05-01", 1000)).ok());
  REQUIRE(reviews.record(review("ver_new", "HRB-1", "2025-05-01", 5000)).ok());
  std::vector<b::BatchItem> items(2);
  for (std::size_t n = 0; n < items.size(); ++n) {
    items[n].index = static_cast<std::int64_t>(n);
    items[n].case_id = "HRB-" + std::to_string(n);
    items[n].jurisdiction = "230102";
    items[n].request_json = "{}";
  }
  REQUIRE(reviews.create_batch({"bat_old", "case-system", "op-1", b::BatchMode::kHouseholds, "{}",
                                b::BatchState::kRunning, 2, 900, 0},
                               items)
              .ok());
  REQUIRE(reviews.finish_batch("bat_old", b::BatchState::kDone, 1500).ok());
  REQUIRE(reviews.create_batch({"bat_running", "case-system", "op-1", b::BatchMode::kHouseholds, "{}",
                                b::BatchState::kRunning, 2, 900, 0},
                               items)
              .ok());
  auto erased = reviews.purge_before(2000);
  REQUIRE(erased.ok());
  CHECK(erased->reviews == 1);
  CHECK(erased->batches == 1);
  CHECK_FALSE(reviews.find("ver_old")->has_value());
  CHECK(reviews.find("ver_new")->has_value());
  CHECK_FALSE(reviews.find_batch("bat_old")->has_value());
  CHECK(reviews.items("bat_old")->empty());
  CHECK(reviews.find_batch("bat_running")->has_value());
  CHECK(reviews.items("bat_running")->size() == 2);
}

}  // namespace

TEST_CASE("cluster: the authorization store keeps its contract on SQLCipher and on PostgreSQL",
          "[cluster][store]") {
  SECTION("SQLCipher") {
    TempDir dir;
    auto store = b::SqlcipherAuthorizationStore::open(dir.path / "state.db", kKey);
    REQUIRE(store.ok());
    check_authorizations(**store);
  }
  SECTION("PostgreSQL") {
    PgServer pg;
    auto store = b::PostgresqlAuthorizationStore::open(pg.conninfo());
    REQUIRE(store.ok());
    check_authorizations(**store);
  }
}

TEST_CASE("cluster: the report store keeps its contract on SQLCipher and on PostgreSQL",
          "[cluster][store]") {
  SECTION("SQLCipher") {
    TempDir dir;
    auto store = b::SqlcipherReportStore::open(dir.path / "state.db", kKey);
    REQUIRE(store.ok());
    check_reports(**store);
  }
  SECTION("PostgreSQL") {
    PgServer pg;
    auto store = b::PostgresqlReportStore::open(pg.conninfo(), kKey, "node-a");
    REQUIRE(store.ok());
    check_reports(**store);
  }
}

TEST_CASE("cluster: the review store keeps its contract on SQLCipher and on PostgreSQL", "[cluster][store]") {
  SECTION("SQLCipher") {
    TempDir dir;
    auto store = b::SqlcipherReviewStore::open(dir.path / "review.db", kKey);
    REQUIRE(store.ok());
    check_reviews(**store);
  }
  SECTION("PostgreSQL") {
    PgServer pg;
    auto store = b::PostgresqlReviewStore::open(pg.conninfo(), kKey, "node-a");
    REQUIRE(store.ok());
    check_reviews(**store);
  }
}

namespace {

// A verification's writes started without blocking (start_*), several at
// once as a batch makes them: the embedded store commits them together, the
// cluster store one by one on the pool. Each is stored when its get()
// returns; one refused (a used Idempotency-Key) is refused alone.
void check_started_writes(b::ReportStore& reports, b::ReviewStore& reviews) {
  namespace net = boost::asio;
  net::io_context io;
  net::thread_pool pool(2);
  const hfv::WriteStart at{pool, io.get_executor(), std::chrono::milliseconds(20)};
  constexpr int kCount = 6;
  auto id = [](int i) { return "ver_w" + std::to_string(i); };
  std::vector<hfv::Status> inserted, pending, issued;
  // The refused write's key is taken before the others start: the cluster
  // store runs started writes in no set order, so a key shared by two of
  // them would be refused to whichever came second.
  REQUIRE(reports.insert_running(running("ver_w_first", "key-taken", 1000)).ok());
  auto writes = [&]() -> net::awaitable<void> {
    std::vector<hfv::BlockingCall<hfv::Status>> calls;
    calls.reserve(std::size_t{2} * kCount);
    for (int i = 0; i < kCount; ++i) {
      calls.push_back(reports.start_insert_running(at, running(id(i), "key-w" + std::to_string(i), 1000)));
    }
    calls.push_back(reports.start_insert_running(at, running("ver_w_dup", "key-taken", 1000)));
    for (auto& c : calls) inserted.push_back(co_await c.get());
    calls.clear();
    for (int i = 0; i < kCount; ++i) {
      calls.push_back(reviews.start_record_pending(at, review(id(i), "HRB-W" + std::to_string(i), "2026-12-01", 100)));
    }
    for (auto& c : calls) pending.push_back(co_await c.get());
    calls.clear();
    for (int i = 0; i < kCount; ++i) {
      b::ArchivedInputs inputs;
      inputs.text = R"({"format":"hfv-inputs/v1","n":)" + std::to_string(i) + "}";
      inputs.sha256 = std::string(64, 'e');
      inputs.policy_version = "v-w";
      inputs.policy_jurisdiction = "230100";
      inputs.policy_content = R"({"version":"v-w"})";
      calls.push_back(reports.start_finish_issued(at, id(i), R"({"outcome":"eligible"})", std::move(inputs)));
      calls.push_back(reviews.start_mark_issued(at, id(i)));
    }
    for (auto& c : calls) issued.push_back(co_await c.get());
  };
  net::co_spawn(io, writes(), net::detached);
  io.run();
  REQUIRE(inserted.size() == kCount + 1);
  for (int i = 0; i < kCount; ++i) CHECK(inserted[i].ok());
  CHECK_FALSE(inserted.back().ok());
  CHECK_FALSE(reports.find("ver_w_dup", "case-system")->has_value());
  REQUIRE(pending.size() == kCount);
  REQUIRE(issued.size() == std::size_t{2} * kCount);
  for (const auto& s : pending) CHECK(s.ok());
  for (const auto& s : issued) CHECK(s.ok());
  for (int i = 0; i < kCount; ++i) {
    auto found = reports.find_archived(id(i));
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    CHECK((*found)->verification.state == b::VerificationState::kDone);
    CHECK((*found)->verification.http_status == 200);
    CHECK((*found)->inputs.text == R"({"format":"hfv-inputs/v1","n":)" + std::to_string(i) + "}");
    CHECK((*found)->inputs.policy_content == R"({"version":"v-w"})");
  }
  auto left = reviews.pending();
  REQUIRE(left.ok());
  CHECK(left->empty());  // every record marked issued
  CHECK(reviews.find(id(kCount - 1))->has_value());
}

}  // namespace

TEST_CASE("cluster: writes started together are each stored and one refused is refused alone on SQLCipher and on "
          "PostgreSQL",
          "[cluster][store]") {
  on_both_backends(check_started_writes);
}

TEST_CASE("cluster: two brokers on one database share reports and keys, and a restart interrupts only its own",
          "[cluster][store]") {
  PgServer pg;
  auto a = b::PostgresqlReportStore::open(pg.conninfo(), kKey, "node-a");
  auto c = b::PostgresqlReportStore::open(pg.conninfo(), kKey, "node-b");
  REQUIRE(a.ok());
  REQUIRE(c.ok());
  REQUIRE((*a)->insert_running(running("ver_a", "key-a", 100)).ok());
  REQUIRE((*c)->insert_running(running("ver_b", "key-b", 100)).ok());
  // An Idempotency-Key holds across nodes; either node reads either report.
  CHECK_FALSE((*c)->insert_running(running("ver_x", "key-a", 101)).ok());
  REQUIRE((*a)->finish("ver_a", 200, "{}").ok());
  CHECK((*c)->find("ver_a", "case-system")->value().state == b::VerificationState::kDone);
  CHECK((*a)->find_by_key("case-system", "key-b")->value().id == "ver_b");
  // node-a restarts: its running rows would be interrupted, node-b's run on.
  REQUIRE((*a)->insert_running(running("ver_a2", "", 102)).ok());
  a = b::PostgresqlReportStore::open(pg.conninfo(), kKey, "node-a");
  REQUIRE(a.ok());
  CHECK((*a)->find("ver_a2", "case-system")->value().state == b::VerificationState::kInterrupted);
  CHECK((*a)->find("ver_b", "case-system")->value().state == b::VerificationState::kRunning);
  // The authorisations too: registered on one node, revoked on the other.
  auto auth_a = b::PostgresqlAuthorizationStore::open(pg.conninfo());
  auto auth_b = b::PostgresqlAuthorizationStore::open(pg.conninfo());
  REQUIRE(auth_a.ok());
  REQUIRE(auth_b.ok());
  REQUIRE((*auth_a)->insert(authorization("auth_x", "case-system")).ok());
  REQUIRE((*auth_b)->revoke("auth_x", "case-system")->has_value());
  CHECK_FALSE((*auth_a)->find("auth_x", "case-system")->value().revoked_at.empty());
}

TEST_CASE("cluster: two brokers share a batch's items by claims, and a dead node's claims pass to the other after its lease",
          "[cluster][store][batch]") {
  PgServer pg;
  auto a = b::PostgresqlReviewStore::open(pg.conninfo(), kKey, "node-a");
  auto c = b::PostgresqlReviewStore::open(pg.conninfo(), kKey, "node-b");
  REQUIRE(a.ok());
  REQUIRE(c.ok());
  std::vector<b::BatchItem> items(4);
  for (std::size_t n = 0; n < items.size(); ++n) {
    items[n].index = static_cast<std::int64_t>(n);
    items[n].case_id = "HRB-" + std::to_string(n);
    items[n].jurisdiction = "230102";
    items[n].request_json = "{}";
  }
  REQUIRE((*a)->create_batch({"bat_1", "case-system", "op-1", b::BatchMode::kHouseholds, "{}",
                              b::BatchState::kRunning, 4, 100, 0},
                             items)
              .ok());
  const auto short_lease = std::chrono::milliseconds(1000);
  // node-a claims two for a short lease, node-b the other two for long.
  REQUIRE((*a)->claim_items("bat_1", 2, short_lease)->size() == 2);
  auto got = (*c)->claim_items("bat_1", 3, std::chrono::seconds(600));
  REQUIRE(got->size() == 2);
  CHECK(got->at(0).index == 2);
  CHECK(got->at(1).index == 3);
  CHECK((*c)->claim_items("bat_1", 3, std::chrono::seconds(600))->empty());
  // node-a dies (renews no more): after its lease, node-b takes its two.
  // Each row's lease is stamped with the clock as that row is written
  // (clock_timestamp()), so the two may end a millisecond apart and be
  // taken by two polls: gather until both are.
  std::vector<b::BatchItem> taken;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (taken.size() < 2 && std::chrono::steady_clock::now() < give_up) {
    auto more = (*c)->claim_items("bat_1", 3, std::chrono::seconds(600));
    REQUIRE(more.ok());
    taken.insert(taken.end(), more->begin(), more->end());
    if (taken.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling the lease's end
  }
  REQUIRE(taken.size() == 2);
  std::sort(taken.begin(), taken.end(), [](const b::BatchItem& x, const b::BatchItem& y) { return x.index < y.index; });
  CHECK(taken.at(0).index == 0);
  // node-a's late result for an item node-b took writes nothing; node-b's does.
  b::BatchItem late = items[0];
  late.state = b::ItemState::kDone;
  late.verification_id = "ver_late";
  REQUIRE((*a)->update_items("bat_1", {late}).ok());
  CHECK((*c)->items("bat_1")->at(0).state == b::ItemState::kPending);
  late.verification_id = "ver_b";
  REQUIRE((*c)->update_items("bat_1", {late}).ok());
  CHECK((*a)->items("bat_1")->at(0).verification_id == "ver_b");
  CHECK((*a)->item_counts("bat_1")->pending == 3);
  // node-b stops: its claims are released, node-a (back) takes them at once.
  REQUIRE((*c)->release_claims().ok());
  CHECK((*a)->claim_items("bat_1", 5, short_lease)->size() == 3);
  // Pending review records are each node's own.
  REQUIRE((*a)->record_pending(review("ver_p", "HRB-1", "2025-11-01", 100)).ok());
  CHECK((*a)->pending()->size() == 1);
  CHECK((*c)->pending()->empty());
}

TEST_CASE("cluster: PostgreSQL holds no ID number, name or amount, and a moved or edited report body is refused",
          "[cluster][store][privacy]") {
  PgServer pg;
  auto store = b::PostgresqlReportStore::open(pg.conninfo(), kKey, "node-a");
  REQUIRE(store.ok());
  const std::string body =
      R"({"members":[{"name":"张伟","id_number":"230102197503120016"}],"benefit_monthly":"1579.37"})";
  REQUIRE((*store)->insert_running(running("ver_1", "k1", 100)).ok());
  REQUIRE((*store)->finish("ver_1", 200, body).ok());
  REQUIRE((*store)->insert_running(running("ver_2", "k2", 100)).ok());
  REQUIRE((*store)->finish("ver_2", 200, R"({"other":"report"})").ok());
  CHECK((*store)->find("ver_1", "case-system")->value().response == body);  // the broker reads it back
  // The review store's records and a batch item's request name the member too.
  auto reviews = b::PostgresqlReviewStore::open(pg.conninfo(), kKey, "node-a");
  REQUIRE(reviews.ok());
  b::ReviewRecord r = review("ver_1", "HRB-1", "2025-11-01", 100);
  r.income_per_capita_fen = 157937;
  REQUIRE((*reviews)->record(r).ok());
  b::BatchItem item;
  item.case_id = "HRB-1";
  item.jurisdiction = "230102";
  item.request_json = std::string(R"({"members":)") + kMembers + "}";
  REQUIRE((*reviews)->create_batch({"bat_1", "case-system", "op-1", b::BatchMode::kHouseholds, "{}",
                                    b::BatchState::kRunning, 1, 100, 0},
                                   {item})
              .ok());
  REQUIRE((*reviews)->claim_items("bat_1", 1, std::chrono::seconds(60))->size() == 1);
  item.state = b::ItemState::kDone;
  item.changes_json = R"([{"field":"benefit","to":"1579.37"}])";
  REQUIRE((*reviews)->update_items("bat_1", {item}).ok());
  CHECK((*reviews)->items("bat_1")->at(0).changes_json == item.changes_json);  // written (sealed)
  CHECK((*reviews)->find("ver_1")->value().members_json == kMembers);

  const std::string dump = pg.run_tool("pg_dump", {"--data-only", "-h", "127.0.0.1", "-p",
                                                   std::to_string(pg.port()), "-U", "hfv", "postgres"});
  for (const char* table : {"verifications", "reviews", "batch_items"}) {
    CHECK(dump.find(std::string("COPY public.") + table) != std::string::npos);  // the rows are in the dump
  }
  for (const char* secret : {"230102197503120016", "张伟", "1579.37", "157937"}) {
    INFO(secret);
    CHECK(dump.find(secret) == std::string::npos);
  }
  // A database administrator moves ver_2's sealed body onto ver_1: refused,
  // never served as ver_1's report.
  pg.sql("UPDATE verifications SET response = (SELECT response FROM verifications WHERE id = 'ver_2')"
         " WHERE id = 'ver_1'");
  auto moved = (*store)->find("ver_1", "case-system");
  REQUIRE_FALSE(moved.ok());
  CHECK(moved.error().code == "corrupt_state");
  // One changed character of a sealed body: refused too.
  pg.sql("UPDATE verifications SET response = overlay(response placing"
         " (CASE WHEN substr(response, 40, 1) = '0' THEN '1' ELSE '0' END) from 40 for 1) WHERE id = 'ver_2'");
  auto edited = (*store)->find("ver_2", "case-system");
  REQUIRE_FALSE(edited.ok());
  CHECK(edited.error().code == "corrupt_state");
}

TEST_CASE("cluster: a database with a newer schema than the broker knows is refused", "[cluster][store]") {
  PgServer pg;
  REQUIRE(b::PostgresqlAuthorizationStore::open(pg.conninfo()).ok());
  // Opening again finds the current version and changes nothing.
  REQUIRE(b::PostgresqlReportStore::open(pg.conninfo(), kKey, "node-a").ok());
  pg.sql("INSERT INTO hfv_schema (version) VALUES (" + std::to_string(b::pg::kSchemaVersion + 1) + ")");
  auto refused = b::PostgresqlAuthorizationStore::open(pg.conninfo());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "schema_too_new");
}

// An authorisation as version 1 of both schemas kept it: no jurisdiction column.
constexpr const char* kOldAuthorization =
    "INSERT INTO authorizations (id, principal, case_id, valid_from, valid_until, form_sha256, categories,"
    " members, created_at) VALUES ('auth_old', 'case-system', 'HRB-OLD', '2026-01-01', '2027-12-31', '";

void check_upgraded(b::AuthorizationStore& store) {
  auto old = store.find("auth_old", "case-system");
  REQUIRE(old.ok());
  REQUIRE(old->has_value());
  CHECK((*old)->case_id == "HRB-OLD");
  CHECK((*old)->jurisdiction.empty());  // covers no verification (consent_without_jurisdiction)
  REQUIRE(store.insert(authorization("auth_new", "case-system")).ok());
  CHECK((*store.find("auth_new", "case-system"))->jurisdiction == "230100");
}

TEST_CASE("cluster: authorisations kept from before they named a jurisdiction read back without one after the upgrade, on both backends",
          "[cluster][store][upgrade]") {
  const std::string row = std::string(kOldAuthorization) + std::string(64, 'f') +
                          "', '\"all\"', '[\"p1\"]', '2026-01-01T00:00:00.000Z')";
  SECTION("SQLCipher") {
    TempDir dir;
    const auto file = dir.path / "state.db";
    {
      auto db = hfv::storage::SqlcipherDb::open(file, kKey, true);
      REQUIRE(db.ok());
      REQUIRE((*db)->exec("CREATE TABLE authorizations (id TEXT PRIMARY KEY, principal TEXT NOT NULL,"
                          " case_id TEXT NOT NULL, valid_from TEXT NOT NULL, valid_until TEXT NOT NULL,"
                          " form_sha256 TEXT NOT NULL, categories TEXT NOT NULL, members TEXT NOT NULL,"
                          " created_at TEXT NOT NULL, revoked_at TEXT);")
                  .ok());
      REQUIRE((*db)->exec(row + ";").ok());
    }
    auto store = b::SqlcipherAuthorizationStore::open(file, kKey);
    REQUIRE(store.ok());
    check_upgraded(**store);
  }
  SECTION("PostgreSQL") {
    PgServer pg;
    REQUIRE(b::PostgresqlAuthorizationStore::open(pg.conninfo()).ok());
    // Back to version 2 as an earlier broker left it, with one authorisation.
    pg.sql("ALTER TABLE authorizations DROP COLUMN jurisdiction");
    pg.sql("DELETE FROM hfv_schema");
    pg.sql("INSERT INTO hfv_schema (version) VALUES (2)");
    pg.sql(row);
    auto store = b::PostgresqlAuthorizationStore::open(pg.conninfo());
    REQUIRE(store.ok());
    check_upgraded(**store);
  }
}

TEST_CASE("cluster: a store reconnects by itself after the database restarts, and says unavailable meanwhile",
          "[cluster][store][failover]") {
  PgServer pg;
  auto store = b::PostgresqlAuthorizationStore::open(pg.conninfo());
  REQUIRE(store.ok());
  REQUIRE((*store)->insert(authorization("auth_1", "case-system")).ok());
  pg.kill_postmaster();
  pg.wait_orphans_gone();  // no orphaned backend still serves the open connection
  // Down: the call fails as unavailable (503 material), never as "not found".
  auto down = (*store)->find("auth_1", "case-system");
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().code == "db_unavailable");
  pg.start();  // crash recovery; same port
  auto back = (*store)->find("auth_1", "case-system");
  REQUIRE(back.ok());
  REQUIRE(back->has_value());  // committed before the crash: still there
  CHECK((*back)->case_id == "HRB-2024-0001");
}

TEST_CASE("cluster: a commit whose wait for the synchronous standby is cancelled is not acknowledged",
          "[cluster][store][durability]") {
  PgServer pg;
  auto db = hfv::storage::PostgresqlDb::connect(pg.conninfo());
  REQUIRE(db.ok());
  REQUIRE((*db)->run("CREATE TABLE acked (id INTEGER PRIMARY KEY)").ok());
  // From now on every commit waits for a standby that never comes.
  pg.sql("ALTER SYSTEM SET synchronous_standby_names = 'ghost'");
  pg.sql("SELECT pg_reload_conf()");
  // A session takes in the reloaded setting at a later statement: wait
  // until the writer's own session has it.
  const auto loaded_by = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (;;) {
    auto setting = (*db)->query("SELECT current_setting('synchronous_standby_names')");
    REQUIRE(setting.ok());
    if ((*setting)[0][0] == std::optional<std::string>("ghost")) break;
    REQUIRE(std::chrono::steady_clock::now() < loaded_by);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // The session's setting is not all: a commit waits only once the
  // checkpointer has also taken in the reload (it publishes that standbys
  // are named, in shared memory). A commit acknowledged before that is not
  // what this test is about: the writer commits again until one waits.
  hfv::Status committed = hfv::make_error("pending", "not yet");
  int acknowledged_early = 0;
  std::atomic<bool> finished{false};
  std::thread writer([&] {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (int id = 1;; ++id) {
      committed = hfv::storage::transaction(
          **db, [&]() { return (*db)->run("INSERT INTO acked VALUES (" + std::to_string(id) + ")"); });
      if (!committed.ok() || std::chrono::steady_clock::now() > give_up) break;
      ++acknowledged_early;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    finished = true;
  });
  // Wait for the commit to be waiting (SyncRep), then cancel the wait, as a
  // statement_timeout or an operator's pg_cancel_backend would.
  auto watcher = hfv::storage::PostgresqlDb::connect(pg.conninfo());
  REQUIRE(watcher.ok());
  bool cancelled = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!cancelled && !finished && std::chrono::steady_clock::now() < until) {
    auto rows = (*watcher)->query(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
    REQUIRE(rows.ok());
    cancelled = !rows->empty();
    if (!cancelled) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  writer.join();
  REQUIRE(cancelled);
  // The server kept the row locally, but the broker was told it is not durable.
  REQUIRE_FALSE(committed.ok());
  CHECK(committed.error().code == "db_unavailable");
  CHECK(committed.error().message.find("synchronous standby") != std::string::npos);
  auto rows = (*watcher)->query("SELECT count(*) FROM acked");
  REQUIRE(rows.ok());
  CHECK((*rows)[0][0] == std::optional<std::string>(std::to_string(acknowledged_early + 1)));
}

TEST_CASE("cluster: the input archive is stored with its report, read back, paged by period and erased with it on SQLCipher and on PostgreSQL",
          "[cluster][store][archive]") {
  SECTION("SQLCipher") {
    TempDir dir;
    auto reports = b::SqlcipherReportStore::open(dir.path / "state.db", kKey);
    REQUIRE(reports.ok());
    check_archive(**reports);
    check_archived_pages(**reports);
  }
  SECTION("PostgreSQL") {
    PgServer pg;
    auto reports = b::PostgresqlReportStore::open(pg.conninfo(), kKey, "node-a");
    REQUIRE(reports.ok());
    check_archive(**reports);
    check_archived_pages(**reports);
    // The archive is sealed: a dump shows no amount of it; moved onto another
    // row it no longer opens, and is flagged rather than served.
    const std::string dump = pg.run_tool("pg_dump", {"--data-only", "-h", "127.0.0.1", "-p",
                                                     std::to_string(pg.port()), "-U", "hfv", "postgres"});
    CHECK(dump.find("COPY public.verification_inputs") != std::string::npos);
    CHECK(dump.find("157937") == std::string::npos);
    pg.sql("UPDATE verification_inputs SET inputs = (SELECT inputs FROM verification_inputs WHERE id = 'ver_a_new')"
           " WHERE id = 'ver_a_same'");
    auto moved = (*reports)->find_archived("ver_a_same");
    REQUIRE(moved.ok());
    CHECK((*moved)->inputs_unopenable);
    CHECK((*moved)->inputs.text.empty());
    CHECK_FALSE((*moved)->report_unopenable);
    // So is the report: moved onto another row, a replay's read flags it
    // (archive_tampered), a what-if's page flags that row and goes on, and
    // a plain read still fails (never served).
    pg.sql("UPDATE verifications SET response = (SELECT response FROM verifications WHERE id = 'ver_p_1')"
           " WHERE id = 'ver_p_2'");
    auto edited = (*reports)->find_archived("ver_p_2");
    REQUIRE(edited.ok());
    REQUIRE(edited->has_value());
    CHECK((*edited)->report_unopenable);
    CHECK((*edited)->verification.response.empty());
    CHECK_FALSE((*edited)->inputs_unopenable);
    auto intact = (*reports)->find_archived("ver_p_1");
    REQUIRE(intact.ok());
    CHECK_FALSE((*intact)->report_unopenable);
    auto page = (*reports)->archived_page(10000, 10010, "", 10);
    REQUIRE(page.ok());
    REQUIRE(page->size() == 5);
    for (const auto& row : *page) {
      INFO(row.verification.id);
      CHECK(row.report_unopenable == (row.verification.id == "ver_p_2"));
    }
    auto plain = (*reports)->find("ver_p_2", "case-system");
    REQUIRE_FALSE(plain.ok());
    CHECK(plain.error().code == "corrupt_state");
  }
}

TEST_CASE("cluster: retention erases old reports, review records and finished batches on SQLCipher and on PostgreSQL",
          "[cluster][store]") {
  on_both_backends(check_purge);
}

TEST_CASE("retention: a pass erases what is past each period and audits the counts, not the contents",
          "[store][retention]") {
  TempDir dir;
  auto reports = b::SqlcipherReportStore::open(dir.path / "state.db", kKey);
  auto reviews = b::SqlcipherReviewStore::open(dir.path / "review.db", kKey);
  auto log = hfv::audit::AuditLog::open(dir.path / "audit.db", kKey);
  REQUIRE(reports.ok());
  REQUIRE(reviews.ok());
  REQUIRE(log.ok());
  const std::int64_t day = std::int64_t{24} * 3600;
  const std::int64_t now = 1000 * day;  // injected: no clock
  REQUIRE((*reports)->insert_running(running("ver_old", "", now - 10 * day)).ok());
  REQUIRE((*reports)->finish("ver_old", 200, R"({"outcome":"eligible"})").ok());
  REQUIRE((*reports)->insert_running(running("ver_new", "", now - 2 * day)).ok());
  REQUIRE((*reports)->finish("ver_new", 200, R"({"outcome":"eligible"})").ok());
  REQUIRE((*reviews)->record(review("ver_old", "HRB-1", "2025-05-01", now - 10 * day)).ok());
  // Two batches' output folders: one last changed 40 days ago, one 2 days.
  const auto outputs = dir.path / "batches";
  auto at = [](std::int64_t unix_seconds) {
    return std::chrono::file_clock::from_sys(std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds)));
  };
  for (const auto& [name, age] : {std::pair{"bat_old", 40}, std::pair{"bat_new", 2}}) {
    std::filesystem::create_directories(outputs / name);
    std::ofstream(outputs / name / "changes.csv") << "case_id\n";
    std::filesystem::last_write_time(outputs / name, at(now - age * day));
  }
  // Reports kept 5 days, reviews 30: only the old report and the old
  // batch's outputs go.
  auto pass = b::run_retention(**reports, reviews->get(), **log, {5, 30, outputs}, now);
  REQUIRE(pass.ok());
  CHECK(pass->reports == 1);
  CHECK(pass->reviews.reviews == 0);
  CHECK(pass->batch_outputs == 1);
  CHECK_FALSE(std::filesystem::exists(outputs / "bat_old"));
  CHECK(std::filesystem::exists(outputs / "bat_new" / "changes.csv"));
  CHECK_FALSE((*reports)->find("ver_old", "case-system")->has_value());
  CHECK((*reports)->find("ver_new", "case-system")->has_value());
  CHECK((*reviews)->find("ver_old")->has_value());
  auto rows = (*log)->read(1, 100);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  const auto record = nlohmann::json::parse(rows->front().body);
  CHECK(record["action"] == "retention.purge");
  CHECK(record["detail"] == "reports=1 reviews=0 batches=0 batch_outputs=1 reports_days=5 reviews_days=30");
  CHECK(rows->front().body.find("eligible") == std::string::npos);
  // Nothing left to erase: nothing audited.
  REQUIRE(b::run_retention(**reports, reviews->get(), **log, {5, 30, outputs}, now).ok());
  CHECK((*log)->read(1, 100)->size() == 1);
  // 0 keeps everything.
  REQUIRE(b::run_retention(**reports, reviews->get(), **log, {0, 0, outputs}, now + 100 * day).ok());
  CHECK((*reports)->find("ver_new", "case-system")->has_value());
  CHECK(std::filesystem::exists(outputs / "bat_new"));
}

TEST_CASE("cluster: the store keyring row is made once and shared, random on a new database, derived on one that "
          "existed, and re-wrapped by a master rotation",
          "[cluster][store][keys]") {
  namespace crypto = hfv::crypto;
  PgServer pg;
  b::Config config;
  config.storage.backend = b::StorageBackend::kPostgresql;
  config.storage.postgresql.conninfo = pg.conninfo();
  const crypto::SecretKey master = crypto::SecretKey::random();
  auto same = [](const crypto::SecretKey& x, const crypto::SecretKey& y) {
    return crypto::constant_time_equal(x.bytes(), y.bytes());
  };
  SECTION("a new database") {
    auto first = b::open_store_keys(config, master);
    REQUIRE(first.ok());
    auto second = b::open_store_keys(config, master);  // another broker of the cluster
    REQUIRE(second.ok());
    CHECK(same(first->state, second->state));
    CHECK(same(first->state, first->review));
    CHECK(same(first->consent_pseudonym, second->consent_pseudonym));
    CHECK(same(first->audit_pseudonym, second->audit_pseudonym));
    CHECK_FALSE(same(first->state, crypto::derive_key(master, b::pg::kPurposeStateColumns)));
    CHECK_FALSE(same(first->consent_pseudonym, crypto::derive_key(master, crypto::kPurposeMemberPseudonym)));
    // One pseudonym key per purpose on a new database.
    CHECK_FALSE(same(first->consent_pseudonym, first->audit_pseudonym));
    const crypto::SecretKey next = crypto::SecretKey::random();
    REQUIRE(b::rewrap_store_keys(config, master, next).ok());
    REQUIRE(b::rewrap_store_keys(config, master, next).ok());  // again: done already
    auto old = b::open_store_keys(config, master);
    REQUIRE_FALSE(old.ok());
    CHECK(old.error().code == "bad_key");
    auto rotated = b::open_store_keys(config, next);
    REQUIRE(rotated.ok());
    CHECK(same(rotated->state, first->state));
    CHECK(same(rotated->consent_pseudonym, first->consent_pseudonym));
    CHECK(same(rotated->audit_pseudonym, first->audit_pseudonym));
  }
  SECTION("a keyring row of the first format, with one pseudonym key") {
    {
      auto db = hfv::storage::PostgresqlDb::connect(pg.conninfo());
      REQUIRE(db.ok());
      REQUIRE(b::pg::migrate(**db).ok());
      b::StoreKeyring old;
      old.store = "cluster";
      old.db_key = crypto::SecretKey::random();
      old.pseudonym_key = crypto::SecretKey::random();
      REQUIRE((*db)->run("INSERT INTO store_keyring (name, keyring) VALUES ('cluster', $1)",
                         {old.sealed_text(b::store_kek(master))})
                  .ok());
      auto keys = b::open_store_keys(config, master);
      REQUIRE(keys.ok());
      CHECK(same(keys->consent_pseudonym, *old.pseudonym_key));
      CHECK(same(keys->audit_pseudonym, *old.pseudonym_key));
    }
    const crypto::SecretKey next = crypto::SecretKey::random();
    REQUIRE(b::rewrap_store_keys(config, master, next).ok());
    auto rotated = b::open_store_keys(config, next);
    REQUIRE(rotated.ok());
    CHECK(same(rotated->consent_pseudonym, rotated->audit_pseudonym));
  }
  SECTION("a database the broker used before the keyring") {
    auto before = b::PostgresqlReportStore::open(pg.conninfo(), crypto::derive_key(master, b::pg::kPurposeStateColumns),
                                                 "node-a");
    REQUIRE(before.ok());
    REQUIRE((*before)->insert_running(running("ver_before", "", 100)).ok());
    REQUIRE((*before)->finish("ver_before", 200, R"({"outcome":"eligible"})").ok());
    auto keys = b::open_store_keys(config, master);
    REQUIRE(keys.ok());
    CHECK(same(keys->state, crypto::derive_key(master, b::pg::kPurposeStateColumns)));
    // An existing installation keeps its derived pseudonym key, for both purposes.
    CHECK(same(keys->consent_pseudonym, crypto::derive_key(master, crypto::kPurposeMemberPseudonym)));
    CHECK(same(keys->audit_pseudonym, crypto::derive_key(master, crypto::kPurposeMemberPseudonym)));
    auto after = b::PostgresqlReportStore::open(pg.conninfo(), keys->state, "node-a");
    REQUIRE(after.ok());
    CHECK((*after)->find("ver_before", "case-system")->value().response == R"({"outcome":"eligible"})");
  }
}

namespace {

// An appeal's input archive: its own text, under policy version "v7".
b::ArchivedInputs appeal_inputs(const std::string& id) {
  b::ArchivedInputs inputs;
  inputs.text = R"({"format":"hfv-inputs/v1","appeal":")" + id + R"("})";
  inputs.sha256 = std::string(64, 'f');
  inputs.policy_version = "v7";
  inputs.policy_jurisdiction = "230100";
  inputs.policy_content = R"({"version":"v7"})";
  return inputs;
}

// Appeals (issue 19): the new report, its archive and the old report's
// superseded_by mark in one transaction; a second appeal of the same report
// changes nothing; a new report that cannot be stored leaves no mark.
void check_supersede(b::ReportStore& reports) {
  REQUIRE(reports.insert_running(running("ver_s_old", "", 1000)).ok());
  REQUIRE(reports.finish_issued("ver_s_old", R"({"outcome":"ineligible"})", appeal_inputs("ver_s_old")).ok());
  CHECK(reports.find("ver_s_old", "case-system")->value().superseded_by.empty());

  REQUIRE(reports.insert_running(running("ver_s_new", "", 2000)).ok());
  REQUIRE(reports.finish_appeal("ver_s_new", R"({"outcome":"eligible"})", appeal_inputs("ver_s_new"), "ver_s_old")
              .ok());
  const auto old = reports.find("ver_s_old", "case-system");
  REQUIRE(old.ok());
  CHECK((*old)->superseded_by == "ver_s_new");
  CHECK((*old)->response == R"({"outcome":"ineligible"})");  // the old report's bytes stay
  const auto fresh = reports.find_archived("ver_s_new");
  REQUIRE(fresh.ok());
  CHECK((*fresh)->verification.state == b::VerificationState::kDone);
  CHECK((*fresh)->verification.superseded_by.empty());
  CHECK((*fresh)->inputs.text == appeal_inputs("ver_s_new").text);
  // Fair use finds the new report of the household, never the superseded one.
  CHECK(reports.latest_done("case-system", "household-1", 0)->value().id == "ver_s_new");

  // A second appeal of the superseded report: refused, nothing changed.
  REQUIRE(reports.insert_running(running("ver_s_late", "", 3000)).ok());
  const auto late = reports.finish_appeal("ver_s_late", "{}", appeal_inputs("ver_s_late"), "ver_s_old");
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().code == "already_superseded");
  CHECK(reports.find("ver_s_old", "case-system")->value().superseded_by == "ver_s_new");
  CHECK(reports.find_archived("ver_s_late")->value().verification.state == b::VerificationState::kRunning);
  CHECK(reports.find_archived("ver_s_late")->value().inputs.text.empty());

  // The new report cannot be stored (its archive row exists already): the
  // mark is rolled back with it.
  REQUIRE(reports.insert_running(running("ver_s_other", "", 3000)).ok());
  REQUIRE(reports.finish_issued("ver_s_other", "{}", appeal_inputs("ver_s_other")).ok());
  CHECK_FALSE(reports.finish_appeal("ver_s_new", "{}", appeal_inputs("ver_s_new"), "ver_s_other").ok());
  CHECK(reports.find("ver_s_other", "case-system")->value().superseded_by.empty());
}

}  // namespace

TEST_CASE("cluster: an appeal's report and the old report's superseded mark are stored together or not at all on "
          "SQLCipher and on PostgreSQL",
          "[cluster][store][appeal]") {
  SECTION("SQLCipher") {
    TempDir dir;
    auto reports = b::SqlcipherReportStore::open(dir.path / "state.db", kKey);
    REQUIRE(reports.ok());
    check_supersede(**reports);
  }
  SECTION("PostgreSQL") {
    PgServer pg;
    auto reports = b::PostgresqlReportStore::open(pg.conninfo(), kKey, "node-a");
    REQUIRE(reports.ok());
    check_supersede(**reports);
  }
}
