# A real PostgreSQL server for scripts (bench/run, scripts/cluster-demo), in a
# folder of the caller's, on a loopback port. Source it: `. scripts/lib/pg.sh`.
# PostgreSQL refuses to run as root, and the machines and CI run as root, so
# there the folder is given to `nobody` and the server binaries run under
# setpriv, the way tests/cluster/pg_server.hpp does it. setpriv execs, so the
# pid kept is the postmaster's own and pg_kill is a real SIGKILL of it.
#
#   pg_init DIR                  initdb into DIR/data (DIR is made, given to nobody)
#   pg_standby PRIMARY DIR NAME  a streaming standby of PRIMARY (pg_basebackup -R),
#                                NAME its application_name; start it with pg_start
#   pg_start DIR [NAME=VALUE...] starts the server on a free port; settings as postgres -c
#   pg_port DIR, pg_pid DIR, pg_conninfo DIR [DB]
#   pg_sql DIR SQL [DB]          one statement through psql; unaligned rows on stdout
#   pg_wait_sync PRIMARY NAME    waits until standby NAME replicates synchronously
#   pg_promote DIR               the standby becomes a primary
#   pg_stop DIR                  fast shutdown (SIGINT), waits for it
#   pg_kill DIR                  SIGKILL of the postmaster, then waits until its
#                                orphaned backends have exited too
# Every server is trust-authenticated for the user hfv on 127.0.0.1 only.

pg_bin() {
  local v
  for v in 15 16 17 14 13; do
    if [ -x "/usr/lib/postgresql/$v/bin/postgres" ]; then echo "/usr/lib/postgresql/$v/bin"; return 0; fi
  done
  echo "pg.sh: PostgreSQL server binaries not found (scripts/install-deps installs postgresql-15)" >&2
  return 1
}

# The prefix that runs a command as nobody when we are root (none otherwise).
_pg_user_prefix=()
if [ "$(id -u)" = 0 ]; then _pg_user_prefix=(/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups --); fi

pg_as_user() {  # command...
  "${_pg_user_prefix[@]}" "$@"
}

_pg_own_folder() {  # dir
  mkdir -p "$1"
  chmod 700 "$1"
  if [ "$(id -u)" = 0 ]; then
    chown 65534:65534 "$1"
    # Every folder above must let nobody through (a home folder may not).
    if ! pg_as_user test -w "$1"; then
      echo "pg.sh: the unprivileged server user cannot reach $1; use a folder under /tmp" >&2
      return 1
    fi
  fi
}

pg_init() {  # dir
  local dir=$1 bin
  bin=$(pg_bin) || return 1
  _pg_own_folder "$dir" || return 1
  if ! pg_as_user "$bin/initdb" -D "$dir/data" -U hfv -A trust -E UTF8 --no-locale --no-sync \
      >"$dir/initdb.log" 2>&1; then
    echo "pg.sh: initdb failed (see $dir/initdb.log)" >&2
    return 1
  fi
}

pg_standby() {  # primary-dir dir name
  local primary=$1 dir=$2 name=$3 bin
  bin=$(pg_bin) || return 1
  _pg_own_folder "$dir" || return 1
  if ! pg_as_user "$bin/pg_basebackup" -h 127.0.0.1 -p "$(pg_port "$primary")" -U hfv -D "$dir/data" \
      -R -X stream -c fast --no-sync >"$dir/basebackup.log" 2>&1; then
    echo "pg.sh: pg_basebackup failed (see $dir/basebackup.log)" >&2
    return 1
  fi
  # The walreceiver's application_name, which the primary's
  # synchronous_standby_names names; kept for every later start.
  echo "cluster_name = '$name'" >>"$dir/data/postgresql.auto.conf"
}

_pg_free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then echo "$port"; return 0; fi
  done
  return 1
}

pg_start() {  # dir [name=value...]
  local dir=$1 bin port pid attempt s
  shift
  bin=$(pg_bin) || return 1
  local settings=(-c listen_addresses=127.0.0.1 -c "unix_socket_directories=" -c fsync=on
                  -c synchronous_commit=on -c max_connections=100)
  for s in "$@"; do settings+=(-c "$s"); done
  # The same port again after a stop or a kill, when it had one: a
  # multi-host conninfo names it.
  port=$(cat "$dir/port" 2>/dev/null || true)
  for attempt in 1 2 3 4 5; do
    if [ -z "$port" ] || [ "$attempt" -gt 1 ]; then port=$(_pg_free_port) || return 1; fi
    # Not through the pg_as_user function: `function &` would fork a shell
    # whose pid is not the postmaster's.
    "${_pg_user_prefix[@]}" "$bin/postgres" -D "$dir/data" -p "$port" "${settings[@]}" >>"$dir/postgres.log" 2>&1 &
    pid=$!
    echo "$port" >"$dir/port"
    echo "$pid" >"$dir/pid"
    for _ in $(seq 1 1200); do  # up to 120 s on a loaded machine
      if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U hfv; then return 0; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "pg.sh: postgres did not start (see $dir/postgres.log)" >&2
  return 1
}

pg_port() { cat "$1/port"; }
pg_pid() { cat "$1/pid"; }
pg_conninfo() {  # dir [db]
  echo "host=127.0.0.1 port=$(pg_port "$1") user=hfv dbname=${2:-postgres} connect_timeout=10"
}

pg_sql() {  # dir sql [db]
  "$(pg_bin)/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$(pg_conninfo "$1" "${3:-postgres}")" -c "$2"
}

pg_wait_sync() {  # primary-dir name
  for _ in $(seq 1 1200); do
    [ "$(pg_sql "$1" "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$2'")" = sync ] && return 0
    sleep 0.1
  done
  echo "pg.sh: standby $2 never became synchronous" >&2
  return 1
}

pg_promote() { pg_sql "$1" "SELECT pg_promote(true, 120)" >/dev/null; }

_pg_wait_exit() {  # pid
  for _ in $(seq 1 1200); do
    kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  return 1
}

pg_stop() {  # dir
  local pid
  pid=$(cat "$1/pid" 2>/dev/null) || return 0
  kill -INT "$pid" 2>/dev/null || true
  _pg_wait_exit "$pid" || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1/pid"
}

pg_kill() {  # dir
  local pid data
  pid=$(cat "$1/pid" 2>/dev/null) || return 0
  kill -KILL "$pid" 2>/dev/null || true
  # When it is this shell's child, reaped here, so that bash does not print
  # a "Killed" job notice; otherwise (another shell started it) polled.
  { wait "$pid"; } 2>/dev/null || true
  _pg_wait_exit "$pid" || true
  rm -f "$1/pid"
  # Its backends, checkpointer and so on notice the postmaster's death and
  # exit; until then a client's open connection may still be served by an
  # orphan. Each of them works in the data folder.
  data=$(cd "$1/data" && pwd -P)
  for _ in $(seq 1 1200); do
    find /proc/[0-9]*/cwd -maxdepth 0 -lname "$data" 2>/dev/null | grep -q . || return 0
    sleep 0.1
  done
  echo "pg.sh: the killed server's processes did not exit" >&2
  return 1
}
