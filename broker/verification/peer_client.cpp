#include "broker/verification/peer_client.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "broker/verification/peer_answer.hpp"
#include "common/time.hpp"
#include "crypto/hash.hpp"

namespace hfv::broker {

namespace net = boost::asio;

PeerClient::PeerClient(PeerSettings settings, adapters::HttpClient& http)
    : settings_(std::move(settings)),
      http_(http),
      guard_(std::make_shared<adapters::AgencyGuard>(http.io().get_executor(), settings_.resilience)),
      breaker_(std::make_shared<adapters::CircuitBreaker>(settings_.resilience.breaker_failures,
                                                          settings_.resilience.breaker_cooldown)) {}

PeerReply failed_peer_reply(const PeerQuery& query, SourceStatus status, FailureKind kind, const std::string& why,
                            int attempts, std::chrono::milliseconds latency) {
  PeerReply reply;
  reply.failure = why;
  reply.attempts = attempts;
  for (const auto& m : query.members) {
    for (Source s : m.sources) {
      SourceResult r;
      r.member_index = m.member_index;
      r.source = s;
      r.status = status;
      r.failure = kind;
      r.detail = why;
      r.attempts = attempts;
      r.latency = latency;
      reply.results.push_back(std::move(r));
    }
  }
  return reply;
}

namespace {

// "403 purpose_not_allowed": the status and the peer's error code (a
// token, or nothing), never its message.
std::string refusal_of(const adapters::HttpResponse& response) {
  const auto body = nlohmann::json::parse(response.body, nullptr, false);
  std::string code;
  if (body.is_object() && body.contains("error") && body["error"].is_string()) code = body["error"].get<std::string>();
  if (!is_token(code)) code.clear();
  return std::to_string(response.status) + (code.empty() ? "" : " " + code);
}

}  // namespace

net::awaitable<PeerReply> PeerClient::ask(PeerQuery query, adapters::Deadline deadline, Cancellation* cancel) {
  const auto started = std::chrono::steady_clock::now();
  const auto took = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  };
  const std::string who = "peer " + settings_.name + ": ";
  if (!co_await guard_->admit(deadline, cancel)) {
    co_return failed_peer_reply(query, SourceStatus::kTimeout, FailureKind::kTimeout, who + "not sent before the deadline", 0,
                     took());
  }
  struct Admitted {
    adapters::AgencyGuard& guard;
    ~Admitted() { guard.leave(); }  // NOLINT(bugprone-exception-escape): as in ResilientAdapter
  } admitted{*guard_};
  if (!breaker_->allow()) {
    co_return failed_peer_reply(query, SourceStatus::kError, FailureKind::kCircuitOpen, who + "circuit open", 0, took());
  }
  std::vector<AskedPair> asked;
  for (const auto& m : query.members) {
    for (Source s : m.sources) asked.emplace_back(m.member_index, s);
  }
  const auto left = adapters::time_left(deadline, settings_.timeout);
  query.deadline_ms = left.count();
  adapters::HttpRequest request;
  request.method = "POST";
  request.url = settings_.url + "/v1/peer/queries";
  request.headers = {"Content-Type: application/json"};
  request.body = peer_query_json(query).dump();
  request.connect_timeout = settings_.connect_timeout;
  request.total_timeout = left;
  request.tls = settings_.tls;
  request.cancel = cancel;
  int attempts = 0;
  const adapters::HttpResult result = co_await guard_->fetch(http_, std::move(request), deadline, attempts);
  if (result.error == adapters::HttpErrorKind::kCancelled) {
    breaker_->release();
    PeerReply reply = failed_peer_reply(query, SourceStatus::kError, FailureKind::kCancelled, who + "cancelled", attempts, took());
    for (auto& r : reply.results) r.cancelled = true;
    co_return reply;
  }
  if (result.error != adapters::HttpErrorKind::kNone) {
    breaker_->record(false);
    const bool timeout = result.error == adapters::HttpErrorKind::kTimeout;
    co_return failed_peer_reply(query, timeout ? SourceStatus::kTimeout : SourceStatus::kError,
                     timeout ? FailureKind::kTimeout
                     : result.error == adapters::HttpErrorKind::kTls ? FailureKind::kTls
                                                                     : FailureKind::kNetwork,
                     who + std::string(adapters::http_error_name(result.error)), attempts, took());
  }
  if (const auto answer = adapters::answer_class(result.response.status); answer != adapters::AnswerClass::kAnswer) {
    // A refusal is the peer's judgement of this request, not a fault of
    // the peer: it does not count against its breaker; a 5xx does.
    const bool peer_fault = answer == adapters::AnswerClass::kServerTrouble;
    breaker_->record(!peer_fault);
    co_return failed_peer_reply(query, SourceStatus::kError,
                     peer_fault ? FailureKind::kServerError : FailureKind::kRejected,
                     who + refusal_of(result.response), attempts, took());
  }
  auto answer = read_peer_answer(result.response.body, settings_.report_key, query.request_id, asked);
  if (!answer) {
    breaker_->record(false);
    co_return failed_peer_reply(query, SourceStatus::kError, FailureKind::kMalformed, who + answer.error().code, attempts, took());
  }
  breaker_->record(true);
  PeerReply reply;
  reply.answered = true;
  reply.attempts = attempts;
  reply.answer_sha256 = crypto::to_hex(crypto::sha256(result.response.body));
  // In the order asked (read_peer_answer checked every pair is there once).
  for (const auto& [member, source] : asked) {
    for (auto& r : answer->results) {
      if (r.member_index != member || r.source != source) continue;
      r.attempts = attempts;
      r.latency = took();
      if (r.received_at.empty()) r.received_at = answer->answered_at;
      if (r.status != SourceStatus::kOk && !r.detail.starts_with(who)) r.detail = who + r.detail;
      reply.results.push_back(std::move(r));
      break;
    }
  }
  co_return reply;
}

}  // namespace hfv::broker
