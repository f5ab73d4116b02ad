/* stackcount ABI shared by oncpu.bpf.c, offcpu.bpf.c and stackdrain.c: stacks
 * counted in the kernel per {pid, stack generation, user stack, kernel stack}.
 *
 * Counts and stack maps are double-buffered: the BPF programs write to buffer
 * `gen & 1`, user space bumps `gen`, waits for programs in flight to finish
 * and then drains the idle buffer alone, so no sample is lost or counted twice
 * across a drain. A key's `gen` names the generation whose stack map holds its
 * stack ids (off-CPU: the generation current when the thread blocked, which
 * may be older than the counts buffer it lands in). A negative stack id is the
 * error of bpf_get_stackid(): -EFAULT means "no such stack" (a sample taken in
 * user mode has no kernel stack), anything else a stack the map could not take
 * (shown as a `[lost]` frame). Fixed-width types only.
 */
#ifndef CONTPROF_AGENT_STACKCOUNT_H
#define CONTPROF_AGENT_STACKCOUNT_H

/* perf's default kernel.perf_event_max_stack: frames per stack. */
#define STACKCOUNT_DEPTH_MAX 127

struct stack_key {
	__u32 pid; /* thread group id */
	__u32 gen; /* generation of the stack map holding the ids */
	__s32 user_stack;
	__s32 kernel_stack;
};

struct stack_value {
	__u64 count;
	__u64 total_ns; /* off-CPU: time blocked; on-CPU: 0 */
};

/* One entry of the pid filter map; `lost` counts samples of that pid that
 * found the counts map full (user space reads the increase at each drain). */
struct stack_pid {
	__u64 lost;
};

/* Off-CPU: a thread that blocked, keyed by thread id. */
struct stack_start {
	__u64 start_ns;
	__u32 pid;
	__u32 gen;
	__s32 user_stack;
	__s32 kernel_stack;
};

#endif
