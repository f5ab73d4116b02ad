/* uplink: the agent's one connection to the server (docs/agent-api.md).
 *
 * Owns: two threads with their own libcurl handles — a sender and a policy
 * syncer — so the agent loop never blocks on the network.
 *  - Durable messages (task reports, task ends, profile slices, topologies)
 *    go through an on-disk spool (util/spool.h) and are sent in order, each
 *    until the server answers; a retry never double counts because every such
 *    call is idempotent on the server. A 4xx answer other than 404/408/429
 *    drops the message (counted as rejected: retrying cannot help).
 *  - Metrics are buffered in memory (bounded; the oldest are dropped and
 *    counted) and sent as one batch every metrics interval.
 *  - The process list is sent when it changes and every register interval.
 *  - Policy sync is a long poll over the services the loop names; results
 *    are queued for the loop, which is woken through uplink_fd().
 * Failures back off exponentially with jitter (1 s to backoff_max_ms, 30 s by
 * default).
 * Every function here is called from the loop's thread.
 */
#ifndef CONTPROF_AGENT_UPLINK_H
#define CONTPROF_AGENT_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/profiler.h"
#include "agent/uplink_http.h"
#include "agent/tasks.h"

#define UPLINK_DEFAULT_SPOOL_MAX_BYTES	    (256ULL * 1024 * 1024)
#define UPLINK_DEFAULT_METRICS_MAX_POINTS   200000
#define UPLINK_DEFAULT_METRICS_INTERVAL_MS  5000
#define UPLINK_DEFAULT_REGISTER_INTERVAL_MS 10000
#define UPLINK_DEFAULT_SYNC_WAIT_MS	    25000
#define UPLINK_BACKOFF_MIN_MS		    1000
#define UPLINK_BACKOFF_MAX_MS		    30000
#define UPLINK_REQUEST_TIMEOUT_MS	    30000
#define UPLINK_NOT_FOUND_ATTEMPTS	    5 /* 404s, each after a fresh register, before a drop */

struct uplink_options {
	const char *server_url;	    /* e.g. http://127.0.0.1:8080 */
	const char *token;	    /* or NULL */
	struct uplink_http_tls tls; /* paths copied; all NULL: system CAs */
	const char *agent_id;
	const char *host;
	const char *spool_dir;
	uint64_t spool_max_bytes;
	size_t metrics_max_points;
	uint32_t metrics_interval_ms;
	uint32_t register_interval_ms;
	uint32_t sync_wait_ms;
	uint32_t backoff_max_ms; /* >= UPLINK_BACKOFF_MIN_MS */
};

struct uplink_stats {
	uint64_t spool_records, spool_bytes;
	uint64_t metrics_buffered, metrics_dropped, metrics_sent;
	uint64_t messages_sent, messages_rejected, spool_full_dropped;
	uint64_t spool_write_errors;
	/* Stack samples (sum of counts) of the slices written to the spool:
	 * each slice once, when spooled; resends do not count again. */
	uint64_t profile_samples_spooled;
	bool server_reachable;
};

struct uplink;

void uplink_options_default(struct uplink_options *opts);

/* Opens the spool and starts the threads. 0 and *ret, or -errno. */
int uplink_open(const struct uplink_options *opts, struct uplink **ret);
/* Stops the threads after a final attempt to send the process list, the
 * spooled messages and the buffered metrics. The attempt ends by `flush_ms`
 * (requests are given what is left; one still running then is cut short), so
 * a server that is away or slow delays a stop by at most about that long.
 * What is unsent stays in the spool for the next start; unsent metrics are
 * lost (logged). NULL-safe. */
struct uplink *uplink_close(struct uplink *ul, uint32_t flush_ms);

/* Durable messages. 0, or -ENOBUFS when the spool is at its bound
 * (counted as spool_full_dropped), or the -errno of a failed write, e.g.
 * -ENOSPC for a full disk (counted as spool_write_errors; logged when
 * writing starts failing and when it works again). */
/* A registration of `processes` (array, stolen) in the spool's order, so the
 * messages after it name processes the server knows even when they exited
 * before the server could hear of them (it was away). */
int uplink_register_spooled(struct uplink *ul, json_t *processes);
int uplink_task_started(struct uplink *ul, const struct task_info *task);
int uplink_task_ended(struct uplink *ul, const struct task_info *task);
/* `stats` (NULL: none) goes with the slice as its stack_stats. */
int uplink_slice(struct uplink *ul, const char *task_id, uint32_t slice_no, int64_t start_ms,
		 int64_t end_ms, const struct profile_stack *stacks, size_t n_stacks,
		 const struct profile_slice_stats *stats);
/* `topology` is borrowed. */
int uplink_topology(struct uplink *ul, const char *task_id, const json_t *topology);

/* One second of one series; `uri` NULL or "" for none. */
void uplink_metric(struct uplink *ul, const char *process_id, const char *monitor, const char *uri,
		   int64_t time_ms, double value);

/* The agent's current process list (array of process objects as
 * docs/agent-api.md shows); takes the reference. */
void uplink_set_processes(struct uplink *ul, json_t *processes);

/* The services to sync and the version held for each ({service: version or
 * ""}); takes the reference. A changed set restarts the long poll. */
void uplink_set_services(struct uplink *ul, json_t *services);

/* Readable when sync results wait; then call uplink_drain(). */
int uplink_fd(const struct uplink *ul);

struct uplink_handlers {
	/* version NULL: the policy was deleted. `policy` borrowed, NULL then. */
	void (*policy)(void *ctx, const char *service, const char *version, const json_t *policy);
	/* One manual task object as the sync answer shows it (borrowed). */
	void (*manual_task)(void *ctx, const json_t *task);
	void *ctx;
};

/* Delivers every queued sync result to the handlers. */
void uplink_drain(struct uplink *ul, const struct uplink_handlers *h);

void uplink_get_stats(struct uplink *ul, struct uplink_stats *ret);

#endif
