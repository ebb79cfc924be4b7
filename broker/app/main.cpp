// brokerd: the household financial-verification broker daemon.
// Only parses the command line; broker/app/daemon.cpp does the work.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "broker/app/check_config.hpp"
#include "broker/app/daemon.hpp"
#include "broker/ops/heap.hpp"

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  brokerd init --dir DIR [--listen ADDR:PORT] [--agency-url URL] [--policies DIR] [--client NAME]...\n"
    "      create a ready-to-run development setup in DIR: config file, development CA,\n"
    "      server and client certificates, master key and report-signing key. --client\n"
    "      issues one more client certificate (e.g. a peer broker's, docs/cross-region.md).\n"
    "      Existing keys and files are never overwritten.\n"
    "  brokerd run --config FILE\n"
    "      serve the API until SIGTERM or SIGINT. A configuration error exits 78.\n"
    "  brokerd check-config --config FILE\n"
    "      check every file and key `run` would load, without listening or writing;\n"
    "      print every problem (file, key, line) and exit 78, or exit 0 when all is well.\n"
    "  brokerd --help | --version\n";

int usage_error(const std::string& message) {
  (void)std::fprintf(stderr, "brokerd: %s\n%s", message.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage_error("a command is required");
  const std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::printf("%s", kUsage);
    return 0;
  }
  if (command == "--version") {
    // The heap too: a build that lost tcmalloc shows it (docs/operations.md).
    const std::string_view heap = hfv::broker::heap_allocator();
    std::printf("brokerd %s (malloc: %.*s)\n", HFV_VERSION, static_cast<int>(heap.size()), heap.data());
    return 0;
  }
  auto value_of = [&](int& i, std::string& out) {
    if (i + 1 >= argc) return false;
    out = argv[++i];
    return true;
  };
  auto is_help = [](std::string_view flag) { return flag == "--help" || flag == "-h"; };
  if (command == "init") {
    hfv::broker::InitOptions options;
    std::string dir, value;
    for (int i = 2; i < argc; ++i) {
      const std::string_view flag = argv[i];
      if (is_help(flag)) {
        std::printf("%s", kUsage);
        return 0;
      }
      if (flag == "--dir" && value_of(i, dir)) continue;
      if (flag == "--listen" && value_of(i, options.listen)) continue;
      if (flag == "--agency-url" && value_of(i, options.agency_url)) continue;
      if (flag == "--client" && value_of(i, value)) {
        options.clients.push_back(value);
        continue;
      }
      if (flag == "--policies" && value_of(i, value)) {
        options.policies_dir = value;
        continue;
      }
      return usage_error("init: unknown or incomplete option " + std::string(flag));
    }
    if (dir.empty()) return usage_error("init: --dir is required");
    options.dir = dir;
    return hfv::broker::run_init(options);
  }
  if (command == "run" || command == "check-config") {
    const std::string name(command);
    std::string config;
    for (int i = 2; i < argc; ++i) {
      const std::string_view flag = argv[i];
      if (is_help(flag)) {
        std::printf("%s", kUsage);
        return 0;
      }
      if (flag == "--config" && value_of(i, config)) continue;
      return usage_error(name + ": unknown or incomplete option " + std::string(flag));
    }
    if (config.empty()) return usage_error(name + ": --config is required");
    if (command == "check-config") return hfv::broker::run_check_config(config);
    return hfv::broker::run_daemon(config);
  }
  return usage_error("unknown command " + std::string(command));
}
