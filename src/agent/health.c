/* health: see health.h. The daemon runs in libmicrohttpd's "external epoll"
 * mode: MHD keeps its own epoll set of the listening and client sockets, the
 * loop watches that set's fd and calls MHD_run() when it is readable, and a
 * 1 s timer lets MHD close idle connections. */
#include "agent/health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/strbuf.h"
#include "server/server.h"
#include "util/evloop.h"
#include "util/log.h"

struct health_server {
	struct MHD_Daemon *daemon;
	struct evloop *loop;
	struct evloop_timer *timer;
	int epoll_fd;
	health_fill_fn fill;
	void *ctx;
};

static void metric(struct strbuf *b, const char *name, const char *type, const char *help,
		   double value)
{
	strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name,
		      value);
}

char *health_render(const struct health_figures *f, size_t *ret_len)
{
	const struct uplink_stats *u = &f->uplink;
	struct strbuf b;
	char *text;

	strbuf_init(&b, HEALTH_RENDER_MAX_BYTES);
	metric(&b, "contprof_agent_discovered_processes", "gauge",
	       "Live processes matched by the config's rules.", (double)f->discovered_processes);
	metric(&b, "contprof_agent_watched_processes", "gauge",
	       "Live processes of services with a policy, sampled every second.",
	       (double)f->watched_processes);
	metric(&b, "contprof_agent_policies", "gauge", "Policies in force.", (double)f->policies);
	metric(&b, "contprof_agent_ticks_total", "counter", "Watch ticks run.", (double)f->ticks);
	metric(&b, "contprof_agent_tick_overruns_total", "counter",
	       "Ticks missed because a tick or the loop ran late.", (double)f->tick_overruns);
	metric(&b, "contprof_agent_tick_duration_seconds", "gauge",
	       "Duration of the last watch tick.", f->tick_last_s);
	metric(&b, "contprof_agent_tick_duration_max_seconds", "gauge",
	       "Longest watch tick since the agent started.", f->tick_max_s);
	metric(&b, "contprof_agent_tasks_running", "gauge", "Profiling tasks running.",
	       (double)f->tasks_running);
	metric(&b, "contprof_agent_tasks_started_total", "counter",
	       "Profiling tasks started (policy and manual).", (double)f->tasks_started);
	metric(&b, "contprof_agent_tasks_failed_total", "counter", "Profiling tasks that failed.",
	       (double)f->tasks_failed);
	metric(&b, "contprof_agent_spool_records", "gauge",
	       "Messages waiting in the on-disk spool (task reports, ends, slices).",
	       (double)u->spool_records);
	metric(&b, "contprof_agent_spool_bytes", "gauge", "Bytes waiting in the on-disk spool.",
	       (double)u->spool_bytes);
	metric(&b, "contprof_agent_metrics_buffered", "gauge",
	       "Metric points waiting for the next upload.", (double)u->metrics_buffered);
	metric(&b, "contprof_agent_metrics_sent_total", "counter",
	       "Metric points delivered to the server.", (double)u->metrics_sent);
	metric(&b, "contprof_agent_metrics_dropped_total", "counter",
	       "Metric points dropped (buffer bound reached while the server was away, or "
	       "refused).",
	       (double)u->metrics_dropped);
	metric(&b, "contprof_agent_messages_sent_total", "counter",
	       "Spooled messages delivered to the server.", (double)u->messages_sent);
	metric(&b, "contprof_agent_messages_rejected_total", "counter",
	       "Spooled messages the server refused for good (4xx).", (double)u->messages_rejected);
	metric(&b, "contprof_agent_spool_full_dropped_total", "counter",
	       "Messages not spooled because the spool was full.", (double)u->spool_full_dropped);
	metric(&b, "contprof_agent_spool_write_errors_total", "counter",
	       "Messages lost because the spool could not be written (disk full, I/O error).",
	       (double)u->spool_write_errors);
	metric(&b, "contprof_agent_profile_samples_spooled_total", "counter",
	       "Stack samples in the profile slices written to the spool for the server "
	       "(each slice counted once, when spooled; resends do not count again).",
	       (double)u->profile_samples_spooled);
	metric(&b, "contprof_agent_server_reachable", "gauge",
	       "1 when the last exchange with the server got an answer.",
	       u->server_reachable ? 1 : 0);
	metric(&b, "contprof_agent_procevents_active", "gauge",
	       "1 when exec/exit events come from BPF, 0 when only rescans find processes.",
	       f->procevents_active ? 1 : 0);
	metric(&b, "contprof_agent_httpmon_loading", "gauge",
	       "1 while the HTTP monitor's BPF programs load (off the agent's loop).",
	       f->httpmon_loading ? 1 : 0);
	metric(&b, "contprof_agent_httpmon_loaded", "gauge",
	       "1 when the HTTP monitor's BPF programs are loaded.", f->httpmon_loaded ? 1 : 0);
	metric(&b, "contprof_agent_httpmon_load_seconds", "gauge",
	       "Duration of the last load of the HTTP monitor's BPF programs.", f->httpmon_load_s);
	metric(&b, "contprof_agent_procevents_dropped_total", "counter",
	       "Exec/exit events the kernel could not queue (each forces a rescan).",
	       (double)f->procevents_dropped);
	metric(&b, "contprof_agent_rescans_forced_total", "counter",
	       "Rescans of /proc run at once because exec/exit events were dropped.",
	       (double)f->rescans_forced);
	metric(&b, "contprof_agent_discover_dropped_total", "counter",
	       "Matched processes not kept because the process table was full.",
	       (double)f->discover_dropped);
	metric(&b, "contprof_agent_cpu_seconds_total", "counter",
	       "CPU time (user + system) the agent used.", f->cpu_seconds);
	metric(&b, "contprof_agent_cpu_percent", "gauge",
	       "CPU the agent used, % of one core, over the last minute.", f->cpu_percent);
	metric(&b, "contprof_agent_resident_memory_bytes", "gauge", "Resident set size.",
	       (double)f->rss_bytes);
	text = strbuf_steal(&b);
	if (text)
		*ret_len = strlen(text);
	return text;
}

int health_self_cpu(double *ret_cpu_s)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -errno;
	*ret_cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return 0;
}

int health_self_usage(double *ret_cpu_s, uint64_t *ret_rss_bytes)
{
	unsigned long long size = 0, resident = 0;
	double cpu_s;
	FILE *f;
	int n = health_self_cpu(&cpu_s);

	if (n < 0)
		return n;
	f = fopen("/proc/self/statm", "re");
	if (!f)
		return -errno;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	if (n != 2)
		return -EIO;
	*ret_cpu_s = cpu_s;
	*ret_rss_bytes = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

/* Sends `body` (`mode` says whether MHD frees it). */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ok;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	return reply(conn, status, "text/plain", (char *)text, strlen(text),
		     MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct health_server *s = cls;
	struct health_figures f;
	size_t len = 0;
	char *body;

	(void)version;
	(void)upload;
	if (!*req_cls) {
		/* First call: headers only. Answer on the next one. */
		*req_cls = s;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* no body is read: ignore it */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return reply_text(conn, MHD_HTTP_NOT_FOUND,
				  "not found: the agent serves /metrics\n");
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	memset(&f, 0, sizeof(f));
	s->fill(s->ctx, &f);
	body = health_render(&f, &len);
	if (!body)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
		     MHD_RESPMEM_MUST_FREE);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("agent metrics endpoint: %s", msg);
}

static void on_ready(struct evloop *loop, int fd, uint32_t events, void *ctx)
{
	struct health_server *s = ctx;

	(void)loop;
	(void)fd;
	(void)events;
	MHD_run(s->daemon);
}

static void on_timer(struct evloop *loop, uint64_t expirations, void *ctx)
{
	struct health_server *s = ctx;

	(void)loop;
	(void)expirations;
	MHD_run(s->daemon); /* closes connections idle past the timeout */
}

int health_serve(const char *listen, struct evloop *loop, health_fill_fn fn, void *ctx,
		 struct health_server **ret)
{
	struct sockaddr_storage addr;
	unsigned addr_len = 0;
	bool loopback = false;
	const union MHD_DaemonInfo *info;
	struct health_server *s;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int err;

	if (server_parse_listen(listen, &addr, &addr_len, &loopback) < 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->fill = fn;
	s->ctx = ctx;
	s->epoll_fd = -1;
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)HEALTH_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)HEALTH_CONN_TIMEOUT_S, MHD_OPTION_END);
	if (!s->daemon) {
		err = errno ? -errno : -EADDRINUSE;
		goto fail;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		err = -ENOTSUP;
		goto fail;
	}
	err = evloop_add_fd(loop, info->epoll_fd, EPOLLIN, on_ready, s);
	if (err)
		goto fail;
	s->epoll_fd = info->epoll_fd;
	err = evloop_add_timer(loop, 0, 1000, on_timer, s, &s->timer);
	if (err)
		goto fail;
	*ret = s;
	return 0;
fail:
	health_stop(s);
	return err;
}

unsigned health_port(const struct health_server *s)
{
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

struct health_server *health_stop(struct health_server *s)
{
	if (!s)
		return NULL;
	if (s->timer)
		evloop_cancel_timer(s->loop, s->timer);
	if (s->epoll_fd >= 0)
		evloop_del_fd(s->loop, s->epoll_fd);
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	free(s);
	return NULL;
}
