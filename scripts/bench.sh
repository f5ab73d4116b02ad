#!/usr/bin/env bash
# The benchmark suite (`make bench`): runs every bench/*.sh in turn, each with
# BENCH_FIGURES=FILE so it appends its figures as FIGURE lines (format in
# scripts/bench-report.mjs), then prints one table — figure, median [min-max],
# target, the peer measured in the same run — and writes it as JSON to
# $BENCH_RESULTS/latest.json (the previous one becomes previous.json, which
# `make bench-compare` compares it with). Each benchmark's own output goes to
# $BENCH_RESULTS/NAME.log. The benchmarks alternate their A/B runs themselves.
# Each benchmark's wall time and the load average after it are printed as it
# ends and kept in the JSON; the table's footer has them and the total.
#
#   scripts/bench.sh [NAME...]     NAME: flame, profilers, httpmon, ... (bench/NAME.sh);
#                                  default: all of them
#   BENCH_QUICK=1                  each benchmark runs briefly (seconds): checks that
#                                  the suite runs, its figures mean little
#   BENCH_RESULTS=DIR              default bench/results
#   BENCH_TIMEOUT=SECONDS          per benchmark (default 1200; quick: 180)
#   BENCH_VERBOSE=1                show each benchmark's output as it runs
# Exits non-zero when a benchmark fails or prints a malformed figure; a missed
# target is reported, never an error (the host is shared and noisy).
set -uo pipefail
cd "$(dirname "$0")/.."

RESULTS=${BENCH_RESULTS:-bench/results}
quick=0
[[ ${BENCH_QUICK:-0} != 0 ]] && quick=1
export BENCH_QUICK=$quick
TIMEOUT=${BENCH_TIMEOUT:-$((quick ? 180 : 1200))}

if (($#)); then
	names=("$@")
else
	names=()
	for f in bench/*.sh; do names+=("$(basename "$f" .sh)"); done
fi
for n in "${names[@]}"; do
	[[ -x bench/$n.sh ]] || { echo "bench: no benchmark bench/$n.sh" >&2; exit 2; }
done
command -v node >/dev/null || { echo "bench: node missing (scripts/setup.sh installs it)" >&2; exit 2; }

mkdir -p "$RESULTS"
work=$(mktemp -d /tmp/contprof-bench-suite-XXXXXX)
trap 'rm -rf "$work"' EXIT
: >"$work/figures"
: >"$work/runs"

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
suite_t0=$(date +%s.%N)
load_start=$(cut -d' ' -f1 /proc/loadavg)
git_start=$(git describe --always --dirty 2>/dev/null || echo unknown) # the code measured
echo "bench: ${names[*]}$( ((quick)) && echo ' (quick)'); outputs in $RESULTS/NAME.log" >&2
for n in "${names[@]}"; do
	log=$RESULTS/$n.log
	t0=$(date +%s.%N)
	echo "# benchmark $n" >>"$work/figures"
	: >"$work/$n.figures"
	printf 'bench: %-12s ' "$n" >&2
	if [[ ${BENCH_VERBOSE:-0} != 0 ]]; then
		BENCH_FIGURES=$work/$n.figures timeout --kill-after=10 "$TIMEOUT" "bench/$n.sh" 2>&1 | tee "$log" >&2
		rc=${PIPESTATUS[0]}
	else
		BENCH_FIGURES=$work/$n.figures timeout --kill-after=10 "$TIMEOUT" "bench/$n.sh" >"$log" 2>&1
		rc=$?
	fi
	((rc == 124)) && echo "bench: timed out after $TIMEOUT s" >>"$log"
	cat "$work/$n.figures" >>"$work/figures"
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
	load=$(cut -d' ' -f1 /proc/loadavg)
	echo "$n $rc $secs $log $load" >>"$work/runs"
	figures=$(grep -c '^FIGURE' "$work/$n.figures")
	if ((rc == 0)); then
		echo "ok in $secs s, $figures figure lines (load average $load)" >&2
	else
		echo "FAILED (exit $rc) after $secs s, see $log (load average $load)" >&2
	fi
done

# The run's context, kept in the JSON beside the figures; seconds_total is
# the wall time of every benchmark together (the build before is not in it).
total=$(awk -v a="$suite_t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
node -e '
const [started, quick, loadStart, names, git, total] = process.argv.slice(1);
console.log(JSON.stringify({
  started, finished: new Date().toISOString().replace(/\.\d+Z$/, "Z"), quick: quick === "1",
  seconds_total: Number(total), benchmarks_requested: names.split(" "), git,
  host: {cpus: require("os").cpus().length, kernel: require("os").release(),
         loadavg_start: Number(loadStart), loadavg_end: require("os").loadavg()[0]},
}));' "$started" "$quick" "$load_start" "${names[*]}" "$git_start" "$total" >"$work/meta.json"

# previous.json is the last complete run before this one.
[[ -f $RESULTS/latest.json ]] && mv "$RESULTS/latest.json" "$RESULTS/previous.json"
node scripts/bench-report.mjs summarize "$work/figures" "$work/runs" "$work/meta.json" "$RESULTS/latest.json"
report_rc=$?
echo "bench: wrote $RESULTS/latest.json$([[ -f $RESULTS/previous.json ]] && echo "; make bench-compare compares it with the previous run")" >&2
((report_rc != 0)) && exit 1
! awk '$2 != 0 {exit 1}' "$work/runs" && exit 1
exit 0
