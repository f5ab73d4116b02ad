#!/usr/bin/env bash
# bench/httpmon.sh — what the eBPF HTTP monitor costs a saturated nginx.
#
# nginx (one process, pinned to CPU $SERVER_CPU) serves a small static file;
# wrk (pinned to CPU $CLIENT_CPU) runs `wrk -t2 -c50 -d5s` on loopback. Each
# round runs every configuration once, in turn, so drift and the neighbours'
# load spread over all of them; medians over $RUNS rounds are printed.
#
# Configurations ($CONFIGS):
#   none         nothing attached
#   ours         `contprof debug http --quiet --policy` watching nginx with an
#                HTTP item: exactly what the agent runs (batched ring drain,
#                per-second aggregation, trigger engine)
#   bpftrace     the reference: bpftrace on the same 11 syscall tracepoints,
#                doing only a count per pid
#   tp-nomatch   bpftrace on the same tracepoints with a filter that never
#                matches nginx (the floor of these hooks)
#   raw-nomatch  bpftrace on raw_syscalls sys_enter/sys_exit with that filter
#                (the alternative hook: one program for every syscall)
# Then, with kernel.bpf_stats_enabled=1 (restored after), $STATS_RUNS more runs
# of each BPF configuration measure the BPF run time added per request.
#
# Usage: bench/httpmon.sh            (RUNS=3 DURATION=5 by default: the suite in ~12 min)
#        RUNS=3 DURATION=10 CONFIGS="none ours" bench/httpmon.sh
#        BENCH_QUICK=1: RUNS=1 DURATION=1 STATS_RUNS=1, a 1-s warm-up, and
#        each monitor's stats run right after its round in the same session
#        (ours and bpftrace take seconds to start: one start each instead of
#        two; checks that it runs)
# BENCH_FIGURES=FILE: each round's req/s and ratio, each stats run's
# us/request, also as FIGURE lines for scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

STATS_IN_ROUND=0 WARMUP=2 SETTLE=1
if [[ ${BENCH_QUICK:-0} != 0 ]]; then
	RUNS=${RUNS:-1} DURATION=${DURATION:-1} STATS_RUNS=${STATS_RUNS:-1}
	STATS_IN_ROUND=1 WARMUP=1 SETTLE=0.5
fi
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
STATS_RUNS=${STATS_RUNS:-3}
CONFIGS=${CONFIGS:-"none ours bpftrace"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BIN=${CONTPROF_BIN:-build/contprof}
PORT=${PORT:-18480}

for tool in nginx wrk bpftrace bpftool taskset python3 curl; do
	command -v "$tool" >/dev/null || { echo "bench: $tool missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
[[ -x $BIN ]] || { echo "bench: $BIN missing (run make)" >&2; exit 1; }

work=$(mktemp -d /tmp/httpmon-bench.XXXXXX)
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

# The tracepoints httpmon.bpf.c attaches to.
TRACEPOINTS="sys_exit_read sys_exit_readv sys_exit_recvfrom sys_exit_recvmsg sys_enter_write
sys_enter_writev sys_enter_sendto sys_enter_sendmsg sys_exit_accept sys_exit_accept4
sys_enter_connect"
probe_list=$(for t in $TRACEPOINTS; do printf 'tracepoint:syscalls:%s,' "$t"; done)
probe_list=${probe_list%,}

. bench/lib/nginx.sh
nginx_start "$work" "$PORT" "$SERVER_CPU"

start_config() {
	local cfg=$1
	mon_ids=''
	[[ $cfg == none ]] && return 0
	# Emptied first: the last run's "watching" or "Attaching" must not pass for
	# this one's (the monitor's redirections truncate them only once it runs).
	: >"$work/mon.out"
	: >"$work/mon.err"
	case $cfg in
	ours) "$BIN" debug http --quiet --pid "$nginx_pid" --policy "$work/policy.json" \
		>"$work/mon.out" 2>"$work/mon.err" &
		mon_pid=$!
		# Loading its programs takes seconds on a loaded host: up to a minute.
		for _ in $(seq 600); do grep -q watching "$work/mon.err" && break; sleep 0.1; done
		grep -q watching "$work/mon.err" || { echo "bench: ours did not start: $(cat "$work/mon.err")" >&2; exit 1; } ;;
	bpftrace) bpftrace -e "$probe_list { @[pid] = count(); }" >"$work/mon.out" 2>&1 &
		mon_pid=$! ;;
	tp-nomatch) bpftrace -e "$probe_list /pid == 1/ { @n = count(); }" >"$work/mon.out" 2>&1 &
		mon_pid=$! ;;
	raw-nomatch) bpftrace -e "tracepoint:raw_syscalls:sys_enter,tracepoint:raw_syscalls:sys_exit /pid == 1/ { @n = count(); }" \
		>"$work/mon.out" 2>&1 &
		mon_pid=$! ;;
	*) echo "bench: unknown configuration $cfg" >&2; exit 1 ;;
	esac
	if [[ $cfg != ours ]]; then
		for _ in $(seq 600); do grep -q Attaching "$work/mon.out" && break; sleep 0.1; done
		grep -q Attaching "$work/mon.out" || { echo "bench: $cfg did not start: $(cat "$work/mon.out")" >&2; exit 1; }
	fi
	sleep "$SETTLE"
	mon_ids=$(prog_ids_of "$mon_pid")
}

# bpftrace can miss a SIGINT that arrives while it attaches and then runs on:
# the signal is repeated every 2 s, TERM and KILL last.
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]; }
stop_config() {
	if [[ -n $mon_pid ]]; then
		local sig
		for sig in INT INT INT TERM KILL; do
			kill -"$sig" "$mon_pid" 2>/dev/null || break
			for _ in $(seq 20); do alive "$mon_pid" || break 2; sleep 0.1; done
		done
		wait "$mon_pid" 2>/dev/null || true
		mon_pid=''
	fi
}

# Runs wrk; prints "requests_per_s completed_requests".
run_wrk() {
	local out
	out=$(taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$PORT/index.html")
	awk '/Requests\/sec/ {rps=$2} / requests in / {n=$1} END {print rps, n}' <<<"$out"
}

# figure NAME VALUE UNIT TARGET PEERS LABEL: one FIGURE line for scripts/bench.sh.
figure() { [[ -z ${BENCH_FIGURES:-} ]] || echo "FIGURE $*" >>"$BENCH_FIGURES"; }
# The figure of the reference for configuration $1's, if it runs.
peer_of() { [[ $1 == ours && " $CONFIGS " == *" bpftrace "* ]] && echo "httpmon.bpftrace_$2" || echo -; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo "bench: nginx pid $nginx_pid on CPU $SERVER_CPU, wrk -t$THREADS -c$CONNS -d${DURATION}s on CPU $CLIENT_CPU"
echo "bench: $RUNS rounds of: $CONFIGS"
taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" "http://127.0.0.1:$PORT/index.html" >/dev/null

# stats_run CFG ROUND: with CFG running and kernel.bpf_stats_enabled on, one
# wrk run: the BPF run time its programs added per request. After it, once
# the monitor stopped, stats_kept CFG keeps ours' last line (its counters).
stats_kept() { if [[ $1 == ours ]]; then tail -1 "$work/mon.out" >"$work/stats.$1"; fi; }
stats_run() {
	local cfg=$1 round=$2 t0 c0 t1 c1 rps n us per_run target
	prog_snapshot "$work/progs.0" $mon_ids
	read -r rps n < <(run_wrk)
	prog_snapshot "$work/progs.1" $mon_ids
	read -r t0 c0 < <(awk '{t += $2; c += $3} END {print t + 0, c + 0}' "$work/progs.0")
	read -r t1 c1 < <(awk '{t += $2; c += $3} END {print t + 0, c + 0}' "$work/progs.1")
	us=$(awk -v t=$((t1 - t0)) -v n="$n" 'BEGIN {printf "%.3f", t / n / 1000}')
	per_run=$(awk -v t=$((t1 - t0)) -v c=$((c1 - c0)) 'BEGIN {printf "%.0f", c ? t / c : 0}')
	echo "$us" >>"$work/us.$cfg"
	target=lower; [[ $cfg == ours ]] && target='<=1'
	figure "httpmon.${cfg}_bpf_us_per_request $us us $target $(peer_of "$cfg" bpf_us_per_request)" \
		"BPF run time per nginx request, $cfg"
	printf 'stats %d  %-12s %10.0f req/s  %7.3f us BPF/request  %5s ns/program run  %.1f runs/request\n' \
		"$round" "$cfg" "$rps" "$us" "$per_run" "$(awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN {print c / n}')"
	prog_table "$work/progs.0" "$work/progs.1" "$n"
}

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
		# Each round's ratio to that round's "none": neighbours' load moves
		# both alike, so these vary less than the raw rates.
		[[ -n ${none_rps:-} ]] && awk -v a="$rps" -v b="$none_rps" 'BEGIN {print a / b}' >>"$work/ratio.$cfg"
		figure "httpmon.${cfg}_rps $rps req/s higher - nginx requests/s, $cfg"
		[[ $cfg != none && -n ${none_rps:-} ]] && figure "httpmon.${cfg}_ratio $(tail -1 "$work/ratio.$cfg") ratio higher" \
			"$(peer_of "$cfg" ratio) nginx requests/s with $cfg / without, same round"
		printf 'round %d  %-12s %10.0f req/s\n' "$round" "$cfg" "$rps"
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
[[ -f $work/stats.ours ]] && echo "ours, kernel counters of the last run: $(cat "$work/stats.ours")"

echo
echo "medians over $RUNS rounds: req/s, ratio of medians to none, median of per-round ratios;"
echo "BPF run time per request: median over $STATS_RUNS runs"
base=$(median <"$work/rps.none" 2>/dev/null || echo 0)
for cfg in $CONFIGS; do
	m=$(median <"$work/rps.$cfg")
	us=-; [[ -f $work/us.$cfg ]] && us=$(median <"$work/us.$cfg")
	ratio=-; [[ $base != 0 ]] && ratio=$(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.3f", a / b}')
	rr=-; [[ -f $work/ratio.$cfg ]] && rr=$(median <"$work/ratio.$cfg" | awk '{printf "%.3f", $1}')
	printf '  %-12s %10.0f req/s  ratio %6s  per-round %6s  BPF %6s us/request\n' \
		"$cfg" "$m" "$ratio" "$rr" "$us"
done
