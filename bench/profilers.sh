#!/usr/bin/env bash
# bench/profilers.sh: our on-CPU profiler against `perf record -F 99 -g` and
# bpftrace `profile:hz:99` on the same busy workload (build/fixtures/cpuratio
# in 2 threads), and our off-CPU profiler on build/fixtures/blocker.
#
# For each tool, RUNS runs of SECONDS each, tools alternating (the machine is
# shared: figures are medians). Cost of a run = CPU time of the tool's
# process (user + sys, from bash's `time`) + run time of its BPF programs
# (bench/bpfstats.c, statistics on through BPF_ENABLE_STATS; perf has none: its
# in-kernel sampling cost is not visible here) — as % of one CPU over the
# run. perf's cost is shown for `perf record` and for record + `perf script`
# (where perf symbolizes; ours symbolizes inside the run). Then the top-10
# frames of the last run of each, side by side (bench/frames.mjs).
#
#   bench/profilers.sh [RUNS [SECONDS]]     (root; `make` first)
# BENCH_QUICK=1: 2 runs of 3 s. BENCH_FIGURES=FILE: every run's cost (and
# the frame agreement) also as FIGURE lines for scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${BENCH_QUICK:-0} != 0 ]]; then RUNS=${1:-2} SECONDS_PER_RUN=${2:-3}; else RUNS=${1:-3} SECONDS_PER_RUN=${2:-10}; fi
HZ=99
BIN=${CONTPROF_BIN:-build/contprof}
OUT=$(mktemp -d /tmp/contprof-bench-XXXXXX)
trap 'kill "${WORKLOAD:-0}" 2>/dev/null || true; [[ -n ${BENCH_KEEP:-} ]] || rm -rf "$OUT"' EXIT

for tool in perf bpftrace node cc; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
[[ -x $BIN && -x build/fixtures/cpuratio ]] || { echo "bench: run make first" >&2; exit 1; }
ulimit -l unlimited 2>/dev/null || true

# bench/bpfstats.c samples the run time of the programs a tool loads.
cc -O2 -Wall -o "$OUT/bpfstats" bench/bpfstats.c -lbpf

# run_measured NAME PROG_REGEX OUTFILE CMD...: runs CMD, appends "cpu_s
# bpf_ns bpf_cnt" to $OUT/NAME.cost (CPU: user + sys, from bash's `time`).
run_measured() {
  local name=$1 progs=$2 outfile=$3; shift 3
  local poller cpu bpf
  rm -f "$OUT/$name.stop"
  "$OUT/bpfstats" "$progs" "$OUT/$name.stop" >"$OUT/$name.poll" & poller=$!
  sleep 0.1 # let it note the programs loaded before
  local TIMEFORMAT='%U %S'
  cpu=$( { time "$@" >"$outfile" 2>"$OUT/$name.err"; } 2>&1 | tail -1)
  touch "$OUT/$name.stop"
  wait "$poller" 2>/dev/null || true
  bpf=$(cat "$OUT/$name.poll")
  echo "$(awk -v c="$cpu" 'BEGIN{split(c,a," "); print a[1]+a[2]}') ${bpf:-0 0}" >>"$OUT/$name.cost"
}

median() { sort -n | awk '{a[NR]=$1} END{if(NR==0){print "n/a"; exit} print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

build/fixtures/cpuratio 2 >"$OUT/workload.pid" &
WORKLOAD=$!
sleep 0.5
PID=$(head -1 "$OUT/workload.pid")
echo "workload: cpuratio, 2 threads, pid $PID; $RUNS runs x $SECONDS_PER_RUN s per tool, $HZ Hz"

for ((r = 1; r <= RUNS; r++)); do
  run_measured ours '^oncpu_sample$' "$OUT/ours.folded" "$BIN" debug profile --pid "$PID" --target ON_CPU \
    --seconds "$SECONDS_PER_RUN" --hz "$HZ"
  run_measured perf '^$' "$OUT/perf.out" perf record -F "$HZ" -g -p "$PID" -o "$OUT/perf.data" -- sleep "$SECONDS_PER_RUN"
  run_measured perfscript '^$' "$OUT/perf.script" perf script -i "$OUT/perf.data"
  run_measured bpftrace "^($HZ|$SECONDS_PER_RUN)\$" "$OUT/bpftrace.out" bpftrace -e \
    "profile:hz:$HZ /pid == $PID/ { @[ustack, kstack] = count(); } interval:s:$SECONDS_PER_RUN { exit(); }"
  echo "  run $r done"
done

report() {
  local name=$1 label=$2
  local cpu bpf cnt
  cpu=$(awk '{print $1}' "$OUT/$name.cost" | median)
  bpf=$(awk '{print $2}' "$OUT/$name.cost" | median)
  cnt=$(awk '{print $3}' "$OUT/$name.cost" | median)
  awk -v l="$label" -v c="$cpu" -v b="$bpf" -v n="$cnt" -v s="$SECONDS_PER_RUN" 'BEGIN{
    printf "  %-34s tool %6.3f s CPU  BPF %7.1f ms (%s runs, %s)  total %5.2f %% of a CPU\n",
      l, c, b/1e6, n, (n>0 ? sprintf("%.2f us/run", b/n/1e3) : "-"), 100*(c + b/1e9)/s }'
}

# figures NAME FIGURE PEERS LABEL: with BENCH_FIGURES, each run of NAME as
# FIGURE (% of a CPU) and, when it ran BPF programs, FIGURE_bpf_us (per run
# of the program: per sample or per switch).
figures() {
  [[ -n ${BENCH_FIGURES:-} ]] || return 0
  awk -v s="$SECONDS_PER_RUN" -v f="$2" -v p="$3" -v l="$4" '{
    printf "FIGURE %s_cpu_pct %.4f %% lower %s %s: tool CPU + BPF run time, %% of one CPU\n", f, 100*($1 + $2/1e9)/s, p, l
    if ($3 > 0) printf "FIGURE %s_bpf_us %.3f us lower - %s: BPF run time per program run\n", f, $2/$3/1e3, l
  }' "$OUT/$1.cost" >>"$BENCH_FIGURES"
}

echo
echo "on-CPU cost, medians of $RUNS runs of $SECONDS_PER_RUN s:"
report ours "contprof (debug profile)"
report perf "perf record -F $HZ -g"
paste -d' ' "$OUT/perf.cost" "$OUT/perfscript.cost" | awk '{print $1+$4, 0, 0}' >"$OUT/perfall.cost"
report perfall "perf record + perf script"
report bpftrace "bpftrace profile:hz:$HZ"
figures ours oncpu.contprof oncpu.perf_record_cpu_pct,oncpu.perf_record_script_cpu_pct,oncpu.bpftrace_cpu_pct "contprof ON_CPU at $HZ Hz"
figures perf oncpu.perf_record - "perf record -F $HZ -g"
figures perfall oncpu.perf_record_script - "perf record + perf script"
figures bpftrace oncpu.bpftrace - "bpftrace profile:hz:$HZ"
echo
node bench/frames.mjs ours="$OUT/ours.folded" perf="$OUT/perf.script" bpftrace="$OUT/bpftrace.out" | tee "$OUT/frames.txt"
# "agreement ours vs perf: 9/10 frames in both top-10s, max share difference 1.2 points"
[[ -z ${BENCH_FIGURES:-} ]] || awk '/^agreement ours vs/ {
  tool = $4; sub(":", "", tool); split($5, c, "/")
  printf "FIGURE oncpu.top10_common_%s %d frames higher - top-10 frames ours and %s have in common (last run)\n", tool, c[1], tool
  printf "FIGURE oncpu.top10_maxdiff_%s %s points lower - largest inclusive-share difference over our top-10 frames, ours vs %s (last run)\n", tool, $(NF-1), tool
}' "$OUT/frames.txt" >>"$BENCH_FIGURES"

# Off-CPU: our profiler on the blocker fixture; the program runs on every
# context switch of the machine, so its cost per run is the figure to watch.
kill "$WORKLOAD" 2>/dev/null || true
build/fixtures/blocker >"$OUT/blocker.pid" &
WORKLOAD=$!
sleep 0.5
PID=$(head -1 "$OUT/blocker.pid")
for ((r = 1; r <= RUNS; r++)); do
  run_measured offcpu '^offcpu_switch' "$OUT/offcpu.folded" "$BIN" debug profile --pid "$PID" --target OFF_CPU \
    --seconds "$SECONDS_PER_RUN"
done
echo
echo "off-CPU cost (blocker: 100 ms sleeps + 10 ms futex waits), medians of $RUNS runs:"
report offcpu "contprof OFF_CPU (sched_switch)"
figures offcpu offcpu.contprof - "contprof OFF_CPU on blocker"
grep -E 'blocks' "$OUT/offcpu.err" | tail -1 | sed 's/^/  /'
