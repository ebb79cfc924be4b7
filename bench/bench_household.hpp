// The households the benches evaluate (hfv-bench-policy, hfv-bench-what-if):
// an urban dibao application of 2024-11-01 with no obligor declared, every
// member asked by every source — registered (hukou 230102, normal), and
// not found anywhere else until `fill(member_index, result)` gives the
// source its records (it sets the status it wants).
#pragma once

#include <utility>
#include <vector>

#include "policies/engine.hpp"

namespace hfv::bench {

template <class Fill>
policies::HouseholdInput household_of(std::vector<policies::MemberFacts> members, Fill fill) {
  policies::HouseholdInput h;
  h.member_count = members.size();
  h.area = policies::Area::kUrban;
  h.reference_date = *Date::parse("2024-11-01");
  h.programme = "dibao";
  h.obligors.emplace();  // declared: none
  for (std::size_t m = 0; m < members.size(); ++m) {
    for (Source s : kAllSources) {
      SourceResult r;
      r.member_index = m;
      r.source = s;
      r.status = SourceStatus::kNotFound;
      if (s == Source::kHukou) {
        r.status = SourceStatus::kOk;
        r.records.hukou = HukouRecord{"230102", "normal"};
      }
      fill(m, r);
      h.sources.push_back(std::move(r));
    }
  }
  h.members = std::move(members);
  return h;
}

}  // namespace hfv::bench
