// Household registration (public security population register): one
// person's registration by ID number, a single object. Field names are the
// register's pinyin abbreviations (gmsfhm ID number, xm name, ssxq division,
// ryzt person status in Chinese). Wire format in simulator/README.md
// ("Hukou"). Dataset record (source "hukou"): {"name"?, "division":
// 6-digit GB/T 2260 code, "status":"normal|deceased|moved"}.
#include <string>

#include "simulator/agencies/agencies.hpp"
#include "simulator/agencies/wire.hpp"

namespace hfv::sim {

namespace {

constexpr std::string_view kPath = "/rkxx/api/v1/person/status";

Reply error(int status, int code, const std::string& message) {
  return wire::json_reply(status, Json{{"ret", code}, {"msg", message}});
}

std::optional<std::string> validate(const Json& record) {
  if (auto p = wire::check_keys(record, "", {"division", "status"}, {"name"})) return p;
  const Json& division = record["division"];
  if (!division.is_string() || division.get_ref<const std::string&>().size() != 6 ||
      division.get_ref<const std::string&>().find_first_not_of("0123456789") != std::string::npos) {
    return ".division: must be a 6-digit division code";
  }
  if (auto p = wire::check_enum(record, "", "status", {"normal", "deceased", "moved"})) return p;
  return std::nullopt;
}

const char* status_label(const std::string& status) {
  if (status == "normal") return "正常";
  if (status == "deceased") return "死亡";
  return "迁出";
}

constexpr wire::Endpoint kEndpoint{
    .path = kPath,
    .no_such_path = [] { return error(404, 404, "no such interface"); },
    .not_post = [] { return error(405, 405, "method not allowed"); },
    .not_json_object = [] { return error(400, 400, "参数错误"); },
};

constexpr wire::PersonId kPersonId{
    .field = "gmsfhm",
    .invalid = [] { return error(400, 400, "gmsfhm must be an 18-character string"); },
};

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  const auto body = wire::post_body(request, kEndpoint, out);
  if (!body || !wire::read_person(*body, kPersonId, out)) return out;
  const Json* record = dataset.records(out.person, "hukou");
  if (record == nullptr) {
    out.reply = error(200, 1, "查无此人");
    return out;
  }
  out.reply = wire::json_reply(200, Json{{"ret", 0},
                                         {"msg", "查询成功"},
                                         {"rkxx",
                                          {{"xm", dataset.name(out.person)},
                                           {"ssxq", (*record)["division"]},
                                           {"ryzt", status_label((*record)["status"].get<std::string>())}}}});
  return out;
}

}  // namespace

Agency hukou_agency() { return Agency{"hukou", "rkxx", &validate, &answer}; }

}  // namespace hfv::sim
