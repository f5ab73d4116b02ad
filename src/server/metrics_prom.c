/* metrics_prom: see metrics_prom.h. */
#include "server/metrics_prom.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct route_status {
	const char *route; /* static pattern string of the route table */
	int status;
	uint64_t count;
};

struct prom {
	pthread_mutex_t lock;
	struct route_status requests[PROM_MAX_ROUTE_STATUS];
	size_t n_requests;
	uint64_t counters[PROM_COUNTER_COUNT];
};

static const struct {
	const char *name;
	const char *help;
} counter_info[PROM_COUNTER_COUNT] = {
    [PROM_AGENT_REGISTRATIONS] = {"contprof_agent_registrations_total",
				  "Agent register/keepalive calls accepted."},
    [PROM_SYNC_REPLIES] = {"contprof_policy_sync_replies_total", "Policy sync replies sent."},
    [PROM_METRIC_POINTS] = {"contprof_ingest_metric_points_total",
			    "Metric points stored (new seconds)."},
    [PROM_METRIC_POINTS_DUPLICATE] = {"contprof_ingest_metric_points_duplicate_total",
				      "Metric points ignored because already stored."},
    [PROM_TASK_REPORTS] = {"contprof_ingest_task_reports_total",
			   "Task reports, finishes and failures accepted."},
    [PROM_PROFILE_SLICES] = {"contprof_ingest_profile_slices_total", "Profile slices stored."},
    [PROM_PROFILE_SLICES_DUPLICATE] = {"contprof_ingest_profile_slices_duplicate_total",
				       "Profile slices ignored because already stored."},
    [PROM_STACK_SAMPLES] = {"contprof_ingest_stack_samples_total",
			    "Stack samples stored (sum of counts)."},
    [PROM_TOPOLOGY_UPLOADS] = {"contprof_ingest_topology_uploads_total",
			       "Topology documents stored."},
};

struct prom *prom_new(void)
{
	struct prom *p = calloc(1, sizeof(*p));

	if (p)
		pthread_mutex_init(&p->lock, NULL);
	return p;
}

struct prom *prom_free(struct prom *p)
{
	if (p) {
		pthread_mutex_destroy(&p->lock);
		free(p);
	}
	return NULL;
}

void prom_count_request(struct prom *p, const char *route, int status)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n_requests; i++) {
		if (p->requests[i].route == route && p->requests[i].status == status) {
			p->requests[i].count++;
			goto out;
		}
	}
	if (p->n_requests < PROM_MAX_ROUTE_STATUS)
		p->requests[p->n_requests++] = (struct route_status){route, status, 1};
out:
	pthread_mutex_unlock(&p->lock);
}

void prom_add(struct prom *p, enum prom_counter c, uint64_t n)
{
	pthread_mutex_lock(&p->lock);
	p->counters[c] += n;
	pthread_mutex_unlock(&p->lock);
}

/* A growable output buffer; `failed` sticks after an allocation failure. */
struct out {
	char *buf;
	size_t len, cap;
	int failed;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap ? o->cap * 2 : 8192;
		while (cap < o->len + (size_t)n + 1)
			cap *= 2;
		char *nb = realloc(o->buf, cap);
		if (!nb) {
			o->failed = 1;
			return;
		}
		o->buf = nb;
		o->cap = cap;
	}
}

/* Label value escaped per the exposition format (\\, \", \n). */
static void out_label(struct out *o, const char *name, const char *value, int first)
{
	out_printf(o, "%s%s=\"", first ? "" : ",", name);
	for (const char *c = value ? value : ""; *c; c++) {
		if (*c == '\\')
			out_printf(o, "\\\\");
		else if (*c == '"')
			out_printf(o, "\\\"");
		else if (*c == '\n')
			out_printf(o, "\\n");
		else
			out_printf(o, "%c", *c);
	}
	out_printf(o, "\"");
}

static void latest_line(const char *service, const char *instance, const char *process,
			const char *process_id, const char *monitor, const char *uri, double value,
			int64_t time_ms, void *ctx)
{
	struct out *o = ctx;

	(void)time_ms;
	out_printf(o, "contprof_process_metric{");
	out_label(o, "service", service, 1);
	out_label(o, "instance", instance, 0);
	out_label(o, "process", process, 0);
	out_label(o, "process_id", process_id, 0);
	out_label(o, "monitor", monitor, 0);
	out_label(o, "uri", uri, 0);
	out_printf(o, "} %.17g\n", value);
}

char *prom_render(struct prom *p, struct store *st, size_t *ret_len)
{
	struct out o = {0};

	out_printf(&o, "# HELP contprof_http_requests_total HTTP requests answered, by route and "
		       "status.\n# TYPE contprof_http_requests_total counter\n");
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n_requests; i++) {
		out_printf(&o, "contprof_http_requests_total{");
		out_label(&o, "route", p->requests[i].route, 1);
		out_printf(&o, ",status=\"%d\"} %llu\n", p->requests[i].status,
			   (unsigned long long)p->requests[i].count);
	}
	for (int c = 0; c < PROM_COUNTER_COUNT; c++)
		out_printf(&o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counter_info[c].name,
			   counter_info[c].help, counter_info[c].name, counter_info[c].name,
			   (unsigned long long)p->counters[c]);
	pthread_mutex_unlock(&p->lock);

	out_printf(&o, "# HELP contprof_store_latency_seconds Latency of store calls by "
		       "operation.\n# TYPE contprof_store_latency_seconds histogram\n");
	for (int op = 0; op < STORE_OP_COUNT; op++) {
		struct store_latency l;

		store_latency_snapshot(st, (enum store_op)op, &l);
		for (int b = 0; b < STORE_LATENCY_BUCKETS; b++)
			out_printf(
			    &o, "contprof_store_latency_seconds_bucket{op=\"%s\",le=\"%g\"} %llu\n",
			    store_op_name((enum store_op)op), store_latency_bounds_s[b],
			    (unsigned long long)l.buckets[b]);
		out_printf(&o,
			   "contprof_store_latency_seconds_bucket{op=\"%s\",le=\"+Inf\"} %llu\n"
			   "contprof_store_latency_seconds_sum{op=\"%s\"} %.9f\n"
			   "contprof_store_latency_seconds_count{op=\"%s\"} %llu\n",
			   store_op_name((enum store_op)op), (unsigned long long)l.count,
			   store_op_name((enum store_op)op), l.sum_s,
			   store_op_name((enum store_op)op), (unsigned long long)l.count);
	}
	out_printf(&o, "# HELP contprof_process_metric Newest value of every watched process "
		       "metric.\n# TYPE contprof_process_metric gauge\n");
	if (store_latest_metrics(st, latest_line, &o) < 0)
		o.failed = 1;
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	*ret_len = o.len;
	return o.buf;
}
