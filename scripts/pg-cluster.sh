#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks (never the system
# service): Debian's binaries under /usr/lib/postgresql/*/bin, run as the
# `postgres` user when we are root, listening on 127.0.0.1:PORT with its
# socket in the data directory, trust authentication, durability off
# (fsync, synchronous_commit, full_page_writes) — for tests only.
#
#   scripts/pg-cluster.sh start DIR [PORT]   prints the URL to use, e.g.
#                                            postgresql://postgres@127.0.0.1:PORT/postgres
#   scripts/pg-cluster.sh stop DIR           stops it and removes DIR
#   scripts/pg-cluster.sh restart DIR        immediate stop, then start again
set -euo pipefail

cmd=${1:-}; dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || { echo "usage: $0 start|stop|restart DIR [PORT]" >&2; exit 2; }
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$bindir/pg_ctl" ]] || { echo "pg-cluster: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

case "$cmd" in
start)
  port=${3:-$(free_port)}
  mkdir -p "$dir"
  ((EUID == 0)) && chown postgres: "$dir"
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
max_connections = 200
max_wal_size = 1GB
logging_collector = off
CONF
  echo "$port" >"$dir/port"
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  echo "postgresql://postgres@127.0.0.1:$port/postgres"
  ;;
restart)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null
  ;;
stop)
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop|restart DIR [PORT]" >&2; exit 2 ;;
esac
