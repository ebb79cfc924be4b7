#include "adapters/insurance/insurance_adapter.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace hfv::adapters::insurance {

using nlohmann::json;

namespace {
constexpr long kPageSize = 20;

// "1234567" fen: digits only, at most 15 of them.
std::optional<Money> parse_fen(const std::string& s) {
  if (s.empty() || s.size() > 15 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return Money::from_fen(std::stoll(s));
}
}  // namespace

Result<Page> parse_page(long status, std::string_view body, long index) {
  if (status != 200) return make_error("agency_error", "agency answered HTTP " + std::to_string(status));
  const json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return make_error("malformed_answer", "answer is not a JSON object");
  auto st = doc.find("status");
  if (st == doc.end() || !st->is_string()) return make_error("malformed_answer", "'status' missing");
  if (auto outcome = answer_outcome(st->get<std::string>(), "SUCCESS", "NO_RECORD", "status")) return std::move(*outcome);
  Page page;
  auto result = doc.find("result");
  if (result == doc.end() || !result->is_object()) return make_error("malformed_answer", "'result' missing");
  auto total = result->find("total");
  auto at = result->find("index");
  auto policies = result->find("policies");
  if (total == result->end() || !total->is_number_integer() || total->get<long>() < 0) {
    return make_error("malformed_answer", "'total' missing or not a non-negative integer");
  }
  if (at == result->end() || !at->is_number_integer() || at->get<long>() != index) {
    return make_error("malformed_answer", "'index' missing or not the page asked for");
  }
  if (policies == result->end() || !policies->is_array()) return make_error("malformed_answer", "'policies' missing");
  page.total = total->get<long>();
  page.next = std::to_string(index + 1);
  for (const json& p : *policies) {
    if (!p.is_object()) return make_error("malformed_answer", "policy is not an object");
    for (const char* key : {"policyNo", "insurer", "cashValueFen", "valuationDate"}) {
      if (!p.contains(key) || !p[key].is_string()) {
        return make_error("malformed_answer", std::string("field '") + key + "' missing or not a string");
      }
    }
    auto value = parse_fen(p["cashValueFen"].get<std::string>());
    if (!value) return make_error("malformed_answer", "'cashValueFen' is not a whole number of fen");
    std::string date = p["valuationDate"].get<std::string>();
    std::replace(date.begin(), date.end(), '/', '-');
    auto as_of = Date::parse(date);
    if (!as_of || p["valuationDate"].get<std::string>().find('-') != std::string::npos) {
      return make_error("malformed_answer", "'valuationDate' is not a YYYY/MM/DD date");
    }
    page.records.holdings.push_back(MonetaryHolding{p["insurer"].get<std::string>(),
                                            mask_account(p["policyNo"].get<std::string>()), *value, as_of});
  }
  return page;
}

PagedAgency agency() {
  PagedAgency a;
  a.source = Source::kInsurance;
  a.path = "/cbit/v1/cash-value/query";
  a.request_body = [](const MemberQuery& m, const std::string& token) {
    const long index = token.empty() ? 0 : std::stol(token);
    return json{{"certificateType", "ID_CARD"}, {"certificateNumber", m.id_number}, {"traceId", m.query_id},
                {"page", {{"index", index}, {"size", kPageSize}}}}
        .dump();
  };
  a.parse_page = [](long status, std::string_view body, const std::string& token) {
    return parse_page(status, body, token.empty() ? 0 : std::stol(token));
  };
  return a;
}

}  // namespace hfv::adapters::insurance
