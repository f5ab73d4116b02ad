#!/usr/bin/env bash
# Store benchmark: the same ingest run (bench/store_ingest.mjs) against a
# server on SQLite and a server on PostgreSQL, printed side by side; then,
# unless --no-fleet, a simulated fleet against two servers sharing the
# PostgreSQL database, with the CPU PostgreSQL used meanwhile.
#   bench/store_ingest.sh [--agents N] [--seconds S] [--fleet-agents N]
#                         [--fleet-seconds S] [--no-fleet]
# PostgreSQL is a throwaway cluster (scripts/pg-cluster.sh: durability off,
# which flatters its write figures against SQLite's synchronous=FULL),
# removed on exit. BENCH_FIGURES=FILE: FIGURE lines (scripts/bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
agents=4 seconds=5 fleet_agents=1000 fleet_seconds=30 fleet=1
# BENCH_QUICK=1: short phases (checks that it runs; the figures mean little):
# 1-s ingest phases without the flame graph, the PostgreSQL cluster starting
# (initdb: seconds) during SQLite's run, and a fleet of 250 agents for one
# upload period (5 s), each uploading once.
quick=0
if [[ ${BENCH_QUICK:-0} != 0 ]]; then quick=1 seconds=1 fleet_agents=250 fleet_seconds=5; fi
while (($#)); do
  case "$1" in
  --agents) agents=$2; shift 2 ;;
  --seconds) seconds=$2; shift 2 ;;
  --fleet-agents) fleet_agents=$2; shift 2 ;;
  --fleet-seconds) fleet_seconds=$2; shift 2 ;;
  --no-fleet) fleet=0; shift ;;
  *) echo "usage: $0 [--agents N] [--seconds S] [--fleet-agents N] [--fleet-seconds S] [--no-fleet]" >&2; exit 2 ;;
  esac
done
make -s -j"$(nproc)" build/contprof >/dev/null
BIN=${CONTPROF_BIN:-build/contprof}
dir=$(mktemp -d /tmp/contprof-bench-XXXXXX)
chmod 755 "$dir" # the cluster runs as the postgres user
pids=()
pg_starter=
cleanup() {
  [[ -z $pg_starter ]] || wait "$pg_starter" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  scripts/pg-cluster.sh stop "$dir/pg" || true
  rm -rf "$dir"
}
trap cleanup EXIT

# start_server STORE LOG: starts a server, sets $server_url
start_server() {
  "$BIN" server --listen 127.0.0.1:0 --store "$1" >/dev/null 2>"$2" &
  pids+=($!)
  for _ in $(seq 200); do
    port=$(grep -o "port [0-9]*" "$2" 2>/dev/null | head -1 | cut -d' ' -f2 || true)
    [[ -n "$port" ]] && { server_url="http://127.0.0.1:$port"; return; }
    sleep 0.05
  done
  cat "$2" >&2; exit 1
}

if ((quick)); then
  scripts/pg-cluster.sh start "$dir/pg" >"$dir/pg.url" &
  pg_starter=$!
else
  pg_base=$(scripts/pg-cluster.sh start "$dir/pg")
fi
pg_db() { psql "$pg_base" -qAtX -c "CREATE DATABASE $1" >/dev/null; echo "${pg_base%/*}/$1"; }
# CPU seconds used so far by every process of the cluster (postmaster and backends)
pg_cpu() {
  local pm ticks=0
  pm=$(head -1 "$dir/pg/data/postmaster.pid")
  for p in $pm $(pgrep -P "$pm"); do
    [[ -r /proc/$p/stat ]] || continue
    ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$ticks $(getconf CLK_TCK)" | awk '{printf "%.2f", $1 / $2}'
}

echo "contprof $("$BIN" --version | cut -d' ' -f2), $(nproc) CPUs"
start_server "sqlite:$dir/bench.db" "$dir/sqlite.log"
sq=$(node bench/store_ingest.mjs ingest "$server_url" --agents "$agents" --seconds "$seconds")
if [[ -n $pg_starter ]]; then
  wait "$pg_starter" || { echo "store_ingest: the PostgreSQL cluster did not start" >&2; exit 1; }
  pg_starter=
  pg_base=$(cat "$dir/pg.url")
fi
echo "PostgreSQL $(psql "$pg_base" -qAtX -c 'SHOW server_version')"
start_server "$(pg_db ingest)" "$dir/pg-server.log"
pg_url=$server_url
cpu0=$(pg_cpu)
pg=$(node bench/store_ingest.mjs ingest "$pg_url" --agents "$agents" --seconds "$seconds")
cpu1=$(pg_cpu)
# field JSON NAME: a number of store_ingest.mjs's one-line JSON, "-" if null.
field() {
  if [[ $1 =~ \"$2\":(-?[0-9.e+]+) ]]; then echo "${BASH_REMATCH[1]}"; else echo -; fi
}
printf '\n%-44s %12s %12s\n' "ingest ($agents agents, ${seconds} s per phase)" SQLite PostgreSQL
printf '%-44s %12s %12s\n' "metric points/s (60 s x 100 series/upload)" "$(field "$sq" points_per_s)" "$(field "$pg" points_per_s)"
printf '%-44s %12s %12s\n' "stack samples/s (2000 rows/slice)" "$(field "$sq" samples_per_s)" "$(field "$pg" samples_per_s)"
printf '%-44s %12s %12s\n' "flame graph 60k samples, median ms" "$(field "$sq" flame_median_ms)" "$(field "$pg" flame_median_ms)"
echo "PostgreSQL CPU during its ingest run: $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{printf "%.1f", b - a}') s"
if [[ -n ${BENCH_FIGURES:-} ]]; then
  {
    echo "FIGURE store.sqlite_points_per_s $(field "$sq" points_per_s) points/s higher store.pg_points_per_s metric points/s ingested, SQLite"
    echo "FIGURE store.pg_points_per_s $(field "$pg" points_per_s) points/s higher - metric points/s ingested, PostgreSQL"
    echo "FIGURE store.sqlite_samples_per_s $(field "$sq" samples_per_s) samples/s higher store.pg_samples_per_s stack samples/s ingested, SQLite"
    echo "FIGURE store.pg_samples_per_s $(field "$pg" samples_per_s) samples/s higher - stack samples/s ingested, PostgreSQL"
  } >>"$BENCH_FIGURES"
fi

if ((fleet)); then
  fleet_db=$(pg_db fleet)
  start_server "$fleet_db" "$dir/fleet-a.log"
  a_url=$server_url
  start_server "$fleet_db" "$dir/fleet-b.log"
  b_url=$server_url
  cpu0=$(pg_cpu); t0=$(date +%s.%N)
  out=$(node bench/store_ingest.mjs fleet "$a_url,$b_url" --agents "$fleet_agents" --procs 20 --every 5 --seconds "$fleet_seconds")
  cpu1=$(pg_cpu); t1=$(date +%s.%N)
  echo
  echo "simulated fleet on two servers sharing PostgreSQL: $out"
  if [[ -n ${BENCH_FIGURES:-} ]]; then
    {
      echo "FIGURE store.fleet_sustained_points_per_s $(field "$out" sustained_points_per_s) points/s higher store.fleet_p99_ms fleet of agents on two servers sharing PostgreSQL: points/s sustained"
      echo "FIGURE store.fleet_p99_ms $(field "$out" p99_ms) ms lower - fleet uploads: p99 latency"
    } >>"$BENCH_FIGURES"
  fi
  awk -v a="$cpu0" -v b="$cpu1" -v s="$t0" -v e="$t1" \
    'BEGIN{printf "PostgreSQL CPU during the fleet run: %.1f s over %.1f s = %.0f %% of one core\n", b - a, e - s, 100 * (b - a) / (e - s)}'
fi
