/* context: the state every route handler of the server shares, and the
 * route tables of routes_*.c. Internal to src/server/.
 *
 * The policy-sync hub lives here too: a generation number bumped (and
 * broadcast) whenever a policy changes or a manual task is created — here,
 * or through another server sharing the store (store_watch) — which
 * long-polling agents wait on. Handlers read `struct server_ctx` through
 * http_request.ctx; everything in it is safe to use from any connection
 * thread.
 */
#ifndef CONTPROF_SERVER_CONTEXT_H
#define CONTPROF_SERVER_CONTEXT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/http.h"
#include "server/metrics_prom.h"
#include "server/store.h"

/* Bounds of what the network hands us. */
#define SERVER_AGENT_BODY_MAX	     (16u * 1024 * 1024)
#define SERVER_QUERY_BODY_MAX	     (64u * 1024)
#define SERVER_MAX_PROCESSES	     20000
#define SERVER_MAX_SERIES	     100000
#define SERVER_MAX_POINTS	     1000000
#define SERVER_MAX_STACKS	     100000
#define SERVER_MAX_FRAMES	     1024
#define SERVER_MAX_STACK_BYTES	     (64 * 1024)
#define SERVER_MAX_SYNC_SERVICES     1000
#define SERVER_MAX_LABELS	     64
#define SERVER_MAX_LABEL_LEN	     1024
#define SERVER_MAX_TOPOLOGY_ITEMS    100000
#define SERVER_MAX_REASON_LEN	     1024
#define SERVER_SYNC_WAIT_DEFAULT_MS  25000
#define SERVER_SYNC_WAIT_MAX_MS	     60000
#define SERVER_PAGE_DEFAULT	     100
#define SERVER_PAGE_MAX		     1000
#define SERVER_METRIC_PAGE_DEFAULT   20000
#define SERVER_METRIC_PAGE_MAX	     20000
#define SERVER_MONITORING_WINDOW_MS  (48LL * 3600 * 1000)
#define SERVER_TASK_DURATION_MAX_S   (24 * 3600)
#define SERVER_MANUAL_DURATION_DEF_S 60
#define SERVER_RETENTION_INTERVAL_MS 10000

struct sync_hub {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	uint64_t generation;
	bool stopping;
};

struct server_ctx {
	struct store *store;
	struct prom *prom;
	struct sync_hub sync;
};

int sync_init(struct sync_hub *hub);
void sync_destroy(struct sync_hub *hub);
uint64_t sync_generation(struct sync_hub *hub);
/* Bumps the generation and wakes every waiter. */
void sync_notify(struct sync_hub *hub);
/* Waits until the generation differs from `seen`, `timeout_ms` passes or
 * the server stops. Returns true when the generation changed. */
bool sync_wait(struct sync_hub *hub, uint64_t seen, int64_t timeout_ms);
/* Wakes every waiter for good (shutdown). */
void sync_stop(struct sync_hub *hub);
/* A store_change_fn (store.h) for the hub `hub`: another server sharing
 * the store changed policies or manual tasks — bumps the generation. */
void sync_store_changed(void *hub);

extern const struct http_route routes_agent[];
extern const size_t routes_agent_count;
extern const struct http_route routes_query[];
extern const size_t routes_query_count;
extern const struct http_route routes_tasks[];
extern const size_t routes_tasks_count;

/* Shared parsing of query-string parameters. Each returns 0, or replies
 * 400 and returns -EINVAL. */
int query_time_param(const struct http_request *req, struct http_response *resp, const char *key,
		     int64_t def_ms, int64_t *ret_ms);
int query_page(const struct http_request *req, struct http_response *resp, uint32_t def,
	       uint32_t max, struct store_page *ret);
/* Sets the X-Next-Offset header when a listing filled its page. */
void reply_page(struct http_response *resp, json_t *rows, const struct store_page *page);

#endif
