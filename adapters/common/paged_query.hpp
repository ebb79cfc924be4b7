// run_paged_query: the loop every list-shaped agency query shares — send a
// request per page until the agency says there is no more, hash every raw
// answer as evidence, and fail closed: any transport error, non-success
// status or page that does not parse makes the whole source kTimeout or
// kError with no records (never a partial list).
//
// The adapter supplies two pure functions: how to ask for a page (given the
// continuation token, empty for the first page) and how to read one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/adapter.hpp"
#include "common/result.hpp"

namespace hfv::adapters {

struct Page {
  bool not_found = false;           // the agency holds nothing on this person
  NormalisedRecords records;        // this page's records (only the source's own kind)
  std::optional<std::string> next;  // continuation token; nullopt on the last page
  std::optional<long> total;        // total items, when the agency states it
};

// Number of list items in `records` (holdings, income, contributions,
// property, vehicles, businesses), for checking pages against a stated total.
std::size_t item_count(const NormalisedRecords& records);
// Appends `page`'s lists (and single records) to `into`.
void append_records(NormalisedRecords& into, NormalisedRecords&& page);

class AgencyGuard;  // adapters/common/resilience.hpp

struct PagedAgency {
  Source source;
  std::string path;  // appended to the configured base URL
  // The JSON body asking for one page. `token` is empty for the first page.
  std::function<std::string(const MemberQuery&, const std::string& token)> request_body;
  // Reads one answer. `status` is the HTTP status; the parser decides which
  // statuses carry a meaningful answer (e.g. 404 "no such investor").
  std::function<Result<Page>(long status, std::string_view body, const std::string& token)> parse_page;
};

// With a `guard`, every page's request goes through it (limits, retries);
// `attempts` then counts every request actually sent.
boost::asio::awaitable<SourceResult> run_paged_query(HttpClient& http, const AgencyConfig& config,
                                                     const PagedAgency& agency, const MemberQuery& member,
                                                     Deadline deadline, AgencyGuard* guard = nullptr);

// What an answer's outcome code says, for agencies that state one in a
// field named `field`: nullopt when it is `ok` (read on), a not-found Page
// when it is `not_found`, anything else an "agency_error" naming the field
// and the code ("agency answered retCode 9001").
std::optional<Result<Page>> answer_outcome(const std::string& code, std::string_view ok, std::string_view not_found,
                                           std::string_view field);
std::optional<Result<Page>> answer_outcome(std::int64_t code, std::int64_t ok, std::int64_t not_found,
                                           std::string_view field);

// Keeps the last four characters of an account or policy number.
std::string mask_account(std::string_view account);
// Strict decimal-yuan amount that must not be negative.
Result<Money> parse_non_negative_amount(std::string_view text, const char* field);

}  // namespace hfv::adapters

namespace hfv::adapters {

// An Adapter for any agency described by a PagedAgency.
class PagedAdapter final : public Adapter {
 public:
  PagedAdapter(AgencyConfig config, HttpClient& http, PagedAgency agency,
               std::shared_ptr<AgencyGuard> guard = nullptr)
      : config_(std::move(config)), http_(http), agency_(std::move(agency)), guard_(std::move(guard)) {}
  Source source() const override { return agency_.source; }
  boost::asio::awaitable<SourceResult> query(const MemberQuery& member, Deadline deadline) override {
    return run_paged_query(http_, config_, agency_, member, deadline, guard_.get());
  }

 private:
  AgencyConfig config_;
  HttpClient& http_;
  PagedAgency agency_;
  std::shared_ptr<AgencyGuard> guard_;
};

}  // namespace hfv::adapters
