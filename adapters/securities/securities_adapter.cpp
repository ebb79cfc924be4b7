#include "adapters/securities/securities_adapter.hpp"

#include <nlohmann/json.hpp>

namespace hfv::adapters::securities {

using nlohmann::json;

Result<Page> parse_page(long status, std::string_view body) {
  const json doc = json::parse(body, nullptr, false);
  if (status == 404 && doc.is_object()) {
    // Read by type: json::value() throws when code is not a number.
    const auto code = doc.find("code");
    if (code != doc.end() && code->is_number_integer() && code->get<long>() == 40401) {
      Page page;
      page.not_found = true;
      return page;
    }
  }
  if (status != 200) return make_error("agency_error", "agency answered HTTP " + std::to_string(status));
  if (doc.is_discarded() || !doc.is_object()) return make_error("malformed_answer", "answer is not a JSON object");
  auto code = doc.find("code");
  if (code == doc.end() || !code->is_number_integer()) return make_error("malformed_answer", "'code' missing");
  if (code->get<long>() != 0) return make_error("agency_error", "agency answered code " + std::to_string(code->get<long>()));
  auto data = doc.find("data");
  if (data == doc.end() || !data->is_object()) return make_error("malformed_answer", "'data' missing");
  auto positions = data->find("positions");
  if (positions == data->end() || !positions->is_array()) return make_error("malformed_answer", "'positions' missing");
  auto cursor = data->find("nextCursor");
  if (cursor == data->end() || !(cursor->is_null() || cursor->is_string())) {
    return make_error("malformed_answer", "'nextCursor' missing or not a string or null");
  }
  Page page;
  if (cursor->is_string() && !cursor->get<std::string>().empty()) page.next = cursor->get<std::string>();
  for (const json& p : *positions) {
    if (!p.is_object()) return make_error("malformed_answer", "position is not an object");
    for (const char* key : {"acctNo", "market", "marketValue", "valuationDate"}) {
      if (!p.contains(key) || !p[key].is_string()) {
        return make_error("malformed_answer", std::string("field '") + key + "' missing or not a string");
      }
    }
    auto value = parse_non_negative_amount(p["marketValue"].get<std::string>(), "marketValue");
    if (!value) return value.error();
    auto date = Date::parse(p["valuationDate"].get<std::string>());
    if (!date) return make_error("malformed_answer", "'valuationDate' is not a YYYY-MM-DD date");
    page.records.holdings.push_back(MonetaryHolding{"securities account (" + p["market"].get<std::string>() + ")",
                                            mask_account(p["acctNo"].get<std::string>()), *value, date});
  }
  return page;
}

PagedAgency agency() {
  PagedAgency a;
  a.source = Source::kSecurities;
  a.path = "/csdc/v1/investor-holdings";
  a.request_body = [](const MemberQuery& m, const std::string& token) {
    return json{{"idType", "01"}, {"idNo", m.id_number}, {"reqSeq", m.query_id}, {"cursor", token}}.dump();
  };
  a.parse_page = [](long status, std::string_view body, const std::string&) { return parse_page(status, body); };
  return a;
}

}  // namespace hfv::adapters::securities
