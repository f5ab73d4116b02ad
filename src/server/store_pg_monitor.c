/* store_pg_monitor: the monitoring summary of one service in the
 * PostgreSQL backend — POLICY triggers counted per process and per instance
 * over a window, with the service's processes grouped by instance, sorted
 * by triggered_count desc, then last_trigger_time desc, then name in byte
 * order (the SQLite backend's order).
 *
 * The three reads run in one REPEATABLE READ transaction, so the counts and
 * the process list come from one snapshot even while agents report tasks.
 */
#include "server/store_pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct summary_args {
	const char *service, *target;
	int64_t from_ms, to_ms;
	PGresult *by_process, *by_instance, *processes;
};

static void clear_results(struct summary_args *a)
{
	PQclear(a->by_process);
	PQclear(a->by_instance);
	PQclear(a->processes);
	a->by_process = a->by_instance = a->processes = NULL;
}

static int op_summary(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct summary_args *a = arg;
	struct pg_params p = {0};
	int r;

	(void)be;
	clear_results(a);
	r = pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (r < 0)
		return r;
	pp_text(&p, a->service);
	pp_i64(&p, a->from_ms);
	pp_i64(&p, a->to_ms);
	pp_text(&p, a->target);
	a->by_process = pg_query(c, PG_MON_BY_PROCESS, &p);
	a->by_instance = a->by_process ? pg_query(c, PG_MON_BY_INSTANCE, &p) : NULL;
	p.n = 1;
	a->processes = a->by_instance ? pg_query(c, PG_MON_PROCESSES, &p) : NULL;
	if (!a->processes) {
		clear_results(a);
		return -EIO;
	}
	return pg_commit(c);
}

/* Finds `key` in column 0 of a (key, count, last) result; -1 when absent. */
static int find_key(const PGresult *res, const char *key)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 0), key) == 0)
			return i;
	return -1;
}

static void set_counts(json_t *obj, const PGresult *counts, const char *key)
{
	int row = find_key(counts, key);

	json_object_set_new(obj, "triggered_count",
			    json_integer(row >= 0 ? pg_get_i64(counts, row, 1) : 0));
	json_object_set_new(obj, "last_trigger_time",
			    row >= 0 ? json_integer(pg_get_i64(counts, row, 2)) : json_null());
}

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

/* Sorts a JSON array of objects in place with by_count_desc. */
static int sort_by_count(json_t *arr)
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

static int build_summary(const struct summary_args *a, json_t **ret)
{
	json_t *insts = json_object(), *list = json_array(), *inst, *out;
	const PGresult *procs = a->processes;
	const char *key;
	int r = -ENOMEM;

	if (!insts || !list)
		goto out;
	for (int i = 0; i < PQntuples(procs); i++) {
		const char *iname = PQgetvalue(procs, i, 4);
		json_t *pr =
		    json_pack("{s:s, s:s, s:I, s:o}", "id", PQgetvalue(procs, i, 0), "name",
			      PQgetvalue(procs, i, 1), "pid", (json_int_t)pg_get_i64(procs, i, 2),
			      "labels", pg_get_json(procs, i, 3));

		if (!pr)
			goto out;
		set_counts(pr, a->by_process, PQgetvalue(procs, i, 0));
		inst = json_object_get(insts, iname);
		if (!inst) {
			inst = json_pack("{s:s, s:[]}", "name", iname, "processes");
			json_object_set_new(insts, iname, inst);
		}
		json_array_append_new(json_object_get(inst, "processes"), pr);
	}
	/* Instances that triggered but whose processes are gone still count. */
	for (int i = 0; i < PQntuples(a->by_instance); i++) {
		key = PQgetvalue(a->by_instance, i, 0);
		if (!json_object_get(insts, key))
			json_object_set_new(insts, key,
					    json_pack("{s:s, s:[]}", "name", key, "processes"));
	}
	json_object_foreach(insts, key, inst)
	{
		set_counts(inst, a->by_instance, key);
		if (sort_by_count(json_object_get(inst, "processes")) < 0)
			goto out;
		json_array_append(list, inst);
	}
	if (sort_by_count(list) < 0)
		goto out;
	out = json_pack("{s:s, s:o, s:I, s:I, s:O}", "service", a->service, "target",
			a->target ? json_string(a->target) : json_null(), "from",
			(json_int_t)a->from_ms, "to", (json_int_t)a->to_ms, "instances", list);
	if (out) {
		*ret = out;
		r = 0;
	}
out:
	json_decref(insts);
	json_decref(list);
	return r;
}

int pg_monitoring_summary(struct store_backend *be, const char *service, const char *target,
			  int64_t from_ms, int64_t to_ms, json_t **ret)
{
	struct summary_args a = {
	    .service = service, .target = target, .from_ms = from_ms, .to_ms = to_ms};
	int r = pg_run(be, "monitoring summary", op_summary, &a);

	if (r == 0)
		r = build_summary(&a, ret);
	clear_results(&a);
	return r;
}
