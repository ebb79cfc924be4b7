// Daemon configuration: one JSON file (format in docs/configuration.md).
// Relative paths are resolved against the file's own folder. Secrets are
// never in this file: it names the master-key file instead.
// Loaded once at start-up; any problem is reported with the key named and
// the daemon refuses to start. Thread-safety: immutable after load.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/registry.hpp"
#include "audit/checkpoint.hpp"
#include "audit/log_connection.hpp"
#include "broker/ops/anomaly_rules.hpp"
#include "broker/ops/log.hpp"
#include "common/result.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/peer_identity.hpp"

namespace hfv::broker {

// kPeerBroker: another centre's broker asking this one about members
// registered here (docs/cross-region.md); it may call POST /v1/peer/queries
// and nothing else.
enum class Role { kCaseSystem, kSupervisor, kAdmin, kPeerBroker };
std::string_view role_name(Role role);

// The longest division-code prefix (whole levels: 2, 4 or 6 digits) that
// every code or prefix in `codes` starts with; "" when they share none.
std::string common_division_prefix(const std::vector<std::string>& codes);

// One caller, and the client certificate that is it (docs/configuration.md
// "Principals", docs/security.md "Client identity").
struct Principal {
  std::string name;
  std::string certificate_cn;              // the client certificate's subject CN (its only one)
  // Optional bindings, as RFC 4514 text (crypto::PeerCertificate): the
  // whole subject DN; the issuer's DN (empty: the certificate must be
  // issued directly by a CA of tls.ca_file); pinned keys (lowercase hex
  // SHA-256 of the SubjectPublicKeyInfo; empty: any key).
  std::string subject;
  std::string issuer;
  std::vector<std::string> spki_sha256;
  Role role = Role::kCaseSystem;
  std::vector<std::string> jurisdictions;  // GB/T 2260 code prefixes ("23", "2301", "230102")
  double rate_per_second = 50;  // token bucket per principal; beyond it: 429 + Retry-After
  double burst = 100;
  // A supervisor (or admin) of the whole centre: also sees the audit
  // records that concern no jurisdiction (daemon events, unauthenticated
  // callers, principals spanning regions). Config key "whole_centre".
  bool whole_centre = false;
  // A peer broker: the programmes ("dibao", "marginal", "tekun",
  // "temporary") it may ask for. Its `jurisdictions` are the divisions it
  // may ask about (members registered there), its `name` the centre it is.
  std::vector<std::string> purposes;
  // Whether `peer` (a certificate that already passed
  // crypto::client_certificate_refusal) is this principal's: its one CN is
  // certificate_cn and it matches every binding above.
  bool is_certificate(const crypto::PeerCertificate& peer) const;
  // True when `code` (6 digits) is inside one of this principal's prefixes.
  bool covers(const std::string& code) const;
  // Whether an audit record concerning `jurisdiction` (a code or a prefix
  // of one; empty: none) is this principal's to see (docs/security.md).
  bool sees(const std::string& jurisdiction) const;
  // The jurisdiction this principal's own actions concern: the longest
  // prefix common to its jurisdictions ("" when they share none).
  std::string scope() const;
};

// "listen", "port_file", "pid_file", "tls", "max_body_bytes", "max_in_flight":
// how the HTTPS front listens and what it accepts.
struct ServerSettings {
  std::string listen_address = "127.0.0.1";
  unsigned short listen_port = 8443;
  std::filesystem::path port_file;  // optional: the bound port is written here
  std::filesystem::path pid_file;   // optional: the daemon's pid is written here (brokerctl reload)
  std::filesystem::path tls_ca_file, tls_cert_file, tls_key_file;
  std::filesystem::path tls_crl_file;  // optional revocation list (PEM)
  // "tls.verify_depth": CA certificates allowed above a client certificate,
  // the trust anchor counted (1: issued directly by a CA of tls_ca_file).
  // Checked after the handshake (crypto::client_certificate_refusal).
  int verify_depth = 1;
  // A CRL past its nextUpdate: warned about from crl_warn before it; after
  // it, client certificates are refused unless crl_grace (default 0) allows
  // serving on that last good CRL a while longer (docs/operations.md).
  std::chrono::seconds crl_warn{72 * 3600};
  std::chrono::seconds crl_grace{0};
  std::size_t max_body_bytes = 256 * 1024;
  // Load shedding: requests beyond this many in flight get 503 + Retry-After.
  std::size_t max_in_flight = 1000;
  // "limits": connections open at once, in all and from one client address
  // (an IPv6 client counts by its /64). Connections beyond either are closed
  // as soon as they are accepted, before any TLS work (broker/api/server.hpp).
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_address = 64;
  // From accepting a connection to the end of its TLS handshake, the wait
  // for its first byte included.
  std::chrono::milliseconds handshake_timeout{10000};
};

// "storage.backend": which backend keeps the broker's own records
// (broker/store/): the embedded SQLCipher files, or a PostgreSQL database
// shared by every broker of a cluster (issue 15).
enum class StorageBackend { kSqlcipher, kPostgresql };
std::string_view storage_backend_name(StorageBackend backend);

// "storage.postgresql": the cluster backend's database. The connection
// string may hold a password (libpq's `password`, `sslpassword`): it is
// never logged nor echoed in an error, so only the fields below that say
// where the database is may be logged.
struct PostgresqlSettings {
  std::string conninfo;  // libpq's key=value string or a postgresql:// URI (no password in a URI)
  std::string node;      // this broker's name in the shared database; default: the host name
  // Read from the connection string for logs and checks (never the password):
  std::string hosts;           // its `host` (or `hostaddr`) list, "" when libpq's default
  std::string port;            // its `port` list, "" when libpq's default
  std::string dbname;          // its `dbname`, "" when libpq's default
  bool has_password = false;   // a `password` or `sslpassword` is in the string
  bool has_connect_timeout = false;
};

// "master_key_file", "state_db", "review.db" and "storage": where the
// broker's own records are kept (broker/store/). Secrets are never in the
// file: it names the master-key file instead (a password in a PostgreSQL
// connection string is allowed but warned about; docs/configuration.md).
struct StorageSettings {
  std::filesystem::path master_key_file;
  StorageBackend backend = StorageBackend::kSqlcipher;
  std::filesystem::path state_db;   // kSqlcipher only
  std::filesystem::path review_db;  // kSqlcipher only; default: review.db beside state_db
  PostgresqlSettings postgresql;    // kPostgresql only
};

// "audit_db" and the "audit" object. The anchor file keeps the latest signed
// tree head outside the database (default: "<audit_db>.anchor"; better on
// another disk or host). With the postgresql backend the audit log is in
// PostgreSQL (audit_location()): "audit_db" is refused and each broker's
// "audit.anchor_file" is required. Personal fields of records older than the
// retention are erased (0: never; otherwise at least 183 days, the
// Cybersecurity Law's six-month minimum for network logs).
// Witnesses ("audit.witnesses", docs/operations.md): hfv-witness servers
// that countersign each signed head, as a C2SP checkpoint with the origin
// line "audit.origin" (default: audit::default_origin of the log's key),
// only when it is consistent with the last one they saw.
struct AuditWitness {
  std::string name;  // the witness's key name
  std::string url;   // submission and monitoring prefix, http(s)://, no final '/'
  audit::note::Verifier key;  // its cosignature/v1 key
};
struct AuditSettings {
  std::filesystem::path db;
  std::filesystem::path anchor_file;
  // "public_key": the log's Ed25519 key pinned (64 hex, printed by
  // `brokerctl audit init`): the daemon refuses a log under another key and
  // a missing log. "create_if_missing": without a pin, a missing log is
  // created at start (for tests and throwaway stacks; logged); otherwise a
  // missing log is an error: `brokerctl audit init` creates it (a wiped log
  // must not be replaced by a new one without a word).
  std::optional<crypto::Ed25519PublicKey> public_key;
  bool create_if_missing = false;
  std::string origin;  // empty: audit::default_origin(the log's key)
  std::vector<AuditWitness> witnesses;
  int retention_days = 183;
  std::chrono::milliseconds head_interval{1000};
  // "retention": stored reports, review records and finished batches
  // (with their items) older than these are erased (0: kept).
  int reports_days = 183;
  int reviews_days = 183;
};

// "signing_key_file", "policies_dir", "divisions_dir",
// "verification_deadline_ms", "repeat_window_hours".
struct VerificationSettings {
  std::filesystem::path signing_key_file;
  std::filesystem::path policies_dir;
  std::filesystem::path divisions_dir;  // GB/T 2260 CSVs; default: the copy shipped with this build
  std::chrono::milliseconds deadline{10000};
  // Fair use: a verification of the same household (same members, programme,
  // jurisdiction and reference date) by the same principal within this window
  // returns the earlier report unless the request says "force": true.
  std::chrono::hours repeat_window{24};
  // "transfer_threads": the agencies' and peers' HTTP transfers on this many
  // threads of their own (adapters/common/http_client.hpp); 0 runs them on
  // the I/O thread. 0 by default: on a 2-core machine a thread gained no
  // throughput and cost CPU (docs/performance.md).
  unsigned transfer_threads = 0;
};

// Periodic reviews ("review" object; broker/reviews/batch.hpp).
struct ReviewSettings {
  // Change lists and statistics; default: batches/ beside state_db (with the
  // postgresql backend, beside audit_db).
  std::filesystem::path output_dir;
  // Batches use at most this share (per mille) of the smallest agency
  // concurrency limit, counted in members in flight.
  std::size_t capacity_share_permille = 500;
  std::int64_t change_share_permille = 100;  // per-capita income/assets "moved" beyond this share
  std::int64_t max_attempts = 5;             // per household, for 429/503 answers
  std::chrono::milliseconds backoff_initial{200};
  std::chrono::milliseconds backoff_max{10000};
  // Interactive first: while an interactive verification runs, and for this
  // long after the last one ended, batches keep one household in flight.
  std::chrono::milliseconds yield_after_interactive{1000};
  std::size_t max_households = 200000;
  // A node holds the batch items it claimed this long unless it renews
  // (every third of it): when a node dies, the others take its items over
  // after at most this long (reviews/batch.hpp).
  std::chrono::milliseconds claim_lease{30000};
};

// "peers": other centres' brokers this one asks about members registered
// in their divisions (docs/cross-region.md). The routing table they make
// with the agencies' "divisions" is checked at start
// (broker/verification/routing.hpp).
struct PeerSettings {
  std::string name;  // [a-z0-9_-], 1-32: in audit records and reports ("answered_by")
  std::string url;   // https://host:port, no final '/'
  adapters::TlsClientOptions tls;  // ca_file, client_cert_file, client_key_file
  crypto::Ed25519PublicKey report_key;  // "report_key": the peer's report-signing public key (PEM file)
  std::vector<std::string> divisions;   // prefixes of 2-6 digits
  std::vector<Source> sources;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds timeout{8000};
  adapters::ResilienceConfig resilience;  // max_concurrent, max_attempts, breaker_failures, breaker_cooldown_ms
};

// The whole file (docs/configuration.md), parsed into typed sections.
struct Config {
  std::filesystem::path file;
  LogLevel log_level = LogLevel::kInfo;  // "log_level": debug | info | warn | error
  ServerSettings server;
  StorageSettings storage;
  AuditSettings audit;
  VerificationSettings verification;
  ReviewSettings review;
  // Supervisor console: thresholds and working hours of the anomaly flags
  // ("anomalies" object; broker/ops/anomaly_rules.hpp, docs/console.md).
  AnomalyRules anomaly_rules;
  std::vector<Principal> principals;
  // Agency name -> its settings ("agencies" object; adapters/registry.hpp).
  adapters::AgencyConfigs agencies;
  // "agencies.<name>.divisions": the division prefixes an agency answers
  // for; an agency not listed here answers for every division.
  std::map<std::string, std::vector<std::string>> agency_divisions;
  // "centre": this centre's name, sent to peers as the asking centre and
  // given in its answers to them (required with peers or peer principals).
  std::string centre;
  std::vector<PeerSettings> peers;

  const Principal* principal_for_cn(const std::string& cn) const;
  // The principal a verified client certificate is: nullptr when the
  // certificate cannot identify anyone (crypto::client_certificate_refusal
  // under server.verify_depth) or is no principal's (Principal::is_certificate).
  const Principal* principal_for(const crypto::PeerCertificate& peer) const;
  const Principal* principal_for_name(const std::string& name) const;

  // A reload's principals replace these. The previous table is kept (its
  // elements do not move), so a Principal* a request in flight holds stays
  // valid for the life of the process. Not thread-safe: call on the thread
  // that looks principals up (the daemon's I/O thread).
  void replace_principals(std::vector<Principal> next);

 private:
  std::vector<std::vector<Principal>> retired_principals_;
};

Result<Config> load_config(const std::filesystem::path& file);

// Where a JSON syntax error is, for messages: "line L, column C" from
// nlohmann's parse_error::byte (1-based, counted in bytes) over `text`.
std::string json_error_position(std::string_view text, std::size_t byte);
// nlohmann's parse_error::what() without its "[json.exception...]" prefix.
std::string json_error_reason(std::string_view what);

// Where the audit log is: the "audit_db" file, or with the postgresql
// backend the cluster's shared log in that database.
audit::LogLocation audit_location(const Config& config);

// Where the daemon writes the outcome of each reload, for `brokerctl
// reload`: beside the pid file (run/brokerd.pid -> run/brokerd.reload);
// empty without a pid file.
std::filesystem::path reload_status_file(const std::filesystem::path& pid_file);

// The pid in `pid_file`, if that process exists and is a brokerd (so a stale
// file never makes a tool signal, or wait for, an unrelated process). Error
// codes: "no_pid_file" (empty path), "no_pid", "not_running", "not_brokerd".
Result<long> brokerd_pid(const std::filesystem::path& pid_file);

// The configuration file as a JSON document, read leniently: an empty object
// if it cannot be read or parsed (load_config() reports those). For a reload
// comparing documents, and for brokerctl reload, which must find the pid
// file of a config that would not load as a whole.
nlohmann::json read_config_document(const std::filesystem::path& file);

// Whether `key` is one of the configuration file's top-level keys: what
// load_config accepts and `brokerd check-config` reports as unknown otherwise.
bool is_config_key(std::string_view key);

// Data shipped with the broker: name "policies" or "divisions". An installed
// executable (<prefix>/bin/brokerd) uses <prefix>/share/hfv/<name>; a build
// that is not installed uses the copy in its source tree.
std::filesystem::path shipped_data_dir(std::string_view name);

}  // namespace hfv::broker
