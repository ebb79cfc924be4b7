// DivisionCodes: the GB/T 2260 list of 6-digit administrative division codes
// (provinces as NN0000, cities as NNNN00, counties and districts), loaded
// from the CSV files in broker/data/divisions/. A request's jurisdiction must
// be on this list. Thread-safety: immutable after load.
#pragma once

#include <filesystem>
#include <string>
#include <unordered_map>

#include "common/result.hpp"

namespace hfv::broker {

class DivisionCodes {
 public:
  // Reads provinces.csv, cities.csv and areas.csv from `dir`.
  static Result<DivisionCodes> load(const std::filesystem::path& dir);
  bool contains(const std::string& code) const { return names_.contains(code); }
  // The division's name, "" if unknown.
  std::string name(const std::string& code) const;
  std::size_t size() const { return names_.size(); }

 private:
  std::unordered_map<std::string, std::string> names_;
};

}  // namespace hfv::broker
