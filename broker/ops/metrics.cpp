#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include "broker/ops/metrics.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace hfv::broker {

namespace {

using Seconds = std::chrono::duration<double>;

// Methods outside the standard set collapse into "other".
std::string_view method_label(std::string_view method) {
  for (std::string_view known : {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "other";
}

void append_number(std::string& out, double value) {
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  std::array<char, 64> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::general);
  out.append(buf.data(), ec == std::errc() ? end : buf.data());
}

void append_number(std::string& out, std::uint64_t value) { out += std::to_string(value); }

// Label values are from fixed sets, but escape anyway (format rules).
std::string escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string label(std::string_view key, std::string_view value) {
  return std::string(key) + "=\"" + escape(value) + "\"";
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

template <class Number>
void sample(std::string& out, std::string_view name, std::string_view labels, Number value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  append_number(out, value);
  out += '\n';
}

constexpr auto kRequestBuckets =
    std::to_array<double>({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
constexpr auto kVerificationBuckets =
    std::to_array<double>({0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60});
constexpr auto kAuditBuckets =
    std::to_array<double>({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1});
constexpr auto kAgencyBuckets =
    std::to_array<double>({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});

}  // namespace

Histogram::Histogram(std::span<const double> upper_bounds)
    : bounds_(upper_bounds.begin(), upper_bounds.end()), counts_(bounds_.size() + 1, 0) {}

Histogram::Histogram(std::span<const double> upper_bounds, std::span<const std::uint64_t> counts, double sum)
    : Histogram(upper_bounds) {
  for (std::size_t i = 0; i < counts_.size() && i < counts.size(); ++i) {
    counts_[i] = counts[i];
    count_ += counts[i];
  }
  sum_ = sum;
}

void Histogram::observe(double seconds) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), seconds);
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  sum_ += seconds;
  ++count_;
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  const std::string bucket = std::string(name) + "_bucket";
  const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    std::string le;
    append_number(le, i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity());
    sample(out, bucket, prefix + label("le", le), cumulative);
  }
  sample(out, std::string(name) + "_sum", labels, sum_);
  sample(out, std::string(name) + "_count", labels, count_);
}

std::optional<ProcessStats> read_process_stats() {
  std::ifstream stat_file("/proc/self/stat");
  std::string stat;
  if (!stat_file || !std::getline(stat_file, stat)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces: the
  // fields are counted after the last ')', starting with field 3 (state).
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  if (f.size() < 22) return std::nullopt;
  const auto number = [](const std::string& text) {
    std::uint64_t n = 0;
    std::from_chars(text.data(), text.data() + text.size(), n);
    return n;
  };
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (ticks_per_second <= 0 || page_size <= 0) return std::nullopt;
  const auto ticks = static_cast<double>(ticks_per_second);
  ProcessStats p;
  p.cpu_seconds = static_cast<double>(number(f[11]) + number(f[12])) / ticks;  // utime, stime
  p.virtual_bytes = number(f[20]);                                                // vsize
  p.resident_bytes = number(f[21]) * static_cast<std::uint64_t>(page_size);      // rss, in pages
  std::ifstream proc_stat("/proc/stat");
  for (std::string line; std::getline(proc_stat, line);) {
    if (line.starts_with("btime ")) {
      p.start_time_seconds = static_cast<double>(number(line.substr(6))) +
                             static_cast<double>(number(f[19])) / ticks;  // starttime, ticks after boot
      break;
    }
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++p.open_fds;
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) p.max_fds = static_cast<std::uint64_t>(limit.rlim_cur);
  return p;
}

std::vector<AgencySnapshot> agency_snapshot(const adapters::AdapterSet& set) { return adapters::agency_stats(set); }

Metrics::Metrics()
    : started_(std::chrono::system_clock::now()),
      verification_seconds_(kVerificationBuckets),
      audit_append_seconds_(kAuditBuckets) {}

void Metrics::observe_request(std::string_view method, std::string_view endpoint_pattern, unsigned status,
                              std::chrono::steady_clock::duration elapsed) {
  const std::string endpoint(endpoint_pattern);
  std::lock_guard lock(mutex_);
  ++requests_[{endpoint, std::string(method_label(method)), status}];  // statuses come from this server
  request_seconds_.try_emplace(endpoint, kRequestBuckets).first->second.observe(Seconds(elapsed).count());
}

void Metrics::observe_verification(std::chrono::steady_clock::duration elapsed) {
  std::lock_guard lock(mutex_);
  verification_seconds_.observe(Seconds(elapsed).count());
}

void Metrics::observe_audit_append(std::chrono::steady_clock::duration elapsed, bool ok) {
  std::lock_guard lock(mutex_);
  audit_append_seconds_.observe(Seconds(elapsed).count());
  if (!ok) ++audit_append_failures_;
  last_audit_append_ok_ = ok;
}

std::optional<bool> Metrics::last_audit_append_ok() const {
  std::lock_guard lock(mutex_);
  return last_audit_append_ok_;
}

void Metrics::observe_agency_query(std::string_view agency, std::string_view status,
                                   std::chrono::steady_clock::duration elapsed) {
  std::lock_guard lock(mutex_);
  ++agency_queries_[{std::string(agency), std::string(status)}];
  agency_seconds_.try_emplace(std::string(agency), kAgencyBuckets).first->second.observe(Seconds(elapsed).count());
}

void Metrics::observe_policy_reload(bool ok) {
  std::lock_guard lock(mutex_);
  ++policy_reloads_[ok ? 1 : 0];
}

void Metrics::set_tls_material(std::string_view what, std::int64_t not_after_unix) {
  std::lock_guard lock(mutex_);
  tls_not_after_.insert_or_assign(std::string(what), not_after_unix);
}

void Metrics::clear_tls_material(std::string_view what) {
  std::lock_guard lock(mutex_);
  if (auto it = tls_not_after_.find(what); it != tls_not_after_.end()) tls_not_after_.erase(it);
}

void Metrics::observe_config_reload(bool ok) {
  std::lock_guard lock(mutex_);
  ++config_reloads_[ok ? 1 : 0];
}

void Metrics::set_connections_open(std::size_t open) {
  std::lock_guard lock(mutex_);
  connections_open_ = open;
}

void Metrics::observe_connection_refused(ConnectionRefusal reason) {
  std::lock_guard lock(mutex_);
  ++connections_refused_[reason == ConnectionRefusal::kGlobalLimit ? 0 : 1];
}

void Metrics::observe_unidentified_refusal(bool throttled) {
  std::lock_guard lock(mutex_);
  ++unidentified_refusals_[throttled ? 1 : 0];
}

void Metrics::observe_witness_cosign(std::string_view witness, std::string_view result) {
  std::lock_guard lock(mutex_);
  ++witness_cosigns_[{std::string(witness), std::string(result)}];
}

void Metrics::set_agency_plaintext(const std::string& agency, bool plaintext) {
  std::lock_guard lock(mutex_);
  agency_plaintext_[agency] = plaintext;
}

std::vector<StaleParameterState> stale_policy_parameters(const policies::PolicySet& set,
                                                         const Date& today) {
  std::vector<StaleParameterState> out;
  for (const auto& [code, policy] : set.all()) {
    for (const auto& s : policy.stale_between(today, today.add_days(kStaleWarningDays))) {
      out.push_back({code, s.value.name, s.stale_from, !(today < s.stale_from)});
    }
  }
  return out;
}

std::string Metrics::render(const LiveState& live) const {
  std::string out;
  out.reserve(std::size_t{16} * 1024);
  std::lock_guard lock(mutex_);

  header(out, "hfv_build_info", "gauge", "Version of the running brokerd (always 1).");
#ifdef HFV_VERSION
  sample(out, "hfv_build_info", label("version", HFV_VERSION), std::uint64_t{1});
#else
  sample(out, "hfv_build_info", label("version", "unknown"), std::uint64_t{1});
#endif
  header(out, "hfv_start_time_seconds", "gauge", "When the daemon started, in seconds since the Unix epoch.");
  sample(out, "hfv_start_time_seconds", "",
         std::chrono::duration<double>(started_.time_since_epoch()).count());

  if (const auto process = read_process_stats()) {
    header(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    sample(out, "process_cpu_seconds_total", "", process->cpu_seconds);
    header(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    sample(out, "process_resident_memory_bytes", "", process->resident_bytes);
    header(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    sample(out, "process_virtual_memory_bytes", "", process->virtual_bytes);
    header(out, "process_open_fds", "gauge", "Number of open file descriptors.");
    sample(out, "process_open_fds", "", process->open_fds);
    header(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    sample(out, "process_max_fds", "", process->max_fds);
    if (process->start_time_seconds > 0) {
      header(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
      sample(out, "process_start_time_seconds", "", process->start_time_seconds);
    }
  }

  header(out, "hfv_http_requests_total", "counter", "Answered HTTP requests by route template, method and status.");
  for (const auto& [key, count] : requests_) {
    const auto& [endpoint, method, status] = key;
    sample(out, "hfv_http_requests_total",
           label("endpoint", endpoint) + "," + label("method", method) + "," + label("status", std::to_string(status)),
           count);
  }
  header(out, "hfv_http_request_duration_seconds", "histogram", "Time to answer an HTTP request, by route template.");
  for (const auto& [endpoint, histogram] : request_seconds_) {
    histogram.render(out, "hfv_http_request_duration_seconds", label("endpoint", endpoint));
  }
  header(out, "hfv_requests_in_flight", "gauge",
         "Requests being handled, asynchronous verifications still running included.");
  sample(out, "hfv_requests_in_flight", "", static_cast<std::uint64_t>(live.requests_in_flight));
  header(out, "hfv_connections_open", "gauge", "Client connections open, those that have sent nothing yet included.");
  sample(out, "hfv_connections_open", "", static_cast<std::uint64_t>(connections_open_));
  header(out, "hfv_connections_refused_total", "counter",
         "Connections closed as soon as accepted, before any TLS work, by the limit they were over.");
  sample(out, "hfv_connections_refused_total", label("reason", "global_limit"), connections_refused_[0]);
  sample(out, "hfv_connections_refused_total", label("reason", "per_address_limit"), connections_refused_[1]);
  header(out, "hfv_unidentified_refusals_total", "counter",
         "Requests without a registered client certificate: refused (tallied into one audit record a minute), "
         "or over their address's rate and answered 429 with nothing written.");
  sample(out, "hfv_unidentified_refusals_total", label("result", "answered"), unidentified_refusals_[0]);
  sample(out, "hfv_unidentified_refusals_total", label("result", "throttled"), unidentified_refusals_[1]);
  if (!witness_cosigns_.empty()) {
    header(out, "hfv_witness_cosign_total", "counter",
           "Signed heads sent to audit witnesses, by witness and result (cosigned, refused: the"
           " witness saw a bigger tree or another key, error: unreachable).");
    for (const auto& [key, count] : witness_cosigns_) {
      sample(out, "hfv_witness_cosign_total", label("witness", key.first) + "," + label("result", key.second),
             count);
    }
  }

  if (live.batches) {
    header(out, "hfv_batches_running", "gauge", "Periodic-review batches not yet finished.");
    sample(out, "hfv_batches_running", "", static_cast<std::uint64_t>(live.batches->running));
    header(out, "hfv_batch_households", "gauge", "Households in the running batches, by state.");
    sample(out, "hfv_batch_households", label("state", "total"),
           static_cast<std::uint64_t>(live.batches->households_total));
    sample(out, "hfv_batch_households", label("state", "done"),
           static_cast<std::uint64_t>(live.batches->households_done));
    header(out, "hfv_batch_members_in_flight", "gauge", "Batch work in flight, counted in household members.");
    sample(out, "hfv_batch_members_in_flight", "", static_cast<std::uint64_t>(live.batches->members_in_flight));
  }

  if (live.database) {
    const auto& db = *live.database;
    header(out, "hfv_db_statement_duration_seconds", "histogram",
           "Time of each PostgreSQL call (one statement, or a schema's statements), as the broker waits for it.");
    Histogram(storage::PgStatistics::kBounds, db.counts, db.seconds).render(out, "hfv_db_statement_duration_seconds", "");
    header(out, "hfv_db_reconnects_total", "counter",
           "PostgreSQL connections re-established after they were lost (a restart or failover of the database).");
    sample(out, "hfv_db_reconnects_total", "", db.reconnects);
    header(out, "hfv_db_errors_total", "counter",
           "Failed PostgreSQL calls by kind: unavailable (503 material), conflict, retry (serialization), error.");
    sample(out, "hfv_db_errors_total", label("kind", "unavailable"), db.unavailable);
    sample(out, "hfv_db_errors_total", label("kind", "conflict"), db.conflict);
    sample(out, "hfv_db_errors_total", label("kind", "retry"), db.retry);
    sample(out, "hfv_db_errors_total", label("kind", "error"), db.error);
  }

  if (!live.ready_checks.empty()) {
    const bool ready = std::all_of(live.ready_checks.begin(), live.ready_checks.end(),
                                   [](const auto& c) { return c.second; });
    header(out, "hfv_ready", "gauge", "1 when GET /readyz would answer 200 (every check ok).");
    sample(out, "hfv_ready", "", std::uint64_t{ready ? 1U : 0U});
    header(out, "hfv_ready_check", "gauge", "1 when the readiness check passes (audit, state, policies, agencies).");
    for (const auto& [check, ok] : live.ready_checks) {
      sample(out, "hfv_ready_check", label("check", check), std::uint64_t{ok ? 1U : 0U});
    }
  }

  // Sizes and free space, read now: a database file with its write-ahead
  // log (the -wal file is where SQLite's recent writes are until a
  // checkpoint), and each data folder's file system.
  header(out, "hfv_database_size_bytes", "gauge", "Size of a SQLCipher database file with its -wal file.");
  for (const auto& [db, path] : live.database_files) {
    std::error_code ec;
    const auto main_size = std::filesystem::file_size(path, ec);
    if (ec) continue;
    std::uint64_t total = main_size;
    std::filesystem::path wal = path;
    wal += "-wal";
    const auto wal_size = std::filesystem::file_size(wal, ec);
    if (!ec) total += wal_size;
    sample(out, "hfv_database_size_bytes", label("db", db), total);
  }
  std::vector<std::pair<std::string, struct statvfs>> filesystems;
  for (const auto& folder : live.data_folders) {
    struct statvfs fs {};
    if (::statvfs(folder.c_str(), &fs) == 0) filesystems.emplace_back(folder.string(), fs);
  }
  header(out, "hfv_filesystem_free_bytes", "gauge",
         "Bytes available to the broker on the file system of a folder it writes in.");
  for (const auto& [path, fs] : filesystems) {
    sample(out, "hfv_filesystem_free_bytes", label("path", path),
           static_cast<std::uint64_t>(fs.f_bavail) * static_cast<std::uint64_t>(fs.f_frsize));
  }
  header(out, "hfv_filesystem_size_bytes", "gauge", "Size of the file system of a folder the broker writes in.");
  for (const auto& [path, fs] : filesystems) {
    sample(out, "hfv_filesystem_size_bytes", label("path", path),
           static_cast<std::uint64_t>(fs.f_blocks) * static_cast<std::uint64_t>(fs.f_frsize));
  }

  header(out, "hfv_tls_not_after_timestamp_seconds", "gauge",
         "When TLS material in use expires (certificates) or is due to be replaced (a CRL's nextUpdate).");
  for (const auto& [what, seconds] : tls_not_after_) {
    sample(out, "hfv_tls_not_after_timestamp_seconds", label("what", what), static_cast<double>(seconds));
  }
  header(out, "hfv_config_reloads_total", "counter", "Configuration reloads (SIGHUP) by result.");
  sample(out, "hfv_config_reloads_total", label("result", "ok"), config_reloads_[1]);
  sample(out, "hfv_config_reloads_total", label("result", "refused"), config_reloads_[0]);

  header(out, "hfv_verification_duration_seconds", "histogram",
         "Verification time from acceptance to the signed report (synchronous and asynchronous).");
  verification_seconds_.render(out, "hfv_verification_duration_seconds", "");

  header(out, "hfv_audit_append_duration_seconds", "histogram",
         "Audit append time from submission until the records are durable (group commit, fsync).");
  audit_append_seconds_.render(out, "hfv_audit_append_duration_seconds", "");
  header(out, "hfv_audit_append_failures_total", "counter", "Audit appends that could not be written.");
  sample(out, "hfv_audit_append_failures_total", "", audit_append_failures_);
  header(out, "hfv_audit_last_sequence", "gauge", "Sequence number of the latest durable audit record.");
  sample(out, "hfv_audit_last_sequence", "", static_cast<double>(live.audit_last_seq));

  header(out, "hfv_policies_loaded", "gauge", "Policies in the active set.");
  sample(out, "hfv_policies_loaded", "", static_cast<std::uint64_t>(live.policies_loaded));
  header(out, "hfv_policy_reloads_total", "counter", "Policy reloads (SIGHUP) by result.");
  sample(out, "hfv_policy_reloads_total", label("result", "ok"), policy_reloads_[1]);
  sample(out, "hfv_policy_reloads_total", label("result", "refused"), policy_reloads_[0]);
  // A policy is stale when one of its parameters is stale today, stale_soon
  // when none is but one will be within the warning period.
  std::map<std::string, bool> policies_stale;  // jurisdiction -> stale now
  for (const auto& p : live.stale_parameters) policies_stale[p.jurisdiction] |= p.stale_now;
  const auto stale_now = static_cast<std::uint64_t>(
      std::count_if(policies_stale.begin(), policies_stale.end(), [](const auto& e) { return e.second; }));
  header(out, "hfv_policies_stale", "gauge",
         "Policies with a parameter past its validity horizon today (stale) or within 60 days (stale_soon).");
  sample(out, "hfv_policies_stale", label("state", "stale"), stale_now);
  sample(out, "hfv_policies_stale", label("state", "stale_soon"), policies_stale.size() - stale_now);
  header(out, "hfv_policy_parameter_stale_from_timestamp_seconds", "gauge",
         "First day (00:00 UTC) a policy parameter is stale, for those stale today or within 60 days.");
  for (const auto& p : live.stale_parameters) {
    sample(out, "hfv_policy_parameter_stale_from_timestamp_seconds",
           label("jurisdiction", p.jurisdiction) + "," + label("parameter", p.parameter) + "," +
               label("state", p.stale_now ? "stale" : "stale_soon"),
           static_cast<double>(p.stale_from.days_since_epoch()) * 86400.0);
  }

  header(out, "hfv_agency_queries_total", "counter", "Agency queries by agency and result (after retries).");
  for (const auto& [key, count] : agency_queries_) {
    sample(out, "hfv_agency_queries_total", label("agency", key.first) + "," + label("result", key.second), count);
  }
  header(out, "hfv_agency_query_duration_seconds", "histogram", "Agency query time by agency (retries included).");
  for (const auto& [agency, histogram] : agency_seconds_) {
    histogram.render(out, "hfv_agency_query_duration_seconds", label("agency", agency));
  }
  header(out, "hfv_agency_breaker_state", "gauge", "Circuit breaker state by agency: 1 for the current state.");
  for (const auto& a : live.agencies) {
    if (a.breaker.empty()) continue;
    for (std::string_view state : {"closed", "open", "half_open"}) {
      sample(out, "hfv_agency_breaker_state", label("agency", a.agency) + "," + label("state", state),
             std::uint64_t{a.breaker == state ? 1U : 0U});
    }
  }
  header(out, "hfv_agency_plaintext", "gauge", "1 when the agency is reached over plain HTTP (no TLS).");
  for (const auto& [agency, plaintext] : agency_plaintext_) {
    sample(out, "hfv_agency_plaintext", label("agency", agency), std::uint64_t{plaintext ? 1U : 0U});
  }
  struct Counter {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t AgencySnapshot::*field;
  };
  static constexpr Counter kAgencyCounters[] = {
      {"hfv_agency_breaker_opens_total", "counter", "Times the agency's circuit breaker opened.",
       &AgencySnapshot::breaker_opens},
      {"hfv_agency_short_circuited_total", "counter", "Queries answered \"circuit open\" without a request.",
       &AgencySnapshot::short_circuited},
      {"hfv_agency_requests_in_flight", "gauge", "HTTP requests to the agency in progress.",
       &AgencySnapshot::in_flight},
      {"hfv_agency_http_requests_total", "counter", "HTTP requests sent to the agency (pages and retries).",
       &AgencySnapshot::requests},
      {"hfv_agency_http_request_errors_total", "counter",
       "HTTP requests to the agency that got no answer, 429 or a 5xx status.", &AgencySnapshot::request_errors},
      {"hfv_agency_http_retries_total", "counter", "HTTP requests to the agency that were retries.",
       &AgencySnapshot::retries},
      {"hfv_agency_http_hedges_total", "counter",
       "Hedged second requests sent after the agency's observed p95 without an answer.", &AgencySnapshot::hedges},
      {"hfv_agency_http_hedges_won_total", "counter", "Hedged requests that answered before the one they hedged.",
       &AgencySnapshot::hedges_won},
  };
  for (const auto& c : kAgencyCounters) {
    header(out, c.name, c.type, c.help);
    for (const auto& a : live.agencies) sample(out, c.name, label("agency", a.agency), a.*(c.field));
  }
  return out;
}

void observe_fan_out(Metrics* metrics, const std::vector<SourceResult>& results) {
  if (metrics == nullptr) return;
  for (const auto& r : results) {
    metrics->observe_agency_query(source_name(r.source), status_name(r.status), r.latency);
  }
}

std::map<std::string, double> parse_metrics_text(std::string_view text) {
  std::map<std::string, double> out;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.empty() || line.front() == '#') continue;
    // The value follows the last space outside the label braces.
    const auto close = line.rfind('}');
    const auto space = line.find(' ', close == std::string_view::npos ? 0 : close);
    if (space == std::string_view::npos) continue;
    std::string_view value = line.substr(space + 1);
    value = value.substr(0, value.find(' '));  // drop an optional timestamp
    double number = 0;
    if (value == "+Inf") {
      number = std::numeric_limits<double>::infinity();
    } else if (value == "-Inf") {
      number = -std::numeric_limits<double>::infinity();
    } else if (value == "NaN") {
      number = std::numeric_limits<double>::quiet_NaN();
    } else {
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
      if (ec != std::errc() || end != value.data() + value.size()) continue;
    }
    out[std::string(line.substr(0, space))] = number;
  }
  return out;
}

}  // namespace hfv::broker
