#include "adapters/tax/tax_adapter.hpp"

#include "adapters/common/answer_fields.hpp"

namespace hfv::adapters::tax {

using nlohmann::json;
namespace f = fields;

namespace {
constexpr long kRows = 12;

std::optional<IncomeKind> kind_of(const std::string& code) {
  if (code == "0101") return IncomeKind::kWages;
  if (code == "0501") return IncomeKind::kBusiness;
  if (code == "0601") return IncomeKind::kProperty;
  if (code == "9999") return IncomeKind::kOther;
  return std::nullopt;
}
}  // namespace

Result<Page> parse_page(long status, std::string_view body, long page_no) {
  auto doc = f::parse_answer(status, body);
  if (!doc) return doc.error();
  auto head = f::object_of(*doc, "head");
  if (!head) return head.error();
  auto code = f::string_of(**head, "rtnCode");
  if (!code) return code.error();
  if (auto outcome = answer_outcome(*code, "00", "04", "rtnCode")) return std::move(*outcome);
  Page page;
  auto b = f::object_of(*doc, "body");
  if (!b) return b.error();
  auto current = f::integer_of(**b, "pageCurrent", 1, 100000);
  if (!current) return current.error();
  if (*current != page_no) return f::malformed("'pageCurrent' is not the page asked for");
  auto total = f::integer_of(**b, "pageTotal", 1, 100000);
  if (!total) return total.error();
  auto records = f::array_of(**b, "records");
  if (!records) return records.error();
  if ((*records)->size() > static_cast<std::size_t>(kRows)) return f::malformed("page holds more records than asked");
  if (*current < *total) page.next = std::to_string(*current + 1);
  for (const json& r : **records) {
    if (!r.is_object()) return f::malformed("record is not an object");
    auto from = f::string_of(r, "sssqq");
    auto to = f::string_of(r, "sssqz");
    auto item = f::string_of(r, "sdxmdm");
    auto amount_text = f::string_of(r, "sre");
    auto withheld_text = f::string_of(r, "ykjse");
    for (const auto* x : {&from, &to, &item, &amount_text, &withheld_text}) {
      if (!*x) return x->error();
    }
    const auto start = Date::parse(*from);
    const auto end = Date::parse(*to);
    if (!start || !end || start->day() != 1 || end->year() != start->year() || end->month() != start->month()) {
      return f::malformed("'sssqq'/'sssqz' do not span one calendar month");
    }
    const auto next_day = Date::from_ymd(end->year(), end->month(), end->day() + 1);
    if (next_day && next_day->month() == end->month()) return f::malformed("'sssqz' is not the month's last day");
    const auto kind = kind_of(*item);
    if (!kind) return make_error("unsupported_answer", "unknown income item code");
    const auto amount = f::parse_grouped_yuan(*amount_text);
    if (!amount) return f::malformed("'sre' is not a non-negative amount");
    const auto withheld = f::parse_grouped_yuan(*withheld_text);
    if (!withheld) return f::malformed("'ykjse' is not a non-negative amount");
    if (*withheld > *amount) return f::malformed("'ykjse' exceeds 'sre'");
    page.records.income.push_back(
        IncomeRecord{start->year(), start->month(), *kind, *amount, Money{}, *withheld});
  }
  return page;
}

PagedAgency agency() {
  PagedAgency a;
  a.source = Source::kTax;
  a.path = "/etax/api/v3/income-records";
  a.request_body = [](const MemberQuery& m, const std::string& token) {
    const long current = token.empty() ? 1 : std::stol(token);
    return json{{"zjlx", "201"},
                {"zjhm", m.id_number},
                {"ywlsh", m.query_id},
                {"page", {{"current", current}, {"rows", kRows}}}}
        .dump();
  };
  a.parse_page = [](long status, std::string_view body, const std::string& token) {
    return parse_page(status, body, token.empty() ? 1 : std::stol(token));
  };
  return a;
}

}  // namespace hfv::adapters::tax
