// Dataset: the agency dataset file the simulator serves (persons and their
// records per source, plus the optional fault plan), parsed and validated
// once at start-up. Validation is done here for the shared parts (the
// top-level shape, ID numbers, hukou names) and by each agency for its own
// source (see agency.hpp), so that a bad file fails at load with a message
// naming the person index and field instead of misbehaving mid-test.
// Error messages mask ID numbers (first 6 + ******** + last 4).
//
// Ownership: a Dataset is a plain value that owns its JSON. Thread-safety:
// concurrent reads are safe; set_records (a test correcting an agency's
// record, POST /_sim/records) runs on the simulator's one I/O thread like
// every read.
#pragma once

#include <array>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include "simulator/faults.hpp"

namespace hfv::sim {

// Key order is kept so that answers list records in dataset order and error
// messages can count persons in file order.
using Json = nlohmann::ordered_json;

// The dataset's source keys (one per agency the simulator will play).
inline constexpr std::array<std::string_view, 11> kSources = {
    "hukou",      "tax",      "social_insurance", "real_estate", "vehicle",         "bank",
    "securities", "business", "provident_fund",   "insurance",   "internet_finance"};

bool is_known_source(std::string_view source);

// Thrown by parse_dataset/load_dataset; what() names the place and the
// problem and never carries a full ID number.
class DatasetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "230102********0016"; shorter strings are fully starred.
std::string mask_id(std::string_view id);

// True for 17 digits followed by a digit or 'X' (the checksum is not
// checked: test data may use invalid checksums on purpose).
bool looks_like_id_number(std::string_view id);

class Dataset {
 public:
  // The person's records for `source`, or nullptr if the person is absent or
  // has no such key ("not found" at that agency).
  const Json* records(std::string_view id, std::string_view source) const;
  // hukou.name, or "" when absent.
  std::string name(std::string_view id) const;
  std::size_t person_count() const { return persons_.size(); }
  // Replaces one person's records for `source` (the person must be in the
  // dataset), validated as at load. Throws DatasetError.
  void set_records(const std::string& id, std::string_view source, Json records);
  const FaultPlan& faults() const { return faults_; }
  FaultPlan& faults() { return faults_; }

 private:
  friend Dataset parse_dataset(std::string_view text);
  std::unordered_map<std::string, Json> persons_;
  FaultPlan faults_;
};

// Parses one source's fault settings ({"latency_ms", "latency_tail_ms",
// "error_rate", "error_kind", "slow_body_ms", "all", "persons"}), as found
// under the dataset's "faults" key or posted to /_sim/faults. `where` starts
// error messages. Throws DatasetError.
SourceFaults parse_source_faults(const Json& spec, const std::string& where);

// Parses and validates a dataset document. Throws DatasetError.
Dataset parse_dataset(std::string_view text);
// Reads and parses a file. Throws DatasetError (also for I/O failures).
Dataset load_dataset(const std::filesystem::path& file);

}  // namespace hfv::sim
