// Social insurance: benefit payments (pensions, unemployment benefit).
// Wire format (simulator/README.md "Social insurance"):
// POST /hrss/si/v1/person-benefits {"aac002","aac058":"01","jylsh","offset","limit"}
// -> {"errcode":0|1404(not insured),"result":{"contribution_summary":{"months","last_period"},
//     "benefits":{"total","offset","rows":[{"aae002":"YYYYMM","aae140":type code,
//     "aae019":"1850.00","jcylj":basic part}]}}}
// Benefits become IncomeRecords (110 employee pension, 170 residents' pension
// with its basic part, 210 unemployment, 410/999 other); contributions are
// not income and are only checked for shape. Offset paging; the answer
// states the benefit total.
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "adapters/common/paged_query.hpp"

namespace hfv::adapters::social_insurance {

inline constexpr std::string_view kName = "social_insurance";
PagedAgency agency();
Result<Page> parse_page(long status, std::string_view body, long offset);

}  // namespace hfv::adapters::social_insurance
