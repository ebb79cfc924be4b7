#include "adapters/social_insurance/social_insurance_adapter.hpp"

#include "adapters/common/answer_fields.hpp"

namespace hfv::adapters::social_insurance {

using nlohmann::json;
namespace f = fields;

namespace {
constexpr long kLimit = 24;

std::optional<IncomeKind> kind_of(const std::string& code) {
  if (code == "110") return IncomeKind::kEmployeePension;
  if (code == "170") return IncomeKind::kResidentsPension;
  if (code == "210") return IncomeKind::kUnemployment;
  if (code == "410" || code == "999") return IncomeKind::kOther;
  return std::nullopt;
}
}  // namespace

Result<Page> parse_page(long status, std::string_view body, long offset) {
  auto doc = f::parse_answer(status, body);
  if (!doc) return doc.error();
  auto code = f::integer_of(*doc, "errcode", -1'000'000, 1'000'000);
  if (!code) return code.error();
  if (auto outcome = answer_outcome(*code, 0, 1404, "errcode")) return std::move(*outcome);
  Page page;
  auto result = f::object_of(*doc, "result");
  if (!result) return result.error();
  auto summary = f::object_of(**result, "contribution_summary");
  if (!summary) return summary.error();
  auto months = f::integer_of(**summary, "months", 0, 100000);
  if (!months) return months.error();
  auto last = f::string_of(**summary, "last_period");
  if (!last) return last.error();
  if (!last->empty() && !f::parse_compact_period(*last)) return f::malformed("'last_period' is not YYYYMM");
  auto benefits = f::object_of(**result, "benefits");
  if (!benefits) return benefits.error();
  auto total = f::integer_of(**benefits, "total", 0, 1'000'000);
  if (!total) return total.error();
  auto at = f::integer_of(**benefits, "offset", 0, 1'000'000);
  if (!at) return at.error();
  if (*at != offset) return f::malformed("'offset' is not the one asked for");
  auto rows = f::array_of(**benefits, "rows");
  if (!rows) return rows.error();
  if ((*rows)->size() > static_cast<std::size_t>(kLimit)) return f::malformed("page holds more rows than asked");
  page.total = *total;
  page.next = std::to_string(offset + static_cast<long>((*rows)->size()));
  for (const json& r : **rows) {
    if (!r.is_object()) return f::malformed("benefit row is not an object");
    auto period = f::string_of(r, "aae002");
    auto type = f::string_of(r, "aae140");
    auto amount_text = f::string_of(r, "aae019");
    auto basic_text = f::string_of(r, "jcylj");
    for (const auto* x : {&period, &type, &amount_text, &basic_text}) {
      if (!*x) return x->error();
    }
    const auto ym = f::parse_compact_period(*period);
    if (!ym) return f::malformed("'aae002' is not YYYYMM");
    const auto kind = kind_of(*type);
    if (!kind) return make_error("unsupported_answer", "unknown benefit type code");
    auto amount = parse_non_negative_amount(*amount_text, "aae019");
    if (!amount) return amount.error();
    auto basic = parse_non_negative_amount(*basic_text, "jcylj");
    if (!basic) return basic.error();
    if (*basic > *amount) return f::malformed("'jcylj' exceeds 'aae019'");
    if (*kind != IncomeKind::kResidentsPension && *basic != Money{}) {
      return f::malformed("'jcylj' given for a benefit other than the residents' pension");
    }
    page.records.income.push_back(IncomeRecord{ym->first, ym->second, *kind, *amount, *basic});
  }
  return page;
}

PagedAgency agency() {
  PagedAgency a;
  a.source = Source::kSocialInsurance;
  a.path = "/hrss/si/v1/person-benefits";
  a.request_body = [](const MemberQuery& m, const std::string& token) {
    const long offset = token.empty() ? 0 : std::stol(token);
    return json{{"aac002", m.id_number}, {"aac058", "01"}, {"jylsh", m.query_id},
                {"offset", offset},      {"limit", kLimit}}
        .dump();
  };
  a.parse_page = [](long status, std::string_view body, const std::string& token) {
    return parse_page(status, body, token.empty() ? 0 : std::stol(token));
  };
  return a;
}

}  // namespace hfv::adapters::social_insurance
