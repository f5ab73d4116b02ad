/* http: the server's HTTP layer over libmicrohttpd — a route table, path
 * parameters, bounded request bodies, the token check and JSON replies.
 *
 * Threading model: one thread per connection (MHD_USE_THREAD_PER_CONNECTION
 * with a connection limit). Chosen because the agent's policy sync is a long
 * poll: a waiting request simply blocks its own thread on a condition
 * variable, while every other request keeps being served; the store
 * serializes database access behind one lock anyway, so an event-loop model
 * would add suspend/resume bookkeeping without adding throughput.
 *
 * Owns: reading the request (body up to the route's limit, else 413 before
 * or while reading; 503 when all connections together buffer more than
 * HTTP_BODY_BUDGET_BYTES), matching method + path ("{}" segments are parameters),
 * 404/405, the bearer tokens (401: the agent token on agent routes, the
 * write token on write routes), TLS (certificate and key in memory,
 * optionally requiring client certificates signed by a CA), handing a filled `http_request` to the
 * route's handler and sending its `http_response`. Does not own: what the
 * routes do (routes_*.c), counting (the observer callback).
 */
#ifndef CONTPROF_SERVER_HTTP_H
#define CONTPROF_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#define HTTP_MAX_PARAMS		  4
#define HTTP_DEFAULT_CONN_LIMIT	  512
#define HTTP_CONN_TIMEOUT_S	  120
#define HTTP_MAX_PATH_SEGMENTS	  16
#define HTTP_MAX_HEADER_VALUE_LEN 128
/* GnuTLS priorities of the HTTPS server: its defaults, TLS 1.2 and 1.3 only. */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
/* Request bodies buffered at once over all connections; above it: 503. */
#define HTTP_BODY_BUDGET_BYTES (512u * 1024 * 1024)
/* Too-large bodies up to this size are read and dropped before the 413. */
#define HTTP_DISCARD_MAX_BYTES (64u * 1024 * 1024)

struct MHD_Connection;

struct http_request {
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	const char *params[HTTP_MAX_PARAMS]; /* "{}" segments, in order */
	const char *body;		     /* NUL-terminated; NULL when empty */
	size_t body_len;
	int64_t now_ms; /* wall clock when the request was dispatched */
	void *ctx;	/* the server's context */
};

struct http_response {
	int status;
	char *body; /* malloc'd; sent and freed by http.c */
	size_t len;
	const char *content_type;     /* static */
	const char *content_encoding; /* static, or NULL */
	const char *cache_control;    /* static; NULL: "no-store" */
	const char *vary;	      /* static Vary header, or NULL */
	const char *header_name;      /* one extra header (static name), or NULL */
	char header_value[HTTP_MAX_HEADER_VALUE_LEN];
};

typedef void (*http_handler_fn)(struct http_request *req, struct http_response *resp);

/* Every route that changes anything (any method but GET and HEAD) must
 * carry one of these; http_start() refuses a table where one does not. */
enum {
	HTTP_ROUTE_AGENT = 1 << 0, /* needs the agent token when one is configured */
	HTTP_ROUTE_WRITE = 1 << 1, /* needs the write token when one is configured */
};

struct http_route {
	const char *method;
	const char *pattern; /* "/api/v1/tasks/{}/flamegraph"; a last "*" matches the rest */
	http_handler_fn fn;
	unsigned flags;
	size_t body_max; /* bytes; 0: no body accepted */
};

/* Called once per answered request with the route's pattern (or
 * "unmatched") and the status sent. From connection threads. */
typedef void (*http_observe_fn)(void *ctx, const char *route, int status);

struct http_config {
	const struct sockaddr *addr;
	socklen_t addr_len;
	const struct http_route *routes;
	size_t n_routes;
	const char *agent_token; /* NULL: HTTP_ROUTE_AGENT routes are open */
	const char *write_token; /* NULL: HTTP_ROUTE_WRITE routes are open */
	/* TLS, all PEM text (NULL: plain HTTP). With tls_client_ca_pem every
	 * request needs a client certificate signed by that CA (else 403). */
	const char *tls_cert_pem;
	const char *tls_key_pem;
	const char *tls_client_ca_pem;
	unsigned conn_limit;
	http_observe_fn observe;
	void *ctx;
};

struct http_server;

/* Starts listening and serving (routes/token must outlive the server).
 * NULL on failure with the reason in err. */
struct http_server *http_start(const struct http_config *cfg, char *err, size_t errlen);
/* The bound port (useful when listening on port 0). */
uint16_t http_port(const struct http_server *srv);
/* Stops accepting, waits for every connection thread; accepts NULL. */
struct http_server *http_stop(struct http_server *srv);

/* Query-string value of the request, or NULL. */
const char *http_query(const struct http_request *req, const char *key);

/* Request header value of the request, or NULL. */
const char *http_header(const struct http_request *req, const char *name);

/* Reply helpers: each replaces any previous body. */
void http_reply_json(struct http_response *resp, int status, json_t *value /* stolen */);
void http_reply_error(struct http_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void http_reply_errors(struct http_response *resp, int status, json_t *errors /* stolen */);
void http_reply_body(struct http_response *resp, int status, const char *content_type,
		     char *body /* stolen */, size_t len);
/* Maps a store error to a reply: -ENOENT 404 ("unknown WHAT 'ID'"), else 500. */
void http_reply_store_error(struct http_response *resp, int err, const char *what, const char *id);

#endif
