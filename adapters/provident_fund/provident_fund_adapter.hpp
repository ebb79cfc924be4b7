// Housing provident fund: one depositor's account, a single answer (one
// page, no continuation). Wire format (simulator/README.md "Provident fund"):
// POST /gjj/api/query/account {"idCardNo","requestNo"}
// -> {"success":true,"retcode":"000000","data":{"zhye":fen,"yjce":fen,...}}
//    {"success":false,"retcode":"300001"} (no such depositor: not found)
// Amounts are JSON integers in fen; anything else is malformed.
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "adapters/common/paged_query.hpp"

namespace hfv::adapters::provident_fund {

inline constexpr std::string_view kName = "provident_fund";
PagedAgency agency();
Result<Page> parse_page(long status, std::string_view body);

}  // namespace hfv::adapters::provident_fund
