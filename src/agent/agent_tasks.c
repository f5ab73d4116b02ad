/* agent_tasks: starting what the engine decides and what the server asks
 * for (manual tasks, which run through the same engine pairs and task
 * manager), and the task manager's events: reported through the uplink, the
 * engine told when a task ends. See agent_impl.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_impl.h"
#include "agent/uplink.h"
#include "core/policy.h"
#include "util/log.h"

static bool manual_seen(struct agent *a, const char *id)
{
	for (size_t i = 0; i < AGENT_MANUAL_IDS_REMEMBERED; i++)
		if (a->manual_ids[i] && strcmp(a->manual_ids[i], id) == 0)
			return true;
	return false;
}

static void remember_manual(struct agent *a, const char *id)
{
	size_t slot = a->manual_next++ % AGENT_MANUAL_IDS_REMEMBERED;

	free(a->manual_ids[slot]);
	a->manual_ids[slot] = strdup(id);
}

static size_t instance_pids(struct agent *a, const char *service, const char *instance, pid_t *pids,
			    size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < discover_count(a->discover) && n < max; i++) {
		const struct discover_proc *p = discover_at(a->discover, i);

		if (strcmp(p->service, service) == 0 && strcmp(p->instance, instance) == 0)
			pids[n++] = (pid_t)p->pid;
	}
	return n;
}

/* Starts the task the engine decided on. 0, or -ESRCH (no live process) or
 * the task manager's -errno, logged; the engine's pair is released then. */
static int start_task(struct agent *a, const struct engine_decision *d, bool manual,
		      const char *task_id)
{
	pid_t pids[TASK_PIDS_MAX];
	size_t n = 0;
	int err;

	if (d->target == POLICY_TARGET_NETWORK) {
		n = instance_pids(a, d->service, d->instance, pids, TASK_PIDS_MAX);
	} else {
		const struct discover_proc *p = discover_find_id(a->discover, d->process_id);

		if (p)
			pids[n++] = (pid_t)p->pid;
	}
	if (n == 0) {
		log_warn("agent: %s task for %s not started: no live process",
			 policy_target_name(d->target), d->process_id);
		err = -ESRCH;
	} else {
		err =
		    taskmgr_start(a->tasks, d, manual, task_id, pids, n,
				  agent_clock_ms(CLOCK_REALTIME), agent_clock_ms(CLOCK_MONOTONIC));
		if (err)
			log_error("agent: cannot start a %s task for %s: %s",
				  policy_target_name(d->target), d->process_id, strerror(-err));
	}
	if (err)
		engine_task_ended(a->engine, d->service,
				  d->target == POLICY_TARGET_NETWORK ? d->instance : d->process_id,
				  d->target, agent_clock_ms(CLOCK_MONOTONIC));
	return err;
}

/* Reports a manual task that cannot run as started and failed at once, so
 * the server stops offering it and shows why. */
static void fail_manual(struct agent *a, const char *id, const char *process_id,
			enum policy_target target, uint32_t duration_s, const char *reason)
{
	struct task_info info = {.manual = true, .status = TASK_FAILED};

	snprintf(info.id, sizeof(info.id), "%s", id);
	info.decision.target = target;
	info.decision.duration_s = duration_s;
	snprintf(info.decision.process_id, sizeof(info.decision.process_id), "%s", process_id);
	snprintf(info.decision.cause.message, sizeof(info.decision.cause.message), "manual");
	info.start_wall_ms = info.end_wall_ms = agent_clock_ms(CLOCK_REALTIME);
	snprintf(info.reason, sizeof(info.reason), "%s", reason);
	log_info("agent: manual task %s failed: %s", id, reason);
	a->tasks_failed++;
	uplink_task_started(a->uplink, &info);
	uplink_task_ended(a->uplink, &info);
}

void agent_on_manual_task(void *ctx, const json_t *task)
{
	struct agent *a = ctx;
	const char *id = json_string_value(json_object_get(task, "id"));
	const char *process_id = json_string_value(json_object_get(task, "process_id"));
	const char *target_name = json_string_value(json_object_get(task, "target"));
	json_int_t duration = json_integer_value(json_object_get(task, "duration"));
	const struct discover_proc *p;
	struct engine_decision d;
	char reason[TASK_REASON_MAX];
	int target, err;

	if (!id || !process_id || !target_name || strlen(id) >= TASK_ID_MAX || manual_seen(a, id) ||
	    taskmgr_find(a->tasks, id))
		return;
	target = policy_target_from_name(target_name);
	if (target < 0 || duration <= 0 || duration > POLICY_DURATION_MAX_S) {
		log_warn("agent: manual task %s ignored (bad target or duration)", id);
		return;
	}
	remember_manual(a, id);
	p = discover_find_id(a->discover, process_id);
	if (!p) {
		fail_manual(a, id, process_id, (enum policy_target)target, (uint32_t)duration,
			    "the process is no longer running on this host");
		return;
	}
	if (!agent_find_watched(a, p->id))
		engine_add_process(a->engine, p->id, p->service, p->instance);
	err = engine_start_manual(a->engine, p->id, (enum policy_target)target, (uint32_t)duration,
				  agent_clock_ms(CLOCK_MONOTONIC), &d);
	if (err) {
		if (err == -EBUSY)
			snprintf(reason, sizeof(reason),
				 "a %s task of this process is already running or silenced",
				 target_name);
		else
			snprintf(reason, sizeof(reason), "cannot start: %s", strerror(-err));
		fail_manual(a, id, p->id, (enum policy_target)target, (uint32_t)duration, reason);
		return;
	}
	err = start_task(a, &d, true, id);
	if (err) {
		snprintf(reason, sizeof(reason), "cannot start: %s",
			 err == -ESRCH ? "the process exited" : strerror(-err));
		fail_manual(a, id, p->id, (enum policy_target)target, (uint32_t)duration, reason);
	}
}

/* ---- task events ---- */

/* Spools the task's processes then its start report. 0 or -errno. */
static int report_start(struct agent *a, const struct task_info *t)
{
	/* Register the task's processes in the spool's order first: should
	 * they exit before the server hears of them (it is away), the report
	 * still names processes it knows. */
	json_t *procs = json_array();

	for (size_t i = 0; procs && i < discover_count(a->discover); i++) {
		const struct discover_proc *p = discover_at(a->discover, i);
		bool in_scope = t->decision.target == POLICY_TARGET_NETWORK
				    ? strcmp(p->service, t->decision.service) == 0 &&
					  strcmp(p->instance, t->decision.instance) == 0
				    : strcmp(p->id, t->decision.process_id) == 0;

		if (in_scope)
			json_array_append_new(procs, agent_process_json(p));
	}
	if (json_array_size(procs))
		uplink_register_spooled(a->uplink, procs);
	else
		json_decref(procs);
	return uplink_task_started(a->uplink, t);
}

static ssize_t unreported_index(const struct agent *a, const char *id)
{
	for (size_t i = 0; i < a->n_unreported; i++)
		if (strcmp(a->unreported[i], id) == 0)
			return (ssize_t)i;
	return -1;
}

static void forget_unreported(struct agent *a, size_t i)
{
	a->n_unreported--;
	if (i != a->n_unreported)
		memcpy(a->unreported[i], a->unreported[a->n_unreported], TASK_ID_MAX);
}

/* Before a task's slice or end: a start report that could not be spooled
 * is spooled now. False while it still cannot be (the message would name a
 * task the server never heard of). */
static bool start_reported(struct agent *a, const struct task_info *t)
{
	ssize_t i = unreported_index(a, t->id);

	if (i < 0)
		return true;
	if (report_start(a, t) < 0)
		return false;
	forget_unreported(a, (size_t)i);
	return true;
}

void agent_on_task_started(void *ctx, const struct task_info *t)
{
	struct agent *a = ctx;

	a->tasks_started++;
	log_info("agent: task %s started: %s of %s/%s, %s", t->id,
		 policy_target_name(t->decision.target), t->decision.service,
		 t->decision.process_id, t->decision.cause.message);
	if (report_start(a, t) < 0 && a->n_unreported < AGENT_UNREPORTED_MAX)
		snprintf(a->unreported[a->n_unreported++], TASK_ID_MAX, "%s", t->id);
	if (a->journal && t->status == TASK_RUNNING) {
		int err = taskjournal_add(a->journal, t);

		if (err)
			log_warn("agent: cannot record task %s on disk: %s", t->id, strerror(-err));
	}
}

void agent_on_task_ended(void *ctx, const struct task_info *t)
{
	struct agent *a = ctx;
	const struct engine_decision *d = &t->decision;

	if (t->status == TASK_FAILED)
		a->tasks_failed++;
	log_info("agent: task %s %s%s%s", t->id, t->status == TASK_FAILED ? "failed" : "finished",
		 t->reason[0] ? ": " : "", t->reason);
	if (start_reported(a, t) && uplink_task_ended(a->uplink, t) == 0) {
		if (a->journal)
			(void)taskjournal_remove(a->journal, t->id);
	} else if (a->n_pending_ends < AGENT_UNREPORTED_MAX) {
		a->pending_ends[a->n_pending_ends++] = *t;
	} else {
		ssize_t i = unreported_index(a, t->id);

		if (i >= 0)
			forget_unreported(a, (size_t)i);
		a->ends_lost++;
		log_warn("agent: the end of task %s cannot be spooled and is not kept (%zu "
			 "ends wait already); its journal entry reports it at the next start",
			 t->id, a->n_pending_ends);
	}
	engine_task_ended(a->engine, d->service,
			  d->target == POLICY_TARGET_NETWORK ? d->instance : d->process_id,
			  d->target, agent_clock_ms(CLOCK_MONOTONIC));
}

void agent_on_slice(void *ctx, const char *task_id, uint32_t slice_no, int64_t start_ms,
		    int64_t end_ms, const struct profile_stack *stacks, size_t n_stacks,
		    const struct profile_slice_stats *stats)
{
	struct agent *a = ctx;
	const struct task_info *t = a->n_unreported ? taskmgr_find(a->tasks, task_id) : NULL;

	if (t && !start_reported(a, t))
		return; /* the spool still cannot be written */
	uplink_slice(a->uplink, task_id, slice_no, start_ms, end_ms, stacks, n_stacks, stats);
}

void agent_on_topology(void *ctx, const char *task_id, const json_t *doc)
{
	struct agent *a = ctx;

	uplink_topology(a->uplink, task_id, doc);
}

void agent_on_decision(const struct engine_decision *d, void *ctx)
{
	struct agent *a = ctx;
	struct engine_decision held = *d;

	held.cause.held_wall_ms = a->tick_wall_ms;
	(void)start_task(a, &held, false, NULL);
}

/* ---- tasks an earlier run left behind ---- */

static void fail_abandoned(void *ctx, const struct task_info *left)
{
	struct agent *a = ctx;
	struct task_info t = *left;
	int64_t now = agent_clock_ms(CLOCK_REALTIME);
	int64_t planned_end = t.start_wall_ms + (int64_t)t.decision.duration_s * 1000;

	/* It ran at most until its planned end; never end before it started
	 * (the wall clock may have moved back since). */
	t.end_wall_ms = t.decision.duration_s && planned_end < now ? planned_end : now;
	if (t.end_wall_ms < t.start_wall_ms)
		t.end_wall_ms = t.start_wall_ms;
	t.status = TASK_FAILED;
	snprintf(t.reason, sizeof(t.reason),
		 "the agent stopped unexpectedly (killed or crashed) while the task ran; "
		 "data flushed before that was kept");
	a->tasks_failed++;
	log_warn("agent: task %s was left running by an earlier run: reported failed", t.id);
	uplink_task_ended(a->uplink, &t);
}

void agent_fail_abandoned_tasks(struct agent *a)
{
	size_t bad = 0;

	taskjournal_recover(a->journal, fail_abandoned, a, &bad);
	if (bad)
		log_warn("agent: %zu unreadable entries in the task journal removed", bad);
}

void agent_retry_pending_ends(struct agent *a)
{
	size_t kept = 0;

	for (size_t i = 0; i < a->n_pending_ends; i++) {
		const struct task_info *t = &a->pending_ends[i];

		if (start_reported(a, t) && uplink_task_ended(a->uplink, t) == 0) {
			if (a->journal)
				(void)taskjournal_remove(a->journal, t->id);
			continue;
		}
		if (kept != i)
			a->pending_ends[kept] = *t;
		kept++;
	}
	a->n_pending_ends = kept;
}
