/* store: the server's storage seam — domain functions over policies,
 * processes, metrics, tasks, profiles and topologies.
 *
 * Owns: the interface every backend implements (SQLite today, PostgreSQL
 * next) as a table of operations, the dispatch from a store URL
 * ("sqlite:PATH") to a backend, and the latency bookkeeping of every call
 * (read by /metrics). Does not own: HTTP, JSON request validation (callers
 * hand in checked values), policy validation (core/policy.h).
 *
 * Threading: every function may be called from any thread; a backend
 * serializes what it must. Functions return 0 or -errno: -ENOENT for an
 * unknown id, -EINVAL for a value the store refuses, -EIO for a database
 * failure (logged once by the backend with the database's message), -ENOMEM.
 * Query results come back as new jansson references in the API's own shape
 * (section 7 of DESIGN.md), so a backend answers queries without the HTTP
 * layer re-shaping rows. Times are Unix milliseconds.
 */
#ifndef CONTPROF_SERVER_STORE_H
#define CONTPROF_SERVER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Retention defaults (all configurable through struct store_options). */
#define STORE_DEFAULT_RAW_METRICS_MS   (3600LL * 1000)	    /* 1 h */
#define STORE_DEFAULT_MINUTE_ROLLUP_MS (7LL * 86400 * 1000) /* 7 d */
#define STORE_DEFAULT_TASKS_MS	       (7LL * 86400 * 1000) /* 7 d, profiles too */
#define STORE_DEFAULT_PROCESSES_MS     (7LL * 86400 * 1000) /* unseen processes */
#define STORE_RETENTION_BATCH_ROWS     2000		    /* rows per delete */
/* A RUNNING task whose agent sent no keepalive for this long is closed FAILED
 * with STORE_SILENT_REASON (0: never). */
#define STORE_DEFAULT_AGENT_SILENCE_MS (10LL * 60 * 1000) /* 10 min */
#define STORE_SILENT_REASON	       "agent went silent"
#define STORE_MINUTE_MS		       60000LL

struct store_options {
	int64_t raw_metrics_ms;
	int64_t minute_rollup_ms;
	int64_t tasks_ms;
	int64_t processes_ms;
	uint32_t retention_batch_rows;
	int64_t agent_silence_ms;
};

void store_options_default(struct store_options *opts);

/* Paging of every listing: at most `limit` rows starting at `offset`. */
struct store_page {
	uint32_t limit;
	uint64_t offset;
};

struct store_process {
	const char *id; /* chosen by the agent, unique over the fleet */
	const char *service;
	const char *instance;
	const char *name;
	int64_t pid;
	const json_t *labels; /* object of strings, or NULL */
};

struct store_metric_point {
	uint32_t series; /* index into the batch's series array */
	int64_t time_ms;
	double value;
};

struct store_metric_series {
	const char *process_id;
	const char *monitor;
	const char *uri; /* "" when the monitor has no URI filter */
};

struct store_task {
	const char *id;
	const char *process_id; /* NULL for an instance-wide (NETWORK) task */
	const char *service;	/* required when process_id is NULL */
	const char *instance;	/* required when process_id is NULL */
	const char *target;	/* ON_CPU, OFF_CPU, NETWORK */
	const char *trigger;	/* POLICY or MANUAL */
	const json_t *cause;	/* object, or NULL */
	int64_t start_ms;
	uint32_t duration_s; /* planned */
	const char *agent_id;
};

struct store_stack {
	const char *folded; /* "root;child;leaf", not NUL-terminated */
	size_t len;
	uint64_t count;
	uint64_t duration_ns;
};

/* A slice's totals as the agent counted them: samples (OFF_CPU: blocks),
 * those whose user stack looks truncated, those lost; truncated and lost are
 * each <= samples (the caller checks). */
struct store_stack_stats {
	uint64_t samples;
	uint64_t truncated;
	uint64_t lost;
};

struct store_slice {
	const char *task_id;
	int64_t slice; /* the agent's slice number within the task */
	int64_t start_ms;
	int64_t end_ms;
	const struct store_stack *stacks;
	size_t n_stacks;
	const struct store_stack_stats *stats; /* NULL: the agent sent none */
};

/* Called once per distinct stack of a flame query; `folded` is borrowed. */
typedef int (*store_stack_fn)(const char *folded, size_t len, uint64_t count, uint64_t duration_ns,
			      void *ctx);
/* Called once per process metric series with its newest value. */
typedef void (*store_latest_fn)(const char *service, const char *instance, const char *process,
				const char *process_id, const char *monitor, const char *uri,
				double value, int64_t time_ms, void *ctx);

enum store_op {
	STORE_OP_POLICY,
	STORE_OP_PROCESSES,
	STORE_OP_METRICS,
	STORE_OP_TASKS,
	STORE_OP_PROFILES,
	STORE_OP_QUERY,
	STORE_OP_RETENTION,
	STORE_OP_COUNT
};

/* Latency histogram of one class of store calls (seconds buckets). */
#define STORE_LATENCY_BUCKETS 10
struct store_latency {
	uint64_t buckets[STORE_LATENCY_BUCKETS]; /* cumulative counts per le */
	uint64_t count;
	double sum_s;
};
extern const double store_latency_bounds_s[STORE_LATENCY_BUCKETS];
const char *store_op_name(enum store_op op);

struct store;

/* Opens the store named by `url` ("sqlite:PATH", PATH is created; or
 * "postgresql://user@host:port/db", also "postgres://", the schema is
 * created and migrated). Returns the store or NULL, with a readable reason
 * in `err` (errlen bytes). */
struct store *store_open(const char *url, const struct store_options *opts, char *err,
			 size_t errlen);
/* Closes and frees; accepts NULL; returns NULL. */
struct store *store_close(struct store *st);

/* Copies the latency histogram of `op` (thread-safe snapshot). */
void store_latency_snapshot(struct store *st, enum store_op op, struct store_latency *ret);

/* Called, from a thread of the backend, when policies or pending manual
 * tasks may have changed in a way this process did not write itself —
 * another server sharing the store wrote them, or the backend lost track
 * (reconnected) and cannot tell. Must be quick and thread-safe. */
typedef void (*store_change_fn)(void *ctx);
/* Starts watching for such changes (PostgreSQL: LISTEN on a dedicated
 * connection). A backend no other process can share (SQLite) does nothing
 * and returns 0. One watcher per store; 0 or -errno. */
int store_watch(struct store *st, store_change_fn fn, void *ctx);
/* Stops the watcher and joins its thread: fn is not called after this
 * returns. Safe when none was started. */
void store_unwatch(struct store *st);

/* --- policies --- */
/* Stores the canonical document `doc` with its version for `service`. */
int store_put_policy(struct store *st, const char *service, const char *version, const char *doc,
		     int64_t now_ms);
/* *ret_doc (malloc'd canonical JSON) and ret_version; -ENOENT when none. */
int store_get_policy(struct store *st, const char *service, char **ret_doc, char ret_version[65]);
int store_delete_policy(struct store *st, const char *service);
/* [{name, policy_version|null, processes, last_seen|null}] sorted by name:
 * every service with a policy or a process. */
int store_list_services(struct store *st, json_t **ret);

/* --- agents and processes --- */
/* Records the agent's keepalive and upserts its processes (last_seen=now). */
int store_upsert_processes(struct store *st, const char *agent_id, const char *host,
			   const struct store_process *procs, size_t n, int64_t now_ms);
/* [{id, service, instance, name, pid, host, labels, last_seen}] by service,
 * instance, name; service may be NULL (all). */
int store_list_processes(struct store *st, const char *service, const struct store_page *page,
			 json_t **ret);
/* One process object; -ENOENT when unknown. */
int store_get_process(struct store *st, const char *id, json_t **ret);

/* --- metrics --- */
/* Inserts a batch in one transaction: raw points (a point already stored
 * for the same series and second is ignored, so retries never double count)
 * and their minute rollups. Every process id must be known: -ENOENT and no
 * write otherwise, with the first unknown id in *ret_unknown (borrowed:
 * points into `series`). *ret_inserted counts new points. */
int store_add_metrics(struct store *st, const struct store_metric_series *series, size_t n_series,
		      const struct store_metric_point *points, size_t n_points, int64_t now_ms,
		      uint64_t *ret_inserted, const char **ret_unknown);
/* [{time, value}] raw seconds when from >= now - raw retention, else
 * [{time, value (avg), max}] per minute; uri "" for none. */
int store_metric_history(struct store *st, const char *process_id, const char *monitor,
			 const char *uri, int64_t from_ms, int64_t to_ms, int64_t now_ms,
			 const struct store_page *page, json_t **ret);
/* Calls fn for the newest value of every series of a known process. */
int store_latest_metrics(struct store *st, store_latest_fn fn, void *ctx);

/* --- tasks --- */
/* Reports a task (idempotent by id): a new task becomes RUNNING; a pending
 * manual task with this id becomes RUNNING; a known running task is left as
 * is. -ENOENT for an unknown process_id, -EEXIST when the id belongs to a
 * task of another process or target. */
int store_add_task(struct store *st, const struct store_task *task, int64_t now_ms);
/* Ends a task: status "FINISHED" or "FAILED" (reason may be NULL).
 * -ENOENT unknown id. Ending an ended task again keeps the first end, except
 * a task the server closed because its agent went silent: the agent's own
 * end, arriving late, replaces that one. */
int store_finish_task(struct store *st, const char *id, const char *status, const char *reason,
		      int64_t end_ms);
/* Creates a PENDING manual task for a known process; *ret_id is malloc'd.
 * -ENOENT for an unknown process. */
int store_create_manual_task(struct store *st, const char *process_id, const char *target,
			     uint32_t duration_s, int64_t now_ms, char **ret_id);
/* Pending manual tasks for processes last reported by `agent_id`:
 * [{id, process_id, pid, service, instance, target, duration, created_time}]. */
int store_pending_tasks(struct store *st, const char *agent_id, json_t **ret);
/* Tasks newest first; filters may be NULL / since_ms INT64_MIN. */
int store_list_tasks(struct store *st, const char *service, const char *process_id,
		     int64_t since_ms, const struct store_page *page, json_t **ret);
int store_get_task(struct store *st, const char *id, json_t **ret);
/* {service, target, from, to, instances[...]} with POLICY tasks started in
 * [from_ms, to_ms]; target NULL for all targets. */
int store_monitoring_summary(struct store *st, const char *service, const char *target,
			     int64_t from_ms, int64_t to_ms, json_t **ret);

/* --- profiles and topology --- */
/* Stores one slice of a task in one transaction, its stats (when given)
 * added to the task's stack_stats. A slice already stored for (task, slice)
 * is left untouched and *ret_duplicate set. -ENOENT for an unknown task. */
int store_add_profile_slice(struct store *st, const struct store_slice *slice, bool *ret_duplicate);
/* Calls fn once per distinct stack of the task's slices overlapping
 * [from_ms, to_ms) with the summed count and duration. -ENOENT for an
 * unknown task; a non-zero return of fn stops and is returned. */
int store_load_flame_samples(struct store *st, const char *task_id, int64_t from_ms, int64_t to_ms,
			     store_stack_fn fn, void *ctx);
/* Replaces the task's topology document (the agent sends its whole view). */
int store_put_topology(struct store *st, const char *task_id, const json_t *doc, int64_t now_ms);
/* The stored document, or {nodes:[], edges:[], samples:[]}; -ENOENT for an
 * unknown task. */
int store_get_topology(struct store *st, const char *task_id, json_t **ret);

/* --- retention --- */
/* Deletes at most one batch of each kind of expired row; *ret_more is set
 * when a kind had a full batch (call again soon). */
int store_retention(struct store *st, int64_t now_ms, bool *ret_more);
/* RUNNING tasks whose agent sent its last keepalive
 * before `cutoff_ms` (or never) end FAILED with STORE_SILENT_REASON and
 * end_ms = now_ms. *ret_closed counts them. 0 or -errno. */
int store_fail_silent_tasks(struct store *st, int64_t cutoff_ms, int64_t now_ms,
			    uint64_t *ret_closed);

/* The operations a backend implements; see the functions above. Each takes
 * the backend's own handle; store.c dispatches and times the calls. */
struct store_backend;
struct store_ops {
	const char *scheme;
	/* The backend runs concurrent calls itself (a connection pool): one
	 * handle serves writes and queries. Otherwise store.c opens a second
	 * handle for queries. */
	bool pooled;
	struct store_backend *(*open)(const char *path, const struct store_options *opts, char *err,
				      size_t errlen);
	void (*close)(struct store_backend *be);
	int (*put_policy)(struct store_backend *, const char *, const char *, const char *,
			  int64_t);
	int (*get_policy)(struct store_backend *, const char *, char **, char[65]);
	int (*delete_policy)(struct store_backend *, const char *);
	int (*list_services)(struct store_backend *, json_t **);
	int (*upsert_processes)(struct store_backend *, const char *, const char *,
				const struct store_process *, size_t, int64_t);
	int (*list_processes)(struct store_backend *, const char *, const struct store_page *,
			      json_t **);
	int (*get_process)(struct store_backend *, const char *, json_t **);
	int (*add_metrics)(struct store_backend *, const struct store_metric_series *, size_t,
			   const struct store_metric_point *, size_t, int64_t, uint64_t *,
			   const char **);
	int (*metric_history)(struct store_backend *, const char *, const char *, const char *,
			      int64_t, int64_t, int64_t, const struct store_page *, json_t **);
	int (*latest_metrics)(struct store_backend *, store_latest_fn, void *);
	int (*add_task)(struct store_backend *, const struct store_task *, int64_t);
	int (*finish_task)(struct store_backend *, const char *, const char *, const char *,
			   int64_t);
	int (*create_manual_task)(struct store_backend *, const char *, const char *, uint32_t,
				  int64_t, char **);
	int (*pending_tasks)(struct store_backend *, const char *, json_t **);
	int (*list_tasks)(struct store_backend *, const char *, const char *, int64_t,
			  const struct store_page *, json_t **);
	int (*get_task)(struct store_backend *, const char *, json_t **);
	int (*monitoring_summary)(struct store_backend *, const char *, const char *, int64_t,
				  int64_t, json_t **);
	int (*add_profile_slice)(struct store_backend *, const struct store_slice *, bool *);
	int (*load_flame_samples)(struct store_backend *, const char *, int64_t, int64_t,
				  store_stack_fn, void *);
	int (*put_topology)(struct store_backend *, const char *, const json_t *, int64_t);
	int (*get_topology)(struct store_backend *, const char *, json_t **);
	int (*retention)(struct store_backend *, int64_t, bool *);
	int (*fail_silent_tasks)(struct store_backend *, int64_t, int64_t, uint64_t *);
	/* Optional (NULL: nothing to watch). */
	int (*watch)(struct store_backend *, store_change_fn, void *);
	void (*unwatch)(struct store_backend *);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;	  /* postgresql:// */
extern const struct store_ops store_postgres_ops; /* postgres://, the same backend */

#endif
