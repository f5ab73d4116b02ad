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

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/policy.h"

/* One folded stack of a slice: frames root-first joined by ';'. */
struct profile_stack {
	const char *folded;
	uint64_t count;
	uint64_t duration_ns; /* OFF_CPU: time blocked; 0 otherwise */
};

/* Receives the data of one flush: a time slice [start_ms, end_ms). */
struct profile_sink {
	void (*slice)(void *ctx, const char *task_id, uint32_t slice_no, int64_t start_ms,
		      int64_t end_ms, const struct profile_stack *stacks, size_t n_stacks);
	void *ctx;
};

struct profiler_session;

struct profiler_ops {
	enum policy_target target;
	const char *name;
	/* Opens a session for `pids` (n >= 1). 0 or -errno; on error `reason`
	 * (reason_len bytes) says why, for the task's FAILED status. */
	int (*start)(const char *task_id, const pid_t *pids, size_t n_pids,
		     struct profiler_session **ret, char *reason, size_t reason_len);
	/* Adds or removes pids of a running session (NETWORK: a process of the
	 * instance appeared or exited). */
	int (*update_pids)(struct profiler_session *s, const pid_t *pids, size_t n_pids);
	int (*flush)(struct profiler_session *s, const struct profile_sink *sink);
	/* Flushes a last time into `sink` (may be NULL) and frees the session. */
	void (*stop)(struct profiler_session *s, const struct profile_sink *sink);
};

/* The profiler of `target` in this build, or NULL when none is available;
 * then `reason` says why. */
const struct profiler_ops *profiler_for(enum policy_target target, char *reason, size_t reason_len);

#endif
