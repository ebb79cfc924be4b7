#include "broker/api/routes.hpp"

#include <cctype>

#include "broker/api/service.hpp"

namespace hfv::broker {

namespace {

constexpr Callers kCaseSystems = Callers::only(Role::kCaseSystem);
constexpr Callers kSupervisors = Callers::only(Role::kSupervisor);

}  // namespace

std::string Callers::names() const {
  if (open_) return "anyone";
  std::string out;
  for (Role role : {Role::kCaseSystem, Role::kSupervisor, Role::kAdmin, Role::kPeerBroker}) {
    if (allows(role)) out += (out.empty() ? "" : ", ") + std::string(role_name(role));
  }
  return out;
}

std::span<const Route> route_table() {
  using S = Service;
  static const Route kTable[] = {
      // Operations.
      {"GET", "/healthz", Callers::anyone(), false, &S::on_healthz},
      {"GET", "/readyz", Callers::anyone(), false, &S::on_readyz},
      {"GET", "/metrics", Callers::only(Role::kAdmin, Role::kSupervisor), false, &S::on_metrics},
      // Verifications and the household's authorisations.
      {"POST", "/v1/verifications", kCaseSystems, true, &S::on_verify},
      {"GET", "/v1/verifications/{id}", kCaseSystems, true, &S::on_get_verification},
      {"GET", "/v1/verifications/{id}/replay", Callers::only(Role::kCaseSystem, Role::kSupervisor), true,
       &S::on_replay_verification},
      {"POST", "/v1/verifications/{id}/appeals", kCaseSystems, true, &S::on_appeal_verification},
      {"POST", "/v1/authorizations", kCaseSystems, true, &S::on_register_authorization},
      {"GET", "/v1/authorizations/{id}", kCaseSystems, true, &S::on_read_authorization},
      {"POST", "/v1/authorizations/{id}/revoke", kCaseSystems, true, &S::on_revoke_authorization},
      // Another centre's broker asking about members registered here (docs/cross-region.md).
      {"POST", "/v1/peer/queries", Callers::only(Role::kPeerBroker), false, &S::on_peer_query},
      // Public facts any principal may read.
      {"GET", "/v1/policies/{jurisdiction}", Callers::any_principal(), false,
       &S::on_policy_parameters},
      {"GET", "/v1/keys/report-signing", Callers::any_principal(), false, &S::on_signing_key},
      {"GET", "/v1/keys/report-signing/history", Callers::any_principal(), false, &S::on_signing_key_history},
      // Periodic reviews.
      {"POST", "/v1/batches", kCaseSystems, true, &S::on_create_batch},
      {"GET", "/v1/batches/{id}", kCaseSystems, true, &S::on_batch_progress},
      {"DELETE", "/v1/batches/{id}", kCaseSystems, true, &S::on_cancel_batch},
      {"POST", "/v1/batches/{id}/cancel", kCaseSystems, true, &S::on_cancel_batch},
      {"GET", "/v1/batches/{id}/changes", kCaseSystems, true, &S::on_batch_changes},
      {"GET", "/v1/batches/{id}/statistics", kCaseSystems, true, &S::on_batch_statistics},
      // What-if: a candidate policy over archived decisions (supervisors, admins of the code).
      {"POST", "/v1/policies/{jurisdiction}/what-if", Callers::only(Role::kSupervisor, Role::kAdmin), false,
       &S::on_what_if_start},
      {"GET", "/v1/policies/{jurisdiction}/what-if/{job}", Callers::only(Role::kSupervisor, Role::kAdmin), false,
       &S::on_what_if_read},
      {"GET", "/v1/reviews/statistics", Callers::only(Role::kCaseSystem, Role::kSupervisor), true,
       &S::on_review_statistics},
      // The citizen's access log, read by a case system acting for them.
      {"POST", "/v1/access-log", kCaseSystems, false, &S::on_audit},
      // Supervisors: the audit log, its proofs, anomaly flags, the console.
      {"GET", "/v1/audit", kSupervisors, false, &S::on_audit},
      {"POST", "/v1/audit/search", kSupervisors, false, &S::on_audit},
      {"POST", "/v1/audit/household-search", kSupervisors, false, &S::on_audit},
      {"GET", "/v1/audit/verify", kSupervisors, false, &S::on_audit},
      {"GET", "/v1/audit/head", kSupervisors, false, &S::on_audit},
      {"GET", "/v1/audit/key-history", kSupervisors, false, &S::on_audit},
      {"GET", "/v1/audit/proof", kSupervisors, false, &S::on_audit},
      {"GET", "/v1/audit/consistency", kSupervisors, false, &S::on_audit},
      {"GET", "/v1/audit/export", kSupervisors, false, &S::on_audit},
      {"GET", "/v1/audit/anomalies", kSupervisors, false, &S::on_audit_anomalies},
      {"GET", "/console", kSupervisors, false, &S::on_console},
      {"GET", "/console/*", kSupervisors, false, &S::on_console},
  };
  return kTable;
}

std::string_view endpoint_of(std::string_view path) {
  for (const Route& r : route_table()) {
    if (route_matches(r.pattern, path)) return r.pattern;
  }
  return "other";
}

bool body_type_allowed(const Route& route, std::string_view content_type) {
  if (route.method == "GET") return true;
  const std::string_view type = content_type.substr(0, content_type.find(';'));
  std::string media;
  for (char c : type) {
    if (c != ' ' && c != '\t') media += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (media == "application/json") return true;
  return media == "application/x-ndjson" && route.pattern == "/v1/batches";
}

bool route_matches(std::string_view pattern, std::string_view path) {
  while (!pattern.empty()) {
    if (pattern == "*") return true;  // the rest, possibly empty
    if (path.empty()) return false;
    if (pattern.front() == '{') {
      const auto close = pattern.find('}');
      const auto end = path.find('/');
      const std::string_view segment = path.substr(0, end);
      if (close == std::string_view::npos || segment.empty()) return false;
      pattern.remove_prefix(close + 1);
      path.remove_prefix(segment.size());
      continue;
    }
    if (pattern.front() != path.front()) return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
  }
  return path.empty();
}

}  // namespace hfv::broker
