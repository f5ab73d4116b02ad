#!/usr/bin/env bash
# Store size benchmark: bytes of SQLite store per watched process per day,
# measured through a real `contprof server` (bench/store_size.mjs has the
# stream and the extrapolation). The server keeps everything while we measure
# (--retention-raw/--retention-rollup 30d), so no delete runs in between.
#   bench/store_size.sh [--procs P] [--hours H]   (defaults 20 and 1; BENCH_QUICK=1: 5 and 0.25)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v sqlite3 >/dev/null || { echo "store_size: sqlite3 missing (scripts/setup.sh installs it)" >&2; exit 2; }
make -s -j"$(nproc)" build/contprof >/dev/null
BIN=${CONTPROF_BIN:-build/contprof}
args=("$@")
if [[ ${BENCH_QUICK:-0} != 0 && $# -eq 0 ]]; then args=(--procs 5 --hours 0.25); fi
dir=$(mktemp -d /tmp/contprof-bench-size-XXXXXX)
pid=
trap '[[ -n "$pid" ]] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$dir"' EXIT
"$BIN" server --listen 127.0.0.1:0 --store "sqlite:$dir/size.db" \
  --retention-raw 30d --retention-rollup 30d 2>"$dir/server.log" &
pid=$!
port=
for _ in $(seq 200); do
  port=$(grep -o "port [0-9]*" "$dir/server.log" | head -1 | cut -d' ' -f2 || true)
  [[ -n "$port" ]] && break
  sleep 0.05
done
[[ -n "$port" ]] || { cat "$dir/server.log" >&2; exit 1; }
echo "contprof server $("$BIN" --version | cut -d' ' -f2), SQLite $(sqlite3 --version | cut -d' ' -f1)"
node bench/store_size.mjs "http://127.0.0.1:$port" "$dir/size.db" "${args[@]}"
