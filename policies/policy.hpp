// Jurisdiction policies: dated parameters with references, loaded from one
// JSON file per jurisdiction (policies/data/<GB/T 2260 code>.json; format in
// docs/policy-files.md). The value in force on a reference date is the one
// with the latest `from` not after that date, so later changes never rewrite
// past decisions. Values not published in a source the project has carry
// `example: true`.
//
// Files are validated completely at load: unknown keys, missing values,
// duplicate dates, negative amounts and bad dates are refused with the file
// and key named. Thread-safety: a loaded PolicySet is immutable.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/date.hpp"
#include "common/money.hpp"
#include "common/records.hpp"
#include "common/result.hpp"

namespace hfv::policies {

enum class Area { kUrban, kRural };
std::string_view area_name(Area area);
std::optional<Area> parse_area(std::string_view text);

// Where a value in force came from, for traces.
struct Provenance {
  std::string name;       // parameter key, e.g. "dibao_standard_monthly.urban"
  std::string value;      // as text ("835.00", "24", "bank,securities")
  Date from;
  std::string reference;
  bool example = false;
};

template <class T>
struct InForce {
  T value;
  Provenance provenance;
};

template <class T>
struct DatedSeries {
  struct Entry {
    Date from;
    T value;
    std::string reference;
    bool example = false;
  };
  std::vector<Entry> entries;  // sorted by `from`, no duplicates
};

class JurisdictionPolicy {
 public:
  const std::string& jurisdiction() const { return jurisdiction_; }
  const std::string& name() const { return name_; }
  const std::string& seed() const { return seed_; }
  // Changes whenever the file's meaning changes (set by the file's author).
  const std::string& version() const { return version_; }
  const std::vector<std::string>& rules() const { return rules_; }

  std::optional<InForce<Money>> dibao_standard(Area area, const Date& on) const;
  std::optional<InForce<long>> savings_cap_months(const Date& on) const;
  std::optional<InForce<std::vector<Source>>> monetary_sources(const Date& on) const;

 private:
  friend Result<JurisdictionPolicy> load_policy_file(const std::filesystem::path& path);
  std::string jurisdiction_, name_, seed_, version_;
  std::vector<std::string> rules_;
  DatedSeries<Money> standard_urban_, standard_rural_;
  DatedSeries<long> savings_cap_months_;
  DatedSeries<std::vector<Source>> monetary_sources_;
};

Result<JurisdictionPolicy> load_policy_file(const std::filesystem::path& path);

class PolicySet {
 public:
  // Loads every *.json in `dir`; any bad file fails the whole load.
  static Result<PolicySet> load_dir(const std::filesystem::path& dir);
  // The policy for exactly this code; error "no_policy" when there is none
  // (never another jurisdiction's rules).
  Result<const JurisdictionPolicy*> find(const std::string& jurisdiction) const;
  std::size_t size() const { return policies_.size(); }

 private:
  std::map<std::string, JurisdictionPolicy> policies_;
};

}  // namespace hfv::policies
