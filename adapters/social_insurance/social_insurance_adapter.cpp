#include "adapters/social_insurance/social_insurance_adapter.hpp"

#include "adapters/common/answer_fields.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

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

// Contribution type codes (aae140) as normalised names.
std::optional<std::string> contribution_type_of(const std::string& code) {
  if (code == "110") return "employee_pension";
  if (code == "170") return "residents_pension";
  if (code == "310") return "medical";
  if (code == "210") return "unemployment";
  if (code == "410") return "work_injury";
  if (code == "510") return "maternity";
  return std::nullopt;
}

// The contribution rows of one page: {"total","offset","rows":[{"aae003":
// "YYYYMM","aae140","aae180":base,"grjfhj":personal share}]}, paged by the
// same offset and limit as the benefits. Returns the stated total.
Result<std::int64_t> read_contributions(const json& result, long offset, NormalisedRecords& into) {
  auto list = f::object_of(result, "contributions");
  if (!list) return list.error();
  auto total = f::integer_of(**list, "total", 0, 1'000'000);
  if (!total) return total.error();
  auto at = f::integer_of(**list, "offset", 0, 1'000'000);
  if (!at) return at.error();
  if (*at != offset) return f::malformed("contributions 'offset' is not the one asked for");
  auto rows = f::array_of(**list, "rows");
  if (!rows) return rows.error();
  if ((*rows)->size() > static_cast<std::size_t>(kLimit)) {
    return f::malformed("page holds more contribution rows than asked");
  }
  for (const json& r : **rows) {
    if (!r.is_object()) return f::malformed("contribution row is not an object");
    auto period = f::string_of(r, "aae003");
    auto type = f::string_of(r, "aae140");
    auto base_text = f::string_of(r, "aae180");
    auto personal_text = f::string_of(r, "grjfhj");
    for (const auto* x : {&period, &type, &base_text, &personal_text}) {
      if (!*x) return x->error();
    }
    const auto ym = f::parse_compact_period(*period);
    if (!ym) return f::malformed("'aae003' is not YYYYMM");
    auto kind = contribution_type_of(*type);
    if (!kind) return make_error("unsupported_answer", "unknown contribution type code");
    auto base = parse_non_negative_amount(*base_text, "aae180");
    if (!base) return base.error();
    auto personal = parse_non_negative_amount(*personal_text, "grjfhj");
    if (!personal) return personal.error();
    if (*personal > *base) return f::malformed("'grjfhj' exceeds 'aae180'");
    into.contributions.push_back(
        ContributionRecord{ym->first, ym->second, std::move(*kind), *base, *personal});
  }
  return *total;
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
  auto months = f::integer_of(**summary, "months", 0, 1'000'000);
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
  auto contributions = read_contributions(**result, offset, page.records);
  if (!contributions) return contributions.error();
  if (*contributions != *months) {
    return f::malformed("'months' is not the number of contribution rows stated");
  }
  // One offset pages both lists, so the offset advances by the longer of
  // the two, and the shorter may be short only because it has ended (else
  // its skipped rows would be lost). The source is complete when every
  // benefit and every contribution has arrived.
  const std::size_t advanced = std::max((*rows)->size(), page.records.contributions.size());
  const auto ended_or_full = [&](std::size_t got, std::int64_t stated) {
    const auto end = offset + static_cast<std::int64_t>(got);
    return got == advanced || end == stated || (got == 0 && offset >= stated);
  };
  if (!ended_or_full((*rows)->size(), *total) ||
      !ended_or_full(page.records.contributions.size(), *contributions)) {
    return f::malformed("a list ends before its stated total while the other goes on");
  }
  page.total = *total + *contributions;
  page.next = std::to_string(offset + static_cast<long>(advanced));
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
