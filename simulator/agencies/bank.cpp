// The bank: deposit inquiry by ID number, paged. Wire format documented in
// simulator/README.md ("Bank"); the broker's bank adapter is written against
// it. Dataset records (source "bank"): [{"bank","account","balance","as_of"}]
// plus optional "currency" (default "CNY") and "acct_type" (default
// "SAVINGS").
#include <cstdint>
#include <string>
#include <utility>

#include "simulator/agencies/agencies.hpp"
#include "simulator/agencies/wire.hpp"

namespace hfv::sim {

namespace {

using wire::is_json_media_type;
using wire::json_reply;

constexpr std::string_view kInquiryPath = "/bank/v2/deposit-inquiry";
constexpr std::uint64_t kMaxPageSize = 50;

Reply bad_request(std::string message) {
  return json_reply(400, Json{{"retCode", "9001"}, {"retMsg", std::move(message)}});
}

bool is_currency_code(std::string_view s) {
  if (s.size() != 3) return false;
  for (char c : s) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

std::optional<std::string> validate(const Json& records) {
  if (!records.is_array()) return ": must be an array of accounts";
  // currency and acct_type are optional; currency must be a 3-letter code.
  if (auto problem = wire::validate_list(records, {"bank", "account"}, {"balance"}, {"as_of"},
                                         {"currency", "acct_type"})) {
    return problem;
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (auto it = records[i].find("currency");
        it != records[i].end() && !is_currency_code(it->get_ref<const std::string&>())) {
      return "[" + std::to_string(i) + "].currency: must be a three-letter code such as \"CNY\"";
    }
  }
  return std::nullopt;
}

std::string compact_date(const std::string& iso) {
  return iso.substr(0, 4) + iso.substr(5, 2) + iso.substr(8, 2);
}

AgencyAnswer answer(const Dataset& dataset, const AgencyRequest& request) {
  AgencyAnswer out;
  if (request.path != kInquiryPath) {
    out.reply = json_reply(404, Json{{"retCode", "9004"}, {"retMsg", "NO SUCH SERVICE"}});
    return out;
  }
  if (request.method != "POST") {
    out.reply = json_reply(405, Json{{"retCode", "9005"}, {"retMsg", "METHOD NOT ALLOWED"}});
    out.reply.headers = {{"Allow", "POST"}};
    return out;
  }
  if (!is_json_media_type(request.content_type)) {
    out.reply = bad_request("Content-Type must be application/json");
    return out;
  }
  const Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    out.reply = bad_request("body is not a JSON object");
    return out;
  }
  if (auto it = body.find("certType"); it != body.end() && *it != "01") {
    out.reply = bad_request("certType must be \"01\" (resident ID card)");
    return out;
  }
  const auto cert_no = body.find("certNo");
  if (cert_no == body.end()) {
    out.reply = bad_request("certNo is missing");
    return out;
  }
  if (!cert_no->is_string()) {
    out.reply = bad_request("certNo must be a string");
    return out;
  }
  const std::string& id = cert_no->get_ref<const std::string&>();
  if (id.size() != 18) {
    out.reply = bad_request("certNo must be 18 characters");
    return out;
  }
  out.person = id;
  std::string query_id;
  if (auto it = body.find("queryId"); it != body.end()) {
    if (!it->is_string()) {
      out.reply = bad_request("queryId must be a string");
      return out;
    }
    query_id = it->get<std::string>();
  }
  const auto page_no = wire::integer_field(body, "pageNo", 1, 1, wire::kUnbounded);
  if (!page_no) {
    out.reply = bad_request("pageNo must be an integer >= 1");
    return out;
  }
  const auto page_size = wire::integer_field(body, "pageSize", kMaxPageSize, 1, kMaxPageSize);
  if (!page_size) {
    out.reply = bad_request("pageSize must be an integer from 1 to 50");
    return out;
  }

  const Json* records = dataset.records(id, "bank");
  if (records == nullptr) {
    out.reply = json_reply(
        200, Json{{"retCode", "1001"}, {"retMsg", "NO CUSTOMER"}, {"queryId", query_id}});
    return out;
  }
  const std::uint64_t total = records->size();
  Json accounts = Json::array();
  // page_no - 1 < total / page_size + 1 keeps the multiplication in range.
  if (*page_no - 1 <= total / *page_size) {
    const std::uint64_t first = (*page_no - 1) * *page_size;
    for (std::uint64_t i = first; i < total && i < first + *page_size; ++i) {
      const Json& r = (*records)[static_cast<std::size_t>(i)];
      accounts.push_back(Json{{"bankName", r["bank"]},
                              {"acctNo", r["account"]},
                              {"acctType", r.value("acct_type", "SAVINGS")},
                              {"currency", r.value("currency", "CNY")},
                              {"balance", r["balance"]},
                              {"balanceDate", compact_date(r["as_of"].get<std::string>())}});
    }
  }
  out.reply = json_reply(200, Json{{"retCode", "0000"},
                                   {"retMsg", "SUCCESS"},
                                   {"queryId", query_id},
                                   {"body",
                                    {{"custName", dataset.name(id)},
                                     {"totalCount", total},
                                     {"pageNo", *page_no},
                                     {"pageSize", *page_size},
                                     {"accounts", std::move(accounts)}}}});
  return out;
}

}  // namespace

Agency bank_agency() { return Agency{"bank", "bank", &validate, &answer}; }

}  // namespace hfv::sim
