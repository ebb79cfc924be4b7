// agency-sim: plays the government agencies over HTTP(S) for tests, demos
// and benchmarks. See simulator/README.md.
#include <utility>

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/agency.hpp"
#include "simulator/dataset.hpp"
#include "simulator/options.hpp"
#include "simulator/request_log.hpp"
#include "simulator/router.hpp"
#include "simulator/server.hpp"

namespace {

namespace net = boost::asio;
using namespace hfv::sim;

constexpr auto kDrainLimit = std::chrono::seconds(5);

// Many slow connections at once need file descriptors: use the hard limit.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::string agency_names() {
  std::string names;
  for (const Agency& a : agencies()) {
    if (!names.empty()) names += ",";
    names += a.name;
  }
  return names;
}

int run(const Options& options) {
  Dataset dataset = load_dataset(options.dataset);
  if (options.latency) dataset.faults().override_latency(*options.latency);
  const std::size_t persons = dataset.person_count();
  Router router(std::move(dataset), options.seed);
  std::optional<RequestLog> request_log;
  if (!options.request_log.empty()) request_log.emplace(options.request_log);

  net::io_context io(1);
  Server server(io, router, options, request_log ? &*request_log : nullptr);
  server.start();
  std::fprintf(stderr, "agency-sim: listening on %s (agencies: %s; persons: %zu%s)\n",
               server.url().c_str(), agency_names().c_str(), persons,
               options.tls_client_ca.empty() ? "" : "; client certificates required");

  net::signal_set signals(io, SIGTERM, SIGINT);
  net::steady_timer drain_limit(io);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    std::fprintf(stderr, "agency-sim: signal %d, stopping\n", signo);
    drain_limit.expires_after(kDrainLimit);
    drain_limit.async_wait([&io](const boost::system::error_code& wait_ec) {
      if (!wait_ec) io.stop();  // connections did not close in time
    });
    server.stop([&drain_limit] { drain_limit.cancel(); });
  });
  io.run();
  std::fprintf(stderr, "agency-sim: stopped\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  Options options;
  try {
    options = parse_options(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "agency-sim: %s\n%s", e.what(), usage().c_str());
    return 2;
  }
  if (options.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  std::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();
  try {
    return run(options);
  } catch (const DatasetError& e) {
    std::fprintf(stderr, "agency-sim: dataset error: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agency-sim: %s\n", e.what());
  }
  return 1;
}
