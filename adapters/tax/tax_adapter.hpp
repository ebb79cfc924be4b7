// Tax: monthly income declarations. Wire format (simulator/README.md "Tax"):
// POST /etax/api/v3/income-records {"zjlx":"201","zjhm","ywlsh","page":{"current","rows"}}
// -> {"head":{"rtnCode":"00"|"04"(no such taxpayer)},"body":{"pageCurrent","pageTotal",
//     "records":[{"sssqq":"YYYY-MM-01","sssqz":"YYYY-MM-<last>","sdxmdm","sre":"8,200.50",
//                 "ykjse":"120.00"}]}}
// Pages are numbered from 1; the answer states the page count. Each record
// becomes an IncomeRecord (wages, business, property or other) with the
// income tax withheld on it (ykjse 已扣缴税额, required, never above sre).
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "adapters/common/paged_query.hpp"

namespace hfv::adapters::tax {

inline constexpr std::string_view kName = "tax";
PagedAgency agency();
Result<Page> parse_page(long status, std::string_view body, long page_no);

}  // namespace hfv::adapters::tax
