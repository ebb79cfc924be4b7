// Securities depository: investor holdings by ID number, cursor-paged (20 a
// page). Wire format in simulator/README.md ("Securities"). Dataset records
// (source "securities"): [{"account","market_value","as_of"}] plus optional
// "market" (default "SH").
#include <string>

#include "simulator/agencies/agencies.hpp"
#include "simulator/agencies/wire.hpp"

namespace hfv::sim {

namespace {

constexpr std::string_view kPath = "/csdc/v1/investor-holdings";
constexpr std::size_t kPageSize = 20;

Reply error(int status, int code, const std::string& message) {
  return wire::json_reply(status, Json{{"code", code}, {"msg", message}});
}

std::optional<std::string> validate(const Json& records) {
  return wire::validate_list(records, {"account"}, {"market_value"}, {"as_of"}, {"market"});
}

constexpr wire::Endpoint kEndpoint{
    .path = kPath,
    .no_such_path = [] { return error(404, 40400, "no such service"); },
    .not_post = [] { return error(405, 40500, "method not allowed"); },
    .not_json_object = [] { return error(400, 40000, "body must be a JSON object sent as application/json"); },
};

constexpr wire::PersonId kPersonId{
    .field = "idNo",
    .invalid = [] { return error(400, 40001, "idNo must be an 18-character string"); },
};

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  const auto body = wire::post_body(request, kEndpoint, out);
  if (!body || !wire::read_person(*body, kPersonId, out)) return out;
  const auto offset = wire::cursor_offset(body->value("cursor", Json("")), "c");
  if (!offset) {
    out.reply = error(400, 40002, "cursor is not one this service issued");
    return out;
  }
  const Json* records = dataset.records(out.person, "securities");
  if (records == nullptr) {
    out.reply = error(404, 40401, "investor not found");
    return out;
  }
  Json positions = Json::array();
  for (std::size_t i = *offset; i < records->size() && i < *offset + kPageSize; ++i) {
    const Json& r = (*records)[i];
    positions.push_back(Json{{"acctNo", r["account"]},
                             {"market", r.value("market", "SH")},
                             {"marketValue", r["market_value"]},
                             {"valuationDate", r["as_of"]}});
  }
  Json next = nullptr;
  if (*offset + kPageSize < records->size()) next = "c" + std::to_string(*offset + kPageSize);
  out.reply = wire::json_reply(
      200, Json{{"code", 0},
                {"msg", "ok"},
                {"data", {{"investorName", dataset.name(out.person)}, {"positions", std::move(positions)},
                          {"nextCursor", next}}}});
  return out;
}

}  // namespace

Agency securities_agency() { return Agency{"securities", "csdc", &validate, &answer}; }

}  // namespace hfv::sim
