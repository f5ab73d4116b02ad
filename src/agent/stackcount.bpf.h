/* stackcount (kernel side helpers) for oncpu.bpf.c and offcpu.bpf.c: the pid
 * filter, the double-buffered counts and stack maps and the generation that
 * selects the buffer (see stackcount.h). Each including object gets its own
 * maps. Sizes are set by user space before load. */
#ifndef CONTPROF_AGENT_STACKCOUNT_BPF_H
#define CONTPROF_AGENT_STACKCOUNT_BPF_H

#include "agent/stackcount.h"

typedef __u64 stackcount_ips_t[STACKCOUNT_DEPTH_MAX];

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct stack_pid);
} pids SEC(".maps");

struct stackcount_counts {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct stack_key);
	__type(value, struct stack_value);
};

struct stackcount_counts counts_0 SEC(".maps");
struct stackcount_counts counts_1 SEC(".maps");

struct stackcount_stacks {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 8192); /* set before load: profiler_config's stack_map_entries */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(stackcount_ips_t));
};

struct stackcount_stacks stacks_0 SEC(".maps");
struct stackcount_stacks stacks_1 SEC(".maps");

/* The generation; written by user space only. */
__u32 gen = 0;

static __always_inline __u32 stackcount_gen(void)
{
	return *(volatile __u32 *)&gen;
}

static __always_inline struct stack_pid *stackcount_wanted(__u32 tgid)
{
	return bpf_map_lookup_elem(&pids, &tgid);
}

static __always_inline __s32 stackcount_stackid(void *ctx, __u32 g, __u64 flags)
{
	if (g & 1)
		return bpf_get_stackid(ctx, &stacks_1, flags);
	return bpf_get_stackid(ctx, &stacks_0, flags);
}

/* Adds one event of `ns` to `key` in buffer `g & 1`; a full map is counted
 * in the pid's entry (`owner`, may be NULL) as lost. */
static __always_inline void stackcount_add(__u32 g, struct stack_key *key, __u64 ns,
					   struct stack_pid *owner)
{
	void *counts = (g & 1) ? (void *)&counts_1 : (void *)&counts_0;
	struct stack_value *v = bpf_map_lookup_elem(counts, key);
	struct stack_value fresh = {.count = 1, .total_ns = ns};

	if (v) {
		__sync_fetch_and_add(&v->count, 1);
		__sync_fetch_and_add(&v->total_ns, ns);
		return;
	}
	if (bpf_map_update_elem(counts, key, &fresh, BPF_NOEXIST) == 0)
		return;
	v = bpf_map_lookup_elem(counts, key); /* inserted meanwhile on another CPU */
	if (v) {
		__sync_fetch_and_add(&v->count, 1);
		__sync_fetch_and_add(&v->total_ns, ns);
	} else if (owner) {
		__sync_fetch_and_add(&owner->lost, 1);
	}
}

#endif
