#include "adapters/business/business_adapter.hpp"

#include "adapters/common/answer_fields.hpp"

namespace hfv::adapters::business {

using nlohmann::json;
namespace f = fields;

namespace {
constexpr std::size_t kMaxPerPage = 50;

std::optional<std::string> role_of(const std::string& s) {
  if (s == "法定代表人") return "legal_representative";
  if (s == "股东") return "shareholder";
  if (s == "其他人员") return "other";
  return std::nullopt;
}

std::optional<std::string> status_of(const std::string& s) {
  if (s == "存续" || s == "在营" || s == "开业") return "active";
  if (s == "吊销") return "revoked";
  if (s == "注销") return "cancelled";
  return std::nullopt;
}
}  // namespace

Result<Page> parse_page(long status, std::string_view body, long page_no) {
  auto doc = f::parse_answer(status, body);
  if (!doc) return doc.error();
  auto result = f::string_of(*doc, "result");
  if (!result) return result.error();
  if (auto outcome = answer_outcome(*result, "OK", "NOT_FOUND", "result")) return std::move(*outcome);
  Page page;
  auto data = f::object_of(*doc, "data");
  if (!data) return data.error();
  auto number = f::integer_of(**data, "pageNo", 1, 100000);
  if (!number) return number.error();
  if (*number != page_no) return f::malformed("'pageNo' is not the page asked for");
  auto more = f::bool_of(**data, "hasMore");
  if (!more) return more.error();
  auto list = f::array_of(**data, "enterprises");
  if (!list) return list.error();
  if ((*list)->size() > kMaxPerPage) return f::malformed("page holds too many enterprises");
  if (*more) page.next = std::to_string(page_no + 1);
  for (const json& e : **list) {
    if (!e.is_object()) return f::malformed("enterprise is not an object");
    auto uscc = f::nonempty_string_of(e, "uscc");
    auto relation = f::string_of(e, "relationType");
    auto state = f::string_of(e, "regState");
    for (const auto* x : {&uscc, &relation, &state}) {
      if (!*x) return x->error();
    }
    auto capital = f::object_of(e, "capital");
    if (!capital) return capital.error();
    auto value = f::string_of(**capital, "value");
    auto unit = f::string_of(**capital, "unit");
    if (!value) return value.error();
    if (!unit) return unit.error();
    std::optional<Money> amount;
    if (*unit == "万元") {
      amount = f::parse_wan_yuan(*value);
    } else if (*unit == "元") {
      amount = f::parse_grouped_yuan(*value);
    } else {
      return make_error("unsupported_answer", "unknown capital unit");
    }
    if (!amount) return f::malformed("'capital.value' is not a non-negative amount");
    const auto role = role_of(*relation);
    if (!role) return make_error("unsupported_answer", "unknown 'relationType'");
    const auto reg = status_of(*state);
    if (!reg) return make_error("unsupported_answer", "unknown 'regState'");
    page.records.businesses.push_back(BusinessRecord{mask_account(*uscc), *role, *amount, *reg});
  }
  return page;
}

PagedAgency agency() {
  PagedAgency a;
  a.source = Source::kBusiness;
  a.path = "/gsxt/openapi/person/enterprises";
  a.request_body = [](const MemberQuery& m, const std::string& token) {
    const long page_no = token.empty() ? 1 : std::stol(token);
    json person = {{"certType", "IDCARD"}, {"certNumber", m.id_number}};
    return json{{"person", std::move(person)}, {"traceNo", m.query_id}, {"pageNo", page_no}}.dump();
  };
  a.parse_page = [](long status, std::string_view body, const std::string& token) {
    return parse_page(status, body, token.empty() ? 1 : std::stol(token));
  };
  return a;
}

}  // namespace hfv::adapters::business
