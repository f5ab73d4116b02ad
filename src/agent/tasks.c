/* tasks: see tasks.h. Running tasks live in a small array: a host runs a
 * handful at once, bounded by TASKS_RUNNING_MAX. */
#include "agent/tasks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define TASKS_RUNNING_MAX 256

struct running_task {
	struct task_info info;
	const struct profiler_ops *ops;
	struct profiler_session *session;
	pid_t pids[TASK_PIDS_MAX];
	size_t n_pids;
	int64_t start_mono_ms;
	int64_t planned_end_mono_ms;
	int64_t next_flush_mono_ms;
};

struct taskmgr {
	struct task_events events;
	uint32_t flush_interval_s;
	char id_prefix[20];
	uint64_t next_seq;
	struct running_task *tasks[TASKS_RUNNING_MAX];
	size_t n_tasks;
};

struct taskmgr *taskmgr_new(const struct task_events *events, uint32_t flush_interval_s)
{
	struct taskmgr *tm = calloc(1, sizeof(*tm));
	uint64_t r = 0;

	if (!tm)
		return NULL;
	tm->events = *events;
	tm->flush_interval_s = flush_interval_s ? flush_interval_s : 1;
	/* Ids unique across agents and restarts: a random prefix per run. */
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint64_t)(uintptr_t)tm ^ (uint64_t)getpid();
	snprintf(tm->id_prefix, sizeof(tm->id_prefix), "%012" PRIx64,
		 (uint64_t)(r & 0xffffffffffffULL));
	tm->next_seq = 1;
	return tm;
}

static void end_task(struct taskmgr *tm, size_t index, enum task_status status, const char *reason,
		     int64_t mono_ms)
{
	struct running_task *t = tm->tasks[index];

	if (t->session)
		t->ops->stop(t->session, &tm->events.sink);
	t->session = NULL;
	t->info.status = status;
	t->info.end_wall_ms =
	    t->info.start_wall_ms + (mono_ms > t->start_mono_ms ? mono_ms - t->start_mono_ms : 0);
	snprintf(t->info.reason, sizeof(t->info.reason), "%s", reason ? reason : "");
	if (tm->events.ended)
		tm->events.ended(tm->events.ctx, &t->info);
	free(t);
	tm->tasks[index] = tm->tasks[--tm->n_tasks];
}

struct taskmgr *taskmgr_free(struct taskmgr *tm, int64_t mono_ms)
{
	if (!tm)
		return NULL;
	while (tm->n_tasks)
		end_task(tm, tm->n_tasks - 1, TASK_FINISHED, "stopped early: agent stopped",
			 mono_ms);
	free(tm);
	return NULL;
}

const struct task_info *taskmgr_find(const struct taskmgr *tm, const char *task_id)
{
	for (size_t i = 0; i < tm->n_tasks; i++)
		if (strcmp(tm->tasks[i]->info.id, task_id) == 0)
			return &tm->tasks[i]->info;
	return NULL;
}

size_t taskmgr_running(const struct taskmgr *tm)
{
	return tm->n_tasks;
}

int taskmgr_start(struct taskmgr *tm, const struct engine_decision *decision, bool manual,
		  const char *task_id, const pid_t *pids, size_t n_pids, int64_t wall_ms,
		  int64_t mono_ms)
{
	struct running_task *t;
	char reason[TASK_REASON_MAX] = "";
	int err;

	if (n_pids == 0 || n_pids > TASK_PIDS_MAX)
		return -EINVAL;
	if (task_id && (!task_id[0] || strlen(task_id) >= TASK_ID_MAX))
		return -EINVAL;
	if (task_id && taskmgr_find(tm, task_id))
		return -EEXIST;
	if (tm->n_tasks == TASKS_RUNNING_MAX)
		return -EBUSY;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (task_id)
		snprintf(t->info.id, sizeof(t->info.id), "%s", task_id);
	else
		snprintf(t->info.id, sizeof(t->info.id), "%s-%06" PRIu64, tm->id_prefix,
			 tm->next_seq++);
	t->info.manual = manual;
	t->info.decision = *decision;
	t->info.start_wall_ms = wall_ms;
	t->info.status = TASK_RUNNING;
	memcpy(t->pids, pids, n_pids * sizeof(*pids));
	t->n_pids = n_pids;
	t->start_mono_ms = mono_ms;
	t->planned_end_mono_ms = mono_ms + (int64_t)decision->duration_s * 1000;
	t->next_flush_mono_ms = mono_ms + (int64_t)tm->flush_interval_s * 1000;
	tm->tasks[tm->n_tasks++] = t;
	if (tm->events.started)
		tm->events.started(tm->events.ctx, &t->info);

	t->ops = tm->events.lookup ? tm->events.lookup(decision->target, reason, sizeof(reason))
				   : profiler_for(decision->target, reason, sizeof(reason));
	if (t->ops) {
		err = t->ops->start(t->info.id, t->pids, t->n_pids, &t->session, reason,
				    sizeof(reason));
		if (err && !reason[0])
			snprintf(reason, sizeof(reason), "%s profiler failed to start: %s",
				 t->ops->name, strerror(-err));
		if (err)
			t->session = NULL;
	}
	if (!t->session)
		end_task(tm, tm->n_tasks - 1, TASK_FAILED, reason, mono_ms);
	return 0;
}

void taskmgr_tick(struct taskmgr *tm, int64_t mono_ms)
{
	for (size_t i = tm->n_tasks; i-- > 0;) {
		struct running_task *t = tm->tasks[i];

		if (mono_ms >= t->planned_end_mono_ms) {
			end_task(tm, i, TASK_FINISHED, "", mono_ms);
			continue;
		}
		if (mono_ms >= t->next_flush_mono_ms) {
			int err = t->ops->flush(t->session, &tm->events.sink);

			t->next_flush_mono_ms = mono_ms + (int64_t)tm->flush_interval_s * 1000;
			if (err) {
				char reason[TASK_REASON_MAX];

				snprintf(reason, sizeof(reason), "%s profiler failed: %s",
					 t->ops->name, strerror(-err));
				end_task(tm, i, TASK_FAILED, reason, mono_ms);
			}
		}
	}
}

void taskmgr_pid_exited(struct taskmgr *tm, pid_t pid, int64_t mono_ms)
{
	for (size_t i = tm->n_tasks; i-- > 0;) {
		struct running_task *t = tm->tasks[i];
		size_t kept = 0;

		for (size_t p = 0; p < t->n_pids; p++)
			if (t->pids[p] != pid)
				t->pids[kept++] = t->pids[p];
		if (kept == t->n_pids)
			continue;
		t->n_pids = kept;
		if (kept == 0)
			end_task(tm, i, TASK_FINISHED, "process exited", mono_ms);
		else if (t->ops->update_pids)
			t->ops->update_pids(t->session, t->pids, t->n_pids);
	}
}
