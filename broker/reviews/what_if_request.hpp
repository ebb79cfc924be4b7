// What-if requests (POST /v1/policies/{code}/what-if): the request and its
// checks, apart from the jobs that run it (what_if.hpp), so that a parser
// of untrusted bytes builds without the audit log, the stores or Asio (the
// fuzz target tests/fuzz/fuzz_what_if.cpp).
//
// Thread-safety: pure functions and plain values.
#pragma once

#include <memory>
#include <string>
#include <variant>

#include "common/date.hpp"
#include "policies/policy.hpp"

namespace hfv::broker {

// The longest period a what-if covers, in days (both ends included).
inline constexpr long kWhatIfMaxDays = 366;

struct WhatIfRequest {
  std::string code;  // the jurisdiction (path), the candidate's own
  Date from, to;     // UTC dates of the verifications' creation, inclusive
  std::shared_ptr<const policies::JurisdictionPolicy> candidate;
  std::string candidate_sha256;  // of the canonical policy text (sorted keys, no spaces)
};

// A request refused before it starts: 400 or 422, the field it names.
struct WhatIfRefusal {
  unsigned status = 400;
  std::string code;  // invalid_json | invalid_field | invalid_policy
  std::string field;
  std::string message;
};

// `body`: {"policy": {...}, "from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}. The
// candidate must load with the daemon's loader (policies::parse_policy_file)
// as `code`'s file; the period must run forwards and span at most
// kWhatIfMaxDays.
std::variant<WhatIfRequest, WhatIfRefusal> parse_what_if(const std::string& code, const std::string& body);

// Whether `jurisdiction` (6 digits) lies in `code`'s area: a province
// (xx0000) holds its cities and counties, a city (xxxx00) its districts, a
// county only itself.
bool division_within(const std::string& jurisdiction, const std::string& code);
// The digits that name `code`'s area: a province's first two, a city's
// first four, a county's six (any other code: itself).
std::string division_area_prefix(const std::string& code);

}  // namespace hfv::broker
