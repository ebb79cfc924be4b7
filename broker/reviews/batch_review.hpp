// Review logic for batches, kept apart from I/O so it is unit-testable:
//  - detect_changes(): a re-verification compared with the household's
//    previous one, each change with a severity for case workers;
//  - change_list_*() and statistics_*(): a batch's change list (JSON, CSV,
//    most severe first) and its statistics (JSON, CSV, a small SVG chart);
//  - period_statistics_json(): the same figures over a period of days.
// Money is integer fen throughout; shares are compared exactly in integers.
// Outputs name households by case id and never carry ID numbers.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "broker/verification/request.hpp"
#include "broker/verification/review_record.hpp"
#include "broker/store/review_store.hpp"
#include "common/date.hpp"
#include "common/records.hpp"
#include "policies/engine.hpp"

namespace hfv::broker {

// Severities, highest first in change lists.
inline constexpr int kSeverityOutcome = 5;
inline constexpr int kSeverityClassification = 4;
inline constexpr int kSeverityNewHolding = 3;
inline constexpr int kSeverityFigure = 2;
inline constexpr int kSeverityFailedSources = 1;

struct ChangeSettings {
  // A per-capita figure "moved" when |new - old| * 1000 > old * share_permille.
  std::int64_t share_permille = 100;
};

struct Change {
  std::string kind;  // outcome | classification | income_per_capita | assets_per_capita |
                     // new_real_estate | new_vehicle | new_business | sources_failed
  int severity = 0;
  std::string from;  // previous value (money as decimal yuan), may be empty
  std::string to;
  std::string detail;
};

// `previous` is the household's previous record; without one nothing is
// compared, except that failed sources are always reported.
std::vector<Change> detect_changes(const ReviewRecord* previous, const ReviewRecord& current,
                                   const ChangeSettings& settings);
nlohmann::json changes_json(const std::vector<Change>& changes);

// The change list of a batch from its items (each item carries its changes),
// most severe first, then by case id.
nlohmann::json change_list_json(const std::string& batch_id, const std::vector<BatchItem>& items);
std::string change_list_csv(const std::vector<BatchItem>& items);

nlohmann::json statistics_json(const BatchRow& batch, const std::vector<BatchItem>& items);

// One CSV cell of free text for a spreadsheet: a text starting with = + - @
// (or a tab or carriage return) is prefixed with an apostrophe so it is
// never read as a formula, then quoted as csv_field quotes (comma, quote,
// line break). The what-if's changed cases use it (broker/reviews/what_if.hpp).
std::string csv_text_cell(const std::string& text);

// Statistics of a period (the periodic statistics the policies ask for):
// the issued verifications completed between two local calendar days.
struct PeriodSpec {
  Date from, to;                 // inclusive, local days
  int utc_offset_minutes = 480;  // the centre's local time (China Standard Time)
  std::string jurisdiction;      // the filter asked for, echoed; empty: all of the caller's
};
// The unix-second interval [from 00:00, to+1 00:00) of the spec's local days.
std::pair<std::int64_t, std::int64_t> period_interval(const PeriodSpec& spec);
// `records` are the period's issued records (ReviewStore::issued_between),
// already limited to the caller's jurisdictions, oldest first. Counts:
// verifications (all, in batches, interactive, with failed sources; failed
// sources per agency; average latency where recorded) and households (each
// by its latest verification in the period: by outcome, classification,
// programme and jurisdiction), and verifications per local month.
nlohmann::json period_statistics_json(const PeriodSpec& spec, const std::vector<ReviewRecord>& records);

// Batch or period statistics as CSV rows "section,key,value".
std::string statistics_csv(const nlohmann::json& statistics);
// Households per jurisdiction by outcome, as stacked horizontal bars.
std::string statistics_svg(const nlohmann::json& statistics, const std::string& title);

}  // namespace hfv::broker
