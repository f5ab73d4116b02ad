#!/usr/bin/env bash
# TLS benchmark: what HTTPS costs the server. Starts two `contprof server`s
# on loopback with both tokens — one plain, one with a certificate from a CA
# made here by openssl — and plays bench/tls_bench.mjs against them in
# alternating rounds: authenticated requests/s over keep-alive connections,
# and the time of one request on a new connection (TCP + TLS handshake).
#   bench/tls.sh [--seconds S] [--rounds R] [--clients C]
# BENCH_QUICK=1: short rounds; BENCH_FIGURES=FILE: FIGURE lines (scripts/bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j"$(nproc)" build/contprof >/dev/null
BIN=${CONTPROF_BIN:-build/contprof}
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT

(umask 077; head -c 24 /dev/urandom | base64 >"$dir/agent.token"; head -c 24 /dev/urandom | base64 >"$dir/write.token")
ssl() { openssl "$@" 2>>"$dir/openssl.log" >/dev/null; }
ssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/ca.key" \
	-out "$dir/ca.pem" -days 1 -subj "/CN=contprof bench CA"
ssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/server.key" \
	-out "$dir/server.csr" -subj /CN=localhost
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/server.ext"
ssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -set_serial 1 -days 1 \
	-extfile "$dir/server.ext" -out "$dir/server.pem"
chmod 600 "$dir/server.key"

# start NAME ARGS...: a server on a free port; sets port_NAME.
start() {
	local name=$1 log=$dir/$1.log port=''
	shift
	"$BIN" server --listen 127.0.0.1:0 --store "sqlite:$dir/$name.db" \
		--agent-token-file "$dir/agent.token" --write-token-file "$dir/write.token" "$@" 2>"$log" &
	pids+=($!)
	for _ in $(seq 100); do
		port=$(grep -o "port [0-9]*" "$log" | head -1 | cut -d' ' -f2 || true)
		[[ -n $port ]] && break
		sleep 0.05
	done
	[[ -n $port ]] || { cat "$log"; exit 1; }
	printf -v "port_$name" '%s' "$port"
}
start plain
start tls --tls-cert "$dir/server.pem" --tls-key "$dir/server.key"
echo "contprof server $("$BIN" --version | cut -d' ' -f2): http on $port_plain, https on $port_tls, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
node bench/tls_bench.mjs "http://127.0.0.1:$port_plain" "https://127.0.0.1:$port_tls" "$dir/ca.pem" \
	"$dir/agent.token" "$@"
