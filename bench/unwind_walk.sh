#!/usr/bin/env bash
# User-space CPU per stack snapshot of CFI unwinding, cached rules vs libdw's
# general unwinder, on one in-process snapshot taken inside qsort: builds
# bench/unwind_walk.c against build/libcontprof.a and runs it. No root, no
# BPF; the agent-level figures are bench/unwind.sh's.
#   bench/unwind_walk.sh      (after `make`)
# BENCH_FIGURES=FILE appends every run as a FIGURE line (scripts/bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j2 build/libcontprof.a  # incremental: never bench a stale library
mkdir -p build/bench
cc -O2 -g -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
  -D_GNU_SOURCE -Isrc -pthread -o build/bench/unwind_walk bench/unwind_walk.c \
  build/libcontprof.a $(pkg-config --libs libdw libelf) -lbpf
exec build/bench/unwind_walk
