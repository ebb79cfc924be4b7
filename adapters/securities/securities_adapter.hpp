// Securities: investor holdings at the securities depository. Wire format
// (simulator/README.md): POST /csdc/v1/investor-holdings
// {"idType":"01","idNo","reqSeq","cursor"} -> 200 {"code":0,"data":{
//   "positions":[{"acctNo","market","marketValue":"12.34","valuationDate":"YYYY-MM-DD"}],
//   "nextCursor": "…" | null}}; unknown investor: HTTP 404 {"code":40401}.
// Cursor paging; no total is stated.
#pragma once

#include <string_view>

#include "adapters/common/paged_query.hpp"

namespace hfv::adapters::securities {

inline constexpr std::string_view kName = "securities";
PagedAgency agency();
Result<Page> parse_page(long status, std::string_view body);

}  // namespace hfv::adapters::securities
