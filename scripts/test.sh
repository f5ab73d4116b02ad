#!/usr/bin/env bash
# Every test of the project, as the README's test command runs it:
#   1. format check       2. build (warnings as errors under CI=1)
#   3. unit tests         4. unit tests under ASan+UBSan
#   5. core line coverage (gcov, must be 100 %)
#   6. integration tests (node's test runner) against the sanitizer binary
#      in two lanes side by side: the agent lane (BPF, CPU loads, figures)
#      and the server lane (server, CLI, the web UI in a browser, the UI's
#      JS modules in tests/web/, then the server's tests again on
#      PostgreSQL: a throwaway cluster from scripts/pg-cluster.sh)
#   7. every libFuzzer target for a short run (FUZZ_TIME, default 8 s each)
#      on its committed corpus (make fuzz; tests/fuzz/README.md)
# Prints a summary "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)
failed_steps=()
step() { echo; echo "== $* (at ${SECONDS} s)"; }

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

step "integration tests (two lanes) and the server's tests on PostgreSQL"
# Two lanes run side by side, each file after file. The agent lane holds
# every test that loads BPF programs, burns CPU or measures it; the server
# lane holds what only talks to servers and the CLI (no burners, no
# figures): those files, the UI's JS modules, then the server's files again
# on a throwaway PostgreSQL cluster (scripts/pg-cluster.sh), removed on exit.
SERVER_LANE=(cli cli_docs policy_validate server_agent server_badinput server_parity
  server_query webui install agent_check source_guard)
PG_FILES=(server_agent server_query server_shared server_parity)
lane_files() { # lane_files server|agent: the files of that lane
  local f base
  for f in tests/integration/*.test.mjs; do
    base=$(basename "$f" .test.mjs)
    if [[ " ${SERVER_LANE[*]} " == *" $base "* ]]; then [[ $1 == server ]] && echo "$f"
    else [[ $1 == agent ]] && echo "$f"; fi
  done
}
lane_dir=$(mktemp -d /tmp/contprof-lanes-XXXXXX)
pg_dir=$(mktemp -d /tmp/contprof-pg-XXXXXX)
trap 'scripts/pg-cluster.sh stop "$pg_dir"; rm -rf "$lane_dir"' EXIT
export CONTPROF_BIN=$PWD/build/san/contprof
mapfile -t agent_files < <(lane_files agent)
mapfile -t server_files < <(lane_files server)
timeout 1500 node --test "${agent_files[@]}" >"$lane_dir/agent" 2>&1 &
agent_lane=$!
(
  timeout 900 node --test "${server_files[@]}" tests/web/ >"$lane_dir/server" 2>&1
  echo $? >"$lane_dir/server.rc"
  if pg_url=$(scripts/pg-cluster.sh start "$pg_dir"); then
    pg_files=("${PG_FILES[@]/#/tests/integration/}")
    CONTPROF_TEST_PG=$pg_url timeout 900 node --test "${pg_files[@]/%/.test.mjs}" >"$lane_dir/pg" 2>&1
    echo $? >"$lane_dir/pg.rc"
  else
    echo "# fail 1" >"$lane_dir/pg"; echo 1 >"$lane_dir/pg.rc"
  fi
) &
server_lane=$!
wait "$agent_lane"; agent_rc=$?
wait "$server_lane"
int_pass=0 int_fail=0 int_rc=0
for lane in agent server pg; do
  out=$(cat "$lane_dir/$lane")
  rc=$agent_rc; [[ $lane != agent ]] && rc=$(cat "$lane_dir/$lane.rc" 2>/dev/null || echo 1)
  echo "-- $lane lane"
  grep -E '^ *(not )?ok [0-9]+ - |^# (tests|pass|fail) ' <<<"$out"
  ((rc != 0)) && { int_rc=1; echo "$out" | grep -A30 '^not ok' | head -120; }
  pass=$(grep -E '^# pass ' <<<"$out" | awk '{print $3}'); fail=$(grep -E '^# fail ' <<<"$out" | awk '{print $3}')
  int_pass=$((int_pass + ${pass:-0})); int_fail=$((int_fail + ${fail:-0}))
  ((rc != 0 && ${fail:-0} == 0)) && int_fail=$((int_fail + 1))
done

step "fuzz targets (${FUZZ_TIME:-8} s each)"
make -s fuzz FUZZ_TIME="${FUZZ_TIME:-8}" || failed_steps+=(fuzz)

sum() { grep -Eo '[0-9]+ passed, [0-9]+ failed$' <<<"$1" | tail -1; }
read -r up _ uf _ <<<"$(sum "$unit_out")"; read -r sp _ sf _ <<<"$(sum "$san_out")"
passed=$(( ${up:-0} + ${sp:-0} + ${int_pass:-0} ))
fails=$(( ${uf:-0} + ${sf:-0} + ${int_fail:-0} ))
((unit_rc != 0 && ${uf:-0} == 0)) && fails=$((fails + 1))
((san_rc != 0 && ${sf:-0} == 0)) && fails=$((fails + 1))
fails=$((fails + ${#failed_steps[@]}))
echo
((${#failed_steps[@]})) && echo "failed steps: ${failed_steps[*]}"
echo "suite time: ${SECONDS} s"
echo "$passed passed, $fails failed"
((fails == 0))
