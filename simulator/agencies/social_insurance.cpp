// Social insurance (human resources and social security): an insured
// person's contributions and benefit payments by ID number, both lists paged
// by one offset/limit (at most 24 rows of each a page), with a summary of
// contributions. Field names follow the ministry's data-element codes
// (aac002 ID number, aae002 period YYYYMM, aae003 contribution period,
// aae140 insurance type, aae019 amount, aae180 contribution base, grjfhj
// the person's own contribution). Wire format in simulator/README.md
// ("Social insurance"). Dataset records (source "social_insurance"):
// {"contributions":[{"period","type","base","personal"}],
//  "benefits":[{"period","type","amount","basic_part"}]}; `personal` is
// optional (default 0) and not above `base`.
#include <string>

#include "simulator/agencies/agencies.hpp"
#include "simulator/agencies/wire.hpp"

namespace hfv::sim {

namespace {

constexpr std::string_view kPath = "/hrss/si/v1/person-benefits";
constexpr std::uint64_t kMaxLimit = 24;

Reply error(int status, int code, const std::string& message) {
  return wire::json_reply(status, Json{{"errcode", code}, {"errmsg", message}});
}

const char* type_code(const std::string& type) {
  if (type == "employee_pension") return "110";
  if (type == "residents_pension") return "170";
  if (type == "medical") return "310";
  if (type == "unemployment") return "210";
  if (type == "work_injury") return "410";
  if (type == "maternity") return "510";
  return "999";
}

std::optional<std::string> validate(const Json& records) {
  if (auto p = wire::check_keys(records, "", {}, {"contributions", "benefits"})) return p;
  if (auto it = records.find("contributions"); it != records.end()) {
    if (!it->is_array()) return ".contributions: must be an array";
    for (std::size_t i = 0; i < it->size(); ++i) {
      const Json& r = (*it)[i];
      const std::string at = ".contributions" + wire::index_at(i);
      if (auto p = wire::check_keys(r, at, {"period", "type", "base"}, {"personal"})) return p;
      if (auto p = wire::check_string(r, at, "period")) return p;
      if (!wire::is_year_month(r["period"].get_ref<const std::string&>())) {
        return at + ".period: must be a YYYY-MM month";
      }
      if (auto p = wire::check_enum(r, at, "type",
                                    {"employee_pension", "residents_pension", "medical",
                                     "unemployment", "work_injury", "maternity"})) {
        return p;
      }
      if (auto p = wire::check_amount(r, at, "base")) return p;
      if (!r.contains("personal")) continue;
      if (auto p = wire::check_amount(r, at, "personal")) return p;
      if (wire::yuan_to_fen(r["personal"].get<std::string>()) >
          wire::yuan_to_fen(r["base"].get<std::string>())) {
        return at + ".personal: must not exceed base";
      }
    }
  }
  if (auto it = records.find("benefits"); it != records.end()) {
    if (!it->is_array()) return ".benefits: must be an array";
    for (std::size_t i = 0; i < it->size(); ++i) {
      const Json& r = (*it)[i];
      const std::string at = ".benefits" + wire::index_at(i);
      if (auto p = wire::check_keys(r, at, {"period", "type", "amount"}, {"basic_part"})) return p;
      if (auto p = wire::check_string(r, at, "period")) return p;
      if (!wire::is_year_month(r["period"].get_ref<const std::string&>())) {
        return at + ".period: must be a YYYY-MM month";
      }
      if (auto p = wire::check_enum(
              r, at, "type",
              {"employee_pension", "residents_pension", "unemployment", "work_injury", "other"})) {
        return p;
      }
      if (auto p = wire::check_amount(r, at, "amount")) return p;
      const bool residents = r["type"] == "residents_pension";
      if (!r.contains("basic_part")) {
        if (residents) return at + ".basic_part: is missing (required for residents_pension)";
        continue;
      }
      if (auto p = wire::check_amount(r, at, "basic_part")) return p;
      const auto basic = wire::yuan_to_fen(r["basic_part"].get<std::string>());
      if (basic > wire::yuan_to_fen(r["amount"].get<std::string>())) {
        return at + ".basic_part: must not exceed amount";
      }
      if (!residents && basic != 0) return at + ".basic_part: only residents_pension has one";
    }
  }
  return std::nullopt;
}

std::string compact_period(const std::string& period) { return period.substr(0, 4) + period.substr(5, 2); }

constexpr wire::Endpoint kEndpoint{
    .path = kPath,
    .no_such_path = [] { return error(404, 40400, "接口不存在"); },
    .not_post = [] { return error(405, 40500, "method not allowed"); },
    .not_json_object = [] { return error(400, 40000, "invalid JSON body"); },
};

constexpr wire::PersonId kPersonId{
    .field = "aac002",
    .invalid = [] { return error(400, 40002, "aac002 must be an 18-character string"); },
    .cert_type_field = "aac058",
    .cert_type = "01",
    .wrong_cert_type = [] { return error(400, 40001, "aac058 (certificate type) must be \"01\""); },
};

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  const auto body = wire::post_body(request, kEndpoint, out);
  if (!body || !wire::read_person(*body, kPersonId, out)) return out;
  const auto offset = wire::integer_field(*body, "offset", 0, 0, wire::kMaxOffset);
  if (!offset) {
    out.reply = error(400, 40003, "offset must be an integer >= 0");
    return out;
  }
  const auto limit = wire::integer_field(*body, "limit", kMaxLimit, 1, kMaxLimit);
  if (!limit) {
    out.reply = error(400, 40004, "limit must be an integer from 1 to 24");
    return out;
  }
  std::string serial;
  if (auto s = body->find("jylsh"); s != body->end() && s->is_string()) serial = s->get<std::string>();
  const Json* records = dataset.records(out.person, "social_insurance");
  if (records == nullptr) {
    out.reply =
        wire::json_reply(200, Json{{"errcode", 1404}, {"errmsg", "查无参保记录"}, {"jylsh", serial}});
    return out;
  }
  static const Json kEmpty = Json::array();
  const Json& contributions = records->contains("contributions") ? (*records)["contributions"] : kEmpty;
  const Json& benefits = records->contains("benefits") ? (*records)["benefits"] : kEmpty;
  std::string last_period;
  for (const Json& c : contributions) {
    const std::string p = compact_period(c["period"].get<std::string>());
    if (p > last_period) last_period = p;
  }
  Json contribution_rows = Json::array();
  for (std::uint64_t i = *offset; i < contributions.size() && i - *offset < *limit; ++i) {
    const Json& c = contributions[static_cast<std::size_t>(i)];
    contribution_rows.push_back(
        Json{{"aae003", compact_period(c["period"].get<std::string>())},
             {"aae140", type_code(c["type"].get<std::string>())},
             {"aae180", wire::fen_to_yuan(wire::yuan_to_fen(c["base"].get<std::string>()))},
             {"grjfhj", wire::fen_to_yuan(wire::yuan_to_fen(c.value("personal", "0")))}});
  }
  Json rows = Json::array();
  for (std::uint64_t i = *offset; i < benefits.size() && i - *offset < *limit; ++i) {
    const Json& b = benefits[static_cast<std::size_t>(i)];
    const std::string type = b["type"].get<std::string>();
    rows.push_back(Json{{"aae002", compact_period(b["period"].get<std::string>())},
                        {"aae140", type_code(type)},
                        {"aae019", wire::fen_to_yuan(wire::yuan_to_fen(b["amount"].get<std::string>()))},
                        {"jcylj", wire::fen_to_yuan(wire::yuan_to_fen(b.value("basic_part", "0")))}});
  }
  out.reply = wire::json_reply(
      200, Json{{"errcode", 0},
                {"errmsg", "ok"},
                {"jylsh", serial},
                {"result",
                 {{"aac003", dataset.name(out.person)},
                  {"contribution_summary",
                   {{"months", contributions.size()}, {"last_period", last_period}}},
                  {"contributions",
                   {{"total", contributions.size()},
                    {"offset", *offset},
                    {"rows", std::move(contribution_rows)}}},
                  {"benefits", {{"total", benefits.size()}, {"offset", *offset}, {"rows", std::move(rows)}}}}}});
  return out;
}

}  // namespace

Agency social_insurance_agency() { return Agency{"social_insurance", "hrss", &validate, &answer}; }

}  // namespace hfv::sim
