// Unit tests for periodic reviews: change detection, change lists,
// statistics (broker/reviews/batch_review.hpp) and the encrypted review store.
#include <catch2/catch.hpp>

#include <fstream>

#include "broker/reviews/batch_review.hpp"
#include "audit/audit_log.hpp"
#include "broker/store/sqlcipher/review_store.hpp"
#include "crypto/keys.hpp"
#include "storage/sqlcipher_db.hpp"
#include "tests/unit/temp_dir.hpp"

using hfv::broker::BatchItem;
using hfv::broker::BatchRow;
using hfv::broker::ChangeSettings;
using hfv::broker::ReviewRecord;
using hfv::broker::SqlcipherReviewStore;
using nlohmann::json;

namespace {

ReviewRecord record(const std::string& id, const std::string& case_id) {
  ReviewRecord r;
  r.verification_id = id;
  r.principal = "case-system";
  r.case_id = case_id;
  r.jurisdiction = "230100";
  r.programme = "dibao";
  r.area = "urban";
  r.reference_date = "2026-11-01";
  r.authorization_id = "auth_1";
  r.members_json = R"([{"id_number":"230102197503120016","name":"x","relation":"applicant"}])";
  r.outcome = "eligible";
  r.classification = "dibao";
  r.income_per_capita_fen = 50000;
  r.assets_per_capita_fen = 100000;
  r.review_months = 12;
  r.review_category = "default";
  r.next_review = "2027-11-01";
  return r;
}

std::vector<std::string> kinds(const std::vector<hfv::broker::Change>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) out.push_back(c.kind);
  return out;
}

}  // namespace

TEST_CASE("review: an unchanged household has no changes, a first verification only reports failed sources",
          "[batch][review]") {
  const ReviewRecord before = record("v1", "C-1");
  ReviewRecord now = record("v2", "C-1");
  CHECK(hfv::broker::detect_changes(&before, now, ChangeSettings{}).empty());
  now.failed_sources = {"bank", "tax"};
  CHECK(kinds(hfv::broker::detect_changes(nullptr, now, ChangeSettings{})) == std::vector<std::string>{"sources_failed"});
  CHECK(hfv::broker::detect_changes(nullptr, now, ChangeSettings{})[0].detail == "bank,tax");
}

TEST_CASE("review: per-capita figures move only beyond the configured share, compared exactly",
          "[batch][review]") {
  const ReviewRecord before = record("v1", "C-1");
  ReviewRecord now = record("v2", "C-1");
  ChangeSettings ten_percent;  // 100 per mille
  now.income_per_capita_fen = 55000;  // exactly +10%: not beyond
  CHECK(hfv::broker::detect_changes(&before, now, ten_percent).empty());
  now.income_per_capita_fen = 55001;  // one fen beyond
  auto changes = hfv::broker::detect_changes(&before, now, ten_percent);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == "income_per_capita");
  CHECK(changes[0].from == "500.00");
  CHECK(changes[0].to == "550.01");
  now.income_per_capita_fen = 50000;
  now.assets_per_capita_fen = 89999;  // -10.001%
  CHECK(kinds(hfv::broker::detect_changes(&before, now, ten_percent)) ==
        std::vector<std::string>{"assets_per_capita"});
  now.assets_per_capita_fen = std::nullopt;  // unknown now: not compared
  CHECK(hfv::broker::detect_changes(&before, now, ten_percent).empty());
}

TEST_CASE("review: outcome, classification and new holdings are detected with severities", "[batch][review]") {
  ReviewRecord before = record("v1", "C-1");
  before.vehicles = {"黑A***12"};
  ReviewRecord now = record("v2", "C-1");
  now.outcome = "ineligible";
  now.classification = "none";
  now.vehicles = {"黑A***12", "黑A***12"};  // a second vehicle with the same masked plate is still new
  now.real_estate = {"黑(2026)***01"};
  now.businesses = {};
  const auto changes = hfv::broker::detect_changes(&before, now, ChangeSettings{});
  CHECK(kinds(changes) == std::vector<std::string>{"outcome", "classification", "new_real_estate", "new_vehicle"});
  CHECK(changes[0].severity == hfv::broker::kSeverityOutcome);
  CHECK(changes[0].from == "eligible");
  CHECK(changes[0].to == "ineligible");
  CHECK(changes[3].severity == hfv::broker::kSeverityNewHolding);
}

TEST_CASE("review: the change list is ordered by severity and its CSV is quoted", "[batch][review]") {
  std::vector<BatchItem> items(3);
  items[0].case_id = "B";
  items[0].state = hfv::broker::ItemState::kDone;
  items[0].severity = 1;
  items[0].changes_json = R"([{"kind":"sources_failed","severity":1,"detail":"bank,tax"}])";
  items[1].case_id = "A";
  items[1].state = hfv::broker::ItemState::kDone;
  items[2].case_id = "C";
  items[2].state = hfv::broker::ItemState::kDone;
  items[2].severity = 5;
  items[2].changes_json = R"([{"kind":"outcome","severity":5,"from":"eligible","to":"ineligible"}])";
  const json list = hfv::broker::change_list_json("bat_1", items);
  REQUIRE(list["changes"].size() == 2);
  CHECK(list["changes"][0]["case_id"] == "C");
  CHECK(list["changes"][1]["case_id"] == "B");
  CHECK(list["households_with_changes"] == 2);
  const std::string csv = hfv::broker::change_list_csv(items);
  CHECK(csv.find("5,outcome,C,") != std::string::npos);
  CHECK(csv.find("\"bank,tax\"") != std::string::npos);
  CHECK(csv.find("5,outcome") < csv.find("1,sources_failed"));
}

TEST_CASE("review: statistics add up and the chart names every jurisdiction", "[batch][review]") {
  BatchRow batch;
  batch.id = "bat_1";
  batch.state = hfv::broker::BatchState::kDone;
  batch.total = 3;
  auto item = [](std::string case_id, std::string place, std::string state, std::int64_t latency,
                 std::string outcome) {
    BatchItem i;
    i.case_id = std::move(case_id);
    i.jurisdiction = std::move(place);
    i.state = *hfv::broker::parse_item_state(state);
    i.latency_ms = latency;
    i.outcome = std::move(outcome);
    i.classification = i.outcome == "eligible" ? "dibao" : "none";
    return i;
  };
  std::vector<BatchItem> items{item("A", "230100", "done", 10, "eligible"), item("B", "310000", "done", 30, "ineligible"),
                               item("C", "310000", "failed", 0, "")};
  items[0].failed_sources = {"bank"};
  const json stats = hfv::broker::statistics_json(batch, items);
  CHECK(stats["done"] == 2);
  CHECK(stats["failed"] == 1);
  CHECK(stats["by_outcome"]["eligible"] == 1);
  CHECK(stats["by_jurisdiction"]["310000"]["households"] == 2);
  CHECK(stats["failed_sources_by_agency"]["bank"] == 1);
  CHECK(stats["average_latency_ms"] == 20);
  const std::string svg = hfv::broker::statistics_svg(stats, "Batch bat_1");
  CHECK(svg.starts_with("<svg"));
  CHECK(svg.find(">230100<") != std::string::npos);
  CHECK(svg.find(">310000<") != std::string::npos);
  CHECK(hfv::broker::statistics_csv(stats).find("jurisdiction,310000,2") != std::string::npos);
}

TEST_CASE("review store: encrypted, previous and due selection, batch items survive reopening",
          "[batch][review]") {
  hfv::testing::TempDir dir("hfv-review");
  const auto key = hfv::crypto::SecretKey::random();
  const auto path = dir.path / "review.db";
  {
    auto store = SqlcipherReviewStore::open(path, key);
    REQUIRE(store.ok());
    ReviewRecord first = record("v1", "C-1");
    first.next_review = "2026-12-01";
    REQUIRE((*store)->record(first).ok());
    ReviewRecord second = record("v2", "C-1");
    second.next_review = "2027-06-01";
    REQUIRE((*store)->record(second).ok());
    ReviewRecord other = record("v3", "C-2");
    other.next_review = "2026-12-15";
    REQUIRE((*store)->record(other).ok());

    auto current = (*store)->find("v2");
    REQUIRE(current.ok());
    REQUIRE(current->has_value());
    auto previous = (*store)->previous(**current);
    REQUIRE(previous.ok());
    REQUIRE(previous->has_value());
    CHECK((*previous)->verification_id == "v1");
    CHECK((*previous)->income_per_capita_fen == 50000);

    // Only the latest record of a household counts: C-1 is due in 2027 now.
    auto due = (*store)->due("case-system", "2026-12-31", {"230100"});
    REQUIRE(due.ok());
    REQUIRE(due->size() == 1);
    CHECK(due->front().case_id == "C-2");
    auto elsewhere = (*store)->due("case-system", "2026-12-31", {"310000"});
    REQUIRE(elsewhere.ok());
    CHECK(elsewhere->empty());

    BatchRow batch;
    batch.id = "bat_1";
    batch.principal = "case-system";
    batch.operator_id = "op";
    batch.mode = hfv::broker::BatchMode::kHouseholds;
    batch.spec = "{}";
    batch.state = hfv::broker::BatchState::kRunning;
    batch.total = 2;
    batch.created_unix = 1;
    std::vector<BatchItem> items(2);
    items[0].index = 0;
    items[0].case_id = "C-1";
    items[1].index = 1;
    items[1].case_id = "C-2";
    REQUIRE((*store)->create_batch(batch, items).ok());
    items[0].state = hfv::broker::ItemState::kDone;
    items[0].attempt = 1;
    items[0].failed_sources = {"tax"};
    REQUIRE((*store)->update_items("bat_1", {items[0]}).ok());
  }
  const std::string head = [&] {
    std::ifstream in(path, std::ios::binary);
    std::string s(16, '\0');
    in.read(s.data(), 16);
    return s;
  }();
  CHECK(head != std::string("SQLite format 3\0", 16));
  auto wrong = SqlcipherReviewStore::open(path, hfv::crypto::SecretKey::random());
  CHECK_FALSE(wrong.ok());
  auto store = SqlcipherReviewStore::open(path, key);
  REQUIRE(store.ok());
  auto items = (*store)->items("bat_1");
  REQUIRE(items.ok());
  REQUIRE(items->size() == 2);
  CHECK((*items)[0].state == hfv::broker::ItemState::kDone);
  CHECK((*items)[0].attempt == 1);
  CHECK((*items)[0].failed_sources == std::vector<std::string>{"tax"});
  CHECK((*items)[1].state == hfv::broker::ItemState::kPending);
  REQUIRE((*store)->cancel_pending("bat_1").ok());
  auto running = (*store)->batches_in_state(hfv::broker::BatchState::kRunning);
  REQUIRE(running.ok());
  CHECK(running->size() == 1);
}

TEST_CASE("review store: a pending record does not count until the audit shows its report issued",
          "[batch][review]") {
  // Real parts: the encrypted review store and a real audit log file.
  hfv::testing::TempDir dir("hfv-review-pending");
  auto store = SqlcipherReviewStore::open(dir.path / "review.db", hfv::crypto::SecretKey::random());
  REQUIRE(store.ok());
  auto audit = hfv::audit::AuditLog::open(dir.path / "audit.db", hfv::crypto::SecretKey::random());
  REQUIRE(audit.ok());

  ReviewRecord earlier = record("v-earlier", "C-9");
  earlier.next_review = "2026-12-01";
  REQUIRE((*store)->record(earlier).ok());
  // Two later verifications of the same household, both pending when the
  // process "crashed": the audit holds the report of one of them only.
  ReviewRecord issued = record("v-issued", "C-9");
  issued.next_review = "2026-12-05";
  issued.outcome = "ineligible";
  REQUIRE((*store)->record_pending(issued).ok());
  ReviewRecord never = record("v-never", "C-9");
  never.next_review = "2027-12-05";
  REQUIRE((*store)->record_pending(never).ok());

  // Pending records are invisible to due() and previous().
  auto due = (*store)->due("case-system", "2026-12-31", {});
  REQUIRE(due.ok());
  REQUIRE(due->size() == 1);
  CHECK(due->front().verification_id == "v-earlier");
  auto pending = (*store)->pending();
  REQUIRE(pending.ok());
  CHECK(pending->size() == 2);

  hfv::audit::AuditRecord report;
  report.action = "verification.report";
  report.principal = "case-system";
  report.request_id = "v-issued";
  report.case_id = "C-9";
  report.status = "issued";
  report.outcome = "ineligible";
  hfv::audit::AuditRecord other_case = report;  // same id under another case does not count
  other_case.request_id = "v-never";
  other_case.case_id = "C-10";
  REQUIRE((*audit)->append_blocking({report, other_case}).ok());

  auto settled = hfv::broker::settle_pending_reviews(**store, **audit);
  REQUIRE(settled.ok());
  CHECK(settled->issued == 1);
  CHECK(settled->dropped == 1);
  pending = (*store)->pending();
  REQUIRE(pending.ok());
  CHECK(pending->empty());
  CHECK_FALSE((*store)->find("v-never")->has_value());

  due = (*store)->due("case-system", "2026-12-31", {});
  REQUIRE(due.ok());
  REQUIRE(due->size() == 1);
  CHECK(due->front().verification_id == "v-issued");
  auto current = (*store)->find("v-issued");
  REQUIRE(current.ok());
  REQUIRE(current->has_value());
  auto previous = (*store)->previous(**current);
  REQUIRE(previous.ok());
  REQUIRE(previous->has_value());
  CHECK((*previous)->verification_id == "v-earlier");
}

TEST_CASE("review: statistics of a period count households by their latest verification, in local days",
          "[batch][review]") {
  using hfv::broker::PeriodSpec;
  PeriodSpec spec;
  spec.from = *hfv::Date::parse("2026-10-01");
  spec.to = *hfv::Date::parse("2026-11-30");
  spec.utc_offset_minutes = 480;
  // Local days: 2026-10-01 00:00 +08:00 is 2026-09-30T16:00Z.
  const auto [from_unix, to_unix] = hfv::broker::period_interval(spec);
  CHECK(from_unix == 1790784000);  // 2026-09-30T16:00:00Z
  CHECK(to_unix == 1796054400);    // 2026-11-30T16:00:00Z
  CHECK(to_unix - from_unix == 61 * 86400);

  std::vector<ReviewRecord> records;
  auto add = [&](std::string id, std::string case_id, std::string place, std::string outcome,
                 std::int64_t completed, std::optional<std::int64_t> latency) {
    ReviewRecord r = record(std::move(id), std::move(case_id));
    r.jurisdiction = std::move(place);
    r.outcome = std::move(outcome);
    r.classification = r.outcome == "eligible" ? "dibao" : "none";
    r.completed_unix = completed;
    r.latency_ms = latency;
    records.push_back(std::move(r));
  };
  // C-1 twice: ineligible in October, then eligible (its latest) in a batch.
  add("v1", "C-1", "230100", "ineligible", from_unix + 3600, 100);
  // 2026-10-31T17:00Z is 2026-11-01 01:00 local: November.
  add("v2", "C-1", "230100", "eligible", 1793466000, 300);
  records.back().batch_id = "bat_1";
  records.back().failed_sources = {"bank", "tax"};
  add("v3", "C-2", "310000", "indeterminate", 1793466000 + 86400, std::nullopt);  // kept before latency was
  records.back().failed_sources = {"bank"};
  // Same case id in another jurisdiction: another household.
  add("v4", "C-1", "310000", "eligible", 1793466000 + 2 * 86400, 200);

  const json stats = hfv::broker::period_statistics_json(spec, records);
  CHECK(stats["from"] == "2026-10-01");
  CHECK(stats["to"] == "2026-11-30");
  CHECK(stats["verifications"] == 4);
  CHECK(stats["verifications_in_batches"] == 1);
  CHECK(stats["verifications_interactive"] == 3);
  CHECK(stats["verifications_with_failed_sources"] == 2);
  CHECK(stats["households"] == 3);
  CHECK(stats["by_outcome"] == json{{"eligible", 2}, {"indeterminate", 1}});
  CHECK(stats["by_classification"] == json{{"dibao", 2}, {"none", 1}});
  CHECK(stats["by_programme"] == json{{"dibao", 3}});
  CHECK(stats["by_jurisdiction"]["230100"]["households"] == 1);
  CHECK(stats["by_jurisdiction"]["310000"]["households"] == 2);
  CHECK(stats["by_jurisdiction"]["310000"]["by_outcome"] == json{{"eligible", 1}, {"indeterminate", 1}});
  CHECK(stats["by_month"]["2026-10"]["verifications"] == 1);
  CHECK(stats["by_month"]["2026-10"]["by_outcome"] == json{{"ineligible", 1}});
  CHECK(stats["by_month"]["2026-11"]["verifications"] == 3);
  CHECK(stats["failed_sources_by_agency"] == json{{"bank", 2}, {"tax", 1}});
  CHECK(stats["latency_measured"] == 3);
  CHECK(stats["average_latency_ms"] == 200);
  CHECK_FALSE(stats.contains("jurisdiction"));
  CHECK(stats.dump().find("C-1") == std::string::npos);  // counts only, no case ids

  const std::string csv = hfv::broker::statistics_csv(stats);
  CHECK(csv.starts_with("section,key,value\n"));
  CHECK(csv.find("\nperiod,verifications,4\n") != std::string::npos);
  CHECK(csv.find("\nperiod,households,3\n") != std::string::npos);
  CHECK(csv.find("\nfailed_sources_by_agency,bank,2\n") != std::string::npos);
  CHECK(csv.find("\njurisdiction,310000,2\n") != std::string::npos);
  CHECK(csv.find("\nmonth,2026-11,3\n") != std::string::npos);
  CHECK(csv.find("\nmonth_outcome,2026-10:ineligible,1\n") != std::string::npos);
  const std::string svg = hfv::broker::statistics_svg(stats, "2026-10-01 to 2026-11-30");
  CHECK(svg.find(">230100<") != std::string::npos);
  CHECK(svg.find("2026-10-01 to 2026-11-30: households by outcome") != std::string::npos);

  const json none = hfv::broker::period_statistics_json(spec, {});
  CHECK(none["verifications"] == 0);
  CHECK(none["households"] == 0);
  CHECK(none["average_latency_ms"] == 0);
}

TEST_CASE("review store: records issued in a period, with latency, from a database made before latency was kept",
          "[batch][review]") {
  hfv::testing::TempDir dir("hfv-review-period");
  const auto key = hfv::crypto::SecretKey::random();
  const auto path = dir.path / "review.db";
  {
    // The reviews table as the first version made it (no issued, no latency_ms).
    auto old = hfv::storage::SqlcipherDb::open(path, key, /*create=*/true);
    REQUIRE(old.ok());
    REQUIRE((*old)->exec(
                     "CREATE TABLE reviews (seq INTEGER PRIMARY KEY AUTOINCREMENT, verification_id TEXT NOT NULL UNIQUE,"
                     " principal TEXT NOT NULL, case_id TEXT NOT NULL, jurisdiction TEXT NOT NULL,"
                     " programme TEXT NOT NULL, area TEXT NOT NULL, reference_date TEXT NOT NULL,"
                     " authorization_id TEXT NOT NULL, members TEXT NOT NULL, outcome TEXT NOT NULL,"
                     " classification TEXT NOT NULL, income_pc_fen INTEGER, assets_pc_fen INTEGER, benefit_fen INTEGER,"
                     " real_estate TEXT NOT NULL, vehicles TEXT NOT NULL, businesses TEXT NOT NULL,"
                     " failed_sources TEXT NOT NULL, review_months INTEGER NOT NULL, review_category TEXT NOT NULL,"
                     " next_review TEXT NOT NULL, batch_id TEXT NOT NULL, completed_unix INTEGER NOT NULL);"
                     "INSERT INTO reviews (verification_id, principal, case_id, jurisdiction, programme, area,"
                     " reference_date, authorization_id, members, outcome, classification, real_estate, vehicles,"
                     " businesses, failed_sources, review_months, review_category, next_review, batch_id,"
                     " completed_unix) VALUES ('v-old', 'case-system', 'C-0', '230100', 'dibao', 'urban',"
                     " '2026-01-01', 'auth_0', '[]', 'eligible', 'dibao', '[]', '[]', '[]', '[]', 12, 'default',"
                     " '2027-01-01', '', 1000);")
                .ok());
  }
  auto store = SqlcipherReviewStore::open(path, key);
  REQUIRE(store.ok());
  ReviewRecord in = record("v-in", "C-1");
  in.completed_unix = 2000;
  in.latency_ms = 42;
  REQUIRE((*store)->record(in).ok());
  ReviewRecord later = record("v-later", "C-2");
  later.completed_unix = 3000;  // at the end of the interval: outside
  REQUIRE((*store)->record(later).ok());
  ReviewRecord pending = record("v-pending", "C-3");
  pending.completed_unix = 2500;
  REQUIRE((*store)->record_pending(pending).ok());
  ReviewRecord theirs = record("v-theirs", "C-4");
  theirs.principal = "other-system";
  theirs.completed_unix = 2600;
  REQUIRE((*store)->record(theirs).ok());

  auto mine = (*store)->issued_between(1000, 3000, "case-system");
  REQUIRE(mine.ok());
  REQUIRE(mine->size() == 2);
  CHECK((*mine)[0].verification_id == "v-old");
  CHECK_FALSE((*mine)[0].latency_ms.has_value());  // the old record: no latency, not zero
  CHECK((*mine)[1].verification_id == "v-in");
  CHECK((*mine)[1].latency_ms == 42);
  CHECK((*mine)[1].members_json.empty());  // no ID numbers for statistics
  auto everyone = (*store)->issued_between(1001, 3001, "");
  REQUIRE(everyone.ok());
  REQUIRE(everyone->size() == 3);
  CHECK((*everyone)[0].verification_id == "v-in");
  CHECK((*everyone)[1].verification_id == "v-later");
  CHECK((*everyone)[2].verification_id == "v-theirs");
  // Records keep their members where a review needs them.
  auto found = (*store)->find("v-in");
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->members_json.find("230102197503120016") != std::string::npos);
  CHECK((*found)->latency_ms == 42);
}
