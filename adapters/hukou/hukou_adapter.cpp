#include "adapters/hukou/hukou_adapter.hpp"

#include "adapters/common/answer_fields.hpp"

namespace hfv::adapters::hukou {

using nlohmann::json;
namespace f = fields;

namespace {
std::optional<std::string> status_of(const std::string& s) {
  if (s == "正常") return "normal";
  if (s == "死亡") return "deceased";
  if (s == "迁出") return "moved";
  return std::nullopt;
}
}  // namespace

Result<Page> parse_page(long status, std::string_view body) {
  auto doc = f::parse_answer(status, body);
  if (!doc) return doc.error();
  auto ret = f::integer_of(*doc, "ret", -100000, 100000);
  if (!ret) return ret.error();
  if (auto outcome = answer_outcome(*ret, 0, 1, "ret")) return std::move(*outcome);
  Page page;
  auto info = f::object_of(*doc, "rkxx");
  if (!info) return info.error();
  auto name = f::string_of(**info, "xm");
  if (!name) return name.error();
  auto division = f::string_of(**info, "ssxq");
  if (!division) return division.error();
  if (division->size() != 6 || division->find_first_not_of("0123456789") != std::string::npos) {
    return f::malformed("'ssxq' is not a 6-digit division code");
  }
  auto state = f::string_of(**info, "ryzt");
  if (!state) return state.error();
  const auto person_status = status_of(*state);
  if (!person_status) return make_error("unsupported_answer", "unknown 'ryzt'");
  page.records.hukou = HukouRecord{*division, *person_status};
  return page;
}

PagedAgency agency() {
  PagedAgency a;
  a.source = Source::kHukou;
  a.path = "/rkxx/api/v1/person/status";
  a.request_body = [](const MemberQuery& m, const std::string&) {
    return json{{"gmsfhm", m.id_number}, {"qqlsh", m.query_id}}.dump();
  };
  a.parse_page = [](long status, std::string_view body, const std::string&) { return parse_page(status, body); };
  return a;
}

}  // namespace hfv::adapters::hukou
