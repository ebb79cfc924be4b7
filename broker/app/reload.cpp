#include "broker/app/reload.hpp"

#include <algorithm>
#include <array>

#include "broker/ops/log.hpp"
#include "common/time.hpp"

namespace hfv::broker {

using nlohmann::json;

bool reloadable_key(const std::string& key) {
  static constexpr std::array<std::string_view, 5> kReloadable = {"tls", "principals", "policies_dir", "log_level",
                                                                  "agencies"};
  return std::find(kReloadable.begin(), kReloadable.end(), key) != kReloadable.end();
}

Result<ReloadPlan> prepare_reload(const std::filesystem::path& file, const json& running) {
  ReloadPlan plan;
  auto next = load_config(file);
  if (!next) return next.error();
  plan.next = std::move(*next);
  plan.document = read_config_document(file);
  auto policies = policies::PolicySet::load_dir(plan.next.verification.policies_dir);
  if (!policies) return make_error(policies.error().code, "policies: " + policies.error().message);
  plan.policies = std::make_shared<const policies::PolicySet>(std::move(*policies));
  auto tls = Server::prepare_tls(plan.next.server);
  if (!tls) return tls.error();
  plan.tls = std::move(*tls);
  // Keys that differ from the running document (added, removed or changed)
  // and that only a restart applies.
  std::vector<std::string> keys;
  for (const auto& [key, value] : running.items()) keys.push_back(key);
  for (const auto& [key, value] : plan.document.items()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (const auto& key : keys) {
    if (reloadable_key(key)) continue;
    const auto a = running.find(key);
    const auto b = plan.document.find(key);
    const bool same = (a == running.end()) == (b == plan.document.end()) && (a == running.end() || *a == *b);
    if (!same) plan.restart_needed.push_back(key);
  }
  return plan;
}

namespace {

constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kCertificateWarn = std::int64_t{14} * 24 * kHour;


}  // namespace

std::int64_t TlsExpiryWatch::check(const TlsFacts& facts, const ServerSettings& settings, std::int64_t now) {
  std::int64_t next_change = kHour;
  auto until = [&](std::int64_t at) {
    if (at > now) next_change = std::min(next_change, at - now);
  };
  // Logs `event` when the state changed or an hour after the last time.
  auto say = [&](Warned& warned, const std::string& state, LogLevel level, const char* event, json fields) {
    if (state == warned.state && (state == "ok" || now - warned.at < kHour)) return;
    warned.state = state;
    warned.at = now;
    if (state != "ok") log_event(level, event, std::move(fields));
  };

  if (facts.crl_next_update) {
    const std::int64_t next_update = *facts.crl_next_update;
    const std::int64_t warn_from = next_update - settings.crl_warn.count();
    const std::int64_t grace_until = next_update + settings.crl_grace.count();
    until(warn_from);
    until(next_update);
    until(grace_until);
    json fields = {{"file", settings.tls_crl_file.string()}, {"next_update", format_utc_seconds(next_update)}};
    if (now >= grace_until) {
      fields["reason"] = "the CRL is past its next update: every client certificate is refused until a new CRL "
                         "is installed and the daemon reloaded (docs/operations.md)";
      say(crl_, "expired", LogLevel::kError, "crl_expired", std::move(fields));
    } else if (now >= next_update) {
      fields["grace_until"] = format_utc_seconds(grace_until);
      fields["reason"] = "the CRL is past its next update: serving on it during tls.crl_grace_hours; install a "
                         "new CRL and reload";
      say(crl_, "grace", LogLevel::kError, "crl_expired", std::move(fields));
    } else if (now >= warn_from) {
      fields["seconds_left"] = next_update - now;
      fields["reason"] = "install a new CRL and reload before its next update";
      say(crl_, "soon", LogLevel::kWarn, "crl_next_update_soon", std::move(fields));
    } else {
      say(crl_, "ok", LogLevel::kInfo, "", {});
    }
  } else {
    say(crl_, "ok", LogLevel::kInfo, "", {});
  }

  const std::int64_t not_after = facts.server_not_after;
  until(not_after - kCertificateWarn);
  until(not_after);
  json fields = {{"file", settings.tls_cert_file.string()}, {"not_after", format_utc_seconds(not_after)}};
  if (now >= not_after) {
    fields["reason"] = "the server certificate has expired: clients refuse the connection";
    say(certificate_, "expired", LogLevel::kError, "server_certificate_expired", std::move(fields));
  } else if (now >= not_after - kCertificateWarn) {
    fields["seconds_left"] = not_after - now;
    fields["reason"] = "rotate the server certificate and reload before it expires";
    say(certificate_, "soon", LogLevel::kWarn, "server_certificate_expires_soon", std::move(fields));
  } else {
    say(certificate_, "ok", LogLevel::kInfo, "", {});
  }
  return std::max<std::int64_t>(1, std::min(next_change, kHour));
}

json ReloadOutcome::to_json(long pid) const {
  json out = {{"generation", generation}, {"pid", pid}, {"result", ok ? "ok" : "refused"}};
  if (!ok) out["reason"] = reason;
  out["applied"] = applied;
  out["restart_needed"] = restart_needed;
  return out;
}

}  // namespace hfv::broker
