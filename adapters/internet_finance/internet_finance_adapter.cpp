#include "adapters/internet_finance/internet_finance_adapter.hpp"

#include <nlohmann/json.hpp>

namespace hfv::adapters::internet_finance {

using nlohmann::json;

Result<Page> parse_page(long status, std::string_view body) {
  if (status != 200) return make_error("agency_error", "agency answered HTTP " + std::to_string(status));
  const json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return make_error("malformed_answer", "answer is not a JSON object");
  auto success = doc.find("success");
  if (success == doc.end() || !success->is_boolean()) return make_error("malformed_answer", "'success' missing");
  if (!success->get<bool>()) {
    // Read by type: json::value() throws when error_code is not a string.
    const auto code = doc.find("error_code");
    const bool named = code != doc.end() && code->is_string();
    return make_error("agency_error", "agency answered error " + (named ? code->get<std::string>() : "(none)"));
  }
  auto exists = doc.find("user_exists");
  if (exists == doc.end() || !exists->is_boolean()) return make_error("malformed_answer", "'user_exists' missing");
  Page page;
  if (!exists->get<bool>()) {
    page.not_found = true;
    return page;
  }
  auto items = doc.find("items");
  auto token = doc.find("next_page_token");
  if (items == doc.end() || !items->is_array()) return make_error("malformed_answer", "'items' missing");
  if (token == doc.end() || !token->is_string()) return make_error("malformed_answer", "'next_page_token' missing");
  if (!token->get<std::string>().empty()) page.next = token->get<std::string>();
  for (const json& i : *items) {
    if (!i.is_object()) return make_error("malformed_answer", "item is not an object");
    for (const char* key : {"platform", "account_id", "balance_yuan", "updated_at"}) {
      if (!i.contains(key) || !i[key].is_string()) {
        return make_error("malformed_answer", std::string("field '") + key + "' missing or not a string");
      }
    }
    auto balance = parse_non_negative_amount(i["balance_yuan"].get<std::string>(), "balance_yuan");
    if (!balance) return balance.error();
    const std::string updated = i["updated_at"].get<std::string>();
    auto as_of = updated.size() >= 10 ? Date::parse(updated.substr(0, 10)) : std::nullopt;
    if (!as_of || updated.size() < 20 || updated[10] != 'T') {
      return make_error("malformed_answer", "'updated_at' is not an RFC 3339 time");
    }
    page.records.holdings.push_back(MonetaryHolding{i["platform"].get<std::string>(),
                                            mask_account(i["account_id"].get<std::string>()), *balance, as_of});
  }
  return page;
}

PagedAgency agency() {
  PagedAgency a;
  a.source = Source::kInternetFinance;
  a.path = "/ifin/api/balances";
  a.request_body = [](const MemberQuery& m, const std::string& token) {
    return json{{"id_card", m.id_number}, {"request_id", m.query_id}, {"page_token", token}}.dump();
  };
  a.parse_page = [](long status, std::string_view body, const std::string&) { return parse_page(status, body); };
  return a;
}

}  // namespace hfv::adapters::internet_finance
