// Service endpoints of the supervisor console (docs/console.md): the web page
// under /console/ (files embedded from broker/supervision/console/) and the anomaly flags
// (GET /v1/audit/anomalies). Both are for supervisors only: the browser
// presents the supervisor's client certificate, like any other API client.
//
// The page's files hold no data; everything it shows comes from the audit
// API, whose reads are audited. Computing anomalies reads the log and is
// audited too (`audit.anomalies`).
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "broker/supervision/anomalies.hpp"
#include "broker/supervision/console_assets.hpp"
#include "broker/api/query_string.hpp"
#include "broker/api/service.hpp"
#include "broker/api/service_internal.hpp"
#include "common/time.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using detail::error_response;
using nlohmann::json;

namespace {

constexpr std::int64_t kPage = 5000;
constexpr std::int64_t kMaxScanned = 500000;
constexpr std::int64_t kDefaultWindowDays = 7;
constexpr std::int64_t kMaxWindowDays = 366;

// The page may load only its own files and talk only to this origin.
const std::vector<std::pair<std::string, std::string>>& console_headers() {
  static const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src "
       "'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"}};
  return headers;
}


// Same text form as the log's timestamps, so that text comparison is time order.
std::string log_ts(std::int64_t seconds) {
  std::string s = format_utc_seconds(seconds);
  s.insert(s.size() - 1, ".000");
  return s;
}

json rules_json(const AnomalyRules& r) {
  return {{"utc_offset_minutes", r.utc_offset_minutes},
          {"work_start_minute", r.work_start_minute},
          {"work_end_minute", r.work_end_minute},
          {"working_days", r.work_days},
          {"holidays", r.holidays},
          {"repeat_cases", r.repeat_cases},
          {"volume_baseline_days", r.volume_baseline_days},
          {"volume_factor", r.volume_factor},
          {"volume_min", r.volume_min},
          {"refusals_min", r.refusals_min},
          {"relations_configured", !r.relations_file.empty()}};
}

}  // namespace

ApiResponse Service::console_certificate_page(const ApiRequest& request, ApiResponse refused) {
  const std::string path = detail::path_of(request.target);
  if (path != "/console" && !path.starts_with("/console/")) return refused;
  if (request.accept.find("text/html") == std::string::npos) return refused;
  refused.content_type = "text/html; charset=utf-8";
  refused.raw_body =
      "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
      "<title>需要客户端证书 · Client certificate required</title></head><body>\n"
      "<h1>需要核对中心签发的客户端证书</h1>\n"
      "<p>监督控制台只对持有本核对中心签发的证书的监督人员开放。浏览器没有出示有效的证书，"
      "或该证书未在本系统登记。请将中心发给您的证书导入浏览器后重新打开本页；如没有证书，"
      "请联系中心的系统管理员。本次访问已记入审计日志。</p>\n"
      "<h1 lang=\"en\">A client certificate issued by the centre is required</h1>\n"
      "<p lang=\"en\">The supervisor console is open only to supervisors holding a certificate issued "
      "by this verification centre. Your browser presented none, or one not registered here. Import "
      "the certificate the centre gave you into your browser and reload this page; if you have none, "
      "ask the centre's administrator. This attempt has been recorded in the audit log.</p>\n"
      "<p><code>" + refused.body.value("error", std::string()) + "</code></p>\n</body></html>\n";
  refused.headers.insert(refused.headers.end(), console_headers().begin(), console_headers().end());
  return refused;
}

net::awaitable<ApiResponse> Service::console(const std::string& path) {
  if (path == "/console") {
    ApiResponse moved = error_response(308, "moved", "the console is at /console/");
    moved.headers.emplace_back("Location", "/console/");
    co_return moved;
  }
  std::string name = path.substr(std::string("/console/").size());
  if (name.empty()) name = "index.html";
  const ConsoleAsset* asset = find_console_asset(name);
  if (asset == nullptr) co_return error_response(404, "not_found", "no such console file");
  ApiResponse answer;
  answer.content_type = std::string(asset->content_type);
  answer.raw_body = std::string(asset->data);
  answer.headers = console_headers();
  co_return answer;
}

net::awaitable<ApiResponse> Service::audit_anomalies(const ApiRequest& request,
                                                     const Principal& principal) {
  const AnomalyRules& rules = parts_.config->anomaly_rules;

  if (!query_params(request.target)) {
    co_return error_response(400, "invalid_field", "malformed query string", "query");
  }
  // The window: [from, to), default the last seven days.
  const std::int64_t now = unix_seconds_now();
  std::int64_t to = now + 1;
  std::int64_t from = 0;
  if (const std::string t = query_value(request.target, "to"); !t.empty()) {
    auto parsed = parse_utc_seconds(t);
    if (!parsed)
      co_return error_response(400, "invalid_field", "must be an RFC 3339 UTC time or a date",
                               "to");
    to = *parsed;
  }
  if (const std::string f = query_value(request.target, "from"); !f.empty()) {
    auto parsed = parse_utc_seconds(f);
    if (!parsed)
      co_return error_response(400, "invalid_field", "must be an RFC 3339 UTC time or a date",
                               "from");
    from = *parsed;
  } else {
    from = to - kDefaultWindowDays * 86400;
  }
  if (from >= to || to - from > kMaxWindowDays * 86400) {
    co_return error_response(400, "invalid_field", "from must be before to, at most 366 days apart",
                             "from");
  }
  const std::string from_ts = log_ts(from);
  const std::string to_ts = log_ts(to);

  audit::AuditRecord note = base_record(request, &principal);
  note.action = "audit.anomalies";
  note.status = "ok";
  note.detail = "from=" + from_ts + " to=" + to_ts;
  std::vector<audit::AuditRecord> rows;
  rows.push_back(std::move(note));
  if (!co_await parts_.audit->append(std::move(rows))) {
    co_return error_response(503, "audit_unavailable", "the audit log cannot be written now");
  }

  // Everything the detector needs (AnomalyInput's contract), in the
  // supervisor's jurisdictions; read and computed off the I/O thread.
  std::vector<RelativeLink> links;
  std::string relations_problem;
  if (!rules.relations_file.empty()) {
    auto loaded = co_await run_blocking(*parts_.blocking, [&] {
      return load_relative_links(rules.relations_file,
                                 [this](const std::string& id) { return audit_pseudonym(id); });
    });
    if (loaded) {
      links = std::move(*loaded);
    } else {
      relations_problem = loaded.error().message;
    }
  }
  audit::AuditLog* log = parts_.audit;
  struct Scan {
    Result<AnomalyReport> report = make_error("io_error", "not run");
    std::int64_t scanned = 0;
    bool truncated = false;
  };
  Scan scan = co_await run_blocking(*parts_.blocking, [&]() -> Scan {
    Scan out;
    AnomalyInput input;
    input.from_ts = from_ts;
    input.to_ts = to_ts;
    input.links = links;
    auto fetch = [&](audit::AuditQuery q) -> Status {
      q.jurisdiction_prefixes = principal.jurisdictions;
      q.unscoped_too = principal.whole_centre;
      q.limit = kPage;
      for (;;) {
        auto page = log->query(q);
        if (!page) return page.error();
        for (const auto& r : *page) {
          input.records.push_back(anomaly_record(r.seq, r.ts, json::parse(r.body, nullptr, false)));
        }
        if (static_cast<std::int64_t>(page->size()) < kPage) return {};
        if (static_cast<std::int64_t>(input.records.size()) >= kMaxScanned) {
          out.truncated = true;
          return {};
        }
        q.after_seq = page->back().seq;
      }
    };
    audit::AuditQuery reads;
    reads.actions = {"verification.request", "verification.subject", "agency.answers", "agency.query",
                     "request.refused"};
    reads.from_ts = log_ts(from - std::int64_t{rules.volume_baseline_days} * 86400);
    reads.to_ts = to_ts;
    audit::AuditQuery consents;
    consents.actions = {"authorization.register", "authorization.revoke"};
    consents.to_ts = to_ts;
    for (const auto& q : {reads, consents}) {
      if (auto s = fetch(q); !s) {
        out.report = s.error();
        return out;
      }
    }
    std::sort(input.records.begin(), input.records.end(),
              [](const AnomalyRecord& a, const AnomalyRecord& b) { return a.seq < b.seq; });
    out.scanned = static_cast<std::int64_t>(input.records.size());
    out.report = detect_anomalies(input, rules);
    return out;
  });
  if (!scan.report)
    co_return error_response(503, "audit_unavailable", "the audit log cannot be read now");
  json flags = json::array();
  for (const auto& f : scan.report->flags) flags.push_back(anomaly_flag_json(f));
  json answer = {{"from", from_ts},
                 {"to", to_ts},
                 {"flags", std::move(flags)},
                 {"stats", scan.report->stats},
                 {"rules", rules_json(rules)},
                 {"records_scanned", scan.scanned},
                 {"truncated", scan.truncated}};
  if (!relations_problem.empty()) answer["relations_problem"] = relations_problem;
  co_return ApiResponse{200, std::move(answer), {}};
}

}  // namespace hfv::broker
