// Unit tests for periodic reviews: change detection, change lists,
// statistics (broker/batch_review.hpp) and the encrypted review store.
#include <catch2/catch.hpp>

#include <fstream>

#include "broker/batch_review.hpp"
#include "audit/audit_log.hpp"
#include "broker/review_store.hpp"
#include "crypto/keys.hpp"
#include "tests/unit/temp_dir.hpp"

using hfv::broker::BatchItem;
using hfv::broker::BatchRow;
using hfv::broker::ChangeSettings;
using hfv::broker::ReviewRecord;
using hfv::broker::ReviewStore;
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
  items[0].state = "done";
  items[0].severity = 1;
  items[0].changes_json = R"([{"kind":"sources_failed","severity":1,"detail":"bank,tax"}])";
  items[1].case_id = "A";
  items[1].state = "done";
  items[2].case_id = "C";
  items[2].state = "done";
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
  batch.state = "done";
  batch.total = 3;
  auto item = [](std::string case_id, std::string place, std::string state, std::int64_t latency,
                 std::string outcome) {
    BatchItem i;
    i.case_id = std::move(case_id);
    i.jurisdiction = std::move(place);
    i.state = std::move(state);
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
  const std::string svg = hfv::broker::statistics_svg(stats);
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
    auto store = ReviewStore::open(path, key);
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
    batch.mode = "households";
    batch.spec = "{}";
    batch.state = "running";
    batch.total = 2;
    batch.created_unix = 1;
    std::vector<BatchItem> items(2);
    items[0].index = 0;
    items[0].case_id = "C-1";
    items[1].index = 1;
    items[1].case_id = "C-2";
    REQUIRE((*store)->create_batch(batch, items).ok());
    items[0].state = "done";
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
  auto wrong = ReviewStore::open(path, hfv::crypto::SecretKey::random());
  CHECK_FALSE(wrong.ok());
  auto store = ReviewStore::open(path, key);
  REQUIRE(store.ok());
  auto items = (*store)->items("bat_1");
  REQUIRE(items.ok());
  REQUIRE(items->size() == 2);
  CHECK((*items)[0].state == "done");
  CHECK((*items)[0].attempt == 1);
  CHECK((*items)[0].failed_sources == std::vector<std::string>{"tax"});
  CHECK((*items)[1].state == "pending");
  REQUIRE((*store)->cancel_pending("bat_1").ok());
  auto running = (*store)->batches_in_state("running");
  REQUIRE(running.ok());
  CHECK(running->size() == 1);
}

TEST_CASE("review store: a pending record does not count until the audit shows its report issued",
          "[batch][review]") {
  // Real parts: the encrypted review store and a real audit log file.
  hfv::testing::TempDir dir("hfv-review-pending");
  auto store = ReviewStore::open(dir.path / "review.db", hfv::crypto::SecretKey::random());
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
