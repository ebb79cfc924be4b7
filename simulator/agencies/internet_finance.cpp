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

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  if (request.path != kPath) {
    out.reply = error(404, "NO_SUCH_API");
    return out;
  }
  if (request.method != "POST") {
    out.reply = error(405, "METHOD_NOT_ALLOWED");
    out.reply.headers = {{"Allow", "POST"}};
    return out;
  }
  const auto body = wire::json_object_body(request);
  if (!body) {
    out.reply = error(400, "INVALID_REQUEST");
    return out;
  }
  const auto id = body->find("id_card");
  if (id == body->end() || !id->is_string() || id->get_ref<const std::string&>().size() != 18) {
    out.reply = error(400, "INVALID_ID_CARD");
    return out;
  }
  out.person = id->get<std::string>();
  std::size_t offset = 0;
  if (auto t = body->find("page_token"); t != body->end()) {
    if (!t->is_string()) {
      out.reply = error(400, "INVALID_PAGE_TOKEN");
      return out;
    }
    const std::string token = t->get<std::string>();
    if (!token.empty()) {
      if (token.size() < 2 || token.size() > 10 || token[0] != 'p' ||
          token.find_first_not_of("0123456789", 1) != std::string::npos) {
        out.reply = error(400, "INVALID_PAGE_TOKEN");
        return out;
      }
      offset = std::stoul(token.substr(1));
    }
  }
  const Json* records = dataset.records(out.person, "internet_finance");
  if (records == nullptr) {
    out.reply = wire::json_reply(
        200, Json{{"success", true}, {"user_exists", false}, {"items", Json::array()}, {"next_page_token", ""}});
    return out;
  }
  Json items = Json::array();
  for (std::size_t i = offset; i < records->size() && i < offset + kPageSize; ++i) {
    const Json& r = (*records)[i];
    items.push_back(Json{{"platform", r["platform"]},
                         {"account_id", r["account"]},
                         {"balance_yuan", r["balance"]},
                         {"updated_at", r["as_of"].get<std::string>() + "T08:00:00+08:00"}});
  }
  const std::string next = offset + kPageSize < records->size() ? "p" + std::to_string(offset + kPageSize) : "";
  out.reply = wire::json_reply(
      200, Json{{"success", true}, {"user_exists", true}, {"items", std::move(items)}, {"next_page_token", next}});
  return out;
}

}  // namespace

Agency internet_finance_agency() { return Agency{"internet_finance", "ifin", &validate, &answer}; }

}  // namespace hfv::sim
