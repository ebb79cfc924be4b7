// brokerctl: tools for operators and supervisors. `status` and `reload`
// talk to a running daemon (over mTLS, and by SIGHUP); the others work on
// files (a saved report, a copy of the audit database) without one.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <thread>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <cerrno>
#include <exception>
#include <map>
#include <optional>
#include <system_error>

#include "audit/audit_log.hpp"
#include "audit/checkpoint.hpp"
#include "audit/export.hpp"
#include "common/files.hpp"
#include "common/time.hpp"
#include "broker/cli/backup_cli.hpp"
#include "broker/cli/replay_cli.hpp"
#include "broker/cli/batch_cli.hpp"
#include "broker/cli/cli_http.hpp"
#include "broker/cli/witness_check.hpp"
#include "broker/ops/config.hpp"
#include "broker/ops/metrics.hpp"
#include "broker/store/audit_trust.hpp"
#include "broker/api/service.hpp"
#include "broker/verification/report_key_history.hpp"
#include "broker/store/store_keys.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/hash.hpp"
#include "crypto/keys.hpp"

namespace {

using nlohmann::json;
namespace crypto = hfv::crypto;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CLI::ValidationError("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The broker's public key: from a PEM file, or derived from the signing key
// named by a config file.
hfv::Result<crypto::Ed25519PublicKey> public_key(const std::string& pem_file, const std::string& config_file) {
  if (!pem_file.empty()) return crypto::ed25519_public_key_from_pem(slurp(pem_file));
  auto config = hfv::broker::load_config(config_file);
  if (!config) return config.error();
  auto signer = crypto::Ed25519Signer::load(config->verification.signing_key_file);
  if (!signer) return signer.error();
  return signer->public_key();
}

// The example parameter values the report's outcome rests on
// (provisional_parameters), one a line with value, effective date and
// reference; "none" when it rests on published values only.
void print_provisional(const json& report) {
  const auto it = report.find("provisional_parameters");
  if (it == report.end() || !it->is_array()) return;  // a report from before the field
  if (it->empty()) {
    std::printf("provisional parameters: none (the outcome rests on no example value)\n");
    return;
  }
  std::printf("provisional parameters: the outcome rests on %zu example value(s), not published in a source "
              "the project has:\n",
              it->size());
  for (const auto& p : *it) {
    if (!p.is_object()) continue;
    std::printf("  %s = %s (from %s; %s)\n", p.value("name", std::string("?")).c_str(),
                p.value("value", std::string("?")).c_str(), p.value("effective_from", std::string("?")).c_str(),
                p.value("reference", std::string("?")).c_str());
  }
}

// Where a report key history is fetched from, when --history is a URL.
struct HistoryFetch {
  std::string ca_file, cert_file, key_file;
};

// The history's text: a file, or an https:// URL (GET
// /v1/keys/report-signing/history, over TLS with the given CA and client
// certificate; any principal may read it).
hfv::Result<std::string> history_text(const std::string& where, const HistoryFetch& fetch) {
  if (!where.starts_with("https://")) return slurp(where);
  hfv::broker::CliRequest request;
  request.url = where;
  request.ca_file = fetch.ca_file;
  request.cert_file = fetch.cert_file;
  request.key_file = fetch.key_file;
  request.timeout_seconds = 30;
  const auto answer = hfv::broker::cli_http(request);
  if (answer.status == 0) return hfv::make_error("unreachable", where + ": " + answer.error);
  if (answer.status != 200) {
    return hfv::make_error("http_error", where + ": HTTP " + std::to_string(answer.status));
  }
  return answer.body;
}

// The key history a report is checked against: the --history file (or URL)
// anchored at the trusted key (--public-key PEM, or the config's signing
// key); with --config and no --history, the history beside the signing key.
hfv::Result<hfv::broker::ReportKeyHistory> report_history(const std::string& history_file,
                                                          const std::string& pem_file,
                                                          const std::string& config_file,
                                                          const HistoryFetch& fetch) {
  if (history_file.empty()) {
    auto config = hfv::broker::load_config(config_file);
    if (!config) return config.error();
    auto signer = crypto::Ed25519Signer::load(config->verification.signing_key_file);
    if (!signer) return signer.error();
    return hfv::broker::load_report_key_history(config->verification.signing_key_file, signer->public_key());
  }
  auto anchor = public_key(pem_file, config_file);
  if (!anchor) return anchor.error();
  auto text = history_text(history_file, fetch);
  if (!text) return text.error();
  auto history = hfv::broker::parse_report_key_history(*text);
  if (!history) return history.error();
  if (auto s = hfv::broker::anchor_report_key_history(*history, *anchor); !s) return s.error();
  return history;
}

int report_verify(const std::string& file, const std::string& pem_file, const std::string& config_file,
                  const std::string& history_file, const HistoryFetch& fetch) {
  using hfv::broker::ReportCheck;
  std::string signer_id;
  hfv::broker::ReportVerification checked;
  if (history_file.empty() && !pem_file.empty()) {
    // One key, as before key histories: a report under another key is refused.
    auto key = public_key(pem_file, config_file);
    if (!key) {
      (void)std::fprintf(stderr, "brokerctl: %s\n", key.error().message.c_str());
      return 2;
    }
    signer_id = hfv::broker::key_id(*key);
    checked = hfv::broker::verify_report_text(slurp(file), *key);
  } else {
    auto history = report_history(history_file, pem_file, config_file, fetch);
    if (!history) {
      const std::string& code = history.error().code;
      if (code == "bad_history" || code == "bad_link" || code == "unanchored" || code == "history_mismatch") {
        // Read, but it does not verify: the check failed (exit 1), not the input.
        std::printf("INVALID: %s\n", history.error().message.c_str());
        return 1;
      }
      (void)std::fprintf(stderr, "brokerctl: %s\n", history.error().message.c_str());
      return 2;
    }
    auto found = hfv::broker::verify_report_with_history(slurp(file), *history);
    signer_id = found.key != nullptr ? found.key->key_id : "(none of the history's " +
                                                                std::to_string(history->keys.size()) + " keys)";
    checked = std::move(found.result);
  }
  if (checked.check != ReportCheck::kValid && checked.check != ReportCheck::kValidLegacy) {
    std::printf("INVALID: %s (key id %s)\n", std::string(hfv::broker::describe(checked.check)).c_str(),
                signer_id.c_str());
    return 1;
  }
  const json& report = checked.report;
  std::printf("OK: report %s signed by key %s (outcome %s)\n",
              report.value("verification_id", std::string("?")).c_str(), signer_id.c_str(),
              report.value("outcome", std::string("?")).c_str());
  if (checked.check == ReportCheck::kValidLegacy) {
    std::printf("note: %s\n", std::string(hfv::broker::describe(checked.check)).c_str());
  }
  print_provisional(report);
  return 0;
}

int fail(const std::string& what) {
  (void)std::fprintf(stderr, "brokerctl: %s\n", what.c_str());
  return 2;
}

// Report-signing key rotation (docs/operations.md "Rotating the
// report-signing key"), brokerd stopped: a new key is made beside the
// current one (<key>.new), the history gains the link cross-signed by both
// and is replaced atomically, then the new key is renamed over the old one.
// Stopped half-way, running the command again finishes it: a history that
// already ends with the <key>.new key only needs the rename.
int report_rotate_key(const std::string& config_file) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) return fail(config.error().message);
  if (hfv::broker::brokerd_pid(config->server.pid_file)) {
    return fail("brokerd is running (pid file " + config->server.pid_file.string() +
                "): stop it first, rotate, then start it with the new key");
  }
  const std::filesystem::path key_file = config->verification.signing_key_file;
  const std::filesystem::path new_key_file = key_file.string() + ".new";
  const std::filesystem::path history_file = hfv::broker::report_key_history_path(key_file);
  auto current = crypto::Ed25519Signer::load(key_file);
  if (!current) return fail("signing key: " + current.error().message);
  if (auto s = crypto::create_ed25519_key_file(new_key_file); !s && s.error().code != "exists") {
    return fail(new_key_file.string() + ": " + s.error().message);
  }
  // Run as root (the packaged keys folder is root:_hfv 750), the new key is
  // given the old key's owner, so that brokerd can still read it.
  struct stat old_stat {};
  if (::geteuid() == 0 && ::stat(key_file.c_str(), &old_stat) == 0 &&
      ::chown(new_key_file.c_str(), old_stat.st_uid, old_stat.st_gid) != 0) {
    return fail("cannot give " + new_key_file.string() + " the owner of " + key_file.string() + ": " +
                std::generic_category().message(errno));
  }
  auto fresh = crypto::Ed25519Signer::load(new_key_file);
  if (!fresh) return fail(new_key_file.string() + ": " + fresh.error().message);
  if (fresh->public_key() == current->public_key()) {
    return fail(new_key_file.string() + " holds the current key: remove it and run the command again");
  }
  std::error_code ec;
  std::optional<hfv::broker::ReportKeyHistory> history;
  if (std::filesystem::exists(history_file, ec)) {
    auto read = hfv::broker::parse_report_key_history(slurp(history_file.string()));
    if (!read) return fail(history_file.string() + ": " + read.error().message);
    history = std::move(*read);
  } else {
    history = hfv::broker::initial_report_key_history(current->public_key());
  }
  const bool finished_before = history->current().public_key == fresh->public_key() &&
                               history->keys.size() >= 2 &&
                               history->keys[history->keys.size() - 2].public_key == current->public_key();
  if (!finished_before) {
    auto rotated = hfv::broker::rotate_report_key_history(*history, *current, *fresh, hfv::utc_timestamp_now());
    if (!rotated) return fail(history_file.string() + ": " + rotated.error().message);
    if (auto s = hfv::replace_file_atomically(history_file, rotated->json.dump(2) + "\n", 0644); !s) {
      return fail(history_file.string() + ": " + s.error().message);
    }
    history = std::move(*rotated);
  }
  std::filesystem::rename(new_key_file, key_file, ec);
  if (ec) return fail("cannot move " + new_key_file.string() + " over " + key_file.string() + ": " + ec.message());
  const auto& retired = history->keys[history->keys.size() - 2];
  std::printf("OK: report-signing key %s retired at %s; new key %s signs from now on\n"
              "history: %s (%zu keys; published at GET /v1/keys/report-signing/history once brokerd starts)\n",
              retired.key_id.c_str(), retired.valid_until->c_str(), history->current().key_id.c_str(),
              history_file.string().c_str(), history->keys.size());
  return 0;
}

// The audit key-encryption key, from the master key (HFV_MASTER_KEY, a
// systemd credential, or the config's master_key_file).
hfv::Result<crypto::SecretKey> audit_kek(const hfv::broker::Config& config) {
  auto master = crypto::load_master_key(config.storage.master_key_file);
  if (!master) return master.error();
  return crypto::derive_key(*master, crypto::kPurposeAuditDb);
}

// The configured audit log's signing keys (first key and transitions):
// from its keyring file (no master key needed), or (in PostgreSQL) read with
// the master key.
hfv::Result<hfv::audit::KeyHistory> configured_key_history(const hfv::broker::Config& config) {
  const auto where = hfv::broker::audit_location(config);
  if (!where.is_postgresql()) return hfv::audit::Keyring::load_key_history(hfv::audit::keyring_path(where.file));
  auto kek = audit_kek(config);
  if (!kek) return kek.error();
  return hfv::audit::AuditLog::key_history_at(where, *kek);
}

// The configured audit log's public key (its first: the one audit.public_key pins).
hfv::Result<crypto::Ed25519PublicKey> configured_public_key(const std::string& config_file) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) return config.error();
  auto history = configured_key_history(*config);
  if (!history) return history.error();
  return history->first;
}

// The note verifier key a witness configures for `key` under `origin`.
std::string vkey_of(const std::string& origin, const crypto::Ed25519PublicKey& key) {
  return hfv::audit::note::vkey_text(hfv::audit::note::make_verifier(origin, hfv::audit::note::KeyType::kEd25519, key));
}

// "vkey: <current>", then "retired vkey: <earlier>" newest first: the keys
// a witness lists for the log (docs/operations.md, "Audit witnesses").
void print_vkeys(const std::string& origin, const hfv::audit::KeyHistory& history) {
  const auto keys = history.keys();
  for (std::size_t i = keys.size(); i-- > 0;) {
    std::printf("%s: %s\n", i + 1 == keys.size() ? "vkey" : "retired vkey", vkey_of(origin, keys[i]).c_str());
  }
}

// The witness part of audit verify (broker/cli/witness_check.hpp): 0 when
// every witness agrees with the log, 1 otherwise; prints one line each.
int audit_verify_witnesses(const hfv::broker::Config& config, const hfv::audit::LogLocation& where,
                           const crypto::SecretKey& kek, const std::filesystem::path& anchor,
                           std::int64_t records, const std::vector<std::string>& extra_urls) {
  if (config.audit.witnesses.empty() && extra_urls.empty()) return 0;
  hfv::broker::WitnessCheckInput in;
  auto history = hfv::audit::AuditLog::key_history_at(where, kek);
  if (!history) {
    std::printf("FAILED: the audit log's signing keys: %s\n", history.error().message.c_str());
    return 1;
  }
  in.log_key = history->first;
  in.log_keys = history->keys();
  in.origin = config.audit.origin.empty() ? hfv::audit::default_origin(history->first) : config.audit.origin;
  in.where = where;
  in.kek = kek;
  in.records = static_cast<std::uint64_t>(records);
  if (!anchor.empty()) in.cosigned_file = hfv::audit::cosigned_path(anchor);
  // The cluster keeps them in its database, for every node (and this one).
  if (where.is_postgresql()) in.cosigned_conninfo = config.storage.postgresql.conninfo;
  in.witnesses = config.audit.witnesses;
  in.extra_urls = extra_urls;
  const auto checked = hfv::broker::check_witnesses(in);
  std::printf("witnesses of %s:\n", in.origin.c_str());
  for (const auto& line : checked.lines) std::printf("%s\n", line.c_str());
  return checked.ok ? 0 : 1;
}

// The log's checkpoint origin and note verifier key, for a witness's
// configuration (docs/operations.md, "Audit witnesses").
int audit_vkey(const std::string& config_file) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) return fail(config.error().message);
  // The origin comes from the first key; the vkey is the key that signs
  // now, and after a signing-key rotation the earlier ones follow (a
  // witness lists them all: docs/operations.md).
  auto history = configured_key_history(*config);
  if (!history) return fail("audit log keys: " + history.error().message);
  const std::string origin =
      config->audit.origin.empty() ? hfv::audit::default_origin(history->first) : config->audit.origin;
  std::printf("origin: %s\n", origin.c_str());
  print_vkeys(origin, *history);
  return 0;
}

// The published history of the audit log's signing keys, beside the
// anchor (docs/operations.md, "Rotating the audit signing key"); empty when
// no anchor is configured.
std::filesystem::path audit_key_history_path(const hfv::broker::Config& config) {
  if (config.audit.anchor_file.empty()) return {};
  std::filesystem::path p = config.audit.anchor_file;
  p += ".key-history.json";
  return p;
}

// A published signing-key history (`--history`, or the one beside the
// anchor when there is one) against the log's own: the same chain from the
// same first key. Prints one line; true when it agrees.
bool check_published_key_history(const std::filesystem::path& file, const hfv::audit::KeyHistory& log_keys) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    std::printf("FAILED: key history %s: it does not exist\n", file.string().c_str());
    return false;
  }
  auto published =
      hfv::audit::key_history_from_json(nlohmann::json::parse(slurp(file.string()), nullptr, false));
  if (!published) {
    std::printf("FAILED: key history %s: %s\n", file.string().c_str(), published.error().message.c_str());
    return false;
  }
  if (hfv::audit::key_history_json(*published) != hfv::audit::key_history_json(log_keys)) {
    std::printf("FAILED: key history %s is not the log's (first key %s, %zu transitions; the log: %s, %zu): "
                "publish brokerctl audit key-history again\n",
                file.string().c_str(), hfv::audit::audit_key_id(published->first).c_str(),
                published->transitions.size(), hfv::audit::audit_key_id(log_keys.first).c_str(),
                log_keys.transitions.size());
    return false;
  }
  std::printf("key history %s: the log's (%zu transitions)\n", file.string().c_str(), published->transitions.size());
  return true;
}

int audit_verify(const std::string& config_file, const std::string& db_override,
                 const std::string& anchor_override, bool no_anchor,
                 const std::vector<std::string>& witness_urls, bool no_witnesses,
                 const std::string& history_override) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) return fail(config.error().message);
  auto kek = audit_kek(*config);
  if (!kek) return fail("master key: " + kek.error().message);
  const auto where = db_override.empty() ? hfv::broker::audit_location(*config)
                                         : hfv::audit::LogLocation::sqlcipher(db_override);
  std::filesystem::path anchor =
      anchor_override.empty() ? config->audit.anchor_file : std::filesystem::path(anchor_override);
  if (no_anchor) anchor.clear();
  // A log under another key than the pinned one is not this centre's log,
  // however well it verifies on its own (a wiped and recreated log).
  if (const auto& pinned = config->audit.public_key) {
    auto key = hfv::audit::AuditLog::public_key_at(where, *kek);
    if (!key) {
      std::printf("FAILED: %s\n", key.error().message.c_str());
      return 1;
    }
    if (*key != *pinned) {
      std::printf("FAILED: the log is signed with key %s, not the pinned key %s (audit.public_key)\n",
                  hfv::audit::audit_key_id(*key).c_str(), hfv::audit::audit_key_id(*pinned).c_str());
      return 1;
    }
  }
  auto report = hfv::audit::AuditLog::verify_at(where, *kek, anchor);
  if (!report) {
    std::printf("FAILED: %s\n", report.error().message.c_str());
    return 1;
  }
  const auto& pages = report->pages;
  if (!report->ok) {
    if (pages && !pages->ok()) {
      if (pages->first_bad_page != 0) {
        std::printf("DAMAGED at page %lld: %s\n", static_cast<long long>(pages->first_bad_page),
                    pages->problem.c_str());
      } else if (pages->first_bad_wal_frame != 0) {
        std::printf("DAMAGED at WAL frame %lld: %s\n",
                    static_cast<long long>(pages->first_bad_wal_frame), pages->problem.c_str());
      } else {
        std::printf("DAMAGED: %s\n", pages->problem.c_str());
      }
    }
    if (report->first_bad_seq != 0) {
      std::printf("BROKEN at record %lld: %s (%lld records read)\n",
                  static_cast<long long>(report->first_bad_seq), report->problem.c_str(),
                  static_cast<long long>(report->records));
    }
    return 1;
  }
  std::printf("OK: %lld records, tree root %s, %lld signed heads checked, anchor %s\n",
              static_cast<long long>(report->records), report->head_hash.c_str(),
              static_cast<long long>(report->heads_checked), report->anchor_checked ? "checked" : "not checked");
  if (pages) {
    std::printf("pages: all %lld authenticated, WAL frames: %lld authenticated, %lld ignored; "
                "SQLite integrity_check ok\n",
                static_cast<long long>(pages->pages), static_cast<long long>(pages->wal_frames),
                static_cast<long long>(pages->wal_frames_ignored));
  } else {
    std::printf("pages: not checked (PostgreSQL: the page check is for the SQLCipher file; "
                "PostgreSQL's own data checksums guard its pages)\n");
  }
  if (report->latest_head) {
    std::printf("latest signed head: %s\n", hfv::audit::tree_head_json(*report->latest_head).dump().c_str());
  }
  // After signing-key rotations: the chain from the pinned first key (each
  // transition was checked when the keyring was read, and its root above).
  auto keys = hfv::audit::AuditLog::key_history_at(where, *kek);
  if (!keys) {
    std::printf("FAILED: the log's signing keys: %s\n", keys.error().message.c_str());
    return 1;
  }
  if (!keys->transitions.empty()) {
    std::printf("signing keys: first %s, %zu cross-signed transitions, current %s (from %llu records on)\n",
                hfv::audit::audit_key_id(keys->first).c_str(), keys->transitions.size(),
                hfv::audit::audit_key_id(keys->current()).c_str(),
                static_cast<unsigned long long>(keys->transitions.back().tree_size));
  }
  // The published history: the one named, else the one beside the anchor
  // if a rotation wrote it.
  std::filesystem::path history_file = history_override;
  if (history_file.empty() && db_override.empty()) {
    std::error_code ec;
    if (auto beside = audit_key_history_path(*config); !beside.empty() && std::filesystem::exists(beside, ec))
      history_file = beside;
  }
  if (!history_file.empty() && !check_published_key_history(history_file, *keys)) return 1;
  if (no_witnesses) return 0;
  return audit_verify_witnesses(*config, where, *kek, anchor, report->records, witness_urls);
}

int audit_verify_export(const std::string& file, const std::string& pem_file, const std::string& config_file) {
  crypto::Ed25519PublicKey key{};
  if (!pem_file.empty()) {
    auto k = crypto::ed25519_public_key_from_pem(slurp(pem_file));
    if (!k) return fail(k.error().message);
    key = *k;
  } else {
    auto k = configured_public_key(config_file);
    if (!k) return fail(k.error().message);
    key = *k;
  }
  auto report = hfv::audit::verify_export(slurp(file), key);
  if (!report) {
    std::printf("INVALID: %s\n", report.error().message.c_str());
    return 1;
  }
  if (!report->ok) {
    std::printf("INVALID at record %lld: %s\n", static_cast<long long>(report->first_bad_seq), report->problem.c_str());
    return 1;
  }
  std::printf("OK: %lld records (%lld withheld) included in the signed tree head of size %llu (key %s)\n",
              static_cast<long long>(report->records), static_cast<long long>(report->withheld),
              static_cast<unsigned long long>(report->head.tree_size), report->head.key_id.c_str());
  if (report->rekeyed > 0) {
    std::printf("members re-pseudonymised for this export in %lld records (their personal fields vouched for by "
                "the export's signature, not by the records' commitments)\n",
                static_cast<long long>(report->rekeyed));
  }
  return 0;
}

// Signing-key rotation (audit/key_history.hpp): a new seed, and the
// transition the old and the new key cross-sign at the log's current tree,
// in one atomic keyring write (PostgreSQL: one transaction). The origin
// stays the log's (derived from its FIRST key when not configured), so
// witnesses keep their state; they must learn the new key.
int audit_rotate_signing_key(const hfv::broker::Config& config, const crypto::SecretKey& kek) {
  if (hfv::broker::brokerd_pid(config.server.pid_file)) {
    return fail("brokerd is running (pid file " + config.server.pid_file.string() +
                "): stop it (every broker of a cluster) first, rotate, then start it");
  }
  const auto where = hfv::broker::audit_location(config);
  auto before = hfv::audit::AuditLog::key_history_at(where, kek);
  if (!before) return fail("audit log keys: " + before.error().message);
  if (const auto& pinned = config.audit.public_key; pinned && *pinned != before->first) {
    return fail("the log's first signing key is " + hfv::audit::audit_key_id(before->first) + ", not the pinned key " +
                hfv::audit::audit_key_id(*pinned) + " (audit.public_key): not rotating another log's key");
  }
  const std::string origin =
      config.audit.origin.empty() ? hfv::audit::default_origin(before->first) : config.audit.origin;
  auto t = hfv::audit::AuditLog::rotate_signing_key(where, kek, origin);
  if (!t) return fail("signing-key rotation: " + t.error().message);
  auto after = hfv::audit::AuditLog::key_history_at(where, kek);
  if (!after) return fail("audit log keys after rotation: " + after.error().message);
  const auto history_file = audit_key_history_path(config);
  if (!history_file.empty()) {
    if (auto s = hfv::replace_file_atomically(history_file, hfv::audit::key_history_json(*after).dump(2) + "\n", 0644);
        !s) {
      return fail("the signing key is rotated, but the key history could not be written to " + history_file.string() +
                  ": " + s.error().message + " (brokerctl audit key-history prints it)");
    }
  }
  std::printf("OK: audit signing key %s retired at %llu records; new signing key %s (transition cross-signed by "
              "both)\n",
              hfv::audit::audit_key_id(t->old_key).c_str(), static_cast<unsigned long long>(t->tree_size),
              hfv::audit::audit_key_id(t->new_key).c_str());
  std::printf("origin (unchanged): %s\nnew vkey for witnesses (add it to the log's \"vkeys\"): %s\n", origin.c_str(),
              vkey_of(origin, t->new_key).c_str());
  std::printf("audit.public_key stays the first key %s; key history: %s\n",
              hfv::audit::audit_key_id(after->first).c_str(),
              history_file.empty() ? "brokerctl audit key-history" : history_file.string().c_str());
  return 0;
}

// Offline check of a published signing-key history (a witness's operator,
// an auditor): the chain holds from the key they trust to the current key,
// every transition signed by the key before it. With `origin`, the vkeys to
// configure (docs/operations.md, "After a rotation of the audit signing key").
int audit_check_key_history(const std::string& file, const std::string& pem_file, const std::string& origin) {
  auto trusted = crypto::ed25519_public_key_from_pem(slurp(pem_file));
  if (!trusted) return fail(pem_file + ": " + trusted.error().message);
  auto history = hfv::audit::key_history_from_json(nlohmann::json::parse(slurp(file), nullptr, false));
  if (!history) {
    std::printf("INVALID: %s\n", history.error().message.c_str());
    return 1;
  }
  auto from = hfv::audit::key_history_from(*trusted, *history);
  if (!from) {
    std::printf("INVALID: %s\n", from.error().message.c_str());
    return 1;
  }
  std::printf("OK: %zu cross-signed transitions from the trusted key %s to the current key %s\n",
              from->transitions.size(), hfv::audit::audit_key_id(*trusted).c_str(),
              hfv::audit::audit_key_id(from->current()).c_str());
  for (const auto& t : from->transitions) {
    std::printf("  %s -> %s at %llu records (%s, origin %s)\n", hfv::audit::audit_key_id(t.old_key).c_str(),
                hfv::audit::audit_key_id(t.new_key).c_str(), static_cast<unsigned long long>(t.tree_size),
                t.timestamp.c_str(), t.origin.c_str());
  }
  if (!origin.empty()) {
    if (!from->transitions.empty() && from->transitions.front().origin != origin) {
      std::printf("INVALID: the transitions are for origin %s, not %s\n", from->transitions.front().origin.c_str(),
                  origin.c_str());
      return 1;
    }
    print_vkeys(origin, *from);
  }
  return 0;
}

int audit_key_history(const std::string& config_file) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) return fail(config.error().message);
  auto kek = audit_kek(*config);
  if (!kek) return fail("master key: " + kek.error().message);
  auto history = hfv::audit::AuditLog::key_history_at(hfv::broker::audit_location(*config), *kek);
  if (!history) return fail("audit log keys: " + history.error().message);
  std::printf("%s\n", hfv::audit::key_history_json(*history).dump(2).c_str());
  return 0;
}

int audit_rotate_key(const std::string& config_file, bool data_key, bool signing_key,
                     const std::string& new_master_file) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) return fail(config.error().message);
  auto kek = audit_kek(*config);
  if (!kek) return fail("master key: " + kek.error().message);
  if (signing_key) return audit_rotate_signing_key(*config, *kek);
  if (data_key) {
    if (auto s = hfv::audit::AuditLog::rotate_data_key(hfv::broker::audit_location(*config), *kek); !s) {
      return fail("data-key rotation: " + s.error().message);
    }
    std::printf("OK: the audit database is re-keyed with a new random data key\n");
    return 0;
  }
  // Master rotation (docs/operations.md, "Rotating the master key"): the
  // new master key file is made (if absent) and durable before any keyring
  // is switched to it; then the store keyrings and the audit keyring are
  // re-sealed under it, each in one atomic replacement. Keyrings sealed under
  // it already are left, so running the command again finishes one that
  // stopped half-way.
  if (config->storage.backend == hfv::broker::StorageBackend::kSqlcipher &&
      hfv::broker::brokerd_pid(config->server.pid_file)) {
    return fail("brokerd is running (pid file " + config->server.pid_file.string() +
                "): stop it first, rotate, then start it with the new master key");
  }
  auto master = crypto::load_master_key(config->storage.master_key_file);
  if (!master) return fail("master key: " + master.error().message);
  if (auto s = crypto::create_master_key_file(new_master_file); !s && s.error().code != "exists") {
    return fail(s.error().message);
  }
  auto fresh = crypto::load_master_key_file(new_master_file);
  if (!fresh) return fail(fresh.error().message);
  if (crypto::constant_time_equal(fresh->bytes(), master->bytes())) {
    return fail(new_master_file + " holds the current master key: give a new file");
  }
  if (auto s = hfv::broker::rewrap_store_keys(*config, *master, *fresh); !s) {
    return fail("master rotation (store keyrings): " + s.error().message);
  }
  const auto new_kek = crypto::derive_key(*fresh, crypto::kPurposeAuditDb);
  const auto where = hfv::broker::audit_location(*config);
  const bool audit_done = where.is_postgresql()
                              ? hfv::audit::AuditLog::public_key_at(where, new_kek).ok()
                              : hfv::audit::Keyring::load(hfv::audit::keyring_path(where.file), new_kek).ok();
  if (!audit_done) {
    if (auto s = hfv::audit::AuditLog::rewrap_keyring(where, *kek, new_kek); !s) {
      return fail("master rotation (audit keyring): " + s.error().message);
    }
  }
  std::printf("OK: the audit keyring and the store keyrings are wrapped by the master key in %s (kek id %s);\n"
              "point master_key_file (or HFV_MASTER_KEY / the credential) at it before the next start;\n"
              "the old master key opens nothing any more\n",
              new_master_file.c_str(), hfv::audit::kek_id(new_kek).c_str());
  return 0;
}

int audit_export(const std::string& config_file, long long from, long long to, const std::string& out) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) return fail(config.error().message);
  auto kek = audit_kek(*config);
  if (!kek) return fail("master key: " + kek.error().message);
  hfv::audit::AuditLogOptions options;
  options.anchor_file = config->audit.anchor_file;
  auto log = hfv::audit::AuditLog::open(hfv::broker::audit_location(*config), *kek, options);
  if (!log) return fail(log.error().message);
  auto head = (*log)->publish_head();
  if (!head) return fail(head.error().message);
  const std::int64_t last = to > 0 ? to : static_cast<std::int64_t>(head->tree_size);
  auto text = (*log)->export_ndjson(from, last, [](const std::string&) { return true; });
  if (!text) return fail(text.error().message);
  // Personal fields inside: a new file only its owner reads, never written
  // over an existing one.
  if (auto written = hfv::write_new_file(out, *text, 0600); !written) {
    return fail(written.error().code == "exists" ? out + " exists: choose a new file name"
                                                 : "cannot write " + out + ": " + written.error().message);
  }
  std::printf("OK: records %lld..%lld written to %s\n", from, static_cast<long long>(last), out.c_str());
  return 0;
}

// Creates the configured log (never over an existing one) and prints the
// key to pin as audit.public_key.
int audit_init(const std::string& config_file) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) return fail(config.error().message);
  auto master = crypto::load_master_key(config->storage.master_key_file);
  if (!master) return fail("master key: " + master.error().message);
  // The store keyrings first: a new installation's (random) pseudonym key
  // is chosen by whether any database existed before (store_keys.hpp).
  if (auto keys = hfv::broker::open_store_keys(*config, *master); !keys) {
    return fail("store keys: " + keys.error().message);
  }
  auto key = hfv::broker::init_audit_log(*config, crypto::derive_key(*master, crypto::kPurposeAuditDb));
  if (!key) return fail("audit init: " + key.error().message);
  std::printf("OK: audit log created at %s, key %s\n"
              "pin it in the configuration: \"audit\": {\"public_key\": \"%s\"}\n",
              hfv::broker::audit_location(*config).describe().c_str(), hfv::audit::audit_key_id(*key).c_str(),
              crypto::to_hex(*key).c_str());
  return 0;
}

int audit_public_key(const std::string& config_file) {
  auto key = configured_public_key(config_file);
  if (!key) return fail(key.error().message);
  std::printf("%s", crypto::ed25519_public_key_pem(*key).c_str());
  return 0;
}

// ---- status and reload: the running daemon ------------------------------

using Fetched = hfv::broker::CliAnswer;

// Where and how to reach the daemon: from its config file, overridable.
struct DaemonAccess {
  std::string url;  // https://host:port
  std::string ca_file, cert_file, key_file;
  std::filesystem::path pid_file;
};

Fetched fetch(const DaemonAccess& access, const std::string& path) {
  hfv::broker::CliRequest r;
  r.url = access.url + path;
  r.ca_file = access.ca_file;
  r.cert_file = access.cert_file;
  r.key_file = access.key_file;
  r.timeout_seconds = 10;
  return hfv::broker::cli_http(r);
}

struct AccessOptions {
  std::string config_file = "/etc/hfv/brokerd.json";
  std::string url, ca_file, cert_file, key_file, pid_file;
};

void add_access_options(CLI::App* cmd, AccessOptions& o, bool with_pid_file) {
  cmd->add_option("--config", o.config_file, "brokerd config (listen address, port file, CA, pid file)")
      ->capture_default_str();
  cmd->add_option("--url", o.url, "daemon URL instead of the config's, e.g. https://127.0.0.1:8443");
  cmd->add_option("--ca", o.ca_file, "CA certificate file instead of the config's tls.ca_file");
  auto* cert = cmd->add_option("--cert", o.cert_file,
                               "client certificate (PEM) of an admin or supervisor principal, to read /metrics");
  auto* key = cmd->add_option("--key", o.key_file, "its private key (PEM)");
  cert->needs(key);
  key->needs(cert);
  if (with_pid_file) cmd->add_option("--pid-file", o.pid_file, "pid file instead of the config's pid_file");
}

hfv::Result<DaemonAccess> daemon_access(const AccessOptions& o) {
  DaemonAccess a;
  a.cert_file = o.cert_file;
  a.key_file = o.key_file;
  auto config = hfv::broker::load_config(o.config_file);
  if (!config) return config.error();
  a.ca_file = o.ca_file.empty() ? config->server.tls_ca_file.string() : o.ca_file;
  a.pid_file = o.pid_file.empty() ? config->server.pid_file : std::filesystem::path(o.pid_file);
  if (!o.url.empty()) {
    a.url = o.url;
    return a;
  }
  // The bound port is in the port file when the config asks for port 0.
  unsigned long port = config->server.listen_port;
  if (!config->server.port_file.empty()) {
    std::ifstream in(config->server.port_file);
    unsigned long written = 0;
    if (in >> written && written > 0 && written <= 65535) port = written;
  }
  std::string host = config->server.listen_address;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  a.url = "https://" + host + ":" + std::to_string(port);
  return a;
}

// The pid in the pid file, if that process is a brokerd (ops/config.hpp).
hfv::Result<pid_t> daemon_pid(const std::filesystem::path& pid_file) {
  auto pid = hfv::broker::brokerd_pid(pid_file);
  if (!pid) return pid.error();
  return static_cast<pid_t>(*pid);
}

double metric(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

// Reads /metrics; an error text when it cannot.
hfv::Result<std::map<std::string, double>> read_metrics(const DaemonAccess& access) {
  const Fetched r = fetch(access, "/metrics");
  if (r.status == 0) return hfv::make_error("unreachable", r.error);
  if (r.status != 200) {
    const json body = json::parse(r.body, nullptr, false);
    const std::string code = body.is_object() ? body.value("error", std::string()) : std::string();
    return hfv::make_error("refused", "HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code));
  }
  return hfv::broker::parse_metrics_text(r.body);
}

// The value of `key="..."` in a sample's label text, "" when absent.
std::string label_value(const std::string& sample, const std::string& key) {
  const std::string start = key + "=\"";
  const auto at = sample.find(start);
  if (at == std::string::npos) return "";
  const auto end = sample.find('"', at + start.size());
  return end == std::string::npos ? "" : sample.substr(at + start.size(), end - at - start.size());
}

// Policies whose parameters are stale today or will be within 60 days
// (hfv_policy_parameter_stale_from_timestamp_seconds), by jurisdiction:
//   stale policies: 110108 (dibao_standard_monthly.urban since 2025-07-01)
//   stale within 60 days: 230100 (minimum_wage_monthly from 2027-01-01)
void print_stale_policies(const std::map<std::string, double>& m) {
  const std::string prefix = "hfv_policy_parameter_stale_from_timestamp_seconds{";
  std::map<std::string, std::string> stale, soon;  // jurisdiction -> "param since|from date; ..."
  for (const auto& [key, value] : m) {
    if (!key.starts_with(prefix)) continue;
    const auto days = static_cast<long>(std::floor(value / 86400.0));
    const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
    const auto day = hfv::Date::from_ymd(static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                                         static_cast<unsigned>(ymd.day()));
    const bool now = label_value(key, "state") == "stale";
    std::string& line = (now ? stale : soon)[label_value(key, "jurisdiction")];
    if (!line.empty()) line += "; ";
    line += label_value(key, "parameter");
    line += now ? " since " : " from ";
    line += day ? day->to_string() : "?";
  }
  const auto print = [](const char* what, const std::map<std::string, std::string>& by_policy) {
    std::string text;
    for (const auto& [code, params] : by_policy) {
      text += text.empty() ? " " : ", ";
      text += code;
      text += " (";
      text += params;
      text += ")";
    }
    std::printf("%s:%s\n", what, text.empty() ? " none" : text.c_str());
  };
  print("stale policies", stale);
  print("stale within 60 days", soon);
}

// Exit status of `status` when brokerctl cannot read its own CA, client
// certificate or key: not the daemon's fault (docs/operations.md).
constexpr int kExitLocalFiles = 3;

// The CA, certificate and key files brokerctl itself must read; the first
// it cannot, named with the reason.
std::optional<std::string> unreadable_access_file(const DaemonAccess& access) {
  for (auto [what, file] : {std::pair{"the CA file", &access.ca_file},
                            std::pair{"the client certificate", &access.cert_file},
                            std::pair{"the client key", &access.key_file}}) {
    if (file->empty()) continue;
    std::ifstream in(*file);
    if (!in) {
      return std::string("cannot read ") + what + " " + *file + ": " + std::generic_category().message(errno);
    }
  }
  return std::nullopt;
}

int status_command(const AccessOptions& options) {
  auto access = daemon_access(options);
  if (!access) return fail(access.error().message);
  if (auto problem = unreadable_access_file(*access)) {
    (void)std::fprintf(stderr, "brokerctl: %s\n", problem->c_str());
    return kExitLocalFiles;
  }
  const Fetched health = fetch(*access, "/healthz");
  if (health.status == 0 && health.local_files_failed()) {
    (void)std::fprintf(stderr, "brokerctl: cannot use the CA file, client certificate or key (%s): %s\n",
                       access->ca_file.c_str(), health.error.c_str());
    return kExitLocalFiles;
  }
  if (health.status != 200) {
    std::printf("brokerd at %s: DOWN (%s)\n", access->url.c_str(),
                health.status == 0 ? health.error.c_str() : ("HTTP " + std::to_string(health.status)).c_str());
    return 1;
  }
  std::printf("brokerd at %s: up (healthz ok)\n", access->url.c_str());
  if (auto pid = daemon_pid(access->pid_file)) std::printf("pid: %d\n", static_cast<int>(*pid));
  if (access->cert_file.empty()) {
    std::printf("metrics: not read (give --cert and --key of an admin or supervisor principal)\n");
    return 0;
  }
  auto m = read_metrics(*access);
  if (!m) {
    std::printf("metrics: %s\n", m.error().message.c_str());
    return 1;
  }
  std::string version = "?";
  for (const auto& [key, value] : *m) {
    if (key.starts_with("hfv_build_info{version=\"")) {
      version = key.substr(24, key.size() - 26);
    }
  }
  const double started = metric(*m, "hfv_start_time_seconds");
  const auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::printf("version: %s, up %.0f s\n", version.c_str(), started > 0 ? now - started : 0.0);
  double answered = 0;
  for (const auto& [key, value] : *m) {
    if (key.starts_with("hfv_http_requests_total{")) answered += value;
  }
  std::printf("requests: %.0f in flight, %.0f answered\n", metric(*m, "hfv_requests_in_flight"), answered);
  std::printf("verifications: %.0f done\n", metric(*m, "hfv_verification_duration_seconds_count"));
  std::printf("audit: last sequence %.0f, %.0f appends, %.0f failed\n", metric(*m, "hfv_audit_last_sequence"),
              metric(*m, "hfv_audit_append_duration_seconds_count"), metric(*m, "hfv_audit_append_failures_total"));
  std::printf("policies: %.0f loaded, reloads %.0f ok / %.0f refused\n", metric(*m, "hfv_policies_loaded"),
              metric(*m, "hfv_policy_reloads_total{result=\"ok\"}"),
              metric(*m, "hfv_policy_reloads_total{result=\"refused\"}"));
  print_stale_policies(*m);
  std::string breakers;
  const std::string prefix = "hfv_agency_breaker_state{agency=\"";
  for (const auto& [key, value] : *m) {
    if (!key.starts_with(prefix) || value != 1) continue;
    const auto agency_end = key.find('"', prefix.size());
    const auto state_start = key.find("state=\"", agency_end);
    if (agency_end == std::string::npos || state_start == std::string::npos) continue;
    breakers += " " + key.substr(prefix.size(), agency_end - prefix.size()) + "=" +
                key.substr(state_start + 7, key.find('"', state_start + 7) - state_start - 7);
  }
  std::printf("agency breakers:%s\n", breakers.empty() ? " (none)" : breakers.c_str());
  return 0;
}

// The pid file a config names, read leniently: a reload is how an operator
// applies a fix, so a config that would not load as a whole (the very thing
// the reload will report) must not stop brokerctl from signalling.
std::filesystem::path reload_pid_file(const AccessOptions& options) {
  if (!options.pid_file.empty()) return options.pid_file;
  const auto doc = hfv::broker::read_config_document(options.config_file);
  if (!doc.contains("pid_file") || !doc["pid_file"].is_string()) return {};
  std::filesystem::path p(doc["pid_file"].get<std::string>());
  return p.is_absolute() ? p : std::filesystem::path(options.config_file).parent_path() / p;
}

// The reload outcome the daemon wrote (app/reload.hpp), if it is pid's.
std::optional<nlohmann::json> reload_outcome(const std::filesystem::path& file, pid_t pid) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (!doc.is_object() || doc.value("pid", 0L) != static_cast<long>(pid)) return std::nullopt;
  return doc;
}

std::string joined(const nlohmann::json& list) {
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : ", ") + item.get<std::string>();
  return out;
}

// SIGHUP to the daemon, then the outcome it writes beside its pid file:
// OK (exit 0) or REFUSED with the reason (exit 1), so that `systemctl
// reload` fails when the reload was refused.
int reload_command(const AccessOptions& options, int wait_seconds) {
  const auto pid_file = reload_pid_file(options);
  auto pid = daemon_pid(pid_file);
  if (!pid) return fail(pid.error().message);
  const auto status_file = hfv::broker::reload_status_file(pid_file);
  std::uint64_t before = 0;
  if (auto last = reload_outcome(status_file, *pid)) before = last->value("generation", std::uint64_t{0});
  if (::kill(*pid, SIGHUP) != 0) {
    const int err = errno;
    return fail("cannot signal pid " + std::to_string(*pid) + ": " +
                std::generic_category().message(err));
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto outcome = reload_outcome(status_file, *pid);
    if (!outcome || outcome->value("generation", std::uint64_t{0}) <= before) continue;
    if (outcome->value("result", "") == "ok") {
      std::printf("OK: configuration reloaded (%s)\n", joined(outcome->value("applied", nlohmann::json::array())).c_str());
      const auto restart = outcome->value("restart_needed", nlohmann::json::array());
      if (!restart.empty()) {
        std::printf("changed in the file, applied only by a restart: %s\n", joined(restart).c_str());
      }
      return 0;
    }
    std::printf("REFUSED: %s\nnothing was changed; the daemon runs on as before\n",
                outcome->value("reason", "(no reason given)").c_str());
    return 1;
  }
  std::printf("UNKNOWN: no reload outcome within %d s (see the daemon's log: config_reloaded or "
              "config_reload_refused)\n", wait_seconds);
  return 1;
}

// main() without the last-resort catch.
int run(int argc, char** argv) {
  CLI::App app{"brokerctl: operator tools for the household financial-verification broker"};
  app.require_subcommand(1);

  auto* report = app.add_subcommand("report", "work with saved reports");
  report->require_subcommand(1);
  auto* report_verify_cmd = report->add_subcommand("verify", "check a saved report's signature offline; show the example values its outcome rests on");
  std::string report_file, pem_file, config_file;
  std::string history_file;
  report_verify_cmd->add_option("file", report_file, "the saved report (JSON)")->required();
  auto* pem = report_verify_cmd->add_option(
      "--public-key", pem_file,
      "broker public key PEM (from GET /v1/keys/report-signing); with --history: the trusted key the history "
      "must contain");
  auto* cfg = report_verify_cmd->add_option(
      "--config", config_file, "brokerd config (uses its signing key and the key history beside it)");
  report_verify_cmd->add_option("--history", history_file,
                                "key history: a file saved from GET /v1/keys/report-signing/history, or that "
                                "https:// URL to fetch it; the report is checked against the key its key_id names, "
                                "within that key's validity");
  HistoryFetch history_fetch;
  report_verify_cmd->add_option("--ca", history_fetch.ca_file, "with a --history URL: the broker's CA certificate");
  auto* history_cert = report_verify_cmd->add_option("--cert", history_fetch.cert_file,
                                                     "with a --history URL: a client certificate (PEM) of any "
                                                     "principal");
  auto* history_key = report_verify_cmd->add_option("--key", history_fetch.key_file, "its private key (PEM)");
  history_cert->needs(history_key);
  history_key->needs(history_cert);
  pem->excludes(cfg);
  report_verify_cmd->callback([&] {
    if (pem_file.empty() && config_file.empty()) throw CLI::RequiredError("--public-key or --config");
  });
  auto* report_replay_cmd = report->add_subcommand(
      "replay", "evaluate a report again from its input archive, with the policy version it names, offline from a "
                "backup (as GET /v1/verifications/{id}/replay); exit 0 identical, 1 different or not replayed");
  std::string replay_id, replay_config = "/etc/hfv/brokerd.json", replay_from;
  report_replay_cmd->add_option("id", replay_id, "the verification id (ver_...)")->required();
  report_replay_cmd->add_option("--config", replay_config, "brokerd config (for the master key)")->capture_default_str();
  report_replay_cmd->add_option("--from", replay_from, "the backup folder (brokerctl backup --to)")->required();
  auto* report_rotate_cmd = report->add_subcommand(
      "rotate-key", "replace the report-signing key (brokerd stopped); the retired key stays in the published key "
                    "history, cross-signed with the new one");
  std::string report_rotate_config;
  report_rotate_cmd->add_option("--config", report_rotate_config, "brokerd config")->required();

  auto* audit = app.add_subcommand("audit", "work with the audit log");
  audit->require_subcommand(1);
  auto* audit_verify_cmd = audit->add_subcommand(
      "verify", "check every page of the file, every record, signed tree head and the anchor, offline (works on a copy)");
  std::string audit_config, audit_db, audit_anchor;
  bool audit_no_anchor = false;
  audit_verify_cmd->add_option("--config", audit_config, "brokerd config (for the master key)")->required();
  audit_verify_cmd->add_option("--db", audit_db, "audit database to check instead of the configured one");
  audit_verify_cmd->add_option("--anchor", audit_anchor, "anchor file to check against instead of the configured one");
  audit_verify_cmd->add_flag("--no-anchor", audit_no_anchor, "do not check an anchor file");
  std::string audit_history;
  audit_verify_cmd->add_option("--history", audit_history,
                               "published signing-key history to compare with the log's (default: "
                               "<anchor>.key-history.json when a rotation wrote it)");
  std::vector<std::string> audit_witness_urls;
  bool audit_no_witnesses = false;
  audit_verify_cmd->add_option("--witness", audit_witness_urls,
                               "also compare with this witness's latest checkpoint (URL; its cosignature is not checked)");
  audit_verify_cmd->add_flag("--no-witnesses", audit_no_witnesses,
                             "do not check the configured witnesses' cosignatures (offline copy)");

  auto* audit_vkey_cmd = audit->add_subcommand(
      "vkey", "print the audit log's checkpoint origin and note key, for a witness's configuration");
  std::string vkey_config;
  audit_vkey_cmd->add_option("--config", vkey_config, "brokerd config")->required();

  auto* verify_export_cmd = audit->add_subcommand(
      "verify-export", "check a signed NDJSON export offline (tree head, inclusion proofs, signature)");
  std::string export_file, export_pem, export_config;
  verify_export_cmd->add_option("file", export_file, "the export (NDJSON)")->required();
  auto* export_pem_opt = verify_export_cmd->add_option("--public-key", export_pem,
                                                       "audit public key PEM (brokerctl audit public-key)");
  auto* export_cfg_opt = verify_export_cmd->add_option("--config", export_config,
                                                       "brokerd config (uses the audit keyring's public key)");
  export_pem_opt->excludes(export_cfg_opt);
  verify_export_cmd->callback([&] {
    if (export_pem.empty() && export_config.empty()) throw CLI::RequiredError("--public-key or --config");
  });

  auto* rotate_cmd = audit->add_subcommand(
      "rotate-key", "re-key the audit database (--data-key; daemon stopped) or re-wrap every keyring under a new "
                    "master key (--new-master; daemon stopped)");
  std::string rotate_config, rotate_master;
  bool rotate_data = false;
  bool rotate_signing = false;
  rotate_cmd->add_option("--config", rotate_config, "brokerd config")->required();
  auto* data_opt = rotate_cmd->add_flag("--data-key", rotate_data, "replace the random database key (re-encrypts)");
  auto* signing_opt = rotate_cmd->add_flag(
      "--signing-key", rotate_signing,
      "replace the tree-head signing key; the old and the new key cross-sign a key transition at the current tree "
      "(daemon stopped)");
  auto* master_opt = rotate_cmd->add_option("--new-master", rotate_master,
                                            "new master key file (created if absent); the audit, state and review keyrings "
                                            "are re-wrapped under it (daemon stopped)");
  data_opt->excludes(master_opt);
  signing_opt->excludes(master_opt);
  signing_opt->excludes(data_opt);
  rotate_cmd->callback([&] {
    if (!rotate_data && !rotate_signing && rotate_master.empty())
      throw CLI::RequiredError("--data-key, --signing-key or --new-master");
  });

  auto* key_history_cmd = audit->add_subcommand(
      "key-history", "print the audit log's signing-key history (first key, cross-signed transitions)");
  std::string key_history_config;
  key_history_cmd->add_option("--config", key_history_config, "brokerd config")->required();

  auto* check_history_cmd = audit->add_subcommand(
      "check-key-history", "check a published signing-key history offline, from a trusted key (the first: "
                           "brokerctl audit public-key)");
  std::string check_history_file, check_history_pem, check_history_origin;
  check_history_cmd->add_option("file", check_history_file, "the history (<anchor>.key-history.json)")->required();
  check_history_cmd->add_option("--public-key", check_history_pem, "trusted audit public key PEM")->required();
  check_history_cmd->add_option("--origin", check_history_origin, "the log's checkpoint origin: print its vkeys");

  auto* export_cmd = audit->add_subcommand("export", "write a signed NDJSON export of a range (daemon stopped)");
  std::string exp_config, exp_out;
  long long exp_from = 1, exp_to = 0;
  export_cmd->add_option("--config", exp_config, "brokerd config")->required();
  export_cmd->add_option("--from", exp_from, "first sequence number (default 1)");
  export_cmd->add_option("--to", exp_to, "last sequence number (default: the latest)");
  export_cmd->add_option("--out", exp_out, "output file")->required();

  auto* init_cmd = audit->add_subcommand(
      "init", "create the configured audit log (refuses when one is there) and print the key to pin");
  std::string init_config;
  init_cmd->add_option("--config", init_config, "brokerd config")->required();

  auto* public_key_cmd = audit->add_subcommand("public-key", "print the audit log's first signing key, the one audit.public_key pins (PEM)");
  std::string pk_config;
  public_key_cmd->add_option("--config", pk_config, "brokerd config")->required();

  auto* keys = app.add_subcommand("keys", "key material");
  keys->require_subcommand(1);
  auto* keys_public = keys->add_subcommand("public", "print the report-signing public key (PEM)");
  std::string keys_config;
  keys_public->add_option("--config", keys_config, "brokerd config")->required();

  auto* status_cmd = app.add_subcommand("status", "is the daemon up; its version, load, audit, policies, agencies");
  AccessOptions status_options;
  add_access_options(status_cmd, status_options, /*with_pid_file=*/true);

  auto* reload_cmd = app.add_subcommand(
      "reload", "make the daemon reload its configuration: TLS files, CRL, principals, policy files (SIGHUP "
                "to the pid in the pid file); waits for and prints the outcome, exit 1 if refused");
  AccessOptions reload_options;
  int reload_wait = 10;
  add_access_options(reload_cmd, reload_options, /*with_pid_file=*/true);
  reload_cmd->add_option("--wait", reload_wait, "seconds to wait for the outcome")
      ->check(CLI::Range(1, 300))
      ->capture_default_str();

  hfv::broker::BackupCli backup_cli;  // `backup [verify]`, `restore` (broker/cli/backup_cli.hpp)
  hfv::broker::add_backup_commands(app, backup_cli);

  hfv::broker::ReviewCli review_cli;  // `review run|status|stats` (broker/cli/batch_cli.hpp)
  hfv::broker::add_review_commands(app, review_cli);

  app.set_version_flag("--version", std::string("brokerctl ") + HFV_VERSION);
  // A usage error exits 2 (docs/operations.md), not CLI11's own codes (106, 109, ...).
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (int rc = hfv::broker::run_review_command(review_cli); rc >= 0) return rc;
  if (int rc = hfv::broker::run_backup_command(backup_cli); rc >= 0) return rc;
  if (status_cmd->parsed()) return status_command(status_options);
  if (reload_cmd->parsed()) return reload_command(reload_options, reload_wait);
  if (report_verify_cmd->parsed()) return report_verify(report_file, pem_file, config_file, history_file, history_fetch);
  if (report_replay_cmd->parsed()) return hfv::broker::report_replay(replay_id, replay_config, replay_from);
  if (report_rotate_cmd->parsed()) return report_rotate_key(report_rotate_config);
  if (audit_verify_cmd->parsed())
    return audit_verify(audit_config, audit_db, audit_anchor, audit_no_anchor, audit_witness_urls, audit_no_witnesses,
                        audit_history);
  if (audit_vkey_cmd->parsed()) return audit_vkey(vkey_config);
  if (verify_export_cmd->parsed()) return audit_verify_export(export_file, export_pem, export_config);
  if (rotate_cmd->parsed()) return audit_rotate_key(rotate_config, rotate_data, rotate_signing, rotate_master);
  if (key_history_cmd->parsed()) return audit_key_history(key_history_config);
  if (check_history_cmd->parsed())
    return audit_check_key_history(check_history_file, check_history_pem, check_history_origin);
  if (export_cmd->parsed()) return audit_export(exp_config, exp_from, exp_to, exp_out);
  if (init_cmd->parsed()) return audit_init(init_config);
  if (public_key_cmd->parsed()) return audit_public_key(pk_config);
  if (keys_public->parsed()) {
    auto config = hfv::broker::load_config(keys_config);
    if (!config) {
      (void)std::fprintf(stderr, "brokerctl: %s\n", config.error().message.c_str());
      return 2;
    }
    auto signer = crypto::Ed25519Signer::load(config->verification.signing_key_file);
    if (!signer) {
      (void)std::fprintf(stderr, "brokerctl: %s\n", signer.error().message.c_str());
      return 2;
    }
    std::printf("%s", signer->public_key_pem().c_str());
    return 0;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    return fail(e.what());
  } catch (...) {
    return fail("unexpected error");
  }
}
