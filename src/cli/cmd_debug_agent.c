/* cmd_debug_agent: the agent's building blocks run alone, for the integration
 * tests and for users checking what the agent would see.
 *   debug watch --pid PID [--seconds N]
 *     one JSON line per second: the process's CPU % of its capacity, threads,
 *     host load and the capacity with its parts (what the agent loop records).
 *   debug discover [--config F] [--seconds N]
 *     the process table as JSON; with --seconds, then one JSON line per change
 *     (exec/exit events and rescans) for N seconds. */
#include <errno.h>
#include <stdlib.h>
#include <getopt.h>
#include <signal.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent/bpfutil.h"
#include "agent/config.h"
#include "agent/discover.h"
#include "agent/procevents.h"
#include "agent/procstat.h"
#include "cli/commands.h"
#include "util/evloop.h"
#include "util/log.h"
#include "util/parse.h"

#define WATCH_TICK_MS 1000

static int64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct watch_state {
	struct procstat *ps;
	struct procstat_proc proc;
	uint32_t seconds, printed;
	int rc;
};

static void watch_tick(struct evloop *loop, uint64_t expirations, void *ctx)
{
	struct watch_state *st = ctx;
	struct procstat_sample s;
	double load = 0;
	int r;

	(void)expirations;
	r = procstat_sample(st->ps, &st->proc, &s);
	if (r < 0) {
		if (r == -ESRCH)
			fprintf(stderr, "debug watch: process %u exited\n", st->proc.pid);
		else
			log_error("debug watch: cannot read process %u: %s", st->proc.pid,
				  strerror(-r));
		st->rc = 1;
		evloop_stop(loop);
		return;
	}
	if (procstat_system_load(st->ps, &load) < 0)
		load = -1;
	if (!s.has_cpu)
		return;
	printf("{\"time\":%lld,\"pid\":%u,\"cpu\":%.2f,\"cpu_ns\":%llu,\"elapsed_ns\":%llu,"
	       "\"threads\":%u,\"load\":%.2f,\"capacity\":%.3f,\"online\":%u,\"affinity\":%u,"
	       "\"quota\":%.3f}\n",
	       (long long)unix_ms(), st->proc.pid, s.cpu_percent, (unsigned long long)s.cpu_ns,
	       (unsigned long long)s.elapsed_ns, s.threads, load, s.capacity.cpus,
	       s.capacity.online, s.capacity.affinity, s.capacity.quota_cpus);
	fflush(stdout);
	if (st->seconds && ++st->printed >= st->seconds)
		evloop_stop(loop);
}

static void stop_on_signal(struct evloop *loop, int signo, void *ctx)
{
	(void)signo;
	(void)ctx;
	evloop_stop(loop);
}

static int add_stop_signals(struct evloop *loop)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	return evloop_add_signals(loop, &mask, stop_on_signal, NULL);
}

int debug_watch(int argc, char **argv)
{
	static const struct option opts[] = {{"pid", required_argument, NULL, 'p'},
					     {"seconds", required_argument, NULL, 's'},
					     {NULL, 0, NULL, 0}};
	struct watch_state st = {0};
	struct procstat_sample first;
	struct evloop *loop = NULL;
	uint32_t pid = 0;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:s:", opts, NULL)) != -1) {
		if (opt == 'p' && parse_u32(optarg, &pid) == 0 && pid > 0)
			continue;
		if (opt == 's' && parse_u32(optarg, &st.seconds) == 0)
			continue;
		fprintf(stderr, "debug watch: bad option (usage: --pid PID [--seconds N])\n");
		return EXIT_USAGE;
	}
	if (!pid) {
		fprintf(stderr, "debug watch: --pid PID is required\n");
		return EXIT_USAGE;
	}
	r = procstat_open(NULL, &st.ps);
	if (r < 0) {
		log_error("debug watch: cannot read the host's CPUs and cgroups: %s", strerror(-r));
		return 1;
	}
	procstat_proc_init(&st.proc, pid);
	r = procstat_sample(st.ps, &st.proc, &first);
	if (r < 0) {
		log_error("debug watch: process %u: %s", pid,
			  r == -ESRCH ? "no such process" : strerror(-r));
		procstat_proc_release(&st.proc);
		procstat_close(st.ps);
		return 1;
	}
	loop = evloop_new();
	if (!loop || add_stop_signals(loop) < 0 ||
	    evloop_add_timer(loop, WATCH_TICK_MS, WATCH_TICK_MS, watch_tick, &st, NULL) < 0) {
		log_error("debug watch: cannot set up the event loop");
		evloop_free(loop);
		procstat_proc_release(&st.proc);
		procstat_close(st.ps);
		return 1;
	}
	fprintf(stderr, "debug watch: watching %u\n", pid);
	r = evloop_run(loop);
	if (r < 0) {
		log_error("debug watch: event loop: %s", strerror(-r));
		st.rc = 1;
	}
	evloop_free(loop);
	procstat_proc_release(&st.proc);
	procstat_close(st.ps);
	return st.rc;
}

/* ---- debug discover ---- */

/* A JSON string of s; bytes that are not UTF-8 become '?'. */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *proc_json(const struct discover *d, const struct discover_proc *p)
{
	json_t *labels = json_object(), *o;

	for (size_t i = 0; i < p->n_labels; i++)
		json_object_set_new(labels, p->labels[i].key, json_text(p->labels[i].value));
	o = json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o}", "id",
		      p->id, "pid", (json_int_t)p->pid, "ppid", (json_int_t)p->ppid, "host",
		      json_text(discover_hostname(d)), "service", json_text(p->service), "instance",
		      json_text(p->instance), "name", json_text(p->name), "comm",
		      json_text(p->comm), "exe", json_text(p->exe), "cmdline",
		      json_text(p->cmdline), "cgroup", json_text(p->cgroup), "rule",
		      (json_int_t)p->rule_index, "labels", labels);
	return o;
}

static int print_json(json_t *j)
{
	int r;

	if (!j)
		return -ENOMEM;
	r = json_dumpf(j, stdout, JSON_COMPACT);
	json_decref(j);
	if (r < 0)
		return -EIO;
	fputc('\n', stdout);
	fflush(stdout);
	return 0;
}

struct discover_state {
	struct discover *d;
	struct procevents *pe;
	int follow; /* print changes */
	int rc;
};

static void print_change(enum discover_change change, const struct discover_proc *p, void *ctx)
{
	static const char *const names[] = {"added", "changed", "gone"};
	struct discover_state *st = ctx;
	json_t *o;

	if (!st->follow)
		return;
	o = proc_json(st->d, p);
	if (o) {
		json_object_set_new(o, "change", json_string(names[change]));
		json_object_set_new(o, "time", json_integer(unix_ms()));
	}
	if (print_json(o) < 0)
		st->rc = 1;
}

static void on_proc_event(const struct procevent_record *record, void *ctx)
{
	struct discover_state *st = ctx;
	int r = discover_handle_event(st->d, record);

	if (r < 0)
		log_warn("debug discover: process %u: %s", record->pid, strerror(-r));
}

static void on_ring(struct evloop *loop, int fd, uint32_t events, void *ctx)
{
	struct discover_state *st = ctx;
	int r;

	(void)fd;
	(void)events;
	r = procevents_consume(st->pe);
	if (r < 0 && r != -EINTR) {
		log_error("debug discover: ring buffer: %s", strerror(-r));
		st->rc = 1;
		evloop_stop(loop);
	}
}

static void on_rescan(struct evloop *loop, uint64_t expirations, void *ctx)
{
	struct discover_state *st = ctx;
	int r = discover_scan(st->d);

	(void)loop;
	(void)expirations;
	if (r < 0)
		log_warn("debug discover: rescan: %s", strerror(-r));
}

static void on_end(struct evloop *loop, uint64_t expirations, void *ctx)
{
	(void)expirations;
	(void)ctx;
	evloop_stop(loop);
}

static int print_table(const struct discover *d)
{
	json_t *a = json_array();

	for (size_t i = 0; i < discover_count(d) && a; i++)
		if (json_array_append_new(a, proc_json(d, discover_at(d, i))) < 0) {
			json_decref(a);
			a = NULL;
		}
	return print_json(a);
}

static int follow_changes(struct discover_state *st, uint32_t seconds)
{
	struct evloop *loop = evloop_new();
	int r;

	if (!loop || add_stop_signals(loop) < 0 ||
	    evloop_add_fd(loop, procevents_fd(st->pe), EPOLLIN, on_ring, st) < 0 ||
	    evloop_add_timer(loop, DISCOVER_RESCAN_INTERVAL_MS, DISCOVER_RESCAN_INTERVAL_MS,
			     on_rescan, st, NULL) < 0 ||
	    evloop_add_timer(loop, (uint64_t)seconds * 1000, 0, on_end, st, NULL) < 0) {
		log_error("debug discover: cannot set up the event loop");
		evloop_free(loop);
		return 1;
	}
	st->follow = 1;
	fprintf(stderr, "debug discover: listening\n");
	r = evloop_run(loop);
	if (r < 0) {
		log_error("debug discover: event loop: %s", strerror(-r));
		st->rc = 1;
	}
	evloop_free(loop);
	return st->rc;
}

int debug_discover(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"seconds", required_argument, NULL, 's'},
					     {NULL, 0, NULL, 0}};
	struct config_errors errors = {0};
	struct discover_state st = {0};
	struct config *config = NULL;
	const char *config_path = NULL;
	uint32_t seconds = 0;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:s:", opts, NULL)) != -1) {
		if (opt == 'c') {
			config_path = optarg;
			continue;
		}
		if (opt == 's' && parse_u32(optarg, &seconds) == 0)
			continue;
		fprintf(
		    stderr,
		    "debug discover: bad option (usage: [--config agent.yaml] [--seconds N])\n");
		return EXIT_USAGE;
	}
	r = config_path ? config_load_file(config_path, &config, &errors)
			: config_load_default(&config);
	if (r < 0) {
		for (size_t i = 0; i < errors.count; i++)
			fprintf(stderr, "%s\n", errors.messages[i]);
		if (errors.dropped)
			fprintf(stderr, "(%zu more errors)\n", errors.dropped);
		if (!errors.count)
			log_error("debug discover: config: %s", strerror(-r));
		config_errors_clear(&errors);
		return 1;
	}
	r = discover_new(config, NULL, print_change, &st, &st.d);
	if (r == 0 && seconds) {
		/* Events first, so that nothing starting during the scan is missed. */
		r = bpfutil_setup();
		if (r == 0)
			r = procevents_open(on_proc_event, &st, &st.pe);
		if (r < 0)
			log_error("debug discover: cannot load the exec/exit BPF program: %s",
				  strerror(-r));
	} else if (r < 0) {
		log_error("debug discover: %s", strerror(-r));
	}
	if (r == 0) {
		r = discover_scan(st.d);
		if (r < 0)
			log_error("debug discover: cannot scan /proc: %s", strerror(-r));
	}
	if (r >= 0)
		st.rc = print_table(st.d) < 0 ? 1 : 0;
	if (r >= 0 && seconds && st.rc == 0)
		follow_changes(&st, seconds);
	if (st.pe && procevents_dropped(st.pe))
		log_warn("debug discover: %llu events dropped (ring buffer full)",
			 (unsigned long long)procevents_dropped(st.pe));
	procevents_close(st.pe);
	discover_free(st.d);
	config_free(config);
	return r < 0 ? 1 : st.rc;
}
