// SPDX-License-Identifier: GPL-2.0
/* procevent (kernel side): reports process exec and exit to user space.
 * Only whole processes: exit is reported when the thread group leader exits.
 * An exec record carries the new program's start time, task flags and the
 * start of its command line (see procevent.h), so that matching a new
 * process against the config's rules needs no read of /proc. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "agent/procevent.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Records that could not be reserved (ring full); user space reports it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dropped SEC(".maps");

/* An exec record is built here (too big for the BPF stack), then copied
 * into the ring at its used size: the header, then the command line. */
struct exec_scratch {
	__u64 bytes[(sizeof(struct procevent_record) + PROCEVENT_CMDLINE_MAX) / sizeof(__u64)];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_scratch);
} scratch SEC(".maps");

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&dropped, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline void fill_header(struct procevent_record *r, __u32 kind,
					struct task_struct *task, __s32 exit_code)
{
	r->kind = kind;
	r->pid = BPF_CORE_READ(task, tgid);
	r->ppid = BPF_CORE_READ(task, real_parent, tgid);
	r->exit_code = exit_code;
	r->time_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	r->flags = 0;
	r->task_flags = 0;
	r->start_boottime_ns = 0;
	r->cmdline_len = 0;
	r->cmdline_copied = 0;
}

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 zero = 0;
	struct exec_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	struct procevent_record *r = (struct procevent_record *)s;
	unsigned long arg_start, arg_end;
	__u64 len;

	if (!s) {
		count_drop();
		return 0;
	}
	fill_header(r, PROCEVENT_EXEC, task, 0);
	/* After the exec the task is the leader and holds its start time
	 * (de_thread copies it when another thread executed). */
	r->start_boottime_ns = BPF_CORE_READ(task, start_boottime);
	r->task_flags = BPF_CORE_READ(task, flags);
	r->flags = PROCEVENT_F_DETAILS;
	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	len = arg_end > arg_start ? arg_end - arg_start : 0;
	r->cmdline_len = len > 0xffffffffULL ? 0xffffffffU : (__u32)len;
	if (len > PROCEVENT_CMDLINE_MAX)
		len = PROCEVENT_CMDLINE_MAX;
	/* The exec has just written the arguments: their pages are present. */
	if (len && bpf_probe_read_user(r->cmdline, len, (const void *)arg_start) == 0) {
		r->cmdline_copied = (__u32)len;
		r->flags |= PROCEVENT_F_CMDLINE;
	} else {
		len = 0;
	}
	if (bpf_ringbuf_output(&events, s, sizeof(*r) + len, 0))
		count_drop();
	return 0;
}

SEC("tp/sched/sched_process_exit")
int handle_exit(struct trace_event_raw_sched_process_template *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct procevent_record *r;

	if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	fill_header(r, PROCEVENT_EXIT, task, (__s32)(BPF_CORE_READ(task, exit_code) >> 8));
	bpf_ringbuf_submit(r, 0);
	return 0;
}
