#include "adapters/provident_fund/provident_fund_adapter.hpp"

#include "adapters/common/answer_fields.hpp"

namespace hfv::adapters::provident_fund {

using nlohmann::json;
namespace f = fields;

namespace {
constexpr std::int64_t kMaxFen = 999'999'999'999'999;
}

Result<Page> parse_page(long status, std::string_view body) {
  auto doc = f::parse_answer(status, body);
  if (!doc) return doc.error();
  auto success = f::bool_of(*doc, "success");
  if (!success) return success.error();
  auto code = f::string_of(*doc, "retcode");
  if (!code) return code.error();
  Page page;
  if (!*success) {
    if (*code == "300001") {
      page.not_found = true;
      return page;
    }
    return make_error("agency_error", "agency answered retcode " + *code);
  }
  if (*code != "000000") return f::malformed("success with a retcode other than 000000");
  auto data = f::object_of(*doc, "data");
  if (!data) return data.error();
  auto balance = f::integer_of(**data, "zhye", 0, kMaxFen);
  if (!balance) return balance.error();
  auto deposit = f::integer_of(**data, "yjce", 0, kMaxFen);
  if (!deposit) return deposit.error();
  page.records.provident_fund = ProvidentFundRecord{Money::from_fen(*balance), Money::from_fen(*deposit)};
  return page;
}

PagedAgency agency() {
  PagedAgency a;
  a.source = Source::kProvidentFund;
  a.path = "/gjj/api/query/account";
  a.request_body = [](const MemberQuery& m, const std::string&) {
    return json{{"idCardNo", m.id_number}, {"requestNo", m.query_id}}.dump();
  };
  a.parse_page = [](long status, std::string_view body, const std::string&) { return parse_page(status, body); };
  return a;
}

}  // namespace hfv::adapters::provident_fund
