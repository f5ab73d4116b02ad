/* cmd_debug_http: `contprof debug http` — runs the eBPF HTTP monitor on given
 * pids and prints what it sees, one JSON object per line on stdout:
 *   {"type":"request", pid, role, method, uri, status, start_ns, end_ns, duration_ms}
 *   {"type":"item", second, process, pid, target, monitor, label, value, requests, errors}
 *     (with --policy: the per-second value of each HTTP item, as the agent
 *      feeds its trigger windows)
 *   {"type":"decision", second, process, target, monitor, threshold, matched,
 *    current, peak, message}
 *     (with --policy: the task the trigger engine would start, fed exactly
 *      as the agent loop feeds it — this command is the reference for that
 *      seam: consume, httpagg_tick, engine_record_http, engine_tick)
 *   {"type":"stats", ...kernel counters} at the end.
 * Prints "debug http: watching" on stderr once attached. Stops after
 * --seconds, on SIGINT/SIGTERM, or when every watched pid is gone. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/bpfutil.h"
#include "agent/engine.h"
#include "agent/httpagg.h"
#include "agent/httpmon.h"
#include "cli/commands.h"
#include "core/policy.h"
#include "util/log.h"
#include "util/parse.h"

#define DEBUG_HTTP_MAX_PIDS 16

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

#define DEBUG_HTTP_INSTANCE "debug"

struct debug_http {
	struct httpagg *agg;   /* NULL without --policy */
	struct engine *engine; /* NULL without --policy */
	bool quiet;	       /* no request lines; agent-style batched wakeups */
	uint64_t seen;
};

static void print_request(const struct httpmon_request *r, void *ctx)
{
	struct debug_http *d = ctx;
	char uri[2 * HTTPMON_URI_MAX + 1];
	size_t o = 0;

	d->seen++;
	if (d->agg)
		httpagg_add(d->agg, r);
	if (d->quiet)
		return;

	for (const char *c = r->uri; *c; c++) {
		if (*c == '"' || *c == '\\')
			uri[o++] = '\\';
		uri[o++] = *c;
	}
	uri[o] = '\0';
	printf("{\"type\":\"request\",\"pid\":%u,\"role\":\"%s\",\"method\":\"%s\",\"uri\":\"%s\","
	       "\"uri_truncated\":%s,\"status\":%u,\"start_ns\":%llu,\"end_ns\":%llu,"
	       "\"duration_ms\":%.3f}\n",
	       r->pid, httpmon_role_name(r->role), httpmon_method_name(r->method), uri,
	       r->uri_truncated ? "true" : "false", r->status, (unsigned long long)r->start_ns,
	       (unsigned long long)r->end_ns, (double)(r->end_ns - r->start_ns) / 1e6);
}

/* The seam the agent loop uses: every item value goes to the engine. */
static void print_value(const struct httpagg_value *v, void *ctx)
{
	struct debug_http *d = ctx;
	int err = engine_record_http(d->engine, v->process_id, v->target, v->monitor, v->second,
				     v->value);

	if (err)
		log_warn("debug http: engine refused second %lld of %s: %s", (long long)v->second,
			 v->process_id, strerror(-err));
	printf("{\"type\":\"item\",\"second\":%lld,\"process\":\"%s\",\"pid\":%u,\"target\":\"%s\","
	       "\"monitor\":\"%s\",\"label\":\"%s\",\"value\":%.6g,\"requests\":%llu,"
	       "\"errors\":%llu}\n",
	       (long long)v->second, v->process_id, v->pid, policy_target_name(v->target),
	       policy_monitor_name(v->monitor), v->label, v->value, (unsigned long long)v->requests,
	       (unsigned long long)v->errors);
}

static void print_decision(const struct engine_decision *dec, void *ctx)
{
	const struct engine_cause *c = &dec->cause;
	int64_t *second = ctx;

	printf("{\"type\":\"decision\",\"second\":%lld,\"process\":\"%s\",\"target\":\"%s\","
	       "\"monitor\":\"%s\",\"threshold\":%.6g,\"period\":%u,\"count\":%u,"
	       "\"matched\":%u,\"current\":%.6g,\"peak\":%.6g}\n",
	       (long long)*second, dec->process_id, policy_target_name(dec->target),
	       policy_monitor_name(c->monitor), c->threshold, c->period_s, c->count, c->matched,
	       c->current, c->peak);
}

/* One 1-second tick at the start of monotonic second now_s: the values of
 * every completed second go to the engine, which is then evaluated at the
 * last completed second. */
static void tick(struct debug_http *d, struct httpmon *hm, int64_t now_s)
{
	int64_t evaluated_s = now_s - 1;
	struct timespec ts;

	httpmon_consume(hm);
	httpagg_tick(d->agg, now_s, print_value, d);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	engine_tick(d->engine, evaluated_s, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
		    print_decision, &evaluated_s);
}

static void print_stats(const struct httpmon *hm, uint64_t seen)
{
	struct httpmon_stats st;

	if (httpmon_stats(hm, &st))
		return;
	printf("{\"type\":\"stats\"");
	for (int k = 0; k < HTTPMON_CNT_COUNT; k++)
		printf(",\"%s\":%llu", httpmon_counter_name(k), (unsigned long long)st.counters[k]);
	printf(",\"delivered\":%llu,\"load_ms\":%.3f,\"attach_ms\":%.3f,\"detach_ms\":%.3f,"
	       "\"attached\":%s}\n",
	       (unsigned long long)seen, (double)st.load_ns / 1e6, (double)st.attach_ns / 1e6,
	       (double)st.detach_ns / 1e6, st.attached ? "true" : "false");
}

static int read_policy(const char *path, struct policy **ret)
{
	struct policy_errors errors = {0};
	char *buf = malloc(POLICY_DOC_MAX_BYTES + 1);
	FILE *f = fopen(path, "re");
	size_t n;
	int err;

	if (!buf || !f) {
		err = buf ? -errno : -ENOMEM;
		log_error("debug http: cannot read %s: %s", path, strerror(-err));
		goto out;
	}
	n = fread(buf, 1, POLICY_DOC_MAX_BYTES + 1, f);
	if (n > POLICY_DOC_MAX_BYTES) {
		log_error("debug http: %s is larger than %d bytes", path, POLICY_DOC_MAX_BYTES);
		err = -EFBIG;
		goto out;
	}
	err = policy_parse(buf, n, ret, &errors);
	for (size_t i = 0; i < errors.n; i++)
		log_error("debug http: %s: %s", path, errors.reasons[i]);
	if (err && !errors.n)
		log_error("debug http: %s: %s", path, strerror(-err));
out:
	policy_errors_clear(&errors);
	if (f)
		fclose(f);
	free(buf);
	return err;
}

static int64_t monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static bool any_alive(const uint32_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (kill((pid_t)pids[i], 0) == 0 || errno != ESRCH)
			return true;
	return false;
}

static int usage(void)
{
	fprintf(stderr, "debug http: usage: --pid PID [--pid PID...] [--seconds N] "
			"[--policy FILE] [--quiet]\n");
	return EXIT_USAGE;
}

/* `policy` and `engine_policy` are two copies of one document: the engine
 * takes ownership of the second. */
static int run(uint32_t *pids, size_t n_pids, uint32_t seconds, bool quiet,
	       const struct policy *policy, struct policy *engine_policy)
{
	struct debug_http d = {.quiet = quiet};
	struct httpmon *hm = NULL;
	int64_t start_s, last_tick_s;
	int err, rc = 1;

	if (policy) {
		d.agg = httpagg_new();
		d.engine = engine_new(POLICY_DEFAULT_DURATION_S, POLICY_DEFAULT_SILENCE_S);
		if (!d.agg || !d.engine)
			policy_free(engine_policy);
		/* The engine owns the policy from here, even on failure. */
		if (!d.agg || !d.engine || engine_set_policy(d.engine, engine_policy)) {
			log_error("debug http: out of memory");
			goto out;
		}
		for (size_t i = 0; i < n_pids; i++) {
			char id[32];

			snprintf(id, sizeof(id), "pid-%u", pids[i]);
			err = httpagg_set_process(d.agg, id, pids[i], policy);
			if (!err)
				err = engine_add_process(d.engine, id, policy->service,
							 DEBUG_HTTP_INSTANCE);
			if (err) {
				log_error("debug http: policy items for pid %u: %s", pids[i],
					  strerror(-err));
				goto out;
			}
		}
	}
	err = bpfutil_setup();
	if (err) {
		log_error("debug http: tracefs is not mounted and cannot be: %s", strerror(-err));
		goto out;
	}
	err = httpmon_open(print_request, &d, quiet ? HTTPMON_AGENT_WAKEUP_EVERY : 0, &hm);
	for (size_t i = 0; !err && i < n_pids; i++)
		err = httpmon_watch(hm, pids[i]);
	/* The programs load on a thread of the monitor's: wait for them. */
	if (!err)
		err = httpmon_wait_ready(hm, -1);
	if (err) {
		log_error("debug http: cannot load or attach the HTTP monitor: %s", strerror(-err));
		goto out;
	}
	fprintf(stderr, "debug http: watching\n");
	start_s = last_tick_s = monotonic_s();
	while (!stop_requested) {
		int64_t now_s;

		err = httpmon_poll(hm, 100);
		if (err < 0 && err != -EINTR) {
			log_error("debug http: ring buffer: %s", strerror(-err));
			goto out;
		}
		fflush(stdout);
		now_s = monotonic_s();
		if (d.agg && now_s != last_tick_s) {
			tick(&d, hm, now_s);
			last_tick_s = now_s;
		}
		if (seconds && now_s - start_s >= (int64_t)seconds)
			break;
		if (!any_alive(pids, n_pids))
			break;
	}
	httpmon_consume(hm);
	/* Unwatching the last pid detaches (and drains): the agent's path. */
	for (size_t i = 0; i < n_pids; i++)
		httpmon_unwatch(hm, pids[i]);
	httpmon_wait_detached(hm);
	print_stats(hm, d.seen);
	rc = 0;
out:
	httpmon_close(hm);
	httpagg_free(d.agg);
	engine_free(d.engine);
	return rc;
}

int cmd_debug_http(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pid", required_argument, NULL, 'p'},    {"seconds", required_argument, NULL, 's'},
	    {"policy", required_argument, NULL, 'P'}, {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0}};
	uint32_t pids[DEBUG_HTTP_MAX_PIDS], seconds = 0;
	const char *policy_path = NULL;
	struct policy *policy = NULL, *engine_policy = NULL;
	struct sigaction sa = {.sa_handler = on_signal};
	size_t n_pids = 0;
	bool quiet = false;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:s:P:qh", opts, NULL)) != -1) {
		if (opt == 'p' && n_pids < DEBUG_HTTP_MAX_PIDS &&
		    parse_u32(optarg, &pids[n_pids]) == 0 && pids[n_pids] > 0) {
			n_pids++;
			continue;
		}
		if (opt == 's' && parse_u32(optarg, &seconds) == 0)
			continue;
		if (opt == 'P') {
			policy_path = optarg;
			continue;
		}
		if (opt == 'q') {
			quiet = true;
			continue;
		}
		if (opt == 'h') {
			printf(
			    "usage: contprof debug http --pid PID [--pid PID...] [--seconds N] "
			    "[--policy FILE]\n\n"
			    "Watches the HTTP/1.x traffic of the given processes with the eBPF\n"
			    "monitor and prints one JSON line per completed request (both roles);\n"
			    "with --policy, also each HTTP item's value for every completed\n"
			    "second; kernel counters at the end.\n\n"
			    "example:\n  contprof debug http --pid $(pgrep -n nginx) --seconds "
			    "10\n");
			return 0;
		}
		return usage();
	}
	if (n_pids == 0 || optind != argc)
		return usage();
	if (policy_path && read_policy(policy_path, &policy))
		return 1;
	if (policy_path && read_policy(policy_path, &engine_policy)) {
		policy_free(policy);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = run(pids, n_pids, seconds, quiet, policy, engine_policy);
	policy_free(policy);
	return rc;
}
