/* procevent ABI shared by procevent.bpf.c and procevent.c: one record per
 * process exec or exit (whole process, not thread), sent through a ring
 * buffer so discovery learns of them at once. Fixed-width types only. */
#ifndef CONTPROF_AGENT_PROCEVENT_H
#define CONTPROF_AGENT_PROCEVENT_H

#define PROCEVENT_COMM_LEN 16

enum procevent_kind {
	PROCEVENT_EXEC = 1,
	PROCEVENT_EXIT = 2,
};

struct procevent_record {
	__u32 kind;
	__u32 pid; /* thread group id */
	__u32 ppid;
	__s32 exit_code; /* PROCEVENT_EXIT only */
	__u64 time_ns;	 /* CLOCK_MONOTONIC */
	char comm[PROCEVENT_COMM_LEN];
};

#endif
