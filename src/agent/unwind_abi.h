/* unwind ABI shared by unwind.bpf.h and snapunwind.c: the user-stack
 * snapshot a BPF profiler sends through a ring buffer when the frame-pointer
 * walk of a sample's user stack is not known to be complete, for user space
 * to unwind with the binaries' call-frame information (DWARF CFI).
 *
 * A sample is known to be complete when its process and the outermost
 * address of its frame-pointer walk are in the `fp_complete` map; user space
 * fills that map when a snapshot's CFI unwinding ends at the thread's entry
 * with exactly the frames the frame-pointer walk found. Such samples stay on
 * the cheap path (stack ids counted in the kernel, stackcount.h).
 *
 * A record is the fixed header followed by `stack_len` bytes copied from the
 * user stack pointer upwards (whole pages until one is not mapped or
 * UNWIND_STACK_MAX is reached). Fixed-width types only.
 */
#ifndef CONTPROF_AGENT_UNWIND_ABI_H
#define CONTPROF_AGENT_UNWIND_ABI_H

#include "agent/stackcount.h"

/* Most bytes of user stack copied per snapshot (perf's default dump size is
 * 8 KiB; CPython and threaded servers need more). A multiple of 4096. */
#define UNWIND_STACK_MAX 16384
/* x86-64 registers in DWARF order: rax rdx rcx rbx rsi rdi rbp rsp r8..r15
 * and the return address column (the interrupted rip). */
#define UNWIND_REGS   17
#define UNWIND_REG_SP 7
#define UNWIND_REG_IP 16

struct unwind_top_key {
	__u32 pid;
	__u32 pad;
	__u64 ip; /* outermost address of the frame-pointer walk */
};

struct unwind_snapshot {
	__u32 pid; /* thread group id */
	__u32 tid;
	__s32 n_fp;	/* frames of the frame-pointer walk in fp_ips */
	__s32 n_kernel; /* frames in kernel_ips, or -errno (-EFAULT: none) */
	__u32 stack_len;
	__u32 pad;
	__u64 regs[UNWIND_REGS];
	__u64 fp_ips[STACKCOUNT_DEPTH_MAX];
	__u64 kernel_ips[STACKCOUNT_DEPTH_MAX];
	__u8 stack[UNWIND_STACK_MAX];
};

#endif
