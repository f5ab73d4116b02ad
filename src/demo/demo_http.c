/* demo_http: see demo_http.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "demo/demo_http.h"
#include "util/parse.h"

int64_t demo_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void demo_sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

enum demo_phase demo_phase_now(const struct demo_role_options *o, int64_t *ret_end_ms)
{
	int64_t elapsed = demo_now_ms() - o->start_ms, end;
	enum demo_phase phase;

	if (elapsed < 0)
		elapsed = 0;
	phase = demo_phase_at(&o->schedule, elapsed, &end);
	if (ret_end_ms)
		*ret_end_ms = o->start_ms + end;
	return phase;
}

int demo_role_setup(int argc, char **argv, struct demo_role_options *ret)
{
	static const struct option opts[] = {{"listen-fd", required_argument, NULL, 'l'},
					     {"peer-port", required_argument, NULL, 'p'},
					     {"start-ms", required_argument, NULL, 's'},
					     {"schedule", required_argument, NULL, 'S'},
					     {"up-pid", required_argument, NULL, 'u'},
					     {NULL, 0, NULL, 0}};
	struct demo_role_options o = {.listen_fd = -1};
	const char *schedule = DEMO_SCHEDULE_DEFAULT;
	uint32_t u32;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (parse_u32(optarg, &u32) < 0 || u32 > 1024)
				goto bad;
			o.listen_fd = (int)u32;
			break;
		case 'p':
			if (parse_u32(optarg, &o.peer_port) < 0 || o.peer_port > 65535)
				goto bad;
			break;
		case 's':
			if (parse_i64(optarg, &o.start_ms) < 0)
				goto bad;
			break;
		case 'S':
			schedule = optarg;
			break;
		case 'u':
			if (parse_u32(optarg, &u32) < 0)
				goto bad;
			break;
		default:
			goto bad;
		}
	}
	if (optind < argc || demo_schedule_parse(schedule, &o.schedule) < 0)
		goto bad;
	if (!o.start_ms)
		o.start_ms = demo_now_ms();
	prctl(PR_SET_NAME, argv[0], 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	*ret = o;
	return 0;
bad:
	fprintf(stderr,
		"contprof %s: a role of `contprof up --demo`, not meant to be run by hand\n"
		"usage: contprof %s [--listen-fd FD] [--peer-port PORT] [--start-ms MS]\n"
		"                 [--schedule WARMUP,TROUBLE,CALM] [--up-pid PID]\n",
		argv[0], argv[0]);
	return -EINVAL;
}

/* ---- server ---- */

struct conn_args {
	int fd;
	demo_handler_fn handler;
	void *ctx;
};

static int active_connections;

static const char *reason_of(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 404:
		return "Not Found";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	default:
		return status >= 500 ? "Server Error" : "Unknown";
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The Content-Length of a head (0 when absent or malformed). */
static size_t content_length(const char *head)
{
	const char *p = head;

	while ((p = strchr(p, '\n')) != NULL) {
		uint64_t v;
		char num[24];
		size_t n;

		p++;
		if (strncasecmp(p, "Content-Length:", 15) != 0)
			continue;
		p += 15;
		while (*p == ' ')
			p++;
		n = strcspn(p, "\r\n");
		if (n == 0 || n >= sizeof(num))
			return 0;
		memcpy(num, p, n);
		num[n] = '\0';
		return parse_u64(num, &v) == 0 && v < DEMO_HTTP_BUF_BYTES ? (size_t)v : 0;
	}
	return 0;
}

/* Reads until buf holds a whole head; returns the head's length (with the
 * blank line) or -1 on EOF/error/oversize. */
static ssize_t read_head(int fd, char *buf, size_t *have)
{
	for (;;) {
		char *end;
		ssize_t r;

		buf[*have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end)
			return end - buf + 4;
		if (*have >= DEMO_HTTP_BUF_BYTES)
			return -1;
		r = read(fd, buf + *have, DEMO_HTTP_BUF_BYTES - *have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		*have += (size_t)r;
	}
}

/* Drops `n` bytes from the front of buf, reading what is not there yet. */
static int consume(int fd, char *buf, size_t *have, size_t n)
{
	while (*have < n) {
		ssize_t r = read(fd, buf + *have, DEMO_HTTP_BUF_BYTES - *have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		*have += (size_t)r;
	}
	memmove(buf, buf + n, *have - n);
	*have -= n;
	return 0;
}

static void *serve_connection(void *arg)
{
	struct conn_args *a = arg;
	char *buf = malloc(DEMO_HTTP_BUF_BYTES + 1), *body = malloc(DEMO_HTTP_BUF_BYTES);
	char *out = malloc(2 * DEMO_HTTP_BUF_BYTES);
	size_t have = 0;

	while (buf && body && out) {
		char method[16], path[DEMO_HTTP_PATH_BYTES];
		ssize_t head = read_head(a->fd, buf, &have);
		int status = 404, n;

		if (head < 0 || sscanf(buf, "%15s %255s", method, path) != 2)
			break;
		if (consume(a->fd, buf, &have, (size_t)head + content_length(buf)) < 0)
			break;
		body[0] = '\0';
		a->handler(method, path, &status, body, DEMO_HTTP_BUF_BYTES, a->ctx);
		n = snprintf(out, 2 * DEMO_HTTP_BUF_BYTES,
			     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: "
			     "%zu\r\n\r\n%s",
			     status, reason_of(status), strlen(body), body);
		if (n < 0 || write_all(a->fd, out, (size_t)n) < 0)
			break;
	}
	free(out);
	free(body);
	free(buf);
	close(a->fd);
	free(a);
	__atomic_fetch_sub(&active_connections, 1, __ATOMIC_RELAXED);
	return NULL;
}

int demo_http_serve(int listen_fd, demo_handler_fn handler, void *ctx)
{
	int one = 1;

	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		struct conn_args *a;
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			perror("demo: accept");
			return 1;
		}
		if (__atomic_load_n(&active_connections, __ATOMIC_RELAXED) >=
		    DEMO_MAX_CONNECTIONS) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		a = malloc(sizeof(*a));
		if (!a) {
			close(fd);
			continue;
		}
		*a = (struct conn_args){.fd = fd, .handler = handler, .ctx = ctx};
		__atomic_fetch_add(&active_connections, 1, __ATOMIC_RELAXED);
		if (pthread_create(&t, NULL, serve_connection, a) != 0) {
			__atomic_fetch_sub(&active_connections, 1, __ATOMIC_RELAXED);
			close(fd);
			free(a);
			continue;
		}
		pthread_detach(t);
	}
}

/* ---- client ---- */

void demo_client_init(struct demo_client *c, uint32_t port)
{
	c->port = port;
	c->fd = -1;
	c->have = 0;
}

void demo_client_close(struct demo_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->have = 0;
}

static int client_connect(struct demo_client *c)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
	int one = 1;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = -errno;

		demo_client_close(c);
		return err;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->have = 0;
	return 0;
}

int demo_client_get(struct demo_client *c, const char *path)
{
	char req[DEMO_HTTP_PATH_BYTES + 128];
	ssize_t head;
	int n, status;

	if (c->fd < 0 && client_connect(c) < 0)
		return -ECONNREFUSED;
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: contprof-demo\r\n\r\n",
		     path, c->port);
	if (n < 0 || (size_t)n >= sizeof(req) || write_all(c->fd, req, (size_t)n) < 0)
		goto fail;
	head = read_head(c->fd, c->buf, &c->have);
	if (head < 0 || sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1 || status < 100)
		goto fail;
	if (consume(c->fd, c->buf, &c->have, (size_t)head + content_length(c->buf)) < 0)
		goto fail;
	return status;
fail:
	demo_client_close(c);
	return -EIO;
}
