#!/usr/bin/env bash
# Runs libFuzzer targets built by `make fuzzers` (build/fuzz/fuzzers/NAME):
#   scripts/fuzz.sh SECONDS NAME...
# Each target runs SECONDS seconds on its committed seed corpus
# tests/fuzz/corpus/NAME/ (read only: new inputs go to a scratch corpus under
# build/fuzz/work/NAME/, kept between runs), with the dictionary
# tests/fuzz/NAME.dict when there is one. A crash, leak, UB or failed check
# leaves its input in build/fuzz/artifacts/ and fails the run.
# Prints one line per target: executions, coverage, corpus, time.
# FUZZ_JOBS_NICE (default 10) is the nice level the fuzzers run at;
# FUZZ_LOG_DIR (default build/fuzz/logs) where their logs go.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: scripts/fuzz.sh SECONDS NAME...}
shift
failed=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
for name in "$@"; do
  bin=build/fuzz/fuzzers/$name
  seeds=tests/fuzz/corpus/$name
  work=build/fuzz/work/$name
  arts=build/fuzz/artifacts
  log=${FUZZ_LOG_DIR:-build/fuzz/logs}/$name.log
  if [[ ! -x $bin ]]; then echo "fuzz $name: $bin is missing (make fuzzers)"; failed+=("$name"); continue; fi
  mkdir -p "$work" "$arts" "$(dirname "$log")" "$seeds"
  dict=()
  [[ -f tests/fuzz/$name.dict ]] && dict=(-dict="tests/fuzz/$name.dict")
  nice -n "${FUZZ_JOBS_NICE:-10}" "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$arts/$name-" "${dict[@]}" \
    "$work" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
  corpus=$(find "$work" -type f | wc -l)
  if ((rc != 0)); then
    echo "fuzz $name: FAILED (exit $rc) after ${execs:-?} executions; see $log"
    grep -E 'ERROR:|SUMMARY:|fuzz check failed|Test unit written' "$log" | head -8 | sed 's/^/  /'
    failed+=("$name")
  else
    echo "fuzz $name: ok, ${execs:-?} executions in ${secs}s, cov ${cov:-?}, scratch corpus $corpus"
  fi
done
((${#failed[@]} == 0)) || { echo "fuzz failures: ${failed[*]}"; exit 1; }
