/* snapunwind: the user-space half of CFI unwinding for a BPF profiler. A
 * thread of its own empties the profiler's `snapshots` ring buffer (see
 * unwind_abi.h) at least every SNAPUNWIND_POLL_MS, unwinds each snapshot (unwind.h),
 * teaches the kernel which frame-pointer walks are complete (`fp_complete`
 * map: their samples stay on the cheap path from then on) and counts the
 * unwound stacks per {pid, user pcs, kernel ips} in a bounded table.
 * snapunwind_drain() hands that table to the caller as stackdrain records,
 * so the profiler folds and uploads them like the stacks counted in the
 * kernel. Owns the thread, the ring buffer reader and the unwinder; not the
 * BPF maps. The drain/stats/stop calls are for one other thread (the
 * agent's loop).
 */
#ifndef CONTPROF_AGENT_SNAPUNWIND_H
#define CONTPROF_AGENT_SNAPUNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/stackdrain.h"

/* Longest wait between two reads of the ring buffer: how long a snapshot of
 * a walk that will be learned complete may wait, and more snapshots of it
 * follow meanwhile (each wake-up of the thread costs more than a snapshot). */
#define SNAPUNWIND_POLL_MS 200
/* Distinct unwound stacks kept between two drains; beyond, samples are
 * counted as `[lost]`. */
#define SNAPUNWIND_STACKS_MAX 20000

/* A frame-pointer walk is learned as complete (its samples then stay in the
 * kernel) when it equals the CFI's complete stack but for at most this many
 * outermost frames — the start code or thread trampoline of a C library
 * built without frame pointers (__clone3 above start_thread; _start and
 * __libc_start_main above __libc_start_call_main) — which user space adds
 * back to those samples (snapunwind_tail()). */
#define SNAPUNWIND_TAIL_MAX 2
/* Learned walks kept (the kernel's fp_complete map holds as many). */
#define SNAPUNWIND_TOPS_MAX 16384

struct snapunwind;

struct snapunwind_stats {
	uint64_t snapshots;	 /* snapshots read */
	uint64_t complete;	 /* of which unwound up to the thread entry */
	uint64_t failed;	 /* of which not even one frame */
	uint64_t learned;	 /* fp_complete entries added */
	uint64_t unwind_ns;	 /* thread CPU time reading, unwinding and counting */
	uint64_t by_rules;	 /* snapshots walked with cached CFI rules alone */
	uint64_t rules_computed; /* CFI rules computed (cache misses) */
	uint64_t stack_bytes;	 /* user stack bytes the snapshots held */
};

/* Off-CPU blocking sites named per profiler lifetime; further sites keep
 * their frame-pointer walks. */
#define SNAPUNWIND_SITES_MAX 16384

/* Starts the thread on the ring buffer `snapshots_fd`; `fp_complete_fd` is
 * the map to teach, `sites_fd` the off-CPU sites map (unwind_abi.h). NULL
 * with errno set on failure. */
struct snapunwind *snapunwind_start(int snapshots_fd, int fp_complete_fd, int sites_fd);

/* The unwound stack of off-CPU site `id` (>= UNWIND_ID_BASE, as the kernel
 * recorded it): pcs innermost first, valid until snapunwind_stop(). 0 or
 * -ENOENT. */
int snapunwind_lookup(struct snapunwind *su, int32_t id, const uint64_t **ret_pcs, size_t *ret_n,
		      bool *ret_complete);
/* Stops the thread and frees everything; accepts NULL; returns NULL. */
struct snapunwind *snapunwind_stop(struct snapunwind *su);

/* Waits until the thread has read everything the ring buffer held at the
 * call (bounded by SNAPUNWIND_SYNC_MS), then calls `fn` once per counted
 * stack and empties the table. Returns the number of records. */
int snapunwind_drain(struct snapunwind *su, stackdrain_fn fn, void *ctx);

/* The frames to add beyond a kernel-counted user stack of `pid` whose
 * outermost address is `top` (ret_pcs: room for SNAPUNWIND_TAIL_MAX):
 * their number (0: the stack is complete as it is), or -1 when that walk was
 * not learned as complete. */
int snapunwind_tail(struct snapunwind *su, uint32_t pid, uint64_t top, uint64_t *ret_pcs);

void snapunwind_get_stats(struct snapunwind *su, struct snapunwind_stats *ret);
/* Logs (info) one line: what unwinding did and cost, for `who`; `dropped`
 * is the BPF side's count of snapshots the ring buffer had no room for.
 * Nothing when there was nothing. Read by bench/unwind.sh. */
void snapunwind_log_stats(struct snapunwind *su, const char *who, uint64_t dropped);

#define SNAPUNWIND_SYNC_MS 2000

#endif
