#!/usr/bin/env bash
# Line coverage of src/core by the unit tests (gcov build under build/cov).
# Prints gcovr's summary and fails below COVERAGE_MIN (default 100) percent.
set -uo pipefail
cd "$(dirname "$0")/.."
min=${COVERAGE_MIN:-100}
find build/cov -name '*.gcda' -delete 2>/dev/null
make -s -j"$(nproc)" COVERAGE=1 all >/dev/null || { echo "coverage build failed"; exit 1; }
scripts/run-unit.sh build/cov/tests >/dev/null || { echo "coverage: unit tests failed"; exit 1; }
gcovr -r . --object-directory build/cov/obj --filter 'src/core/' --exclude-unreachable-branches \
  --fail-under-line "$min" --print-summary -o build/cov/core-coverage.txt
rc=$?
grep -v '100%' build/cov/core-coverage.txt | grep -E '^src/core' || true
((rc == 0)) || echo "coverage: src/core below ${min}% lines (see build/cov/core-coverage.txt)"
exit $rc
