#!/usr/bin/env bash
# bench/profilers.sh: our on-CPU profiler against `perf record -F 99 -g` and
# bpftrace `profile:hz:99` on the same busy workload (build/fixtures/cpuratio
# in 2 threads), and our off-CPU profiler against libbpf-tools' `offcputime`
# on build/fixtures/blocker.
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
# Sample counts: a workload that shares its CPUs gets fewer samples (it is
# on a CPU at fewer ticks), and the load changes from one run to the next,
# so counts of runs made one after the other do not compare. Each run
# therefore also measures the CPU time the workload used while sampled
# (ours: `debug profile` prints it; perf: its `sleep` is wrapped in reads of
# /proc/PID/stat) and reports samples / (that time x Hz), 100 % = nothing
# lost. And the frame agreement comes from one extra run of the three tools
# at the same time, on the same window.
#
# Off-CPU: ours and `offcputime -p PID` alternating, cost as above; then a
# run of both at the same time: the blocked time each saw in the fixture's
# two blocking functions (100 ms sleeps : 10 ms futex waits, 10 : 1).
#
#   bench/profilers.sh [RUNS [SECONDS]]     (default 3 runs of 5 s; root; `make` first)
# BENCH_CONTEND=N: N busy threads (build/fixtures/busyloop) beside the
# workloads throughout, to reproduce a loaded host.
# BENCH_QUICK=1: 1 run of 1 s per tool (every figure, once; perf and
# bpftrace start in about 2-3 s each, most of the quick run's time).
# BENCH_FIGURES=FILE: every run's cost (and the frame agreement) also as
# FIGURE lines for scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${BENCH_QUICK:-0} != 0 ]]; then RUNS=${1:-1} SECONDS_PER_RUN=${2:-1}; else RUNS=${1:-3} SECONDS_PER_RUN=${2:-5}; fi
HZ=99
BIN=${CONTPROF_BIN:-build/contprof}
OUT=$(mktemp -d /tmp/contprof-bench-XXXXXX)
# Only our own children: never `kill 0` (the whole process group).
trap 'for p in ${WORKLOAD:-} ${CONTENDER:-}; do kill "$p" 2>/dev/null || true; done; [[ -n ${BENCH_KEEP:-} ]] || rm -rf "$OUT"' EXIT

for tool in perf bpftrace offcputime node cc; do
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

CONTEND=${BENCH_CONTEND:-0}
if ((CONTEND > 0)); then
  build/fixtures/busyloop "$CONTEND" >/dev/null &
  CONTENDER=$!
fi

# cpu_ticks PID: utime + stime of every thread, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)
# ratio_line NAME SAMPLES CPU_S: "samples expected" appended to NAME.ratio.
ratio_line() { awk -v n="$2" -v c="$3" -v hz="$HZ" 'BEGIN {printf "%d %.1f\n", n, c * hz}' >>"$OUT/$1.ratio"; }
perf_samples() { grep -c '^[^[:space:]]' "$1" || true; }

build/fixtures/cpuratio 2 >"$OUT/workload.pid" &
WORKLOAD=$!
sleep 0.5
PID=$(head -1 "$OUT/workload.pid")
echo "workload: cpuratio, 2 threads, pid $PID; $RUNS runs x $SECONDS_PER_RUN s per tool, $HZ Hz;" \
  "$CONTEND busy threads beside it; host load average $(cut -d' ' -f1-3 /proc/loadavg)"
# perf samples while its command runs: the command notes the workload's CPU.
PERF_WINDOW="awk '{print \$14 + \$15}' /proc/$PID/stat >$OUT/perf.t0; sleep $SECONDS_PER_RUN; awk '{print \$14 + \$15}' /proc/$PID/stat >$OUT/perf.t1"

for ((r = 1; r <= RUNS; r++)); do
  run_measured ours '^oncpu_sample$' "$OUT/ours.folded" "$BIN" debug profile --pid "$PID" --target ON_CPU \
    --seconds "$SECONDS_PER_RUN" --hz "$HZ"
  ratio_line ours "$(awk '{s += $NF} END {print s + 0}' "$OUT/ours.folded")" \
    "$(sed -n 's/.*processes ran \([0-9.]*\) s on CPU.*/\1/p' "$OUT/ours.err")"
  run_measured perf '^$' "$OUT/perf.out" perf record -F "$HZ" -g -p "$PID" -o "$OUT/perf.data" -- sh -c "$PERF_WINDOW"
  run_measured perfscript '^$' "$OUT/perf.script" perf script -i "$OUT/perf.data"
  ratio_line perf "$(perf_samples "$OUT/perf.script")" \
    "$(awk -v a="$(cat "$OUT/perf.t0")" -v b="$(cat "$OUT/perf.t1")" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')"
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
# ratio_report NAME LABEL FIGURE: samples against the workload's CPU x Hz.
ratio_report() {
  awk -v l="$2" '{n += $1; e += $2}
    END {printf "  %-34s %d samples for %.0f expected (workload CPU x Hz): %.1f %%\n", l, n, e, (e > 0 ? 100 * n / e : 0)}' "$OUT/$1.ratio"
  [[ -z ${BENCH_FIGURES:-} ]] || awk -v f="$3" -v l="$2" '$2 > 0 {
    printf "FIGURE %s %.1f %% higher - %s: samples / (workload CPU while sampled x Hz), 100 = none lost\n", f, 100 * $1 / $2, l}' "$OUT/$1.ratio" >>"$BENCH_FIGURES"
}
echo
echo "on-CPU samples against the workload's CPU time in each run's window, all runs:"
ratio_report ours "contprof (debug profile)" oncpu.contprof_sample_pct
ratio_report perf "perf record -F $HZ -g" oncpu.perf_sample_pct

# Agreement: the three tools at once on one window (same load for all).
echo
echo "the three tools at the same time, $SECONDS_PER_RUN s:"
"$BIN" debug profile --pid "$PID" --target ON_CPU --seconds "$SECONDS_PER_RUN" --hz "$HZ" \
  >"$OUT/same.ours" 2>"$OUT/same.ours.err" &
SAME_OURS=$!
perf record -F "$HZ" -g -p "$PID" -o "$OUT/same.perf.data" -- sleep "$SECONDS_PER_RUN" >/dev/null 2>&1 &
SAME_PERF=$!
bpftrace -e "profile:hz:$HZ /pid == $PID/ { @[ustack, kstack] = count(); } interval:s:$SECONDS_PER_RUN { exit(); }" \
  >"$OUT/same.bpftrace" 2>/dev/null &
SAME_BT=$!
wait "$SAME_OURS" "$SAME_PERF" "$SAME_BT" || true
perf script -i "$OUT/same.perf.data" >"$OUT/same.perf" 2>/dev/null
grep -h 'processes ran\|samples in' "$OUT/same.ours.err" | sed 's/^debug profile: /  ours: /'
echo "  perf: $(perf_samples "$OUT/same.perf") samples; bpftrace: $(awk '/^@\[/ {m = 1} m && /\]: [0-9]+$/ {sub(/.*: /, ""); s += $0} END {print s + 0}' "$OUT/same.bpftrace") samples (their windows start and end within a second of ours)"
node bench/frames.mjs ours="$OUT/same.ours" perf="$OUT/same.perf" bpftrace="$OUT/same.bpftrace" | tee "$OUT/frames.txt"
# "agreement ours vs perf: 9/10 frames in both top-10s, max share difference 1.2 points"
[[ -z ${BENCH_FIGURES:-} ]] || awk '/^agreement ours vs/ {
  tool = $4; sub(":", "", tool); split($5, c, "/")
  printf "FIGURE oncpu.top10_common_%s %d frames higher - top-10 frames ours and %s have in common (same window)\n", tool, c[1], tool
  printf "FIGURE oncpu.top10_maxdiff_%s %s points lower - largest inclusive-share difference over our top-10 frames, ours vs %s (same window)\n", tool, $(NF-1), tool
}' "$OUT/frames.txt" >>"$BENCH_FIGURES"

# Off-CPU: our profiler and offcputime alternating on the blocker fixture;
# both programs run on every context switch of the machine, so the cost per
# run is the figure to watch. offcputime's program is its tp_btf
# "sched_switch" (bpfstats counts only programs loaded after it starts).
kill "$WORKLOAD" 2>/dev/null || true
build/fixtures/blocker >"$OUT/blocker.pid" &
WORKLOAD=$!
sleep 0.5
PID=$(head -1 "$OUT/blocker.pid")
for ((r = 1; r <= RUNS; r++)); do
  run_measured offcpu '^offcpu_switch' "$OUT/offcpu.folded" "$BIN" debug profile --pid "$PID" --target OFF_CPU \
    --seconds "$SECONDS_PER_RUN"
  run_measured offcputime '^sched_switch$' "$OUT/offcputime.out" offcputime -p "$PID" "$SECONDS_PER_RUN"
done
echo
echo "off-CPU cost (blocker: 100 ms sleeps + 10 ms futex waits), medians of $RUNS runs:"
report offcpu "contprof OFF_CPU (sched_switch)"
report offcputime "offcputime -p PID (libbpf-tools)"
figures offcpu offcpu.contprof offcpu.offcputime_cpu_pct "contprof OFF_CPU on blocker"
figures offcputime offcpu.offcputime - "offcputime (libbpf-tools) on blocker"
grep -E 'blocks' "$OUT/offcpu.err" | tail -1 | sed 's/^/  /'

# Agreement: both at once, blocked time in each blocking function.
"$BIN" debug profile --pid "$PID" --target OFF_CPU --seconds "$SECONDS_PER_RUN" >"$OUT/same.offcpu" 2>/dev/null &
SAME_OURS=$!
offcputime -p "$PID" "$SECONDS_PER_RUN" >"$OUT/same.offcputime" 2>/dev/null &
SAME_PEER=$!
wait "$SAME_OURS" "$SAME_PEER" || true
echo "both at the same time, $SECONDS_PER_RUN s: off-CPU time by blocking function"
# Ours: folded "frames count total_ns"; offcputime: a stack per block of
# lines, then "-  comm (pid)" and the total in microseconds.
awk -v secs="$SECONDS_PER_RUN" '
  FNR == 1 {file++}
  file == 1 { for (f in fn) if ($0 ~ fn[f]) ours[f] += $NF / 1e9 }
  file == 2 && NF == 1 && $1 ~ /^[0-9]+$/ { for (f in fn) if (stack ~ fn[f]) peer[f] += $1 / 1e6; stack = ""; next }
  file == 2 { stack = stack " " $1 }
  BEGIN { fn["sleep_block"] = "sleep_block"; fn["futex_block"] = "futex_block" }
  END {
    for (f in fn) {
      d = (ours[f] > peer[f] ? ours[f] - peer[f] : peer[f] - ours[f])
      printf "  %-12s ours %7.3f s   offcputime %7.3f s   difference %.1f %%\n", f, ours[f], peer[f], (peer[f] > 0 ? 100 * d / peer[f] : 0)
      if (peer[f] > 0 && d / peer[f] > max) max = d / peer[f]
    }
    printf "agreement ours vs offcputime: max difference %.1f %%\n", 100 * max
  }' "$OUT/same.offcpu" "$OUT/same.offcputime" | tee "$OUT/offcpu_agreement.txt"
[[ -z ${BENCH_FIGURES:-} ]] || awk '/^agreement ours vs offcputime/ {
  printf "FIGURE offcpu.maxdiff_offcputime %s %% lower - largest difference of blocked time per blocking function, ours vs offcputime (same window)\n", $(NF-1)
}' "$OUT/offcpu_agreement.txt" >>"$BENCH_FIGURES"
