#!/usr/bin/env bash
# Runs every unit test binary in DIR, prints one line per binary and the
# total "N passed, N failed"; exits 1 when any test failed or a binary crashed.
set -uo pipefail
dir=${1:?usage: run-unit.sh BUILD/tests}
total_pass=0 total_fail=0 crashed=0
for bin in "$dir"/test_*; do
  [[ -x "$bin" ]] || continue
  name=$(basename "$bin")
  out=$("$bin" 2>&1); rc=$?
  line=$(grep '^HARNESS ' <<<"$out" | tail -1)
  if [[ -z "$line" ]]; then
    echo "$out" | sed 's/^/    /'
    echo "  $name: CRASHED (exit $rc)"
    crashed=$((crashed + 1)); total_fail=$((total_fail + 1)); continue
  fi
  p=$(sed -E 's/.*passed=([0-9]+).*/\1/' <<<"$line"); f=$(sed -E 's/.*failed=([0-9]+).*/\1/' <<<"$line")
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  grep -v '^HARNESS ' <<<"$out" | sed 's/^/  /'
  if ((rc != 0 && f == 0)); then
    echo "  $name: exit $rc after all tests passed"; total_fail=$((total_fail + 1))
  fi
  printf '  %-28s %4d passed, %d failed\n' "$name" "$p" "$f"
done
echo "unit ($dir): $total_pass passed, $total_fail failed"
((total_fail == 0))
