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
  r.batch_id = batch_id;
  r.completed_unix = unix_seconds_now();
  return r;
}

}  // namespace hfv::broker
