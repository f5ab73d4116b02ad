/* store_sqlite_metrics: per-second metric points and their minute rollups
 * in the SQLite backend.
 *
 * A series is one (process, monitor, URI filter); raw points are keyed by
 * (series, second) so a retried upload inserts nothing twice, and only
 * points that were new feed the minute rollup (sum, count, max) — the
 * rollup therefore never double counts either. The newest value of every
 * series is kept on the series row for /metrics.
 */
#include "server/store_sqlite.h"

#include <errno.h>
#include <stdlib.h>

/* Finds or creates the series row; -ENOENT when the process is unknown.
 * Caller holds the lock inside a transaction. */
static int series_resolve(struct store_backend *be, const struct store_metric_series *ser,
			  int64_t *ret_id)
{
	sqlite3_stmt *s = sq_stmt(be, SQ_SERIES_GET);
	int rc;

	sq_bind_text(s, 1, ser->process_id);
	sq_bind_text(s, 2, ser->monitor);
	sq_bind_text(s, 3, ser->uri);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret_id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return sq_fail(be, "find series");

	s = sq_stmt(be, SQ_PROCESS_EXISTS);
	sq_bind_text(s, 1, ser->process_id);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return sq_fail(be, "find process");

	s = sq_stmt(be, SQ_SERIES_INSERT);
	sq_bind_text(s, 1, ser->process_id);
	sq_bind_text(s, 2, ser->monitor);
	sq_bind_text(s, 3, ser->uri);
	rc = sq_exec(be, SQ_SERIES_INSERT);
	if (rc < 0)
		return rc;
	*ret_id = sqlite3_last_insert_rowid(be->db);
	return 0;
}

struct minute_acc {
	int64_t series;
	int64_t minute_ms;
	double sum, max;
	int64_t count;
};

static int minute_flush(struct store_backend *be, struct minute_acc *acc)
{
	sqlite3_stmt *s;

	if (acc->count == 0)
		return 0;
	s = sq_stmt(be, SQ_MINUTE_UPSERT);
	sqlite3_bind_int64(s, 1, acc->series);
	sqlite3_bind_int64(s, 2, acc->minute_ms);
	sqlite3_bind_double(s, 3, acc->sum);
	sqlite3_bind_int64(s, 4, acc->count);
	sqlite3_bind_double(s, 5, acc->max);
	acc->count = 0;
	return sq_exec(be, SQ_MINUTE_UPSERT);
}

static int64_t minute_of(int64_t time_ms)
{
	int64_t m = time_ms / STORE_MINUTE_MS;

	if (time_ms < 0 && time_ms % STORE_MINUTE_MS)
		m--;
	return m * STORE_MINUTE_MS;
}

struct series_state {
	int64_t id;
	int64_t latest_ms;
	double latest_value;
	bool seen;
};

/* Inserts the points and feeds the rollups; caller holds lock and txn. */
static int insert_points(struct store_backend *be, struct series_state *state,
			 const struct store_metric_point *points, size_t n_points,
			 uint64_t *inserted)
{
	struct minute_acc acc = {0};
	int r = 0;

	for (size_t i = 0; i < n_points; i++) {
		const struct store_metric_point *p = &points[i];
		struct series_state *ss = &state[p->series];
		sqlite3_stmt *s = sq_stmt(be, SQ_RAW_INSERT);
		int64_t minute = minute_of(p->time_ms);

		sqlite3_bind_int64(s, 1, ss->id);
		sqlite3_bind_int64(s, 2, p->time_ms);
		sqlite3_bind_double(s, 3, p->value);
		r = sq_exec(be, SQ_RAW_INSERT);
		if (r < 0)
			return r;
		if (sqlite3_changes(be->db) == 0)
			continue; /* already stored: a retry */
		(*inserted)++;
		if (!ss->seen || p->time_ms >= ss->latest_ms) {
			ss->seen = true;
			ss->latest_ms = p->time_ms;
			ss->latest_value = p->value;
		}
		if (acc.count && (acc.series != ss->id || acc.minute_ms != minute)) {
			r = minute_flush(be, &acc);
			if (r < 0)
				return r;
		}
		if (acc.count == 0) {
			acc.series = ss->id;
			acc.minute_ms = minute;
			acc.sum = 0;
			acc.max = p->value;
		}
		acc.sum += p->value;
		acc.count++;
		if (p->value > acc.max)
			acc.max = p->value;
	}
	return minute_flush(be, &acc);
}

int sq_add_metrics(struct store_backend *be, const struct store_metric_series *series,
		   size_t n_series, const struct store_metric_point *points, size_t n_points,
		   int64_t now_ms, uint64_t *ret_inserted, const char **ret_unknown)
{
	struct series_state *state = calloc(n_series ? n_series : 1, sizeof(*state));
	uint64_t inserted = 0;
	int r;

	(void)now_ms;
	if (!state)
		return -ENOMEM;
	pthread_mutex_lock(&be->lock);
	r = sq_begin(be);
	for (size_t i = 0; r == 0 && i < n_series; i++) {
		r = series_resolve(be, &series[i], &state[i].id);
		if (r == -ENOENT && ret_unknown)
			*ret_unknown = series[i].process_id;
	}
	if (r == 0)
		r = insert_points(be, state, points, n_points, &inserted);
	for (size_t i = 0; r == 0 && i < n_series; i++) {
		sqlite3_stmt *s;

		if (!state[i].seen)
			continue;
		s = sq_stmt(be, SQ_SERIES_LATEST);
		sqlite3_bind_int64(s, 1, state[i].id);
		sqlite3_bind_int64(s, 2, state[i].latest_ms);
		sqlite3_bind_double(s, 3, state[i].latest_value);
		r = sq_exec(be, SQ_SERIES_LATEST);
	}
	if (r == 0)
		r = sq_commit(be);
	if (r < 0)
		sq_rollback(be);
	pthread_mutex_unlock(&be->lock);
	free(state);
	if (r == 0)
		*ret_inserted = inserted;
	return r;
}

int sq_metric_history(struct store_backend *be, const char *process_id, const char *monitor,
		      const char *uri, int64_t from_ms, int64_t to_ms, int64_t now_ms,
		      const struct store_page *page, json_t **ret)
{
	bool raw = from_ms >= now_ms - be->opts.raw_metrics_ms;
	json_t *arr = json_array();
	sqlite3_stmt *s;
	int64_t series;
	int rc, r = 0;

	if (!arr)
		return -ENOMEM;
	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_PROCESS_EXISTS);
	sq_bind_text(s, 1, process_id);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : sq_fail(be, "find process");
		goto out;
	}
	s = sq_stmt(be, SQ_SERIES_GET);
	sq_bind_text(s, 1, process_id);
	sq_bind_text(s, 2, monitor);
	sq_bind_text(s, 3, uri);
	rc = sqlite3_step(s);
	series = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		goto out; /* known process, no points yet */
	if (rc != SQLITE_ROW) {
		r = sq_fail(be, "find series");
		goto out;
	}
	s = sq_stmt(be, raw ? SQ_RAW_RANGE : SQ_MINUTE_RANGE);
	sqlite3_bind_int64(s, 1, series);
	sqlite3_bind_int64(s, 2, raw ? from_ms : minute_of(from_ms));
	sqlite3_bind_int64(s, 3, to_ms);
	sqlite3_bind_int64(s, 4, page->limit);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)page->offset);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *row =
		    raw ? json_pack("{s:I, s:f}", "time", (json_int_t)sqlite3_column_int64(s, 0),
				    "value", sqlite3_column_double(s, 1))
			: json_pack("{s:I, s:f, s:f}", "time",
				    (json_int_t)sqlite3_column_int64(s, 0), "value",
				    sqlite3_column_double(s, 1), "max",
				    sqlite3_column_double(s, 2));
		json_array_append_new(arr, row);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		r = sq_fail(be, "metric history");
out:
	pthread_mutex_unlock(&be->lock);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*ret = arr;
	return 0;
}

int sq_latest_metrics(struct store_backend *be, store_latest_fn fn, void *ctx)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_SERIES_ALL_LATEST);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
		   (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3),
		   (const char *)sqlite3_column_text(s, 4), (const char *)sqlite3_column_text(s, 5),
		   sqlite3_column_double(s, 6), sqlite3_column_int64(s, 7), ctx);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		rc = sq_fail(be, "latest metrics");
	pthread_mutex_unlock(&be->lock);
	return rc == SQLITE_DONE ? 0 : -EIO;
}
