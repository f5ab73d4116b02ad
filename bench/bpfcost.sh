#!/usr/bin/env bash
# bench/bpfcost.sh — the price of each building block of the HTTP monitor's
# BPF programs on this kernel (helper calls, map lookups, user-memory reads,
# bpf_loop callbacks, ring records), to know where a program's time goes.
#
# bench/bpfcost.bpf.c attaches one program per block to getppid(2)'s entry
# tracepoint; bench/bpfcost.c calls getppid $CALLS times per round pinned to
# CPU $CPU, with kernel.bpf_stats_enabled=1 (restored after). Printed per
# block: the median over $ROUNDS rounds of ns per run, and that minus the
# empty program's (the price of the block alone). The programs run back to
# back with warm caches: in a real request, with the kernel's network stack
# in between, each costs more (see docs/httpmon.md).
#
# Usage: bench/bpfcost.sh                   (CALLS=300000 ROUNDS=5)
#        BENCH_QUICK=1: CALLS=50000 ROUNDS=1
# BENCH_FIGURES=FILE: FIGURE lines for scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${BENCH_QUICK:-0} != 0 ]]; then
	CALLS=${CALLS:-50000} ROUNDS=${ROUNDS:-1}
fi
CALLS=${CALLS:-300000}
ROUNDS=${ROUNDS:-5}
CPU=${CPU:-0}

for tool in clang bpftool cc taskset; do
	command -v "$tool" >/dev/null || { echo "bench: $tool missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/bpfcost-bench.XXXXXX)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	sysctl -qw kernel.bpf_stats_enabled="$old_stats"
	rm -rf "$work"
}
trap cleanup EXIT

arch=$(uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')
bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$work/vmlinux.h"
clang -g -O2 -target bpf -D__TARGET_ARCH_"$arch" -Wall -I"$work" -c bench/bpfcost.bpf.c -o "$work/bpfcost.bpf.o"
bpftool gen skeleton "$work/bpfcost.bpf.o" name bpfcost_bpf >"$work/bpfcost.skel.h"
cc -O2 -Wall -I"$work" -o "$work/bpfcost" bench/bpfcost.c -lbpf

sysctl -qw kernel.bpf_stats_enabled=1
echo "bench: $ROUNDS rounds of $CALLS getppid calls on CPU $CPU, load $(cut -d' ' -f1-3 /proc/loadavg)"
taskset -c "$CPU" "$work/bpfcost" "$CALLS" "$ROUNDS" >"$work/out"
sysctl -qw kernel.bpf_stats_enabled="$old_stats"

python3 - "$work/out" "${BENCH_FIGURES:-}" <<'PY'
import statistics, sys
rounds = {}
for line in open(sys.argv[1]):
    r, name, ns = line.split()
    rounds.setdefault(int(r), {})[name[4:]] = float(ns)
figures = open(sys.argv[2], "a") if sys.argv[2] else None
per_block = {}
for r, progs in sorted(rounds.items()):
    for name, ns in progs.items():
        # Each round's block price is against that round's empty program.
        v = ns if name == "empty" else ns - progs["empty"]
        per_block.setdefault(name, []).append((ns, v))
        if figures:
            what = "an empty program (the floor of every run)" if name == "empty" \
                else f"{name}, ns over an empty program"
            print(f"FIGURE bpfcost.{name}_ns {v:.1f} ns lower - BPF building block on this kernel: {what}",
                  file=figures)
print(f"medians over {len(rounds)} rounds:")
for name, vals in per_block.items():
    ns = statistics.median(v[0] for v in vals)
    extra = "" if name == "empty" else f"  {statistics.median(v[1] for v in vals):7.1f} ns over the empty program"
    print(f"  {name:18s} {ns:7.1f} ns/run{extra}")
PY
