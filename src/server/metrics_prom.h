/* metrics_prom: the server's own counters and the Prometheus text
 * exposition of GET /metrics.
 *
 * Owns: request counts by route and status, ingest counters, and rendering
 * them with the store's latency histograms and the newest value of every
 * process metric (labels service, instance, process, process_id, monitor,
 * uri). Does not own: the values' storage (store.h). Thread-safe.
 */
#ifndef CONTPROF_SERVER_METRICS_PROM_H
#define CONTPROF_SERVER_METRICS_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "server/store.h"

enum prom_counter {
	PROM_AGENT_REGISTRATIONS,
	PROM_SYNC_REPLIES,
	PROM_METRIC_POINTS,
	PROM_METRIC_POINTS_DUPLICATE,
	PROM_TASK_REPORTS,
	PROM_PROFILE_SLICES,
	PROM_PROFILE_SLICES_DUPLICATE,
	PROM_STACK_SAMPLES,
	PROM_TOPOLOGY_UPLOADS,
	PROM_COUNTER_COUNT
};

#define PROM_MAX_ROUTE_STATUS 256 /* distinct (route, status) pairs kept */

struct prom;

struct prom *prom_new(void);
struct prom *prom_free(struct prom *p);
void prom_count_request(struct prom *p, const char *route, int status);
void prom_add(struct prom *p, enum prom_counter c, uint64_t n);
/* The whole exposition as a malloc'd string (*ret_len bytes), or NULL. */
char *prom_render(struct prom *p, struct store *st, size_t *ret_len);

#endif
