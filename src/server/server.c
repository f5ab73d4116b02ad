/* server: see server.h. */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/context.h"
#include "server/http.h"
#include "server/webui.h"
#include "util/evloop.h"
#include "util/log.h"
#include "util/token.h"

#define RETENTION_BUSY_INTERVAL_MS 200 /* when a batch left more to delete */

int server_block_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static bool addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return false;
}

int server_parse_listen(const char *listen, struct sockaddr_storage *ret, unsigned *ret_len,
			bool *ret_loopback)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	char host[256];
	const char *colon, *port;
	size_t hlen;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		hlen = (size_t)(close - listen - 1);
		memcpy(host, listen + 1, hlen < sizeof(host) ? hlen : 0);
		port = close + 2;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - listen);
		memcpy(host, listen, hlen < sizeof(host) ? hlen : 0);
		port = colon + 1;
	}
	if (hlen >= sizeof(host) || !*port)
		return -EINVAL;
	host[hlen] = '\0';
	if (getaddrinfo(hlen ? host : NULL, port, &hints, &res) != 0 || !res)
		return -EINVAL;
	memcpy(ret, res->ai_addr, res->ai_addrlen);
	*ret_len = (unsigned)res->ai_addrlen;
	*ret_loopback = hlen > 0 && addr_is_loopback(res->ai_addr);
	freeaddrinfo(res);
	return 0;
}

static void observe(void *c, const char *route, int status)
{
	struct server_ctx *ctx = c;

	prom_count_request(ctx->prom, route, status);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct server {
	struct server_ctx ctx;
	char *tls_cert, *tls_key, *tls_client_ca; /* PEM text */
	struct http_route *routes;
	struct http_server *http;
	bool sync_ready;
	int64_t retention_interval_ms;
	int64_t agent_silence_ms;
	int64_t started_wall_ms;
	struct evloop_timer *retention_timer;
	struct evloop *loop;
};

/* Reads the PEM files named in opts into s. 0, or -EINVAL / -EPERM / -errno
 * logged once. */
static int read_tls(struct server *s, const struct server_options *opts)
{
	char err[TOKEN_ERROR_MAX_LEN];
	int r = 0;

	if (!opts->tls_cert_file != !opts->tls_key_file) {
		log_error("server: TLS needs both --tls-cert and --tls-key");
		return -EINVAL;
	}
	if (opts->tls_client_ca_file && !opts->tls_cert_file) {
		log_error("server: --tls-client-ca needs TLS (--tls-cert and --tls-key)");
		return -EINVAL;
	}
	if (!opts->tls_cert_file)
		return 0;
	r = token_read_pem(opts->tls_cert_file, false, &s->tls_cert, err, sizeof(err));
	if (r == 0)
		r = token_read_pem(opts->tls_key_file, true, &s->tls_key, err, sizeof(err));
	if (r == 0 && opts->tls_client_ca_file)
		r = token_read_pem(opts->tls_client_ca_file, false, &s->tls_client_ca, err,
				   sizeof(err));
	if (r < 0) {
		log_error("server: %s", err);
		return r == -EPERM ? -EPERM : -EINVAL;
	}
	return 0;
}

int server_start(const struct server_options *opts, struct server **ret)
{
	struct sockaddr_storage addr;
	unsigned addr_len = 0;
	bool loopback = false;
	struct server *s;
	char err[512];
	size_t n = 0;
	int err_no;

	if (server_parse_listen(opts->listen, &addr, &addr_len, &loopback) < 0) {
		log_error("server: cannot use listen address '%s' (expected HOST:PORT, e.g. "
			  "127.0.0.1:8080 or [::1]:8080)",
			  opts->listen);
		return -EINVAL;
	}
	if (!loopback && (!opts->agent_token || !opts->write_token)) {
		log_error("server: refusing to listen on non-loopback address %s without %s: "
			  "pass --agent-token-file FILE and --write-token-file FILE (or "
			  "--token-file FILE for both; or set CONTPROF_AGENT_TOKEN, "
			  "CONTPROF_WRITE_TOKEN, CONTPROF_TOKEN)",
			  opts->listen,
			  !opts->agent_token && !opts->write_token ? "a token"
			  : !opts->agent_token			   ? "an agent token"
								   : "a write token");
		return -EPERM;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	err_no = read_tls(s, opts);
	if (err_no < 0) {
		server_stop(s);
		return err_no;
	}
	if (opts->agent_token && opts->write_token &&
	    token_equal(opts->agent_token, opts->write_token))
		log_warn("server: the agent token and the write token are the same: every agent "
			 "can change policies and start tasks (separate them: docs/security.md)");
	if (!loopback && !s->tls_cert)
		log_warn("server: listening on %s without TLS: tokens and profiles cross the "
			 "network in clear text (see --tls-cert, --tls-key)",
			 opts->listen);
	s->retention_interval_ms = opts->retention_interval_ms > 0 ? opts->retention_interval_ms
								   : SERVER_RETENTION_INTERVAL_MS;
	s->agent_silence_ms = opts->store.agent_silence_ms;
	s->started_wall_ms = wall_ms();
	s->ctx.store = store_open(opts->store_url, &opts->store, err, sizeof(err));
	if (!s->ctx.store) {
		log_error("server: cannot open store %s: %s", opts->store_url, err);
		server_stop(s);
		return -EIO;
	}
	s->ctx.prom = prom_new();
	s->routes = calloc(routes_agent_count + routes_query_count + routes_tasks_count +
			       routes_webui_count,
			   sizeof(*s->routes));
	if (!s->ctx.prom || !s->routes || sync_init(&s->ctx.sync) < 0) {
		log_error("server: out of memory");
		server_stop(s);
		return -ENOMEM;
	}
	s->sync_ready = true;
	if (store_watch(s->ctx.store, sync_store_changed, &s->ctx.sync) < 0) {
		log_error("server: cannot watch the store for other servers' changes");
		server_stop(s);
		return -EIO;
	}
	memcpy(s->routes + n, routes_query, routes_query_count * sizeof(*s->routes));
	n += routes_query_count;
	memcpy(s->routes + n, routes_tasks, routes_tasks_count * sizeof(*s->routes));
	n += routes_tasks_count;
	memcpy(s->routes + n, routes_agent, routes_agent_count * sizeof(*s->routes));
	n += routes_agent_count;
	memcpy(s->routes + n, routes_webui, routes_webui_count * sizeof(*s->routes));
	n += routes_webui_count;

	s->http = http_start(
	    &(struct http_config){
		.addr = (struct sockaddr *)&addr,
		.addr_len = addr_len,
		.routes = s->routes,
		.n_routes = n,
		.agent_token = opts->agent_token,
		.write_token = opts->write_token,
		.tls_cert_pem = s->tls_cert,
		.tls_key_pem = s->tls_key,
		.tls_client_ca_pem = s->tls_client_ca,
		.observe = observe,
		.ctx = &s->ctx,
	    },
	    err, sizeof(err));
	if (!s->http) {
		log_error("server: %s on %s", err, opts->listen);
		server_stop(s);
		return -EADDRINUSE;
	}
	log_info("server: listening on %s port %u (%s, store %s%s%s%s)", opts->listen,
		 http_port(s->http), s->tls_cert ? "https" : "http", opts->store_url,
		 opts->agent_token ? ", agent token required" : "",
		 opts->write_token ? ", write token required" : "",
		 s->tls_client_ca ? ", client certificates required" : "");
	*ret = s;
	return 0;
}

unsigned server_port(const struct server *s)
{
	return http_port(s->http);
}

static void on_retention(struct evloop *loop, uint64_t expirations, void *ctx)
{
	struct server *s = ctx;
	bool more = false;
	int64_t now = wall_ms();
	uint64_t closed = 0;

	(void)expirations;
	if (store_retention(s->ctx.store, now, &more) < 0)
		log_warn("server: retention pass failed; retrying later");
	/* An agent is silent when it sent no keepalive for the whole timeout
	 * while this server ran: after an outage of the server, agents get
	 * that long to come back before their tasks are closed. */
	if (s->agent_silence_ms > 0 && now - s->started_wall_ms >= s->agent_silence_ms) {
		if (store_fail_silent_tasks(s->ctx.store, now - s->agent_silence_ms, now, &closed) <
		    0)
			log_warn("server: cannot close the tasks of silent agents; retrying later");
		else if (closed)
			log_info("server: %" PRIu64 " running tasks failed: %s (no keepalive for "
				 "%" PRId64 " s)",
				 closed, STORE_SILENT_REASON, s->agent_silence_ms / 1000);
	}
	/* Re-arm: soon when a batch left more to delete, else after the interval. */
	s->retention_timer = NULL;
	if (evloop_add_timer(loop,
			     more ? RETENTION_BUSY_INTERVAL_MS : (uint64_t)s->retention_interval_ms,
			     0, on_retention, s, &s->retention_timer) < 0)
		log_warn("server: cannot schedule retention");
}

int server_attach(struct server *s, struct evloop *loop)
{
	s->loop = loop;
	return evloop_add_timer(loop, (uint64_t)s->retention_interval_ms, 0, on_retention, s,
				&s->retention_timer);
}

void server_detach(struct server *s)
{
	if (s && s->loop && s->retention_timer)
		evloop_cancel_timer(s->loop, s->retention_timer);
	if (s) {
		s->loop = NULL;
		s->retention_timer = NULL;
	}
}

struct server *server_stop(struct server *s)
{
	if (!s)
		return NULL;
	server_detach(s);
	if (s->sync_ready)
		sync_stop(&s->ctx.sync); /* wake long polls before joining them */
	s->http = http_stop(s->http);
	store_unwatch(s->ctx.store); /* no wake-up after the hub is gone */
	if (s->sync_ready)
		sync_destroy(&s->ctx.sync);
	free(s->routes);
	free(s->tls_cert);
	if (s->tls_key)
		explicit_bzero(s->tls_key, strlen(s->tls_key));
	free(s->tls_key);
	free(s->tls_client_ca);
	s->ctx.prom = prom_free(s->ctx.prom);
	s->ctx.store = store_close(s->ctx.store);
	free(s);
	return NULL;
}

static void on_stop_signal(struct evloop *loop, int signo, void *ctx)
{
	(void)ctx;
	log_info("server: %s received, stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
	evloop_stop(loop);
}

int server_run(const struct server_options *opts)
{
	struct server *s = NULL;
	struct evloop *loop = NULL;
	sigset_t set;
	int err, rc = 1;

	err = server_start(opts, &s);
	if (err)
		return err == -EINVAL || err == -EPERM ? 2 : 1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	loop = evloop_new();
	if (!loop || evloop_add_signals(loop, &set, on_stop_signal, NULL) < 0 ||
	    server_attach(s, loop) < 0) {
		log_error("server: cannot set up the event loop");
		goto out;
	}
	rc = evloop_run(loop) < 0 ? 1 : 0;
out:
	s = server_stop(s);
	evloop_free(loop);
	if (rc == 0)
		log_info("server: stopped");
	return rc;
}
