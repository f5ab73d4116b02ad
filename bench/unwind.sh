#!/usr/bin/env bash
# bench/unwind.sh: the cost of CFI unwinding in the on-CPU profiler at 99 Hz
# with both CPUs busy.
#
# Workloads, each two busy threads: tests/fixtures/lib/qsortcmp.c built
# without frame pointers (every sample's frame-pointer walk is truncated, so
# every sample is a stack snapshot unwound in user space: the worst case) and
# build/fixtures/cpuratio (frame pointers: after the first snapshots the
# walks are learned complete and samples stay in the kernel: the cheap
# path). Each is profiled with CFI unwinding (default) and with
# --frame-pointers-only, modes alternating, RUNS runs of SECONDS each.
# Figures per run:
#   - agent CPU: user + sys of `contprof debug profile` (the agent's profiler
#     code: BPF load, ring buffer reader, unwinding thread, symbolization)
#     plus the BPF program's run time, % of one CPU (target <= 2 %);
#   - BPF run time per sample (bench/bpfstats.c; kernel.bpf_stats_enabled);
#   - user-space unwinding per snapshot (the profiler's own count of thread
#     CPU time, from its log line).
#
#   bench/unwind.sh [RUNS [SECONDS]]     (default 3 runs of 5 s; root; `make` first)
# BENCH_QUICK=1: 1 run of 1 s per mode. BENCH_FIGURES=FILE: FIGURE lines for
# scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${BENCH_QUICK:-0} != 0 ]]; then RUNS=${1:-1} SECONDS_PER_RUN=${2:-1}; else RUNS=${1:-3} SECONDS_PER_RUN=${2:-5}; fi
HZ=99
BIN=${CONTPROF_BIN:-build/contprof}
OUT=$(mktemp -d /tmp/contprof-bench-unwind-XXXXXX)
WORKLOADS=()
cleanup() {
  for p in "${WORKLOADS[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -n ${BENCH_KEEP:-} ]] || rm -rf "$OUT"
}
trap cleanup EXIT

for tool in clang cc; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
[[ -x $BIN && -x build/fixtures/cpuratio ]] || { echo "bench: run make first" >&2; exit 1; }
ulimit -l unlimited 2>/dev/null || true
cc -O2 -Wall -o "$OUT/bpfstats" bench/bpfstats.c -lbpf
clang -O2 -fomit-frame-pointer -pthread -o "$OUT/qsortcmp" tests/fixtures/lib/qsortcmp.c

# start_workload NAME CMD...: runs CMD (prints its pid first) as NAME; its
# pid in $WORKLOAD_PID.
start_workload() {
  local name=$1; shift
  "$@" >"$OUT/$name.pid" </dev/null &
  WORKLOADS+=($!)
  for _ in $(seq 50); do [[ -s $OUT/$name.pid ]] && break; sleep 0.1; done
  WORKLOAD_PID=$(head -1 "$OUT/$name.pid")
}

# run_measured NAME PID [ARGS...]: one profiled run; appends
# "cpu_s bpf_ns bpf_cnt snapshots unwind_us" to $OUT/NAME.cost.
run_measured() {
  local name=$1 pid=$2; shift 2
  local poller cpu bpf log
  rm -f "$OUT/$name.stop"
  "$OUT/bpfstats" '^oncpu_sample$' "$OUT/$name.stop" >"$OUT/$name.poll" & poller=$!
  sleep 0.1
  local TIMEFORMAT='%U %S'
  cpu=$( { time "$BIN" debug profile --pid "$pid" --target ON_CPU --hz "$HZ" \
    --seconds "$SECONDS_PER_RUN" "$@" >"$OUT/$name.folded" 2>"$OUT/$name.err"; } 2>&1 | tail -1)
  touch "$OUT/$name.stop"
  wait "$poller" 2>/dev/null || true
  bpf=$(cat "$OUT/$name.poll")
  # "CFI unwinding: N snapshots, ... , X us per snapshot" (absent with --frame-pointers-only)
  log=$(sed -n 's/.*CFI unwinding: \([0-9]*\) snapshots,.* \([0-9.]*\) us per snapshot.*/\1 \2/p' "$OUT/$name.err")
  echo "$(awk -v c="$cpu" 'BEGIN{split(c,a," "); print a[1]+a[2]}') ${bpf:-0 0} ${log:-0 0}" >>"$OUT/$name.cost"
}

median() { sort -n | awk '{a[NR]=$1} END{if(NR==0){print "n/a"; exit} print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

start_workload qsortcmp "$OUT/qsortcmp"
NOFP=$WORKLOAD_PID
start_workload cpuratio build/fixtures/cpuratio 2
FP=$WORKLOAD_PID
echo "workloads: qsortcmp (no frame pointers, 2 threads) pid $NOFP; cpuratio (frame pointers, 2 threads) pid $FP"
echo "$RUNS runs x $SECONDS_PER_RUN s per mode, $HZ Hz; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

for ((r = 1; r <= RUNS; r++)); do
  run_measured nofp_cfi "$NOFP"
  run_measured nofp_fp "$NOFP" --frame-pointers-only
  run_measured fp_cfi "$FP"
  run_measured fp_fp "$FP" --frame-pointers-only
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# report NAME LABEL: medians of a mode.
report() {
  local f=$OUT/$1.cost
  printf '%-44s agent CPU %6.3f %% of one CPU   BPF %6.2f us/sample   user %7.1f us/snapshot (%s snapshots/run)\n' "$2" \
    "$(awk -v s="$SECONDS_PER_RUN" '{print 100*($1 + $2/1e9)/s}' "$f" | median)" \
    "$(awk '$3 > 0 {print $2/$3/1e3}' "$f" | median)" \
    "$(awk '{print $5}' "$f" | median)" "$(awk '{print $4}' "$f" | median)"
}
echo
echo "medians of $RUNS runs of $SECONDS_PER_RUN s:"
report nofp_cfi "no frame pointers, CFI unwinding"
report nofp_fp "no frame pointers, --frame-pointers-only"
report fp_cfi "frame pointers, CFI unwinding (learned)"
report fp_fp "frame pointers, --frame-pointers-only"
truncated=$(sed -n 's/.*truncated [0-9]* (\([0-9.]*\) %).*/\1/p' "$OUT/nofp_cfi.err")
echo "truncated share, no frame pointers with CFI unwinding (last run): ${truncated:-n/a} %"

# figures NAME FIGURE TARGET LABEL: each run as FIGURE lines for scripts/bench.sh.
figures() {
  [[ -n ${BENCH_FIGURES:-} ]] || return 0
  awk -v s="$SECONDS_PER_RUN" -v f="$2" -v t="$3" -v l="$4" '{
    printf "FIGURE unwind.%s_cpu_pct %.4f %% %s - %s: agent CPU + BPF run time, %% of one CPU\n", f, 100*($1 + $2/1e9)/s, t, l
    if ($3 > 0) printf "FIGURE unwind.%s_bpf_us %.3f us lower - %s: BPF run time per sample\n", f, $2/$3/1e3, l
    if ($4 > 0) printf "FIGURE unwind.%s_user_us %.1f us lower - %s: user-space unwinding per snapshot\n", f, $5, l
  }' "$OUT/$1.cost" >>"$BENCH_FIGURES"
}
figures nofp_cfi nofp_cfi "<=2" "no frame pointers, CFI unwinding, $HZ Hz, 2 busy threads"
figures nofp_fp nofp_fponly lower "no frame pointers, frame pointers only"
figures fp_cfi fp_cfi "<=2" "frame pointers, CFI unwinding (learned walks)"
figures fp_fp fp_fponly lower "frame pointers, frame pointers only"
