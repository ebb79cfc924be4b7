// brokerctl: offline tools for operators and supervisors. Works on files
// (a saved report, a copy of the audit database) without a running daemon.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "audit/audit_log.hpp"
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

int audit_verify(const std::string& config_file, const std::string& db_override) {
  auto config = hfv::broker::load_config(config_file);
  if (!config) {
    std::fprintf(stderr, "brokerctl: %s\n", config.error().message.c_str());
    return 2;
  }
  auto master = crypto::load_master_key_file(config->master_key_file);
  if (!master) {
    std::fprintf(stderr, "brokerctl: master key: %s\n", master.error().message.c_str());
    return 2;
  }
  const std::filesystem::path db = db_override.empty() ? config->audit_db : std::filesystem::path(db_override);
  auto log = hfv::audit::AuditLog::open(db, crypto::derive_key(*master, crypto::kPurposeAuditDb));
  if (!log) {
    std::fprintf(stderr, "brokerctl: %s\n", log.error().message.c_str());
    return 1;
  }
  auto report = (*log)->verify();
  if (!report) {
    std::fprintf(stderr, "brokerctl: %s\n", report.error().message.c_str());
    return 1;
  }
  if (!report->ok) {
    std::printf("BROKEN at record %lld: %s (%lld records read)\n", static_cast<long long>(report->first_bad_seq),
                report->problem.c_str(), static_cast<long long>(report->records));
    return 1;
  }
  std::printf("OK: %lld records, chain intact, head %s\n", static_cast<long long>(report->records),
              report->head_hash.c_str());
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
  auto* audit_verify_cmd = audit->add_subcommand("verify", "verify the whole audit chain (works on a copy)");
  std::string audit_config, audit_db;
  audit_verify_cmd->add_option("--config", audit_config, "brokerd config (for the master key)")->required();
  audit_verify_cmd->add_option("--db", audit_db, "audit database to check instead of the configured one");

  auto* keys = app.add_subcommand("keys", "key material");
  keys->require_subcommand(1);
  auto* keys_public = keys->add_subcommand("public", "print the report-signing public key (PEM)");
  std::string keys_config;
  keys_public->add_option("--config", keys_config, "brokerd config")->required();

  CLI11_PARSE(app, argc, argv);
  if (report_verify_cmd->parsed()) return report_verify(report_file, pem_file, config_file);
  if (audit_verify_cmd->parsed()) return audit_verify(audit_config, audit_db);
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
