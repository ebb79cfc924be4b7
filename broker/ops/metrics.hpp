// Metrics: the daemon's counters and histograms, rendered for GET /metrics
// in the Prometheus text exposition format 0.0.4 (docs/operations.md lists
// every family). Nothing here carries personal data: requests are counted by
// route template ("/v1/verifications/{id}"), never by raw path, and label
// values come from fixed sets, so an untrusted client cannot create series.
//
// Ownership: run_daemon owns one Metrics and hands a pointer to the Service
// (ServiceParts::metrics); the Server reaches it through the Service.
// Thread-safety: every member may be called from any thread (the audit
// writer thread reports appends; the I/O thread everything else).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "adapters/registry.hpp"
#include "common/date.hpp"
#include "common/records.hpp"
#include "policies/policy.hpp"
#include "storage/postgresql_db.hpp"

namespace hfv::broker {

// A fixed-bucket histogram (seconds). Not thread-safe by itself: Metrics
// guards it.
class Histogram {
 public:
  explicit Histogram(std::span<const double> upper_bounds);
  // One counted elsewhere: per-bucket (not cumulative) counts, the last
  // for +Inf, and the sum.
  Histogram(std::span<const double> upper_bounds, std::span<const std::uint64_t> counts, double sum);
  void observe(double seconds);
  // Appends "<name>_bucket{...le=..}", "_sum" and "_count" lines; `labels`
  // is empty or "key=\"value\",..." without braces.
  void render(std::string& out, std::string_view name, std::string_view labels) const;
  std::uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// What one agency looks like right now: adapters/registry.hpp's read-only
// snapshot (breaker state and opens, in-flight and sent HTTP requests,
// request errors, retries, short-circuited queries).
using AgencySnapshot = adapters::AgencyStats;

// The single place where per-agency state is read from the adapters (call
// on the adapters' I/O thread).
std::vector<AgencySnapshot> agency_snapshot(const adapters::AdapterSet& adapters);

// Periodic-review batches (broker/reviews/batch.hpp) running in this process.
struct BatchProgress {
  std::size_t running = 0;            // batches not yet finished
  std::size_t households_total = 0;   // in those batches
  std::size_t households_done = 0;    // of which finished (any outcome)
  std::size_t members_in_flight = 0;  // batch work in flight, counted in members
};

// A policy parameter past its validity horizon today (stale_now), or going
// past it within kStaleWarningDays (docs/policy-files.md, validity
// horizons): the first stale day.
struct StaleParameterState {
  std::string jurisdiction;
  std::string parameter;
  Date stale_from;
  bool stale_now = false;
};
inline constexpr int kStaleWarningDays = 60;

// From the active policy set, as of `today` (the daemon's UTC date): what
// is stale today or becomes stale in the next kStaleWarningDays days.
std::vector<StaleParameterState> stale_policy_parameters(const policies::PolicySet& set,
                                                         const Date& today);

// The process as /proc/self shows it (Prometheus's process_* families, the
// names client libraries use): read at every scrape. Linux only; fields
// that cannot be read are absent from the exposition.
struct ProcessStats {
  double cpu_seconds = 0;            // user + system time
  std::uint64_t resident_bytes = 0;  // resident set
  std::uint64_t virtual_bytes = 0;   // virtual memory size
  std::uint64_t open_fds = 0;        // entries in /proc/self/fd
  std::uint64_t max_fds = 0;         // RLIMIT_NOFILE's soft limit
  double start_time_seconds = 0;     // since the Unix epoch (boot time + start tick)
};
std::optional<ProcessStats> read_process_stats();

// Live state read by the Service when it renders /metrics.
struct LiveState {
  std::size_t requests_in_flight = 0;  // inside the Service, async verifications included
  std::int64_t audit_last_seq = 0;
  std::size_t policies_loaded = 0;
  std::vector<StaleParameterState> stale_parameters;
  std::vector<AgencySnapshot> agencies;
  // Set by Service::metrics_response from BatchManager::progress_snapshot();
  // the hfv_batch_* families are rendered only when it is set.
  std::optional<BatchProgress> batches;
  // With the postgresql backend: the process's database calls
  // (storage/postgresql_db.hpp); the hfv_db_* families only then.
  std::optional<storage::PgStatistics> database;
  // With the sqlcipher backend: the database files ("audit", "state",
  // "review"), each rendered as its size with its -wal file; the folders
  // the broker writes in, each rendered with its file system's free and
  // total bytes (statvfs). Both read at every scrape; files or folders
  // that cannot be read are left out.
  std::vector<std::pair<std::string, std::filesystem::path>> database_files;
  std::vector<std::filesystem::path> data_folders;
  // GET /readyz's checks (broker/api/readiness.hpp) at this scrape, name ->
  // ok: hfv_ready and hfv_ready_check{check}; not rendered when empty.
  std::map<std::string, bool> ready_checks;
};

// Why a connection was closed as soon as it was accepted (the "limits"
// object of the configuration): hfv_connections_refused_total{reason}.
enum class ConnectionRefusal { kGlobalLimit, kPerAddressLimit };

class Metrics {
 public:
  Metrics();

  // One answered HTTP request (the Server calls this after the response is
  // made, whatever its status). `endpoint` is the route's pattern
  // (broker/api/routes.hpp endpoint_of: "/v1/verifications/{id}", or
  // "other"), never a raw path: paths carry ids.
  void observe_request(std::string_view method, std::string_view endpoint, unsigned status,
                       std::chrono::steady_clock::duration elapsed);
  // One verification from acceptance to its report (sync or async).
  void observe_verification(std::chrono::steady_clock::duration elapsed);
  // One audit append, from submission until durable (or failed).
  void observe_audit_append(std::chrono::steady_clock::duration elapsed, bool ok);
  // One agency query as seen by the broker (after retries and breaker).
  void observe_agency_query(std::string_view agency, std::string_view status,
                            std::chrono::steady_clock::duration elapsed);
  // Whether the latest audit append succeeded; nullopt before the first
  // (GET /readyz: broker/api/readiness.hpp).
  std::optional<bool> last_audit_append_ok() const;
  // A policy reload (SIGHUP) that was applied (ok) or refused.
  void observe_policy_reload(bool ok);

  // What the TLS material in use says about its expiry, set at start and on
  // every (re)load: `what` is a fixed name ("server_certificate", "ca",
  // "crl_next_update", ...), `not_after_unix` seconds since the epoch.
  // Rendered as hfv_tls_not_after_timestamp_seconds{what}.
  void set_tls_material(std::string_view what, std::int64_t not_after_unix);
  // Forgets a name set before (a CRL removed from the configuration).
  void clear_tls_material(std::string_view what);
  // A configuration reload (SIGHUP: TLS material, policies, ...) applied
  // (ok) or refused: hfv_config_reloads_total{result}.
  void observe_config_reload(bool ok);
  // Whether the agency is reached over plain HTTP (set from the
  // configuration at start and reload): hfv_agency_plaintext{agency}.
  void set_agency_plaintext(const std::string& agency, bool plaintext);

  // Client connections open now (the Server sets it at every accept and
  // close): hfv_connections_open.
  void set_connections_open(std::size_t open);
  // One connection closed at once for being over a limit:
  // hfv_connections_refused_total{reason}.
  void observe_connection_refused(ConnectionRefusal reason);
  // One request of a caller without a registered certificate, answered
  // with its refusal or, over that address's rate, with 429 and nothing
  // more (broker/api/refusal_tally.hpp):
  // hfv_unidentified_refusals_total{result="answered"|"throttled"}.
  void observe_unidentified_refusal(bool throttled);

  // One add-checkpoint exchange with an audit witness (broker/app/
  // witness_sender.hpp): `result` is "cosigned", "refused" or "error";
  // `witness` a name from the configuration. hfv_witness_cosign_total.
  void observe_witness_cosign(std::string_view witness, std::string_view result);

  // The whole exposition text.
  std::string render(const LiveState& live) const;

 private:
  mutable std::mutex mutex_;
  const std::chrono::system_clock::time_point started_;
  // (endpoint, method, status) -> count
  std::map<std::tuple<std::string, std::string, unsigned>, std::uint64_t> requests_;
  std::map<std::string, Histogram> request_seconds_;  // by endpoint
  Histogram verification_seconds_;
  Histogram audit_append_seconds_;
  std::uint64_t audit_append_failures_ = 0;
  std::optional<bool> last_audit_append_ok_;
  std::map<std::string, Histogram> agency_seconds_;                         // by agency
  std::map<std::pair<std::string, std::string>, std::uint64_t> agency_queries_;  // (agency, status)
  std::array<std::uint64_t, 2> policy_reloads_{};                          // refused, ok
  std::array<std::uint64_t, 2> config_reloads_{};                          // refused, ok
  std::map<std::string, std::int64_t, std::less<>> tls_not_after_;         // what -> seconds
  std::map<std::string, bool> agency_plaintext_;
  std::size_t connections_open_ = 0;
  std::array<std::uint64_t, 2> connections_refused_{};  // by ConnectionRefusal
  std::array<std::uint64_t, 2> unidentified_refusals_{};  // answered, throttled
  std::map<std::pair<std::string, std::string>, std::uint64_t> witness_cosigns_;  // (witness, result)
};

// Times a scope and reports it to Metrics::observe_verification (no-op
// when `metrics` is null). Put one at the top of the code path it measures.
class VerificationTimer {
 public:
  explicit VerificationTimer(Metrics* metrics)
      : metrics_(metrics), started_(std::chrono::steady_clock::now()) {}
  ~VerificationTimer() {
    if (metrics_ != nullptr) metrics_->observe_verification(std::chrono::steady_clock::now() - started_);
  }
  VerificationTimer(const VerificationTimer&) = delete;
  VerificationTimer& operator=(const VerificationTimer&) = delete;

 private:
  Metrics* metrics_;
  std::chrono::steady_clock::time_point started_;
};

// Reports each agency query of a fan-out (no-op when `metrics` is null).
void observe_fan_out(Metrics* metrics, const std::vector<SourceResult>& results);

// A minimal reader of the exposition format for brokerctl status and
// tests: "name{labels}" (labels as written) -> value, comments skipped.
// Not a validating parser: tests use promtool for that.
std::map<std::string, double> parse_metrics_text(std::string_view text);

}  // namespace hfv::broker
