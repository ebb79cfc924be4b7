#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first with GCC 12

#include "broker/app/daemon.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <thread>

#include "adapters/registry.hpp"
#include "audit/audit_log.hpp"
#include "broker/api/server.hpp"
#include "broker/app/check_config.hpp"
#include "broker/api/service.hpp"
#include "broker/api/verification_http.hpp"
#include "broker/app/reload.hpp"
#include "broker/app/witness_sender.hpp"
#include "broker/ops/config.hpp"
#include "broker/ops/divisions.hpp"
#include "broker/ops/log.hpp"
#include "broker/ops/metrics.hpp"
#include "broker/ops/systemd_notify.hpp"
#include "broker/reviews/batch.hpp"
#include "broker/reviews/what_if.hpp"
#include "broker/store/postgresql/authorization_store.hpp"
#include "broker/store/postgresql/report_store.hpp"
#include "broker/store/postgresql/review_store.hpp"
#include "broker/store/postgresql/schema.hpp"
#include "broker/store/audit_trust.hpp"
#include "broker/store/retention.hpp"
#include "broker/store/sqlcipher/authorization_store.hpp"
#include "broker/store/sqlcipher/report_store.hpp"
#include "broker/store/sqlcipher/review_store.hpp"
#include "broker/store/store_keys.hpp"
#include "broker/verification/report_key_history.hpp"
#include "broker/verification/routing.hpp"
#include "broker/verification/verifier.hpp"
#include "common/files.hpp"
#include "common/thread_name.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/hash.hpp"
#include "crypto/keys.hpp"
#include "crypto/pki.hpp"
#include "policies/policy.hpp"

namespace hfv::broker {

namespace net = boost::asio;
using nlohmann::json;

namespace {

// A fatal start-up error: a JSON log line like every other (so `| jq` and
// `journalctl -p err` find it), naming what failed and why.
int fail(const std::string& what, const Error& error) {
  log_event(LogLevel::kError, "start_failed", {{"what", what}, {"code", error.code}, {"reason", error.message}});
  return 1;
}
// A configuration error (the file, or a file it names): its own exit status,
// on which systemd does not restart (packaging/hfv-brokerd.service).
int fail_config(const std::string& what, const Error& error) {
  (void)fail(what, error);
  return kExitConfig;
}

// Sources whose adapters exist in this build, for the generated config.
json demo_agencies(const std::string& url) {
  json agencies = json::object();
  for (const char* name :
       {"hukou", "tax", "social_insurance", "real_estate", "vehicle", "bank", "securities",
        "business", "provident_fund", "insurance", "internet_finance"}) {
    agencies[name] = {{"base_url", url}, {"connect_timeout_ms", 1000}, {"timeout_ms", 3000}};
    if (url.starts_with("http://")) agencies[name]["allow_plaintext"] = true;  // the agency simulator
  }
  return agencies;
}

// The broker's own records, from the backend the configuration names: the
// one place that chooses (broker/README.md, store/).
struct Stores {
  std::unique_ptr<AuthorizationStore> authorizations;
  std::unique_ptr<ReportStore> reports;
  std::unique_ptr<ReviewStore> reviews;
};

// Opens the three stores with the keys of the store keyrings
// (store/store_keys.hpp); on failure, what failed ("state database", ...)
// and why. Messages never hold the connection string (it may hold a
// password): libpq's own text names hosts and users, not passwords, and
// load_config() refused any string libpq could misread.
Result<Stores> open_stores(const Config& config, const StoreKeys& keys) {
  Stores stores;
  auto failed = [](const char* what, const Error& e) -> Result<Stores> {
    return make_error(e.code, std::string(what) + ": " + e.message);
  };
  if (config.storage.backend == StorageBackend::kPostgresql) {
    const auto& settings = config.storage.postgresql;
    // Report bodies and personal review columns are sealed by the broker
    // under one key (broker/store/postgresql/schema.hpp), kept in the
    // cluster's store keyring: every broker reads the same one.
    auto authorizations = PostgresqlAuthorizationStore::open(settings.conninfo);
    if (!authorizations) return failed("state database (postgresql)", authorizations.error());
    auto reports = PostgresqlReportStore::open(settings.conninfo, keys.state, settings.node);
    if (!reports) return failed("state database (postgresql)", reports.error());
    auto reviews = PostgresqlReviewStore::open(settings.conninfo, keys.review, settings.node);
    if (!reviews) return failed("review database (postgresql)", reviews.error());
    stores.authorizations = std::move(*authorizations);
    stores.reports = std::move(*reports);
    stores.reviews = std::move(*reviews);
    return stores;
  }
  auto authorizations = SqlcipherAuthorizationStore::open(config.storage.state_db, keys.state);
  if (!authorizations) return failed("state database", authorizations.error());
  auto reports = SqlcipherReportStore::open(config.storage.state_db, keys.state);
  if (!reports) return failed("state database", reports.error());
  auto reviews = SqlcipherReviewStore::open(config.storage.review_db, keys.review);
  if (!reviews) return failed("review database", reviews.error());
  stores.authorizations = std::move(*authorizations);
  stores.reports = std::move(*reports);
  stores.reviews = std::move(*reviews);
  return stores;
}

// Where the records are kept, for the start-up log: the backend, and for
// PostgreSQL the node, hosts, ports and database (never the connection
// string: it may hold a password).
void log_storage(const Config& config) {
  json fields = {{"backend", std::string(storage_backend_name(config.storage.backend))}};
  if (config.storage.backend == StorageBackend::kSqlcipher) {
    fields["state_db"] = config.storage.state_db.string();
    fields["review_db"] = config.storage.review_db.string();
    log_event(LogLevel::kInfo, "storage", fields);
    return;
  }
  const auto& pg = config.storage.postgresql;
  fields["node"] = pg.node;
  if (!pg.hosts.empty()) fields["hosts"] = pg.hosts;
  if (!pg.port.empty()) fields["port"] = pg.port;
  if (!pg.dbname.empty()) fields["dbname"] = pg.dbname;
  log_event(LogLevel::kInfo, "storage", fields);
  if (pg.has_password) {
    log_event(LogLevel::kWarn, "storage_password_in_config",
              {{"reason", "storage.postgresql.conninfo holds a password: prefer passfile= or a client "
                          "certificate (docs/configuration.md)"}});
  }
  if (!pg.has_connect_timeout) {
    log_event(LogLevel::kWarn, "storage_no_connect_timeout",
              {{"reason", "storage.postgresql.conninfo sets no connect_timeout: a database host that does "
                          "not answer holds store calls until TCP gives up (docs/configuration.md)"}});
  }
}

}  // namespace

int run_init(const InitOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return fail("init", make_error("io_error", "cannot create " + options.dir.string()));
  fs::permissions(options.dir, fs::perms::owner_all, ec);
  for (const char* sub : {"keys", "data", "run"}) {
    fs::create_directories(options.dir / sub, ec);
    fs::permissions(options.dir / sub, fs::perms::owner_all, ec);
  }
  crypto::DevPkiOptions pki;
  pki.dir = options.dir / "pki";
  pki.client_names = {"demo-case-system", "demo-supervisor"};
  pki.client_names.insert(pki.client_names.end(), options.clients.begin(), options.clients.end());
  auto report = crypto::create_dev_pki(pki);
  if (!report) return fail("init: development PKI", report.error());
  auto note = [](const fs::path& p, bool created) {
    std::printf("  %s %s\n", created ? "created" : "kept   ", p.string().c_str());
  };
  for (const auto& p : report->created) note(p, true);
  for (const auto& p : report->kept) note(p, false);

  const fs::path master = options.dir / "keys" / "master.key";
  if (auto s = crypto::create_master_key_file(master); s) {
    note(master, true);
  } else if (s.error().code == "exists") {
    note(master, false);
  } else {
    return fail("init: master key", s.error());
  }
  const fs::path signing = options.dir / "keys" / "report-signing.key";
  if (auto s = crypto::create_ed25519_key_file(signing); s) {
    note(signing, true);
  } else if (s.error().code == "exists") {
    note(signing, false);
  } else {
    return fail("init: signing key", s.error());
  }

  const fs::path config_file = options.dir / "brokerd.json";
  const fs::path policies =
      options.policies_dir.empty() ? shipped_data_dir("policies") : options.policies_dir;
  json config = {
      {"listen", options.listen},
      {"port_file", "run/brokerd.port"},
      {"pid_file", "run/brokerd.pid"},
      {"log_level", "info"},
      {"tls",
       {{"ca_file", "pki/ca.pem"},
        {"cert_file", "pki/server.pem"},
        {"key_file", "pki/server.key"}}},
      {"master_key_file", "keys/master.key"},
      {"signing_key_file", "keys/report-signing.key"},
      {"audit_db", "data/audit.db"},
      {"audit",
       {{"anchor_file", "run/audit.anchor"}, {"retention_days", 183}, {"head_interval_ms", 1000}}},
      {"state_db", "data/state.db"},
      {"policies_dir", fs::absolute(policies).string()},
      {"verification_deadline_ms", 10000},
      {"max_body_bytes", 262144},
      // Each bound to its certificate's whole subject, not its CN alone
      // (docs/configuration.md "Principals").
      {"principals", json::array({{{"name", "demo-case-system"},
                                   {"certificate_cn", "demo-case-system"},
                                   {"subject", "CN=demo-case-system,O=HFV development"},
                                   {"role", "case_system"},
                                   {"jurisdictions", {"2301", "6107", "110108", "4105", "31"}}},
                                  {{"name", "demo-supervisor"},
                                   {"certificate_cn", "demo-supervisor"},
                                   {"subject", "CN=demo-supervisor,O=HFV development"},
                                   {"role", "supervisor"},
                                   {"jurisdictions", {"2301"}},
                                   {"whole_centre", true}}})},
      {"agencies", demo_agencies(options.agency_url)}};
  bool config_created = false;
  if (auto s = write_new_file(config_file, config.dump(2) + "\n", 0640); s) {
    config_created = true;
  } else if (s.error().code != "exists") {
    return fail("init: config", s.error());
  }
  // The audit log, created here and never at start: its key pinned in a
  // configuration written now (broker/store/audit_trust.hpp).
  auto loaded = load_config(config_file);
  if (!loaded) return fail("init: config", loaded.error());
  auto master_key = crypto::load_master_key_file(master);
  if (!master_key) return fail("init: master key", master_key.error());
  // The store keyrings first: a new installation's (random) pseudonym key
  // is chosen by whether any database existed before (store_keys.hpp).
  if (auto keys = open_store_keys(*loaded, *master_key); !keys) return fail("init: store keys", keys.error());
  auto audit_key = init_audit_log(*loaded, crypto::derive_key(*master_key, crypto::kPurposeAuditDb));
  master_key->wipe();
  if (audit_key) {
    note(loaded->audit.db, true);
    if (config_created) {
      config["audit"]["public_key"] = crypto::to_hex(*audit_key);
      if (auto s = replace_file_atomically(config_file, config.dump(2) + "\n", 0640); !s) {
        return fail("init: config", s.error());
      }
    }
  } else if (audit_key.error().code == "exists") {
    note(loaded->audit.db, false);
  } else {
    return fail("init: audit log", audit_key.error());
  }
  note(config_file, config_created);
  std::printf("ready: brokerd run --config %s\n", config_file.string().c_str());
  return 0;
}

int run_daemon(const std::filesystem::path& config_file) {
  // No core dumps, and no other process of this user may read this one's
  // memory (ptrace, /proc/<pid>/mem): an image of it holds the keys.
  const rlimit no_core{0, 0};
  (void)::setrlimit(RLIMIT_CORE, &no_core);
  (void)::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  auto config = load_config(config_file);
  if (!config) return fail_config("configuration", config.error());
  // The document the daemon runs with: a reload names the keys changed since
  // that only a restart applies.
  const json running_document = read_config_document(config_file);
  set_log_level(config->log_level);
  Metrics metrics;  // outlives the Service and the audit log's writer (declared before both)
  for (const auto& [agency, settings] : config->agencies) {
    metrics.set_agency_plaintext(agency, settings.base_url.starts_with("http://"));
  }
  // HFV_MASTER_KEY, then a systemd credential, then the configured file.
  std::string master_source;
  auto master = crypto::load_master_key(config->storage.master_key_file, &master_source);
  crypto::erase_master_key_env();
  if (!master) return fail_config("master key", master.error());
  log_event(LogLevel::kInfo, "master_key_loaded", {{"source", master_source}});
  auto signer = crypto::Ed25519Signer::load(config->verification.signing_key_file);
  if (!signer) return fail_config("signing key", signer.error());
  // The keys it signed with before, beside it (brokerctl report rotate-key):
  // checked link by link and ending with this key, or no start.
  auto report_keys = load_report_key_history(config->verification.signing_key_file, signer->public_key());
  if (!report_keys) return fail_config("signing key history", report_keys.error());
  auto policies = policies::PolicySet::load_dir(config->verification.policies_dir);
  if (!policies) return fail_config("policies", policies.error());
  auto divisions = DivisionCodes::load(config->verification.divisions_dir);
  if (!divisions) return fail_config("division codes", divisions.error());
  // The stores' keys, from their keyrings (made, or migrated from keys
  // derived from the master, at the first start): before the audit log is
  // opened, which judges whether the installation existed before.
  auto store_keys = open_store_keys(*config, *master);
  if (!store_keys) return fail("store keys", store_keys.error());
  // The audit log signs a tree head at least every head_interval while
  // records arrive and when it closes, and anchors it outside the database;
  // it refuses to open a database that was rolled back behind the anchor.
  audit::AuditLogOptions audit_options;
  audit_options.anchor_file = config->audit.anchor_file;
  audit_options.head_interval = config->audit.head_interval;
  audit_options.retention_days = config->audit.retention_days;
  audit_options.on_append = [&metrics](std::chrono::steady_clock::duration elapsed, bool ok) {
    metrics.observe_audit_append(elapsed, ok);
  };
  // Each signed head also goes, off the writer thread, to the witnesses,
  // which countersign only heads consistent with the last they saw
  // (broker/app/witness_sender.hpp): a rollback or wipe shows there.
  // On the postgresql backend the cosigned checkpoints also go to the
  // cluster's table, which every node reads.
  WitnessSender witness_sender(config->audit.witnesses, audit::cosigned_path(config->audit.anchor_file),
                               &metrics,
                               config->storage.backend == StorageBackend::kPostgresql
                                   ? config->storage.postgresql.conninfo
                                   : std::string());
  if (!config->audit.witnesses.empty()) {
    audit_options.on_head = [&witness_sender](const audit::SignedTreeHead& head) {
      witness_sender.head_signed(head);
    };
  }
  // The log must be there under the pinned key: a wiped log is not
  // replaced by a new one at start (broker/store/audit_trust.hpp).
  const auto audit_kek = crypto::derive_key(*master, crypto::kPurposeAuditDb);
  auto present = check_audit_log_presence(*config, audit_kek);
  if (!present) return fail_config("audit log", present.error());
  auto audit = audit::AuditLog::open(audit_location(*config), audit_kek, std::move(audit_options));
  if (!audit) return fail("audit log", audit.error());
  if (!*present) {
    log_event(LogLevel::kWarn, "audit_log_created",
              {{"key_id", audit::audit_key_id((*audit)->public_key())},
               {"reason", "no audit log was found and audit.create_if_missing is set: a new, empty log"}});
  }
  const std::string audit_origin = config->audit.origin.empty()
                                       ? audit::default_origin((*audit)->first_public_key())
                                       : config->audit.origin;
  std::optional<WitnessSenderRun> witness_run;
  if (!config->audit.witnesses.empty()) {
    witness_run.emplace(witness_sender, **audit, audit_origin);
    log_event(LogLevel::kInfo, "audit_witnesses",
              {{"origin", audit_origin}, {"witnesses", config->audit.witnesses.size()}});
  }
  log_storage(*config);
  auto opened = open_stores(*config, *store_keys);
  if (!opened) return fail("storage", opened.error());
  Stores& stores = *opened;
  // A state database copied back from before a revocation must not revive
  // it: every revocation the log holds is put back in force.
  auto reconciled = reapply_logged_revocations(**audit, *stores.authorizations);
  if (!reconciled) return fail("state database", reconciled.error());
  if (reconciled->reapplied > 0) {
    log_event(LogLevel::kError, "consent_state_rolled_back",
              {{"reapplied", reconciled->reapplied},
               {"reason", "the state database held authorisations in force that the audit log records as "
                          "revoked (restored from an older copy?); they are revoked again"}});
    audit::AuditRecord r;
    r.action = "state.reconciled";
    r.status = "revocations_reapplied";
    r.detail = "reapplied=" + std::to_string(reconciled->reapplied);
    std::vector<audit::AuditRecord> rows;
    rows.push_back(std::move(r));
    if (auto appended = (*audit)->append_blocking(std::move(rows)); !appended) {
      return fail("audit log", appended.error());
    }
  }
  // Review records a crash of this node left pending: issued per the
  // audit, or dropped. (In a shared database each node settles its own;
  // those of a node that never comes back stay pending and count for no
  // review, except batch items, which the node taking them over settles.)
  auto settled = settle_pending_reviews(*stores.reviews, **audit);
  if (!settled) return fail("review database", settled.error());
  if (settled->issued + settled->dropped > 0) {
    log_event(LogLevel::kInfo, "review_records_settled",
              {{"issued", settled->issued}, {"dropped", settled->dropped}});
  }
  // Reports, review records and finished batches past retention: erased now and hourly.
  RetentionTimer retention(*stores.reports, stores.reviews.get(), **audit,
                           {config->audit.reports_days, config->audit.reviews_days, config->review.output_dir},
                           stores.authorizations.get());

  net::io_context io(1);
  // The agencies' transfers (libcurl) on the I/O thread or on threads of
  // their own ("transfer_threads").
  adapters::HttpClient http(io, config->verification.transfer_threads);
  auto adapters =
      adapters::build_adapters(config->agencies, http);
  if (!adapters) return fail_config("agencies", adapters.error());
  for (const auto& [name, agency] : config->agencies) {
    if (agency.base_url.starts_with("http://")) log_event(LogLevel::kWarn, "agency_plaintext", {{"agency", name}});
  }
  // Who answers which source for which division (docs/cross-region.md):
  // an ambiguous table is refused before anything starts.
  if (auto problem = route_table_problem(route_table_of(*config)); problem) {
    return fail_config("peers", make_error("bad_config", *problem));
  }
  const std::size_t blocking_threads = 2;
  net::thread_pool blocking(blocking_threads);
  // CPU work per household off the I/O thread (the report: archive, JSON,
  // signature): one thread per core but the I/O thread's.
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  const std::size_t compute_threads = cores > 1 ? cores - 1 : 1;
  net::thread_pool compute(compute_threads);
  name_pool_threads(blocking, blocking_threads, "hfv-blocking");
  name_pool_threads(compute, compute_threads, "hfv-compute");

  VerifierParts verifying;
  verifying.config = &*config;
  verifying.policies = std::make_shared<const policies::PolicySet>(std::move(*policies));
  verifying.divisions = &*divisions;
  verifying.adapters = std::move(*adapters);
  verifying.audit = audit->get();
  verifying.authorizations = stores.authorizations.get();
  verifying.reports = stores.reports.get();
  verifying.signer = &*signer;
  verifying.consent_pseudonym_key = store_keys->consent_pseudonym;
  verifying.audit_pseudonym_key = store_keys->audit_pseudonym;
  // Every key the master gives is unwrapped by now: none is kept.
  master->wipe();
  store_keys->state.wipe();
  store_keys->review.wipe();
  store_keys->consent_pseudonym.wipe();
  store_keys->audit_pseudonym.wipe();
  verifying.blocking = &blocking;
  verifying.compute = &compute;
  verifying.reviews = stores.reviews.get();
  verifying.metrics = &metrics;
  verifying.refusal_status = &refusal_status_text;
  verifying.appeal_refusal_status = &appeal_refusal_status_text;
  verifying.peer_refusal_status = &peer_refusal_status_text;
  // Cross-region (docs/cross-region.md): one client per peer, on this loop.
  for (const auto& peer : config->peers) verifying.peers.push_back(std::make_shared<PeerClient>(peer, http));
  verifying.report_keys = &*report_keys;
  Verifier verifier(std::move(verifying));

  ServiceParts parts;
  parts.config = &*config;
  parts.verifier = &verifier;
  parts.divisions = &*divisions;
  parts.audit = audit->get();
  parts.authorizations = stores.authorizations.get();
  parts.signer = &*signer;
  parts.report_keys = &*report_keys;
  parts.blocking = &blocking;
  parts.reviews = stores.reviews.get();
  parts.metrics = &metrics;
  // Signals are caught from here on (Asio queues them until the waits below
  // are set up): the port file written by start() tells supervisors and
  // tests the daemon is up, so a SIGTERM sent after reading it must already
  // mean a graceful stop, not the default kill.
  net::signal_set signals(io, SIGINT, SIGTERM);
  net::signal_set reload_signal(io, SIGHUP);
  Service service(parts);
  // Periodic reviews: batches left running by the previous process resume.
  BatchManager batches(
      io.get_executor(), verifier, [&service] { return service.in_flight(); }, *stores.reviews, *stores.reports,
      **audit, blocking, *config);
  service.set_batches(&batches);
  batches.start();
  // What-if jobs (broker/reviews/what_if.hpp): in memory, each on its own
  // thread; a stop ends them (their results are recomputable).
  WhatIfJobs what_if(*stores.reports, **audit, &*report_keys);
  service.set_what_if(&what_if);
  // The pid file lets `brokerctl reload` send SIGHUP (already caught, see
  // above); written before the port file announces the daemon, removed on a
  // clean stop.
  if (!config->server.pid_file.empty()) {
    if (auto s = replace_file_atomically(config->server.pid_file,
                                                 std::to_string(::getpid()) + "\n", 0644);
        !s) {
      return fail("pid file", s.error());
    }
  }
  Server server(io, *config, service);
  if (auto s = server.start(); !s) {
    // A TLS file or the listen address is the configuration's; a taken port is not.
    const bool config_error = s.error().code == "tls_setup" || s.error().code == "bad_crl" ||
                              s.error().code == "not_found" || s.error().code == "bad_config";
    return config_error ? fail_config("listen", s.error()) : fail("listen", s.error());
  }

  audit::AuditRecord started;
  started.action = "daemon.start";
  started.principal = "brokerd";
  started.status = "ok";
  if (auto r = (*audit)->append_blocking({started}); !r) return fail("audit log", r.error());
  log_event(LogLevel::kInfo, "started",
            {{"port", server.port()}, {"audit_seq", (*audit)->last_seq()}});
  (void)notify_systemd("READY=1");  // Type=notify: started means listening, audit written

  // Graceful shutdown: stop accepting, let requests in flight finish (up to
  // 10 s), then stop the loop.
  net::steady_timer drain(io);
  TlsExpiryWatch expiry_watch;  // below, with reloads
  net::steady_timer expiry_timer(io);
  auto give_up_at = std::chrono::steady_clock::now();
  std::function<void()> wait_drained = [&] {
    if ((service.in_flight() == 0 && !batches.busy()) ||
        std::chrono::steady_clock::now() >= give_up_at) {
      io.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(20));
    drain.async_wait([&](boost::system::error_code) { wait_drained(); });
  };
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    log_event(LogLevel::kInfo, "stopping", {{"signal", signo}, {"in_flight", service.in_flight()}});
    (void)notify_systemd("STOPPING=1");
    server.stop();
    batches.stop();  // households in flight finish; the rest continue at the next start
    what_if.stop();
    reload_signal.cancel();
    expiry_timer.cancel();
    give_up_at = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    wait_drained();
  });
  // SIGHUP: read the configuration again off the loop (app/reload.hpp);
  // apply it only if all of it is valid, so a bad edit never half-applies.
  std::uint64_t reload_generation = 0;
  json applied_agencies = running_document.value("agencies", json());
  const auto status_file = reload_status_file(config->server.pid_file);
  auto record_reload = [&](const ReloadOutcome& outcome) {
    audit::AuditRecord r;
    r.action = "config.reload";
    r.principal = "brokerd";
    r.status = outcome.ok ? "ok" : "refused";
    if (outcome.ok) {
      std::string detail;
      for (const auto& part : outcome.applied) detail += (detail.empty() ? "" : ",") + part;
      if (!outcome.restart_needed.empty()) {
        detail += "; restart needed:";
        for (const auto& key : outcome.restart_needed) detail += " " + key;
      }
      r.detail = detail;
      log_event(LogLevel::kInfo, "config_reloaded",
                {{"applied", outcome.applied}, {"restart_needed", outcome.restart_needed}});
      if (!outcome.restart_needed.empty()) {
        log_event(LogLevel::kWarn, "config_restart_needed",
                  {{"keys", outcome.restart_needed},
                   {"reason", "these settings changed in the file; a reload does not apply them, a restart does"}});
      }
    } else {
      r.detail = outcome.reason;
      log_event(LogLevel::kError, "config_reload_refused", {{"reason", outcome.reason}});
    }
    metrics.observe_policy_reload(outcome.ok);
    metrics.observe_config_reload(outcome.ok);
    if (!status_file.empty()) {
      if (auto s = replace_file_atomically(status_file, outcome.to_json(::getpid()).dump() + "\n", 0644); !s) {
        log_event(LogLevel::kWarn, "reload_status_not_written", {{"reason", s.error().message}});
      }
    }
    net::co_spawn(
        io,
        [&, r]() -> net::awaitable<void> {
          std::vector<audit::AuditRecord> rows{r};
          (void)co_await (*audit)->append(std::move(rows));
        },
        net::detached);
  };
  // The CRL and the server certificate are watched for expiry; the watch
  // wakes at the next change of state (and at least hourly).
  std::function<void()> watch_expiry = [&] {
    const auto wait = expiry_watch.check(server.tls_facts(), config->server, std::time(nullptr));
    expiry_timer.expires_after(std::chrono::seconds(wait));
    expiry_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) watch_expiry();
    });
  };
  watch_expiry();
  std::function<void()> wait_reload = [&] {
    reload_signal.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      net::post(blocking, [&] {
        auto plan = prepare_reload(config_file, running_document);
        net::post(io, [&, plan = std::move(plan)]() mutable {
          ReloadOutcome outcome;
          outcome.generation = ++reload_generation;
          if (!plan) {
            outcome.reason = plan.error().message;
            record_reload(outcome);
            return;
          }
          // All valid: applied at once, between two requests' steps on this
          // thread. Connections open keep their TLS context; requests in
          // flight keep the Principal they were authenticated as.
          Config& next = plan->next;
          // Agencies: a new set only when their settings changed, and in it
          // only the changed or new agencies' adapters are new (a new one
          // starts its breaker, limits and counters afresh); the others are
          // handed on. Built before anything is applied: a failure refuses
          // the whole reload.
          const json next_agencies = plan->document.value("agencies", json());
          std::optional<adapters::AdapterSet> rebuilt;
          if (next_agencies != applied_agencies) {
            auto built = adapters::build_adapters(next.agencies, http);
            if (!built) {
              outcome.reason = "agencies: " + built.error().message;
              record_reload(outcome);
              return;
            }
            rebuilt = adapters::keep_unchanged(std::move(*built), verifier.adapters(), applied_agencies, next_agencies);
          }
          server.use_tls(std::move(plan->tls));
          config->server.tls_ca_file = next.server.tls_ca_file;
          config->server.tls_cert_file = next.server.tls_cert_file;
          config->server.tls_key_file = next.server.tls_key_file;
          config->server.tls_crl_file = next.server.tls_crl_file;
          config->server.crl_warn = next.server.crl_warn;
          config->server.crl_grace = next.server.crl_grace;
          config->server.verify_depth = next.server.verify_depth;
          outcome.applied.push_back("tls");
          outcome.applied.push_back("principals=" + std::to_string(next.principals.size()));
          config->replace_principals(std::move(next.principals));
          outcome.applied.push_back("policies=" + std::to_string(plan->policies->size()));
          config->verification.policies_dir = next.verification.policies_dir;
          service.set_policies(plan->policies);
          config->log_level = next.log_level;
          set_log_level(next.log_level);
          if (rebuilt) {
            outcome.applied.push_back("agencies=" + std::to_string(rebuilt->size()));
            verifier.set_adapters(std::move(*rebuilt));
            config->agencies = next.agencies;
            applied_agencies = next_agencies;
          }
          outcome.restart_needed = plan->restart_needed;
          outcome.ok = true;
          record_reload(outcome);
          expiry_timer.cancel();
          watch_expiry();
        });
      });
      wait_reload();
    });
  };
  wait_reload();
  io.run();
  blocking.join();
  // Writes the stores' writers still hold resume on `io`: done before it goes.
  stores.reports->drain_started_writes();
  stores.reviews->drain_started_writes();
  // Batch households this node claimed but did not finish: the other nodes
  // of a cluster take them at once instead of after the lease.
  if (auto s = stores.reviews->release_claims(); !s) {
    log_event(LogLevel::kWarn, "batch_claims_not_released", {{"reason", s.error().message}});
  }

  // The refusals of unidentified callers counted since the last tally record.
  if (auto tally = service.take_refusal_tally()) (void)(*audit)->append_blocking({*tally});
  audit::AuditRecord stopped;
  stopped.action = "daemon.stop";
  stopped.principal = "brokerd";
  stopped.status = "ok";
  (void)(*audit)->append_blocking({stopped});
  if (!config->server.pid_file.empty()) {
    std::error_code ignored;
    std::filesystem::remove(config->server.pid_file, ignored);
    if (!status_file.empty()) std::filesystem::remove(status_file, ignored);
  }
  // The shutdown head: covers every record, written to the anchor too.
  auto final_head = (*audit)->publish_head();
  log_event(
      LogLevel::kInfo, "stopped",
      {{"audit_seq", (*audit)->last_seq()},
       {"audit_tree_size", final_head ? static_cast<std::int64_t>(final_head->tree_size) : 0}});
  return 0;
}

}  // namespace hfv::broker
