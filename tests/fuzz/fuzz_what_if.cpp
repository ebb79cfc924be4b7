// libFuzzer target: a what-if request as POST /v1/policies/{code}/what-if
// reads it (broker/reviews/what_if.hpp parse_what_if): the period, then the
// candidate policy file through the daemon's loader. Input: the path's
// jurisdiction code on the first line (six digits; without such a line,
// "230100"), then the body.
//
// Properties: a refusal is 400 or 422 and names a field; an accepted
// request covers 1-366 days forwards, its candidate is `code`'s policy, and
// its digest is that of the candidate's canonical text — the same body
// spaced otherwise (pretty-printed) is accepted with the same digest and
// period. Anything else traps.
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "broker/reviews/what_if_request.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using hfv::broker::WhatIfRefusal;
using hfv::broker::WhatIfRequest;

bool is_code(std::string_view s) {
  return s.size() == 6 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = hfv::fuzz::as_text(data, size);
  std::string code = "230100";
  if (const auto nl = text.find('\n'); nl != std::string_view::npos && is_code(text.substr(0, nl))) {
    code = std::string(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  const std::string body(text);
  auto parsed = hfv::broker::parse_what_if(code, body);
  if (const auto* refused = std::get_if<WhatIfRefusal>(&parsed)) {
    if (refused->status != 400 && refused->status != 422) std::abort();
    if (refused->field.empty() || refused->code.empty() || refused->message.empty()) std::abort();
    return 0;
  }
  const auto& request = std::get<WhatIfRequest>(parsed);
  const long days = request.to.days_since_epoch() - request.from.days_since_epoch() + 1;
  if (days < 1 || days > hfv::broker::kWhatIfMaxDays) std::abort();
  if (request.code != code || request.candidate == nullptr || request.candidate->jurisdiction() != code) std::abort();
  if (request.candidate_sha256.size() != 64) std::abort();
  // Accepted, so the body is a JSON object: spaced otherwise, the same.
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_object()) std::abort();
  auto again = hfv::broker::parse_what_if(code, doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  const auto* second = std::get_if<WhatIfRequest>(&again);
  if (second == nullptr || second->candidate_sha256 != request.candidate_sha256 || second->from != request.from ||
      second->to != request.to) {
    std::abort();
  }
  return 0;
}
