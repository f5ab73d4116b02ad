/* netagg: the user-space aggregation of one NETWORK task — connections
 * grouped into edges, HTTP requests into per-edge counts and latency
 * histograms, slow and failed requests into samples — and the topology
 * document the server stores (docs/agent-api.md, "Topology").
 *
 * Owns: the nodes, the edges (observer process, peer, role), the
 * connections it was told of (by pid and fd), the per-interval sample
 * candidates and the samples kept. Does not own: the kernel (httpmon.h),
 * finding out who a peer is (the ops, netprof.c/netpeer.c), clocks or I/O.
 * Pure: every time is handed in. Bounded: NETAGG_EDGES_MAX edges,
 * NETAGG_CONNS_MAX connections, NETAGG_SAMPLES_KEPT samples (oldest go).
 *
 * Totals of an edge = the last values of its closed connections + the
 * current values of its open ones (netagg_conn_update() replaces them, the
 * kernel's counters being cumulative per connection), so a flush never
 * counts twice. bytes_out/bytes_in and calls are the observer's: what the
 * process of the task wrote to / read from the connection.
 * Not thread-safe: one owner.
 */
#ifndef CONTPROF_AGENT_NETAGG_H
#define CONTPROF_AGENT_NETAGG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/httpmon.h"
#include "agent/netprof_abi.h"

#define NETAGG_EDGES_MAX    1024
#define NETAGG_CONNS_MAX    (NETPROF_CONNS_MAX + 1024)
#define NETAGG_NODES_MAX    (2 * NETAGG_EDGES_MAX)
#define NETAGG_SLOWEST_N    10	 /* slowest requests sampled per edge and interval */
#define NETAGG_FAILED_N	    20	 /* failed requests sampled per edge and interval */
#define NETAGG_SAMPLES_KEPT 1000 /* samples in the document, newest kept */
#define NETAGG_ID_MAX	    96
#define NETAGG_NAME_MAX	    64
/* Latency histogram: exact below 16 ns, then 8 buckets per power of two
 * (a value is reported as its bucket's middle: within 1/16). */
#define NETAGG_HIST_BUCKETS 496

struct netagg_node {
	char id[NETAGG_ID_MAX];
	char service[NETAGG_NAME_MAX]; /* "" when not a discovered process */
	char instance[NETAGG_NAME_MAX];
	char process[NETAGG_NAME_MAX]; /* "" for a remote endpoint */
	uint32_t pid;		       /* 0 for a remote endpoint */
	char address[64];	       /* remote endpoints: "addr:port" or "addr" */
	bool in_instance;	       /* a process of the task */
};

/* How netagg learns who is who (netprof.c implements them on /proc). */
struct netagg_ops {
	/* The node of local process `pid`. 0 or -errno (-ESRCH: gone). */
	int (*describe_pid)(void *ctx, uint32_t pid, struct netagg_node *ret);
	/* The node at the other end of connection `conn` (role, local and
	 * remote addresses, open time): a local process when one holds that
	 * end, else a remote endpoint. 0 or -errno. */
	int (*find_peer)(void *ctx, const struct netprof_conn *conn, struct netagg_node *ret);
	/* The addresses and role of open socket (pid, fd) the kernel did not
	 * report (opened before the task). 0 or -errno (-ENOENT: not TCP). */
	int (*lookup_conn)(void *ctx, uint32_t pid, uint32_t fd, struct netprof_conn *ret);
	void *ctx;
};

struct netagg;

/* NULL on ENOMEM. `ops` is copied. */
struct netagg *netagg_new(const struct netagg_ops *ops);
/* NULL-safe; returns NULL. */
struct netagg *netagg_free(struct netagg *ag);

/* Adds the node of process `pid` (a process of the task shows even before
 * its first connection). 0 or -errno. */
int netagg_add_process(struct netagg *ag, uint32_t pid);
/* A connection the kernel opened (or one found open at the start). A
 * second open of a known (pid, fd) closes the old one first. 0 or -errno
 * (-ENOSPC: a bound is reached; the connection is not counted). */
int netagg_conn_opened(struct netagg *ag, uint32_t pid, uint32_t fd,
		       const struct netprof_conn *conn);
/* The current cumulative values of an open connection. */
int netagg_conn_update(struct netagg *ag, uint32_t pid, uint32_t fd,
		       const struct netprof_conn *conn);
/* The final values of a connection that closed. */
int netagg_conn_closed(struct netagg *ag, uint32_t pid, uint32_t fd,
		       const struct netprof_conn *conn);
/* A completed request on (req->pid, req->fd); `wall_offset_ns` turns its
 * monotonic times into wall-clock ones (for the samples). */
void netagg_request(struct netagg *ag, const struct httpmon_request *req, int64_t wall_offset_ns);
/* The heads of a request reported just before. */
void netagg_heads(struct netagg *ag, const struct netprof_heads *h);
/* Retransmits of a 4-tuple (local = saddr:sport). */
void netagg_retransmits(struct netagg *ag, const struct netprof_tuple *t, uint32_t count);
/* Ends a flush interval: its samples join the document. */
void netagg_end_interval(struct netagg *ag);
/* The duration under which a request of this interval cannot be among the
 * slowest of its edge (0 while some edge has fewer than NETAGG_SLOWEST_N):
 * only requests at least this slow need their heads. */
uint64_t netagg_slow_floor(const struct netagg *ag);
/* The topology document (new reference, NULL on ENOMEM). */
json_t *netagg_to_json(const struct netagg *ag);

/* Histogram helpers (exposed for tests). */
size_t netagg_hist_bucket(uint64_t ns);
uint64_t netagg_hist_value(size_t bucket);
/* The value at quantile q in [0, 1] of `hist` (n buckets), 0 when empty. */
uint64_t netagg_hist_quantile(const uint32_t *hist, size_t n, double q);

/* "127.0.0.1:80", "[::1]:80" (port 0: no port). */
void netagg_format_addr(const struct netprof_addr *a, bool with_port, char *buf, size_t len);

#endif
