/* httpagg: per-second aggregation of completed HTTP requests into the values
 * of a process's HTTP policy items (HTTP_ERROR_RATE, HTTP_AVG_RESPONSE_TIME).
 *
 * Owns: for each registered process (process id + pid), a copy of the HTTP
 * items of its service's policy with their URI filters compiled, and per item
 * the last HTTPAGG_SECONDS_KEPT seconds of {requests, responses >= 500, total
 * duration}. Does not own: the monitor (httpmon.h), the engine, clocks, I/O.
 * Pure: time is the request's end_ns (CLOCK_MONOTONIC) and the second handed
 * to httpagg_tick(), both on the same monotonic clock.
 *
 * Rules:
 * - A request belongs to second floor(end_ns / 1e9). Both roles count
 *   (responses the process sent and those it received).
 * - URI filter of an item: uri_list = exact match on the path, i.e. the URI
 *   without query string or fragment (an absolute-form URI loses its scheme
 *   and host); uri_regex = POSIX ERE on that same path, unanchored unless the
 *   regex anchors itself; none = every request ("global"). A path cut by the
 *   monitor's URI limit never equals a listed path.
 * - httpagg_tick(now_s) emits, for every item and every second < now_s that
 *   saw at least one matching request, one value (seconds without requests
 *   hold no value), oldest first, then forgets them. A request arriving for
 *   a second already emitted is counted late and dropped.
 *
 * The agent loop (cmd_debug_http.c's tick() is the reference):
 *   watch:   httpagg_set_process(id, pid, policy) + httpmon_watch(pid) when a
 *            process whose policy has HTTP items is watched (again on policy
 *            change); httpagg_remove_process(id) + httpmon_unwatch(pid) when
 *            it exits or its policy loses them;
 *   records: httpmon_fd() in epoll -> httpmon_consume(), whose callback
 *            calls httpagg_add();
 *   tick T:  httpmon_consume(); httpagg_tick(T) -> for each value
 *            engine_record_http(process_id, target, monitor, second, value)
 *            and the metrics uplink (monitor, label, second, value); then
 *            engine_tick(T - 1, now_ms): T - 1 is the last completed second.
 * Not thread-safe: one owner.
 */
#ifndef CONTPROF_AGENT_HTTPAGG_H
#define CONTPROF_AGENT_HTTPAGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/httpmon.h"
#include "core/policy.h"

/* Seconds of buckets kept per item: requests may arrive this late. */
#define HTTPAGG_SECONDS_KEPT 8
#define HTTPAGG_ERROR_STATUS 500
/* The label of an item without a URI filter. */
#define HTTPAGG_LABEL_GLOBAL "global"

struct httpagg;

/* One item's value for one completed second. Strings are valid during the
 * callback only. */
struct httpagg_value {
	const char *process_id;
	uint32_t pid;
	enum policy_target target;
	enum policy_monitor monitor;
	const char *label; /* the item's uri_regex, uri_list joined by ",", or "global" */
	int64_t second;
	double value; /* % of requests with status >= 500, or mean duration in ms */
	uint64_t requests;
	uint64_t errors;
	double total_ms;
};

typedef void (*httpagg_value_fn)(const struct httpagg_value *value, void *ctx);

/* NULL on ENOMEM. */
struct httpagg *httpagg_new(void);
/* Accepts NULL; returns NULL. */
struct httpagg *httpagg_free(struct httpagg *agg);

/* Registers (or replaces) the HTTP items of `policy` (borrowed; copied) for
 * process `process_id` running as `pid`. A policy without HTTP items removes
 * the process. Buckets of items that stay (same target, monitor and filter)
 * are kept. Returns 0, -EINVAL (a uri_regex that does not compile; nothing
 * changes) or -ENOMEM (nothing changes). */
int httpagg_set_process(struct httpagg *agg, const char *process_id, uint32_t pid,
			const struct policy *policy);
/* Forgets a process and its buckets; unknown ids are ignored. */
void httpagg_remove_process(struct httpagg *agg, const char *process_id);
size_t httpagg_process_count(const struct httpagg *agg);
/* True when some registered process runs as `pid`. */
bool httpagg_watches_pid(const struct httpagg *agg, uint32_t pid);

/* Counts one completed request into every item of every process running as
 * req->pid whose filter selects it. */
void httpagg_add(struct httpagg *agg, const struct httpmon_request *req);

/* Emits every value of seconds < now_s (see the rules); returns how many. */
int httpagg_tick(struct httpagg *agg, int64_t now_s, httpagg_value_fn fn, void *ctx);

/* Requests dropped because their second was already emitted. */
uint64_t httpagg_late(const struct httpagg *agg);

/* The path of a request URI as filters see it, into `out` (size > 0). */
void httpagg_uri_path(const char *uri, char *out, size_t size);

#endif
