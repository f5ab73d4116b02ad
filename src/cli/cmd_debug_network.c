/* cmd_debug_network: `contprof debug network` — runs the NETWORK profiler
 * (netprof.h) on given pids without a server and prints the topology
 * document after every flush, one JSON object per line on stdout:
 *   {"type":"topology", "flush": N, "topology": {nodes, edges, samples}}
 *   {"type":"stats", ...kernel counters of the shared HTTP monitor} at the end.
 * Prints "debug network: watching" on stderr once attached. Stops after
 * --seconds, on SIGINT/SIGTERM, or when every pid is gone. The benchmark
 * bench/netprof.sh and the profiler's tests use it. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/bpfutil.h"
#include "agent/httpmon.h"
#include "agent/netprof.h"
#include "cli/commands.h"
#include "util/log.h"
#include "util/parse.h"

#define DEBUG_NETWORK_MAX_PIDS 16
#define DEBUG_NETWORK_TASK_ID  "debug-network"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_request(const struct httpmon_request *req, void *ctx)
{
	(void)ctx;
	netprof_on_request(req);
}

static void print_topology(void *ctx, const char *task_id, const json_t *doc)
{
	unsigned *flushes = ctx;
	json_t *line = json_pack("{s:s, s:I, s:O}", "type", "topology", "flush",
				 (json_int_t)++ * flushes, "topology", doc);
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;

	(void)task_id;
	if (text)
		printf("%s\n", text);
	fflush(stdout);
	free(text);
	json_decref(line);
}

static bool any_alive(const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], 0) == 0 || errno != ESRCH)
			return true;
	return false;
}

static void print_stats(struct httpmon *hm)
{
	struct httpmon_stats st;

	if (httpmon_stats(hm, &st))
		return;
	printf("{\"type\":\"stats\"");
	for (int k = 0; k < HTTPMON_CNT_COUNT; k++)
		printf(",\"%s\":%llu", httpmon_counter_name((enum httpmon_counter)k),
		       (unsigned long long)st.counters[k]);
	/* The load ran on the monitor's thread; these are its own figures. */
	printf(",\"load_ms\":%.3f,\"attach_ms\":%.3f,\"detach_ms\":%.3f}\n",
	       (double)st.load_ns / 1e6, (double)st.attach_ns / 1e6, (double)st.detach_ns / 1e6);
}

static int run(const pid_t *pids, size_t n_pids, uint32_t seconds, uint32_t flush_s)
{
	unsigned flushes = 0;
	struct profile_sink sink = {.ctx = &flushes, .topology = print_topology};
	struct profiler_session *s = NULL;
	struct httpmon *hm = NULL;
	char reason[256] = "";
	int64_t start_ms, next_flush_ms;
	int err, rc = 1;

	err = bpfutil_setup();
	if (err) {
		log_error("debug network: tracefs is not mounted and cannot be: %s",
			  strerror(-err));
		return 1;
	}
	err = httpmon_open(on_request, NULL, HTTPMON_AGENT_WAKEUP_EVERY, &hm);
	if (err) {
		log_error("debug network: %s", strerror(-err));
		return 1;
	}
	netprof_init(hm, NULL, NULL);
	err =
	    netprof_profiler.start(DEBUG_NETWORK_TASK_ID, pids, n_pids, &s, reason, sizeof(reason));
	if (err) {
		log_error("debug network: %s", reason[0] ? reason : strerror(-err));
		goto out;
	}
	/* The programs load on a thread of the monitor's; ready seeds. */
	err = httpmon_wait_ready(hm, -1);
	if (err) {
		log_error("debug network: cannot load or attach the HTTP monitor: %s",
			  strerror(-err));
		goto out;
	}
	fprintf(stderr, "debug network: watching\n");
	start_ms = monotonic_ms();
	next_flush_ms = start_ms + (int64_t)flush_s * 1000;
	while (!stop_requested) {
		err = httpmon_poll(hm, 100);
		if (err < 0 && err != -EINTR) {
			log_error("debug network: ring buffer: %s", strerror(-err));
			goto out;
		}
		if (monotonic_ms() >= next_flush_ms) {
			netprof_profiler.flush(s, &sink);
			next_flush_ms += (int64_t)flush_s * 1000;
		}
		if (seconds && monotonic_ms() - start_ms >= (int64_t)seconds * 1000)
			break;
		if (!any_alive(pids, n_pids))
			break;
	}
	netprof_profiler.stop(s, &sink);
	s = NULL;
	httpmon_wait_detached(hm);
	print_stats(hm);
	rc = 0;
out:
	if (s)
		netprof_profiler.stop(s, NULL);
	netprof_init(NULL, NULL, NULL);
	httpmon_close(hm);
	return rc;
}

static int usage(void)
{
	fprintf(stderr, "usage: contprof debug network --pid PID [--pid PID...] [--seconds N] "
			"[--flush SECONDS]\n");
	return 2;
}

int cmd_debug_network(int argc, char **argv)
{
	static const struct option opts[] = {{"pid", required_argument, NULL, 'p'},
					     {"seconds", required_argument, NULL, 's'},
					     {"flush", required_argument, NULL, 'f'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	pid_t pids[DEBUG_NETWORK_MAX_PIDS];
	uint32_t seconds = 0, flush_s = 1, v;
	struct sigaction sa = {.sa_handler = on_signal};
	size_t n_pids = 0;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:s:f:h", opts, NULL)) != -1) {
		if (opt == 'p' && n_pids < DEBUG_NETWORK_MAX_PIDS && parse_u32(optarg, &v) == 0 &&
		    v > 0) {
			pids[n_pids++] = (pid_t)v;
			continue;
		}
		if (opt == 's' && parse_u32(optarg, &seconds) == 0)
			continue;
		if (opt == 'f' && parse_u32(optarg, &flush_s) == 0 && flush_s > 0)
			continue;
		if (opt == 'h') {
			printf(
			    "usage: contprof debug network --pid PID [--pid PID...] [--seconds N] "
			    "[--flush SECONDS]\n\n"
			    "Runs the NETWORK profiler on the given processes (as one task)\n"
			    "and prints its topology document after every flush (default 1 s)\n"
			    "as one JSON line; the HTTP monitor's kernel counters at the end.\n\n"
			    "example:\n  contprof debug network --pid $(pgrep -n nginx) "
			    "--seconds 10\n");
			return 0;
		}
		return usage();
	}
	if (n_pids == 0 || optind != argc)
		return usage();
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return run(pids, n_pids, seconds, flush_s);
}
