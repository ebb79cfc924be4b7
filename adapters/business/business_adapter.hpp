// Business registry: enterprises a person represents or holds shares in.
// Wire format (simulator/README.md "Business"):
// POST /gsxt/openapi/person/enterprises {"person":{"certType":"IDCARD","certNumber"},"traceNo","pageNo"}
// -> {"result":"OK"|"NOT_FOUND","data":{"pageNo","hasMore","enterprises":[{"uscc",
//     "relationType":"法定代表人|股东|其他人员","capital":{"value","unit":"元|万元"},
//     "regState":"存续|在营|开业|吊销|注销"}]}}
// Each becomes a BusinessRecord (role legal_representative|shareholder|other,
// status active|revoked|cancelled).
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "adapters/common/paged_query.hpp"

namespace hfv::adapters::business {

inline constexpr std::string_view kName = "business";
PagedAgency agency();
Result<Page> parse_page(long status, std::string_view body, long page_no);

}  // namespace hfv::adapters::business
