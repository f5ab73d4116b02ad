#!/usr/bin/env bash
# Server benchmark: builds contprof, starts `contprof server` on a free
# loopback port with a temporary SQLite store, plays many agents against it
# (bench/server_bench.mjs) and prints ingest rates and flame-graph latency.
#   bench/server.sh [--agents N] [--seconds S] [--rounds R]   (BENCH_QUICK, BENCH_FIGURES: see bench/server_bench.mjs)
# SERVER_VERBOSE=1 SERVER_LOG=FILE keeps a debug log (flame timings per request).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j"$(nproc)" build/contprof >/dev/null
BIN=${CONTPROF_BIN:-build/contprof}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
"$BIN" ${SERVER_VERBOSE:+-v} server --listen 127.0.0.1:0 --store "sqlite:$dir/bench.db" 2>"${SERVER_LOG:-$dir/server.log}" &
pid=$!
for _ in $(seq 100); do
  port=$(grep -o "port [0-9]*" "${SERVER_LOG:-$dir/server.log}" | head -1 | cut -d' ' -f2 || true)
  [[ -n "$port" ]] && break
  sleep 0.05
done
[[ -n "${port:-}" ]] || { cat "$dir/server.log"; exit 1; }
echo "contprof server $("$BIN" --version | cut -d' ' -f2) on 127.0.0.1:$port, $(nproc) CPUs"
node bench/server_bench.mjs "http://127.0.0.1:$port" "$@"
