/* unwind (kernel side) for oncpu.bpf.c and offcpu.bpf.c: decides whether a
 * user stack may stay on the cheap frame-pointer path and, when not, sends a
 * snapshot of its user registers and stack through the `snapshots` ring
 * buffer (see unwind_abi.h); off-CPU, names the unwound stack of a known
 * blocking site. Include after stackcount.bpf.h. Off unless user space sets
 * `unwind_stack_max` before load. */
#ifndef CONTPROF_AGENT_UNWIND_BPF_H
#define CONTPROF_AGENT_UNWIND_BPF_H

#include "agent/unwind_abi.h"

#define UNWIND_PAGE 4096

/* Bytes of stack to copy per snapshot; 0 turns snapshots off. */
const volatile __u32 unwind_stack_max = 0;

/* Snapshots sent, and those the ring buffer had no room for (their samples
 * are counted on the cheap path instead). */
__u64 unwind_sent = 0;
__u64 unwind_dropped = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, UNWIND_RING_BYTES);
} snapshots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct unwind_top_key);
	__type(value, __u8);
} fp_complete SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct unwind_site_key);
	__type(value, __s32);
} unwind_sites SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct unwind_snapshot);
} snapshot_scratch SEC(".maps");

/* Copies the user stack from `sp` up into s->stack: the rest of sp's page,
 * then whole pages until one cannot be read. */
static __always_inline __u32 unwind_copy_stack(struct unwind_snapshot *s, __u64 sp)
{
	__u32 max = unwind_stack_max, len;

	if (max > UNWIND_STACK_MAX)
		max = UNWIND_STACK_MAX;
	len = UNWIND_PAGE - (sp & (UNWIND_PAGE - 1));
	if (len > max)
		len = max;
	if (len > UNWIND_PAGE || len == 0)
		return 0;
	if (bpf_probe_read_user(s->stack, len, (void *)sp) != 0)
		return 0;
	for (int i = 0; i < UNWIND_STACK_MAX / UNWIND_PAGE; i++) {
		__u32 off = len;

		if (off > UNWIND_STACK_MAX - UNWIND_PAGE || off + UNWIND_PAGE > max)
			break;
		if (bpf_probe_read_user(&s->stack[off], UNWIND_PAGE, (void *)(sp + off)) != 0)
			break;
		len = off + UNWIND_PAGE;
	}
	return len;
}

/* The frame-pointer walk of the current task's user stack into s->fp_ips:
 * its frame count, or 0 (none, or known complete: the cheap path). */
static __always_inline __u32 unwind_fp_walk(void *ctx, __u32 tgid, struct unwind_snapshot *s)
{
	struct unwind_top_key top = {.pid = tgid};
	long n = bpf_get_stack(ctx, s->fp_ips, sizeof(s->fp_ips), BPF_F_USER_STACK);
	__u32 n_fp;

	if (n <= 0)
		return 0;
	n_fp = (__u32)n / sizeof(__u64);
	if (n_fp == 0 || n_fp > STACKCOUNT_DEPTH_MAX)
		return 0;
	top.ip = s->fp_ips[n_fp - 1];
	if (bpf_map_lookup_elem(&fp_complete, &top))
		return 0;
	return n_fp;
}

static __always_inline void unwind_copy_regs(struct unwind_snapshot *s, struct pt_regs *regs)
{
	s->regs[0] = regs->ax;
	s->regs[1] = regs->dx;
	s->regs[2] = regs->cx;
	s->regs[3] = regs->bx;
	s->regs[4] = regs->si;
	s->regs[5] = regs->di;
	s->regs[6] = regs->bp;
	s->regs[7] = regs->sp;
	s->regs[8] = regs->r8;
	s->regs[9] = regs->r9;
	s->regs[10] = regs->r10;
	s->regs[11] = regs->r11;
	s->regs[12] = regs->r12;
	s->regs[13] = regs->r13;
	s->regs[14] = regs->r14;
	s->regs[15] = regs->r15;
	s->regs[16] = regs->ip;
}

/* Completes s (registers already in) and sends it: 0, or < 0 when it did
 * not go out. */
static __always_inline int unwind_send(void *ctx, struct unwind_snapshot *s, __u32 tgid, __u32 n_fp,
				       __u32 kind)
{
	__u32 stack_len;
	__u64 wake = 0; /* off-CPU sites: wake the reader if it is idle */
	long n;

	if (kind == UNWIND_KIND_SAMPLE)
		wake = bpf_ringbuf_query(&snapshots, BPF_RB_AVAIL_DATA) >= UNWIND_RING_WAKE_BYTES
			   ? BPF_RB_FORCE_WAKEUP
			   : BPF_RB_NO_WAKEUP;
	s->pid = tgid;
	s->tid = (__u32)bpf_get_current_pid_tgid();
	s->n_fp = (__s32)n_fp;
	s->kind = kind;
	n = bpf_get_stack(ctx, s->kernel_ips, sizeof(s->kernel_ips), 0);
	s->n_kernel = n < 0 ? (__s32)n : (__s32)((__u32)n / sizeof(__u64));
	stack_len = unwind_copy_stack(s, s->regs[UNWIND_REG_SP]);
	s->stack_len = stack_len;
	if (stack_len > UNWIND_STACK_MAX)
		return -1;
	if (bpf_ringbuf_output(&snapshots, s, offsetof(struct unwind_snapshot, stack) + stack_len,
			       wake) != 0) {
		__sync_fetch_and_add(&unwind_dropped, 1);
		return -2;
	}
	__sync_fetch_and_add(&unwind_sent, 1);
	return 0;
}

/* On-CPU: returns true when the sample went out as a snapshot (the caller
 * then does not count it), false when it belongs on the cheap path. */
static __always_inline bool unwind_snapshot_sample(void *ctx, __u32 tgid)
{
	struct unwind_snapshot *s;
	struct pt_regs *regs;
	__u32 zero = 0, n_fp;

	if (!unwind_stack_max)
		return false;
	s = bpf_map_lookup_elem(&snapshot_scratch, &zero);
	if (!s)
		return false;
	n_fp = unwind_fp_walk(ctx, tgid, s);
	if (!n_fp)
		return false;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (!regs)
		return false;
	unwind_copy_regs(s, regs);
	return unwind_send(ctx, s, tgid, n_fp, UNWIND_KIND_SAMPLE) == 0;
}

/* Off-CPU: the user stack id to record for the current task, which blocks
 * now: its site's unwound stack (>= UNWIND_ID_BASE) when known, else the
 * frame-pointer walk's stack map id in buffer `g` (a new site also sends
 * its snapshot). */
static __always_inline __s32 unwind_offcpu_user_stack(void *ctx, __u32 tgid, __u32 g)
{
	struct unwind_site_key key = {.pid = tgid};
	__s32 pending = UNWIND_SITE_PENDING, *known;
	struct unwind_snapshot *s;
	struct pt_regs *regs;
	__u32 zero = 0, n_fp;

	if (!unwind_stack_max)
		return stackcount_stackid(ctx, g, BPF_F_USER_STACK);
	s = bpf_map_lookup_elem(&snapshot_scratch, &zero);
	if (!s)
		return stackcount_stackid(ctx, g, BPF_F_USER_STACK);
	n_fp = unwind_fp_walk(ctx, tgid, s);
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (!n_fp || !regs)
		return stackcount_stackid(ctx, g, BPF_F_USER_STACK);
	key.ip = regs->ip;
	key.sp = regs->sp;
	known = bpf_map_lookup_elem(&unwind_sites, &key);
	if (known) {
		__s32 id = *known;

		if (id >= UNWIND_ID_BASE)
			return id;
		return stackcount_stackid(ctx, g, BPF_F_USER_STACK);
	}
	if (bpf_map_update_elem(&unwind_sites, &key, &pending, BPF_NOEXIST) == 0) {
		unwind_copy_regs(s, regs);
		if (unwind_send(ctx, s, tgid, n_fp, UNWIND_KIND_SITE) != 0)
			bpf_map_delete_elem(&unwind_sites, &key); /* try again next time */
	}
	return stackcount_stackid(ctx, g, BPF_F_USER_STACK);
}

#endif
