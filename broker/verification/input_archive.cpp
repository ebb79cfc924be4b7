#include "broker/verification/input_archive.hpp"

#include <utility>

#include "crypto/hash.hpp"
#include "policies/household_json.hpp"

namespace hfv::broker {

using nlohmann::json;

std::string archive_text(const std::string& verification_id, const std::string& jurisdiction,
                         const policies::JurisdictionPolicy& policy,
                         const policies::HouseholdInput& household) {
  const json doc = {{"format", kInputsFormat},
                    {"verification_id", verification_id},
                    {"jurisdiction", jurisdiction},
                    {"policy_jurisdiction", policy.jurisdiction()},
                    {"policy_version", policy.version()},
                    {"household", policies::household_input_json(household)}};
  return doc.dump(-1, ' ', false, json::error_handler_t::strict);
}

std::string inputs_sha256(std::string_view text) { return crypto::to_hex(crypto::sha256(text)); }

namespace {

void differ(json& out, std::string field, const json& reported, const json& replayed) {
  out.push_back({{"field", std::move(field)}, {"report", reported}, {"replay", replayed}});
}

const json& member(const json& object, const std::string& key) {
  static const json kNull = nullptr;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

}  // namespace

json decision_differences(const json& report, const json& replayed) {
  json out = json::array();
  for (const auto& [key, value] : replayed.items()) {
    const json& reported = member(report, key);
    if (reported == value) continue;
    if (key == "figures" && reported.is_object() && value.is_object()) {
      json names = json::object();
      for (const auto& [k, v] : reported.items()) names[k] = true;
      for (const auto& [k, v] : value.items()) names[k] = true;
      for (const auto& [k, v] : names.items()) {
        if (member(reported, k) != member(value, k))
          differ(out, "figures." + k, member(reported, k), member(value, k));
      }
      continue;
    }
    if (key == "rules" && reported.is_array() && value.is_array()) {
      const std::size_t n = std::max(reported.size(), value.size());
      for (std::size_t i = 0; i < n; ++i) {
        const std::string at = "rules[" + std::to_string(i) + "]";
        if (i >= reported.size() || i >= value.size()) {
          differ(out, at, i < reported.size() ? reported[i] : json(nullptr),
                 i < value.size() ? value[i] : json(nullptr));
          continue;
        }
        if (reported[i] == value[i]) continue;
        auto field = [&at](const std::string& rule_key) {
          std::string path = at;
          path += '.';
          path += rule_key;
          return path;
        };
        for (const auto& [rk, rv] : value[i].items()) {
          if (member(reported[i], rk) != rv) differ(out, field(rk), member(reported[i], rk), rv);
        }
        for (const auto& [rk, rv] : reported[i].items()) {
          if (!value[i].contains(rk)) differ(out, field(rk), rv, nullptr);
        }
      }
      continue;
    }
    differ(out, key, reported, value);
  }
  return out;
}

namespace {

bool stored_report_signed(const std::string& text, const ReportKeyHistory* history) {
  if (history == nullptr) return true;
  return verify_report_with_history(text, *history).result.check == ReportCheck::kValid;
}

}  // namespace

Result<OpenedArchive> open_stored_archive(const ArchivedVerification& found, const json& report,
                                          const ReportKeyHistory* history) {
  if (found.report_unopenable) {
    return make_error("archive_tampered",
                      "the stored report does not open (edited, moved or sealed under another key)");
  }
  if (found.inputs_unopenable) {
    return make_error("archive_tampered",
                      "the archived inputs do not open (edited, moved or sealed under another key)");
  }
  if (!stored_report_signed(found.verification.response, history))
    return make_error("archive_tampered", "the stored report's signature does not verify");
  const std::string named = report.is_object() ? report.value("inputs_sha256", "") : "";
  if (named.empty())
    return make_error("archive_missing",
                      "this report names no archived inputs (issued before the archive)");
  const std::string& archived_text = found.inputs.text;
  if (archived_text.empty())
    return make_error("archive_missing", "no archived inputs are stored for this report");
  if (inputs_sha256(archived_text) != named) {
    return make_error("archive_tampered",
                      "the archived inputs are not the ones the report names (inputs_sha256 differs)");
  }
  OpenedArchive out;
  out.document = json::parse(archived_text, nullptr, false);
  const json& doc = out.document;
  if (!doc.is_object() || doc.value("format", "") != kInputsFormat || !doc.contains("household")) {
    return make_error("archive_unreadable", "the archived inputs are not in format hfv-inputs/v1");
  }
  if (doc.value("policy_version", "") != report.value("policy_version", "") ||
      doc.value("verification_id", "") != report.value("verification_id", "") ||
      doc.value("jurisdiction", "") != report.value("jurisdiction", "")) {
    return make_error("archive_tampered",
                      "the archived inputs belong to another report, policy version or jurisdiction");
  }
  auto household = policies::parse_household_input(doc["household"]);
  if (!household) return household.error();
  out.household = std::move(*household);
  return out;
}

Result<ReplayAnswer> replay_decision(const json& report, const OpenedArchive& opened,
                                     const std::string& policy_content) {
  const json& doc = opened.document;
  const std::string version = report.value("policy_version", "");
  const std::string code = doc.value("policy_jurisdiction", "");
  if (policy_content.empty()) {
    return make_error("policy_unavailable", "policy version " + version + " is not archived");
  }
  auto policy = policies::parse_policy_file(policy_content, code + ".json");
  if (!policy)
    return make_error("policy_unavailable",
                      "the archived policy file no longer loads: " + policy.error().message);
  if (policy->version() != version) {
    return make_error("policy_unavailable",
                      "policy version " + version + " cannot be loaded as it was (it loads as " +
                          policy->version() + ": the engine's rules changed since)");
  }
  const policies::Decision decision = policies::evaluate(*policy, opened.household);
  ReplayAnswer answer;
  answer.policy_version = version;
  answer.differences = decision_differences(report, policies::decision_json(decision));
  answer.identical = answer.differences.empty();
  return answer;
}

Result<ReplayAnswer> replay_stored(const ArchivedVerification& found, const json& report,
                                   const ReportKeyHistory* history) {
  auto opened = open_stored_archive(found, report, history);
  if (!opened) {
    // Said by the replay: never compared.
    auto error = opened.error();
    if (error.code == "archive_tampered") error.message += ": not replayed";
    return error;
  }
  return replay_decision(report, *opened, found.inputs.policy_content);
}

}  // namespace hfv::broker
