/* server: see server.h. */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "server/context.h"
#include "server/http.h"
#include "server/webui.h"
#include "util/log.h"

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

int server_read_token_file(const char *path, char **ret)
{
	char buf[SERVER_TOKEN_MAX_LEN + 2];
	size_t n, start = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	n = strlen(buf);
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	while (buf[start] == ' ' || buf[start] == '\t')
		start++;
	if (buf[start] == '\0' || n - start > SERVER_TOKEN_MAX_LEN)
		return -EINVAL;
	*ret = strdup(buf + start);
	return *ret ? 0 : -ENOMEM;
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

static void arm_timer(int tfd, int64_t ms)
{
	struct itimerspec its = {
	    .it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}};

	timerfd_settime(tfd, 0, &its, NULL);
}

/* The main thread's loop: signals end it, the timer runs retention. */
static int event_loop(struct server_ctx *ctx, int64_t interval_ms)
{
	sigset_t set;
	int sfd = -1, tfd = -1, ep = -1, rc = 1;
	struct epoll_event ev = {.events = EPOLLIN};

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || ep < 0) {
		log_error("server: cannot set up the event loop: %s", strerror(errno));
		goto out;
	}
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	arm_timer(tfd, interval_ms);
	for (;;) {
		struct epoll_event got;
		int n = epoll_wait(ep, &got, 1, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("server: epoll: %s", strerror(errno));
			goto out;
		}
		if (got.data.fd == sfd) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				log_info("server: %s received, stopping",
					 si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
				rc = 0;
				goto out;
			}
		} else {
			uint64_t expirations;
			bool more = false;

			if (read(tfd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
				continue;
			if (store_retention(ctx->store, wall_ms(), &more) < 0)
				log_warn("server: retention pass failed; retrying later");
			arm_timer(tfd, more ? RETENTION_BUSY_INTERVAL_MS : interval_ms);
		}
	}
out:
	if (ep >= 0)
		close(ep);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	return rc;
}

int server_run(const struct server_options *opts)
{
	struct server_ctx ctx = {0};
	struct http_route *routes = NULL;
	struct http_server *http = NULL;
	struct sockaddr_storage addr;
	unsigned addr_len = 0;
	bool loopback = false, sync_ready = false;
	char err[512];
	size_t n = 0;
	int rc = 1;

	if (server_parse_listen(opts->listen, &addr, &addr_len, &loopback) < 0) {
		log_error("server: cannot use listen address '%s' (expected HOST:PORT, e.g. "
			  "127.0.0.1:8080 or [::1]:8080)",
			  opts->listen);
		return 2;
	}
	if (!loopback && !opts->token) {
		log_error("server: refusing to listen on non-loopback address %s without a token: "
			  "pass --token-file FILE or set CONTPROF_TOKEN (agents and writes then "
			  "need 'Authorization: Bearer TOKEN')",
			  opts->listen);
		return 2;
	}
	ctx.store = store_open(opts->store_url, &opts->store, err, sizeof(err));
	if (!ctx.store) {
		log_error("server: cannot open store %s: %s", opts->store_url, err);
		return 1;
	}
	ctx.prom = prom_new();
	routes = calloc(routes_agent_count + routes_query_count + routes_tasks_count +
			    routes_webui_count,
			sizeof(*routes));
	if (!ctx.prom || !routes || sync_init(&ctx.sync) < 0) {
		log_error("server: out of memory");
		goto out;
	}
	sync_ready = true;
	memcpy(routes + n, routes_query, routes_query_count * sizeof(*routes));
	n += routes_query_count;
	memcpy(routes + n, routes_tasks, routes_tasks_count * sizeof(*routes));
	n += routes_tasks_count;
	memcpy(routes + n, routes_agent, routes_agent_count * sizeof(*routes));
	n += routes_agent_count;
	memcpy(routes + n, routes_webui, routes_webui_count * sizeof(*routes));
	n += routes_webui_count;

	http = http_start(
	    &(struct http_config){
		.addr = (struct sockaddr *)&addr,
		.addr_len = addr_len,
		.routes = routes,
		.n_routes = n,
		.token = opts->token,
		.observe = observe,
		.ctx = &ctx,
	    },
	    err, sizeof(err));
	if (!http) {
		log_error("server: %s on %s", err, opts->listen);
		goto out;
	}
	log_info("server: listening on %s port %u (store %s%s)", opts->listen, http_port(http),
		 opts->store_url, opts->token ? ", token required" : "");
	rc = event_loop(&ctx, opts->retention_interval_ms > 0 ? opts->retention_interval_ms
							      : SERVER_RETENTION_INTERVAL_MS);
out:
	if (sync_ready)
		sync_stop(&ctx.sync); /* wake long polls before joining them */
	http = http_stop(http);
	if (sync_ready)
		sync_destroy(&ctx.sync);
	free(routes);
	ctx.prom = prom_free(ctx.prom);
	ctx.store = store_close(ctx.store);
	if (rc == 0)
		log_info("server: stopped");
	return rc;
}
