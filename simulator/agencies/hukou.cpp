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

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  if (request.path != kPath) {
    out.reply = error(404, 404, "no such interface");
    return out;
  }
  if (request.method != "POST") {
    out.reply = error(405, 405, "method not allowed");
    out.reply.headers = {{"Allow", "POST"}};
    return out;
  }
  const auto body = wire::json_object_body(request);
  if (!body) {
    out.reply = error(400, 400, "参数错误");
    return out;
  }
  const auto id = body->find("gmsfhm");
  if (id == body->end() || !id->is_string() || id->get_ref<const std::string&>().size() != 18) {
    out.reply = error(400, 400, "gmsfhm must be an 18-character string");
    return out;
  }
  out.person = id->get<std::string>();
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
