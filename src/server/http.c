/* http: see http.h. */
#include "server/http.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/utf8.h"
#include "util/log.h"
#include "util/token.h"

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_config cfg;
	size_t body_bytes; /* buffered request bodies, all connections (atomic) */
};

/* Per-request state kept by MHD between calls of the access handler. */
struct request_state {
	int route;	/* index, -1 none */
	int path_route; /* a route whose path matched with another method, or -1 */
	bool too_large;
	bool over_budget;    /* every connection's bodies together were too large */
	bool unauthorized;   /* token needed and missing or wrong: body dropped */
	bool no_client_cert; /* TLS client certificate required, not valid */
	size_t dropped;	     /* bytes of a refused body read and dropped so far */
	char *params_buf;    /* copy of the path split into parameters */
	const char *params[HTTP_MAX_PARAMS];
	char *body;
	size_t len, cap, max;
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *http_query(const struct http_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

void http_reply_body(struct http_response *resp, int status, const char *content_type, char *body,
		     size_t len)
{
	free(resp->body);
	resp->status = status;
	resp->content_type = content_type;
	resp->body = body;
	resp->len = len;
}

void http_reply_json(struct http_response *resp, int status, json_t *value)
{
	char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	json_decref(value);
	if (!text) {
		http_reply_body(resp, 500, "application/json",
				strdup("{\"errors\":[\"out of memory\"]}"), 0);
		resp->len = resp->body ? strlen(resp->body) : 0;
		return;
	}
	http_reply_body(resp, status, "application/json", text, strlen(text));
}

void http_reply_errors(struct http_response *resp, int status, json_t *errors)
{
	http_reply_json(resp, status, json_pack("{s:o}", "errors", errors));
}

void http_reply_error(struct http_response *resp, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_repair(msg); /* else json_pack fails and the reply says "out of memory" */
	http_reply_errors(resp, status, json_pack("[s]", msg));
}

void http_reply_store_error(struct http_response *resp, int err, const char *what, const char *id)
{
	if (err == -ENOENT)
		http_reply_error(resp, 404, "unknown %s '%s'", what, id);
	else if (err == -ENOMEM)
		http_reply_error(resp, 503, "out of memory");
	else if (err == -ENOSPC)
		http_reply_error(resp, 507,
				 "store full: no space left on the server's disk; nothing of this "
				 "%s was stored, send it again later",
				 what);
	else
		http_reply_error(resp, 500, "store failure (%s); see the server log",
				 strerror(-err));
}

const char *http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* Matches `path` against a pattern segment by segment; on success fills
 * params (pointing into buf, a scratch copy of path of the same size). A
 * last pattern segment "*" matches whatever remains of the path. */
static bool match_pattern(const char *pattern, const char *path, char *buf,
			  const char *params[HTTP_MAX_PARAMS])
{
	const char *pp = pattern;
	size_t n = 0;
	char *seg;

	strcpy(buf, path);
	if (buf[0] != '/')
		return false;
	seg = buf + 1;
	for (;;) {
		const char *pend;
		char *send;
		size_t plen, slen;

		if (*pp != '/')
			return false;
		pp++;
		if (strcmp(pp, "*") == 0)
			return true;
		pend = strchr(pp, '/');
		send = strchr(seg, '/');
		plen = pend ? (size_t)(pend - pp) : strlen(pp);
		slen = send ? (size_t)(send - seg) : strlen(seg);
		if (send)
			*send = '\0';
		if (plen == 2 && strncmp(pp, "{}", 2) == 0) {
			if (slen == 0 || n >= HTTP_MAX_PARAMS)
				return false;
			params[n++] = seg;
		} else if (plen != slen || strncmp(pp, seg, plen) != 0) {
			return false;
		}
		if (!pend || !send)
			return !pend && !send;
		pp = pend;
		seg = send + 1;
	}
}

static void route_request(struct http_server *srv, const char *method, const char *path,
			  struct request_state *st)
{
	st->route = -1;
	st->path_route = -1;
	for (size_t i = 0; i < srv->cfg.n_routes; i++) {
		const struct http_route *r = &srv->cfg.routes[i];

		if (!match_pattern(r->pattern, path, st->params_buf, st->params))
			continue;
		if (strcmp(r->method, method) != 0) {
			if (st->path_route < 0)
				st->path_route = (int)i;
			continue;
		}
		st->route = (int)i;
		st->max = r->body_max;
		return;
	}
}

static enum MHD_Result send_response(struct http_server *srv, struct MHD_Connection *conn,
				     const char *route, struct http_response *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!resp->body) {
		resp->body = strdup("");
		resp->len = 0;
	}
	r = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(resp->body);
		return MHD_NO;
	}
	resp->body = NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				resp->content_type ? resp->content_type : "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
				resp->cache_control ? resp->cache_control : "no-store");
	if (resp->vary)
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, resp->vary);
	if (resp->content_encoding)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING,
					resp->content_encoding);
	if (resp->header_name)
		MHD_add_response_header(r, resp->header_name, resp->header_value);
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	if (srv->cfg.observe)
		srv->cfg.observe(srv->cfg.ctx, route, resp->status);
	return ret;
}

/* The token the route needs (NULL: none configured or none needed). */
static const char *route_token(const struct http_server *srv, const struct http_route *route)
{
	if (route->flags & HTTP_ROUTE_AGENT)
		return srv->cfg.agent_token;
	if (route->flags & HTTP_ROUTE_WRITE)
		return srv->cfg.write_token;
	return NULL;
}

static bool token_ok(const char *expected, struct MHD_Connection *conn)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return token_equal(expected, auth);
}

/* With a client CA configured: does the peer hold a certificate it signed? */
static bool client_cert_ok(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	unsigned status = 0;

	if (!info || !info->tls_session)
		return false;
	if (gnutls_certificate_verify_peers2((gnutls_session_t)info->tls_session, &status) < 0)
		return false;
	return status == 0;
}

/* Decides the answer once the whole body is in (or refused). */
static enum MHD_Result answer(struct http_server *srv, struct MHD_Connection *conn,
			      const char *method, const char *url, struct request_state *st)
{
	struct http_response resp = {.status = 200};
	const struct http_route *route = st->route >= 0 ? &srv->cfg.routes[st->route] : NULL;
	const char *label = route		  ? route->pattern
			    : st->path_route >= 0 ? srv->cfg.routes[st->path_route].pattern
						  : "unmatched";

	if (st->no_client_cert) {
		http_reply_error(&resp, 403,
				 "a TLS client certificate signed by the server's client CA is "
				 "required");
	} else if (!route && st->path_route >= 0) {
		http_reply_error(&resp, 405, "method %s is not allowed on %s", method, url);
	} else if (!route) {
		http_reply_error(&resp, 404, "no such endpoint: %s %s", method, url);
	} else if (st->unauthorized) {
		http_reply_error(&resp, 401,
				 "missing or wrong %s token: send 'Authorization: Bearer TOKEN'",
				 route->flags & HTTP_ROUTE_AGENT ? "agent" : "write");
		resp.header_name = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
		snprintf(resp.header_value, sizeof(resp.header_value), "Bearer");
	} else if (st->over_budget) {
		http_reply_error(&resp, 503, "server busy with other uploads; retry shortly");
		resp.header_name = MHD_HTTP_HEADER_RETRY_AFTER;
		snprintf(resp.header_value, sizeof(resp.header_value), "1");
	} else if (st->too_large) {
		http_reply_error(&resp, 413, "request body larger than %zu bytes", route->body_max);
	} else {
		struct http_request req = {
		    .conn = conn,
		    .method = method,
		    .path = url,
		    .body = st->len ? st->body : NULL,
		    .body_len = st->len,
		    .now_ms = wall_ms(),
		    .ctx = srv->cfg.ctx,
		};

		memcpy(req.params, st->params, sizeof(req.params));
		route->fn(&req, &resp);
	}
	return send_response(srv, conn, label, &resp);
}

/* Releases a body that will be refused, with its share of the budget. */
static void body_drop(struct http_server *srv, struct request_state *st, size_t size)
{
	__atomic_sub_fetch(&srv->body_bytes, st->cap, __ATOMIC_RELAXED);
	free(st->body);
	st->body = NULL;
	st->dropped += st->len + size;
	st->len = st->cap = 0;
}

/* Appends upload data to the request's body within the route's limit and
 * the server-wide budget; false only on ENOMEM. */
static bool body_append(struct http_server *srv, struct request_state *st, const char *data,
			size_t size)
{
	if (size > st->max - st->len) {
		st->too_large = true;
		body_drop(srv, st, size);
		return true; /* keep reading, drop the data; refuse at the end */
	}
	if (st->len + size + 1 > st->cap) {
		size_t cap = st->cap ? st->cap : 4096;
		char *nb;

		while (cap < st->len + size + 1)
			cap *= 2;
		if (cap > st->max + 1)
			cap = st->max + 1;
		if (__atomic_add_fetch(&srv->body_bytes, cap - st->cap, __ATOMIC_RELAXED) >
		    HTTP_BODY_BUDGET_BYTES) {
			__atomic_sub_fetch(&srv->body_bytes, cap - st->cap, __ATOMIC_RELAXED);
			st->over_budget = true;
			body_drop(srv, st, size);
			return true;
		}
		nb = realloc(st->body, cap);
		if (!nb) {
			__atomic_sub_fetch(&srv->body_bytes, cap - st->cap, __ATOMIC_RELAXED);
			return false;
		}
		st->body = nb;
		st->cap = cap;
	}
	memcpy(st->body + st->len, data, size);
	st->len += size;
	st->body[st->len] = '\0';
	return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct request_state *st = *con_cls;

	(void)version;
	if (!st) {
		const char *clen;
		uint64_t declared;

		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		st->params_buf = strdup(url);
		if (!st->params_buf) {
			free(st);
			return MHD_NO;
		}
		*con_cls = st;
		route_request(srv, method, url, st);
		if (srv->cfg.tls_client_ca_pem && !client_cert_ok(conn))
			st->no_client_cert = true;
		if (st->route >= 0) {
			const char *expected = route_token(srv, &srv->cfg.routes[st->route]);

			if (expected && !token_ok(expected, conn))
				st->unauthorized = true;
		}
		clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						   MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (st->route >= 0 && clen) {
			char *end;

			declared = strtoull(clen, &end, 10);
			if (*end == '\0' && declared > st->max) {
				st->too_large = true;
				/* A moderate excess is read and dropped so the client,
				 * still sending, reliably gets the 413; a huge one is
				 * refused at once and the connection closed. */
				if (declared > HTTP_DISCARD_MAX_BYTES)
					return answer(srv, conn, method, url, st);
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t size = *upload_data_size;

		*upload_data_size = 0;
		if (st->route >= 0 && !st->unauthorized && !st->no_client_cert && !st->too_large &&
		    !st->over_budget)
			return body_append(srv, st, upload_data, size) ? MHD_YES : MHD_NO;
		/* A refused body is drained (so the client reads the answer) up to
		 * a bound; beyond it the connection is closed. */
		st->dropped += size;
		return st->dropped > HTTP_DISCARD_MAX_BYTES ? MHD_NO : MHD_YES;
	}
	return answer(srv, conn, method, url, st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct request_state *st = *con_cls;

	(void)conn;
	(void)toe;
	if (!st)
		return;
	__atomic_sub_fetch(&srv->body_bytes, st->cap, __ATOMIC_RELAXED);
	free(st->body);
	free(st->params_buf);
	free(st);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("http: %s", msg);
}

/* A route that changes anything must say which token guards it. */
static int check_routes(const struct http_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->n_routes; i++) {
		const struct http_route *r = &cfg->routes[i];

		if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)
			continue;
		if (!(r->flags & (HTTP_ROUTE_AGENT | HTTP_ROUTE_WRITE))) {
			snprintf(err, errlen, "route %s %s changes state but needs no token",
				 r->method, r->pattern);
			return -EINVAL;
		}
	}
	return 0;
}

struct http_server *http_start(const struct http_config *cfg, char *err, size_t errlen)
{
	struct http_server *srv;
	unsigned flags =
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem tls[5] = {{MHD_OPTION_END, 0, NULL}};
	size_t n_tls = 0;

	if (check_routes(cfg, err, errlen) < 0)
		return NULL;
	if (cfg->tls_cert_pem || cfg->tls_key_pem) {
		if (!cfg->tls_cert_pem || !cfg->tls_key_pem) {
			snprintf(err, errlen, "TLS needs both a certificate and a key");
			return NULL;
		}
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errlen, "this libmicrohttpd was built without TLS");
			return NULL;
		}
		flags |= MHD_USE_TLS;
		tls[n_tls++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
						       (void *)cfg->tls_cert_pem};
		tls[n_tls++] =
		    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key_pem};
		tls[n_tls++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
						       (void *)HTTP_TLS_PRIORITIES};
		if (cfg->tls_client_ca_pem)
			tls[n_tls++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
							       (void *)cfg->tls_client_ca_pem};
		tls[n_tls] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	} else if (cfg->tls_client_ca_pem) {
		snprintf(err, errlen, "a client CA needs TLS (a certificate and a key)");
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->cfg = *cfg;
	if (cfg->addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	srv->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, tls, MHD_OPTION_SOCK_ADDR,
	    cfg->addr, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)(cfg->conn_limit ? cfg->conn_limit : HTTP_DEFAULT_CONN_LIMIT),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_TIMEOUT_S,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
	    srv, MHD_OPTION_END);
	if (!srv->daemon) {
		if (flags & MHD_USE_TLS)
			snprintf(err, errlen,
				 "cannot listen with TLS: %s (is the certificate/key pair valid "
				 "PEM? see the log with -v)",
				 strerror(errno ? errno : EADDRINUSE));
		else
			snprintf(err, errlen, "cannot listen: %s",
				 strerror(errno ? errno : EADDRINUSE));
		free(srv);
		return NULL;
	}
	return srv;
}

uint16_t http_port(const struct http_server *srv)
{
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

struct http_server *http_stop(struct http_server *srv)
{
	if (!srv)
		return NULL;
	MHD_stop_daemon(srv->daemon);
	free(srv);
	return NULL;
}
