#include "broker/verification/review_record.hpp"

#include <algorithm>

#include "common/money.hpp"
#include "common/time.hpp"

namespace hfv::broker {

using nlohmann::json;

json members_json(const std::vector<Member>& members) {
  json out = json::array();
  for (const auto& m : members) {
    json j = {{"id_number", m.id_number}, {"name", m.name}, {"relation", m.relation}};
    if (m.disability_grade) j["disability_grade"] = *m.disability_grade;
    if (!m.disability_kind.empty()) j["disability_kind"] = m.disability_kind;
    if (m.serious_illness) j["serious_illness"] = true;
    if (m.employed) j["employed"] = true;
    if (!m.labour_capacity.empty()) j["labour_capacity"] = m.labour_capacity;
    if (m.disabled_serviceman_grade) j["disabled_serviceman_grade"] = *m.disabled_serviceman_grade;
    if (m.entitled_group_pension) j["entitled_group_pension"] = true;
    out.push_back(std::move(j));
  }
  return out;
}

json obligors_json(const std::vector<policies::ObligorHousehold>& obligors) {
  json out = json::array();
  for (const auto& o : obligors) {
    json j = {{"members", o.member_count}};
    if (o.receives_assistance) j["receives_assistance"] = true;
    if (o.disposable_income_monthly) j["disposable_income_monthly"] = o.disposable_income_monthly->to_string();
    if (!o.receives_assistance || o.rigid_spending_monthly.fen() != 0) {
      j["rigid_spending_monthly"] = o.rigid_spending_monthly.to_string();
    }
    if (!o.evidence_sha256.empty()) j["evidence_sha256"] = o.evidence_sha256;
    out.push_back(std::move(j));
  }
  return out;
}

namespace {

std::optional<std::int64_t> figure_fen(const policies::Decision& d, const std::string& name) {
  auto it = d.figures.find(name);
  if (it == d.figures.end()) return std::nullopt;
  auto m = Money::parse(it->second);
  if (!m) return std::nullopt;
  return m->fen();
}

}  // namespace

ReviewRecord review_record_of(const std::string& verification_id, const std::string& principal,
                              const VerificationRequest& request, const policies::Decision& decision,
                              const std::vector<SourceResult>& sources, const std::string& batch_id) {
  ReviewRecord r;
  r.verification_id = verification_id;
  r.principal = principal;
  r.case_id = request.case_id;
  r.jurisdiction = request.jurisdiction;
  r.programme = request.programme;
  r.area = std::string(policies::area_name(request.area));
  r.reference_date = request.reference_date.to_string();
  r.authorization_id = request.authorization_id;
  r.members_json = members_json(request.members).dump();
  if (request.obligors) r.obligors_json = obligors_json(*request.obligors).dump();
  r.outcome = std::string(policies::outcome_name(decision.outcome));
  r.classification = decision.classification;
  r.income_per_capita_fen = figure_fen(decision, "income_per_capita_monthly");
  r.assets_per_capita_fen = figure_fen(decision, "monetary_assets_per_capita");
  r.benefit_fen = figure_fen(decision, "benefit_monthly");
  std::vector<std::string> failed;
  for (const auto& s : sources) {
    for (const auto& e : s.records.real_estate) r.real_estate.push_back(e.certificate_masked);
    for (const auto& v : s.records.vehicles) r.vehicles.push_back(v.plate_masked);
    for (const auto& b : s.records.businesses) r.businesses.push_back(b.uscc_masked);
    if (s.status == SourceStatus::kError || s.status == SourceStatus::kTimeout) {
      failed.emplace_back(source_name(s.source));
    }
  }
  std::sort(failed.begin(), failed.end());
  failed.erase(std::unique(failed.begin(), failed.end()), failed.end());
  r.failed_sources = std::move(failed);
  for (const auto& t : decision.rules) {
    if (t.rule != policies::kRuleReview) continue;
    if (auto m = t.inputs.find("months"); m != t.inputs.end() && m->is_number_integer()) {
      r.review_months = m->get<std::int64_t>();
    }
    if (auto c = t.inputs.find("category"); c != t.inputs.end() && c->is_string()) {
      r.review_category = c->get<std::string>();
    }
  }
  if (decision.next_review) r.next_review = decision.next_review->to_string();
  const bool receives = decision.outcome == policies::Outcome::kEligible &&
                        request.programme == policies::programme_name(policies::Programme::kDibao) &&
                        (decision.classification == "dibao" || decision.classification == "gradual_exit");
  if (receives) {
    r.benefit_since = (request.current_benefit ? request.current_benefit->since : request.reference_date).to_string();
  }
  if (decision.gradual_exit_until) r.gradual_exit_until = decision.gradual_exit_until->to_string();
  r.batch_id = batch_id;
  r.completed_unix = unix_seconds_now();
  return r;
}

std::optional<json> current_benefit_of(const ReviewRecord& r, const Date& today) {
  if (r.programme != policies::programme_name(policies::Programme::kDibao) || r.outcome != "eligible") {
    return std::nullopt;
  }
  const auto until = Date::parse(r.gradual_exit_until);
  const bool in_exit = r.classification == "gradual_exit" && until && *until >= today;
  if (r.classification != "dibao" && !in_exit) return std::nullopt;
  const auto since = Date::parse(r.benefit_since.empty() ? r.reference_date : r.benefit_since);
  if (!since || *since > today) return std::nullopt;
  json benefit = {{"programme", "dibao"}, {"since", since->to_string()}};
  if (in_exit) benefit["gradual_exit_until"] = until->to_string();
  // The amount paid now and the day it was set, for no-readjustment: a
  // record classed dibao set (or kept) its benefit on its reference date.
  if (r.classification == "dibao" && r.benefit_fen && *r.benefit_fen > 0) {
    benefit["monthly_amount"] = Money::from_fen(*r.benefit_fen).to_string();
    benefit["amount_set_on"] = r.reference_date;
  }
  return benefit;
}

}  // namespace hfv::broker
