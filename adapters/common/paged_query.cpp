#include "adapters/common/paged_query.hpp"

#include "adapters/common/resilience.hpp"
#include "crypto/hash.hpp"
#include "common/time.hpp"

namespace hfv::adapters {

namespace net = boost::asio;

namespace {
constexpr int kMaxPages = 200;  // beyond this the agency is broken, not the household rich
}

namespace {

FailureKind transport_failure(HttpErrorKind error) {
  switch (error) {
    case HttpErrorKind::kTimeout: return FailureKind::kTimeout;
    case HttpErrorKind::kTls: return FailureKind::kTls;
    case HttpErrorKind::kCancelled: return FailureKind::kCancelled;
    case HttpErrorKind::kNetwork:
    case HttpErrorKind::kOther:
    case HttpErrorKind::kNone: break;
  }
  return FailureKind::kNetwork;
}

// An answer its parser refused: by its HTTP status, else its content.
FailureKind answer_failure(long http_status) {
  if (http_status == 429) return FailureKind::kThrottled;
  if (http_status >= 500) return FailureKind::kServerError;
  if (http_status != 200) return FailureKind::kRejected;
  return FailureKind::kMalformed;
}

}  // namespace

net::awaitable<SourceResult> run_paged_query(HttpClient& http, const AgencyConfig& config,
                                             const PagedAgency& agency, const MemberQuery& member,
                                             Deadline deadline, AgencyGuard* guard) {
  SourceResult result;
  result.member_index = member.member_index;
  result.source = agency.source;
  crypto::Sha256 evidence;
  const auto started = std::chrono::steady_clock::now();
  auto fail = [&](SourceStatus status, FailureKind failure, std::string detail) {
    result.status = status;
    result.failure = failure;
    result.detail = std::move(detail);
    result.records = {};  // never partial data on failure
  };

  std::string token;
  for (int page_no = 1;; ++page_no) {
    if (page_no > kMaxPages) {
      fail(SourceStatus::kError, FailureKind::kMalformed, "agency returned more pages than allowed");
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      fail(SourceStatus::kTimeout, FailureKind::kTimeout, "deadline passed before the query could be sent");
      break;
    }
    HttpRequest request;
    request.url = config.base_url + agency.path;
    request.headers = {"Content-Type: application/json", "Accept: application/json",
                       "X-Query-Id: " + member.query_id};
    request.body = agency.request_body(member, token);
    request.tls = config.tls;
    request.connect_timeout = config.connect_timeout;
    request.total_timeout = time_left(deadline, config.timeout);
    request.cancel = member.cancel.get();
    HttpResult answer;
    if (guard != nullptr) {
      answer = co_await guard->fetch(http, std::move(request), deadline, result.attempts);
    } else {
      answer = co_await http.fetch(std::move(request));
      ++result.attempts;
    }
    if (answer.error != HttpErrorKind::kNone) {
      fail(answer.error == HttpErrorKind::kTimeout ? SourceStatus::kTimeout : SourceStatus::kError,
           transport_failure(answer.error), std::string(http_error_name(answer.error)) + ": " + answer.error_detail);
      result.cancelled = answer.error == HttpErrorKind::kCancelled;
      break;
    }
    evidence.update(answer.response.body);
    auto page = agency.parse_page(answer.response.status, answer.response.body, token);
    if (!page) {
      fail(SourceStatus::kError, answer_failure(answer.response.status), page.error().message);
      break;
    }
    if (page->not_found) {
      if (page_no == 1) {
        result.status = SourceStatus::kNotFound;
      } else {
        fail(SourceStatus::kError, FailureKind::kMalformed, "person vanished between pages");
      }
      break;
    }
    const bool empty_page = item_count(page->records) == 0;
    append_records(result.records, std::move(page->records));
    const auto have = static_cast<long>(item_count(result.records));
    if (page->total && have > *page->total) {
      fail(SourceStatus::kError, FailureKind::kMalformed, "pages hold more items than the stated total");
      break;
    }
    if (page->total && have == *page->total) {
      result.status = SourceStatus::kOk;
      break;
    }
    if (!page->next) {
      if (page->total) {
        fail(SourceStatus::kError, FailureKind::kMalformed, "last page reached before the stated total");
      } else {
        result.status = SourceStatus::kOk;
      }
      break;
    }
    if (empty_page || *page->next == token) {
      fail(SourceStatus::kError, FailureKind::kMalformed, "agency paging does not advance");
      break;
    }
    token = *page->next;
  }
  result.received_at = utc_timestamp_now();
  result.latency = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  if (result.attempts > 0) result.evidence_sha256 = crypto::to_hex(evidence.finish());
  co_return result;
}

}  // namespace hfv::adapters
