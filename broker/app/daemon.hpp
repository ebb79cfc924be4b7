// The two things brokerd does: set up a development directory (`init`) and
// run the daemon (`run`). main.cpp only parses the command line and calls
// these. Both return a process exit code and report problems on stderr.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace hfv::broker {

struct InitOptions {
  std::filesystem::path dir;
  std::string listen = "127.0.0.1:8443";
  std::string agency_url = "http://127.0.0.1:9100";
  std::filesystem::path policies_dir;  // empty: the policies shipped with this build
  std::vector<std::string> clients;    // more client certificates (O "HFV development", clientAuth)
};
int run_init(const InitOptions& options);

int run_daemon(const std::filesystem::path& config_file);

}  // namespace hfv::broker
