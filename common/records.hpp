// Normalised agency records: what adapters produce from each agency's own
// wire format and what the policy engine consumes. Money is integer fen.
// A source's status says whether its records can be trusted: records of a
// source that is not kOk/kNotFound are empty and MUST NOT be read as "no
// assets" (fail closed). Thread-safety: plain value types.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/date.hpp"
#include "common/money.hpp"

namespace hfv {

// The eleven agencies a verification can ask, in the design's order.
enum class Source {
  kTax,
  kSocialInsurance,
  kRealEstate,
  kVehicle,
  kBank,
  kSecurities,
  kHukou,
  kBusiness,
  kProvidentFund,
  kInsurance,
  kInternetFinance,
};
inline constexpr std::array<Source, 11> kAllSources = {
    Source::kTax,   Source::kSocialInsurance, Source::kRealEstate,    Source::kVehicle,
    Source::kBank,  Source::kSecurities,      Source::kHukou,         Source::kBusiness,
    Source::kProvidentFund, Source::kInsurance, Source::kInternetFinance};

// Wire names as in the dataset and the API ("bank", "social_insurance", ...).
std::string_view source_name(Source source);
std::optional<Source> parse_source(std::string_view name);

// ok: the agency answered and its records are complete.
// not_found: the agency answered that it holds nothing on this person.
// timeout / error: no usable answer; the source's data is unknown.
// denied: not asked, because the authorisation does not allow it.
enum class SourceStatus { kOk, kNotFound, kTimeout, kError, kDenied };
std::string_view status_name(SourceStatus status);
// True when the records are a complete picture (kOk or kNotFound).
inline bool is_known(SourceStatus s) { return s == SourceStatus::kOk || s == SourceStatus::kNotFound; }

// Why a source gave no usable answer (status timeout or error), for those
// who must react to it without reading text: batches back off on kTimeout,
// kThrottled and kCircuitOpen (broker/reviews/batch.hpp). kNone when the
// source did not fail (ok, not_found, denied).
//   timeout        the deadline passed (sending, waiting or reading)
//   throttled      the agency answered 429 (after the retries allowed)
//   server_error   the agency answered 5xx
//   rejected       the agency answered another non-200 status
//   malformed      an answer that breaks the agency's format or paging
//   circuit_open   not sent: the agency's circuit breaker is open
//   network, tls   the transport failed
//   cancelled      called off (the caller left); not the agency's doing
//   not_configured no adapter for this agency in this deployment
//   internal       a fault in the broker's adapter
enum class FailureKind {
  kNone, kTimeout, kThrottled, kServerError, kRejected, kMalformed, kCircuitOpen,
  kNetwork, kTls, kCancelled, kNotConfigured, kInternal
};
std::string_view failure_kind_name(FailureKind kind);

// A monetary asset: a bank deposit, a securities account's market value, an
// insurance policy's cash value or an internet-finance balance.
struct MonetaryHolding {
  std::string institution;     // bank, broker, insurer or platform as the agency names it
  std::string account_masked;  // never the full account or policy number
  Money amount;
  std::optional<Date> as_of;
};

// Income paid in one month (tax records, social-insurance benefits).
enum class IncomeKind {
  kWages,
  kBusiness,
  kProperty,
  kEmployeePension,
  kResidentsPension,  // urban-rural residents' basic pension (its basic part may be exempt)
  kUnemployment,
  kRoadAccidentRelief,  // one-off road-traffic-accident social relief (exempt where the rule says so)
  kOther,
};
std::string_view income_kind_name(IncomeKind kind);
std::optional<IncomeKind> parse_income_kind(std::string_view name);

struct IncomeRecord {
  int year = 0;
  unsigned month = 0;  // 1-12
  IncomeKind kind = IncomeKind::kOther;
  Money amount;
  Money basic_part;  // for kResidentsPension: the centrally-set basic pension within `amount`
  // Tax records: the personal income tax withheld on `amount` (never above
  // it); zero for social-insurance benefits.
  Money tax_withheld = {};
};

// One month's social-insurance contribution (social_insurance): the
// contribution base and the insured person's own share of it (个人缴费),
// which is what the income rule deducts where earnings count after tax and
// contributions. The employer's share is not the person's and is not kept.
struct ContributionRecord {
  int year = 0;
  unsigned month = 0;  // 1-12
  // employee_pension | residents_pension | medical | unemployment | work_injury | maternity
  std::string type;
  Money base;
  Money personal;  // never above `base`
};

struct RealEstateRecord {
  std::string certificate_masked;
  std::string use;            // residential | commercial | other
  std::int64_t area_centi_m2 = 0;  // area in 0.01 m2 (exact)
  int share_percent = 100;    // the member's share of the property
};

struct VehicleRecord {
  std::string plate_masked;
  std::string type;  // car | motorcycle | truck | vessel
  Money purchase_price;
  std::optional<Date> registered;
  bool mobility_aid = false;  // registered as a disability mobility vehicle
};

struct BusinessRecord {
  std::string uscc_masked;  // unified social credit code, masked
  std::string role;         // legal_representative | shareholder | other
  Money subscribed_capital;
  std::string status;       // active | revoked | cancelled
};

struct ProvidentFundRecord {
  Money balance;
  Money monthly_deposit;
};

struct HukouRecord {
  std::string division;  // GB/T 2260 code of registration
  std::string status;    // normal | deceased | moved
};

// Everything one source said about one member. Only the fields matching the
// source are filled.
struct NormalisedRecords {
  std::vector<MonetaryHolding> holdings;  // bank, securities, insurance, internet_finance
  std::vector<IncomeRecord> income;       // tax, social_insurance
  std::vector<ContributionRecord> contributions;  // social_insurance
  std::vector<RealEstateRecord> real_estate;
  std::vector<VehicleRecord> vehicles;
  std::vector<BusinessRecord> businesses;
  std::optional<ProvidentFundRecord> provident_fund;
  std::optional<HukouRecord> hukou;
};

// The outcome of asking one agency about one member.
struct SourceResult {
  std::size_t member_index = 0;
  Source source = Source::kBank;
  SourceStatus status = SourceStatus::kError;
  FailureKind failure = FailureKind::kNone;  // set when status is timeout or error
  std::string detail;           // why it failed (no personal data); empty when known
  int attempts = 0;
  std::chrono::milliseconds latency{0};
  std::string evidence_sha256;  // hex SHA-256 of the raw answer body; empty if none
  std::string received_at;      // UTC RFC 3339 timestamp when the answer arrived
  // Cut short by a cancellation (common/cancellation.hpp), e.g. the caller
  // disconnected: status is kError, and the agency is not to blame.
  bool cancelled = false;
  NormalisedRecords records;
};

// Limits, in bytes, on the text an agency supplies (detail, institution,
// masked numbers, kinds) kept in reports and the audit log.
inline constexpr std::size_t kMaxAgencyDetailBytes = 200;
inline constexpr std::size_t kMaxAgencyNameBytes = 128;
inline constexpr std::size_t kMaxAgencyCodeBytes = 64;
// Every text of `result` restricted (common/text.hpp: restricted_text) to
// those limits: whatever an agency answers, no control or direction
// character and no unbounded string reaches a report or the audit log.
void restrict_supplied_text(SourceResult& result);

}  // namespace hfv
