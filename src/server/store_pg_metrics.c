/* store_pg_metrics: per-second metric points and their minute rollups in
 * the PostgreSQL backend.
 *
 * One upload is a handful of statements whatever its size: the series are
 * resolved (found or created) in one statement, the raw points inserted in
 * one multi-row INSERT ... SELECT FROM unnest(arrays) ... ON CONFLICT DO
 * NOTHING RETURNING, which tells which points were new; the minute rollups
 * of the new points are upserted in one statement and the newest value of
 * each series in another, all in one transaction. The rollup sums are
 * accumulated exactly as the SQLite backend accumulates them (same order of
 * floating-point additions), so both stores answer the same bytes.
 */
#include "server/store_pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PG_METRIC_PARTS_MAX 32 /* distinct partitions prepared per upload */

static int64_t minute_of(int64_t time_ms)
{
	int64_t m = time_ms / STORE_MINUTE_MS;

	if (time_ms < 0 && time_ms % STORE_MINUTE_MS)
		m--;
	return m * STORE_MINUTE_MS;
}

/* Set of (series, time) pairs the INSERT reported as new; each pair is
 * claimed once, by the first point that carries it (as SQLite keeps the
 * first of two points of one series and second in a batch). */
struct point_set {
	int64_t *keys;	/* series, time pairs */
	uint8_t *state; /* 0 empty, 1 present, 2 claimed */
	size_t mask;
};

static uint64_t pair_hash(int64_t a, int64_t b)
{
	uint64_t h = (uint64_t)a * 0x9e3779b97f4a7c15ULL ^ (uint64_t)b * 0xc2b2ae3d27d4eb4fULL;

	return h ^ (h >> 29);
}

static int set_init(struct point_set *s, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap <<= 1;
	s->keys = calloc(cap * 2, sizeof(*s->keys));
	s->state = calloc(cap, 1);
	s->mask = cap - 1;
	if (!s->keys || !s->state) {
		free(s->keys);
		free(s->state);
		return -ENOMEM;
	}
	return 0;
}

static size_t set_slot(const struct point_set *s, int64_t series, int64_t time_ms)
{
	size_t i = (size_t)pair_hash(series, time_ms) & s->mask;

	while (s->state[i] && (s->keys[2 * i] != series || s->keys[2 * i + 1] != time_ms))
		i = (i + 1) & s->mask;
	return i;
}

static void set_add(struct point_set *s, int64_t series, int64_t time_ms)
{
	size_t i = set_slot(s, series, time_ms);

	if (s->state[i])
		return;
	s->keys[2 * i] = series;
	s->keys[2 * i + 1] = time_ms;
	s->state[i] = 1;
}

static bool set_claim(struct point_set *s, int64_t series, int64_t time_ms)
{
	size_t i = set_slot(s, series, time_ms);

	if (s->state[i] != 1)
		return false;
	s->state[i] = 2;
	return true;
}

struct rollup {
	int64_t series, minute_ms, count;
	double sum, max;
	size_t wave; /* how many earlier rollups of this batch share the key */
};

struct series_state {
	int64_t id;
	int64_t latest_ms;
	double latest_value;
	bool seen;
};

struct metrics_args {
	const struct store_metric_series *series;
	size_t n_series;
	const struct store_metric_point *points;
	size_t n_points;
	int64_t now_ms;
	int64_t raw_parts[PG_METRIC_PARTS_MAX], minute_parts[PG_METRIC_PARTS_MAX];
	size_t n_raw_parts, n_minute_parts;
	char *ser_process, *ser_monitor, *ser_uri; /* array literals */
	struct series_state *state;
	struct rollup *rollups;
	uint64_t inserted;
	const char *unknown;
};

static int resolve_series(struct pg_conn *c, struct metrics_args *a)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		struct pg_params p = {0};
		PGresult *res;
		bool missing = false;

		pp_text(&p, a->ser_process);
		pp_text(&p, a->ser_monitor);
		pp_text(&p, a->ser_uri);
		res = pg_query(c, PG_SERIES_RESOLVE, &p);
		if (!res)
			return -EIO;
		for (int i = 0; i < PQntuples(res) && (size_t)i < a->n_series; i++) {
			if (strcmp(PQgetvalue(res, i, 2), "t") != 0) {
				a->unknown = a->series[i].process_id;
				PQclear(res);
				return -ENOENT;
			}
			if (PQgetisnull(res, i, 1))
				missing = true; /* created by a concurrent upload */
			else
				a->state[i].id = pg_get_i64(res, i, 1);
		}
		PQclear(res);
		if (!missing)
			return 0;
	}
	snprintf(c->err, sizeof(c->err), "series rows kept being created concurrently");
	return -EIO;
}

/* The raw INSERT; fills `set` with the pairs that were new. */
static int insert_raw(struct pg_conn *c, struct metrics_args *a, struct point_set *set)
{
	struct strbuf ser, times, values;
	struct pg_params p = {0};
	PGresult *res = NULL;
	char *s = NULL, *t = NULL, *v = NULL;
	int r = -ENOMEM;

	pga_open(&ser);
	pga_open(&times);
	pga_open(&values);
	for (size_t i = 0; i < a->n_points; i++) {
		pga_i64(&ser, a->state[a->points[i].series].id);
		pga_i64(&times, a->points[i].time_ms);
		pga_f64(&values, a->points[i].value);
	}
	pga_close(&ser);
	pga_close(&times);
	pga_close(&values);
	s = strbuf_steal(&ser);
	t = strbuf_steal(&times);
	v = strbuf_steal(&values);
	if (!s || !t || !v || set_init(set, a->n_points) < 0)
		goto out;
	pp_text(&p, s);
	pp_text(&p, t);
	pp_text(&p, v);
	res = pg_query(c, PG_RAW_INSERT, &p);
	r = res ? 0 : -EIO;
	for (int i = 0; res && i < PQntuples(res); i++)
		set_add(set, pg_get_i64(res, i, 0), pg_get_i64(res, i, 1));
	PQclear(res);
out:
	free(s);
	free(t);
	free(v);
	return r;
}

static int by_key_then_index(const void *pa, const void *pb, void *ctx)
{
	const struct rollup *rs = ctx;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;

	if (rs[a].series != rs[b].series)
		return rs[a].series < rs[b].series ? -1 : 1;
	if (rs[a].minute_ms != rs[b].minute_ms)
		return rs[a].minute_ms < rs[b].minute_ms ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* Upserts the rollups; a key that occurs k times goes out in k statements
 * (waves), in batch order, so additions happen in the SQLite order. */
static int upsert_rollups(struct pg_conn *c, struct rollup *rs, size_t n)
{
	size_t *order = calloc(n ? n : 1, sizeof(*order)), waves = 0;
	int r = 0;

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), by_key_then_index, rs);
	for (size_t k = 0; k < n; k++) {
		const struct rollup *prev = k ? &rs[order[k - 1]] : NULL;
		struct rollup *cur = &rs[order[k]];

		cur->wave = prev && prev->series == cur->series && prev->minute_ms == cur->minute_ms
				? prev->wave + 1
				: 0;
		if (cur->wave + 1 > waves)
			waves = cur->wave + 1;
	}
	free(order);
	for (size_t w = 0; r == 0 && w < waves; w++) {
		struct strbuf ser, min, sum, cnt, max;
		struct pg_params p = {0};
		char *v[5];

		pga_open(&ser);
		pga_open(&min);
		pga_open(&sum);
		pga_open(&cnt);
		pga_open(&max);
		for (size_t i = 0; i < n; i++) {
			if (rs[i].wave != w)
				continue;
			pga_i64(&ser, rs[i].series);
			pga_i64(&min, rs[i].minute_ms);
			pga_f64(&sum, rs[i].sum);
			pga_i64(&cnt, rs[i].count);
			pga_f64(&max, rs[i].max);
		}
		pga_close(&ser);
		pga_close(&min);
		pga_close(&sum);
		pga_close(&cnt);
		pga_close(&max);
		v[0] = strbuf_steal(&ser);
		v[1] = strbuf_steal(&min);
		v[2] = strbuf_steal(&sum);
		v[3] = strbuf_steal(&cnt);
		v[4] = strbuf_steal(&max);
		r = -ENOMEM;
		if (v[0] && v[1] && v[2] && v[3] && v[4]) {
			for (int i = 0; i < 5; i++)
				pp_text(&p, v[i]);
			r = pg_command(c, PG_MINUTE_UPSERT, &p, NULL);
		}
		for (int i = 0; i < 5; i++)
			free(v[i]);
	}
	return r;
}

static int update_latest(struct pg_conn *c, struct metrics_args *a)
{
	struct strbuf ids, times, values;
	struct pg_params p = {0};
	char *v[3];
	size_t n = 0;
	int r = -ENOMEM;

	pga_open(&ids);
	pga_open(&times);
	pga_open(&values);
	for (size_t i = 0; i < a->n_series; i++) {
		if (!a->state[i].seen)
			continue;
		pga_i64(&ids, a->state[i].id);
		pga_i64(&times, a->state[i].latest_ms);
		pga_f64(&values, a->state[i].latest_value);
		n++;
	}
	pga_close(&ids);
	pga_close(&times);
	pga_close(&values);
	v[0] = strbuf_steal(&ids);
	v[1] = strbuf_steal(&times);
	v[2] = strbuf_steal(&values);
	if (v[0] && v[1] && v[2]) {
		r = 0;
		if (n) {
			for (int i = 0; i < 3; i++)
				pp_text(&p, v[i]);
			r = pg_command(c, PG_SERIES_LATEST, &p, NULL);
		}
	}
	for (int i = 0; i < 3; i++)
		free(v[i]);
	return r;
}

static int op_add_metrics(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct metrics_args *a = arg;
	struct point_set set = {0};
	struct rollup *acc = NULL;
	size_t n_rollups = 0;
	int r;

	r = pg_ensure_partitions(be, c, &pg_part_raw, a->raw_parts, a->n_raw_parts, a->now_ms,
				 be->opts.raw_metrics_ms);
	if (r == 0)
		r = pg_ensure_partitions(be, c, &pg_part_minute, a->minute_parts, a->n_minute_parts,
					 a->now_ms, be->opts.minute_rollup_ms);
	if (r == 0)
		r = pg_begin(c);
	if (r < 0)
		return r;
	memset(a->state, 0, a->n_series * sizeof(*a->state));
	a->inserted = 0;
	r = resolve_series(c, a);
	if (r == 0 && a->n_points)
		r = insert_raw(c, a, &set);
	for (size_t i = 0; r == 0 && i < a->n_points; i++) {
		const struct store_metric_point *pt = &a->points[i];
		struct series_state *ss = &a->state[pt->series];
		int64_t minute = minute_of(pt->time_ms);

		if (!set_claim(&set, ss->id, pt->time_ms))
			continue; /* already stored: a retry */
		a->inserted++;
		if (!ss->seen || pt->time_ms >= ss->latest_ms) {
			ss->seen = true;
			ss->latest_ms = pt->time_ms;
			ss->latest_value = pt->value;
		}
		if (!acc || acc->series != ss->id || acc->minute_ms != minute) {
			acc = &a->rollups[n_rollups++];
			*acc = (struct rollup){
			    .series = ss->id, .minute_ms = minute, .max = pt->value};
		}
		acc->sum += pt->value;
		acc->count++;
		if (pt->value > acc->max)
			acc->max = pt->value;
	}
	free(set.keys);
	free(set.state);
	if (r == 0 && n_rollups)
		r = upsert_rollups(c, a->rollups, n_rollups);
	if (r == 0)
		r = update_latest(c, a);
	return r == 0 ? pg_commit(c) : r;
}

static void add_part(int64_t *parts, size_t *n, int64_t start)
{
	for (size_t i = 0; i < *n; i++)
		if (parts[i] == start)
			return;
	if (*n < PG_METRIC_PARTS_MAX)
		parts[(*n)++] = start; /* beyond: the DEFAULT partition takes them */
}

int pg_add_metrics(struct store_backend *be, const struct store_metric_series *series,
		   size_t n_series, const struct store_metric_point *points, size_t n_points,
		   int64_t now_ms, uint64_t *ret_inserted, const char **ret_unknown)
{
	struct metrics_args a = {.series = series,
				 .n_series = n_series,
				 .points = points,
				 .n_points = n_points,
				 .now_ms = now_ms};
	struct strbuf proc, mon, uri;
	int r = -ENOMEM;

	for (size_t i = 0; i < n_points; i++) {
		add_part(a.raw_parts, &a.n_raw_parts,
			 points[i].time_ms - points[i].time_ms % STORE_PG_HOUR_MS);
		add_part(a.minute_parts, &a.n_minute_parts,
			 points[i].time_ms - points[i].time_ms % STORE_PG_DAY_MS);
	}
	pga_open(&proc);
	pga_open(&mon);
	pga_open(&uri);
	for (size_t i = 0; i < n_series; i++) {
		pga_text(&proc, series[i].process_id, strlen(series[i].process_id));
		pga_text(&mon, series[i].monitor, strlen(series[i].monitor));
		pga_text(&uri, series[i].uri, strlen(series[i].uri));
	}
	pga_close(&proc);
	pga_close(&mon);
	pga_close(&uri);
	a.ser_process = strbuf_steal(&proc);
	a.ser_monitor = strbuf_steal(&mon);
	a.ser_uri = strbuf_steal(&uri);
	a.state = calloc(n_series ? n_series : 1, sizeof(*a.state));
	a.rollups = calloc(n_points ? n_points : 1, sizeof(*a.rollups));
	if (a.ser_process && a.ser_monitor && a.ser_uri && a.state && a.rollups)
		r = pg_run(be, "add metrics", op_add_metrics, &a);
	if (r == -ENOENT && ret_unknown)
		*ret_unknown = a.unknown;
	if (r == 0)
		*ret_inserted = a.inserted;
	free(a.ser_process);
	free(a.ser_monitor);
	free(a.ser_uri);
	free(a.state);
	free(a.rollups);
	return r;
}

struct history_args {
	const char *process_id, *monitor, *uri;
	int64_t from_ms, to_ms, now_ms;
	const struct store_page *page;
	json_t **ret;
};

static int op_metric_history(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct history_args *a = arg;
	bool raw = a->from_ms >= a->now_ms - be->opts.raw_metrics_ms;
	struct pg_params p = {0};
	PGresult *res;
	json_t *arr;
	int64_t series;

	pp_text(&p, a->process_id);
	res = pg_query(c, PG_PROCESS_EXISTS, &p);
	if (!res)
		return -EIO;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	PQclear(res);
	pp_text(&p, a->monitor);
	pp_text(&p, a->uri);
	res = pg_query(c, PG_SERIES_GET, &p);
	if (!res)
		return -EIO;
	arr = json_array();
	if (!arr) {
		PQclear(res);
		return -ENOMEM;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		*a->ret = arr; /* known process, no points yet */
		return 0;
	}
	series = pg_get_i64(res, 0, 0);
	PQclear(res);
	p.n = 0;
	pp_i64(&p, series);
	pp_i64(&p, raw ? a->from_ms : minute_of(a->from_ms));
	pp_i64(&p, a->to_ms);
	pp_i64(&p, a->page->limit);
	pp_i64(&p, (int64_t)a->page->offset);
	res = pg_query(c, raw ? PG_RAW_RANGE : PG_MINUTE_RANGE, &p);
	if (!res) {
		json_decref(arr);
		return -EIO;
	}
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(
		    arr,
		    raw ? json_pack("{s:I, s:f}", "time", (json_int_t)pg_get_i64(res, i, 0),
				    "value", pg_get_f64(res, i, 1))
			: json_pack("{s:I, s:f, s:f}", "time", (json_int_t)pg_get_i64(res, i, 0),
				    "value", pg_get_f64(res, i, 1), "max", pg_get_f64(res, i, 2)));
	PQclear(res);
	*a->ret = arr;
	return 0;
}

int pg_metric_history(struct store_backend *be, const char *process_id, const char *monitor,
		      const char *uri, int64_t from_ms, int64_t to_ms, int64_t now_ms,
		      const struct store_page *page, json_t **ret)
{
	struct history_args a = {.process_id = process_id,
				 .monitor = monitor,
				 .uri = uri,
				 .from_ms = from_ms,
				 .to_ms = to_ms,
				 .now_ms = now_ms,
				 .page = page,
				 .ret = ret};

	return pg_run(be, "metric history", op_metric_history, &a);
}

static int op_latest_query(struct store_backend *be, struct pg_conn *c, void *arg)
{
	PGresult **ret = arg;

	(void)be;
	*ret = pg_query(c, PG_SERIES_ALL_LATEST, NULL);
	return *ret ? 0 : -EIO;
}

int pg_latest_metrics(struct store_backend *be, store_latest_fn fn, void *ctx)
{
	PGresult *res = NULL;
	int r = pg_run(be, "latest metrics", op_latest_query, &res);

	/* Callbacks run after the query succeeded: a retry never repeats them. */
	for (int i = 0; r == 0 && i < PQntuples(res); i++)
		fn(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
		   PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
		   pg_get_f64(res, i, 6), pg_get_i64(res, i, 7), ctx);
	PQclear(res);
	return r;
}
