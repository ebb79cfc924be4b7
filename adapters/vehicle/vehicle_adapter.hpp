// Vehicle registry: vehicles registered to an owner. Wire format
// (simulator/README.md "Vehicle"):
// POST /tmri/api/v2/vehicles/by-owner {"sfzmmc":"A","sfzmhm","lsh","cursor"}
// -> 200 {"status":1,"vehicles":[{"hphm","cllx":"K33","gmjg":"12.345600"(10^4 yuan),
//     "ccdjrq":"YYYY-MM-DD hh:mm:ss","cjrzyc":"1"|"0"}],"more":bool,"cursor"}
//    404 {"status":0,"message":"NO_SUCH_OWNER"} (not found)
// Type codes map by class letter: K car, M motorcycle, H truck, S vessel.
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "adapters/common/paged_query.hpp"

namespace hfv::adapters::vehicle {

inline constexpr std::string_view kName = "vehicle";
PagedAgency agency();
Result<Page> parse_page(long status, std::string_view body);

}  // namespace hfv::adapters::vehicle
