// Internet finance: platform balances by ID number, paged by an opaque token
// (10 a page). Wire format in simulator/README.md ("Internet finance").
// Dataset records (source "internet_finance"):
// [{"platform","account","balance","as_of"}].
#include <string>

#include "simulator/agencies/agencies.hpp"
#include "simulator/agencies/wire.hpp"

namespace hfv::sim {

namespace {

constexpr std::string_view kPath = "/ifin/api/balances";
constexpr std::size_t kPageSize = 10;

Reply error(int status, const std::string& code) {
  return wire::json_reply(status, Json{{"success", false}, {"error_code", code}});
}

std::optional<std::string> validate(const Json& records) {
  return wire::validate_list(records, {"platform", "account"}, {"balance"}, {"as_of"}, {});
}

constexpr wire::Endpoint kEndpoint{
    .path = kPath,
    .no_such_path = [] { return error(404, "NO_SUCH_API"); },
    .not_post = [] { return error(405, "METHOD_NOT_ALLOWED"); },
    .not_json_object = [] { return error(400, "INVALID_REQUEST"); },
};

constexpr wire::PersonId kPersonId{
    .field = "id_card",
    .invalid = [] { return error(400, "INVALID_ID_CARD"); },
};

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  const auto body = wire::post_body(request, kEndpoint, out);
  if (!body || !wire::read_person(*body, kPersonId, out)) return out;
  const auto offset = wire::cursor_offset(body->value("page_token", Json("")), "p");
  if (!offset) {
    out.reply = error(400, "INVALID_PAGE_TOKEN");
    return out;
  }
  const Json* records = dataset.records(out.person, "internet_finance");
  if (records == nullptr) {
    out.reply = wire::json_reply(
        200, Json{{"success", true}, {"user_exists", false}, {"items", Json::array()}, {"next_page_token", ""}});
    return out;
  }
  Json items = Json::array();
  for (std::size_t i = *offset; i < records->size() && i < *offset + kPageSize; ++i) {
    const Json& r = (*records)[i];
    items.push_back(Json{{"platform", r["platform"]},
                         {"account_id", r["account"]},
                         {"balance_yuan", r["balance"]},
                         {"updated_at", r["as_of"].get<std::string>() + "T08:00:00+08:00"}});
  }
  const std::string next = *offset + kPageSize < records->size() ? "p" + std::to_string(*offset + kPageSize) : "";
  out.reply = wire::json_reply(
      200, Json{{"success", true}, {"user_exists", true}, {"items", std::move(items)}, {"next_page_token", next}});
  return out;
}

}  // namespace

Agency internet_finance_agency() { return Agency{"internet_finance", "ifin", &validate, &answer}; }

}  // namespace hfv::sim
