// Social insurance: benefit payments (pensions, unemployment benefit) and
// contributions. Wire format (simulator/README.md "Social insurance"):
// POST /hrss/si/v1/person-benefits {"aac002","aac058":"01","jylsh","offset","limit"}
// -> {"errcode":0|1404(not insured),"result":{"contribution_summary":{"months","last_period"},
//     "contributions":{"total","offset","rows":[{"aae003":"YYYYMM","aae140":type code,
//     "aae180":base,"grjfhj":personal share}]},
//     "benefits":{"total","offset","rows":[{"aae002":"YYYYMM","aae140":type code,
//     "aae019":"1850.00","jcylj":basic part}]}}}
// Benefits become IncomeRecords (110 employee pension, 170 residents' pension
// with its basic part, 210 unemployment, 410/999 other); contributions are
// not income: they become ContributionRecords with the person's own share
// (grjfhj, never above the base aae180), which the income rule deducts
// where a jurisdiction counts earnings after tax and contributions. One
// offset pages both lists; the answer states each list's total, and
// contribution_summary.months must equal the contributions' total.
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "adapters/common/paged_query.hpp"

namespace hfv::adapters::social_insurance {

inline constexpr std::string_view kName = "social_insurance";
PagedAgency agency();
Result<Page> parse_page(long status, std::string_view body, long offset);

}  // namespace hfv::adapters::social_insurance
