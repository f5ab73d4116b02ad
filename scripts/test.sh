#!/usr/bin/env bash
# Every test of the project, as the README's test command runs it:
#   1. format check       2. build (warnings as errors under CI=1)
#   3. unit tests         4. unit tests under ASan+UBSan
#   5. core line coverage (gcov, must be 100 %)
#   6. integration tests (node's test runner) against the sanitizer binary,
#      with the web UI's browser tests, and tests/web/ (the UI's JS modules)
#   7. the server's integration tests again on PostgreSQL: a throwaway
#      cluster (scripts/pg-cluster.sh) started here and removed on exit
#   8. every libFuzzer target for a short run (FUZZ_TIME, default 20 s each)
#      on its committed corpus (make fuzz; tests/fuzz/README.md)
# Prints a summary "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)
failed_steps=()
step() { echo; echo "== $*"; }

step "format check"
make -s format-check || failed_steps+=(format)

step "build"
make -s -j"$JOBS" all || { echo "build failed"; exit 1; }
make -s -j"$JOBS" SAN=1 all || { echo "sanitizer build failed"; exit 1; }

step "unit tests"
unit_out=$(scripts/run-unit.sh build/tests); unit_rc=$?
echo "$unit_out"
step "unit tests (ASan+UBSan)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
san_out=$(scripts/run-unit.sh build/san/tests); san_rc=$?
echo "$san_out"

step "core coverage"
scripts/coverage.sh || failed_steps+=(coverage)

step "integration tests"
int_out=$(CONTPROF_BIN=$PWD/build/san/contprof timeout 1500 node --test tests/integration/ tests/web/ 2>&1); int_rc=$?
grep -E '^ *(not )?ok [0-9]+ - |^# (tests|pass|fail) ' <<<"$int_out"
int_pass=$(grep -E '^# pass ' <<<"$int_out" | awk '{print $3}'); int_fail=$(grep -E '^# fail ' <<<"$int_out" | awk '{print $3}')
((int_rc != 0)) && echo "$int_out" | grep -A30 '^not ok' | head -120

step "server integration tests on PostgreSQL"
pg_dir=$(mktemp -d /tmp/contprof-pg-XXXXXX)
trap 'scripts/pg-cluster.sh stop "$pg_dir"' EXIT
if pg_url=$(scripts/pg-cluster.sh start "$pg_dir"); then
  pg_out=$(CONTPROF_TEST_PG=$pg_url CONTPROF_BIN=$PWD/build/san/contprof timeout 900 node --test \
    tests/integration/server_agent.test.mjs tests/integration/server_query.test.mjs \
    tests/integration/server_shared.test.mjs tests/integration/server_parity.test.mjs 2>&1); pg_rc=$?
else
  pg_out="# fail 1"; pg_rc=1
fi
grep -E '^ *(not )?ok [0-9]+ - |^# (tests|pass|fail) ' <<<"$pg_out"
((pg_rc != 0)) && echo "$pg_out" | grep -A30 '^not ok' | head -120
pg_pass=$(grep -E '^# pass ' <<<"$pg_out" | awk '{print $3}'); pg_fail=$(grep -E '^# fail ' <<<"$pg_out" | awk '{print $3}')
int_pass=$(( ${int_pass:-0} + ${pg_pass:-0} )); int_fail=$(( ${int_fail:-0} + ${pg_fail:-0} ))
((pg_rc != 0)) && int_rc=1

step "fuzz targets (${FUZZ_TIME:-20} s each)"
make -s fuzz FUZZ_TIME="${FUZZ_TIME:-20}" || failed_steps+=(fuzz)

sum() { grep -Eo '[0-9]+ passed, [0-9]+ failed$' <<<"$1" | tail -1; }
read -r up _ uf _ <<<"$(sum "$unit_out")"; read -r sp _ sf _ <<<"$(sum "$san_out")"
passed=$(( ${up:-0} + ${sp:-0} + ${int_pass:-0} ))
fails=$(( ${uf:-0} + ${sf:-0} + ${int_fail:-0} ))
((unit_rc != 0 && ${uf:-0} == 0)) && fails=$((fails + 1))
((san_rc != 0 && ${sf:-0} == 0)) && fails=$((fails + 1))
((int_rc != 0 && ${int_fail:-0} == 0)) && fails=$((fails + 1))
fails=$((fails + ${#failed_steps[@]}))
echo
((${#failed_steps[@]})) && echo "failed steps: ${failed_steps[*]}"
echo "$passed passed, $fails failed"
((fails == 0))
