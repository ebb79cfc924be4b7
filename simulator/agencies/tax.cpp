// Tax administration: a taxpayer's monthly income declarations by ID number,
// paged by page number (at most 12 records a page; the answer states the
// page count, not the record count). Each record carries its tax period as a
// start/end date pair and the amount with thousands separators
// ("8,200.50"), and the income tax withheld on it (ykjse, same form). Wire
// format in simulator/README.md ("Tax"). Dataset records (source "tax"):
// [{"period":"YYYY-MM","item":"wages|business|property|other","amount",
// "tax_withheld" (optional, default 0, not above amount)}].
#include <string>

#include "simulator/agencies/agencies.hpp"
#include "simulator/agencies/wire.hpp"

namespace hfv::sim {

namespace {

constexpr std::string_view kPath = "/etax/api/v3/income-records";
constexpr std::uint64_t kMaxRows = 12;

Reply error(int status, const char* code, const std::string& message) {
  return wire::json_reply(status, Json{{"head", {{"rtnCode", code}, {"rtnMsg", message}}}});
}

std::optional<std::string> validate(const Json& records) {
  if (!records.is_array()) return ": must be an array";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Json& r = records[i];
    const std::string at = wire::index_at(i);
    if (auto p = wire::check_keys(r, at, {"period", "item", "amount"}, {"tax_withheld"})) return p;
    if (auto p = wire::check_string(r, at, "period")) return p;
    if (!wire::is_year_month(r["period"].get_ref<const std::string&>())) {
      return at + ".period: must be a YYYY-MM month";
    }
    if (auto p = wire::check_enum(r, at, "item", {"wages", "business", "property", "other"})) return p;
    if (auto p = wire::check_amount(r, at, "amount")) return p;
    if (!r.contains("tax_withheld")) continue;
    if (auto p = wire::check_amount(r, at, "tax_withheld")) return p;
    if (wire::yuan_to_fen(r["tax_withheld"].get<std::string>()) >
        wire::yuan_to_fen(r["amount"].get<std::string>())) {
      return at + ".tax_withheld: must not exceed amount";
    }
  }
  return std::nullopt;
}

// "12345678.90" -> "12,345,678.90".
std::string with_separators(const std::string& yuan) {
  const auto dot = yuan.find('.');
  std::string whole = yuan.substr(0, dot);
  std::string out;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) out += ',';
    out += whole[i];
  }
  return out + yuan.substr(dot);
}

std::string last_day(const std::string& period) {
  const int year = std::stoi(period.substr(0, 4));
  const int month = std::stoi(period.substr(5, 2));
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int day = month == 2 && leap ? 29 : kDays[month - 1];
  return period + "-" + std::to_string(day);
}

const char* item_code(const std::string& item) {
  if (item == "wages") return "0101";
  if (item == "business") return "0501";
  if (item == "property") return "0601";
  return "9999";
}

const char* item_label(const std::string& item) {
  if (item == "wages") return "工资、薪金所得";
  if (item == "business") return "经营所得";
  if (item == "property") return "财产租赁所得";
  return "其他所得";
}

constexpr wire::Endpoint kEndpoint{
    .path = kPath,
    .no_such_path = [] { return error(404, "98", "服务不存在"); },
    .not_post = [] { return error(405, "97", "请求方法不允许"); },
    .not_json_object = [] { return error(400, "99", "请求报文不是JSON对象"); },
};

constexpr wire::PersonId kPersonId{
    .field = "zjhm",
    .invalid = [] { return error(400, "99", "zjhm must be an 18-character string"); },
    .cert_type_field = "zjlx",
    .cert_type = "201",
    .wrong_cert_type = [] { return error(400, "99", "zjlx must be \"201\" (resident ID card)"); },
};

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  const auto body = wire::post_body(request, kEndpoint, out);
  if (!body || !wire::read_person(*body, kPersonId, out)) return out;
  std::string serial;
  if (auto s = body->find("ywlsh"); s != body->end()) {
    if (!s->is_string()) {
      out.reply = error(400, "99", "ywlsh must be a string");
      return out;
    }
    serial = s->get<std::string>();
  }
  const Json page = body->value("page", Json::object());
  if (!page.is_object()) {
    out.reply = error(400, "99", "page must be an object");
    return out;
  }
  const auto current = wire::integer_field(page, "current", 1, 1, wire::kUnbounded);
  if (!current) {
    out.reply = error(400, "99", "page.current must be an integer >= 1");
    return out;
  }
  const auto rows = wire::integer_field(page, "rows", kMaxRows, 1, kMaxRows);
  if (!rows) {
    out.reply = error(400, "99", "page.rows must be an integer from 1 to 12");
    return out;
  }
  const Json* records = dataset.records(out.person, "tax");
  if (records == nullptr) {
    out.reply = wire::json_reply(
        200, Json{{"head", {{"rtnCode", "04"}, {"rtnMsg", "纳税人信息不存在"}, {"ywlsh", serial}}}});
    return out;
  }
  const std::uint64_t total = records->size();
  const std::uint64_t pages = total == 0 ? 1 : (total + *rows - 1) / *rows;
  Json list = Json::array();
  if (*current <= pages) {
    for (std::uint64_t i = (*current - 1) * *rows; i < total && i < *current * *rows; ++i) {
      const Json& r = (*records)[static_cast<std::size_t>(i)];
      const std::string period = r["period"].get<std::string>();
      const std::string item = r["item"].get<std::string>();
      const std::string amount = wire::fen_to_yuan(wire::yuan_to_fen(r["amount"].get<std::string>()));
      const std::string withheld =
          wire::fen_to_yuan(wire::yuan_to_fen(r.value("tax_withheld", "0")));
      list.push_back(Json{{"sssqq", period + "-01"},
                          {"sssqz", last_day(period)},
                          {"sdxmdm", item_code(item)},
                          {"sdxmmc", item_label(item)},
                          {"sre", with_separators(amount)},
                          {"ykjse", with_separators(withheld)}});
    }
  }
  out.reply = wire::json_reply(
      200, Json{{"head", {{"rtnCode", "00"}, {"rtnMsg", "成功"}, {"ywlsh", serial}}},
                {"body",
                 {{"nsrxm", dataset.name(out.person)},
                  {"pageCurrent", *current},
                  {"pageTotal", pages},
                  {"records", std::move(list)}}}});
  return out;
}

}  // namespace

Agency tax_agency() { return Agency{"tax", "etax", &validate, &answer}; }

}  // namespace hfv::sim
