// Commercial insurance: policies' cash values by ID number, paged by a
// 0-based index (at most 20 a page). Amounts go on the wire as integer fen
// strings and dates as YYYY/MM/DD. Wire format in simulator/README.md
// ("Insurance"). Dataset records (source "insurance"):
// [{"policy","insurer","cash_value","as_of"}].
#include <string>

#include "simulator/agencies/agencies.hpp"
#include "simulator/agencies/wire.hpp"

namespace hfv::sim {

namespace {

constexpr std::string_view kPath = "/cbit/v1/cash-value/query";
constexpr std::uint64_t kMaxPageSize = 20;

Reply error(int status, const std::string& code, const std::string& message) {
  return wire::json_reply(status, Json{{"status", code}, {"message", message}});
}

std::optional<std::string> validate(const Json& records) {
  return wire::validate_list(records, {"policy", "insurer"}, {"cash_value"}, {"as_of"}, {});
}

constexpr wire::Endpoint kEndpoint{
    .path = kPath,
    .no_such_path = [] { return error(404, "NOT_FOUND", "no such service"); },
    .not_post = [] { return error(405, "METHOD_NOT_ALLOWED", "use POST"); },
    .not_json_object = [] { return error(400, "BAD_REQUEST", "body must be a JSON object sent as application/json"); },
};

constexpr wire::PersonId kPersonId{
    .field = "certificateNumber",
    .invalid = [] { return error(400, "BAD_REQUEST", "certificateNumber must be an 18-character string"); },
};

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  const auto body = wire::post_body(request, kEndpoint, out);
  if (!body || !wire::read_person(*body, kPersonId, out)) return out;
  const Json page = body->value("page", Json::object());
  if (!page.is_object()) {
    out.reply = error(400, "BAD_REQUEST", "page must be an object");
    return out;
  }
  const auto index = wire::integer_field(page, "index", 0, 0, wire::kMaxOffset);
  if (!index) {
    out.reply = error(400, "BAD_REQUEST", "page.index must be an integer >= 0");
    return out;
  }
  const auto size = wire::integer_field(page, "size", kMaxPageSize, 1, kMaxPageSize);
  if (!size) {
    out.reply = error(400, "BAD_REQUEST", "page.size must be an integer from 1 to 20");
    return out;
  }
  const Json* records = dataset.records(out.person, "insurance");
  if (records == nullptr) {
    out.reply = wire::json_reply(200, Json{{"status", "NO_RECORD"}, {"result", nullptr}});
    return out;
  }
  Json policies = Json::array();
  if (*index <= records->size() / *size) {
    for (std::uint64_t i = *index * *size; i < records->size() && i < (*index + 1) * *size; ++i) {
      const Json& r = (*records)[static_cast<std::size_t>(i)];
      std::string date = r["as_of"].get<std::string>();
      date[4] = '/';
      date[7] = '/';
      policies.push_back(Json{{"policyNo", r["policy"]},
                              {"insurer", r["insurer"]},
                              {"cashValueFen", std::to_string(wire::yuan_to_fen(r["cash_value"].get<std::string>()))},
                              {"valuationDate", date}});
    }
  }
  out.reply = wire::json_reply(
      200, Json{{"status", "SUCCESS"},
                {"result", {{"total", records->size()}, {"index", *index}, {"policies", std::move(policies)}}}});
  return out;
}

}  // namespace

Agency insurance_agency() { return Agency{"insurance", "cbit", &validate, &answer}; }

}  // namespace hfv::sim
