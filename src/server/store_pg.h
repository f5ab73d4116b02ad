/* store_pg (internal): what the PostgreSQL backend's files share — the
 * backend handle, the bounded connection pool, the statements by name,
 * parameter building and result reading, and the retrying runner every
 * operation goes through. Only store_pg*.c include this header; everyone
 * else uses store.h.
 *
 * Threading: an operation borrows one pooled connection for its whole
 * duration (pg_run); connections are never shared between threads. At most
 * STORE_PG_POOL_SIZE connections are open per backend handle; a caller waits
 * for a free one. The change listener (store_pg_listen.c) has its own
 * connection and thread.
 */
#ifndef CONTPROF_SERVER_STORE_PG_H
#define CONTPROF_SERVER_STORE_PG_H

#include <libpq-fe.h>
#include <pthread.h>

#include "core/strbuf.h"
#include "server/store.h"

#define STORE_PG_POOL_SIZE	    4	/* connections per backend handle */
#define STORE_PG_CONNECT_TIMEOUT    "5" /* seconds, libpq connect_timeout */
#define STORE_PG_RETRIES	    5	/* attempts of an operation after the first */
#define STORE_PG_RETRY_FIRST_MS	    100 /* then doubling, capped below */
#define STORE_PG_RETRY_MAX_MS	    1600
#define STORE_PG_ARRAY_MAX	    (256u << 20) /* longest array literal we build */
#define STORE_PG_LISTEN_RETRY_MS    1000	 /* listener reconnect delay */
#define STORE_PG_SYNC_POLL_MS	    1000	 /* safety poll of contprof_sync_state */
#define STORE_PG_SYNC_CHANNEL	    "contprof_sync"
#define STORE_PG_MIGRATION_LOCK	    7242017001LL       /* pg_advisory_lock key */
#define STORE_PG_PENDING_TIMEOUT_MS (10LL * 60 * 1000) /* as the SQLite backend */
#define STORE_PG_STACK_TOUCH_MS	    (3600LL * 1000)
#define STORE_PG_HOUR_MS	    (3600LL * 1000)
#define STORE_PG_DAY_MS		    (86400LL * 1000)
#define STORE_PG_MAX_PARTS	    512	       /* partitions remembered per backend */
#define STORE_PG_STACK_CACHE_SLOTS  (1u << 17) /* stack hash -> id cache */

enum pg_stmt {
	PG_POLICY_PUT,
	PG_POLICY_GET,
	PG_POLICY_DELETE,
	PG_SERVICES,
	PG_AGENT_UPSERT,
	PG_PROCESS_UPSERT,
	PG_PROCESS_GET,
	PG_PROCESS_LIST,
	PG_PROCESS_EXISTS,
	PG_SERIES_RESOLVE,
	PG_SERIES_GET,
	PG_SERIES_LATEST,
	PG_SERIES_ALL_LATEST,
	PG_RAW_INSERT,
	PG_MINUTE_UPSERT,
	PG_RAW_RANGE,
	PG_MINUTE_RANGE,
	PG_TASK_GET_SEQ,
	PG_TASK_INSERT,
	PG_TASK_START_PENDING,
	PG_TASK_FINISH,
	PG_TASK_GET,
	PG_TASK_LIST,
	PG_TASK_PENDING,
	PG_MON_PROCESSES,
	PG_MON_BY_PROCESS,
	PG_MON_BY_INSTANCE,
	PG_SLICE_INSERT,
	PG_TASK_ADD_STACK_STATS,
	PG_STACK_RESOLVE,
	PG_STACK_FIND,
	PG_STACK_INSERT,
	PG_STACK_TOUCH,
	PG_SAMPLES_INSERT,
	PG_FLAME,
	PG_TOPO_PUT,
	PG_TOPO_GET,
	PG_RET_TASKS,
	PG_RET_PROCESSES,
	PG_RET_SERIES,
	PG_RET_STACKS,
	PG_RET_AGENTS,
	PG_RET_PENDING,
	PG_TASK_FAIL_SILENT,
	PG_RET_RAW_DEFAULT,
	PG_RET_MINUTE_DEFAULT,
	PG_RET_SAMPLES_DEFAULT,
	PG_PARTITIONS,
	PG_STMT_COUNT
};

struct pg_conn {
	PGconn *conn;
	bool busy;
	bool prepared[PG_STMT_COUNT];
	char err[512];	  /* message of the last failure */
	char sqlstate[6]; /* of the last failure, "" when none */
};

/* A time-partitioned table (metrics_raw, metrics_minute, samples). */
struct pg_part_table {
	const char *name;
	int64_t width_ms; /* hour or day */
};
extern const struct pg_part_table pg_part_raw, pg_part_minute, pg_part_samples;

struct store_backend {
	char *conninfo;
	struct store_options opts;
	pthread_mutex_t lock; /* pool and partition cache */
	pthread_cond_t freed;
	struct pg_conn pool[STORE_PG_POOL_SIZE];
	/* Partitions known to exist: (table, start) pairs. */
	struct {
		const struct pg_part_table *table;
		int64_t start_ms;
	} parts[STORE_PG_MAX_PARTS];
	size_t n_parts;
	struct pg_listener *listener;
	/* Stacks known to exist (store_pg_profiles.c): salt-0 hash -> row id
	 * and the row's last_used_ms, under cache_lock. */
	pthread_mutex_t cache_lock;
	uint64_t *cache_hashes; /* 0: empty slot */
	int64_t *cache_ids, *cache_used_ms;
	size_t cache_mask, cache_count;
};

/* Parameters of one statement, all sent as text. Numbers are formatted into
 * the struct's own buffers; strings are borrowed. */
#define PG_MAX_PARAMS 16
struct pg_params {
	const char *v[PG_MAX_PARAMS];
	char num[PG_MAX_PARAMS][32];
	int n;
};
void pp_text(struct pg_params *p, const char *s); /* NULL -> SQL NULL */
void pp_i64(struct pg_params *p, int64_t v);
void pp_f64(struct pg_params *p, double v); /* round-trip exact */

/* Array literals ('{...}') built into a strbuf for unnest($n::T[]). */
void pga_open(struct strbuf *b);
void pga_i64(struct strbuf *b, int64_t v);
void pga_f64(struct strbuf *b, double v);
void pga_text(struct strbuf *b, const char *s, size_t len); /* quoted, escaped */
void pga_close(struct strbuf *b);

/* Runs prepared statement `id` (prepared on first use on this connection).
 * Returns the result (PQclear it) when it succeeded, or NULL with the
 * failure in c->err / c->sqlstate. */
PGresult *pg_query(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p);
/* Same for a statement returning no rows; *ret_rows (may be NULL) gets the
 * affected row count. 0 or -EIO. */
int pg_command(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p, uint64_t *ret_rows);
/* Runs a fixed SQL text without parameters (BEGIN, DDL). 0 or -EIO. */
int pg_exec(struct pg_conn *c, const char *sql);
int pg_begin(struct pg_conn *c);
int pg_commit(struct pg_conn *c);

int64_t pg_get_i64(const PGresult *res, int row, int col);
double pg_get_f64(const PGresult *res, int row, int col);
/* JSON value of a column: text parsed as JSON (NULL -> json null). */
json_t *pg_get_json(const PGresult *res, int row, int col);
json_t *pg_get_int_or_null(const PGresult *res, int row, int col);
json_t *pg_get_text_or_null(const PGresult *res, int row, int col);

/* One attempt of an operation on a borrowed connection: 0 or -errno. Must
 * be safe to run again from the start (pg_run retries it after a lost
 * connection, a serialization failure or a deadlock). */
typedef int (*pg_op_fn)(struct store_backend *be, struct pg_conn *c, void *arg);
/* Borrows a connection (connecting when needed), runs `fn`, rolls back what
 * it left open on failure, and retries retryable failures with backoff.
 * A final -EIO is logged once with `what` and the database's message. */
int pg_run(struct store_backend *be, const char *what, pg_op_fn fn, void *arg);

/* Opens a connection with the backend's settings; NULL with err filled. */
PGconn *pg_connect(const char *conninfo, char *err, size_t errlen);
/* Closes every pooled connection (none may be borrowed). */
void pg_pool_close(struct store_backend *be);
/* The statements' SQL, by name (store_pg.c). */
extern const char *const pg_stmt_sql[PG_STMT_COUNT];

/* --- schema and partitions (store_pg_schema.c) --- */
/* Applies the migrations not yet applied, under an advisory lock. */
int pg_migrate(PGconn *conn, char *err, size_t errlen);
/* Makes sure the partitions of `t` holding each of the `n` times exist
 * (outside any transaction). Times outside [now - keep, now + 1 day] go
 * to the default partition and create nothing. 0 or -EIO. */
int pg_ensure_partitions(struct store_backend *be, struct pg_conn *c, const struct pg_part_table *t,
			 const int64_t *times_ms, size_t n, int64_t now_ms, int64_t keep_ms);
/* Creates the partitions of the current and next hours and days. */
int pg_prepare_partitions(struct store_backend *be, struct pg_conn *c, int64_t now_ms);
int pg_retention(struct store_backend *be, int64_t now_ms, bool *ret_more);

/* --- change listener (store_pg_listen.c) --- */
int pg_watch(struct store_backend *be, store_change_fn fn, void *ctx);
void pg_unwatch(struct store_backend *be);

/* --- per-domain operations (store_pg_*.c) --- */
int pg_add_metrics(struct store_backend *be, const struct store_metric_series *series,
		   size_t n_series, const struct store_metric_point *points, size_t n_points,
		   int64_t now_ms, uint64_t *ret_inserted, const char **ret_unknown);
int pg_metric_history(struct store_backend *be, const char *process_id, const char *monitor,
		      const char *uri, int64_t from_ms, int64_t to_ms, int64_t now_ms,
		      const struct store_page *page, json_t **ret);
int pg_latest_metrics(struct store_backend *be, store_latest_fn fn, void *ctx);
int pg_add_task(struct store_backend *be, const struct store_task *task, int64_t now_ms);
int pg_fail_silent_tasks(struct store_backend *be, int64_t cutoff_ms, int64_t now_ms,
			 uint64_t *ret_closed);
int pg_finish_task(struct store_backend *be, const char *id, const char *status, const char *reason,
		   int64_t end_ms);
int pg_create_manual_task(struct store_backend *be, const char *process_id, const char *target,
			  uint32_t duration_s, int64_t now_ms, char **ret_id);
int pg_pending_tasks(struct store_backend *be, const char *agent_id, json_t **ret);
int pg_list_tasks(struct store_backend *be, const char *service, const char *process_id,
		  int64_t since_ms, const struct store_page *page, json_t **ret);
int pg_get_task(struct store_backend *be, const char *id, json_t **ret);
int pg_monitoring_summary(struct store_backend *be, const char *service, const char *target,
			  int64_t from_ms, int64_t to_ms, json_t **ret);
int pg_add_profile_slice(struct store_backend *be, const struct store_slice *slice,
			 bool *ret_duplicate);
int pg_load_flame_samples(struct store_backend *be, const char *task_id, int64_t from_ms,
			  int64_t to_ms, store_stack_fn fn, void *ctx);
int pg_put_topology(struct store_backend *be, const char *task_id, const json_t *doc,
		    int64_t now_ms);
int pg_get_topology(struct store_backend *be, const char *task_id, json_t **ret);
/* Task row (seq, start_ms) for an id on a borrowed connection: 0, -ENOENT
 * or -EIO. */
int pg_task_seq(struct pg_conn *c, const char *id, int64_t *ret_seq, int64_t *ret_start_ms);
/* The stack cache's memory: 0 or -ENOMEM; free accepts a half-built one. */
int pg_stack_cache_init(struct store_backend *be);
void pg_stack_cache_free(struct store_backend *be);

#endif
