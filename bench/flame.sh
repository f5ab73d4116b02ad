#!/usr/bin/env bash
# Flame graph and pprof cost of one 10-minute task (60 000 samples over 5 000
# stacks): builds bench/flame_bench.c against build/libcontprof.a and runs it.
#   bench/flame.sh            (after `make`)
# FLAME_BENCH_RUNS=N runs each figure N times (default 9; BENCH_QUICK=1: 2);
# BENCH_FIGURES=FILE appends every run as a FIGURE line (scripts/bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j2 build/libcontprof.a  # incremental: never bench a stale library
mkdir -p build/bench
cc -O2 -g -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
  -D_GNU_SOURCE -Isrc -o build/bench/flame_bench bench/flame_bench.c \
  build/libcontprof.a $(pkg-config --cflags --libs jansson zlib) -lm
[[ ${BENCH_QUICK:-0} != 0 ]] && export FLAME_BENCH_RUNS=${FLAME_BENCH_RUNS:-2}
exec build/bench/flame_bench
