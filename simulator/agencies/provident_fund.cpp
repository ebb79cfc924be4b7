// Housing provident fund centre: one depositor's account by ID number, a
// single object (no paging). Amounts are JSON integers in fen. Wire format
// in simulator/README.md ("Provident fund"). Dataset record (source
// "provident_fund"): {"balance","monthly_deposit"}.
#include <string>

#include "simulator/agencies/agencies.hpp"
#include "simulator/agencies/wire.hpp"

namespace hfv::sim {

namespace {

constexpr std::string_view kPath = "/gjj/api/query/account";

Reply error(int status, const char* code, const std::string& message) {
  return wire::json_reply(status,
                          Json{{"success", false}, {"retcode", code}, {"retmsg", message}, {"data", nullptr}});
}

std::optional<std::string> validate(const Json& record) {
  if (auto p = wire::check_keys(record, "", {"balance", "monthly_deposit"}, {})) return p;
  if (auto p = wire::check_amount(record, "", "balance")) return p;
  if (auto p = wire::check_amount(record, "", "monthly_deposit")) return p;
  return std::nullopt;
}

constexpr wire::Endpoint kEndpoint{
    .path = kPath,
    .no_such_path = [] { return error(404, "404000", "接口不存在"); },
    .not_post = [] { return error(405, "405000", "请使用POST"); },
    .not_json_object = [] { return error(400, "400000", "请求参数错误"); },
};

constexpr wire::PersonId kPersonId{
    .field = "idCardNo",
    .invalid = [] { return error(400, "400001", "idCardNo must be an 18-character string"); },
};

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  const auto body = wire::post_body(request, kEndpoint, out);
  if (!body || !wire::read_person(*body, kPersonId, out)) return out;
  const Json* record = dataset.records(out.person, "provident_fund");
  if (record == nullptr) {
    out.reply = wire::json_reply(200, Json{{"success", false},
                                           {"retcode", "300001"},
                                           {"retmsg", "未查询到缴存职工信息"},
                                           {"data", nullptr}});
    return out;
  }
  out.reply = wire::json_reply(
      200, Json{{"success", true},
                {"retcode", "000000"},
                {"retmsg", "成功"},
                {"data",
                 {{"xingming", dataset.name(out.person)},
                  {"zhye", wire::yuan_to_fen((*record)["balance"].get<std::string>())},
                  {"yjce", wire::yuan_to_fen((*record)["monthly_deposit"].get<std::string>())},
                  {"zhzt", "01"}}}});
  return out;
}

}  // namespace

Agency provident_fund_agency() { return Agency{"provident_fund", "gjj", &validate, &answer}; }

}  // namespace hfv::sim
