// Vehicle registry (traffic administration): motor vehicles and vessels
// registered to an owner, cursor-paged (5 a page) with a `more` flag.
// Vehicle types as registry codes (K33 car, M21 motorcycle, H31 truck, S11
// vessel), the purchase price in ten-thousands of yuan with six decimals
// ("12.345600" = 123456.00 yuan), the first registration as
// "YYYY-MM-DD hh:mm:ss". Wire format in simulator/README.md ("Vehicle").
// Dataset records (source "vehicle"): [{"plate","type":"car|motorcycle|truck|vessel",
// "purchase_price","registered":"YYYY-MM-DD","mobility_aid":bool}].
#include <string>

#include "simulator/agencies/agencies.hpp"
#include "simulator/agencies/wire.hpp"

namespace hfv::sim {

namespace {

constexpr std::string_view kPath = "/tmri/api/v2/vehicles/by-owner";
constexpr std::size_t kPageSize = 5;

Reply error(int status, int code, const std::string& message) {
  return wire::json_reply(status, Json{{"status", code}, {"message", message}});
}

std::optional<std::string> validate(const Json& records) {
  if (!records.is_array()) return ": must be an array";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Json& r = records[i];
    const std::string at = wire::index_at(i);
    if (auto p = wire::check_keys(r, at, {"plate", "type", "purchase_price", "registered"},
                                  {"mobility_aid"})) {
      return p;
    }
    if (auto p = wire::check_string(r, at, "plate")) return p;
    if (auto p = wire::check_enum(r, at, "type", {"car", "motorcycle", "truck", "vessel"})) return p;
    if (auto p = wire::check_amount(r, at, "purchase_price")) return p;
    if (auto p = wire::check_string(r, at, "registered")) return p;
    if (!wire::is_iso_date(r["registered"].get_ref<const std::string&>())) {
      return at + ".registered: must be a YYYY-MM-DD date";
    }
    if (auto m = r.find("mobility_aid"); m != r.end() && !m->is_boolean()) {
      return at + ".mobility_aid: must be true or false";
    }
  }
  return std::nullopt;
}

const char* type_code(const std::string& type) {
  if (type == "car") return "K33";
  if (type == "motorcycle") return "M21";
  if (type == "truck") return "H31";
  return "S11";
}

// 12345600 fen -> "12.345600" (ten-thousands of yuan).
std::string wan_yuan(std::int64_t fen) {
  std::string frac = std::to_string(fen % 1'000'000);
  frac.insert(0, 6 - frac.size(), '0');
  return std::to_string(fen / 1'000'000) + "." + frac;
}

constexpr wire::Endpoint kEndpoint{
    .path = kPath,
    .no_such_path = [] { return error(404, -404, "NO_SUCH_INTERFACE"); },
    .not_post = [] { return error(405, -405, "METHOD_NOT_ALLOWED"); },
    .not_json_object = [] { return error(400, -400, "BAD_REQUEST_BODY"); },
};

constexpr wire::PersonId kPersonId{
    .field = "sfzmhm",
    .invalid = [] { return error(400, -400, "SFZMHM_INVALID"); },
    .cert_type_field = "sfzmmc",
    .cert_type = "A",
    .wrong_cert_type = [] { return error(400, -400, "SFZMMC_NOT_SUPPORTED"); },
};

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  const auto body = wire::post_body(request, kEndpoint, out);
  if (!body || !wire::read_person(*body, kPersonId, out)) return out;
  const auto offset = wire::cursor_offset(body->value("cursor", Json("")), "VC-");
  if (!offset) {
    out.reply = error(400, -400, "CURSOR_INVALID");
    return out;
  }
  const Json* records = dataset.records(out.person, "vehicle");
  if (records == nullptr) {
    out.reply = error(404, 0, "NO_SUCH_OWNER");
    return out;
  }
  Json vehicles = Json::array();
  for (std::size_t i = *offset; i < records->size() && i < *offset + kPageSize; ++i) {
    const Json& r = (*records)[i];
    vehicles.push_back(Json{{"hphm", r["plate"]},
                            {"cllx", type_code(r["type"].get<std::string>())},
                            {"gmjg", wan_yuan(wire::yuan_to_fen(r["purchase_price"].get<std::string>()))},
                            {"ccdjrq", r["registered"].get<std::string>() + " 00:00:00"},
                            {"cjrzyc", r.value("mobility_aid", false) ? "1" : "0"}});
  }
  const bool more = *offset + kPageSize < records->size();
  out.reply = wire::json_reply(200, Json{{"status", 1},
                                         {"message", "OK"},
                                         {"owner", {{"xm", dataset.name(out.person)}}},
                                         {"vehicles", std::move(vehicles)},
                                         {"more", more},
                                         {"cursor", more ? "VC-" + std::to_string(*offset + kPageSize) : ""}});
  return out;
}

}  // namespace

Agency vehicle_agency() { return Agency{"vehicle", "tmri", &validate, &answer}; }

}  // namespace hfv::sim
