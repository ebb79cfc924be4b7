#include "broker/cli/backup_cli.hpp"

#include <cstdio>

#include "broker/ops/config.hpp"
#include "broker/store/backup.hpp"
#include "crypto/keys.hpp"

namespace hfv::broker {

namespace {

int refused(const std::string& what, const Error& error) {
  std::printf("FAILED: %s: %s\n", what.c_str(), error.message.c_str());
  return 1;
}

void print_summary(const BackupSummary& b) {
  std::printf("backup %s: made %s; audit log %llu records (signed head of %s); files:", b.dir.string().c_str(),
              b.created_at.c_str(), static_cast<unsigned long long>(b.audit_records), b.audit_head_timestamp.c_str());
  for (const auto& f : b.files) std::printf(" %s", f.c_str());
  std::printf("\n");
}

}  // namespace

void add_backup_commands(CLI::App& app, BackupCli& cli) {
  cli.backup = app.add_subcommand(
      "backup", "copy the audit log, its keyring and anchor, and the state and review databases to a new "
                "folder while the daemon runs (SQLCipher backend), with a signed manifest");
  cli.backup->add_option("--config", cli.config_file, "brokerd config")->capture_default_str();
  cli.backup->add_option("--to", cli.to, "a new or empty folder");
  cli.backup->require_subcommand(0, 1);
  cli.verify = cli.backup->add_subcommand(
      "verify", "check a backup: the manifest's signature, every file's digest, the whole audit log against "
                "the backup's signed head, every page of the databases");
  cli.verify->add_option("dir", cli.dir, "the backup folder")->required();
  cli.verify->add_option("--config", cli.config_file, "brokerd config (for the master key)")->capture_default_str();

  cli.restore = app.add_subcommand(
      "restore", "put a backup in place of lost data (the daemon stopped, the files absent), check it against "
                 "the newest signed tree head held, and record the restore and what was lost in the audit log");
  cli.restore->add_option("--config", cli.config_file, "brokerd config")->capture_default_str();
  cli.restore->add_option("--from", cli.from, "the backup folder")->required();
  cli.restore->add_option("--newest-head", cli.newest_head,
                          "the newest signed tree head the centre holds (an anchor file kept elsewhere); default: "
                          "the configured anchor file, if it survived");
  cli.restore->add_flag("--accept-unknown-loss", cli.accept_unknown_loss,
                        "restore although no newer head is held, so what was lost cannot be measured");
}

int run_backup_command(const BackupCli& cli) {
  const bool backup = cli.backup != nullptr && cli.backup->parsed();
  const bool verify = cli.verify != nullptr && cli.verify->parsed();
  const bool restore = cli.restore != nullptr && cli.restore->parsed();
  if (!backup && !restore) return -1;
  if (backup && !verify && cli.to.empty()) {
    (void)std::fprintf(stderr, "brokerctl: backup needs --to DIR (or: backup verify DIR)\n");
    return 2;
  }
  auto config = load_config(cli.config_file);
  if (!config) return refused("configuration", config.error());
  auto master = crypto::load_master_key(config->storage.master_key_file);
  if (!master) return refused("master key", master.error());

  if (verify) {
    auto checked = verify_backup(cli.dir, *master);
    if (!checked) return refused("backup verify", checked.error());
    std::printf("OK: ");
    print_summary(*checked);
    return 0;
  }
  if (backup) {
    auto made = make_backup(*config, *master, cli.to);
    if (!made) return refused("backup", made.error());
    std::printf("OK: ");
    print_summary(*made);
    return 0;
  }
  RestoreOptions options;
  options.from = cli.from;
  options.newest_head = cli.newest_head;
  options.accept_unknown_loss = cli.accept_unknown_loss;
  auto restored = restore_backup(*config, *master, options);
  if (!restored) return refused("restore", restored.error());
  std::printf("OK: restored ");
  print_summary(restored->backup);
  if (restored->lost_records) {
    std::printf("lost after the backup: %llu audit records", static_cast<unsigned long long>(*restored->lost_records));
    if (*restored->lost_records > 0) {
      std::printf(" (seq %llu to %llu, up to the signed head of %s)",
                  static_cast<unsigned long long>(restored->backup.audit_records) + 1,
                  static_cast<unsigned long long>(*restored->newest_head_records),
                  restored->newest_head_timestamp.c_str());
    }
    std::printf("\n");
  } else {
    std::printf("lost after the backup: unknown (no newer signed head was held)\n");
  }
  std::printf("recorded in the audit log as audit.restore, seq %lld; start brokerd\n",
              static_cast<long long>(restored->restore_seq));
  return 0;
}

}  // namespace hfv::broker
