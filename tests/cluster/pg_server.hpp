// A real PostgreSQL server for tests, started from the Debian binaries
// (initdb, postgres) in a temporary folder on a loopback port, as an
// unprivileged user: PostgreSQL refuses to run as root, and CI runs as
// root, so there the folder is given to `nobody` and the binaries run under
// setpriv (which execs: the process the test holds is the postmaster
// itself, so kill_postmaster() is a real SIGKILL of it).
#pragma once

#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../integration/process.hpp"
#include "../unit/temp_dir.hpp"

namespace hfv::testing {

// The folder with initdb and postgres (Debian: /usr/lib/postgresql/<v>/bin).
inline std::filesystem::path pg_bin_dir() {
  namespace fs = std::filesystem;
  for (const char* v : {"15", "16", "17", "14", "13"}) {
    const fs::path dir = fs::path("/usr/lib/postgresql") / v / "bin";
    if (fs::exists(dir / "postgres")) return dir;
  }
  throw std::runtime_error("PostgreSQL server binaries not found (scripts/install-deps installs postgresql-15)");
}

// A free loopback TCP port (bound and released: a tiny race with other
// processes, retried by PgServer when the server cannot bind).
inline int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    throw std::runtime_error("no free port");
  }
  close(fd);
  return ntohs(a.sin_port);
}

class PgServer {
 public:
  // `settings`: extra "name=value" server settings (postgres -c).
  explicit PgServer(std::vector<std::string> settings = {}) : settings_(std::move(settings)) {
    own_folder();
    Process init(as_user({(pg_bin_dir() / "initdb").string(), "-D", data_dir().string(), "-U", "hfv",
                          "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"}),
                 dir_.path / "initdb.log");
    if (init.stop(0, std::chrono::seconds(120)) != 0) {
      throw std::runtime_error("initdb failed: " + read_file(dir_.path / "initdb.log"));
    }
    start();
  }
  // A streaming-replication standby of `primary`: a base backup taken
  // from it (pg_basebackup -R: standby.signal and primary_conninfo), then
  // started on a port of its own. `name` is its application_name (what
  // the primary's synchronous_standby_names names).
  struct StandbyOf {
    const PgServer& primary;
    std::string name;
  };
  explicit PgServer(const StandbyOf& standby, std::vector<std::string> settings = {})
      : settings_(std::move(settings)) {
    own_folder();
    settings_.push_back("cluster_name=" + standby.name);  // the walreceiver's application_name
    const auto& primary = standby.primary;
    Process backup(as_user({(pg_bin_dir() / "pg_basebackup").string(), "-h", "127.0.0.1", "-p",
                            std::to_string(primary.port()), "-U", "hfv", "-D", data_dir().string(), "-R",
                            "-X", "stream", "-c", "fast", "--no-sync"}),
                   dir_.path / "basebackup.log");
    if (backup.stop(0, std::chrono::seconds(120)) != 0) {
      throw std::runtime_error("pg_basebackup failed: " + read_file(dir_.path / "basebackup.log"));
    }
    start();
  }
  ~PgServer() { stop(); }
  // A standby becomes the primary (pg_promote waits until it is).
  void promote() const { sql("SELECT pg_promote(true, 120)"); }
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return port_; }
  std::filesystem::path data_dir() const { return dir_.path / "data"; }
  std::string conninfo(const std::string& db = "postgres") const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=hfv dbname=" + db +
           " connect_timeout=10";
  }

  // Starts the postmaster (again, after stop() or kill_postmaster(), on the
  // same port) and waits until it accepts connections. A first start may
  // move to another free port when its port was taken meanwhile; a restart
  // never does (clients hold the port in their connection strings): it
  // waits for the killed server's processes to exit (until then the new
  // postmaster finds the old shared memory in use and exits) and retries
  // on the same port.
  void start() {
    const bool restart = port_ != 0;
    if (restart) wait_orphans_gone();
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (!restart && (port_ == 0 || attempt > 0)) port_ = free_port();
      if (restart && attempt > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
      std::vector<std::string> argv = {(pg_bin_dir() / "postgres").string(), "-D", data_dir().string(),
                                       "-p", std::to_string(port_), "-c", "listen_addresses=127.0.0.1",
                                       "-c", "unix_socket_directories=" + dir_.path.string(),
                                       "-c", "fsync=on", "-c", "max_connections=60"};
      for (const auto& s : settings_) {
        argv.push_back("-c");
        argv.push_back(s);
      }
      postmaster_ = std::make_unique<Process>(as_user(argv), dir_.path / "postgres.log");
      if (wait_ready()) return;
      postmaster_->stop(SIGKILL, std::chrono::seconds(30));
    }
    throw std::runtime_error("postgres did not start: " + read_file(dir_.path / "postgres.log"));
  }
  // A fast shutdown (SIGINT: sessions end, a checkpoint is written).
  void stop() {
    if (postmaster_) postmaster_->stop(SIGINT, std::chrono::seconds(60));
    postmaster_.reset();
  }
  // The crash a failover test needs: SIGKILL of the postmaster.
  void kill_postmaster() {
    if (postmaster_) postmaster_->stop(SIGKILL, std::chrono::seconds(30));
    postmaster_.reset();
  }
  // After kill_postmaster(): waits until the server's other processes
  // (backends, checkpointer, ...: each works in the data folder) have
  // noticed and exited. Until then a client's open connection may still be
  // served by its orphaned backend, and start() may find the old shared
  // memory in use. The ceiling is for a loaded machine.
  void wait_orphans_gone(std::chrono::seconds timeout = std::chrono::seconds(120)) const {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path data = fs::canonical(data_dir(), ec);
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      bool any = false;
      for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string pid = entry.path().filename().string();
        if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
        std::error_code gone;  // a process may exit while it is looked at
        if (fs::read_symlink(entry.path() / "cwd", gone) == data && !gone) {
          any = true;
          break;
        }
      }
      if (!any) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("the killed server's processes did not exit");
  }
  // Runs SQL through psql-free libpq (one statement, no result).
  void sql(const std::string& statement, const std::string& db = "postgres") const {
    PGconn* c = PQconnectdb(conninfo(db).c_str());
    PGresult* r = PQexec(c, statement.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    const std::string error = PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    if (!ok) throw std::runtime_error("sql failed: " + error);
  }
  // The first column of every row `query` returns ("" for NULL; none when
  // it fails), its parameters $1, $2, ... as text.
  std::vector<std::string> column(const std::string& query, const std::vector<std::string>& params = {},
                                  const std::string& db = "postgres") const {
    PGconn* c = PQconnectdb(conninfo(db).c_str());
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PGresult* r = PQexecParams(c, query.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                               nullptr, 0);
    std::vector<std::string> out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
      for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetvalue(r, i, 0));
    }
    PQclear(r);
    PQfinish(c);
    return out;
  }
  // The first column of the first row ("" when there is none).
  std::string value(const std::string& query, const std::vector<std::string>& params = {}) const {
    auto values = column(query, params);
    return values.empty() ? std::string() : values.front();
  }
  // On a primary: waits until the standby `name` replicates synchronously.
  void wait_synchronous_standby(const std::string& name) const {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (value("SELECT sync_state FROM pg_stat_replication WHERE application_name = $1", {name}) != "sync") {
      if (std::chrono::steady_clock::now() > until) throw std::runtime_error("the standby never became synchronous");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // Runs a server binary (pg_dump, ...) as the server's user; its output.
  std::string run_tool(const std::string& tool, std::vector<std::string> args) const {
    std::vector<std::string> argv = {(pg_bin_dir() / tool).string()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto out = dir_.path / (tool + ".out");
    Process p(as_user(argv), out);
    if (p.stop(0, std::chrono::seconds(120)) != 0) throw std::runtime_error(tool + " failed: " + read_file(out));
    return read_file(out);
  }

 private:
  void own_folder() {
    if (geteuid() == 0) {
      // nobody (65534) must own the folder: initdb and postgres check it.
      std::filesystem::permissions(dir_.path, std::filesystem::perms::owner_all);
      if (chown(dir_.path.c_str(), 65534, 65534) != 0) throw std::runtime_error("chown failed");
    }
  }
  std::vector<std::string> as_user(std::vector<std::string> argv) const {
    if (geteuid() != 0) return argv;
    std::vector<std::string> wrapped = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                        "--"};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
  }
  // Ready when a connection succeeds; false when the postmaster exited
  // (e.g. the port was taken). The ceiling is for a loaded machine.
  bool wait_ready() {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < until) {
      if (PQping(conninfo().c_str()) == PQPING_OK) return true;
      if (!postmaster_->running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  TempDir dir_{"hfv-pg"};
  std::vector<std::string> settings_;
  std::unique_ptr<Process> postmaster_;
  int port_ = 0;
};

// The connection string a broker of a cluster uses: both servers, and the
// one that accepts writes (libpq multi-host failover), as
// docs/operations.md "Running as a cluster" configures it.
inline std::string failover_conninfo(const PgServer& primary, const PgServer& standby) {
  return "host=127.0.0.1,127.0.0.1 port=" + std::to_string(primary.port()) + "," + std::to_string(standby.port()) +
         " user=hfv dbname=postgres target_session_attrs=read-write connect_timeout=5";
}

}  // namespace hfv::testing
