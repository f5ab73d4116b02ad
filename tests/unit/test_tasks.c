/* Unit tests for agent/tasks: lifecycle, flushes, planned end, process exit,
 * failure paths. A recording profiler stands in for the BPF ones, so what the
 * manager asks of a profiler is checked call by call. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/tasks.h"
#include "harness.h"

struct recorder {
	int starts, flushes, stops, updates;
	size_t last_n_pids;
	int fail_start, fail_flush;
	int started_events, ended_events, slices;
	struct task_info last_ended;
	char last_started_id[TASK_ID_MAX];
};

static struct recorder rec;

struct profiler_session {
	int unused;
};

static int rec_start(const char *task_id, const pid_t *pids, size_t n_pids,
		     struct profiler_session **ret, char *reason, size_t reason_len)
{
	(void)task_id;
	(void)pids;
	rec.starts++;
	rec.last_n_pids = n_pids;
	if (rec.fail_start) {
		snprintf(reason, reason_len, "perf_event_open: permission denied");
		return -EACCES;
	}
	*ret = calloc(1, sizeof(**ret));
	return 0;
}

static int rec_update(struct profiler_session *s, const pid_t *pids, size_t n_pids)
{
	(void)s;
	(void)pids;
	rec.updates++;
	rec.last_n_pids = n_pids;
	return 0;
}

static int rec_flush(struct profiler_session *s, const struct profile_sink *sink)
{
	struct profile_stack st = {.folded = "main;work", .count = 3};

	(void)s;
	rec.flushes++;
	sink->slice(sink->ctx, "t", (uint32_t)rec.flushes, 0, 1, &st, 1, NULL);
	return rec.fail_flush ? -EIO : 0;
}

static void rec_stop(struct profiler_session *s, const struct profile_sink *sink)
{
	(void)sink;
	rec.stops++;
	free(s);
}

static const struct profiler_ops rec_ops = {
    .target = POLICY_TARGET_ON_CPU,
    .name = "recording",
    .start = rec_start,
    .update_pids = rec_update,
    .flush = rec_flush,
    .stop = rec_stop,
};

static const struct profiler_ops *lookup(enum policy_target target, char *reason, size_t len)
{
	if (target == POLICY_TARGET_OFF_CPU) {
		snprintf(reason, len, "OFF_CPU profiler not available in this build");
		return NULL;
	}
	return &rec_ops;
}

static void on_started(void *ctx, const struct task_info *t)
{
	(void)ctx;
	rec.started_events++;
	snprintf(rec.last_started_id, sizeof(rec.last_started_id), "%s", t->id);
}

static void on_ended(void *ctx, const struct task_info *t)
{
	(void)ctx;
	rec.ended_events++;
	rec.last_ended = *t;
}

static void on_slice(void *ctx, const char *task_id, uint32_t slice_no, int64_t start_ms,
		     int64_t end_ms, const struct profile_stack *stacks, size_t n,
		     const struct profile_slice_stats *stats)
{
	(void)ctx;
	(void)stats;
	(void)task_id;
	(void)slice_no;
	(void)start_ms;
	(void)end_ms;
	(void)stacks;
	(void)n;
	rec.slices++;
}

static struct taskmgr *new_manager(void)
{
	struct task_events ev = {.started = on_started,
				 .ended = on_ended,
				 .sink = {.slice = on_slice},
				 .lookup = lookup};

	memset(&rec, 0, sizeof(rec));
	return taskmgr_new(&ev, 5);
}

static struct engine_decision decision(enum policy_target target, uint32_t duration_s)
{
	struct engine_decision d = {.target = target, .duration_s = duration_s, .silence_s = 60};

	snprintf(d.service, sizeof(d.service), "web");
	snprintf(d.process_id, sizeof(d.process_id), "p1");
	return d;
}

TEST(task_runs_flushes_and_finishes_at_planned_end)
{
	struct taskmgr *tm = new_manager();
	struct engine_decision d = decision(POLICY_TARGET_ON_CPU, 12);
	pid_t pid = 42;

	CHECK_INT_EQ(taskmgr_start(tm, &d, false, NULL, &pid, 1, 1700000000000, 1000), 0);
	CHECK_INT_EQ(rec.started_events, 1);
	CHECK_INT_EQ(rec.starts, 1);
	CHECK_INT_EQ(taskmgr_running(tm), 1);
	CHECK(taskmgr_find(tm, rec.last_started_id) != NULL);
	taskmgr_tick(tm, 5999);
	CHECK_INT_EQ(rec.flushes, 0);
	taskmgr_tick(tm, 6000);
	CHECK_INT_EQ(rec.flushes, 1);
	CHECK_INT_EQ(rec.slices, 1);
	taskmgr_tick(tm, 11000);
	CHECK_INT_EQ(rec.flushes, 2);
	taskmgr_tick(tm, 13000);
	CHECK_INT_EQ(rec.stops, 1);
	CHECK_INT_EQ(rec.ended_events, 1);
	CHECK_INT_EQ(rec.last_ended.status, TASK_FINISHED);
	CHECK_INT_EQ(rec.last_ended.end_wall_ms, 1700000012000);
	CHECK_INT_EQ(rec.last_ended.start_wall_ms, 1700000000000);
	CHECK_INT_EQ(taskmgr_running(tm), 0);
	taskmgr_free(tm, 0);
}

TEST(target_without_profiler_fails_with_reason)
{
	struct taskmgr *tm = new_manager();
	struct engine_decision d = decision(POLICY_TARGET_OFF_CPU, 60);
	pid_t pid = 42;

	CHECK_INT_EQ(taskmgr_start(tm, &d, false, NULL, &pid, 1, 5, 5), 0);
	CHECK_INT_EQ(rec.started_events, 1);
	CHECK_INT_EQ(rec.ended_events, 1);
	CHECK_INT_EQ(rec.last_ended.status, TASK_FAILED);
	CHECK_STR_EQ(rec.last_ended.reason, "OFF_CPU profiler not available in this build");
	CHECK_INT_EQ(taskmgr_running(tm), 0);
	taskmgr_free(tm, 0);
}

TEST(profiler_start_failure_and_flush_failure_fail_the_task)
{
	struct taskmgr *tm = new_manager();
	struct engine_decision d = decision(POLICY_TARGET_ON_CPU, 60);
	pid_t pid = 42;

	rec.fail_start = 1;
	CHECK_INT_EQ(taskmgr_start(tm, &d, false, NULL, &pid, 1, 5, 5), 0);
	CHECK_INT_EQ(rec.last_ended.status, TASK_FAILED);
	CHECK_STR_EQ(rec.last_ended.reason, "perf_event_open: permission denied");
	rec.fail_start = 0;
	rec.fail_flush = 1;
	CHECK_INT_EQ(taskmgr_start(tm, &d, false, NULL, &pid, 1, 5, 5), 0);
	taskmgr_tick(tm, 5005);
	CHECK_INT_EQ(rec.last_ended.status, TASK_FAILED);
	CHECK(strstr(rec.last_ended.reason, "recording profiler failed") != NULL);
	CHECK_INT_EQ(rec.stops, 1);
	taskmgr_free(tm, 0);
}

TEST(process_exit_ends_single_process_tasks_and_shrinks_network_ones)
{
	struct taskmgr *tm = new_manager();
	struct engine_decision one = decision(POLICY_TARGET_ON_CPU, 60);
	struct engine_decision net = decision(POLICY_TARGET_NETWORK, 60);
	pid_t a = 10, pair[2] = {10, 11};

	taskmgr_start(tm, &one, false, NULL, &a, 1, 0, 0);
	taskmgr_start(tm, &net, false, NULL, pair, 2, 0, 0);
	taskmgr_pid_exited(tm, 99, 1);
	CHECK_INT_EQ(taskmgr_running(tm), 2);
	taskmgr_pid_exited(tm, 10, 2);
	CHECK_INT_EQ(taskmgr_running(tm), 1);
	CHECK_STR_EQ(rec.last_ended.reason, "process exited");
	CHECK_INT_EQ(rec.updates, 1);
	CHECK_INT_EQ(rec.last_n_pids, 1);
	taskmgr_pid_exited(tm, 11, 3);
	CHECK_INT_EQ(taskmgr_running(tm), 0);
	taskmgr_free(tm, 0);
}

TEST(ids_are_unique_and_manual_ids_are_kept)
{
	struct taskmgr *tm = new_manager();
	struct engine_decision d = decision(POLICY_TARGET_ON_CPU, 60);
	char first[TASK_ID_MAX];
	pid_t pid = 1;

	taskmgr_start(tm, &d, false, NULL, &pid, 1, 0, 0);
	snprintf(first, sizeof(first), "%s", rec.last_started_id);
	taskmgr_start(tm, &d, false, NULL, &pid, 1, 0, 0);
	CHECK(strcmp(first, rec.last_started_id) != 0);
	CHECK_INT_EQ(taskmgr_start(tm, &d, true, "server-42", &pid, 1, 0, 0), 0);
	CHECK_STR_EQ(rec.last_started_id, "server-42");
	CHECK(taskmgr_find(tm, "server-42")->manual);
	CHECK_INT_EQ(taskmgr_start(tm, &d, true, "server-42", &pid, 1, 0, 0), -EEXIST);
	CHECK_INT_EQ(taskmgr_start(tm, &d, true, "", &pid, 1, 0, 0), -EINVAL);
	CHECK_INT_EQ(taskmgr_start(tm, &d, false, NULL, &pid, 0, 0, 0), -EINVAL);
	CHECK(taskmgr_find(tm, "nope") == NULL);
	/* Freeing stops what runs, reported as ended early. */
	taskmgr_free(tm, 77);
	CHECK_INT_EQ(rec.ended_events, 3);
	CHECK_STR_EQ(rec.last_ended.reason, "stopped early: agent stopped");
	CHECK(taskmgr_free(NULL, 0) == NULL);
}

/* The wall clock stepped while a task runs (it is read only at the start):
 * the schedule follows the monotonic clock, and the end is the start plus
 * the monotonic time the task ran, whatever path ends it. */
TEST(wall_clock_steps_do_not_move_the_schedule)
{
	struct taskmgr *tm = new_manager();
	struct engine_decision d = decision(POLICY_TARGET_ON_CPU, 10);
	pid_t pid = 42;

	CHECK_INT_EQ(taskmgr_start(tm, &d, false, NULL, &pid, 1, 1700000000000, 1000), 0);
	taskmgr_tick(tm, 6000);
	CHECK_INT_EQ(rec.flushes, 1);
	taskmgr_tick(tm, 7000);
	CHECK_INT_EQ(rec.flushes, 1);
	CHECK_INT_EQ(rec.ended_events, 0);
	taskmgr_tick(tm, 11000);
	CHECK_INT_EQ(rec.ended_events, 1);
	CHECK_INT_EQ(rec.last_ended.status, TASK_FINISHED);
	CHECK_INT_EQ(rec.last_ended.end_wall_ms, 1700000010000);
	/* Ended by a process exit after 2.5 s, and by the agent's stop. */
	CHECK_INT_EQ(taskmgr_start(tm, &d, false, NULL, &pid, 1, 1690000000000, 20000), 0);
	taskmgr_pid_exited(tm, pid, 22500);
	CHECK_INT_EQ(rec.ended_events, 2);
	CHECK_INT_EQ(rec.last_ended.end_wall_ms, 1690000002500);
	CHECK_INT_EQ(taskmgr_start(tm, &d, false, NULL, &pid, 1, 1710000000000, 30000), 0);
	taskmgr_free(tm, 29000); /* a monotonic time before the start: never negative */
	CHECK_INT_EQ(rec.last_ended.end_wall_ms, 1710000000000);
}

int main(void)
{
	RUN(task_runs_flushes_and_finishes_at_planned_end);
	RUN(target_without_profiler_fails_with_reason);
	RUN(profiler_start_failure_and_flush_failure_fail_the_task);
	RUN(process_exit_ends_single_process_tasks_and_shrinks_network_ones);
	RUN(ids_are_unique_and_manual_ids_are_kept);
	RUN(wall_clock_steps_do_not_move_the_schedule);
	return harness_finish();
}
