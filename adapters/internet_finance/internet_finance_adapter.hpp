// Internet finance: balances on online platforms. Wire format
// (simulator/README.md): POST /ifin/api/balances
// {"id_card","request_id","page_token"} -> 200 {"success":true,"user_exists":bool,
//   "items":[{"platform","account_id","balance_yuan":"12.34","updated_at":"RFC 3339"}],
//   "next_page_token":"" (last page) | "…"}; failures {"success":false,"error_code"}.
#pragma once

#include <string_view>

#include "adapters/common/paged_query.hpp"

namespace hfv::adapters::internet_finance {

inline constexpr std::string_view kName = "internet_finance";
PagedAgency agency();
Result<Page> parse_page(long status, std::string_view body);

}  // namespace hfv::adapters::internet_finance
