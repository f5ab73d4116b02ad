// SPDX-License-Identifier: GPL-2.0
/* offcpu (kernel side): sched_switch. When a thread of a profiled process is
 * switched out, its stacks and the time are kept per thread; when it comes
 * back, the time it stayed off the CPU (if >= min_block_ns) is added to those
 * stacks with a count of one. Two programs with one body: tp_btf (preferred)
 * and a raw tracepoint, chosen by user space by trying to load the first.
 * User stacks of code without frame pointers: unwound once per blocking
 * site in user space (unwind.bpf.h). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "agent/stackcount.bpf.h"
#include "agent/unwind.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 min_block_ns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct stack_start);
} starts SEC(".maps");

static __always_inline int on_switch(void *ctx, struct task_struct *prev, struct task_struct *next)
{
	__u32 prev_tgid = BPF_CORE_READ(prev, tgid);
	__u32 next_tid = BPF_CORE_READ(next, pid);
	__u64 now = bpf_ktime_get_ns();
	struct stack_start *blocked;
	__u32 g = stackcount_gen();

	if (prev_tgid && stackcount_wanted(prev_tgid)) {
		__u32 prev_tid = BPF_CORE_READ(prev, pid);
		struct stack_start st = {};

		st.start_ns = now;
		st.pid = prev_tgid;
		st.gen = g;
		st.user_stack = unwind_offcpu_user_stack(ctx, prev_tgid, g);
		st.kernel_stack = stackcount_stackid(ctx, g, 0);
		bpf_map_update_elem(&starts, &prev_tid, &st, BPF_ANY);
	}
	blocked = bpf_map_lookup_elem(&starts, &next_tid);
	if (!blocked)
		return 0;
	if (now - blocked->start_ns >= min_block_ns) {
		struct stack_key key = {};

		key.pid = blocked->pid;
		key.gen = blocked->gen;
		key.user_stack = blocked->user_stack;
		key.kernel_stack = blocked->kernel_stack;
		/* Counted before the entry goes: stackdrain.c relies on it. */
		stackcount_add(g, &key, now - blocked->start_ns, stackcount_wanted(key.pid));
	}
	bpf_map_delete_elem(&starts, &next_tid);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(offcpu_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, prev, next);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(offcpu_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, prev, next);
}
