/* health: the agent's own health — its figures, their Prometheus text, and
 * the optional `GET /metrics` endpoint on the config's `listen:` address.
 *
 * The endpoint is libmicrohttpd driven from the agent's event loop (its epoll
 * fd watched by the loop, no thread of its own), so the figures are read on
 * the loop thread from the agent's own state, without locks, at scrape time.
 * Owns: the HTTP daemon, rendering, reading the process's CPU time and RSS.
 * Does not own: the figures themselves (the agent fills them through a
 * callback). Every function runs on the loop's thread.
 */
#ifndef CONTPROF_AGENT_HEALTH_H
#define CONTPROF_AGENT_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/uplink.h"

#define HEALTH_CONN_LIMIT	16
#define HEALTH_CONN_TIMEOUT_S	10
#define HEALTH_RENDER_MAX_BYTES (64 * 1024)
#define HEALTH_CPU_WINDOW_TICKS 60 /* agent CPU % is averaged over this many ticks */

struct evloop;

struct health_figures {
	uint64_t discovered_processes; /* matched by the config's rules, alive */
	uint64_t watched_processes;    /* of services with a policy, alive */
	uint64_t policies;
	uint64_t ticks, tick_overruns; /* ticks run; ticks missed because one ran late */
	double tick_last_s, tick_max_s;
	uint64_t tasks_running, tasks_started, tasks_failed;
	struct uplink_stats uplink;
	bool procevents_active;		      /* exec/exit events from BPF (else rescans only) */
	bool httpmon_loading, httpmon_loaded; /* HTTP monitor's BPF object: in background */
	double httpmon_load_s;		      /* its last load, on the loader thread */
	uint64_t procevents_dropped, discover_dropped, rescans_forced;
	double cpu_seconds; /* user + system since the agent started */
	double cpu_percent; /* of one core, over the last HEALTH_CPU_WINDOW_TICKS ticks */
	uint64_t rss_bytes;
};

/* Fills *ret with the current figures (called on the loop thread). */
typedef void (*health_fill_fn)(void *ctx, struct health_figures *ret);

/* The Prometheus text exposition (version 0.0.4) of `f`: malloc'd, *ret_len
 * bytes, or NULL on ENOMEM. */
char *health_render(const struct health_figures *f, size_t *ret_len);

/* This process's CPU time (user + system, seconds) and resident set size
 * (bytes). 0 or -errno. */
int health_self_usage(double *ret_cpu_s, uint64_t *ret_rss_bytes);
/* This process's CPU time alone (user + system, s): one syscall, for the
 * per-tick CPU ring. 0 or -errno. */
int health_self_cpu(double *ret_cpu_s);

struct health_server;

/* Serves GET /metrics on `listen` ("HOST:PORT", "[V6]:PORT"; port 0 picks
 * one) from `loop`. 0 and *ret, or -EINVAL (bad address), -EADDRINUSE and
 * other -errno. `fn` is called for each scrape. */
int health_serve(const char *listen, struct evloop *loop, health_fill_fn fn, void *ctx,
		 struct health_server **ret);
/* The port bound. */
unsigned health_port(const struct health_server *s);
/* Stops serving and releases the daemon (its fd leaves the loop). NULL-safe. */
struct health_server *health_stop(struct health_server *s);

#endif
