/* demo_http: the little HTTP/1.1 the demo roles speak on 127.0.0.1 —
 * keep-alive, GET without bodies, one response per write so the HTTP monitor
 * sees every status line start a write. A server with one thread per
 * connection, a keep-alive client, and the options every role shares.
 * Not a general HTTP implementation: it serves and calls only the demo. */
#ifndef CONTPROF_DEMO_DEMO_HTTP_H
#define CONTPROF_DEMO_DEMO_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "demo/demo.h"

#define DEMO_HTTP_BUF_BYTES  8192 /* request or response head, and body */
#define DEMO_HTTP_PATH_BYTES 256

/* What every role is told by `contprof up --demo`. */
struct demo_role_options {
	int listen_fd;	    /* frontend, backend: an inherited listening socket */
	uint32_t peer_port; /* frontend: the backend; load: the frontend */
	int64_t start_ms;   /* the schedule's start (Unix ms, CLOCK_REALTIME) */
	struct demo_schedule schedule;
};

/* Parses the role's options (--listen-fd, --peer-port, --start-ms,
 * --schedule, and --up-pid which only names the demo's parent in the command
 * line); prints what is wrong and returns -EINVAL. Sets the process name
 * (comm) to argv[0], ignores SIGPIPE and asks for SIGTERM when the parent
 * dies. */
int demo_role_setup(int argc, char **argv, struct demo_role_options *ret);

/* The phase now, and when it ends (Unix ms). */
enum demo_phase demo_phase_now(const struct demo_role_options *o, int64_t *ret_end_ms);
int64_t demo_now_ms(void);
void demo_sleep_ms(int64_t ms);

/* Handles one request: fills status and a NUL-terminated body (at most
 * body_len bytes). Called on the connection's thread. */
typedef void (*demo_handler_fn)(const char *method, const char *path, int *status, char *body,
				size_t body_len, void *ctx);

/* Accepts on listen_fd forever, one detached thread per connection (at most
 * DEMO_MAX_CONNECTIONS). Returns only on a fatal accept error (1). */
int demo_http_serve(int listen_fd, demo_handler_fn handler, void *ctx);

/* One keep-alive connection to 127.0.0.1:port, opened on first use and again
 * after a failure. One thread uses one client. */
struct demo_client {
	uint32_t port;
	int fd;
	char buf[DEMO_HTTP_BUF_BYTES + 1];
	size_t have;
};

void demo_client_init(struct demo_client *c, uint32_t port);
void demo_client_close(struct demo_client *c);
/* GET path; the response status (>= 100), or -errno when the exchange failed
 * (the connection is then closed; the next call reconnects). */
int demo_client_get(struct demo_client *c, const char *path);

#endif
