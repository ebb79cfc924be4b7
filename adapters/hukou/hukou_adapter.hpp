// Hukou (household registration): one person's registration, a single
// answer (one page, no continuation). Wire format (simulator/README.md
// "Hukou"):
// POST /rkxx/api/v1/person/status {"gmsfhm","qqlsh"}
// -> {"ret":0,"rkxx":{"xm","ssxq":"230102","ryzt":"正常|死亡|迁出"}}
//    {"ret":1,"msg":"查无此人"} (not found)
// Becomes a HukouRecord (division, status normal|deceased|moved).
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "adapters/common/paged_query.hpp"

namespace hfv::adapters::hukou {

inline constexpr std::string_view kName = "hukou";
PagedAgency agency();
Result<Page> parse_page(long status, std::string_view body);

}  // namespace hfv::adapters::hukou
