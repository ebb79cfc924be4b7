// brokerctl: offline tools for operators and supervisors. Works on files
// (a saved report, a copy of the audit database) without a running daemon.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "audit/audit_log.hpp"
#include "audit/export.hpp"
#include "broker/config.hpp"
#include "broker/service.hpp"
#include "crypto/ed25519.hpp"
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
  auto signer = crypto::Ed25519Signer::load(config->signing_key_file);
  if (!signer) return signer.error();
  return signer->public_key();
}

int report_verify(const std::string& file, const std::string& pem_file, const std::string& config_file) {
  auto key = public_key(pem_file, config_file);
  if (!key) {
    std::fprintf(stderr, "brokerctl: %s\n", key.error().message.c_str());
    return 2;
  }
  const json report = json::parse(slurp(file), nullptr, false);
  if (report.is_discarded()) {
    std::fprintf(stderr, "brokerctl: %s is not JSON\n", file.c_str());
    return 1;
  }
  if (!hfv::broker::verify_report_signature(report, *key)) {
    std::printf("INVALID: the signature does not match this report and key (key id %s)\n",
                hfv::broker::key_id(*key).c_str());
    return 1;
  }
  std::printf("OK: report %s signed by key %s (outcome %s)\n",
              report.value("verification_id", std::string("?")).c_str(), hfv::broker::key_id(*key).c_str(),
              report.value("outcome", std::string("?")).c_str());
  return 0;
}

int fail(const std::string& what) {
  std::fprintf(stderr, "brokerctl: %s\n", what.c_str());
  return 2;
}

// The audit key-encryption key, from the master key (HFV_MASTER_KEY, a
// systemd credential, or the config's master_key_file).
hfv::Result<crypto::SecretKey> audit_kek(const hfv::broker::Config& config) {
  auto master = crypto::load_master_key(config.master_key_file);
  if (!master) return master.error();
  return crypto::derive_key(*master, crypto::kPurposeAuditDb);
}

int audit_verify(const std::string& config_file, const std::string& db_override,
                 const std::string& anchor_override, bool no_anchor) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) return fail(config.error().message);
  auto kek = audit_kek(*config);
  if (!kek) return fail("master key: " + kek.error().message);
  const std::filesystem::path db = db_override.empty() ? config->audit_db : std::filesystem::path(db_override);
  std::filesystem::path anchor =
      anchor_override.empty() ? config->audit_anchor_file : std::filesystem::path(anchor_override);
  if (no_anchor) anchor.clear();
  auto report = hfv::audit::AuditLog::verify_file(db, *kek, anchor);
  if (!report) {
    std::printf("FAILED: %s\n", report.error().message.c_str());
    return 1;
  }
  if (!report->ok) {
    std::printf("BROKEN at record %lld: %s (%lld records read)\n", static_cast<long long>(report->first_bad_seq),
                report->problem.c_str(), static_cast<long long>(report->records));
    return 1;
  }
  std::printf("OK: %lld records, tree root %s, %lld signed heads checked, anchor %s\n",
              static_cast<long long>(report->records), report->head_hash.c_str(),
              static_cast<long long>(report->heads_checked), report->anchor_checked ? "checked" : "not checked");
  if (report->latest_head) {
    std::printf("latest signed head: %s\n", hfv::audit::tree_head_json(*report->latest_head).dump().c_str());
  }
  return 0;
}

int audit_verify_export(const std::string& file, const std::string& pem_file, const std::string& config_file) {
  crypto::Ed25519PublicKey key{};
  if (!pem_file.empty()) {
    auto k = crypto::ed25519_public_key_from_pem(slurp(pem_file));
    if (!k) return fail(k.error().message);
    key = *k;
  } else {
    auto config = hfv::broker::load_config(config_file);
    if (!config) return fail(config.error().message);
    auto k = hfv::audit::Keyring::load_public_key(hfv::audit::keyring_path(config->audit_db));
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
  return 0;
}

int audit_rotate_key(const std::string& config_file, bool data_key, const std::string& new_master_file) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) return fail(config.error().message);
  auto kek = audit_kek(*config);
  if (!kek) return fail("master key: " + kek.error().message);
  if (data_key) {
    if (auto s = hfv::audit::AuditLog::rotate_data_key(config->audit_db, *kek); !s) {
      return fail("data-key rotation: " + s.error().message);
    }
    std::printf("OK: the audit database is re-keyed with a new random data key\n");
    return 0;
  }
  // Master rotation: the new master key file is made (if absent) and durable
  // before the keyring is switched to it in one atomic replacement.
  if (auto s = crypto::create_master_key_file(new_master_file); !s && s.error().code != "exists") {
    return fail(s.error().message);
  }
  auto fresh = crypto::load_master_key_file(new_master_file);
  if (!fresh) return fail(fresh.error().message);
  const auto new_kek = crypto::derive_key(*fresh, crypto::kPurposeAuditDb);
  if (auto s = hfv::audit::AuditLog::rewrap_keyring(config->audit_db, *kek, new_kek); !s) {
    return fail("master rotation: " + s.error().message);
  }
  std::printf("OK: the audit keyring is wrapped by the master key in %s (kek id %s);\n"
              "point master_key_file (or HFV_MASTER_KEY / the credential) at it before the next start\n",
              new_master_file.c_str(), hfv::audit::kek_id(new_kek).c_str());
  return 0;
}

int audit_export(const std::string& config_file, long long from, long long to, const std::string& out) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) return fail(config.error().message);
  auto kek = audit_kek(*config);
  if (!kek) return fail("master key: " + kek.error().message);
  hfv::audit::AuditLogOptions options;
  options.anchor_file = config->audit_anchor_file;
  auto log = hfv::audit::AuditLog::open(config->audit_db, *kek, options);
  if (!log) return fail(log.error().message);
  auto head = (*log)->publish_head();
  if (!head) return fail(head.error().message);
  const std::int64_t last = to > 0 ? to : static_cast<std::int64_t>(head->tree_size);
  auto text = (*log)->export_ndjson(from, last, [](const std::string&) { return true; });
  if (!text) return fail(text.error().message);
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  file << *text;
  if (!file.flush()) return fail("cannot write " + out);
  std::printf("OK: records %lld..%lld written to %s\n", from, static_cast<long long>(last), out.c_str());
  return 0;
}

int audit_public_key(const std::string& config_file) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) return fail(config.error().message);
  auto key = hfv::audit::Keyring::load_public_key(hfv::audit::keyring_path(config->audit_db));
  if (!key) return fail(key.error().message);
  std::printf("%s", crypto::ed25519_public_key_pem(*key).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"brokerctl: offline tools for the household financial-verification broker"};
  app.require_subcommand(1);

  auto* report = app.add_subcommand("report", "work with saved reports");
  report->require_subcommand(1);
  auto* report_verify_cmd = report->add_subcommand("verify", "check a saved report's signature offline");
  std::string report_file, pem_file, config_file;
  report_verify_cmd->add_option("file", report_file, "the saved report (JSON)")->required();
  auto* pem = report_verify_cmd->add_option("--public-key", pem_file,
                                            "broker public key PEM (from GET /v1/keys/report-signing)");
  auto* cfg = report_verify_cmd->add_option("--config", config_file, "brokerd config (uses its signing key)");
  pem->excludes(cfg);
  report_verify_cmd->callback([&] {
    if (pem_file.empty() && config_file.empty()) throw CLI::RequiredError("--public-key or --config");
  });

  auto* audit = app.add_subcommand("audit", "work with the audit log");
  audit->require_subcommand(1);
  auto* audit_verify_cmd = audit->add_subcommand(
      "verify", "check every record, signed tree head and the anchor, offline (works on a copy)");
  std::string audit_config, audit_db, audit_anchor;
  bool audit_no_anchor = false;
  audit_verify_cmd->add_option("--config", audit_config, "brokerd config (for the master key)")->required();
  audit_verify_cmd->add_option("--db", audit_db, "audit database to check instead of the configured one");
  audit_verify_cmd->add_option("--anchor", audit_anchor, "anchor file to check against instead of the configured one");
  audit_verify_cmd->add_flag("--no-anchor", audit_no_anchor, "do not check an anchor file");

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
      "rotate-key", "re-key the audit database (--data-key; daemon stopped) or re-wrap its keys (--new-master)");
  std::string rotate_config, rotate_master;
  bool rotate_data = false;
  rotate_cmd->add_option("--config", rotate_config, "brokerd config")->required();
  auto* data_opt = rotate_cmd->add_flag("--data-key", rotate_data, "replace the random database key (re-encrypts)");
  auto* master_opt = rotate_cmd->add_option("--new-master", rotate_master,
                                            "new master key file (created if absent); the keyring is re-wrapped");
  data_opt->excludes(master_opt);
  rotate_cmd->callback([&] {
    if (!rotate_data && rotate_master.empty()) throw CLI::RequiredError("--data-key or --new-master");
  });

  auto* export_cmd = audit->add_subcommand("export", "write a signed NDJSON export of a range (daemon stopped)");
  std::string exp_config, exp_out;
  long long exp_from = 1, exp_to = 0;
  export_cmd->add_option("--config", exp_config, "brokerd config")->required();
  export_cmd->add_option("--from", exp_from, "first sequence number (default 1)");
  export_cmd->add_option("--to", exp_to, "last sequence number (default: the latest)");
  export_cmd->add_option("--out", exp_out, "output file")->required();

  auto* public_key_cmd = audit->add_subcommand("public-key", "print the audit tree-head signing key (PEM)");
  std::string pk_config;
  public_key_cmd->add_option("--config", pk_config, "brokerd config")->required();

  auto* keys = app.add_subcommand("keys", "key material");
  keys->require_subcommand(1);
  auto* keys_public = keys->add_subcommand("public", "print the report-signing public key (PEM)");
  std::string keys_config;
  keys_public->add_option("--config", keys_config, "brokerd config")->required();

  CLI11_PARSE(app, argc, argv);
  if (report_verify_cmd->parsed()) return report_verify(report_file, pem_file, config_file);
  if (audit_verify_cmd->parsed()) return audit_verify(audit_config, audit_db, audit_anchor, audit_no_anchor);
  if (verify_export_cmd->parsed()) return audit_verify_export(export_file, export_pem, export_config);
  if (rotate_cmd->parsed()) return audit_rotate_key(rotate_config, rotate_data, rotate_master);
  if (export_cmd->parsed()) return audit_export(exp_config, exp_from, exp_to, exp_out);
  if (public_key_cmd->parsed()) return audit_public_key(pk_config);
  if (keys_public->parsed()) {
    auto config = hfv::broker::load_config(keys_config);
    if (!config) {
      std::fprintf(stderr, "brokerctl: %s\n", config.error().message.c_str());
      return 2;
    }
    auto signer = crypto::Ed25519Signer::load(config->signing_key_file);
    if (!signer) {
      std::fprintf(stderr, "brokerctl: %s\n", signer.error().message.c_str());
      return 2;
    }
    std::printf("%s", signer->public_key_pem().c_str());
    return 0;
  }
  return 0;
}
