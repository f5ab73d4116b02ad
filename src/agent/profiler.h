/* profiler: the interface every profiler (on-CPU, off-CPU, network) offers
 * the task manager, and the registry that maps a target to its profiler.
 *
 * A profiler session profiles a set of pids for one task: start() begins at
 * once, flush() hands over what was gathered since the last flush as folded
 * stacks (or topology, for NETWORK) through the sink, stop() flushes a last
 * time and releases everything (BPF programs, perf events). Several sessions
 * of one profiler may run at once (the implementation shares its programs).
 * A target without a profiler in this build reports "not available" with a
 * reason, and the task manager fails such tasks with that reason.
 */
#ifndef CONTPROF_AGENT_PROFILER_H
#define CONTPROF_AGENT_PROFILER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/policy.h"

/* One folded stack of a slice: frames root-first joined by ';'.
 *
 * ON_CPU / OFF_CPU convention: the user frames (outermost first), then the
 * kernel frames (outermost first), each kernel frame with the suffix "_[k]"
 * ("start_thread;work;burn" on CPU in user mode; "main;sleep_block;
 * entry_SYSCALL_64_after_hwframe_[k];...;schedule_[k];__schedule_[k]"
 * blocked in a system call). OFF_CPU: count = times blocked there,
 * duration_ns = time off CPU (including the wait for a CPU after the
 * wake-up); ON_CPU: count = samples. Frame names:
 * the demangled function; "module+0xADDR" when the module has no symbol
 * there; "[unknown]" when no mapping holds the address. Special frames:
 *   "[truncated]" first: the user stack does not reach a thread entry (start
 *                 code of the C library, or a known entry symbol), e.g. cut
 *                 short by code without frame pointers; the share of samples
 *                 under it is the task's truncated share.
 *   "[lost]"      a sample whose stack could not be recorded (stack map full
 *                 or colliding, counts map full, too many stacks in a slice).
 * Names never contain ';' or a newline (replaced by ':'). */
struct profile_stack {
	const char *folded;
	uint64_t count;
	uint64_t duration_ns; /* OFF_CPU: time blocked; 0 otherwise */
};

/* The totals of one ON_CPU / OFF_CPU slice: samples (OFF_CPU: blocks), those
 * whose user stack looks truncated (under "[truncated]") and those lost
 * (under "[lost]"); truncated and lost are each <= samples. */
struct profile_slice_stats {
	uint64_t samples;
	uint64_t truncated;
	uint64_t lost;
};

/* Receives the data of one flush: a time slice [start_ms, end_ms) of
 * stacks with its totals (`stats`, NULL when the profiler keeps none), or
 * (NETWORK) the task's whole topology so far (borrowed; see netagg.h for
 * its shape). */
struct profile_sink {
	void (*slice)(void *ctx, const char *task_id, uint32_t slice_no, int64_t start_ms,
		      int64_t end_ms, const struct profile_stack *stacks, size_t n_stacks,
		      const struct profile_slice_stats *stats);
	void *ctx;
	void (*topology)(void *ctx, const char *task_id, const json_t *doc);
};

struct profiler_session;

struct profiler_ops {
	enum policy_target target;
	const char *name;
	/* Opens a session for `pids` (n >= 1). 0 or -errno; on error `reason`
	 * (reason_len bytes) says why, for the task's FAILED status. */
	int (*start)(const char *task_id, const pid_t *pids, size_t n_pids,
		     struct profiler_session **ret, char *reason, size_t reason_len);
	/* Replaces the pids of a running session (NETWORK: a process of the
	 * instance appeared or exited). */
	int (*update_pids)(struct profiler_session *s, const pid_t *pids, size_t n_pids);
	int (*flush)(struct profiler_session *s, const struct profile_sink *sink);
	/* Flushes a last time into `sink` (may be NULL) and frees the session. */
	void (*stop)(struct profiler_session *s, const struct profile_sink *sink);
};

/* Agent-wide profiler settings (agent config `profiling:`). They apply to
 * sessions started after the call while no session of that profiler runs
 * (sessions share one set of BPF programs and perf events). */
struct profiler_config {
	uint32_t oncpu_hz;	      /* cpu-clock samples per second per CPU */
	uint64_t offcpu_min_block_ns; /* shorter blocks are not counted */
	/* On-CPU: keep every user stack on the frame-pointer walk, no CFI
	 * unwinding of the stacks it leaves truncated (unwind_abi.h). */
	bool frame_pointers_only;
	/* Entries of each of the two stack maps of each profiler (distinct
	 * stacks between two drains; a stack the map cannot take is [lost]);
	 * 0 takes PROFILER_DEFAULT_STACK_MAP_ENTRIES. */
	uint32_t stack_map_entries;
	/* Off-CPU: attach the raw tracepoint program without trying tp_btf
	 * first (the fallback's tests; `debug profile --offcpu-attach raw_tp`). */
	bool offcpu_raw_tp_only;
};

#define PROFILER_DEFAULT_ONCPU_HZ	     99
#define PROFILER_DEFAULT_OFFCPU_MIN_BLOCK_NS 0
#define PROFILER_ONCPU_HZ_MAX		     10000
/* The stack maps' size in stackcount.bpf.h, and the largest accepted. */
#define PROFILER_DEFAULT_STACK_MAP_ENTRIES 8192
#define PROFILER_STACK_MAP_ENTRIES_MAX	   65536 /* ~1 KiB of kernel memory each */

/* Copies `config` (0 fields take the defaults; hz and stack map entries are
 * capped at their max). */
void profiler_configure(const struct profiler_config *config);
const struct profiler_config *profiler_get_config(void);

struct bpf_map;
/* Sizes a profiler's two stack maps (before its object loads) to the
 * configured entries. 0 or -errno. */
int profiler_size_stack_maps(struct bpf_map *stacks_0, struct bpf_map *stacks_1);

/* The profiler of `target` in this build, or NULL when none is available;
 * then `reason` says why. */
const struct profiler_ops *profiler_for(enum policy_target target, char *reason, size_t reason_len);

#endif
