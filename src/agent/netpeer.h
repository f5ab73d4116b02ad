/* netpeer: the agent's view of the TCP sockets of this host, to tell which
 * local process is at the other end of a connection.
 *
 * Owns: a snapshot of /proc/net/tcp and /proc/net/tcp6 (addresses, state,
 * inode of every socket) and, built when first needed after a refresh, the
 * map from socket inode to the pid holding it (/proc/PID/fd links). When a
 * lookup misses, a snapshot older than NETPEER_MAX_AGE_MS or than the
 * connection asked about is read again (so a true remote peer costs at most
 * one read per batch of new connections).
 * Does not own: deciding what a peer is called (netprof.c). Bounded:
 * NETPEER_SOCKETS_MAX sockets, NETPEER_INODES_MAX inode links.
 * Not thread-safe: one owner.
 */
#ifndef CONTPROF_AGENT_NETPEER_H
#define CONTPROF_AGENT_NETPEER_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/netprof_abi.h"

#define NETPEER_SOCKETS_MAX	65536
#define NETPEER_INODES_MAX	262144
#define NETPEER_MAX_AGE_MS	100
#define NETPEER_TCP_ESTABLISHED 1
#define NETPEER_TCP_LISTEN	10

struct netpeer_sock {
	struct netprof_addr local, remote;
	uint8_t state; /* TCP_* of the kernel */
	uint64_t inode;
};

struct netpeer;

/* `proc_root` is "/proc" outside tests. NULL on ENOMEM. */
struct netpeer *netpeer_new(const char *proc_root);
struct netpeer *netpeer_free(struct netpeer *np);

/* Parses one line of /proc/net/tcp or tcp6 (not the header). 0 or -EINVAL. */
int netpeer_parse_line(const char *line, struct netpeer_sock *ret);

/* The pid holding the socket at the other end of the connection local ->
 * remote (its local address is `remote`, its remote `local`), made at
 * `since_ns` (CLOCK_MONOTONIC; 0 unknown): a snapshot older than that is
 * read again. 0 and *pid, or -ENOENT (no local process: a remote peer, or
 * it is gone). */
int netpeer_other_end(struct netpeer *np, const struct netprof_addr *local,
		      const struct netprof_addr *remote, uint64_t since_ns, uint32_t *pid);

/* The pid holding the listening socket a connection to `at` reaches (its
 * port, and its address or a wildcard one). 0 and *pid, or -ENOENT. A
 * client's peer is found so even before the server accepted the
 * connection (a socket in the accept queue has no inode yet). */
int netpeer_listener(struct netpeer *np, const struct netprof_addr *at, uint64_t since_ns,
		     uint32_t *pid);

/* The TCP connection open on (pid, fd): addresses, and role SERVER when its
 * local port is one a socket of this host listens on, else CLIENT. 0,
 * -ENOENT (not a TCP connection) or -errno. */
int netpeer_conn_of_fd(struct netpeer *np, uint32_t pid, uint32_t fd, struct netprof_conn *ret);

/* Every socket fd of `pid` that is an established TCP connection, through
 * `fn`. Returns how many, or -errno. */
int netpeer_each_conn(struct netpeer *np, uint32_t pid,
		      void (*fn)(uint32_t pid, uint32_t fd, const struct netprof_conn *conn,
				 void *ctx),
		      void *ctx);

#endif
