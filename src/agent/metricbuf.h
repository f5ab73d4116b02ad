/* metricbuf: the uplink's buffer of metric points waiting for the next
 * batch — the series they belong to (process, monitor, URI) and the points in
 * arrival order — and the JSON body of POST /api/v1/agent/metrics
 * (docs/agent-api.md) written straight from them.
 *
 * Every watched process adds a few points a second, so adding is a hash
 * lookup of the series with no formatting or allocation but for a new
 * series; encoding writes the body in one pass (points grouped by series,
 * whole values as integers, others as "%.17g") without building a JSON tree.
 * Bounded: at most max_points points (when full, the oldest tenth is dropped
 * and counted) and as many series. Owns no lock: the uplink holds its own
 * around every call. */
#ifndef CONTPROF_AGENT_METRICBUF_H
#define CONTPROF_AGENT_METRICBUF_H

#include <stddef.h>
#include <stdint.h>

struct metricbuf;

/* NULL on ENOMEM. max_points >= 1. */
struct metricbuf *metricbuf_new(size_t max_points);
/* Accepts NULL; returns NULL. */
struct metricbuf *metricbuf_free(struct metricbuf *m);

/* Adds one second of one series (uri NULL or "" for none). Returns 0, or
 * -EINVAL for a string that is not UTF-8 or a value that is not finite,
 * -ENOBUFS when the series table is full, -ENOMEM: the point is not added.
 * *ret_dropped: the oldest points dropped to make room (0 but when full). */
int metricbuf_add(struct metricbuf *m, const char *process_id, const char *monitor, const char *uri,
		  int64_t time_ms, double value, size_t *ret_dropped);
/* Points buffered. */
size_t metricbuf_count(const struct metricbuf *m);
/* The body for the first n points (n <= count): {"agent_id": ..., "series":
 * [{"process_id", "monitor", "uri", "points": [[time_ms, value], ...]}]}.
 * A malloc'd string (caller frees), or NULL on ENOMEM. */
char *metricbuf_encode(const struct metricbuf *m, const char *agent_id, size_t n);
/* Forgets the first n points (sent or refused); the series table is
 * emptied when no point is left. */
void metricbuf_consume(struct metricbuf *m, size_t n);

#endif
