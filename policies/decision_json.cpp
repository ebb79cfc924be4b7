// decision_json: the report's decision part, declared in policies/engine.hpp.
#include "policies/engine.hpp"

#include <string>
#include <utility>

namespace hfv::policies {

using nlohmann::json;

namespace {

json parameters_of(const std::vector<Provenance>& values) {
  json params = json::array();
  for (const auto& p : values) {
    params.push_back({{"name", p.name},
                      {"value", p.value},
                      {"effective_from", p.from.to_string()},
                      {"reference", p.reference},
                      {"example", p.example}});
  }
  return params;
}

}  // namespace

json decision_json(const Decision& d) {
  json rules = json::array();
  for (const auto& t : d.rules) {
    json params = parameters_of(t.parameters);
    json r = {{"rule", t.rule},
              {"result", std::string(rule_result_name(t.result))},
              {"source", t.clause},
              {"role", t.role},
              {"inputs", t.inputs},
              {"parameters", params},
              {"unknown_sources", t.unknown_sources},
              {"explanation", t.explanation},
              {"example", t.example}};
    if (!t.note.empty()) r["note"] = t.note;
    rules.push_back(std::move(r));
  }
  json figure_parameters = json::object();
  for (const auto& [figure, values] : d.figure_parameters) {
    figure_parameters[figure] = parameters_of(values);
  }
  return {{"outcome", std::string(outcome_name(d.outcome))},
          {"classification", d.classification},
          {"figures", d.figures},
          {"figure_parameters", figure_parameters},
          {"provisional_parameters", parameters_of(d.provisional_parameters)},
          {"rules", rules},
          {"basis", d.basis},
          {"next_review", d.next_review ? json(d.next_review->to_string()) : json(nullptr)},
          {"gradual_exit_until",
           d.gradual_exit_until ? json(d.gradual_exit_until->to_string()) : json(nullptr)},
          {"follow_up_date",
           d.follow_up_date ? json(d.follow_up_date->to_string()) : json(nullptr)},
          {"policy_version", d.policy_version}};
}

}  // namespace hfv::policies
