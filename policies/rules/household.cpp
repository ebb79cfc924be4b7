// Household composition: the household registry's word on every member
// (docs/policy-files.md "Rules").
#include "policies/rules/eval.hpp"

#include <string>
#include <vector>

namespace hfv::policies::rules {

using nlohmann::json;

namespace {

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace

// household-composition. The per-capita figures divide by the members the
// request submits, and a member the registry reports deceased or moved out,
// or does not know, still counts in them: the rule is then `unknown` (a case
// worker resolves who lives in the household), so such a household is never
// `eligible`, and never `ineligible` on this rule alone (a member may live
// in the household while registered elsewhere, 人户分离). A member without
// a usable registry answer makes it `unknown` too. It never fails.
RuleTrace household_composition(Eval& e, Role role) {
  RuleTrace t = e.start(kRuleHouseholdComposition, role);
  json members = json::array();
  std::vector<std::string> disputed;    // "member 1: registry reports deceased"
  std::vector<std::string> unanswered;  // "member 0 (timeout)"
  std::size_t confirmed = 0;
  for (std::size_t m = 0; m < e.n; ++m) {
    const SourceResult* r = e.answer(m, Source::kHukou);
    const std::string source_status =
        r == nullptr ? "not_asked" : std::string(status_name(r->status));
    json row = {{"member_index", m}, {"source_status", source_status}};
    std::string registry;
    if (r != nullptr && r->status == SourceStatus::kNotFound) {
      registry = "not_registered";
      disputed.push_back("member " + std::to_string(m) + ": not known to the registry");
    } else if (r != nullptr && r->status == SourceStatus::kOk && r->records.hukou) {
      registry = r->records.hukou->status;
      row["division"] = r->records.hukou->division;
      if (registry == "normal") {
        ++confirmed;
      } else {
        disputed.push_back("member " + std::to_string(m) + ": registry reports " +
                           (registry == "moved" ? std::string("moved out") : registry));
      }
    } else {
      registry = "unknown";
      unanswered.push_back("member " + std::to_string(m) + " (" + source_status + ")");
    }
    row["registry_status"] = registry;
    members.push_back(std::move(row));
  }
  t.inputs = {{"members", members},
              {"members_submitted", e.n},
              {"members_confirmed", confirmed},
              {"members_counted_in_per_capita", e.n}};
  if (!unanswered.empty()) t.unknown_sources.emplace_back(source_name(Source::kHukou));
  if (disputed.empty() && unanswered.empty()) {
    t.result = R::kPass;
    t.explanation = "the household registry confirms every member (status normal)";
    return t;
  }
  t.result = R::kUnknown;
  std::vector<std::string> parts;
  if (!disputed.empty()) {
    parts.push_back(joined(disputed) +
                    "; still counted in the per-capita figures as submitted until a case worker "
                    "resolves the household's composition");
  }
  if (!unanswered.empty()) {
    parts.push_back("the household registry gave no usable answer for " + joined(unanswered));
  }
  t.explanation = joined(parts);
  return t;
}

}  // namespace hfv::policies::rules
