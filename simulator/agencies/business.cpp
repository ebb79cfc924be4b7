// Market regulation (enterprise credit registry): enterprises a person
// represents or holds shares in, by page number (10 a page) with a
// `hasMore` flag. The subscribed capital is an object {value, unit} whose
// unit is "万元" (ten thousand yuan) when the amount is a whole number of
// 万元 and "元" otherwise; relation and registration state in Chinese.
// Wire format in simulator/README.md ("Business"). Dataset records (source
// "business"): [{"uscc","role":"legal_representative|shareholder|other",
// "subscribed_capital","status":"active|revoked|cancelled"}].
#include <string>

#include "simulator/agencies/agencies.hpp"
#include "simulator/agencies/wire.hpp"

namespace hfv::sim {

namespace {

constexpr std::string_view kPath = "/gsxt/openapi/person/enterprises";
constexpr std::uint64_t kPageSize = 10;

Reply error(int status, const char* result, const std::string& message) {
  return wire::json_reply(status, Json{{"result", result}, {"message", message}, {"data", nullptr}});
}

bool is_uscc(const std::string& s) {
  if (s.size() != 18) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) return false;
  }
  return true;
}

std::optional<std::string> validate(const Json& records) {
  if (!records.is_array()) return ": must be an array";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Json& r = records[i];
    const std::string at = wire::index_at(i);
    if (auto p = wire::check_keys(r, at, {"uscc", "role", "subscribed_capital", "status"}, {})) return p;
    if (auto p = wire::check_string(r, at, "uscc")) return p;
    if (!is_uscc(r["uscc"].get<std::string>())) {
      return at + ".uscc: must be an 18-character unified social credit code (0-9, A-Z)";
    }
    if (auto p = wire::check_enum(r, at, "role", {"legal_representative", "shareholder", "other"})) {
      return p;
    }
    if (auto p = wire::check_amount(r, at, "subscribed_capital")) return p;
    if (auto p = wire::check_enum(r, at, "status", {"active", "revoked", "cancelled"})) return p;
  }
  return std::nullopt;
}

const char* role_label(const std::string& role) {
  if (role == "legal_representative") return "法定代表人";
  if (role == "shareholder") return "股东";
  return "其他人员";
}

const char* status_label(const std::string& status) {
  if (status == "active") return "存续";
  if (status == "revoked") return "吊销";
  return "注销";
}

Json capital(std::int64_t fen) {
  constexpr std::int64_t kFenPerWan = 1'000'000;
  if (fen % kFenPerWan == 0) return Json{{"value", std::to_string(fen / kFenPerWan)}, {"unit", "万元"}};
  return Json{{"value", wire::fen_to_yuan(fen)}, {"unit", "元"}};
}

constexpr wire::Endpoint kEndpoint{
    .path = kPath,
    .no_such_path = [] { return error(404, "NO_SUCH_API", "no such api"); },
    .not_post = [] { return error(405, "METHOD_NOT_ALLOWED", "use POST"); },
    .not_json_object = [] { return error(400, "INVALID_PARAM", "body must be a JSON object"); },
};

constexpr wire::PersonId kPersonId{
    .field = "certNumber",
    .invalid = [] { return error(400, "INVALID_PARAM", "person.certNumber must be an 18-character string"); },
    .cert_type_field = "certType",
    .cert_type = "IDCARD",
    .wrong_cert_type = [] { return error(400, "INVALID_PARAM", "person.certType must be IDCARD"); },
};

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  const auto body = wire::post_body(request, kEndpoint, out);
  if (!body) return out;
  const auto person = body->find("person");
  if (person == body->end() || !person->is_object()) {
    out.reply = error(400, "INVALID_PARAM", "person must be an object");
    return out;
  }
  if (!wire::read_person(*person, kPersonId, out)) return out;
  const auto page_no = wire::integer_field(*body, "pageNo", 1, 1, wire::kUnbounded);
  if (!page_no) {
    out.reply = error(400, "INVALID_PARAM", "pageNo must be an integer >= 1");
    return out;
  }
  std::string trace;
  if (auto t = body->find("traceNo"); t != body->end() && t->is_string()) trace = t->get<std::string>();
  const Json* records = dataset.records(out.person, "business");
  if (records == nullptr) {
    out.reply = wire::json_reply(
        200, Json{{"result", "NOT_FOUND"}, {"message", "no registration for this person"}, {"traceNo", trace},
                  {"data", nullptr}});
    return out;
  }
  const std::uint64_t total = records->size();
  Json list = Json::array();
  bool more = false;
  if (*page_no - 1 <= total / kPageSize) {
    for (std::uint64_t i = (*page_no - 1) * kPageSize; i < total && i < *page_no * kPageSize; ++i) {
      const Json& r = (*records)[static_cast<std::size_t>(i)];
      list.push_back(Json{{"uscc", r["uscc"]},
                          {"relationType", role_label(r["role"].get<std::string>())},
                          {"capital", capital(wire::yuan_to_fen(r["subscribed_capital"].get<std::string>()))},
                          {"regState", status_label(r["status"].get<std::string>())}});
    }
    more = *page_no * kPageSize < total;
  }
  out.reply = wire::json_reply(200, Json{{"result", "OK"},
                                         {"message", "success"},
                                         {"traceNo", trace},
                                         {"data",
                                          {{"personName", dataset.name(out.person)},
                                           {"pageNo", *page_no},
                                           {"hasMore", more},
                                           {"enterprises", std::move(list)}}}});
  return out;
}

}  // namespace

Agency business_agency() { return Agency{"business", "gsxt", &validate, &answer}; }

}  // namespace hfv::sim
