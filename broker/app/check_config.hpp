// `brokerd check-config`: reads every file and key `brokerd run` would load
// (the config file, TLS files, master and signing keys, policies, division
// codes, agencies and their TLS files, storage locations) without listening,
// opening a database or writing anything, and reports every problem found,
// one line each naming the file and the key (and for a JSON syntax error the
// line and column). Thread-safety: touches only its arguments and files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace hfv::broker {

// Exit status of a configuration error, at `run` start and for
// `check-config` (sysexits.h EX_CONFIG; the systemd unit does not restart on it).
inline constexpr int kExitConfig = 78;

// Every problem found, in the order checked; empty when the daemon would load it.
std::vector<std::string> check_config(const std::filesystem::path& config_file);

// Prints the problems on stderr (or "ok" on stdout); returns 0 or kExitConfig.
int run_check_config(const std::filesystem::path& config_file);

}  // namespace hfv::broker
