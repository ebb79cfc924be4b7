// POST /v1/verifications, GET /v1/verifications/{id}, its /replay and its
// /appeals: the
// verifier's outcome (broker/verification/verifier.hpp) as an HTTP answer.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include "broker/api/service.hpp"
#include "broker/api/service_internal.hpp"
#include "broker/api/verification_http.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using detail::error_response;

net::awaitable<ApiResponse> Service::on_verify(const RouteCall& call) {
  VerifyCall verify;
  verify.principal = call.principal;
  verify.operator_id = call.request.operator_id;
  verify.certificate = certificate_of(call.request);
  verify.what = call.request.method + " " + call.path;
  verify.body = call.request.body;
  verify.idempotency_key = call.request.idempotency_key;
  verify.cancel = call.request.cancel;
  const Outcome outcome = co_await parts_.verifier->verify(std::move(verify));
  co_return http_answer(outcome);
}

net::awaitable<ApiResponse> Service::on_get_verification(const RouteCall& call) {
  const std::string id = call.path.substr(std::string("/v1/verifications/").size());
  if (!is_token(id)) co_return error_response(404, "not_found", "no such verification");
  const Outcome outcome =
      co_await parts_.verifier->read(*call.principal, call.request.operator_id, id, certificate_of(call.request));
  co_return http_answer(outcome);
}

net::awaitable<ApiResponse> Service::on_replay_verification(const RouteCall& call) {
  const std::string prefix = "/v1/verifications/";
  const std::string id = call.path.substr(prefix.size(), call.path.size() - prefix.size() - std::string("/replay").size());
  if (!is_token(id)) co_return error_response(404, "not_found", "no such verification", "id");
  const ReplayOutcome outcome =
      co_await parts_.verifier->replay(*call.principal, call.request.operator_id, id, certificate_of(call.request));
  switch (outcome.kind) {
    case ReplayOutcome::Kind::kDone: {
      ApiResponse r;
      r.status = 200;
      r.body = {{"verification_id", id},
                {"identical", outcome.answer.identical},
                {"policy_version", outcome.answer.policy_version},
                {"differences", outcome.answer.differences},
                {"replayed_at", outcome.replayed_at}};
      co_return r;
    }
    case ReplayOutcome::Kind::kNotFound: co_return error_response(404, "not_found", outcome.message, "id");
    case ReplayOutcome::Kind::kForbidden:
      co_return error_response(403, "jurisdiction_not_allowed", outcome.message, "jurisdiction");
    case ReplayOutcome::Kind::kNoReport: co_return error_response(409, "no_report", outcome.message, "id");
    case ReplayOutcome::Kind::kFailed:
      // A report that cannot be replayed as it was issued (no archive, its
      // policy file gone or the engine changed since): 409. An archive that
      // is not the one the report names, or does not read: the broker's
      // fault, never the caller's, and loud: 500.
      if (outcome.code == "archive_missing") co_return error_response(409, "archive_missing", outcome.message, "id");
      if (outcome.code == "policy_unavailable") {
        co_return error_response(409, "policy_unavailable", outcome.message, "policy_version");
      }
      if (outcome.code == "archive_unreadable") co_return error_response(500, "archive_unreadable", outcome.message);
      co_return error_response(500, "archive_tampered", outcome.message);
    case ReplayOutcome::Kind::kUnavailable: break;
  }
  if (outcome.code == "audit_unavailable") co_return error_response(503, "audit_unavailable", outcome.message);
  co_return error_response(503, "state_unavailable", outcome.message);
}

net::awaitable<ApiResponse> Service::on_appeal_verification(const RouteCall& call) {
  const std::string prefix = "/v1/verifications/";
  const std::string id = call.path.substr(prefix.size(), call.path.size() - prefix.size() - std::string("/appeals").size());
  if (!is_token(id)) co_return error_response(404, "not_found", "no such verification", "id");
  AppealCall appeal;
  appeal.principal = call.principal;
  appeal.operator_id = call.request.operator_id;
  appeal.certificate = certificate_of(call.request);
  appeal.id = id;
  appeal.body = call.request.body;
  const AppealOutcome outcome = co_await parts_.verifier->appeal(std::move(appeal));
  switch (outcome.kind) {
    case AppealOutcome::Kind::kIssued: {
      ApiResponse r{201, outcome.report, {}};
      r.headers.emplace_back("Location", "/v1/verifications/" + outcome.verification_id);
      r.headers.emplace_back("X-HFV-Verification-Id", outcome.verification_id);
      co_return r;
    }
    case AppealOutcome::Kind::kRefused: {
      ApiResponse r = error_response(appeal_http_status(outcome.code), outcome.code, outcome.message, outcome.field);
      if (!outcome.audited) r.body["audit"] = "unavailable";
      co_return r;
    }
    case AppealOutcome::Kind::kUnavailable: break;
  }
  co_return error_response(503, outcome.code, outcome.message);
}

net::awaitable<ApiResponse> Service::on_peer_query(const RouteCall& call) {
  PeerCall peer;
  peer.principal = call.principal;
  peer.certificate = certificate_of(call.request);
  peer.body = call.request.body;
  const PeerOutcome outcome = co_await parts_.verifier->answer_peer(std::move(peer));
  switch (outcome.kind) {
    case PeerOutcome::Kind::kAnswered: {
      // The signed bytes as they are: the origin checks exactly these.
      ApiResponse r;
      r.content_type = "application/json";
      r.raw_body = outcome.answer;
      co_return r;
    }
    case PeerOutcome::Kind::kRefused: {
      ApiResponse r = error_response(peer_http_status(outcome.code), outcome.code, outcome.message, outcome.field);
      if (!outcome.audited) r.body["audit"] = "unavailable";
      co_return r;
    }
    case PeerOutcome::Kind::kUnavailable: break;
  }
  co_return error_response(503, outcome.code, outcome.message);
}

}  // namespace hfv::broker
