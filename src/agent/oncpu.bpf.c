// SPDX-License-Identifier: GPL-2.0
/* oncpu (kernel side): a perf_event program on the software cpu-clock event of
 * every online CPU. A sample of a thread of a profiled process (pid filter)
 * counts one hit on {pid, user stack, kernel stack} in the current buffer,
 * unless its user stack goes to user space for CFI unwinding (unwind.bpf.h). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "agent/stackcount.bpf.h"
#include "agent/unwind.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("perf_event")
int oncpu_sample(struct bpf_perf_event_data *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct stack_key key = {};
	struct stack_pid *owner;
	__u32 g;

	if (!tgid)
		return 0;
	owner = stackcount_wanted(tgid);
	if (!owner)
		return 0;
	if (unwind_snapshot_sample(ctx, tgid))
		return 0;
	g = stackcount_gen();
	key.pid = tgid;
	key.gen = g;
	key.user_stack = stackcount_stackid(ctx, g, BPF_F_USER_STACK);
	key.kernel_stack = stackcount_stackid(ctx, g, 0);
	stackcount_add(g, &key, 0, owner);
	return 0;
}
