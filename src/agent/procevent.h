/* procevent ABI shared by procevent.bpf.c and procevent.c: one record per
 * process exec or exit (whole process, not thread), sent through a ring
 * buffer so discovery learns of them at once. Fixed-width types only.
 *
 * An exec record also carries what matching the config's rules needs, read
 * in the kernel at the exec (flag PROCEVENT_F_DETAILS): the process's start
 * time and task flags (what /proc/PID/stat would give) and, with
 * PROCEVENT_F_CMDLINE, the start of its argument area (/proc/PID/cmdline's
 * bytes: NUL-separated arguments), at most PROCEVENT_CMDLINE_MAX bytes. A
 * record is variable-sized: the header, then cmdline_copied bytes. */
#ifndef CONTPROF_AGENT_PROCEVENT_H
#define CONTPROF_AGENT_PROCEVENT_H

#define PROCEVENT_COMM_LEN    16
#define PROCEVENT_CMDLINE_MAX 4096 /* bytes of the argument area carried */

enum procevent_kind {
	PROCEVENT_EXEC = 1,
	PROCEVENT_EXIT = 2,
};

enum procevent_flags {
	PROCEVENT_F_DETAILS = 1, /* start_boottime_ns and task_flags are set */
	PROCEVENT_F_CMDLINE = 2, /* cmdline[0..cmdline_copied) was read */
};

struct procevent_record {
	__u32 kind;
	__u32 pid; /* thread group id */
	__u32 ppid;
	__s32 exit_code; /* PROCEVENT_EXIT only */
	__u64 time_ns;	 /* CLOCK_MONOTONIC */
	char comm[PROCEVENT_COMM_LEN];
	__u32 flags;		 /* PROCEVENT_F_* */
	__u32 task_flags;	 /* the kernel's PF_* of the task */
	__u64 start_boottime_ns; /* the process's start, CLOCK_BOOTTIME */
	__u32 cmdline_len;	 /* bytes of the whole argument area */
	__u32 cmdline_copied;	 /* bytes in cmdline[]: min(len, PROCEVENT_CMDLINE_MAX) */
	char cmdline[];
};

#endif
