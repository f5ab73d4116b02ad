#!/usr/bin/env bash
# bench/netprof.sh — what a NETWORK task costs a saturated nginx.
#
# nginx (one process, pinned to CPU $SERVER_CPU) serves a small static file to
# `wrk -t2 -c50` on loopback (pinned to CPU $CLIENT_CPU), as bench/httpmon.sh
# does. Configurations, alternated in every round ($CONFIGS):
#   none      nothing attached
#   http      the HTTP monitor alone (`contprof debug http --quiet --policy`):
#             its cost must not move now that it carries the NETWORK hooks
#   network   a NETWORK task on nginx (`contprof debug network`, 1 s flushes):
#             the shared programs plus the NETWORK-only ones, per-connection
#             traffic, syscall times, samples, topology every flush
# Prints req/s per configuration and round, then, with kernel.bpf_stats_enabled
# (restored after), the BPF run time added per request over $STATS_RUNS runs.
#
# Usage: bench/netprof.sh              (RUNS=3 DURATION=5 by default: the suite in ~12 min)
#        BENCH_QUICK=1: RUNS=1 DURATION=1 STATS_RUNS=1, a 1-s warm-up, and
#        each monitor's stats run right after its round in the same session
#        (a monitor takes seconds to start: one start each instead of two;
#        checks that it runs)
# BENCH_FIGURES=FILE: FIGURE lines for scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

STATS_IN_ROUND=0 WARMUP=2 SETTLE=1
if [[ ${BENCH_QUICK:-0} != 0 ]]; then
	RUNS=${RUNS:-1} DURATION=${DURATION:-1} STATS_RUNS=${STATS_RUNS:-1}
	STATS_IN_ROUND=1 WARMUP=1 SETTLE=0.5
fi
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
STATS_RUNS=${STATS_RUNS:-3}
CONFIGS=${CONFIGS:-"none http network"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BIN=${CONTPROF_BIN:-build/contprof}
PORT=${PORT:-18490}

for tool in nginx wrk bpftool taskset python3 curl; do
	command -v "$tool" >/dev/null || { echo "bench: $tool missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
[[ -x $BIN ]] || { echo "bench: $BIN missing (run make)" >&2; exit 1; }

work=$(mktemp -d /tmp/netprof-bench.XXXXXX)
nginx_pid='' mon_pid='' old_stats=$(sysctl -n kernel.bpf_stats_enabled)
# Every step runs: under errexit, a `kill && wait` whose wait returned the
# monitor's 143 used to end the cleanup there and leave nginx on the port.
cleanup() {
	set +e
	if [[ -n $mon_pid ]]; then kill "$mon_pid" 2>/dev/null; wait "$mon_pid" 2>/dev/null; fi
	if [[ -n $nginx_pid ]]; then kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null; fi
	sysctl -qw kernel.bpf_stats_enabled="$old_stats"
	rm -rf "$work"
}
trap cleanup EXIT

. bench/lib/nginx.sh
nginx_start "$work" "$PORT" "$SERVER_CPU"

start_config() {
	local cfg=$1
	mon_ids=''
	[[ $cfg == none ]] && return 0
	# Emptied first: the last configuration's "watching" must not pass for
	# this one's (the monitor's redirections truncate them only once it runs).
	: >"$work/mon.out"
	: >"$work/mon.err"
	case $cfg in
	http) "$BIN" debug http --quiet --pid "$nginx_pid" --policy "$work/policy.json" \
		>"$work/mon.out" 2>"$work/mon.err" & ;;
	network) "$BIN" debug network --pid "$nginx_pid" >"$work/mon.out" 2>"$work/mon.err" & ;;
	*) echo "bench: unknown configuration $cfg" >&2; exit 1 ;;
	esac
	mon_pid=$!
	for _ in $(seq 600); do grep -q watching "$work/mon.err" && break; sleep 0.1; done
	grep -q watching "$work/mon.err" || { echo "bench: $cfg did not start: $(cat "$work/mon.err")" >&2; exit 1; }
	sleep "$SETTLE"
	mon_ids=$(prog_ids_of "$mon_pid")
}

stop_config() {
	[[ -z $mon_pid ]] && return 0
	kill -INT "$mon_pid" 2>/dev/null || true
	wait "$mon_pid" 2>/dev/null || true
	mon_pid=''
}

# Runs wrk; prints "requests_per_s completed_requests".
run_wrk() {
	local out
	out=$(taskset -c "$CLIENT_CPU" wrk -t2 -c50 -d"${DURATION}s" "http://127.0.0.1:$PORT/index.html")
	awk '/Requests\/sec/ {rps=$2} / requests in / {n=$1} END {print rps, n}' <<<"$out"
}

figure() { [[ -z ${BENCH_FIGURES:-} ]] || echo "FIGURE $*" >>"$BENCH_FIGURES"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# stats_run CFG ROUND: with CFG running and kernel.bpf_stats_enabled on, one
# wrk run: the BPF run time its programs added per request.
stats_run() {
	local cfg=$1 round=$2 t0 c0 t1 c1 rps n us target
	prog_snapshot "$work/progs.0" $mon_ids
	read -r rps n < <(run_wrk)
	prog_snapshot "$work/progs.1" $mon_ids
	read -r t0 c0 < <(awk '{t += $2; c += $3} END {print t + 0, c + 0}' "$work/progs.0")
	read -r t1 c1 < <(awk '{t += $2; c += $3} END {print t + 0, c + 0}' "$work/progs.1")
	us=$(awk -v t=$((t1 - t0)) -v n="$n" 'BEGIN {printf "%.3f", n ? t / n / 1000 : 0}')
	echo "$us" >>"$work/us.$cfg"
	target='<=2'; [[ $cfg == http ]] && target='<=1'
	figure "netprof.${cfg}_bpf_us_per_request $us us $target - BPF run time per nginx request, $cfg"
	printf 'stats %d  %-8s %10.0f req/s  %7.3f us BPF/request  %.1f program runs/request\n' \
		"$round" "$cfg" "$rps" "$us" "$(awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN {print n ? c / n : 0}')"
	prog_table "$work/progs.0" "$work/progs.1" "$n"
}
# After a stats run, once the monitor stopped: the NETWORK task's last line.
stats_kept() { if [[ $1 == network ]]; then tail -1 "$work/mon.out" >"$work/stats.network"; fi; }

echo "bench: nginx pid $nginx_pid on CPU $SERVER_CPU, wrk -t2 -c50 -d${DURATION}s on CPU $CLIENT_CPU, load $(cut -d' ' -f1-3 /proc/loadavg)"
taskset -c "$CLIENT_CPU" wrk -t2 -c50 -d"${WARMUP}s" "http://127.0.0.1:$PORT/index.html" >/dev/null

for round in $(seq "$RUNS"); do
	for cfg in $CONFIGS; do
		start_config "$cfg"
		read -r rps n < <(run_wrk)
		stats_now=0
		((STATS_IN_ROUND)) && [[ $cfg != none ]] && ((round <= STATS_RUNS)) && stats_now=1
		if ((stats_now)); then
			sysctl -qw kernel.bpf_stats_enabled=1
			stats_run "$cfg" "$round"
			sysctl -qw kernel.bpf_stats_enabled="$old_stats"
		fi
		stop_config
		((stats_now)) && stats_kept "$cfg"
		echo "$rps" >>"$work/rps.$cfg"
		[[ $cfg == none ]] && none_rps=$rps
		figure "netprof.${cfg}_rps $rps req/s higher - nginx requests/s, $cfg"
		if [[ $cfg != none && -n ${none_rps:-} ]]; then
			ratio=$(awk -v a="$rps" -v b="$none_rps" 'BEGIN {printf "%.3f", a / b}')
			echo "$ratio" >>"$work/ratio.$cfg"
			figure "netprof.${cfg}_ratio $ratio ratio higher - nginx requests/s with $cfg / without, same round"
		fi
		printf 'round %d  %-8s %10.0f req/s\n' "$round" "$cfg" "$rps"
	done
done

if ((!STATS_IN_ROUND)); then
	sysctl -qw kernel.bpf_stats_enabled=1
	for round in $(seq "$STATS_RUNS"); do
		for cfg in $CONFIGS; do
			[[ $cfg == none ]] && continue
			start_config "$cfg"
			stats_run "$cfg" "$round"
			stop_config
			stats_kept "$cfg"
		done
	done
	sysctl -qw kernel.bpf_stats_enabled="$old_stats"
fi
[[ -f $work/stats.network ]] && echo "network, kernel counters of the last run: $(cat "$work/stats.network")"

echo
echo "medians over $RUNS rounds (req/s, per-round ratio to none) and $STATS_RUNS stats runs (BPF us/request):"
for cfg in $CONFIGS; do
	m=$(median <"$work/rps.$cfg")
	rr=-; [[ -f $work/ratio.$cfg ]] && rr=$(median <"$work/ratio.$cfg")
	us=-; [[ -f $work/us.$cfg ]] && us=$(median <"$work/us.$cfg")
	printf '  %-8s %10.0f req/s  ratio %6s  BPF %6s us/request\n' "$cfg" "$m" "$rr" "$us"
done
