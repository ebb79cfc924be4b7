// Jurisdiction policies: which rules a jurisdiction applies (each with the
// clause it comes from) and its dated parameters (each value with a
// reference), loaded from one JSON file per jurisdiction
// (policies/data/<GB/T 2260 code>.json; format in docs/policy-files.md).
//
// The value in force on a reference date is the one with the latest `from`
// on or before that date, so later changes never rewrite past decisions.
// Values not published in a source the project has carry `example: true`.
// A value may have a validity horizon (its `valid_until`, or the file's
// `stale_after_months` for the parameter): after that day, until a later
// value takes effect, the parameter is stale and has no value in force, so a
// rule that needs it is `unknown`; values re-published periodically (the
// dibao standard, the minimum wage) must have one.
//
// Files are validated completely at load: unknown keys, missing parameters a
// listed rule needs, duplicate dates, negative or out-of-range values, bad
// dates, unknown rule ids and clauses are refused with the file and key
// named. `PolicySet::load_dir` returns a complete new set or an error, so a
// reload can swap sets atomically. Thread-safety: a loaded PolicySet and its
// policies are immutable and may be shared between threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/date.hpp"
#include "common/money.hpp"
#include "common/records.hpp"
#include "common/result.hpp"

namespace hfv::policies {

enum class Area { kUrban, kRural };
std::string_view area_name(Area area);
std::optional<Area> parse_area(std::string_view text);

// An exact non-negative ratio num/den, written in files as a decimal ("1.5",
// "0.15") or a fraction ("1/6"). Applying it to money rounds to the nearest
// fen, halves up; comparisons against it never round (see engine.cpp).
struct Ratio {
  std::int64_t num = 0;
  std::int64_t den = 1;
  std::string text;  // as written in the file
  Money of(Money amount) const;
  friend bool operator==(const Ratio& a, const Ratio& b) {
    return a.num == b.num && a.den == b.den;
  }
};

// An area in 0.01 m2, written as a decimal string ("25.50").
struct AreaM2 {
  std::int64_t centi = 0;
  friend bool operator==(const AreaM2&, const AreaM2&) = default;
};

// One step of a review schedule: households in `category` are reviewed
// every `months` months. The first matching category in a list wins.
struct ReviewCycle {
  std::string category;
  std::int64_t months = 12;
  friend bool operator==(const ReviewCycle&, const ReviewCycle&) = default;
};

using ParamValue = std::variant<Money, std::int64_t, Ratio, std::string, bool,
                                std::vector<std::string>, std::vector<ReviewCycle>, AreaM2>;
// The value as text for traces ("835.00", "24", "1.5", "bank,securities").
std::string param_text(const ParamValue& value);
// The value as JSON for the parameters endpoint.
nlohmann::json param_json(const ParamValue& value);

// Where a value in force came from, for traces.
struct Provenance {
  std::string name;  // parameter key, e.g. "dibao_standard_monthly.urban"
  std::string value;
  Date from;
  std::string reference;
  bool example = false;
  // The last day the value may be used (its validity horizon); nullopt: in
  // force until a later value replaces it.
  std::optional<Date> valid_until = std::nullopt;
};

template <class T>
struct InForce {
  T value;
  Provenance provenance;
};

struct DatedEntry {
  Date from;
  ParamValue value;
  std::string reference;
  bool example = false;
  // Resolved at load: the entry's own `valid_until`, else `from` + the
  // file's stale_after_months for the parameter - 1 day, else nullopt.
  std::optional<Date> valid_until;
};
using DatedSeries = std::vector<DatedEntry>;  // sorted by `from`, no duplicates

// A parameter that is stale on some day of a period: the value that went
// (or goes) stale, with its valid_until; the first day it is stale; and the
// day a later value in the file takes effect, if there is one.
struct StaleParameter {
  Provenance value;
  Date stale_from;
  std::optional<Date> next_from;
};

// A rule the jurisdiction applies, with the clause it comes from.
struct RuleRef {
  std::string id;        // stable rule id, e.g. "savings-cap-24m"
  std::string clause;    // "<document>#<tag>", e.g. "000_74d306e405892d62.txt#savings-cap-24m"
  bool example = false;  // the rule itself is not in this jurisdiction's own documents
  std::string note;      // why, when `example`
};

class JurisdictionPolicy {
 public:
  const std::string& jurisdiction() const { return jurisdiction_; }
  const std::string& name() const { return name_; }
  const std::string& seed() const { return seed_; }
  // Reported as `policy_version`: the file's own version, the engine's rule
  // code version and a digest of the file's content, so it changes whenever
  // the file or the rules' code changes meaning.
  const std::string& version() const { return version_; }
  const std::string& file_version() const { return file_version_; }
  // The file's text as read: archived with the reports that name this
  // version, so a replay loads the same rules after a reload (or offline).
  const std::string& content() const { return content_; }
  bool applies_to_subdivisions() const { return applies_to_subdivisions_; }
  // In the engine's canonical order (not the file's).
  const std::vector<RuleRef>& rules() const { return rules_; }
  const RuleRef* rule(std::string_view id) const;
  bool applies(std::string_view id) const { return rule(id) != nullptr; }

  // Any parameter in force on `on`, or nullopt (not in the file, not yet in
  // force on that date, or stale: see stale()).
  std::optional<InForce<ParamValue>> param(const std::string& name, const Date& on) const;
  // The value that would apply on `on` when it is past its validity horizon
  // (valid_until set), or nullopt when the parameter is in force or not yet.
  std::optional<Provenance> stale(const std::string& name, const Date& on) const;
  // Parameters stale on some day from `first` to `last` (inclusive), by
  // name, each with the first stale stretch that reaches into the period.
  std::vector<StaleParameter> stale_between(const Date& first, const Date& last) const;
  std::optional<InForce<Money>> money(const std::string& name, const Date& on) const;
  std::optional<InForce<std::int64_t>> integer(const std::string& name, const Date& on) const;
  std::optional<InForce<Ratio>> ratio(const std::string& name, const Date& on) const;
  std::optional<InForce<std::string>> text(const std::string& name, const Date& on) const;
  std::optional<InForce<bool>> flag(const std::string& name, const Date& on) const;
  std::optional<InForce<std::vector<std::string>>> list(const std::string& name,
                                                        const Date& on) const;
  std::optional<InForce<std::vector<ReviewCycle>>> cycles(const std::string& name,
                                                          const Date& on) const;
  std::optional<InForce<AreaM2>> area(const std::string& name, const Date& on) const;

  std::optional<InForce<Money>> dibao_standard(Area area, const Date& on) const;
  std::optional<InForce<std::int64_t>> savings_cap_months(const Date& on) const;
  std::optional<InForce<std::vector<Source>>> monetary_sources(const Date& on) const;

  const std::map<std::string, DatedSeries>& parameters() const { return params_; }
  // The file's stale_after_months (parameter or group name -> months).
  const std::map<std::string, std::int64_t>& stale_after_months() const {
    return stale_after_months_;
  }

 private:
  friend Result<JurisdictionPolicy> parse_policy_file(std::string_view content,
                                                      const std::filesystem::path& path);
  std::string jurisdiction_, name_, seed_, version_, file_version_, content_;
  bool applies_to_subdivisions_ = false;
  std::vector<RuleRef> rules_;
  std::map<std::string, DatedSeries> params_;
  std::map<std::string, std::int64_t> stale_after_months_;
};

Result<JurisdictionPolicy> load_policy_file(const std::filesystem::path& path);
// The same checks on a file's text already read; `path` names the file in
// messages, and its stem must be the jurisdiction code. Pure (the fuzz
// target's entry, tests/fuzz).
Result<JurisdictionPolicy> parse_policy_file(std::string_view content, const std::filesystem::path& path);

// The parameters in force on `on` with their effective dates, references
// and horizons (valid_until), the names of those not yet in force, the stale
// ones (past their horizon, value as text) and the rules with their
// clauses, for GET /v1/policies/{jurisdiction}.
nlohmann::json parameters_json(const JurisdictionPolicy& policy, const Date& on);

class PolicySet {
 public:
  // Loads every *.json in `dir`; any bad file fails the whole load.
  static Result<PolicySet> load_dir(const std::filesystem::path& dir);
  // The policy for this code, error "no_policy" when there is none. A
  // district (xxxxNN) falls back to its city's file (xxxx00), and a city to
  // its province's (xx0000), only when that file sets
  // `applies_to_subdivisions`; never to another jurisdiction's rules.
  Result<const JurisdictionPolicy*> find(const std::string& jurisdiction) const;
  std::size_t size() const { return policies_.size(); }
  // Every policy, by jurisdiction code.
  const std::map<std::string, JurisdictionPolicy>& all() const { return policies_; }

 private:
  std::map<std::string, JurisdictionPolicy> policies_;
};

}  // namespace hfv::policies
