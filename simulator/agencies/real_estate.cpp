// Real-estate registry: property rights held by a person (权利人), paged by
// page number (at most 10 a page; the answer states the total). Planned use
// (ghyt) in Chinese, floor area as a decimal string of square metres, the
// holder's share as a percentage string ("50%"). Wire format in
// simulator/README.md ("Real estate"). Dataset records (source
// "real_estate"): [{"cert_no","use":"residential|commercial|other",
// "area_m2":"85.20","share":1..100}].
#include <string>

#include "simulator/agencies/agencies.hpp"
#include "simulator/agencies/wire.hpp"

namespace hfv::sim {

namespace {

constexpr std::string_view kPath = "/bdc/api/v1/qlr/property-rights";
constexpr std::uint64_t kMaxPageSize = 10;

Reply error(int status, const char* code, const std::string& message) {
  return wire::json_reply(status, Json{{"code", code}, {"msg", message}, {"data", nullptr}});
}

// digits(.d|.dd)?, greater than zero, at most 7 integer digits.
bool is_area(const std::string& s) {
  if (!wire::is_non_negative_yuan(s)) return false;
  const auto dot = s.find('.');
  return (dot == std::string::npos ? s.size() : dot) <= 7 && wire::yuan_to_fen(s) > 0;
}

std::optional<std::string> validate(const Json& records) {
  if (!records.is_array()) return ": must be an array";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Json& r = records[i];
    const std::string at = wire::index_at(i);
    if (auto p = wire::check_keys(r, at, {"cert_no", "use", "area_m2", "share"}, {})) return p;
    if (auto p = wire::check_string(r, at, "cert_no")) return p;
    if (auto p = wire::check_enum(r, at, "use", {"residential", "commercial", "other"})) return p;
    if (auto p = wire::check_string(r, at, "area_m2")) return p;
    if (!is_area(r["area_m2"].get<std::string>())) {
      return at + ".area_m2: must be a positive area in square metres such as \"85.20\"";
    }
    const Json& share = r["share"];
    if (!share.is_number_integer() || share.get<std::int64_t>() < 1 || share.get<std::int64_t>() > 100) {
      return at + ".share: must be an integer percentage from 1 to 100";
    }
  }
  return std::nullopt;
}

const char* use_label(const std::string& use) {
  if (use == "residential") return "住宅";
  if (use == "commercial") return "商业";
  return "其他";
}

constexpr wire::Endpoint kEndpoint{
    .path = kPath,
    .no_such_path = [] { return error(404, "9404", "接口不存在"); },
    .not_post = [] { return error(405, "9405", "请求方法不允许"); },
    .not_json_object = [] { return error(400, "9400", "请求体必须是JSON对象"); },
};

constexpr wire::PersonId kPersonId{
    .field = "zjh",
    .invalid = [] { return error(400, "9400", "zjh must be an 18-character string"); },
    .cert_type_field = "zjzl",
    .cert_type = "1",
    .wrong_cert_type = [] { return error(400, "9400", "zjzl must be \"1\" (resident ID card)"); },
};

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  const auto body = wire::post_body(request, kEndpoint, out);
  if (!body || !wire::read_person(*body, kPersonId, out)) return out;
  const auto page_num = wire::integer_field(*body, "pageNum", 1, 1, wire::kUnbounded);
  if (!page_num) {
    out.reply = error(400, "9400", "pageNum must be an integer >= 1");
    return out;
  }
  const auto page_size = wire::integer_field(*body, "pageSize", kMaxPageSize, 1, kMaxPageSize);
  if (!page_size) {
    out.reply = error(400, "9400", "pageSize must be an integer from 1 to 10");
    return out;
  }
  const Json* records = dataset.records(out.person, "real_estate");
  if (records == nullptr) {
    out.reply = error(200, "1004", "未查询到权利人登记信息");
    return out;
  }
  const std::uint64_t total = records->size();
  Json list = Json::array();
  if (*page_num - 1 <= total / *page_size) {
    for (std::uint64_t i = (*page_num - 1) * *page_size; i < total && i < *page_num * *page_size; ++i) {
      const Json& r = (*records)[static_cast<std::size_t>(i)];
      const auto share = r["share"].get<std::int64_t>();
      list.push_back(Json{{"bdcqzh", r["cert_no"]},
                          {"ghyt", use_label(r["use"].get<std::string>())},
                          {"jzmj", wire::fen_to_yuan(wire::yuan_to_fen(r["area_m2"].get<std::string>()))},
                          {"gyfs", share == 100 ? "单独所有" : "按份共有"},
                          {"qlbl", std::to_string(share) + "%"}});
    }
  }
  out.reply = wire::json_reply(
      200, Json{{"code", "0000"},
                {"msg", "查询成功"},
                {"data",
                 {{"qlrmc", dataset.name(out.person)},
                  {"total", total},
                  {"pageNum", *page_num},
                  {"pageSize", *page_size},
                  {"list", std::move(list)}}}});
  return out;
}

}  // namespace

Agency real_estate_agency() { return Agency{"real_estate", "bdc", &validate, &answer}; }

}  // namespace hfv::sim
