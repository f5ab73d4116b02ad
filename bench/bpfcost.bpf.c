// SPDX-License-Identifier: GPL-2.0
/* bpfcost (kernel side, bench/bpfcost.sh): what each building block of the
 * HTTP monitor's programs costs on this kernel. Every program is attached to
 * the getppid(2) entry tracepoint, which the benchmark's loop calls: each
 * does one thing, and its run time per run minus the empty program's is the
 * price of that thing. Built and run by the benchmark only. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

__u64 watched[1024];
__u64 sink;
__u64 uaddr; /* a user buffer of the loader's, set before load */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[1024]);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} storage SEC(".maps");

#define TP SEC("tp/syscalls/sys_enter_getppid")

TP int c00_empty(void *ctx)
{
	return 0;
}

TP int c01_pid_tgid(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return watched[tgid & 1023] & 1;
}

TP int c02_task_btf(void *ctx)
{
	__u32 tgid = bpf_get_current_task_btf()->tgid;

	return watched[tgid & 1023] & 1;
}

TP int c03_ktime(void *ctx)
{
	sink = bpf_ktime_get_ns();
	return 0;
}

TP int c04_task_pt_regs(void *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	sink = regs->di;
	return 0;
}

TP int c05_hash_lookup(void *ctx)
{
	__u64 key = 7, *v = bpf_map_lookup_elem(&hash, &key);

	if (v)
		sink = *v;
	return 0;
}

TP int c06_lru_lookup(void *ctx)
{
	__u64 key = 7, *v = bpf_map_lookup_elem(&lru, &key);

	if (v)
		sink = *v;
	return 0;
}

TP int c07_array_lookup(void *ctx)
{
	__u32 key = 7;
	__u64 *v = bpf_map_lookup_elem(&array, &key);

	if (v)
		sink = *v;
	return 0;
}

TP int c08_read_user_16(void *ctx)
{
	__u32 zero = 0;
	char *s = bpf_map_lookup_elem(&scratch, &zero);

	if (s)
		bpf_probe_read_user(s, 16, (const void *)uaddr);
	return 0;
}

TP int c09_read_user_64(void *ctx)
{
	__u32 zero = 0;
	char *s = bpf_map_lookup_elem(&scratch, &zero);

	if (s)
		bpf_probe_read_user(s, 64, (const void *)uaddr);
	return 0;
}

TP int c10_read_user_512(void *ctx)
{
	__u32 zero = 0;
	char *s = bpf_map_lookup_elem(&scratch, &zero);

	if (s)
		bpf_probe_read_user(s, 512, (const void *)uaddr);
	return 0;
}

TP int c11_read_kernel_64(void *ctx)
{
	__u32 zero = 0;
	char *s = bpf_map_lookup_elem(&scratch, &zero);

	if (s)
		bpf_probe_read_kernel(s + 512, 64, s);
	return 0;
}

static long add_index(__u64 i, void *sum)
{
	*(__u64 *)sum += i;
	return 0;
}

TP int c12_bpf_loop_9(void *ctx)
{
	__u64 sum = 0;

	bpf_loop(9, add_index, &sum, 0);
	sink = sum;
	return 0;
}

static __noinline int triple(__u64 x)
{
	return x * 3;
}

TP int c13_subprog_call(void *ctx)
{
	sink = triple(sink);
	return 0;
}

TP int c14_ringbuf_output_160(void *ctx)
{
	__u32 zero = 0;
	char *s = bpf_map_lookup_elem(&scratch, &zero);

	if (s)
		bpf_ringbuf_output(&ring, s, 160, BPF_RB_NO_WAKEUP);
	return 0;
}

TP int c15_task_storage_get(void *ctx)
{
	__u64 *v = bpf_task_storage_get(&storage, bpf_get_current_task_btf(), 0,
					BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (v)
		*v += 1;
	return 0;
}
