/* store_pg_tasks: profiling tasks in the PostgreSQL backend — reports from
 * agents, manual tasks waiting for their agent, finishing, listings and the
 * 48 h monitoring summary, with the SQLite backend's semantics.
 *
 * Two servers may receive the same report at once (an agent retrying
 * through a load balancer): the insert is ON CONFLICT DO NOTHING and a lost
 * race falls back to comparing with the row the other server wrote. A
 * manual task's id is drawn before the first attempt, so a retried insert
 * after a lost connection cannot create it twice.
 */
#include "server/store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

int pg_task_seq(struct pg_conn *c, const char *id, int64_t *ret_seq, int64_t *ret_start_ms)
{
	struct pg_params p = {0};
	PGresult *res;
	int r = -ENOENT;

	pp_text(&p, id);
	res = pg_query(c, PG_TASK_GET_SEQ, &p);
	if (!res)
		return -EIO;
	if (PQntuples(res) == 1) {
		*ret_seq = pg_get_i64(res, 0, 0);
		if (ret_start_ms)
			*ret_start_ms = pg_get_i64(res, 0, 4);
		r = 0;
	}
	PQclear(res);
	return r;
}

/* Compares a reported task with the stored one: 1 same task, 0 another
 * task under this id, -ENOENT none, -EIO. *ret_pending when it waits. */
static int task_matches(struct pg_conn *c, const struct store_task *t, bool *ret_pending)
{
	struct pg_params p = {0};
	PGresult *res;
	int r = -ENOENT;

	pp_text(&p, t->id);
	res = pg_query(c, PG_TASK_GET_SEQ, &p);
	if (!res)
		return -EIO;
	if (PQntuples(res) == 1) {
		bool same_process =
		    PQgetisnull(res, 0, 1)
			? t->process_id == NULL
			: t->process_id && strcmp(PQgetvalue(res, 0, 1), t->process_id) == 0;

		r = same_process && strcmp(PQgetvalue(res, 0, 2), t->target) == 0;
		*ret_pending = strcmp(PQgetvalue(res, 0, 3), "PENDING") == 0;
	}
	PQclear(res);
	return r;
}

struct add_task_args {
	const struct store_task *t;
	const char *cause;
	int64_t now_ms;
};

static int op_add_task(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct add_task_args *a = arg;
	const struct store_task *t = a->t;
	bool pending = false;
	int r;

	(void)be;
	for (int round = 0; round < 2; round++) {
		struct pg_params p = {0};
		char *service = NULL, *instance = NULL;
		uint64_t rows = 0;

		r = task_matches(c, t, &pending);
		if (r == 1) {
			if (!pending)
				return 0;
			pp_text(&p, t->id);
			pp_i64(&p, t->start_ms);
			pp_i64(&p, t->duration_s);
			pp_text(&p, t->agent_id);
			return pg_command(c, PG_TASK_START_PENDING, &p, NULL);
		}
		if (r == 0)
			return -EEXIST;
		if (r != -ENOENT)
			return r;
		if (t->process_id) {
			PGresult *res;

			pp_text(&p, t->process_id);
			res = pg_query(c, PG_PROCESS_EXISTS, &p);
			if (!res)
				return -EIO;
			if (PQntuples(res) == 0) {
				PQclear(res);
				return -ENOENT;
			}
			service = strdup(PQgetvalue(res, 0, 0));
			instance = strdup(PQgetvalue(res, 0, 1));
			PQclear(res);
			p.n = 0;
			if (!service || !instance) {
				free(service);
				free(instance);
				return -ENOMEM;
			}
		}
		pp_text(&p, t->id);
		pp_text(&p, t->process_id);
		pp_text(&p, service ? service : t->service);
		pp_text(&p, instance ? instance : t->instance);
		pp_text(&p, t->target);
		pp_text(&p, t->trigger);
		pp_text(&p, a->cause);
		pp_i64(&p, t->start_ms);
		pp_i64(&p, t->duration_s);
		pp_text(&p, "RUNNING");
		pp_text(&p, t->agent_id);
		pp_i64(&p, a->now_ms);
		r = pg_command(c, PG_TASK_INSERT, &p, &rows);
		free(service);
		free(instance);
		if (r < 0 || rows == 1)
			return r;
		/* Another server inserted this id meanwhile: compare with it. */
	}
	return r;
}

int pg_add_task(struct store_backend *be, const struct store_task *t, int64_t now_ms)
{
	struct add_task_args a = {.t = t, .now_ms = now_ms};
	char *cause = NULL;
	int r;

	if (t->cause && !(cause = json_dumps(t->cause, JSON_COMPACT | JSON_SORT_KEYS)))
		return -ENOMEM;
	a.cause = cause;
	r = pg_run(be, "add task", op_add_task, &a);
	free(cause);
	return r;
}

struct finish_args {
	const char *id, *status, *reason;
	int64_t end_ms;
};

static int op_finish_task(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct finish_args *a = arg;
	struct pg_params p = {0};
	uint64_t rows = 0;
	int64_t seq;
	int r;

	(void)be;
	pp_text(&p, a->id);
	pp_text(&p, a->status);
	pp_text(&p, a->reason);
	pp_i64(&p, a->end_ms);
	r = pg_command(c, PG_TASK_FINISH, &p, &rows);
	if (r == 0 && rows == 0)
		r = pg_task_seq(c, a->id, &seq, NULL); /* already ended: 0; unknown: -ENOENT */
	return r;
}

int pg_finish_task(struct store_backend *be, const char *id, const char *status, const char *reason,
		   int64_t end_ms)
{
	struct finish_args a = {.id = id, .status = status, .reason = reason, .end_ms = end_ms};

	return pg_run(be, "finish task", op_finish_task, &a);
}

struct silent_args {
	int64_t cutoff_ms, now_ms;
	uint64_t closed;
};

static int op_fail_silent(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct silent_args *a = arg;
	struct pg_params p = {0};

	(void)be;
	pp_i64(&p, a->cutoff_ms);
	pp_i64(&p, a->now_ms);
	return pg_command(c, PG_TASK_FAIL_SILENT, &p, &a->closed);
}

int pg_fail_silent_tasks(struct store_backend *be, int64_t cutoff_ms, int64_t now_ms,
			 uint64_t *ret_closed)
{
	struct silent_args a = {.cutoff_ms = cutoff_ms, .now_ms = now_ms};
	int r = pg_run(be, "close silent tasks", op_fail_silent, &a);

	if (r == 0)
		*ret_closed = a.closed;
	return r;
}

struct manual_args {
	const char *id, *process_id, *target, *cause;
	uint32_t duration_s;
	int64_t now_ms;
};

static int op_create_manual(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct manual_args *a = arg;
	struct pg_params p = {0};
	PGresult *res;
	int r;

	(void)be;
	pp_text(&p, a->process_id);
	res = pg_query(c, PG_PROCESS_EXISTS, &p);
	if (!res)
		return -EIO;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	p.n = 0;
	pp_text(&p, a->id);
	pp_text(&p, a->process_id);
	pp_text(&p, PQgetvalue(res, 0, 0));
	pp_text(&p, PQgetvalue(res, 0, 1));
	pp_text(&p, a->target);
	pp_text(&p, "MANUAL");
	pp_text(&p, a->cause);
	pp_i64(&p, a->now_ms);
	pp_i64(&p, a->duration_s);
	pp_text(&p, "PENDING");
	pp_text(&p, NULL);
	pp_i64(&p, a->now_ms);
	r = pg_command(c, PG_TASK_INSERT, &p, NULL);
	PQclear(res);
	return r;
}

int pg_create_manual_task(struct store_backend *be, const char *process_id, const char *target,
			  uint32_t duration_s, int64_t now_ms, char **ret_id)
{
	struct manual_args a = {
	    .process_id = process_id, .target = target, .duration_s = duration_s, .now_ms = now_ms};
	char id[20], message[160];
	char *cause_text;
	json_t *cause;
	uint64_t rnd;
	int r;

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
	a.id = id;
	a.cause = cause_text;
	r = pg_run(be, "create manual task", op_create_manual, &a);
	free(cause_text);
	if (r == 0) {
		*ret_id = strdup(id);
		if (!*ret_id)
			r = -ENOMEM;
	}
	return r;
}

struct list_args {
	const char *agent_id, *service, *process_id, *id;
	int64_t since_ms;
	const struct store_page *page;
	json_t **ret;
};

static int op_pending_tasks(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct list_args *a = arg;
	struct pg_params p = {0};
	PGresult *res;
	json_t *arr;

	(void)be;
	pp_text(&p, a->agent_id);
	res = pg_query(c, PG_TASK_PENDING, &p);
	if (!res)
		return -EIO;
	arr = json_array();
	for (int i = 0; arr && i < PQntuples(res); i++)
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I}", "id",
			      PQgetvalue(res, i, 0), "process_id", PQgetvalue(res, i, 1), "pid",
			      (json_int_t)pg_get_i64(res, i, 2), "service", PQgetvalue(res, i, 3),
			      "instance", PQgetvalue(res, i, 4), "target", PQgetvalue(res, i, 5),
			      "duration", (json_int_t)pg_get_i64(res, i, 6), "created_time",
			      (json_int_t)pg_get_i64(res, i, 7)));
	PQclear(res);
	if (!arr)
		return -ENOMEM;
	*a->ret = arr;
	return 0;
}

int pg_pending_tasks(struct store_backend *be, const char *agent_id, json_t **ret)
{
	struct list_args a = {.agent_id = agent_id, .ret = ret};

	return pg_run(be, "pending tasks", op_pending_tasks, &a);
}

/* stack_stats of a task row: {samples, truncated, lost}, or null before a
 * slice brought any. */
static json_t *stack_stats(const PGresult *res, int i, int col)
{
	if (PQgetisnull(res, i, col))
		return json_null();
	return json_pack("{s:I, s:I, s:I}", "samples", (json_int_t)pg_get_i64(res, i, col),
			 "truncated", (json_int_t)pg_get_i64(res, i, col + 1), "lost",
			 (json_int_t)pg_get_i64(res, i, col + 2));
}

/* One task row (TASK_COLUMNS order) as the API's task object. */
static json_t *task_row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:s, s:o, s:o, s:o}", "id",
			 PQgetvalue(res, i, 0), "process_id", pg_get_text_or_null(res, i, 1),
			 "service", PQgetvalue(res, i, 2), "instance", PQgetvalue(res, i, 3),
			 "target", PQgetvalue(res, i, 4), "trigger", PQgetvalue(res, i, 5),
			 "start_time", (json_int_t)pg_get_i64(res, i, 6), "end_time",
			 pg_get_int_or_null(res, i, 7), "duration",
			 (json_int_t)pg_get_i64(res, i, 8), "status", PQgetvalue(res, i, 9),
			 "reason", pg_get_text_or_null(res, i, 10), "cause",
			 pg_get_json(res, i, 11), "stack_stats", stack_stats(res, i, 12));
}

static int op_list_tasks(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct list_args *a = arg;
	struct pg_params p = {0};
	PGresult *res;
	json_t *arr;

	(void)be;
	pp_text(&p, a->service);
	pp_text(&p, a->process_id);
	pp_i64(&p, a->since_ms);
	pp_i64(&p, a->page->limit);
	pp_i64(&p, (int64_t)a->page->offset);
	res = pg_query(c, PG_TASK_LIST, &p);
	if (!res)
		return -EIO;
	arr = json_array();
	for (int i = 0; arr && i < PQntuples(res); i++)
		json_array_append_new(arr, task_row(res, i));
	PQclear(res);
	if (!arr)
		return -ENOMEM;
	*a->ret = arr;
	return 0;
}

int pg_list_tasks(struct store_backend *be, const char *service, const char *process_id,
		  int64_t since_ms, const struct store_page *page, json_t **ret)
{
	struct list_args a = {.service = service,
			      .process_id = process_id,
			      .since_ms = since_ms,
			      .page = page,
			      .ret = ret};

	return pg_run(be, "list tasks", op_list_tasks, &a);
}

static int op_get_task(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct list_args *a = arg;
	struct pg_params p = {0};
	PGresult *res;
	int r = -ENOENT;

	(void)be;
	pp_text(&p, a->id);
	res = pg_query(c, PG_TASK_GET, &p);
	if (!res)
		return -EIO;
	if (PQntuples(res) == 1) {
		*a->ret = task_row(res, 0);
		r = *a->ret ? 0 : -ENOMEM;
	}
	PQclear(res);
	return r;
}

int pg_get_task(struct store_backend *be, const char *id, json_t **ret)
{
	struct list_args a = {.id = id, .ret = ret};

	return pg_run(be, "get task", op_get_task, &a);
}
