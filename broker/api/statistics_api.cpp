// GET /v1/reviews/statistics: the periodic statistics the policies ask for
// (docs/api.md "Statistics of a period"), over the review records of the
// verifications issued between two local calendar days:
//  - a case system sees its own verifications, in its jurisdictions;
//  - a supervisor sees every caller's, in the supervisor's jurisdictions.
// Only counts leave the broker (no case ids, no ID numbers); the read is
// audited (`statistics.read`) before the records are read, like any access.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/use_awaitable.hpp>

#include "broker/reviews/batch_review.hpp"
#include "broker/api/query_string.hpp"
#include "broker/store/review_store.hpp"
#include "broker/api/service.hpp"
#include "broker/api/service_internal.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using detail::error_response;
using nlohmann::json;

namespace {

constexpr long kMaxPeriodDays = 366;

// "23", "2301" or "230102": a province, prefecture or county prefix.
bool is_division_prefix(const std::string& s) {
  return (s.size() == 2 || s.size() == 4 || s.size() == 6) &&
         s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

net::awaitable<ApiResponse> Service::review_statistics(const ApiRequest& request, const Principal& principal) {
  if (parts_.reviews == nullptr) {
    co_return error_response(503, "state_unavailable", "review records are not kept by this broker");
  }

  const auto params = query_params(request.target);
  if (!params) co_return error_response(400, "invalid_field", "malformed query string", "query");
  for (const auto& [key, value] : *params) {
    if (key != "from" && key != "to" && key != "jurisdiction" && key != "format") {
      co_return error_response(400, "invalid_field", "unknown parameter: use from, to, jurisdiction, format", key);
    }
  }
  auto param = [&](const char* key) {
    auto it = params->find(key);
    return it == params->end() ? std::string() : it->second;
  };
  PeriodSpec spec;
  spec.utc_offset_minutes = parts_.config->anomaly_rules.utc_offset_minutes;
  for (const char* key : {"from", "to"}) {
    const std::string text = param(key);
    if (text.empty()) co_return error_response(400, "invalid_field", "required: a date YYYY-MM-DD", key);
    const auto date = Date::parse(text);
    if (!date) co_return error_response(400, "invalid_field", "must be a date YYYY-MM-DD", key);
    (std::string_view(key) == "from" ? spec.from : spec.to) = *date;
  }
  if (spec.to < spec.from) co_return error_response(400, "invalid_field", "must not be before from", "to");
  if (spec.to.days_since_epoch() - spec.from.days_since_epoch() >= kMaxPeriodDays) {
    co_return error_response(400, "invalid_field", "a period is at most 366 days", "to");
  }
  std::string format = param("format");
  if (format.empty()) format = "json";
  if (format != "json" && format != "csv" && format != "svg") {
    co_return error_response(400, "invalid_field", "format must be json, csv or svg", "format");
  }
  spec.jurisdiction = param("jurisdiction");
  if (!spec.jurisdiction.empty()) {
    if (!is_division_prefix(spec.jurisdiction)) {
      co_return error_response(400, "invalid_field", "must be a division code prefix of 2, 4 or 6 digits",
                               "jurisdiction");
    }
    if (!principal.covers(spec.jurisdiction)) {
      co_return co_await refuse(request, &principal, 403, "jurisdiction_not_allowed",
                                "outside the caller's jurisdictions", "jurisdiction");
    }
  }

  audit::AuditRecord note = base_record(request, &principal);
  note.action = "statistics.read";
  note.status = "ok";
  note.detail = "from=" + spec.from.to_string() + " to=" + spec.to.to_string() +
                (spec.jurisdiction.empty() ? "" : " jurisdiction=" + spec.jurisdiction) + " format=" + format;
  std::vector<audit::AuditRecord> rows;
  rows.push_back(std::move(note));
  if (!co_await parts_.audit->append(std::move(rows))) {
    co_return error_response(503, "audit_unavailable", "the audit log cannot be written now");
  }

  // A pair, not a structured binding: clang 14 refuses to capture bindings in the lambda below.
  const std::pair<std::int64_t, std::int64_t> period = period_interval(spec);
  const std::string owner = principal.role == Role::kCaseSystem ? principal.name : std::string();
  auto stats = co_await run_blocking(*parts_.blocking, [&]() -> Result<json> {
    auto records = parts_.reviews->issued_between(period.first, period.second, owner);
    if (!records) return records.error();
    std::erase_if(*records, [&](const ReviewRecord& r) {
      return !principal.covers(r.jurisdiction) ||
             (!spec.jurisdiction.empty() && !r.jurisdiction.starts_with(spec.jurisdiction));
    });
    return period_statistics_json(spec, *records);
  });
  if (!stats) co_return error_response(503, "state_unavailable", "review records cannot be read now");

  ApiResponse answer;
  if (format == "csv") {
    answer.content_type = "text/csv; charset=utf-8";
    answer.raw_body = statistics_csv(*stats);
  } else if (format == "svg") {
    answer.content_type = "image/svg+xml";
    answer.raw_body = statistics_svg(*stats, spec.from.to_string() + " to " + spec.to.to_string());
  } else {
    answer.body = std::move(*stats);
  }
  co_return answer;
}

}  // namespace hfv::broker
