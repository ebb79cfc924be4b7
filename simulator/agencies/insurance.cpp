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

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  if (request.path != kPath) {
    out.reply = error(404, "NOT_FOUND", "no such service");
    return out;
  }
  if (request.method != "POST") {
    out.reply = error(405, "METHOD_NOT_ALLOWED", "use POST");
    out.reply.headers = {{"Allow", "POST"}};
    return out;
  }
  const auto body = wire::json_object_body(request);
  if (!body) {
    out.reply = error(400, "BAD_REQUEST", "body must be a JSON object sent as application/json");
    return out;
  }
  const auto id = body->find("certificateNumber");
  if (id == body->end() || !id->is_string() || id->get_ref<const std::string&>().size() != 18) {
    out.reply = error(400, "BAD_REQUEST", "certificateNumber must be an 18-character string");
    return out;
  }
  out.person = id->get<std::string>();
  std::uint64_t index = 0;
  std::uint64_t size = kMaxPageSize;
  if (auto page = body->find("page"); page != body->end()) {
    if (!page->is_object()) {
      out.reply = error(400, "BAD_REQUEST", "page must be an object");
      return out;
    }
    if (auto i = page->find("index"); i != page->end()) {
      if (!i->is_number_integer() || i->get<std::int64_t>() < 0) {
        out.reply = error(400, "BAD_REQUEST", "page.index must be an integer >= 0");
        return out;
      }
      index = i->get<std::uint64_t>();
    }
    if (auto s = page->find("size"); s != page->end()) {
      const auto n = wire::positive_integer(*s);
      if (!n || *n > kMaxPageSize) {
        out.reply = error(400, "BAD_REQUEST", "page.size must be an integer from 1 to 20");
        return out;
      }
      size = *n;
    }
  }
  const Json* records = dataset.records(out.person, "insurance");
  if (records == nullptr) {
    out.reply = wire::json_reply(200, Json{{"status", "NO_RECORD"}, {"result", nullptr}});
    return out;
  }
  Json policies = Json::array();
  if (index <= records->size() / size) {
    for (std::uint64_t i = index * size; i < records->size() && i < (index + 1) * size; ++i) {
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
                {"result", {{"total", records->size()}, {"index", index}, {"policies", std::move(policies)}}}});
  return out;
}

}  // namespace

Agency insurance_agency() { return Agency{"insurance", "cbit", &validate, &answer}; }

}  // namespace hfv::sim
