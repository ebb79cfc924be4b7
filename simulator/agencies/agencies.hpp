// The agencies' descriptors, one function per file in simulator/agencies/.
// To add an agency: write agencies/<name>.cpp defining <name>_agency(),
// declare it here, list it in agencies/registry.cpp and the CMake sources,
// and document its wire format in simulator/README.md.
//
// Thread-safety: the descriptors are immutable values of pure functions.
#pragma once

#include "simulator/agency.hpp"

namespace hfv::sim {

Agency bank_agency();
Agency securities_agency();
Agency insurance_agency();
Agency internet_finance_agency();
Agency tax_agency();
Agency social_insurance_agency();
Agency real_estate_agency();
Agency vehicle_agency();
Agency business_agency();
Agency provident_fund_agency();
Agency hukou_agency();

}  // namespace hfv::sim
