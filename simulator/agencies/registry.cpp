#include <array>

#include "simulator/agencies/agencies.hpp"

namespace hfv::sim {

std::span<const Agency> agencies() {
  static const std::array<Agency, 11> kAll = {
      hukou_agency(),    tax_agency(),        social_insurance_agency(), real_estate_agency(),
      vehicle_agency(),  bank_agency(),       securities_agency(),       business_agency(),
      provident_fund_agency(), insurance_agency(), internet_finance_agency()};
  return kAll;
}

const Agency* find_agency(std::string_view name) {
  for (const Agency& a : agencies()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const Agency* find_agency_by_path(std::string_view segment) {
  for (const Agency& a : agencies()) {
    if (a.path_segment == segment) return &a;
  }
  return nullptr;
}

}  // namespace hfv::sim
