#include "adapters/bank/bank_adapter.hpp"

#include <nlohmann/json.hpp>

namespace hfv::adapters::bank {

using nlohmann::json;

namespace {
constexpr long kPageSize = 50;

Result<std::string> string_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return make_error("malformed_answer", std::string("field '") + key + "' missing or not a string");
  }
  return it->get<std::string>();
}
}  // namespace

Result<Page> parse_page(long status, std::string_view body, long page_no) {
  if (status != 200) return make_error("agency_error", "agency answered HTTP " + std::to_string(status));
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return make_error("malformed_answer", "answer is not a JSON object");
  auto code = string_field(doc, "retCode");
  if (!code) return code.error();
  if (auto outcome = answer_outcome(*code, "0000", "1001", "retCode")) return std::move(*outcome);
  Page page;
  auto b = doc.find("body");
  if (b == doc.end() || !b->is_object()) return make_error("malformed_answer", "'body' missing");
  auto total = b->find("totalCount");
  auto number = b->find("pageNo");
  auto accounts = b->find("accounts");
  if (total == b->end() || !total->is_number_integer() || total->get<long>() < 0) {
    return make_error("malformed_answer", "'totalCount' missing or not a non-negative integer");
  }
  if (number == b->end() || !number->is_number_integer() || number->get<long>() != page_no) {
    return make_error("malformed_answer", "'pageNo' missing or not the page asked for");
  }
  if (accounts == b->end() || !accounts->is_array()) return make_error("malformed_answer", "'accounts' missing");
  page.total = total->get<long>();
  page.next = std::to_string(page_no + 1);
  for (const json& a : *accounts) {
    if (!a.is_object()) return make_error("malformed_answer", "account entry is not an object");
    auto bank_name = string_field(a, "bankName");
    auto account_no = string_field(a, "acctNo");
    auto balance_text = string_field(a, "balance");
    auto date_text = string_field(a, "balanceDate");
    auto currency = string_field(a, "currency");
    for (const auto* r : {&bank_name, &account_no, &balance_text, &date_text, &currency}) {
      if (!*r) return r->error();
    }
    if (*currency != "CNY") return make_error("unsupported_answer", "account in currency other than CNY");
    auto balance = parse_non_negative_amount(*balance_text, "balance");
    if (!balance) return balance.error();
    std::optional<Date> as_of;
    if (date_text->size() == 8) {
      as_of = Date::parse(date_text->substr(0, 4) + "-" + date_text->substr(4, 2) + "-" + date_text->substr(6, 2));
    }
    if (!as_of) return make_error("malformed_answer", "'balanceDate' is not a YYYYMMDD date");
    page.records.holdings.push_back(MonetaryHolding{*bank_name, mask_account(*account_no), *balance, as_of});
  }
  return page;
}

PagedAgency agency() {
  PagedAgency a;
  a.source = Source::kBank;
  a.path = "/bank/v2/deposit-inquiry";
  a.request_body = [](const MemberQuery& m, const std::string& token) {
    const long page_no = token.empty() ? 1 : std::stol(token);
    return json{{"certType", "01"}, {"certNo", m.id_number}, {"queryId", m.query_id},
                {"pageNo", page_no}, {"pageSize", kPageSize}}
        .dump();
  };
  a.parse_page = [](long status, std::string_view body, const std::string& token) {
    return parse_page(status, body, token.empty() ? 1 : std::stol(token));
  };
  return a;
}

}  // namespace hfv::adapters::bank
