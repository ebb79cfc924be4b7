// `brokerctl backup --to DIR`, `backup verify DIR` and `restore --from DIR`:
// backup and restore of the embedded data (broker/store/backup.hpp), with
// the master key the configuration names. Kept apart from brokerctl.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace hfv::broker {

struct BackupCli {
  CLI::App* backup = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* restore = nullptr;
  std::string config_file = "/etc/hfv/brokerd.json";
  std::string to, dir, from, newest_head;
  bool accept_unknown_loss = false;
};

// Adds `backup [verify]` and `restore` to `app`; options land in `cli`.
void add_backup_commands(CLI::App& app, BackupCli& cli);
// Runs the parsed command; -1 when none was parsed. Exit status: 0 done,
// 1 refused or failed (the reason printed), 2 usage.
int run_backup_command(const BackupCli& cli);

}  // namespace hfv::broker
