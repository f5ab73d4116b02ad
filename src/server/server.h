/* server: the `contprof server` process — store, HTTP API, policy-sync hub
 * and retention, run until SIGTERM or SIGINT.
 *
 * Owns: the lifecycle (open the store, listen, serve, stop cleanly: long
 * polls woken, connections joined, store closed), the listen-address and
 * token rules (a non-loopback address needs both the agent token and the
 * write token), and the retention
 * timer, reading the TLS certificate, key and client CA. Does not own: the routes (routes_*.c), the storage (store.h).
 */
#ifndef CONTPROF_SERVER_SERVER_H
#define CONTPROF_SERVER_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "server/store.h"

#define SERVER_DEFAULT_LISTEN "127.0.0.1:8080"
#define SERVER_DEFAULT_STORE  "sqlite:contprof.db"

struct server_options {
	const char *listen;		/* "HOST:PORT", "[V6]:PORT"; port 0 picks one */
	const char *store_url;		/* "sqlite:PATH" */
	const char *agent_token;	/* NULL: agent endpoints are open */
	const char *write_token;	/* NULL: policy and task writes are open */
	const char *tls_cert_file;	/* PEM; with tls_key_file: HTTPS */
	const char *tls_key_file;	/* PEM; others may not read it */
	const char *tls_client_ca_file; /* PEM; NULL: no client certificates */
	struct store_options store;
	int64_t retention_interval_ms;
};

struct server;
struct evloop;

/* Opens the store and starts serving (HTTP threads of its own); returns at
 * once. 0 and *ret, or -EINVAL (bad listen address, unusable TLS files),
 * -EPERM (non-loopback without both tokens, a world-readable key), -EIO
 * (store), -EADDRINUSE, -ENOMEM — each logged once. */
int server_start(const struct server_options *opts, struct server **ret);
/* Runs retention on `loop`'s thread (a timer). 0 or -errno. */
int server_attach(struct server *server, struct evloop *loop);
/* Cancels the retention timer; call before freeing the loop. NULL-safe. */
void server_detach(struct server *server);
/* The port actually listened on (useful with port 0). */
unsigned server_port(const struct server *server);
/* Wakes long polls, joins connections, closes the store. NULL-safe. */
struct server *server_stop(struct server *server);

/* Serves until SIGTERM/SIGINT (which the caller must have blocked in every
 * thread, see server_block_signals). Logs what went wrong once; returns the
 * process exit code (0 after a clean stop). */
int server_run(const struct server_options *opts);

/* Blocks SIGTERM, SIGINT (and ignores SIGPIPE) in the calling thread, so
 * threads created later inherit the mask and server_run receives them
 * through a signalfd. 0 or -errno. */
int server_block_signals(void);

/* Parses "HOST:PORT" into a socket address; *ret_loopback when every
 * address it names is a loopback one. 0 or -EINVAL. */
struct sockaddr_storage;
int server_parse_listen(const char *listen, struct sockaddr_storage *ret, unsigned *ret_len,
			bool *ret_loopback);

#endif
