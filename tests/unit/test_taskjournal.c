/* Unit tests for agent/taskjournal: entries written on start survive a
 * "crash" (the journal closed without removing them), are handed over once
 * at the next open and removed; ended tasks leave nothing; torn and foreign
 * files are cleaned up, never handed over. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/taskjournal.h"
#include "harness.h"

struct seen {
	int n;
	struct task_info last;
};

static void on_left(void *ctx, const struct task_info *t)
{
	struct seen *s = ctx;

	s->n++;
	s->last = *t;
}

static char *make_dir(void)
{
	char tmpl[] = "/tmp/contprof-journal-XXXXXX";
	char *dir = mkdtemp(tmpl);

	return dir ? strdup(dir) : NULL;
}

static void remove_dir(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_INT_EQ(system(cmd), 0);
}

static struct task_info running(const char *id, int64_t start_ms)
{
	struct task_info t = {.status = TASK_RUNNING, .start_wall_ms = start_ms};

	snprintf(t.id, sizeof(t.id), "%s", id);
	t.decision.target = POLICY_TARGET_OFF_CPU;
	t.decision.duration_s = 30;
	return t;
}

TEST(tasks_left_running_are_handed_over_once)
{
	char *dir = make_dir();
	struct taskjournal *tj = NULL;
	struct task_info a = running("abc-000001", 1700000000000), b = running("abc-000002", 5);
	struct seen seen = {0};
	size_t bad = 9;

	CHECK_INT_EQ(taskjournal_open(dir, &tj), 0);
	CHECK_INT_EQ(taskjournal_recover(tj, on_left, &seen, &bad), 0);
	CHECK_INT_EQ(bad, 0);
	a.manual = true;
	CHECK_INT_EQ(taskjournal_add(tj, &a), 0);
	CHECK_INT_EQ(taskjournal_add(tj, &b), 0);
	CHECK_INT_EQ(taskjournal_remove(tj, "abc-000002"), 0); /* b ended */
	CHECK_INT_EQ(taskjournal_remove(tj, "abc-000002"), 0); /* twice: fine */
	tj = taskjournal_close(tj);			       /* the "crash" */

	CHECK_INT_EQ(taskjournal_open(dir, &tj), 0);
	CHECK_INT_EQ(taskjournal_recover(tj, on_left, &seen, &bad), 1);
	CHECK_INT_EQ(seen.n, 1);
	CHECK_STR_EQ(seen.last.id, "abc-000001");
	CHECK_INT_EQ(seen.last.start_wall_ms, 1700000000000);
	CHECK_INT_EQ(seen.last.decision.target, POLICY_TARGET_OFF_CPU);
	CHECK_INT_EQ(seen.last.decision.duration_s, 30);
	CHECK(seen.last.manual);
	CHECK_INT_EQ(seen.last.status, TASK_RUNNING);
	/* Handed over once: a second start finds nothing. */
	CHECK_INT_EQ(taskjournal_recover(tj, on_left, &seen, &bad), 0);
	CHECK_INT_EQ(seen.n, 1);
	taskjournal_close(tj);
	remove_dir(dir);
	free(dir);
}

TEST(torn_and_bad_entries_are_removed_not_handed_over)
{
	char *dir = make_dir(), path[512];
	struct taskjournal *tj = NULL;
	struct task_info bad_id = running("../escape", 1);
	struct seen seen = {0};
	size_t bad = 0;
	FILE *f;

	CHECK_INT_EQ(taskjournal_open(dir, &tj), 0);
	CHECK_INT_EQ(taskjournal_add(tj, &bad_id), -EINVAL);
	snprintf(path, sizeof(path), "%s/x.task", dir);
	f = fopen(path, "w");
	fputs("{\"id\": \"x\", \"target\"", f); /* torn */
	fclose(f);
	snprintf(path, sizeof(path), "%s/y.tmp", dir);
	f = fopen(path, "w");
	fputs("{}", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/z.task", dir);
	f = fopen(path, "w");
	fputs("{\"id\": \"z\", \"target\": \"NOPE\", \"start_time\": 1}", f);
	fclose(f);
	CHECK_INT_EQ(taskjournal_recover(tj, on_left, &seen, &bad), 0);
	CHECK_INT_EQ(bad, 2);
	CHECK_INT_EQ(seen.n, 0);
	CHECK(access(path, F_OK) != 0);
	snprintf(path, sizeof(path), "%s/y.tmp", dir);
	CHECK(access(path, F_OK) != 0);
	taskjournal_close(tj);
	CHECK(taskjournal_close(NULL) == NULL);
	remove_dir(dir);
	free(dir);
}

int main(void)
{
	RUN(tasks_left_running_are_handed_over_once);
	RUN(torn_and_bad_entries_are_removed_not_handed_over);
	return harness_finish();
}
