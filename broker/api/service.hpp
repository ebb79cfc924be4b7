// Service: the broker's API behind the HTTP server — authentication of the
// caller (from its client certificate), the route table's role and operator
// checks, load shedding, and one handler per endpoint. Verifications are the
// verifier's (broker/verification/verifier.hpp); batches the BatchManager's
// (broker/reviews/batch.hpp); this layer turns their typed answers into
// HTTP. Transport-independent, so it is testable without sockets.
//
// Threading: handle() runs on the I/O thread that owns the adapters' HTTP
// client; blocking storage calls are sent to the `blocking` pool.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "broker/ops/config.hpp"
#include "broker/verification/consent.hpp"
#include "broker/ops/divisions.hpp"
#include "broker/api/rate_limiter.hpp"
#include "broker/api/refusal_tally.hpp"
#include "broker/api/readiness.hpp"
#include "broker/api/routes.hpp"
#include "broker/verification/verifier.hpp"
#include "broker/verification/report_key_history.hpp"
#include "broker/verification/report_signature.hpp"
#include "common/cancellation.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/keys.hpp"
#include "crypto/peer_identity.hpp"
#include "policies/engine.hpp"

namespace hfv::broker {

class Metrics;
class BatchManager;
class WhatIfJobs;
class ReviewStore;

struct ApiRequest {
  std::string method;
  std::string target;  // path and query
  std::string body;
  bool body_too_large = false;
  std::optional<crypto::PeerCertificate> peer;
  std::string operator_id;  // X-Operator-Id header, as sent by the case system
  std::string idempotency_key;  // Idempotency-Key header (optional)
  std::string accept;           // Accept header: a browser asking for text/html gets a page for some refusals
  std::string content_type;     // Content-Type header, as sent (POST and DELETE must send a JSON type)
  std::string client_address;   // the TCP peer's address (per-address limits on unidentified callers)
  // Fired by the server when the caller disconnects while a synchronous
  // verification runs (broker/api/server.cpp); null when nobody watches.
  std::shared_ptr<Cancellation> cancel;
};

struct ApiResponse {
  unsigned status = 200;
  nlohmann::json body = nlohmann::json::object();
  std::vector<std::pair<std::string, std::string>> headers;
  // Non-JSON answers (console assets, metrics text): when content_type is
  // set, raw_body is sent as is with that type and `body` is ignored.
  std::string content_type = {};
  std::string raw_body = {};
  // The route table's pattern of the endpoint that answered ("other" when
  // none matched): what logs and metrics name it by. Set by Service::handle.
  std::string_view endpoint = "other";
};

struct ServiceParts {
  const Config* config = nullptr;
  Verifier* verifier = nullptr;  // verifications, pseudonyms, the policies in force, the adapters
  const DivisionCodes* divisions = nullptr;
  audit::AuditLog* audit = nullptr;
  AuthorizationStore* authorizations = nullptr;
  const crypto::Ed25519Signer* signer = nullptr;
  // Every report-signing key, checked, ending with signer's (null: signer's alone).
  const ReportKeyHistory* report_keys = nullptr;
  boost::asio::thread_pool* blocking = nullptr;
  Metrics* metrics = nullptr;  // optional (broker/ops/metrics.hpp); null: nothing counted, no /metrics
  ReviewStore* reviews = nullptr;  // optional (broker/store/review_store.hpp): review data per verification
};

class Service {
 public:
  explicit Service(ServiceParts parts);
  boost::asio::awaitable<ApiResponse> handle(ApiRequest request);
  // Requests inside handle(), and asynchronous verifications still running:
  // a graceful stop waits for both.
  std::size_t in_flight() const { return in_flight_ + parts_.verifier->background_in_flight(); }

  // /v1/batches is routed to `batches` (broker/reviews/batch.hpp; null: 404).
  void set_batches(BatchManager* batches) { batches_ = batches; }
  // /v1/policies/{code}/what-if is run by `jobs` (broker/reviews/what_if.hpp; null: 503).
  void set_what_if(WhatIfJobs* jobs) { what_if_ = jobs; }
  Metrics* metrics() const { return parts_.metrics; }

  // Replaces the policies atomically (call on the service's I/O thread);
  // verifications already running keep the set they started with.
  void set_policies(std::shared_ptr<const policies::PolicySet> policies) {
    parts_.verifier->set_policies(std::move(policies));
  }

  // The refusals of unidentified callers counted since the last tally
  // record, as a record (broker/api/refusal_tally.hpp): the daemon writes
  // it when it stops.
  std::optional<audit::AuditRecord> take_refusal_tally() {
    return refusal_tally_.take(std::chrono::steady_clock::now(), /*flush=*/true);
  }

  // Keyed pseudonyms of an ID number (Verifier's): the consent store's and
  // the audit log's, each under its own key.
  std::string consent_pseudonym(const std::string& id_number) const {
    return parts_.verifier->consent_pseudonym(id_number);
  }
  std::string audit_pseudonym(const std::string& id_number) const {
    return parts_.verifier->audit_pseudonym(id_number);
  }

 private:
  // The route table (broker/api/routes.cpp) names the handlers below.
  friend std::span<const Route> route_table();
  // Checks `request` against the route table and calls its handler; `rows`
  // gets the table's rows for the path (one per method).
  boost::asio::awaitable<ApiResponse> route(ApiRequest& request, std::vector<const Route*>& rows);
  // One handler per row of the route table; roles, operator header and
  // method are checked before they are called.
  boost::asio::awaitable<ApiResponse> on_healthz(const RouteCall& call);
  // GET /readyz (broker/api/readiness.hpp): 200 ready, 503 not.
  boost::asio::awaitable<ApiResponse> on_readyz(const RouteCall& call);
  // The checks /readyz answers and /metrics renders (hfv_ready).
  boost::asio::awaitable<Readiness> readiness();
  boost::asio::awaitable<ApiResponse> on_metrics(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_verify(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_peer_query(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_get_verification(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_replay_verification(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_appeal_verification(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_register_authorization(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_read_authorization(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_revoke_authorization(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_policy_parameters(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_signing_key(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_signing_key_history(const RouteCall& call);
  // /v1/batches (broker/api/batches_api.cpp).
  boost::asio::awaitable<ApiResponse> on_create_batch(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_batch_progress(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_cancel_batch(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_batch_changes(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_batch_statistics(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> batch_report(const RouteCall& call, bool statistics);
  boost::asio::awaitable<ApiResponse> on_review_statistics(const RouteCall& call);
  // /v1/policies/{code}/what-if (broker/api/what_if_api.cpp).
  boost::asio::awaitable<ApiResponse> on_what_if_start(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_what_if_read(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_audit(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_audit_anomalies(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_console(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> refuse(const ApiRequest& request, const Principal* principal,
                                             unsigned status, std::string code, std::string message,
                                             std::string field = "");
  // A refusal of a caller no principal could be found for: counted in the
  // tally (one audit record per interval), 429 beyond the per-address rate.
  boost::asio::awaitable<ApiResponse> refuse_unidentified(const ApiRequest& request, unsigned status,
                                                          const std::string& code, const std::string& message);
  // Waits for the end of the tally's interval and writes its record.
  boost::asio::awaitable<void> write_refusal_tally();
  boost::asio::awaitable<ApiResponse> register_authorization(const ApiRequest& request,
                                                             const Principal& principal);
  boost::asio::awaitable<ApiResponse> read_authorization(const ApiRequest& request,
                                                         const Principal& principal,
                                                         const std::string& id, bool revoke);
  // Supervisor and citizen-access endpoints (broker/api/audit_api.cpp): every
  // path under /v1/audit and /v1/access-log.
  boost::asio::awaitable<ApiResponse> handle_audit(const ApiRequest& request, const Principal& principal,
                                                   const std::string& path);
  // Supervisor console (broker/api/console.cpp): the embedded web page under
  // /console/ and the anomaly flags (GET /v1/audit/anomalies).
  boost::asio::awaitable<ApiResponse> console(const std::string& path);
  boost::asio::awaitable<ApiResponse> audit_anomalies(const ApiRequest& request, const Principal& principal);
  // GET /v1/reviews/statistics (broker/api/statistics_api.cpp): statistics of a
  // period over the review records, for case systems and supervisors.
  boost::asio::awaitable<ApiResponse> review_statistics(const ApiRequest& request, const Principal& principal);
  ApiResponse policy_parameters(const ApiRequest& request, const std::string& code) const;
  // GET /metrics (broker/ops/metrics.hpp), with the readiness checks of this scrape.
  ApiResponse metrics_response(const Readiness& readiness) const;
  // A browser (Accept: text/html) refused for want of a valid client
  // certificate on a console path gets a short page saying what it needs
  // instead of `refused`'s JSON; still 401, already audited. Anything else:
  // `refused` unchanged (broker/api/console.cpp).
  static ApiResponse console_certificate_page(const ApiRequest& request, ApiResponse refused);
  // The record every access of `request` starts from: its principal's
  // (caller_record) or an unidentified caller's, with the certificate it
  // came with (cert_sha256, cert_serial) either way.
  audit::AuditRecord base_record(const ApiRequest& request, const Principal* principal) const;
  // The certificate `request` came with, for the verifier's and batches' records.
  static CallerCertificate certificate_of(const ApiRequest& request);

  ServiceParts parts_;
  RateLimiter rate_limiter_;
  RefusalTally refusal_tally_{RefusalTally::Settings{}};
  bool tally_write_pending_ = false;  // write_refusal_tally() is waiting (I/O thread)
  std::size_t in_flight_ = 0;  // requests inside handle(), for load shedding
  BatchManager* batches_ = nullptr;
  WhatIfJobs* what_if_ = nullptr;
  bool state_probe_running_ = false;  // one /readyz store read at a time (I/O thread)
};

}  // namespace hfv::broker
