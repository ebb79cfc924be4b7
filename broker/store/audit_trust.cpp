#include "broker/store/audit_trust.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hfv::broker {

namespace {

// The log's key as its keyring holds it; "not_found" when no log is there.
Result<crypto::Ed25519PublicKey> existing_key(const Config& config, const crypto::SecretKey& kek) {
  const auto where = audit_location(config);
  if (!where.is_postgresql()) {
    const auto keyring = audit::keyring_path(where.file);
    std::error_code ec;
    const bool db = std::filesystem::exists(where.file, ec);
    const bool ring = std::filesystem::exists(keyring, ec);
    if (!db && !ring) return make_error("not_found", "no audit log at " + where.file.string());
    if (!ring) {
      return make_error("bad_keyring", "the audit database " + where.file.string() + " is there but its keyring " +
                                           keyring.string() + " is missing: restore both from a backup");
    }
  }
  return audit::AuditLog::public_key_at(where, kek);
}

}  // namespace

Result<bool> check_audit_log_presence(const Config& config, const crypto::SecretKey& kek) {
  const auto where = audit_location(config);
  auto key = existing_key(config, kek);
  if (!key && key.error().code != "not_found") return key.error();
  const auto& pinned = config.audit.public_key;
  if (!key) {
    if (pinned) {
      return make_error("audit_log_missing",
                        "the audit log (" + where.describe() + ") is missing, but audit.public_key pins key " +
                            audit::audit_key_id(*pinned) +
                            ": a log was there; restore it from a backup (never start a new one in its place)");
    }
    if (!config.audit.create_if_missing) {
      return make_error("audit_log_missing",
                        "there is no audit log at " + where.describe() +
                            ": create one with `brokerctl audit init --config FILE` and pin the key it prints"
                            " as audit.public_key");
    }
    return false;
  }
  if (pinned && *pinned != *key) {
    return make_error("audit_key_mismatch", "the audit log at " + where.describe() + " is signed with key " +
                                                audit::audit_key_id(*key) + ", not the pinned key " +
                                                audit::audit_key_id(*pinned) + " (audit.public_key)");
  }
  return true;
}

Result<crypto::Ed25519PublicKey> init_audit_log(const Config& config, const crypto::SecretKey& kek) {
  const auto where = audit_location(config);
  auto key = existing_key(config, kek);
  if (key) return make_error("exists", "an audit log is already at " + where.describe() + " (key " +
                                           audit::audit_key_id(*key) + "): it is never replaced");
  if (key.error().code != "not_found") return key.error();
  audit::AuditLogOptions options;
  options.anchor_file = config.audit.anchor_file;
  options.head_interval = config.audit.head_interval;
  auto log = audit::AuditLog::open(where, kek, std::move(options));
  if (!log) return log.error();
  audit::AuditRecord first;
  first.action = "audit.init";
  first.status = "created";
  first.detail = "key=" + audit::audit_key_id((*log)->public_key());
  std::vector<audit::AuditRecord> records;
  records.push_back(std::move(first));
  if (auto appended = (*log)->append_blocking(std::move(records)); !appended) return appended.error();
  if (auto head = (*log)->publish_head(); !head) return head.error();
  return (*log)->public_key();
}

Result<ConsentReconciliation> reapply_logged_revocations(const audit::AuditLog& log,
                                                         AuthorizationStore& store) {
  ConsentReconciliation result;
  std::vector<std::pair<std::string, std::string>> revoked;  // (authorisation id, principal)
  audit::AuditQuery query;
  query.action = "authorization.revoke";
  query.limit = 1000;
  auto scanned = log.scan(query, [&](const audit::StoredRecord& record) {
    ++result.revocations;
    const auto body = nlohmann::json::parse(record.body, nullptr, false);
    if (!body.is_object()) return true;
    const auto id = body.value("authorization_id", std::string());
    const auto principal = body.value("principal", std::string());
    if (!id.empty() && !principal.empty()) revoked.emplace_back(id, principal);
    return true;
  });
  if (!scanned) return scanned.error();
  for (const auto& [id, principal] : revoked) {
    auto found = store.find(id, principal);
    if (!found) return found.error();
    if (!*found || !(*found)->revoked_at.empty()) continue;
    auto again = store.revoke(id, principal);
    if (!again) return again.error();
    ++result.reapplied;
  }
  return result;
}

}  // namespace hfv::broker
