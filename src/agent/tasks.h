/* tasks: the agent's task manager — runs profiling tasks from start to end.
 *
 * Owns: the running tasks (id chosen here, target, scope, cause, times), their
 * profiler sessions, the flush schedule and the planned end. On start it
 * reports the task through `started` at once; a target without a profiler (or
 * a profiler that fails to start) ends the task FAILED with the reason. Tasks
 * end FINISHED at their planned end, when their process exits, or when the
 * agent stops (with a reason saying so). Does not own: deciding when to start
 * (engine.h), the wire format (uplink), clocks (times are handed in: the wall
 * ms of the start, monotonic ms for everything after). A task's end time is
 * its start's wall time plus the monotonic time it ran, so a step of the
 * wall clock (NTP, an operator) never gives a task a negative or a
 * day-long duration. Not thread-safe.
 */
#ifndef CONTPROF_AGENT_TASKS_H
#define CONTPROF_AGENT_TASKS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/engine.h"
#include "agent/profiler.h"

#define TASK_ID_MAX	64
#define TASK_REASON_MAX 256
#define TASK_PIDS_MAX	256

enum task_status {
	TASK_RUNNING,
	TASK_FINISHED,
	TASK_FAILED
};

struct task_info {
	char id[TASK_ID_MAX];
	bool manual;
	struct engine_decision decision; /* target, scope, duration, cause */
	int64_t start_wall_ms;
	int64_t end_wall_ms; /* 0 while running */
	enum task_status status;
	char reason[TASK_REASON_MAX]; /* why it failed or ended early, or "" */
};

struct task_events {
	void (*started)(void *ctx, const struct task_info *task);
	void (*ended)(void *ctx, const struct task_info *task);
	struct profile_sink sink; /* profile slices of every task */
	void *ctx;
	/* Finds a target's profiler; NULL means profiler_for(). */
	const struct profiler_ops *(*lookup)(enum policy_target target, char *reason,
					     size_t reason_len);
};

struct taskmgr;

/* `flush_interval_s` >= 1. NULL on ENOMEM. `events` is copied. */
struct taskmgr *taskmgr_new(const struct task_events *events, uint32_t flush_interval_s);
/* Stops every running task (reason "agent stopped") and frees. NULL-safe. */
struct taskmgr *taskmgr_free(struct taskmgr *tm, int64_t mono_ms);

/* Starts a task for `decision` over `pids` now. `task_id` NULL: a new id is
 * made (a manual task from the server brings its own). Reports `started`, and
 * `ended` at once if it failed to start. Returns 0 (even for a task that
 * failed to start: it exists and was reported) or -errno (-ENOMEM, -EINVAL for
 * no pids or too many, -EEXIST for an id in use). */
int taskmgr_start(struct taskmgr *tm, const struct engine_decision *decision, bool manual,
		  const char *task_id, const pid_t *pids, size_t n_pids, int64_t wall_ms,
		  int64_t mono_ms);

/* Flushes tasks whose flush is due and ends those past their planned end. */
void taskmgr_tick(struct taskmgr *tm, int64_t mono_ms);

/* A process exited: single-process tasks on it end FINISHED ("process
 * exited"); NETWORK tasks drop the pid and go on while others remain. */
void taskmgr_pid_exited(struct taskmgr *tm, pid_t pid, int64_t mono_ms);

size_t taskmgr_running(const struct taskmgr *tm);
/* The running task with this id, or NULL. */
const struct task_info *taskmgr_find(const struct taskmgr *tm, const char *task_id);

#endif
