#include "broker/ops/divisions.hpp"

#include <fstream>

namespace hfv::broker {

namespace {

// Rows look like: 110101,"东城区",1101,11 — the first two fields matter.
Status read_csv(const std::filesystem::path& file, std::size_t digits, const std::string& pad,
                std::unordered_map<std::string, std::string>& out) {
  std::ifstream in(file);
  if (!in) return make_error("bad_divisions", file.string() + ": cannot be read");
  std::string line;
  std::getline(in, line);  // header
  std::size_t line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto comma = line.find(',');
    const std::string code = line.substr(0, comma);
    if (comma == std::string::npos || code.size() != digits ||
        code.find_first_not_of("0123456789") != std::string::npos) {
      return make_error("bad_divisions", file.string() + ":" + std::to_string(line_no) + ": bad code");
    }
    std::string name = line.substr(comma + 1);
    name = name.substr(0, name.find(','));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
    out[code + pad] = name;
  }
  return {};
}

}  // namespace

Result<DivisionCodes> DivisionCodes::load(const std::filesystem::path& dir) {
  DivisionCodes codes;
  if (auto s = read_csv(dir / "provinces.csv", 2, "0000", codes.names_); !s) return s.error();
  if (auto s = read_csv(dir / "cities.csv", 4, "00", codes.names_); !s) return s.error();
  if (auto s = read_csv(dir / "areas.csv", 6, "", codes.names_); !s) return s.error();
  return codes;
}

std::string DivisionCodes::name(const std::string& code) const {
  auto it = names_.find(code);
  return it == names_.end() ? "" : it->second;
}

}  // namespace hfv::broker
