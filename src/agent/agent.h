/* agent: the `contprof agent` process — one event loop that ties discovery,
 * per-second statistics, the trigger engine, the task manager and the uplink
 * together (DESIGN.md sections 1-3).
 *
 * Every second: sample each watched process (PROCESS_CPU, thread count) and
 * the host load, feed the engine's windows and the metrics uplink, evaluate,
 * start what must start, flush and end running tasks. Exec/exit events from
 * BPF keep the process table current within a second; a rescan every few
 * seconds catches the rest. Policies arrive from the server's long poll,
 * are applied at once and kept on disk, so a restart with the server away
 * still watches and triggers with the last known ones.
 * Only processes of services with a policy are watched; every discovered
 * process that lives a couple of seconds is registered with the server. With
 * the config's `listen:` address the agent serves its own health as
 * Prometheus text on GET /metrics (health.h). Runs on the calling thread until
 * SIGTERM/SIGINT or agent_stop().
 */
#ifndef CONTPROF_AGENT_AGENT_H
#define CONTPROF_AGENT_AGENT_H

#include <stdint.h>

#include "agent/config.h"
#include "agent/uplink_http.h"

#define AGENT_TICK_MS		     1000
#define AGENT_STOP_FLUSH_MS	     3000
#define AGENT_PROCEVENTS_BATCH_MS    200	 /* exec/exit events are taken at most this late */
#define AGENT_PROCEVENTS_BATCH_BYTES (64 * 1024) /* records held to pair an exec with its exit */
#define AGENT_GONE_FORGET_MS	     (2LL * 3600 * 1000) /* engine state of exited processes */
#define AGENT_MANUAL_IDS_REMEMBERED  1024
/* A process of a service without a policy is reported to the server once it
 * has lived this long (watched ones at once). */
#define AGENT_REPORT_MIN_AGE_MS 2000

struct agent_options {
	const struct config *config; /* borrowed; outlives the agent */
	const char *server_url;	     /* overrides config->server when set */
	const char *token;	     /* NULL: none */
	struct uplink_http_tls tls;  /* borrowed paths; NULL: plain/system CAs */
	const char *state_dir;	     /* policies/ and spool/ live here */
	const char *host_override;   /* NULL: gethostname() */
};

struct agent;

/* Builds every part; 0 and *ret, or -errno with the reason logged once. */
int agent_open(const struct agent_options *opts, struct agent **ret);
/* The agent's event loop, so a process hosting more (contprof up) can add
 * its own timers and fds before agent_run(). */
struct evloop *agent_loop(struct agent *agent);
/* Runs the loop until a stop; returns 0 or -errno. Blocks SIGTERM/SIGINT. */
int agent_run(struct agent *agent);
/* Asks a running loop to stop (any thread). */
void agent_stop(struct agent *agent);
/* Stops tasks (reported as ended early), flushes, detaches every BPF program
 * and perf event, frees. NULL-safe. */
struct agent *agent_close(struct agent *agent);

#endif
