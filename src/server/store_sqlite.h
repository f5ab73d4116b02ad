/* store_sqlite (internal): what the SQLite backend's files share — the
 * handle, the prepared statements by name, and small step/bind helpers.
 * Only store_sqlite*.c include this header; everyone else uses store.h.
 *
 * Locking: one connection, one mutex. Every backend operation takes
 * `be->lock` for its whole duration (retention releases it between
 * batches), so statements are never used by two threads at once.
 */
#ifndef CONTPROF_SERVER_STORE_SQLITE_H
#define CONTPROF_SERVER_STORE_SQLITE_H

#include <pthread.h>
#include <sqlite3.h>

#include "server/store.h"

enum sq_stmt {
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_POLICY_PUT,
	SQ_POLICY_GET,
	SQ_POLICY_DELETE,
	SQ_SERVICES,
	SQ_AGENT_UPSERT,
	SQ_PROCESS_UPSERT,
	SQ_PROCESS_GET,
	SQ_PROCESS_LIST,
	SQ_PROCESS_EXISTS,
	SQ_SERIES_GET,
	SQ_SERIES_INSERT,
	SQ_SERIES_LATEST,
	SQ_SERIES_ALL_LATEST,
	SQ_RAW_INSERT,
	SQ_MINUTE_UPSERT,
	SQ_RAW_RANGE,
	SQ_MINUTE_RANGE,
	SQ_TASK_GET_SEQ,
	SQ_TASK_INSERT,
	SQ_TASK_START_PENDING,
	SQ_TASK_FINISH,
	SQ_TASK_GET,
	SQ_TASK_LIST,
	SQ_TASK_PENDING,
	SQ_MON_PROCESSES,
	SQ_MON_BY_PROCESS,
	SQ_MON_BY_INSTANCE,
	SQ_SLICE_INSERT,
	SQ_TASK_ADD_STACK_STATS,
	SQ_STACK_FIND,
	SQ_STACK_INSERT,
	SQ_STACK_TOUCH,
	SQ_SAMPLE_UPSERT,
	SQ_FLAME,
	SQ_TOPO_PUT,
	SQ_TOPO_GET,
	SQ_RET_SERIES_CHUNK,
	SQ_RET_RAW,
	SQ_RET_MINUTE,
	SQ_RET_TASK_OLDEST,
	SQ_RET_SAMPLES,
	SQ_RET_SLICES,
	SQ_RET_TOPO,
	SQ_RET_TASK,
	SQ_RET_PROCESSES,
	SQ_RET_SERIES,
	SQ_RET_STACKS,
	SQ_RET_AGENTS,
	SQ_RET_PENDING,
	SQ_TASK_FAIL_SILENT,
	SQ_COUNT
};

/* Open-addressing cache of stack hash -> stack row id (see
 * store_sqlite_profiles.c); cleared whenever stacks are deleted. */
struct sq_stack_cache {
	uint64_t *hashes; /* 0: empty */
	int64_t *ids;
	size_t mask;
	size_t used;
};

struct store_backend {
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ_COUNT];
	pthread_mutex_t lock;
	struct store_options opts;
	struct sq_stack_cache stacks;
	int64_t retention_series_cursor;
};

/* Logs the database's message for a failed `what` and returns -ENOSPC
 * (disk full) or -EIO. */
int sq_fail(struct store_backend *be, const char *what);
/* Binds a string, or NULL when s is NULL. */
int sq_bind_text(sqlite3_stmt *s, int idx, const char *text);
/* Steps a statement that returns no row, then resets it. 0 or -EIO. */
int sq_exec(struct store_backend *be, enum sq_stmt id);
/* Resets and clears bindings of a statement; returns it. */
sqlite3_stmt *sq_stmt(struct store_backend *be, enum sq_stmt id);
int sq_begin(struct store_backend *be);
int sq_commit(struct store_backend *be);
void sq_rollback(struct store_backend *be);
/* Column as a new JSON value: text parsed as JSON (NULL column -> null). */
json_t *sq_col_json(sqlite3_stmt *s, int col);
/* Integer column or JSON null when the column is NULL. */
json_t *sq_col_int_or_null(sqlite3_stmt *s, int col);
json_t *sq_col_text_or_null(sqlite3_stmt *s, int col);

/* Per-domain operations (store_sqlite_*.c). */
int sq_add_metrics(struct store_backend *be, const struct store_metric_series *series,
		   size_t n_series, const struct store_metric_point *points, size_t n_points,
		   int64_t now_ms, uint64_t *ret_inserted, const char **ret_unknown);
int sq_metric_history(struct store_backend *be, const char *process_id, const char *monitor,
		      const char *uri, int64_t from_ms, int64_t to_ms, int64_t now_ms,
		      const struct store_page *page, json_t **ret);
int sq_latest_metrics(struct store_backend *be, store_latest_fn fn, void *ctx);
int sq_add_task(struct store_backend *be, const struct store_task *task, int64_t now_ms);
int sq_fail_silent_tasks(struct store_backend *be, int64_t cutoff_ms, int64_t now_ms,
			 uint64_t *ret_closed);
int sq_finish_task(struct store_backend *be, const char *id, const char *status, const char *reason,
		   int64_t end_ms);
int sq_create_manual_task(struct store_backend *be, const char *process_id, const char *target,
			  uint32_t duration_s, int64_t now_ms, char **ret_id);
int sq_pending_tasks(struct store_backend *be, const char *agent_id, json_t **ret);
int sq_list_tasks(struct store_backend *be, const char *service, const char *process_id,
		  int64_t since_ms, const struct store_page *page, json_t **ret);
int sq_get_task(struct store_backend *be, const char *id, json_t **ret);
int sq_monitoring_summary(struct store_backend *be, const char *service, const char *target,
			  int64_t from_ms, int64_t to_ms, json_t **ret);
int sq_add_profile_slice(struct store_backend *be, const struct store_slice *slice,
			 bool *ret_duplicate);
int sq_load_flame_samples(struct store_backend *be, const char *task_id, int64_t from_ms,
			  int64_t to_ms, store_stack_fn fn, void *ctx);
int sq_put_topology(struct store_backend *be, const char *task_id, const json_t *doc,
		    int64_t now_ms);
int sq_get_topology(struct store_backend *be, const char *task_id, json_t **ret);
/* Task row sequence for an id: 0, -ENOENT or -EIO. Caller holds the lock. */
int sq_task_seq(struct store_backend *be, const char *id, int64_t *ret_seq);

int sq_stack_cache_init(struct sq_stack_cache *c, size_t capacity_pow2);
void sq_stack_cache_clear(struct sq_stack_cache *c);
void sq_stack_cache_free(struct sq_stack_cache *c);

#define STORE_PENDING_TIMEOUT_MS (10LL * 60 * 1000) /* manual task not picked up */
#define STORE_STACK_TOUCH_MS	 (3600LL * 1000)    /* refresh stacks.last_used */
#define STORE_STACK_CACHE_SLOTS	 (1u << 18)

#endif
