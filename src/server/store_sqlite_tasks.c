/* store_sqlite_tasks: profiling tasks in the SQLite backend — reports from
 * agents, manual tasks waiting for their agent, finishing, listings and the
 * 48 h monitoring summary.
 *
 * A task's id is chosen by the agent (policy tasks) or by the server
 * (manual tasks, "m-" + 16 hex digits); reports are idempotent by id.
 */
#include "server/store_sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

int sq_task_seq(struct store_backend *be, const char *id, int64_t *ret_seq)
{
	sqlite3_stmt *s = sq_stmt(be, SQ_TASK_GET_SEQ);
	int rc;

	sq_bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret_seq = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : sq_fail(be, "find task");
}

static int null_strcmp(const char *a, const char *b)
{
	if (!a || !b)
		return a != b;
	return strcmp(a, b);
}

/* Compares a reported task with the stored one: 1 same task, 0 another task
 * under this id, -ENOENT none, -EIO. *ret_pending when it waits for start. */
static int task_matches(struct store_backend *be, const struct store_task *t, bool *ret_pending)
{
	sqlite3_stmt *s = sq_stmt(be, SQ_TASK_GET_SEQ);
	int rc, r;

	sq_bind_text(s, 1, t->id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else if (rc != SQLITE_ROW) {
		r = sq_fail(be, "find task");
	} else {
		r = null_strcmp((const char *)sqlite3_column_text(s, 1), t->process_id) == 0 &&
		    strcmp((const char *)sqlite3_column_text(s, 2), t->target) == 0;
		*ret_pending = strcmp((const char *)sqlite3_column_text(s, 3), "PENDING") == 0;
	}
	sqlite3_reset(s);
	return r;
}

int sq_add_task(struct store_backend *be, const struct store_task *t, int64_t now_ms)
{
	const char *service = t->service, *instance = t->instance;
	char *service_copy = NULL, *instance_copy = NULL, *cause = NULL;
	bool pending = false;
	sqlite3_stmt *s;
	int r, rc;

	pthread_mutex_lock(&be->lock);
	r = task_matches(be, t, &pending);
	if (r == 1) {
		r = 0;
		if (pending) {
			s = sq_stmt(be, SQ_TASK_START_PENDING);
			sq_bind_text(s, 1, t->id);
			sqlite3_bind_int64(s, 2, t->start_ms);
			sqlite3_bind_int64(s, 3, t->duration_s);
			sq_bind_text(s, 4, t->agent_id);
			r = sq_exec(be, SQ_TASK_START_PENDING);
		}
		goto out;
	}
	if (r == 0) {
		r = -EEXIST;
		goto out;
	}
	if (r != -ENOENT)
		goto out;
	if (t->process_id) {
		s = sq_stmt(be, SQ_PROCESS_EXISTS);
		sq_bind_text(s, 1, t->process_id);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			service = service_copy = strdup((const char *)sqlite3_column_text(s, 0));
			instance = instance_copy = strdup((const char *)sqlite3_column_text(s, 1));
		}
		sqlite3_reset(s);
		if (rc != SQLITE_ROW) {
			r = rc == SQLITE_DONE ? -ENOENT : sq_fail(be, "find process");
			goto out;
		}
		if (!service || !instance) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (t->cause && !(cause = json_dumps(t->cause, JSON_COMPACT | JSON_SORT_KEYS))) {
		r = -ENOMEM;
		goto out;
	}
	s = sq_stmt(be, SQ_TASK_INSERT);
	sq_bind_text(s, 1, t->id);
	sq_bind_text(s, 2, t->process_id);
	sq_bind_text(s, 3, service);
	sq_bind_text(s, 4, instance);
	sq_bind_text(s, 5, t->target);
	sq_bind_text(s, 6, t->trigger);
	sq_bind_text(s, 7, cause);
	sqlite3_bind_int64(s, 8, t->start_ms);
	sqlite3_bind_int64(s, 9, t->duration_s);
	sq_bind_text(s, 10, "RUNNING");
	sq_bind_text(s, 11, t->agent_id);
	sqlite3_bind_int64(s, 12, now_ms);
	r = sq_exec(be, SQ_TASK_INSERT);
out:
	pthread_mutex_unlock(&be->lock);
	free(cause);
	free(service_copy);
	free(instance_copy);
	return r;
}

int sq_finish_task(struct store_backend *be, const char *id, const char *status, const char *reason,
		   int64_t end_ms)
{
	sqlite3_stmt *s;
	int64_t seq;
	int r;

	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_TASK_FINISH);
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, status);
	sq_bind_text(s, 3, reason);
	sqlite3_bind_int64(s, 4, end_ms);
	r = sq_exec(be, SQ_TASK_FINISH);
	if (r == 0 && sqlite3_changes(be->db) == 0)
		r = sq_task_seq(be, id, &seq); /* already ended: 0; unknown: -ENOENT */
	pthread_mutex_unlock(&be->lock);
	return r;
}

int sq_fail_silent_tasks(struct store_backend *be, int64_t cutoff_ms, int64_t now_ms,
			 uint64_t *ret_closed)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_TASK_FAIL_SILENT);
	sqlite3_bind_int64(s, 1, cutoff_ms);
	sqlite3_bind_int64(s, 2, now_ms);
	r = sq_exec(be, SQ_TASK_FAIL_SILENT);
	if (r == 0)
		*ret_closed = (uint64_t)sqlite3_changes(be->db);
	pthread_mutex_unlock(&be->lock);
	return r;
}

int sq_create_manual_task(struct store_backend *be, const char *process_id, const char *target,
			  uint32_t duration_s, int64_t now_ms, char **ret_id)
{
	char id[20], message[160];
	uint64_t rnd;
	json_t *cause;
	char *cause_text;
	sqlite3_stmt *s;
	int rc, r;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -EIO;
	snprintf(id, sizeof(id), "m-%016llx", (unsigned long long)rnd);
	snprintf(message, sizeof(message), "manual %s task for %u s requested through the API",
		 target, duration_s);
	cause = json_pack("{s:s}", "message", message);
	cause_text = cause ? json_dumps(cause, JSON_COMPACT) : NULL;
	json_decref(cause);
	if (!cause_text)
		return -ENOMEM;

	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_PROCESS_EXISTS);
	sq_bind_text(s, 1, process_id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		r = rc == SQLITE_DONE ? -ENOENT : sq_fail(be, "find process");
		goto out;
	}
	/* Columns of the process row stay valid until the reset below. */
	{
		char *service = strdup((const char *)sqlite3_column_text(s, 0));
		char *instance = strdup((const char *)sqlite3_column_text(s, 1));

		sqlite3_reset(s);
		if (!service || !instance) {
			free(service);
			free(instance);
			r = -ENOMEM;
			goto out;
		}
		s = sq_stmt(be, SQ_TASK_INSERT);
		sq_bind_text(s, 1, id);
		sq_bind_text(s, 2, process_id);
		sq_bind_text(s, 3, service);
		sq_bind_text(s, 4, instance);
		sq_bind_text(s, 5, target);
		sq_bind_text(s, 6, "MANUAL");
		sq_bind_text(s, 7, cause_text);
		sqlite3_bind_int64(s, 8, now_ms);
		sqlite3_bind_int64(s, 9, duration_s);
		sq_bind_text(s, 10, "PENDING");
		sq_bind_text(s, 11, NULL);
		sqlite3_bind_int64(s, 12, now_ms);
		r = sq_exec(be, SQ_TASK_INSERT);
		free(service);
		free(instance);
	}
	if (r == 0) {
		*ret_id = strdup(id);
		if (!*ret_id)
			r = -ENOMEM;
	}
out:
	pthread_mutex_unlock(&be->lock);
	free(cause_text);
	return r;
}

int sq_pending_tasks(struct store_backend *be, const char *agent_id, json_t **ret)
{
	json_t *arr = json_array();
	sqlite3_stmt *s;
	int rc;

	if (!arr)
		return -ENOMEM;
	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_TASK_PENDING);
	sq_bind_text(s, 1, agent_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I}", "id",
			      sqlite3_column_text(s, 0), "process_id", sqlite3_column_text(s, 1),
			      "pid", (json_int_t)sqlite3_column_int64(s, 2), "service",
			      sqlite3_column_text(s, 3), "instance", sqlite3_column_text(s, 4),
			      "target", sqlite3_column_text(s, 5), "duration",
			      (json_int_t)sqlite3_column_int64(s, 6), "created_time",
			      (json_int_t)sqlite3_column_int64(s, 7)));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		sq_fail(be, "pending tasks");
	pthread_mutex_unlock(&be->lock);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return -EIO;
	}
	*ret = arr;
	return 0;
}

/* stack_stats of a task row: {samples, truncated, lost}, or null before a
 * slice brought any. */
static json_t *stack_stats(sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return json_null();
	return json_pack("{s:I, s:I, s:I}", "samples", (json_int_t)sqlite3_column_int64(s, col),
			 "truncated", (json_int_t)sqlite3_column_int64(s, col + 1), "lost",
			 (json_int_t)sqlite3_column_int64(s, col + 2));
}

/* One task row (TASK_COLUMNS order) as the API's task object. */
static json_t *task_row(sqlite3_stmt *s)
{
	return json_pack(
	    "{s:s, s:o, s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:s, s:o, s:o, s:o}", "id",
	    sqlite3_column_text(s, 0), "process_id", sq_col_text_or_null(s, 1), "service",
	    sqlite3_column_text(s, 2), "instance", sqlite3_column_text(s, 3), "target",
	    sqlite3_column_text(s, 4), "trigger", sqlite3_column_text(s, 5), "start_time",
	    (json_int_t)sqlite3_column_int64(s, 6), "end_time", sq_col_int_or_null(s, 7),
	    "duration", (json_int_t)sqlite3_column_int64(s, 8), "status", sqlite3_column_text(s, 9),
	    "reason", sq_col_text_or_null(s, 10), "cause", sq_col_json(s, 11), "stack_stats",
	    stack_stats(s, 12));
}

int sq_list_tasks(struct store_backend *be, const char *service, const char *process_id,
		  int64_t since_ms, const struct store_page *page, json_t **ret)
{
	json_t *arr = json_array();
	sqlite3_stmt *s;
	int rc;

	if (!arr)
		return -ENOMEM;
	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_TASK_LIST);
	sq_bind_text(s, 1, service);
	sq_bind_text(s, 2, process_id);
	sqlite3_bind_int64(s, 3, since_ms);
	sqlite3_bind_int64(s, 4, page->limit);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)page->offset);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(arr, task_row(s));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		sq_fail(be, "list tasks");
	pthread_mutex_unlock(&be->lock);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return -EIO;
	}
	*ret = arr;
	return 0;
}

int sq_get_task(struct store_backend *be, const char *id, json_t **ret)
{
	sqlite3_stmt *s;
	int rc, r = -ENOENT;

	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_TASK_GET);
	sq_bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*ret = task_row(s);
		r = *ret ? 0 : -ENOMEM;
	} else if (rc != SQLITE_DONE) {
		r = sq_fail(be, "get task");
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&be->lock);
	return r;
}

/* Runs a (key, count, last) GROUP BY query into an object key -> [count, last]. */
static int count_by(struct store_backend *be, enum sq_stmt id, const char *service,
		    const char *target, int64_t from_ms, int64_t to_ms, json_t *into)
{
	sqlite3_stmt *s = sq_stmt(be, id);
	int rc;

	sq_bind_text(s, 1, service);
	sqlite3_bind_int64(s, 2, from_ms);
	sqlite3_bind_int64(s, 3, to_ms);
	sq_bind_text(s, 4, target);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_object_set_new(into, (const char *)sqlite3_column_text(s, 0),
				    json_pack("[I, I]", (json_int_t)sqlite3_column_int64(s, 1),
					      (json_int_t)sqlite3_column_int64(s, 2)));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : sq_fail(be, "monitoring counts");
}

static void set_counts(json_t *obj, json_t *counts, const char *key)
{
	json_t *c = json_object_get(counts, key);

	json_object_set_new(obj, "triggered_count",
			    json_integer(c ? json_integer_value(json_array_get(c, 0)) : 0));
	json_object_set_new(obj, "last_trigger_time",
			    c ? json_integer(json_integer_value(json_array_get(c, 1)))
			      : json_null());
}

/* Sorts by triggered_count desc, then last_trigger_time desc, then name. */
static int by_count_desc(const void *pa, const void *pb)
{
	const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	json_int_t ca = json_integer_value(json_object_get(a, "triggered_count"));
	json_int_t cb = json_integer_value(json_object_get(b, "triggered_count"));
	json_int_t la = json_integer_value(json_object_get(a, "last_trigger_time"));
	json_int_t lb = json_integer_value(json_object_get(b, "last_trigger_time"));

	if (ca != cb)
		return ca < cb ? 1 : -1;
	if (la != lb)
		return la < lb ? 1 : -1;
	return strcmp(json_string_value(json_object_get(a, "name")),
		      json_string_value(json_object_get(b, "name")));
}

static int sort_array(json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **items = calloc(n ? n : 1, sizeof(*items));

	if (!items)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		items[i] = json_incref(json_array_get(arr, i));
	qsort(items, n, sizeof(*items), by_count_desc);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, items[i]);
	free(items);
	return 0;
}

int sq_monitoring_summary(struct store_backend *be, const char *service, const char *target,
			  int64_t from_ms, int64_t to_ms, json_t **ret)
{
	json_t *by_proc = json_object(), *by_inst = json_object(), *insts = json_object();
	json_t *out = NULL, *list = json_array();
	const char *key;
	json_t *inst;
	sqlite3_stmt *s;
	int rc, r;

	if (!by_proc || !by_inst || !insts || !list) {
		r = -ENOMEM;
		goto done;
	}
	pthread_mutex_lock(&be->lock);
	r = count_by(be, SQ_MON_BY_PROCESS, service, target, from_ms, to_ms, by_proc);
	if (r == 0)
		r = count_by(be, SQ_MON_BY_INSTANCE, service, target, from_ms, to_ms, by_inst);
	if (r == 0) {
		s = sq_stmt(be, SQ_MON_PROCESSES);
		sq_bind_text(s, 1, service);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			const char *iname = (const char *)sqlite3_column_text(s, 4);
			json_t *p = json_pack(
			    "{s:s, s:s, s:I, s:o}", "id", sqlite3_column_text(s, 0), "name",
			    sqlite3_column_text(s, 1), "pid",
			    (json_int_t)sqlite3_column_int64(s, 2), "labels", sq_col_json(s, 3));

			set_counts(p, by_proc, json_string_value(json_object_get(p, "id")));
			inst = json_object_get(insts, iname);
			if (!inst) {
				inst = json_pack("{s:s, s:[]}", "name", iname, "processes");
				json_object_set_new(insts, iname, inst);
			}
			json_array_append_new(json_object_get(inst, "processes"), p);
		}
		sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			r = sq_fail(be, "monitoring processes");
	}
	pthread_mutex_unlock(&be->lock);
	if (r < 0)
		goto done;
	/* Instances that triggered but whose processes are gone still count. */
	json_object_foreach(by_inst, key, inst)
	{
		if (!json_object_get(insts, key))
			json_object_set_new(insts, key,
					    json_pack("{s:s, s:[]}", "name", key, "processes"));
	}
	json_object_foreach(insts, key, inst)
	{
		set_counts(inst, by_inst, key);
		r = sort_array(json_object_get(inst, "processes"));
		if (r < 0)
			goto done;
		json_array_append(list, inst);
	}
	r = sort_array(list);
	if (r < 0)
		goto done;
	out = json_pack("{s:s, s:o, s:I, s:I, s:O}", "service", service, "target",
			target ? json_string(target) : json_null(), "from", (json_int_t)from_ms,
			"to", (json_int_t)to_ms, "instances", list);
	r = out ? 0 : -ENOMEM;
done:
	json_decref(by_proc);
	json_decref(by_inst);
	json_decref(insts);
	json_decref(list);
	if (r == 0)
		*ret = out;
	return r;
}
