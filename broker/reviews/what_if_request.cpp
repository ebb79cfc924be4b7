#include "broker/reviews/what_if_request.hpp"

#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "common/json_error.hpp"
#include "crypto/hash.hpp"

namespace hfv::broker {

using nlohmann::json;

std::string division_area_prefix(const std::string& code) {
  if (code.size() == 6 && code.ends_with("0000")) return code.substr(0, 2);
  if (code.size() == 6 && code.ends_with("00")) return code.substr(0, 4);
  return code;
}

bool division_within(const std::string& jurisdiction, const std::string& code) {
  return jurisdiction.size() == 6 && jurisdiction.starts_with(division_area_prefix(code));
}

std::variant<WhatIfRequest, WhatIfRefusal> parse_what_if(const std::string& code, const std::string& body) {
  const json doc = json::parse(body, nullptr, false);
  if (!doc.is_object()) return WhatIfRefusal{400, "invalid_json", "body", "the body must be a JSON object"};
  for (const auto& [key, value] : doc.items()) {
    if (key != "policy" && key != "from" && key != "to") {
      const std::string field = member_field(key);
      return WhatIfRefusal{400, "invalid_field", field, "unknown field " + field + " (policy, from, to)"};
    }
  }
  WhatIfRequest request;
  request.code = code;
  // The period first: it is cheap, and a period that cannot run makes the
  // candidate moot.
  for (const char* name : {"from", "to"}) {
    const auto it = doc.find(name);
    const auto date = it != doc.end() && it->is_string() ? Date::parse(it->get<std::string>()) : std::nullopt;
    if (!date) return WhatIfRefusal{400, "invalid_field", name, std::string(name) + " must be a date YYYY-MM-DD"};
    (std::string_view(name) == "from" ? request.from : request.to) = *date;
  }
  if (request.from > request.to) return WhatIfRefusal{400, "invalid_field", "period", "from must not be after to"};
  const long days = request.to.days_since_epoch() - request.from.days_since_epoch() + 1;
  if (days > kWhatIfMaxDays) {
    return WhatIfRefusal{400, "invalid_field", "period",
                   "the period spans " + std::to_string(days) + " days; at most " +
                       std::to_string(kWhatIfMaxDays) + " are evaluated at once"};
  }
  const auto policy = doc.find("policy");
  if (policy == doc.end() || !policy->is_object()) {
    return WhatIfRefusal{422, "invalid_policy", "policy", "policy must be a policy file (a JSON object)"};
  }
  // The canonical text (sorted keys, no spaces) is what is loaded and what
  // the audit names by its digest: the same candidate, however it was
  // spaced, has one digest.
  const std::string text = policy->dump(-1, ' ', false, json::error_handler_t::replace);
  auto loaded = policies::parse_policy_file(text, code + ".json");
  if (!loaded) return WhatIfRefusal{422, "invalid_policy", "policy", loaded.error().message};
  if (loaded->jurisdiction() != code) {
    return WhatIfRefusal{422, "invalid_policy", "policy",
                   "the candidate is the policy of " + loaded->jurisdiction() + ", not of " + code};
  }
  request.candidate = std::make_shared<const policies::JurisdictionPolicy>(std::move(*loaded));
  request.candidate_sha256 = crypto::to_hex(crypto::sha256(text));
  return request;
}

}  // namespace hfv::broker
