/* httpmon (user side): the eBPF HTTP/1.x monitor of watched processes.
 *
 * Owns: the httpmon BPF object (httpmon.bpf.c), its attachment, the
 * watched-pid bitmap, the ring buffer of completed requests and their
 * delivery to a callback. Does not own: URI filters and per-second
 * aggregation (httpagg.h), policies, the event loop.
 *
 * Lifecycle: httpmon_open() loads nothing. The first watch (of either kind)
 * starts ONE loader thread that opens and loads the BPF object (call
 * bpfutil_setup() once before) and returns 0 at once: the pid is pending
 * until the programs are loaded. Measured here: load ~0.4-0.9 s of CPU (the
 * verifier), 5-11 s seen on a loaded host, so it must not run on the
 * caller's (the agent loop's) thread. When the loader is done, its eventfd
 * (part of httpmon_fd()) becomes readable and the next httpmon_consume()
 * finishes the load: installs the object, attaches, sets the bits of every
 * pid watched meanwhile (those unwatched meanwhile are just gone; with none
 * left the object stays loaded, not attached), attaches the NETWORK-only
 * programs if net pids exist, then calls the ready callback. A failed load
 * or attach is kept (httpmon_stats().error, httpmon_take_error() once for the
 * owner to log); the pids stay in their sets and the next watch retries.
 * Once loaded, a watch attaches synchronously (~1 ms) and reports its error.
 * When the last watched pid is unwatched the programs are detached (no
 * tracepoint stays enabled, so the machine's syscalls leave the slow path)
 * but stay loaded, so the next watch only re-attaches. Detach: ~0.8 s of
 * waiting, done off the caller's thread. httpmon_stats() reports the last
 * load, attach and detach times. Synchronous users (CLI, tests) call
 * httpmon_wait_ready() after their watches.
 *
 * The loop polls httpmon_fd() (stable for the object's life, readable when
 * records wait or the loader is done) and calls httpmon_consume(). With
 * wakeup_every > 1 the kernel wakes the fd only on every Nth record of a
 * CPU, so the loop must also call httpmon_consume() on its 1-second tick,
 * before reading aggregates. Not thread-safe: one owner; the loader thread
 * touches only its own skeleton and a result read after joining it.
 */
#ifndef CONTPROF_AGENT_HTTPMON_USER_H
#define CONTPROF_AGENT_HTTPMON_USER_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/httpmon_abi.h"
#include "agent/netprof_abi.h"

/* The agent's choice: wake the consumer on every 1024th record of a CPU
 * (tens of ms of a saturated server, ~50 KiB, far below the ring's 4 MiB);
 * the 1-second tick drains the rest. Deciding costs no helper call. */
#define HTTPMON_AGENT_WAKEUP_EVERY 1024

/* One completed request, as delivered to the callback. */
struct httpmon_request {
	uint32_t pid;
	uint32_t fd;
	enum httpmon_role role;
	enum httpmon_method method;
	uint16_t status;
	bool uri_truncated; /* the URI may continue past uri[] */
	char uri[HTTPMON_URI_MAX + 1];
	uint64_t start_ns; /* CLOCK_MONOTONIC */
	uint64_t end_ns;
};

struct httpmon_stats {
	uint64_t counters[HTTPMON_CNT_COUNT]; /* enum httpmon_counter */
	uint64_t load_ns;		      /* last open+load (on the loader thread) */
	uint64_t attach_ns;		      /* last attach */
	uint64_t detach_ns;		      /* last detach */
	bool loaded;
	bool loading; /* the loader thread runs */
	bool attached;
	int error; /* -errno of the last load/attach when it failed, else 0 */
};

struct httpmon;

/* Pids watched for one purpose (few: a linear set). */
struct pidset {
	uint32_t *pids;
	size_t n, cap;
};

/* Programs attached only while a NETWORK task runs (netprof.bpf.h). */
#define HTTPMON_NET_PROGS 11

/* Called for each completed request; `req` is valid during the call only. */
typedef void (*httpmon_fn)(const struct httpmon_request *req, void *ctx);

/* Creates the monitor (nothing loaded yet). wakeup_every: 0 or 1 wakes the
 * fd on every record; else see HTTPMON_AGENT_WAKEUP_EVERY. 0 and *ret, or
 * -errno. */
int httpmon_open(httpmon_fn fn, void *ctx, uint32_t wakeup_every, struct httpmon **ret);
/* Detaches, unloads, frees; accepts NULL; returns NULL. */
struct httpmon *httpmon_close(struct httpmon *hm);

/* Starts watching process `pid` (thread group id). Before the first load
 * completed, starts the loader (if not running) and returns 0: pending until
 * the programs are loaded. Once loaded, attaches if needed. Watching twice
 * is a no-op. 0, -EINVAL (pid 0 or past the kernel's limit) or the -errno of
 * a failed attach or thread start (`pid` not watched then). */
int httpmon_watch(struct httpmon *hm, uint32_t pid);
/* Stops watching `pid` (while loading: just drops it); detaches when no pid
 * is left. Detaching takes the
 * kernel most of a second, so it runs on a short-lived thread and this call
 * returns at once; a later watch (or close) waits for it. 0 or -ENOENT. */
int httpmon_unwatch(struct httpmon *hm, uint32_t pid);
/* Blocks until a detach in progress has finished (tests, reports). */
void httpmon_wait_detached(struct httpmon *hm);
size_t httpmon_watched_count(const struct httpmon *hm);

int httpmon_fd(const struct httpmon *hm);
/* Delivers every waiting record; returns how many, or -errno. */
int httpmon_consume(struct httpmon *hm);
/* Waits up to timeout_ms on httpmon_fd() and consumes. */
int httpmon_poll(struct httpmon *hm, int timeout_ms);
/* Consumes until a load in progress finished (timeout_ms < 0: no limit).
 * 0, the load's/attach's -errno, or -ETIMEDOUT. */
int httpmon_wait_ready(struct httpmon *hm, int timeout_ms);
/* Loaded and no load in progress: httpmon_net_add_conn() etc. work. */
bool httpmon_ready(const struct httpmon *hm);
/* The last load/attach error if not handed out yet (then 0): for the owner
 * to log each failure once. */
int httpmon_take_error(struct httpmon *hm);
/* Called by httpmon_consume() when a load finished (err 0: loaded, attached
 * for the pids watched then). */
typedef void (*httpmon_ready_fn)(int err, void *ctx);
void httpmon_set_ready_fn(struct httpmon *hm, httpmon_ready_fn fn, void *ctx);
/* ---- NETWORK tasks (netprof.h is the user): the same programs and
 * connections, plus per-connection traffic of "net" pids. ---- */

/* Receives the ring's other records (struct netprof_closed, netprof_heads:
 * see `kind`), `size` bytes valid during the call. */
typedef void (*httpmon_net_fn)(const void *record, size_t size, void *ctx);
typedef void (*httpmon_conn_fn)(uint32_t pid, uint32_t fd, const struct netprof_conn *conn,
				void *ctx);
typedef void (*httpmon_retrans_fn)(const struct netprof_tuple *tuple, uint32_t count, void *ctx);

void httpmon_set_net_fn(struct httpmon *hm, httpmon_net_fn fn, void *ctx);
/* Watches `pid` for a NETWORK task too (its HTTP requests are delivered to
 * the request callback as for httpmon_watch()); attaches the NETWORK-only
 * programs with the first such pid. Independent of httpmon_watch(): each
 * purpose is dropped by its own unwatch. 0 or -errno. */
int httpmon_net_watch(struct httpmon *hm, uint32_t pid);
int httpmon_net_unwatch(struct httpmon *hm, uint32_t pid);
size_t httpmon_net_watched_count(const struct httpmon *hm);
/* Requests at least this slow (and all 4xx/5xx) of net pids get a heads
 * record, `budget` of them until the next call. */
void httpmon_net_set_heads(struct httpmon *hm, uint64_t floor_ns, uint64_t budget);
/* Calls `fn` for every open connection of net pids; returns how many. */
int httpmon_net_conns(struct httpmon *hm, httpmon_conn_fn fn, void *ctx);
/* Tracks a connection that was open before its pid was net-watched. 0,
 * -EEXIST, -ENOENT (not loaded yet: seed from the ready callback) or
 * -ENOSPC (both its slots held by live connections: not tracked). */
int httpmon_net_add_conn(struct httpmon *hm, uint32_t pid, uint32_t fd,
			 const struct netprof_conn *conn);
/* Hands over (and clears) the retransmit counts by 4-tuple of the whole
 * host; returns how many tuples. */
int httpmon_net_retransmits(struct httpmon *hm, httpmon_retrans_fn fn, void *ctx);

/* Kernel counters (summed over CPUs) and lifecycle timings. 0 or -errno. */
int httpmon_stats(const struct httpmon *hm, struct httpmon_stats *ret);

/* Decodes one kernel record (pure; exposed for tests). */
void httpmon_decode(const struct httpmon_event *e, struct httpmon_request *ret);

const char *httpmon_method_name(enum httpmon_method method);
const char *httpmon_role_name(enum httpmon_role role);
const char *httpmon_counter_name(enum httpmon_counter counter);

#endif
