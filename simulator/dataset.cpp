#include "simulator/dataset.hpp"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "simulator/agency.hpp"

namespace hfv::sim {

namespace {

constexpr std::int64_t kMaxLatencyMs = 600'000;
constexpr std::int64_t kMaxRetryAfterS = 86'400;  // a day

[[noreturn]] void fail(const std::string& message) { throw DatasetError(message); }

// A key quoted in an error message; masked if it could be (part of) an ID
// number, even a malformed one.
std::string quote_key(std::string_view key) {
  const auto digits =
      std::count_if(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
  std::string out = "'";
  out += digits >= 6 ? mask_id(key) : std::string(key);
  out += '\'';
  return out;
}

// Line and column of a byte offset, for parse errors (the offending text
// itself is not quoted: it could be an ID number).
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t byte) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

void check_hukou(const Json& hukou, const std::string& where) {
  if (!hukou.is_object()) fail(where + ": must be an object");
  if (auto it = hukou.find("name"); it != hukou.end() && !it->is_string()) {
    fail(where + ".name: must be a string");
  }
}

}  // namespace

SourceFaults parse_source_faults(const Json& spec, const std::string& where) {
  if (!spec.is_object()) fail(where + ": must be an object");
  SourceFaults out;
  auto millis = [&](const std::string& key, const Json& value, std::int64_t max) {
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
        value.get<std::int64_t>() > max) {
      fail(where + "." + key + ": must be an integer from 0 to " + std::to_string(max));
    }
    return std::chrono::milliseconds{value.get<std::int64_t>()};
  };
  for (const auto& [key, value] : spec.items()) {
    if (key == "latency_ms") {
      out.latency = millis(key, value, kMaxLatencyMs);
    } else if (key == "latency_tail_ms") {
      out.latency_tail = millis(key, value, kMaxTail.count());
    } else if (key == "slow_body_ms") {
      out.slow_body = millis(key, value, kMaxLatencyMs);
    } else if (key == "retry_after_s") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 0 || value.get<std::int64_t>() > kMaxRetryAfterS) {
        fail(where + ".retry_after_s: must be an integer from 0 to " + std::to_string(kMaxRetryAfterS));
      }
      out.retry_after = std::chrono::seconds{value.get<std::int64_t>()};
    } else if (key == "error_rate") {
      if (!value.is_number() || value.get<double>() < 0.0 || value.get<double>() > 1.0) {
        fail(where + ".error_rate: must be a number from 0 to 1");
      }
      out.error_rate = value.get<double>();
    } else if (key == "error_kind") {
      const auto kind =
          value.is_string() ? parse_fault_kind(value.get<std::string>()) : std::nullopt;
      if (!kind || *kind == FaultKind::kNone) fail(where + ".error_kind: unknown fault kind");
      out.error_kind = *kind;
    } else if (key == "all") {
      const auto kind =
          value.is_string() ? parse_fault_kind(value.get<std::string>()) : std::nullopt;
      if (!kind) fail(where + ".all: unknown fault kind");
      out.all = *kind;
    } else if (key == "persons") {
      if (!value.is_object()) fail(where + ".persons: must be an object");
      std::size_t index = 0;
      for (const auto& [id, kind_name] : value.items()) {
        const std::string at = where + ".persons[" + std::to_string(index++) + "]";
        if (!looks_like_id_number(id)) fail(at + ": key is not an 18-character ID number");
        const auto kind =
            kind_name.is_string() ? parse_fault_kind(kind_name.get<std::string>()) : std::nullopt;
        if (!kind) fail(at + " (" + mask_id(id) + "): unknown fault kind");
        out.persons[id] = *kind;
      }
    } else {
      fail(where + ": unknown key " + quote_key(key));
    }
  }
  return out;
}

bool is_known_source(std::string_view source) {
  return std::find(kSources.begin(), kSources.end(), source) != kSources.end();
}

std::string mask_id(std::string_view id) {
  if (id.size() < 10) return std::string(std::max<std::size_t>(id.size(), 1), '*');
  return std::string(id.substr(0, 6)) + "********" + std::string(id.substr(id.size() - 4));
}

bool looks_like_id_number(std::string_view id) {
  if (id.size() != 18) return false;
  for (std::size_t i = 0; i < 17; ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
  }
  return (id[17] >= '0' && id[17] <= '9') || id[17] == 'X';
}

const Json* Dataset::records(std::string_view id, std::string_view source) const {
  const auto person = persons_.find(std::string(id));
  if (person == persons_.end()) return nullptr;
  const auto it = person->second.find(source);
  return it == person->second.end() ? nullptr : &*it;
}

void Dataset::set_records(const std::string& id, std::string_view source, Json records) {
  const auto person = persons_.find(id);
  if (person == persons_.end()) fail("records: no such person " + mask_id(id));
  if (!is_known_source(source)) fail("records: unknown source " + quote_key(std::string(source)));
  if (source == "hukou") check_hukou(records, "records: hukou");
  if (const Agency* agency = find_agency(source); agency != nullptr) {
    if (auto problem = agency->validate(records)) fail("records: " + std::string(source) + *problem);
  }
  person->second[std::string(source)] = std::move(records);
}

std::string Dataset::name(std::string_view id) const {
  const Json* hukou = records(id, "hukou");
  if (hukou == nullptr) return "";
  const auto it = hukou->find("name");
  return it == hukou->end() ? "" : it->get<std::string>();
}

Dataset parse_dataset(std::string_view text) {
  Json doc;
  try {
    doc = Json::parse(text);
  } catch (const Json::parse_error& e) {
    const auto [line, column] = line_column(text, e.byte == 0 ? 0 : e.byte - 1);
    fail("dataset is not valid JSON (line " + std::to_string(line) + ", column " +
         std::to_string(column) + ")");
  } catch (const Json::out_of_range&) {  // a number beyond a double ("1e999")
    fail("dataset is not valid JSON (a number is out of range)");
  }
  if (!doc.is_object()) fail("dataset: top level must be an object");
  for (const auto& [key, value] : doc.items()) {
    if (key != "persons" && key != "faults" && !key.starts_with("_")) {
      fail("dataset: unknown top-level key " + quote_key(key));
    }
  }
  const auto persons = doc.find("persons");
  if (persons == doc.end()) fail("dataset: 'persons' is missing");
  if (!persons->is_object()) fail("dataset: 'persons' must be an object");

  Dataset out;
  std::size_t index = 0;
  for (auto& [id, person] : persons->items()) {
    const std::string where = "persons[" + std::to_string(index++) + "]";
    if (!looks_like_id_number(id)) {
      fail(where + ": key '" + mask_id(id) + "' is not an 18-character ID number");
    }
    const std::string who = where + " (" + mask_id(id) + ")";
    if (!person.is_object()) fail(who + ": must be an object");
    for (const auto& [source, records] : person.items()) {
      if (!is_known_source(source)) fail(who + ": unknown source " + quote_key(source));
      if (source == "hukou") check_hukou(records, who + ": hukou");
      if (const Agency* agency = find_agency(source); agency != nullptr) {
        if (auto problem = agency->validate(records)) {
          std::string message = who;
          message.append(": ").append(source).append(*problem);
          fail(message);
        }
      }
    }
    out.persons_.emplace(id, std::move(person));
  }

  if (const auto faults = doc.find("faults"); faults != doc.end()) {
    if (!faults->is_object()) fail("faults: must be an object");
    for (const auto& [source, spec] : faults->items()) {
      if (!is_known_source(source)) fail("faults: unknown source " + quote_key(source));
      out.faults_.set(source, parse_source_faults(spec, "faults." + source));
    }
  }
  return out;
}

Dataset load_dataset(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open dataset file " + file.string() + ": " + std::error_code(errno, std::generic_category()).message());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail("cannot read dataset file " + file.string());
  try {
    return parse_dataset(text.str());
  } catch (const DatasetError& e) {
    fail(file.string() + ": " + e.what());
  }
}

}  // namespace hfv::sim
