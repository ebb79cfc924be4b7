// Commercial insurance: policies' cash values. Wire format
// (simulator/README.md): POST /cbit/v1/cash-value/query
// {"certificateType":"ID_CARD","certificateNumber","traceId","page":{"index","size"}}
// -> 200 {"status":"SUCCESS","result":{"total","index","policies":[
//   {"policyNo","insurer","cashValueFen":"1234567","valuationDate":"YYYY/MM/DD"}]}}
// or {"status":"NO_RECORD"}. Amounts are integer fen as strings; pages from 0.
#pragma once

#include <string_view>

#include "adapters/common/paged_query.hpp"

namespace hfv::adapters::insurance {

inline constexpr std::string_view kName = "insurance";
PagedAgency agency();
Result<Page> parse_page(long status, std::string_view body, long index);

}  // namespace hfv::adapters::insurance
