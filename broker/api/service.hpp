// Service: the broker's API behind the HTTP server — authentication of the
// caller (from its client certificate), validation, authorisation and
// consent checks, the audited fan-out to agencies, policy evaluation and
// signed reports. Transport-independent, so it is testable without sockets.
//
// The order of a verification is the broker's core promise:
//   1. who is calling (certificate -> principal), role, jurisdiction
//   2. every field valid; policy exists; authorisation covers case, members
//   3. the request's audit record is durable
//   4. only then: one query per member per allowed source, in parallel
//   5. one audit record per query; evaluation; signed report; report audited
// Any refusal at steps 1-2 queries nobody and is itself audited.
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

#include "adapters/registry.hpp"
#include "audit/audit_log.hpp"
#include "broker/ops/config.hpp"
#include "broker/verification/consent.hpp"
#include "broker/ops/divisions.hpp"
#include "broker/api/rate_limiter.hpp"
#include "broker/api/routes.hpp"
#include "broker/store/report_store.hpp"
#include "common/cancellation.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/keys.hpp"
#include "crypto/pki.hpp"
#include "policies/engine.hpp"

namespace hfv::broker {

class Metrics;
class BatchManager;
class ReviewStore;

struct ApiRequest {
  std::string method;
  std::string target;  // path and query
  std::string body;
  bool body_too_large = false;
  std::optional<crypto::PeerCertificate> peer;
  std::string operator_id;  // X-Operator-Id header, as sent by the case system
  std::string idempotency_key;  // Idempotency-Key header (optional)
  std::string batch_id;  // set by BatchManager for batch work (audited as "batch=<id>"); never from HTTP
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
};

struct ServiceParts {
  const Config* config = nullptr;
  std::shared_ptr<const policies::PolicySet> policies;
  const DivisionCodes* divisions = nullptr;
  adapters::AdapterSet adapters;
  audit::AuditLog* audit = nullptr;
  ConsentStore* consent = nullptr;
  ReportStore* reports = nullptr;
  const crypto::Ed25519Signer* signer = nullptr;
  crypto::SecretKey pseudonym_key;
  boost::asio::thread_pool* blocking = nullptr;
  Metrics* metrics = nullptr;  // optional (broker/ops/metrics.hpp); null: nothing counted, no /metrics
  ReviewStore* reviews = nullptr;  // optional (broker/store/review_store.hpp): review data per verification
};

class Service {
 public:
  explicit Service(ServiceParts parts);
  boost::asio::awaitable<ApiResponse> handle(ApiRequest request);
  std::size_t in_flight() const { return in_flight_; }

  // Periodic reviews (broker/reviews/batch.hpp): /v1/batches is routed to `batches`
  // (null: 404), and a batch household is verified through the same path as
  // POST /v1/verifications — consent, audit, fan-out, report, review record —
  // without the HTTP front's rate limit and load shedding (BatchManager
  // throttles itself).
  void set_batches(BatchManager* batches) { batches_ = batches; }
  boost::asio::awaitable<ApiResponse> verify_in_batch(const ApiRequest& request, const Principal& principal) {
    return verify(request, principal);
  }
  Metrics* metrics() const { return parts_.metrics; }
  // Interactive verifications (not batch households) running now, and when
  // the last one ended: batches yield to them (BatchManager).
  std::size_t interactive_in_flight() const { return interactive_->in_flight; }
  std::chrono::steady_clock::time_point last_interactive_end() const { return interactive_->last_end; }

  // Replaces the policies atomically (call on the service's I/O thread);
  // verifications already running keep the set they started with.
  void set_policies(std::shared_ptr<const policies::PolicySet> policies) {
    parts_.policies = std::move(policies);
  }

  // Keyed pseudonym of an ID number: hex HMAC-SHA256 under the pseudonym key.
  std::string pseudonym(const std::string& id_number) const;

 private:
  // The route table (broker/api/routes.cpp) names the handlers below.
  friend std::span<const Route> route_table();
  boost::asio::awaitable<ApiResponse> route(ApiRequest& request);
  // One handler per row of the route table; roles, operator header and
  // method are checked before they are called.
  boost::asio::awaitable<ApiResponse> on_healthz(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_metrics(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_verify(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_get_verification(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_register_authorization(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_read_authorization(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_revoke_authorization(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_policy_parameters(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_signing_key(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_batch(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_review_statistics(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_audit(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_audit_anomalies(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> on_console(const RouteCall& call);
  boost::asio::awaitable<ApiResponse> refuse(const ApiRequest& request, const Principal* principal,
                                             unsigned status, std::string code, std::string message,
                                             std::string field = "");
  struct Accepted;
  boost::asio::awaitable<ApiResponse> verify(const ApiRequest& request, const Principal& principal);
  boost::asio::awaitable<ApiResponse> execute(std::shared_ptr<Accepted> accepted);
  boost::asio::awaitable<ApiResponse> call_off(Accepted& accepted, std::vector<audit::AuditRecord> rows);
  boost::asio::awaitable<ApiResponse> get_verification(const ApiRequest& request, const Principal& principal,
                                                       const std::string& id);
  boost::asio::awaitable<ApiResponse> answer_stored(const ApiRequest& request, const Principal& principal,
                                                    const StoredVerification& stored, const std::string& why);
  boost::asio::awaitable<ApiResponse> register_authorization(const ApiRequest& request,
                                                             const Principal& principal);
  boost::asio::awaitable<ApiResponse> read_authorization(const ApiRequest& request,
                                                         const Principal& principal,
                                                         const std::string& id, bool revoke);
  boost::asio::awaitable<std::vector<SourceResult>> fan_out(
      const std::vector<adapters::MemberQuery>& queries, const std::vector<Source>& sources,
      adapters::Deadline deadline);
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
  ApiResponse metrics_response() const;  // GET /metrics (broker/ops/metrics.hpp)
  audit::AuditRecord base_record(const ApiRequest& request, const Principal* principal) const;

  ServiceParts parts_;
  RateLimiter rate_limiter_;
  std::size_t in_flight_ = 0;  // requests inside handle(), for load shedding
  // Interactive verifications, each counted from its parsing to its report
  // (an asynchronous one until its background part ends). Marks share the
  // counter, not the Service: a coroutine frame destroyed with the
  // io_context after the Service still finds it.
  struct InteractiveCount {
    std::size_t in_flight = 0;
    std::chrono::steady_clock::time_point last_end{};
  };
  struct InteractiveMark {
    explicit InteractiveMark(std::shared_ptr<InteractiveCount> c) : count(std::move(c)) { ++count->in_flight; }
    ~InteractiveMark() {
      --count->in_flight;
      count->last_end = std::chrono::steady_clock::now();
    }
    InteractiveMark(const InteractiveMark&) = delete;
    InteractiveMark& operator=(const InteractiveMark&) = delete;
    std::shared_ptr<InteractiveCount> count;
  };
  std::shared_ptr<InteractiveCount> interactive_ = std::make_shared<InteractiveCount>();
  BatchManager* batches_ = nullptr;
};

// The bytes a report's signature covers: the report without its "signature"
// member, serialised by nlohmann::json::dump() (keys sorted, no whitespace).
std::string canonical_report(const nlohmann::json& report);
// Adds "signature": {"alg": "Ed25519", "key_id", "value" (hex)}.
void sign_report(nlohmann::json& report, const crypto::Ed25519Signer& signer);
// Checks a saved report against a public key.
bool verify_report_signature(const nlohmann::json& report, const crypto::Ed25519PublicKey& key);
std::string key_id(const crypto::Ed25519PublicKey& key);

}  // namespace hfv::broker
