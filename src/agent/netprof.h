/* netprof: the NETWORK profiler (profiler.h) — for every process of a
 * service instance: its TCP connections grouped into edges to the peers
 * (local processes resolved through netpeer.h, else address:port), bytes,
 * calls and read/write syscall time each way, retransmits, HTTP/1.x
 * requests per edge with status classes and latency percentiles, and
 * samples of the slowest and the failed requests of each flush interval
 * with the first bytes of their headers. Every flush sends the task's whole
 * topology document (netagg.h) through the sink's `topology`.
 *
 * One mechanism with the HTTP monitor: the agent's httpmon (same BPF
 * programs, connection keys and HTTP parsing) watches the task's pids as
 * "net" pids too (httpmon_net_watch), and delivers their requests to
 * netprof_on_request() and their connection records here.
 *
 * Owns: the running sessions, a netpeer, the slow floor of the kernel.
 * Does not own: the httpmon (the agent's), the sink. Called from the
 * agent's loop only.
 */
#ifndef CONTPROF_AGENT_NETPROF_H
#define CONTPROF_AGENT_NETPROF_H

#include <stdint.h>

#include "agent/httpmon.h"
#include "agent/netagg.h"
#include "agent/profiler.h"

/* Heads are sent for failed requests and those at least this slow (or
 * half the slowest-N floor of the last interval, when higher). */
#define NETPROF_SLOW_FLOOR_MIN_NS 1000000ull
/* Heads records (2 KiB each) the kernel may send between two flushes of
 * any task: 512 KiB of the 4 MiB ring shared with the HTTP monitor. */
#define NETPROF_HEADS_PER_FLUSH 256

extern const struct profiler_ops netprof_profiler;

/* Fills service/instance/process/id of a process the agent discovered;
 * -ENOENT for others (they are named from /proc). */
typedef int (*netprof_describe_fn)(void *ctx, uint32_t pid, struct netagg_node *ret);

/* Gives netprof the agent's HTTP monitor (NULL: the profiler reports "not
 * available") and how to name discovered processes. */
void netprof_init(struct httpmon *hm, netprof_describe_fn describe, void *ctx);
/* A completed request from the monitor (any watched pid). */
void netprof_on_request(const struct httpmon_request *req);

#endif
