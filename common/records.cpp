#include "common/records.hpp"

#include "common/text.hpp"

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

std::string_view failure_kind_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone: return "none";
    case FailureKind::kTimeout: return "timeout";
    case FailureKind::kThrottled: return "throttled";
    case FailureKind::kServerError: return "server_error";
    case FailureKind::kRejected: return "rejected";
    case FailureKind::kMalformed: return "malformed";
    case FailureKind::kCircuitOpen: return "circuit_open";
    case FailureKind::kNetwork: return "network";
    case FailureKind::kTls: return "tls";
    case FailureKind::kCancelled: return "cancelled";
    case FailureKind::kNotConfigured: return "not_configured";
    case FailureKind::kInternal: return "internal";
  }
  return "internal";
}

std::string_view income_kind_name(IncomeKind kind) {
  switch (kind) {
    case IncomeKind::kWages: return "wages";
    case IncomeKind::kBusiness: return "business";
    case IncomeKind::kProperty: return "property";
    case IncomeKind::kEmployeePension: return "employee_pension";
    case IncomeKind::kResidentsPension: return "residents_pension";
    case IncomeKind::kUnemployment: return "unemployment";
    case IncomeKind::kRoadAccidentRelief: return "road_accident_relief";
    case IncomeKind::kOther: return "other";
  }
  return "other";
}

std::optional<IncomeKind> parse_income_kind(std::string_view name) {
  for (IncomeKind k : {IncomeKind::kWages, IncomeKind::kBusiness, IncomeKind::kProperty,
                       IncomeKind::kEmployeePension, IncomeKind::kResidentsPension,
                       IncomeKind::kUnemployment, IncomeKind::kRoadAccidentRelief, IncomeKind::kOther}) {
    if (income_kind_name(k) == name) return k;
  }
  return std::nullopt;
}

void restrict_supplied_text(SourceResult& result) {
  auto cap = [](std::string& text, std::size_t bytes) { text = restricted_text(text, bytes); };
  cap(result.detail, kMaxAgencyDetailBytes);
  auto& r = result.records;
  for (auto& h : r.holdings) {
    cap(h.institution, kMaxAgencyNameBytes);
    cap(h.account_masked, kMaxAgencyCodeBytes);
  }
  for (auto& c : r.contributions) cap(c.type, kMaxAgencyCodeBytes);
  for (auto& e : r.real_estate) {
    cap(e.certificate_masked, kMaxAgencyCodeBytes);
    cap(e.use, kMaxAgencyCodeBytes);
  }
  for (auto& v : r.vehicles) {
    cap(v.plate_masked, kMaxAgencyCodeBytes);
    cap(v.type, kMaxAgencyCodeBytes);
  }
  for (auto& b : r.businesses) {
    cap(b.uscc_masked, kMaxAgencyCodeBytes);
    cap(b.role, kMaxAgencyCodeBytes);
    cap(b.status, kMaxAgencyCodeBytes);
  }
  if (r.hukou) {
    cap(r.hukou->division, kMaxAgencyCodeBytes);
    cap(r.hukou->status, kMaxAgencyCodeBytes);
  }
}

}  // namespace hfv
