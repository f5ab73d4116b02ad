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
 *
 * Off-CPU (kind UNWIND_KIND_SITE): a thread blocks at few places, each with
 * its own user pc and stack pointer. The first block at a new site {pid, pc,
 * sp} sends a snapshot and marks the site pending in `unwind_sites`; user
 * space unwinds it once and writes the site's unwound stack id there
 * (UNWIND_ID_BASE + index, resolved by snapunwind_lookup()), which later
 * blocks record as their user stack id in the kernel's counts. Blocks at a
 * site not unwound yet (pending, failed, or the ring buffer full) record the
 * frame-pointer walk.
 */
#ifndef CONTPROF_AGENT_UNWIND_ABI_H
#define CONTPROF_AGENT_UNWIND_ABI_H

#include "agent/stackcount.h"

/* Most bytes of user stack copied per snapshot (perf's default dump size is
 * 8 KiB; CPython and threaded servers need more). A multiple of 4096. */
#define UNWIND_STACK_MAX 16384
/* The snapshots ring buffer, and how full it gets before an on-CPU sample
 * wakes the reader (off-CPU sites wake it when it has read everything). */
#define UNWIND_RING_BYTES      (4 << 20)
#define UNWIND_RING_WAKE_BYTES (UNWIND_RING_BYTES / 8)
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

/* User stack ids at and above this name unwound stacks, not stack map ids. */
#define UNWIND_ID_BASE 0x40000000
/* unwind_sites values below UNWIND_ID_BASE. */
#define UNWIND_SITE_PENDING 0
#define UNWIND_SITE_FAILED  1

#define UNWIND_KIND_SAMPLE 0 /* on-CPU sample: unwind and count it */
#define UNWIND_KIND_SITE   1 /* off-CPU blocking site: unwind once, name it */

struct unwind_site_key {
	__u32 pid;
	__u32 pad;
	__u64 ip; /* user pc and stack pointer where the thread entered the kernel */
	__u64 sp;
};

struct unwind_snapshot {
	__u32 pid; /* thread group id */
	__u32 tid;
	__s32 n_fp;	/* frames of the frame-pointer walk in fp_ips */
	__s32 n_kernel; /* frames in kernel_ips, or -errno (-EFAULT: none) */
	__u32 stack_len;
	__u32 kind; /* UNWIND_KIND_* */
	__u64 regs[UNWIND_REGS];
	__u64 fp_ips[STACKCOUNT_DEPTH_MAX];
	__u64 kernel_ips[STACKCOUNT_DEPTH_MAX];
	__u8 stack[UNWIND_STACK_MAX];
};

#endif
