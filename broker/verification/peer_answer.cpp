#include "broker/verification/peer_answer.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "broker/verification/report_signature.hpp"
#include "policies/household_json.hpp"

namespace hfv::broker {

using nlohmann::json;

namespace {

std::optional<FailureKind> parse_failure(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(FailureKind::kInternal); ++i) {
    const auto kind = static_cast<FailureKind>(i);
    if (failure_kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

Error invalid(const std::string& message) { return make_error("peer_answer_invalid", message); }

}  // namespace

std::string peer_answer_text(const PeerAnswer& answer, const crypto::Ed25519Signer& signer) {
  json results = json::array();
  for (const auto& r : answer.results) {
    const bool has_records = r.status == SourceStatus::kOk;
    results.push_back({{"member_index", r.member_index},
                       {"source", std::string(source_name(r.source))},
                       {"status", std::string(status_name(r.status))},
                       {"failure", std::string(failure_kind_name(r.failure))},
                       {"records", policies::normalised_records_json(has_records ? r.records : NormalisedRecords{})}});
  }
  json doc = {{"format", kPeerAnswerFormat},
              {"request_id", answer.request_id},
              {"answering_centre", answer.answering_centre},
              {"answered_at", answer.answered_at},
              {"results", std::move(results)}};
  sign_report(doc, signer, kPeerAnswerFormat);
  return doc.dump(-1, ' ', false, json::error_handler_t::strict);
}

Result<PeerAnswer> read_peer_answer(std::string_view text, const crypto::Ed25519PublicKey& key,
                                    const std::string& request_id, const std::vector<AskedPair>& asked) {
  const ReportVerification checked = verify_report_text(text, key, kPeerAnswerFormat);
  if (checked.check != ReportCheck::kValid) {
    return make_error("peer_signature_invalid", "the peer's answer does not verify: " + std::string(describe(checked.check)));
  }
  const json& doc = checked.report;
  for (const auto& [k, v] : doc.items()) {
    static const std::set<std::string> kKeys = {"format", "request_id", "answering_centre", "answered_at",
                                                "results", "signature"};
    if (!kKeys.contains(k)) return invalid("unknown member " + k);
  }
  if (doc.value("format", "") != kPeerAnswerFormat) return invalid("format is not hfv-peer-answer/v1");
  if (!doc.contains("request_id") || doc["request_id"] != request_id) {
    return invalid("the answer is for another request");
  }
  PeerAnswer out;
  out.request_id = request_id;
  const auto text_of = [&](const char* k) {
    auto it = doc.find(k);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  out.answering_centre = text_of("answering_centre");
  out.answered_at = text_of("answered_at");
  if (out.answering_centre.empty() || out.answered_at.empty()) return invalid("answering_centre and answered_at are required");
  const auto results = doc.find("results");
  if (results == doc.end() || !results->is_array()) return invalid("results must be an array");
  std::set<AskedPair> wanted(asked.begin(), asked.end());
  if (wanted.size() != asked.size()) return invalid("a pair was asked twice");  // the origin's bug: refuse anyway
  std::set<AskedPair> seen;
  for (std::size_t i = 0; i < results->size(); ++i) {
    const json& r = (*results)[i];
    const std::string where = "results[" + std::to_string(i) + "]";
    if (!r.is_object() || r.size() != 5) return invalid(where + " must hold member_index, source, status, failure, records");
    const auto index = r.find("member_index");
    const auto source_text = r.find("source");
    const auto status_text = r.find("status");
    const auto failure_text = r.find("failure");
    const auto records = r.find("records");
    if (index == r.end() || !index->is_number_unsigned() || source_text == r.end() || !source_text->is_string() ||
        status_text == r.end() || !status_text->is_string() || failure_text == r.end() || !failure_text->is_string() ||
        records == r.end()) {
      return invalid(where + " must hold member_index, source, status, failure, records");
    }
    SourceResult result;
    result.member_index = index->get<std::size_t>();
    const auto source = parse_source(source_text->get<std::string>());
    const auto status = policies::parse_source_status(status_text->get<std::string>());
    const auto failure = parse_failure(failure_text->get<std::string>());
    if (!source || !status || !failure) return invalid(where + ": unknown source, status or failure");
    result.source = *source;
    result.status = *status;
    result.failure = *failure;
    const bool failed = *status == SourceStatus::kTimeout || *status == SourceStatus::kError;
    if (failed != (*failure != FailureKind::kNone)) {
      return invalid(where + ": a failure is given exactly when the status is timeout or error");
    }
    const AskedPair pair{result.member_index, result.source};
    if (!wanted.contains(pair)) return invalid(where + ": a pair that was not asked");
    if (!seen.insert(pair).second) return invalid(where + ": a pair answered twice");
    auto parsed = policies::parse_normalised_records(*records, where + ".records");
    if (!parsed) return invalid(parsed.error().message);
    if (*status != SourceStatus::kOk && !(policies::normalised_records_json(*parsed) ==
                                          policies::normalised_records_json(NormalisedRecords{}))) {
      return invalid(where + ": records given with a status other than ok");
    }
    result.records = std::move(*parsed);
    if (failed) result.detail = "the peer's agency failed (" + std::string(failure_kind_name(result.failure)) + ")";
    out.results.push_back(std::move(result));
  }
  if (seen.size() != wanted.size()) return invalid("the answer leaves a pair that was asked unanswered");
  return out;
}

}  // namespace hfv::broker
