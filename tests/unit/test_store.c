/* test_store: the SQLite store behind store.h — policies, processes,
 * idempotent metrics with minute rollups, tasks and manual tasks, profile
 * slices with deduplicated stacks, the monitoring window and retention. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "server/http.h"
#include "server/jsonin.h"
#include "server/store.h"

static char db_path[128];

static struct store *open_store(const struct store_options *opts)
{
	struct store_options def;
	char url[160], err[256] = "";
	struct store *st;

	snprintf(db_path, sizeof(db_path), "/tmp/contprof-test-store-%d.db", (int)getpid());
	unlink(db_path);
	snprintf(url, sizeof(url), "sqlite:%s", db_path);
	if (!opts) {
		store_options_default(&def);
		opts = &def;
	}
	st = store_open(url, opts, err, sizeof(err));
	if (!CHECK(st != NULL))
		fprintf(stderr, "store_open: %s\n", err);
	return st;
}

static void close_store(struct store *st)
{
	char wal[160];

	store_close(st);
	unlink(db_path);
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", db_path);
	unlink(wal);
}

static int64_t count_rows(const char *table)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	char sql[128];
	int64_t n = -1;

	if (sqlite3_open(db_path, &db) != SQLITE_OK)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

static void add_procs(struct store *st)
{
	struct store_process procs[] = {
	    {"p1", "web", "host-a", "nginx", 10, NULL},
	    {"p2", "web", "host-a", "nginx", 11, NULL},
	    {"p3", "web", "host-b", "nginx", 12, NULL},
	};

	CHECK_INT_EQ(store_upsert_processes(st, "agent-1", "host-a", procs, 3, 1000), 0);
}

TEST(store_refuses_unknown_scheme_and_empty_path)
{
	struct store_options o;
	char err[256];

	store_options_default(&o);
	CHECK(store_open("mysql://x", &o, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "unsupported store") != NULL);
	CHECK(store_open("nocolon", &o, err, sizeof(err)) == NULL);
	CHECK(store_open("sqlite:", &o, err, sizeof(err)) == NULL);
	CHECK(store_close(NULL) == NULL);
}

TEST(store_policies_roundtrip)
{
	struct store *st = open_store(NULL);
	char version[65], *doc = NULL;
	json_t *list = NULL;

	CHECK_INT_EQ(store_get_policy(st, "web", &doc, version), -ENOENT);
	CHECK_INT_EQ(store_put_policy(st, "web", "v1", "{\"service\":\"web\"}", 5), 0);
	CHECK_INT_EQ(store_put_policy(st, "web", "v2", "{\"service\":\"web\",\"targets\":[]}", 6),
		     0);
	CHECK_INT_EQ(store_get_policy(st, "web", &doc, version), 0);
	CHECK_STR_EQ(version, "v2");
	CHECK_STR_EQ(doc, "{\"service\":\"web\",\"targets\":[]}");
	free(doc);
	CHECK_INT_EQ(store_list_services(st, &list), 0);
	CHECK_INT_EQ(json_array_size(list), 1);
	CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(list, 0), "policy_version")),
		     "v2");
	json_decref(list);
	CHECK_INT_EQ(store_delete_policy(st, "web"), 0);
	CHECK_INT_EQ(store_delete_policy(st, "web"), -ENOENT);
	close_store(st);
}

TEST(store_processes_upsert_and_page)
{
	struct store *st = open_store(NULL);
	struct store_page page = {2, 0};
	json_t *list = NULL, *one = NULL;

	add_procs(st);
	CHECK_INT_EQ(store_list_processes(st, "web", &page, &list), 0);
	CHECK_INT_EQ(json_array_size(list), 2);
	json_decref(list);
	page.offset = 2;
	CHECK_INT_EQ(store_list_processes(st, NULL, &page, &list), 0);
	CHECK_INT_EQ(json_array_size(list), 1);
	CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(list, 0), "id")), "p3");
	json_decref(list);
	CHECK_INT_EQ(store_get_process(st, "p2", &one), 0);
	CHECK_INT_EQ(json_integer_value(json_object_get(one, "pid")), 11);
	CHECK(json_is_object(json_object_get(one, "labels")));
	json_decref(one);
	CHECK_INT_EQ(store_get_process(st, "nope", &one), -ENOENT);
	close_store(st);
}

TEST(store_metrics_are_idempotent_and_roll_up_per_minute)
{
	struct store *st = open_store(NULL);
	struct store_metric_series ser[] = {{"p1", "PROCESS_CPU", ""}, {"p2", "PROCESS_CPU", ""}};
	struct store_metric_point pts[] = {
	    {0, 60000, 10}, {0, 61000, 30}, {0, 120000, 5}, {1, 60000, 99}};
	struct store_page page = {100, 0};
	const int64_t now = 10 * 3600 * 1000LL;
	const char *unknown = NULL;
	uint64_t inserted = 0;
	json_t *rows = NULL;

	add_procs(st);
	CHECK_INT_EQ(store_add_metrics(st, ser, 2, pts, 4, now, &inserted, &unknown), 0);
	CHECK_INT_EQ(inserted, 4);
	CHECK_INT_EQ(store_add_metrics(st, ser, 2, pts, 4, now, &inserted, &unknown), 0);
	CHECK_INT_EQ(inserted, 0);
	/* from older than the raw retention: minute rows (avg, max) */
	CHECK_INT_EQ(store_metric_history(st, "p1", "PROCESS_CPU", "", 0, now, now, &page, &rows),
		     0);
	CHECK_INT_EQ(json_array_size(rows), 2);
	CHECK_DBL_EQ(json_real_value(json_object_get(json_array_get(rows, 0), "value")), 20.0);
	CHECK_DBL_EQ(json_real_value(json_object_get(json_array_get(rows, 0), "max")), 30.0);
	CHECK_INT_EQ(json_integer_value(json_object_get(json_array_get(rows, 1), "time")), 120000);
	json_decref(rows);
	/* within the raw retention: the seconds themselves */
	CHECK_INT_EQ(store_metric_history(st, "p1", "PROCESS_CPU", "", 0, now, 60000, &page, &rows),
		     0);
	CHECK_INT_EQ(json_array_size(rows), 3);
	CHECK(json_object_get(json_array_get(rows, 0), "max") == NULL);
	json_decref(rows);
	/* unknown process: nothing of the batch is written */
	struct store_metric_series bad[] = {{"p3", "PROCESS_CPU", ""},
					    {"ghost", "PROCESS_CPU", ""}};
	struct store_metric_point bad_pts[] = {{0, 1000, 1}, {1, 1000, 1}};
	CHECK_INT_EQ(store_add_metrics(st, bad, 2, bad_pts, 2, now, &inserted, &unknown), -ENOENT);
	CHECK_STR_EQ(unknown, "ghost");
	CHECK_INT_EQ(store_metric_history(st, "p3", "PROCESS_CPU", "", 0, now, 0, &page, &rows), 0);
	CHECK_INT_EQ(json_array_size(rows), 0);
	json_decref(rows);
	CHECK_INT_EQ(store_metric_history(st, "ghost", "PROCESS_CPU", "", 0, now, 0, &page, &rows),
		     -ENOENT);
	close_store(st);
}

static struct store_task task(const char *id, const char *proc, int64_t start)
{
	return (struct store_task){.id = id,
				   .process_id = proc,
				   .target = "ON_CPU",
				   .trigger = "POLICY",
				   .start_ms = start,
				   .duration_s = 60};
}

TEST(store_tasks_report_finish_and_conflicts)
{
	struct store *st = open_store(NULL);
	struct store_task t = task("t1", "p1", 5000);
	json_t *got = NULL;

	add_procs(st);
	CHECK_INT_EQ(store_add_task(st, &t, 6000), 0);
	CHECK_INT_EQ(store_add_task(st, &t, 6000), 0);
	t.process_id = "p2";
	CHECK_INT_EQ(store_add_task(st, &t, 6000), -EEXIST);
	t = task("t2", "ghost", 1);
	CHECK_INT_EQ(store_add_task(st, &t, 6000), -ENOENT);
	CHECK_INT_EQ(store_finish_task(st, "t1", "FINISHED", NULL, 9000), 0);
	CHECK_INT_EQ(store_finish_task(st, "t1", "FAILED", "late", 9999), 0);
	CHECK_INT_EQ(store_finish_task(st, "nope", "FAILED", "x", 1), -ENOENT);
	CHECK_INT_EQ(store_get_task(st, "t1", &got), 0);
	CHECK_STR_EQ(json_string_value(json_object_get(got, "status")), "FINISHED");
	CHECK_INT_EQ(json_integer_value(json_object_get(got, "end_time")), 9000);
	CHECK_STR_EQ(json_string_value(json_object_get(got, "service")), "web");
	json_decref(got);
	close_store(st);
}

/* Tasks of an agent that stopped sending keepalives are closed; the agent's
 * own end, arriving late, still replaces that verdict. */
TEST(store_tasks_of_silent_agents_fail)
{
	struct store *st = open_store(NULL);
	struct store_process quiet = {"q1", "db", "host-q", "pg", 20, NULL};
	struct store_task live = task("live", "p1", 5000), gone = task("gone", "q1", 5000);
	uint64_t closed = 99;
	json_t *got = NULL;

	add_procs(st); /* agent-1, keepalive at 1000 */
	CHECK_INT_EQ(store_upsert_processes(st, "agent-q", "host-q", &quiet, 1, 1000), 0);
	live.agent_id = "agent-1";
	gone.agent_id = "agent-q";
	CHECK_INT_EQ(store_add_task(st, &live, 5000), 0);
	CHECK_INT_EQ(store_add_task(st, &gone, 5000), 0);
	CHECK_INT_EQ(store_upsert_processes(st, "agent-1", "host-a", NULL, 0, 60000), 0);
	/* Nothing from agent-q since 1000; agent-1 spoke at 60000. */
	CHECK_INT_EQ(store_fail_silent_tasks(st, 30000, 70000, &closed), 0);
	CHECK_INT_EQ(closed, 1);
	CHECK_INT_EQ(store_get_task(st, "gone", &got), 0);
	CHECK_STR_EQ(json_string_value(json_object_get(got, "status")), "FAILED");
	CHECK_STR_EQ(json_string_value(json_object_get(got, "reason")), STORE_SILENT_REASON);
	CHECK_INT_EQ(json_integer_value(json_object_get(got, "end_time")), 70000);
	json_decref(got);
	CHECK_INT_EQ(store_get_task(st, "live", &got), 0);
	CHECK_STR_EQ(json_string_value(json_object_get(got, "status")), "RUNNING");
	json_decref(got);
	/* Closed once: a second pass changes nothing. */
	CHECK_INT_EQ(store_fail_silent_tasks(st, 30000, 71000, &closed), 0);
	CHECK_INT_EQ(closed, 0);
	/* The agent comes back and ends the task itself: its end wins, once. */
	CHECK_INT_EQ(store_finish_task(st, "gone", "FAILED", "agent restarted", 65000), 0);
	CHECK_INT_EQ(store_finish_task(st, "gone", "FINISHED", NULL, 66000), 0);
	CHECK_INT_EQ(store_get_task(st, "gone", &got), 0);
	CHECK_STR_EQ(json_string_value(json_object_get(got, "reason")), "agent restarted");
	CHECK_INT_EQ(json_integer_value(json_object_get(got, "end_time")), 65000);
	json_decref(got);
	close_store(st);
}

TEST(store_manual_tasks_wait_for_their_agent)
{
	struct store *st = open_store(NULL);
	json_t *pending = NULL;
	char *id = NULL;

	add_procs(st);
	CHECK_INT_EQ(store_create_manual_task(st, "ghost", "ON_CPU", 30, 1000, &id), -ENOENT);
	CHECK_INT_EQ(store_create_manual_task(st, "p2", "OFF_CPU", 30, 1000, &id), 0);
	CHECK_INT_EQ(store_pending_tasks(st, "agent-2", &pending), 0);
	CHECK_INT_EQ(json_array_size(pending), 0);
	json_decref(pending);
	CHECK_INT_EQ(store_pending_tasks(st, "agent-1", &pending), 0);
	CHECK_INT_EQ(json_array_size(pending), 1);
	CHECK_INT_EQ(json_integer_value(json_object_get(json_array_get(pending, 0), "pid")), 11);
	json_decref(pending);
	struct store_task t = task(id, "p2", 2000);
	t.target = "OFF_CPU";
	t.trigger = "MANUAL";
	CHECK_INT_EQ(store_add_task(st, &t, 2000), 0);
	CHECK_INT_EQ(store_pending_tasks(st, "agent-1", &pending), 0);
	CHECK_INT_EQ(json_array_size(pending), 0);
	json_decref(pending);
	free(id);
	close_store(st);
}

struct flame_acc {
	uint64_t total, dur;
	int stacks;
};

static int acc_stack(const char *folded, size_t len, uint64_t count, uint64_t dur, void *ctx)
{
	struct flame_acc *a = ctx;

	(void)folded;
	(void)len;
	a->total += count;
	a->dur += dur;
	a->stacks++;
	return 0;
}

TEST(store_slices_are_idempotent_and_stacks_deduplicated)
{
	struct store *st = open_store(NULL);
	struct store_task t = task("t1", "p1", 1000);
	struct store_stack stacks[] = {
	    {"main;a", 6, 5, 100}, {"main;b", 6, 2, 0}, {"main;a", 6, 1, 1}};
	struct store_slice sl = {"t1", 0, 1000, 2000, stacks, 3, NULL};
	struct flame_acc acc = {0};
	bool dup = true;

	add_procs(st);
	CHECK_INT_EQ(store_add_task(st, &t, 1000), 0);
	CHECK_INT_EQ(store_add_profile_slice(st, &sl, &dup), 0);
	CHECK(!dup);
	CHECK_INT_EQ(store_add_profile_slice(st, &sl, &dup), 0);
	CHECK(dup);
	sl.slice = 1;
	sl.start_ms = 2000;
	sl.end_ms = 3000;
	CHECK_INT_EQ(store_add_profile_slice(st, &sl, &dup), 0);
	CHECK_INT_EQ(count_rows("stacks"), 2);
	CHECK_INT_EQ(count_rows("samples"), 4);
	CHECK_INT_EQ(store_load_flame_samples(st, "t1", INT64_MIN, INT64_MAX, acc_stack, &acc), 0);
	CHECK_INT_EQ(acc.total, 16);
	CHECK_INT_EQ(acc.dur, 202);
	CHECK_INT_EQ(acc.stacks, 2);
	acc = (struct flame_acc){0};
	CHECK_INT_EQ(store_load_flame_samples(st, "t1", 2000, 3000, acc_stack, &acc), 0);
	CHECK_INT_EQ(acc.total, 8);
	sl.task_id = "ghost";
	CHECK_INT_EQ(store_add_profile_slice(st, &sl, &dup), -ENOENT);
	CHECK_INT_EQ(store_load_flame_samples(st, "ghost", 0, 1, acc_stack, &acc), -ENOENT);
	close_store(st);
}

/* The task's stack_stats: null until a slice brings some, then the sum of
 * its slices' (a duplicate slice adds nothing). */
static void check_stack_stats(struct store *st, const char *id, json_int_t samples,
			      json_int_t truncated, json_int_t lost)
{
	json_t *task = NULL, *stats;

	if (!CHECK_INT_EQ(store_get_task(st, id, &task), 0))
		return;
	stats = json_object_get(task, "stack_stats");
	if (samples < 0) {
		CHECK(json_is_null(stats));
	} else if (CHECK(json_is_object(stats))) {
		CHECK_INT_EQ(json_integer_value(json_object_get(stats, "samples")), samples);
		CHECK_INT_EQ(json_integer_value(json_object_get(stats, "truncated")), truncated);
		CHECK_INT_EQ(json_integer_value(json_object_get(stats, "lost")), lost);
	}
	json_decref(task);
}

TEST(store_slices_add_their_stack_stats_to_the_task)
{
	struct store *st = open_store(NULL);
	struct store_task t = task("t1", "p1", 1000);
	struct store_stack stacks[] = {{"main;a", 6, 5, 0}, {"[truncated];x", 13, 3, 0}};
	struct store_stack_stats s0 = {8, 3, 0}, s2 = {100, 10, 7};
	struct store_slice sl = {"t1", 0, 1000, 2000, stacks, 2, NULL};
	json_t *list = NULL;
	bool dup = true;

	add_procs(st);
	CHECK_INT_EQ(store_add_task(st, &t, 1000), 0);
	check_stack_stats(st, "t1", -1, 0, 0);
	CHECK_INT_EQ(store_add_profile_slice(st, &sl, &dup), 0); /* no stats */
	check_stack_stats(st, "t1", -1, 0, 0);
	sl.slice = 1;
	sl.stats = &s0;
	CHECK_INT_EQ(store_add_profile_slice(st, &sl, &dup), 0);
	CHECK(!dup);
	CHECK_INT_EQ(store_add_profile_slice(st, &sl, &dup), 0);
	CHECK(dup);
	check_stack_stats(st, "t1", 8, 3, 0);
	sl.slice = 2;
	sl.stats = &s2;
	CHECK_INT_EQ(store_add_profile_slice(st, &sl, &dup), 0);
	check_stack_stats(st, "t1", 108, 13, 7);
	/* The listing carries them too. */
	if (CHECK_INT_EQ(store_list_tasks(st, NULL, NULL, INT64_MIN,
					  &(struct store_page){.limit = 10}, &list),
			 0))
		CHECK_INT_EQ(
		    json_integer_value(json_object_get(
			json_object_get(json_array_get(list, 0), "stack_stats"), "samples")),
		    108);
	json_decref(list);
	close_store(st);
}

/* A database of the base schema (before the tasks' stack stats) is
 * migrated when opened: its tasks stay, with stack_stats null, and take
 * stats; a database of a newer schema is refused. */
TEST(store_migrates_an_older_database_and_refuses_a_newer_one)
{
	struct store *st = open_store(NULL);
	struct store_options opts;
	struct store_stack stacks[] = {{"main;a", 6, 5, 0}};
	struct store_stack_stats stats = {5, 1, 0};
	struct store_slice sl = {"t-old", 0, 1000, 2000, stacks, 1, &stats};
	char url[160], err[256] = "";
	sqlite3 *db = NULL;
	bool dup;

	add_procs(st);
	store_close(st);
	/* Back to the base schema, a task in it. */
	CHECK_INT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
	CHECK_INT_EQ(
	    sqlite3_exec(db,
			 "DROP TABLE tasks; CREATE TABLE tasks(seq INTEGER PRIMARY KEY,"
			 " id TEXT NOT NULL UNIQUE, process_id TEXT, service TEXT NOT NULL,"
			 " instance TEXT NOT NULL, target TEXT NOT NULL, trigger TEXT NOT"
			 " NULL, cause TEXT, start_ms INTEGER NOT NULL, duration_s INTEGER"
			 " NOT NULL, end_ms INTEGER, status TEXT NOT NULL, reason TEXT,"
			 " agent_id TEXT, created_ms INTEGER NOT NULL);"
			 " INSERT INTO tasks(id, process_id, service, instance, target,"
			 " trigger, start_ms, duration_s, status, agent_id, created_ms)"
			 " VALUES('t-old', 'p1', 'web', 'host-a', 'ON_CPU', 'POLICY', 1000,"
			 " 60, 'RUNNING', 'agent-1', 1000); PRAGMA user_version=0;",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	store_options_default(&opts);
	snprintf(url, sizeof(url), "sqlite:%s", db_path);
	st = store_open(url, &opts, err, sizeof(err));
	if (!CHECK(st)) {
		harness_context("%s", err);
		return;
	}
	check_stack_stats(st, "t-old", -1, 0, 0);
	CHECK_INT_EQ(store_add_profile_slice(st, &sl, &dup), 0);
	check_stack_stats(st, "t-old", 5, 1, 0);
	store_close(st);
	CHECK_INT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
	CHECK_INT_EQ(sqlite3_exec(db, "PRAGMA user_version=99;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = store_open(url, &opts, err, sizeof(err));
	CHECK(!st);
	CHECK(strstr(err, "newer than this contprof") != NULL);
	store_close(st);
	close_store(NULL);
}

TEST(store_monitoring_counts_policy_triggers_in_the_window)
{
	struct store *st = open_store(NULL);
	const int64_t to = 200000000, from = to - 48LL * 3600 * 1000;
	const int64_t starts[] = {from - 1, from, from + 1, to, to + 1};
	json_t *out = NULL, *inst, *procs;
	char id[16];

	add_procs(st);
	for (size_t i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "t%zu", i);
		struct store_task t = task(id, "p3", starts[i]);
		CHECK_INT_EQ(store_add_task(st, &t, 1), 0);
	}
	struct store_task manual = task("m", "p1", to);
	manual.trigger = "MANUAL";
	CHECK_INT_EQ(store_add_task(st, &manual, 1), 0);
	CHECK_INT_EQ(store_monitoring_summary(st, "web", "ON_CPU", from, to, &out), 0);
	inst = json_object_get(out, "instances");
	CHECK_INT_EQ(json_array_size(inst), 2);
	CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(inst, 0), "name")), "host-b");
	CHECK_INT_EQ(
	    json_integer_value(json_object_get(json_array_get(inst, 0), "triggered_count")), 3);
	procs = json_object_get(json_array_get(inst, 1), "processes");
	CHECK_INT_EQ(
	    json_integer_value(json_object_get(json_array_get(procs, 0), "triggered_count")), 0);
	CHECK(json_is_null(json_object_get(json_array_get(procs, 0), "last_trigger_time")));
	json_decref(out);
	close_store(st);
}

TEST(store_retention_deletes_expired_rows_in_batches)
{
	struct store_options o;
	struct store *st;
	struct store_metric_series ser[] = {{"p1", "PROCESS_CPU", ""}};
	struct store_metric_point pts[50];
	struct store_stack stacks[] = {{"main;old", 8, 1, 0}};
	struct store_slice sl = {"old", 0, 0, 1, stacks, 1, NULL};
	const int64_t now = 100LL * 86400 * 1000;
	const char *unknown;
	uint64_t inserted;
	bool more = true, dup;
	int rounds = 0;

	store_options_default(&o);
	o.retention_batch_rows = 10;
	st = open_store(&o);
	add_procs(st);
	for (int i = 0; i < 50; i++)
		pts[i] = (struct store_metric_point){0, now - 2 * 3600 * 1000 + i * 1000, i};
	CHECK_INT_EQ(store_add_metrics(st, ser, 1, pts, 50, now, &inserted, &unknown), 0);
	struct store_task old = task("old", "p1", now - 8LL * 86400 * 1000);
	struct store_task fresh = task("fresh", "p1", now - 1000);
	CHECK_INT_EQ(store_add_task(st, &old, 1), 0);
	CHECK_INT_EQ(store_add_task(st, &fresh, 1), 0);
	CHECK_INT_EQ(store_add_profile_slice(st, &sl, &dup), 0);
	while (more && rounds++ < 100)
		CHECK_INT_EQ(store_retention(st, now, &more), 0);
	CHECK(rounds > 1);
	CHECK_INT_EQ(count_rows("metrics_raw"), 0);
	CHECK_INT_EQ(count_rows("metrics_minute"), 1);
	CHECK_INT_EQ(count_rows("tasks"), 1);
	CHECK_INT_EQ(count_rows("slices"), 0);
	CHECK_INT_EQ(count_rows("samples"), 0);
	/* processes seen at t=1000 are long gone by `now` */
	CHECK_INT_EQ(count_rows("processes"), 0);
	close_store(st);
}

TEST(ids)
{
	CHECK(jsonin_is_id("web-3:812:4711"));
	CHECK(!jsonin_is_id(""));
	CHECK(!jsonin_is_id("a/b"));
	CHECK(!jsonin_is_id("a b"));
}

int main(void)
{
	RUN(store_refuses_unknown_scheme_and_empty_path);
	RUN(store_policies_roundtrip);
	RUN(store_processes_upsert_and_page);
	RUN(store_metrics_are_idempotent_and_roll_up_per_minute);
	RUN(store_tasks_report_finish_and_conflicts);
	RUN(store_tasks_of_silent_agents_fail);
	RUN(store_manual_tasks_wait_for_their_agent);
	RUN(store_slices_are_idempotent_and_stacks_deduplicated);
	RUN(store_slices_add_their_stack_stats_to_the_task);
	RUN(store_migrates_an_older_database_and_refuses_a_newer_one);
	RUN(store_monitoring_counts_policy_triggers_in_the_window);
	RUN(store_retention_deletes_expired_rows_in_batches);
	RUN(ids);
	return harness_finish();
}
