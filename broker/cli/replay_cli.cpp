#include "broker/cli/replay_cli.hpp"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "broker/ops/config.hpp"
#include "broker/store/backup.hpp"
#include "broker/store/sqlcipher/report_store.hpp"
#include "broker/store/store_keys.hpp"
#include "broker/verification/input_archive.hpp"
#include "common/time.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/hash.hpp"
#include "crypto/keys.hpp"

namespace hfv::broker {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int failed(const std::string& what, const Error& error) {
  std::printf("FAILED: %s: %s: %s\n", what.c_str(), error.code.c_str(), error.message.c_str());
  return 1;
}

// A private folder for the copy, removed when done.
class Scratch {
 public:
  Scratch() {
    path_ = fs::temp_directory_path() / ("hfv-replay-" + crypto::to_hex(crypto::random_bytes(8)));
    fs::create_directories(path_);
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::replace);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

int report_replay(const std::string& id, const std::string& config_file,
                  const std::string& backup_dir) {
  auto config = load_config(config_file);
  if (!config) return failed("configuration", config.error());
  auto master = crypto::load_master_key(config->storage.master_key_file);
  if (!master) return failed("master key", master.error());
  // The keys reports were signed with: the stored report must verify.
  auto signer = crypto::Ed25519Signer::load(config->verification.signing_key_file);
  if (!signer) return failed("signing key", signer.error());
  auto report_keys = load_report_key_history(config->verification.signing_key_file, signer->public_key());
  if (!report_keys) return failed("signing key history", report_keys.error());
  auto checked = verify_backup(backup_dir, *master);
  if (!checked) return failed("backup verify", checked.error());
  // The state and review databases with their keyrings, copied: opening a
  // store may write (its schema, interrupted rows), the backup must not change.
  Scratch scratch;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(backup_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("state.db") || name.starts_with("review.db")) {
      fs::copy_file(entry.path(), scratch.path() / name, ec);
      if (ec)
        return failed("copy", make_error("io_error", "cannot copy " + name + " from the backup"));
    }
  }
  Config copy = *config;
  copy.storage.state_db = scratch.path() / "state.db";
  copy.storage.review_db = scratch.path() / "review.db";
  copy.storage.backend = StorageBackend::kSqlcipher;
  copy.storage.postgresql = {};
  auto keys = open_store_keys(copy, *master);
  if (!keys) return failed("store keys", keys.error());
  auto store = SqlcipherReportStore::open(copy.storage.state_db, keys->state);
  if (!store) return failed("state database", store.error());
  auto found = (*store)->find_archived(id);
  if (!found) return failed("verification", found.error());
  if (!*found)
    return failed("verification",
                  make_error("not_found", "no verification " + id + " in this backup"));
  const StoredVerification& stored = (*found)->verification;
  if (stored.state != VerificationState::kDone || stored.http_status != 200) {
    return failed("verification",
                  make_error("no_report", "this verification issued no report (state " +
                                              std::string(state_name(stored.state)) + ")"));
  }
  const json report = json::parse(stored.response, nullptr, false);
  if (!report.is_object())
    return failed("verification", make_error("corrupt_state", "the stored report does not parse"));
  auto answer = replay_stored(**found, report, &*report_keys);
  if (!answer) return failed("replay", answer.error());
  const json out = {{"verification_id", id},
                    {"identical", answer->identical},
                    {"policy_version", answer->policy_version},
                    {"differences", answer->differences},
                    {"replayed_at", utc_timestamp_now()},
                    {"backup", checked->created_at}};
  std::printf("%s\n", out.dump(2).c_str());
  return answer->identical ? 0 : 1;
}

}  // namespace hfv::broker
