// Reload without a restart (SIGHUP, `brokerctl reload`, `systemctl reload`):
// the configuration file is read again and everything that can change under
// a running daemon is prepared — the TLS material (CA bundle, CRL, server
// certificate and key), the principals, the policy files, the log level,
// the agencies (rebuilt when their settings changed) — each validated
// completely. Only when all of it is valid is it applied, at once;
// otherwise nothing changes. Settings that only a restart applies (listen
// address, storage, keys, ...) are named in the outcome when they changed,
// and left as they are.
//
// The outcome is logged, audited (`config.reload`) and written to the
// reload status file, which `brokerctl reload` waits for and prints.
//
// Threading: prepare_reload() touches only files and may run on any thread;
// apply_reload() runs on the daemon's I/O thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker/api/server.hpp"
#include "broker/ops/config.hpp"
#include "common/result.hpp"
#include "policies/policy.hpp"

namespace hfv::broker {

// The top-level keys of brokerd.json a reload applies; a change to any other
// key waits for a restart.
bool reloadable_key(const std::string& key);

// What a reload would change, ready to apply.
struct ReloadPlan {
  Config next;
  nlohmann::json document;  // the file as read, for the next comparison
  std::shared_ptr<const policies::PolicySet> policies;
  Server::PreparedTls tls;
  std::vector<std::string> restart_needed;  // changed keys a reload does not apply
};

// Reads `file` again and prepares everything a reload applies. `running` is
// the document the daemon runs with (to name the keys only a restart
// applies). The error says what is wrong, naming the file, key or line.
Result<ReloadPlan> prepare_reload(const std::filesystem::path& file, const nlohmann::json& running);

// The outcome of one reload, as the status file holds it.
struct ReloadOutcome {
  std::uint64_t generation = 0;  // counts reloads since the daemon started
  bool ok = false;
  std::string reason;            // refused: why
  std::vector<std::string> applied;
  std::vector<std::string> restart_needed;
  nlohmann::json to_json(long pid) const;
};

// Loud warnings before the TLS material stops working: the CRL's nextUpdate
// (from tls.crl_warn_hours before it; passed, with or without the grace of
// tls.crl_grace_hours) and the server certificate's notAfter (from 14 days
// before it). A change of state is logged at once, a standing warning again
// every hour.
class TlsExpiryWatch {
 public:
  // Logs what is due at `now` (seconds since the epoch); answers how long
  // until the next change of state, at most an hour, at least a second.
  std::int64_t check(const TlsFacts& facts, const ServerSettings& settings, std::int64_t now);

 private:
  struct Warned {
    std::string state = "ok";
    std::int64_t at = 0;
  };
  Warned crl_, certificate_;
};

}  // namespace hfv::broker
