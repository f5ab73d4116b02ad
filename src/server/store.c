/* store: dispatch from the store URL to a backend, and the latency
 * histogram of every call. The domain logic lives in the backends
 * (store_sqlite*.c); this file only forwards and times.
 *
 * A backend is opened twice on the same path: one handle for writes and one
 * for queries, so a long query (a flame graph) never waits behind ingest and
 * ingest never waits behind it (SQLite's WAL lets one writer and readers run
 * at once). Every write commits before returning, so a query issued after a
 * write sees it. A pooled backend (PostgreSQL) gets one handle: its pool
 * already runs queries beside writes. */
#include "server/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const double store_latency_bounds_s[STORE_LATENCY_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
							      0.025,  0.05,  0.1,    0.25,  1.0};

static const struct store_ops *const backends[] = {&store_sqlite_ops, &store_pg_ops,
						   &store_postgres_ops};

struct store {
	const struct store_ops *ops;
	struct store_backend *be; /* writes, and reads that must see them at once */
	struct store_backend *rd; /* queries; == be for an in-memory database */
	pthread_mutex_t latency_lock;
	struct store_latency latency[STORE_OP_COUNT];
};

void store_options_default(struct store_options *opts)
{
	opts->raw_metrics_ms = STORE_DEFAULT_RAW_METRICS_MS;
	opts->minute_rollup_ms = STORE_DEFAULT_MINUTE_ROLLUP_MS;
	opts->tasks_ms = STORE_DEFAULT_TASKS_MS;
	opts->processes_ms = STORE_DEFAULT_PROCESSES_MS;
	opts->retention_batch_rows = STORE_RETENTION_BATCH_ROWS;
	opts->agent_silence_ms = STORE_DEFAULT_AGENT_SILENCE_MS;
}

const char *store_op_name(enum store_op op)
{
	static const char *const names[STORE_OP_COUNT] = {
	    "policy", "processes", "metrics", "tasks", "profiles", "query", "retention"};
	return op < STORE_OP_COUNT ? names[op] : "unknown";
}

struct store *store_open(const char *url, const struct store_options *opts, char *err,
			 size_t errlen)
{
	const char *colon = strchr(url, ':');
	struct store *st;

	if (!colon) {
		snprintf(err, errlen,
			 "store URL '%s' has no scheme (expected sqlite:PATH or postgresql://...)",
			 url);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		const struct store_ops *ops = backends[i];

		if (strlen(ops->scheme) != (size_t)(colon - url) ||
		    strncmp(ops->scheme, url, (size_t)(colon - url)) != 0)
			continue;
		st = calloc(1, sizeof(*st));
		if (!st) {
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		st->ops = ops;
		pthread_mutex_init(&st->latency_lock, NULL);
		st->be = ops->open(colon + 1, opts, err, errlen);
		if (st->be && !ops->pooled && strcmp(colon + 1, ":memory:") != 0)
			st->rd = ops->open(colon + 1, opts, err, errlen);
		else
			st->rd = st->be;
		if (!st->be || !st->rd)
			return store_close(st);
		return st;
	}
	snprintf(err, errlen,
		 "unsupported store '%.*s:' (this build knows sqlite:PATH and postgresql://...)",
		 (int)(colon - url), url);
	return NULL;
}

struct store *store_close(struct store *st)
{
	if (!st)
		return NULL;
	if (st->rd && st->rd != st->be)
		st->ops->close(st->rd);
	if (st->be)
		st->ops->close(st->be);
	pthread_mutex_destroy(&st->latency_lock);
	free(st);
	return NULL;
}

int store_watch(struct store *st, store_change_fn fn, void *ctx)
{
	return st->ops->watch ? st->ops->watch(st->be, fn, ctx) : 0;
}

void store_unwatch(struct store *st)
{
	if (st && st->be && st->ops->unwatch)
		st->ops->unwatch(st->be);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void record(struct store *st, enum store_op op, int64_t start_ns)
{
	double s = (double)(mono_ns() - start_ns) / 1e9;
	struct store_latency *l = &st->latency[op];

	pthread_mutex_lock(&st->latency_lock);
	for (int i = 0; i < STORE_LATENCY_BUCKETS; i++)
		if (s <= store_latency_bounds_s[i])
			l->buckets[i]++;
	l->count++;
	l->sum_s += s;
	pthread_mutex_unlock(&st->latency_lock);
}

void store_latency_snapshot(struct store *st, enum store_op op, struct store_latency *ret)
{
	pthread_mutex_lock(&st->latency_lock);
	*ret = st->latency[op];
	pthread_mutex_unlock(&st->latency_lock);
}

/* Forwards one call to the backend and records its latency under `op`. */
#define TIMED(op, call)                                                                            \
	do {                                                                                       \
		int64_t t0_ = mono_ns();                                                           \
		int r_ = st->ops->call;                                                            \
		record(st, (op), t0_);                                                             \
		return r_;                                                                         \
	} while (0)

int store_put_policy(struct store *st, const char *service, const char *version, const char *doc,
		     int64_t now_ms)
{
	TIMED(STORE_OP_POLICY, put_policy(st->be, service, version, doc, now_ms));
}

int store_get_policy(struct store *st, const char *service, char **ret_doc, char ret_version[65])
{
	TIMED(STORE_OP_POLICY, get_policy(st->rd, service, ret_doc, ret_version));
}

int store_delete_policy(struct store *st, const char *service)
{
	TIMED(STORE_OP_POLICY, delete_policy(st->be, service));
}

int store_list_services(struct store *st, json_t **ret)
{
	TIMED(STORE_OP_QUERY, list_services(st->rd, ret));
}

int store_upsert_processes(struct store *st, const char *agent_id, const char *host,
			   const struct store_process *procs, size_t n, int64_t now_ms)
{
	TIMED(STORE_OP_PROCESSES, upsert_processes(st->be, agent_id, host, procs, n, now_ms));
}

int store_list_processes(struct store *st, const char *service, const struct store_page *page,
			 json_t **ret)
{
	TIMED(STORE_OP_QUERY, list_processes(st->rd, service, page, ret));
}

int store_get_process(struct store *st, const char *id, json_t **ret)
{
	TIMED(STORE_OP_QUERY, get_process(st->rd, id, ret));
}

int store_add_metrics(struct store *st, const struct store_metric_series *series, size_t n_series,
		      const struct store_metric_point *points, size_t n_points, int64_t now_ms,
		      uint64_t *ret_inserted, const char **ret_unknown)
{
	TIMED(STORE_OP_METRICS, add_metrics(st->be, series, n_series, points, n_points, now_ms,
					    ret_inserted, ret_unknown));
}

int store_metric_history(struct store *st, const char *process_id, const char *monitor,
			 const char *uri, int64_t from_ms, int64_t to_ms, int64_t now_ms,
			 const struct store_page *page, json_t **ret)
{
	TIMED(STORE_OP_QUERY,
	      metric_history(st->rd, process_id, monitor, uri, from_ms, to_ms, now_ms, page, ret));
}

int store_latest_metrics(struct store *st, store_latest_fn fn, void *ctx)
{
	TIMED(STORE_OP_QUERY, latest_metrics(st->rd, fn, ctx));
}

int store_add_task(struct store *st, const struct store_task *task, int64_t now_ms)
{
	TIMED(STORE_OP_TASKS, add_task(st->be, task, now_ms));
}

int store_finish_task(struct store *st, const char *id, const char *status, const char *reason,
		      int64_t end_ms)
{
	TIMED(STORE_OP_TASKS, finish_task(st->be, id, status, reason, end_ms));
}

int store_create_manual_task(struct store *st, const char *process_id, const char *target,
			     uint32_t duration_s, int64_t now_ms, char **ret_id)
{
	TIMED(STORE_OP_TASKS,
	      create_manual_task(st->be, process_id, target, duration_s, now_ms, ret_id));
}

int store_pending_tasks(struct store *st, const char *agent_id, json_t **ret)
{
	TIMED(STORE_OP_TASKS, pending_tasks(st->rd, agent_id, ret));
}

int store_list_tasks(struct store *st, const char *service, const char *process_id,
		     int64_t since_ms, const struct store_page *page, json_t **ret)
{
	TIMED(STORE_OP_QUERY, list_tasks(st->rd, service, process_id, since_ms, page, ret));
}

int store_get_task(struct store *st, const char *id, json_t **ret)
{
	TIMED(STORE_OP_QUERY, get_task(st->rd, id, ret));
}

int store_monitoring_summary(struct store *st, const char *service, const char *target,
			     int64_t from_ms, int64_t to_ms, json_t **ret)
{
	TIMED(STORE_OP_QUERY, monitoring_summary(st->rd, service, target, from_ms, to_ms, ret));
}

int store_add_profile_slice(struct store *st, const struct store_slice *slice, bool *ret_duplicate)
{
	TIMED(STORE_OP_PROFILES, add_profile_slice(st->be, slice, ret_duplicate));
}

int store_load_flame_samples(struct store *st, const char *task_id, int64_t from_ms, int64_t to_ms,
			     store_stack_fn fn, void *ctx)
{
	TIMED(STORE_OP_QUERY, load_flame_samples(st->rd, task_id, from_ms, to_ms, fn, ctx));
}

int store_put_topology(struct store *st, const char *task_id, const json_t *doc, int64_t now_ms)
{
	TIMED(STORE_OP_PROFILES, put_topology(st->be, task_id, doc, now_ms));
}

int store_get_topology(struct store *st, const char *task_id, json_t **ret)
{
	TIMED(STORE_OP_QUERY, get_topology(st->rd, task_id, ret));
}

int store_fail_silent_tasks(struct store *st, int64_t cutoff_ms, int64_t now_ms,
			    uint64_t *ret_closed)
{
	TIMED(STORE_OP_RETENTION, fail_silent_tasks(st->be, cutoff_ms, now_ms, ret_closed));
}

int store_retention(struct store *st, int64_t now_ms, bool *ret_more)
{
	TIMED(STORE_OP_RETENTION, retention(st->be, now_ms, ret_more));
}
