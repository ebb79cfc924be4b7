#include "adapters/vehicle/vehicle_adapter.hpp"

#include "adapters/common/answer_fields.hpp"

namespace hfv::adapters::vehicle {

using nlohmann::json;
namespace f = fields;

namespace {
constexpr std::size_t kMaxPerPage = 50;

std::optional<std::string> type_of(const std::string& code) {
  if (code.size() != 3 || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9') return std::nullopt;
  switch (code[0]) {
    case 'K': return "car";
    case 'M': return "motorcycle";
    case 'H': return "truck";
    case 'S': return "vessel";
    default: return std::nullopt;
  }
}
// hh:mm:ss
bool is_time(std::string_view t) {
  if (t.size() != 8 || t[2] != ':' || t[5] != ':') return false;
  for (std::size_t i : {0U, 1U, 3U, 4U, 6U, 7U}) {
    if (t[i] < '0' || t[i] > '9') return false;
  }
  return (t[0] - '0') * 10 + (t[1] - '0') < 24 && t[3] < '6' && t[6] < '6';
}
}  // namespace

Result<Page> parse_page(long status, std::string_view body) {
  auto doc = f::parse_object(body);
  if (status == 404 && doc) {
    auto code = f::integer_of(*doc, "status", -1000, 1000);
    auto message = f::string_of(*doc, "message");
    if (code && *code == 0 && message && *message == "NO_SUCH_OWNER") {
      Page page;
      page.not_found = true;
      return page;
    }
  }
  if (status != 200) return make_error("agency_error", "agency answered HTTP " + std::to_string(status));
  if (!doc) return doc.error();
  auto code = f::integer_of(*doc, "status", -1000, 1000);
  if (!code) return code.error();
  if (*code != 1) return make_error("agency_error", "agency answered status " + std::to_string(*code));
  auto vehicles = f::array_of(*doc, "vehicles");
  if (!vehicles) return vehicles.error();
  auto more = f::bool_of(*doc, "more");
  if (!more) return more.error();
  auto cursor = f::string_of(*doc, "cursor");
  if (!cursor) return cursor.error();
  if (*more == cursor->empty()) return f::malformed("'cursor' does not agree with 'more'");
  if ((*vehicles)->size() > kMaxPerPage) return f::malformed("page holds too many vehicles");
  Page page;
  if (*more) page.next = *cursor;
  for (const json& v : **vehicles) {
    if (!v.is_object()) return f::malformed("vehicle is not an object");
    auto plate = f::nonempty_string_of(v, "hphm");
    auto type_code = f::string_of(v, "cllx");
    auto price_text = f::string_of(v, "gmjg");
    auto registered_text = f::string_of(v, "ccdjrq");
    auto aid = f::string_of(v, "cjrzyc");
    for (const auto* x : {&plate, &type_code, &price_text, &registered_text, &aid}) {
      if (!*x) return x->error();
    }
    const auto type = type_of(*type_code);
    if (!type) return make_error("unsupported_answer", "unknown vehicle type code 'cllx'");
    const auto price = f::parse_wan_yuan(*price_text);
    if (!price) return f::malformed("'gmjg' is not an amount in ten-thousands of yuan");
    std::optional<Date> registered;
    if (registered_text->size() == 19 && (*registered_text)[10] == ' ' &&
        is_time(std::string_view(*registered_text).substr(11))) {
      registered = Date::parse(registered_text->substr(0, 10));
    }
    if (!registered) return f::malformed("'ccdjrq' is not a YYYY-MM-DD hh:mm:ss time");
    if (*aid != "0" && *aid != "1") return f::malformed("'cjrzyc' is not \"0\" or \"1\"");
    page.records.vehicles.push_back(
        VehicleRecord{f::mask_text(*plate, 2), *type, *price, registered, *aid == "1"});
  }
  return page;
}

PagedAgency agency() {
  PagedAgency a;
  a.source = Source::kVehicle;
  a.path = "/tmri/api/v2/vehicles/by-owner";
  a.request_body = [](const MemberQuery& m, const std::string& token) {
    return json{{"sfzmmc", "A"}, {"sfzmhm", m.id_number}, {"lsh", m.query_id}, {"cursor", token}}.dump();
  };
  a.parse_page = [](long status, std::string_view body, const std::string&) { return parse_page(status, body); };
  return a;
}

}  // namespace hfv::adapters::vehicle
