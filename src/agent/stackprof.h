/* stackprof: the part the on-CPU and off-CPU profilers share — sessions over
 * one shared set of BPF programs per profiler, the pid filter (a pid profiled
 * by several sessions is in the map once), draining (stackdrain.h) into every
 * session whose pids a count belongs to, symbolization (one symbolizer for
 * both profilers: binaries cached across processes) and folding into the
 * convention of profiler.h, and the profiler_ops calls for a backend.
 *
 * A backend (oncpu.c, offcpu.c) only loads and attaches its BPF object. The
 * BPF side is loaded with the first session of its profiler and unloaded
 * with the last. Not thread-safe: the agent's loop calls all of it.
 */
#ifndef CONTPROF_AGENT_STACKPROF_H
#define CONTPROF_AGENT_STACKPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/profiler.h"
#include "agent/stackdrain.h"

/* Distinct pids the filter map holds (its max_entries). */
#define STACKPROF_PIDS_MAX 4096
/* Distinct folded stacks a session keeps between two flushes. */
#define STACKPROF_STACKS_PER_SLICE_MAX 20000
/* Sessions of one profiler at once. */
#define STACKPROF_SESSIONS_MAX 256
/* Kernel frames carry this suffix (see profiler.h). */
#define STACKPROF_KERNEL_SUFFIX	  "_[k]"
#define STACKPROF_TRUNCATED_FRAME "[truncated]"

struct stackprof_backend {
	enum policy_target target;
	const char *name;
	/* Opens, configures (profiler_get_config()), loads and attaches the BPF
	 * side; fills `maps` and *ret_pids_fd. 0 or -errno with `reason`. */
	int (*open)(void **ret_state, struct stackdrain_maps *maps, int *ret_pids_fd, char *reason,
		    size_t reason_len);
	void (*close)(void *state);
};

/* What a session saw so far (all slices): samples (on-CPU) or blocks
 * (off-CPU), those under [truncated], those under [lost]. */
struct stackprof_stats {
	uint64_t events;
	uint64_t truncated;
	uint64_t lost;
	uint64_t total_ns;
};

/* profiler_ops for a backend (see profiler.h for the contracts). */
int stackprof_start(const struct stackprof_backend *backend, const char *task_id, const pid_t *pids,
		    size_t n_pids, struct profiler_session **ret, char *reason, size_t reason_len);
/* Replaces the session's pids with `pids` (n >= 1). 0 or -errno. */
int stackprof_update_pids(struct profiler_session *s, const pid_t *pids, size_t n_pids);
int stackprof_flush(struct profiler_session *s, const struct profile_sink *sink);
void stackprof_stop(struct profiler_session *s, const struct profile_sink *sink);

void stackprof_session_stats(const struct profiler_session *s, struct stackprof_stats *ret);

/* True when a user stack whose outermost frame is named `root` reached a
 * thread entry (exposed for tests). */
bool stackprof_reaches_entry(const char *root);

#endif
