#include "adapters/real_estate/real_estate_adapter.hpp"

#include "adapters/common/answer_fields.hpp"
#include "crypto/hash.hpp"

namespace hfv::adapters::real_estate {

using nlohmann::json;
namespace f = fields;

namespace {
constexpr long kPageSize = 10;

std::optional<std::string> use_of(const std::string& ghyt) {
  if (ghyt == "住宅") return "residential";
  if (ghyt == "商业") return "commercial";
  if (ghyt == "其他") return "other";
  return std::nullopt;
}

// "50%" -> 50; 1..100 only.
std::optional<int> percent_of(const std::string& s) {
  if (s.size() < 2 || s.size() > 4 || s.back() != '%') return std::nullopt;
  int v = 0;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  if (v < 1 || v > 100 || (s[0] == '0')) return std::nullopt;
  return v;
}
}  // namespace

std::string mask_certificate(std::string_view cert_no) {
  return f::mask_text(cert_no, 4) + "#" + crypto::to_hex(crypto::sha256(cert_no)).substr(0, 8);
}

Result<Page> parse_page(long status, std::string_view body, long page_num) {
  auto doc = f::parse_answer(status, body);
  if (!doc) return doc.error();
  auto code = f::string_of(*doc, "code");
  if (!code) return code.error();
  if (auto outcome = answer_outcome(*code, "0000", "1004", "code")) return std::move(*outcome);
  Page page;
  auto data = f::object_of(*doc, "data");
  if (!data) return data.error();
  auto total = f::integer_of(**data, "total", 0, 100000);
  if (!total) return total.error();
  auto num = f::integer_of(**data, "pageNum", 1, 100000);
  if (!num) return num.error();
  if (*num != page_num) return f::malformed("'pageNum' is not the page asked for");
  auto list = f::array_of(**data, "list");
  if (!list) return list.error();
  if ((*list)->size() > static_cast<std::size_t>(kPageSize)) return f::malformed("page holds more rights than asked");
  page.total = *total;
  page.next = std::to_string(page_num + 1);
  for (const json& r : **list) {
    if (!r.is_object()) return f::malformed("right is not an object");
    auto cert = f::nonempty_string_of(r, "bdcqzh");
    auto ghyt = f::string_of(r, "ghyt");
    auto area_text = f::string_of(r, "jzmj");
    auto gyfs = f::string_of(r, "gyfs");
    auto share_text = f::string_of(r, "qlbl");
    for (const auto* x : {&cert, &ghyt, &area_text, &gyfs, &share_text}) {
      if (!*x) return x->error();
    }
    const auto use = use_of(*ghyt);
    if (!use) return make_error("unsupported_answer", "unknown planned use 'ghyt'");
    const auto area = f::parse_centi(*area_text);
    if (!area) return f::malformed("'jzmj' is not a positive area");
    const auto share = percent_of(*share_text);
    if (!share) return f::malformed("'qlbl' is not a percentage from 1% to 100%");
    if (*gyfs == "单独所有") {
      if (*share != 100) return f::malformed("sole ownership with a share below 100%");
    } else if (*gyfs != "按份共有") {
      return make_error("unsupported_answer", "unknown form of ownership 'gyfs'");
    }
    page.records.real_estate.push_back(RealEstateRecord{mask_certificate(*cert), *use, *area, *share});
  }
  return page;
}

PagedAgency agency() {
  PagedAgency a;
  a.source = Source::kRealEstate;
  a.path = "/bdc/api/v1/qlr/property-rights";
  a.request_body = [](const MemberQuery& m, const std::string& token) {
    const long page_num = token.empty() ? 1 : std::stol(token);
    return json{{"zjzl", "1"},           {"zjh", m.id_number},     {"cxywh", m.query_id},
                {"pageNum", page_num},   {"pageSize", kPageSize}}
        .dump();
  };
  a.parse_page = [](long status, std::string_view body, const std::string& token) {
    return parse_page(status, body, token.empty() ? 1 : std::stol(token));
  };
  return a;
}

}  // namespace hfv::adapters::real_estate
