#include "common/records.hpp"

namespace hfv {

std::string_view source_name(Source source) {
  switch (source) {
    case Source::kTax: return "tax";
    case Source::kSocialInsurance: return "social_insurance";
    case Source::kRealEstate: return "real_estate";
    case Source::kVehicle: return "vehicle";
    case Source::kBank: return "bank";
    case Source::kSecurities: return "securities";
    case Source::kHukou: return "hukou";
    case Source::kBusiness: return "business";
    case Source::kProvidentFund: return "provident_fund";
    case Source::kInsurance: return "insurance";
    case Source::kInternetFinance: return "internet_finance";
  }
  return "unknown";
}

std::optional<Source> parse_source(std::string_view name) {
  for (Source s : kAllSources) {
    if (source_name(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view status_name(SourceStatus status) {
  switch (status) {
    case SourceStatus::kOk: return "ok";
    case SourceStatus::kNotFound: return "not_found";
    case SourceStatus::kTimeout: return "timeout";
    case SourceStatus::kError: return "error";
    case SourceStatus::kDenied: return "denied";
  }
  return "error";
}

}  // namespace hfv
