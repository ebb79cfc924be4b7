// Bank: deposit inquiry. Wire format (simulator/README.md):
// POST /bank/v2/deposit-inquiry {"certType":"01","certNo","queryId","pageNo","pageSize"}
// -> {"retCode":"0000"|"1001"(no customer), "body":{"totalCount","pageNo",
//     "accounts":[{"bankName","acctNo","currency","balance":"12.34","balanceDate":"YYYYMMDD"}]}}
// Pages are numbered from 1; the answer states the total.
#pragma once

#include <string_view>

#include "adapters/common/paged_query.hpp"

namespace hfv::adapters::bank {

inline constexpr std::string_view kName = "bank";
PagedAgency agency();
// One page of the bank's answer; `page_no` is the page asked for.
Result<Page> parse_page(long status, std::string_view body, long page_no);

}  // namespace hfv::adapters::bank
