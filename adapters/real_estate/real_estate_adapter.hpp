// Real estate: property rights registered to a person. Wire format
// (simulator/README.md "Real estate"):
// POST /bdc/api/v1/qlr/property-rights {"zjzl":"1","zjh","cxywh","pageNum","pageSize"}
// -> {"code":"0000"|"1004"(no registration),"data":{"total","pageNum",
//     "list":[{"bdcqzh","ghyt":"住宅|商业|其他","jzmj":"85.20","gyfs","qlbl":"50%"}]}}
// Each right becomes a RealEstateRecord: use residential|commercial|other,
// area in 0.01 m2, the holder's share in percent. The certificate number is
// masked but keeps a short digest, so that distinct properties stay
// distinct when the policy engine counts homes.
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "adapters/common/paged_query.hpp"

namespace hfv::adapters::real_estate {

inline constexpr std::string_view kName = "real_estate";
PagedAgency agency();
Result<Page> parse_page(long status, std::string_view body, long page_num);
// "****345号#1a2b3c4d": last four characters and 8 hex digits of SHA-256.
std::string mask_certificate(std::string_view cert_no);

}  // namespace hfv::adapters::real_estate
