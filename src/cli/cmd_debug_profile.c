/* cmd_debug_profile: `contprof debug profile` — runs the agent's on-CPU or
 * off-CPU profiler on given processes without server or agent loop, and
 * prints the folded stacks (all slices merged, or each slice with --slices)
 * and, on stderr, the totals: samples (or blocks), truncated share, lost.
 * Used by the integration tests and to check a host's profiling. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/foldtab.h"
#include "agent/procstat.h"
#include "agent/offcpu.h"
#include "agent/profiler.h"
#include "agent/stackprof.h"
#include "cli/commands.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/readfile.h"

#define DEBUG_PROFILE_PIDS_MAX	      64
#define DEBUG_PROFILE_DEFAULT_SECONDS 5
#define DEBUG_PROFILE_DEFAULT_FLUSH_S 5
#define DEBUG_PROFILE_POLL_MS	      100

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct collector {
	struct foldtab *merged;
	bool print_slices;
	bool durations;
	uint32_t slices;
	int err;
};

static int by_count_desc(const void *a, const void *b)
{
	const struct profile_stack *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->folded, y->folded);
}

static void print_stacks(const struct profile_stack *stacks, size_t n, bool durations)
{
	struct profile_stack *sorted;

	if (!n)
		return;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return;
	memcpy(sorted, stacks, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), by_count_desc);
	for (size_t i = 0; i < n; i++) {
		if (durations)
			printf("%s %llu %llu\n", sorted[i].folded,
			       (unsigned long long)sorted[i].count,
			       (unsigned long long)sorted[i].duration_ns);
		else
			printf("%s %llu\n", sorted[i].folded, (unsigned long long)sorted[i].count);
	}
	free(sorted);
}

static void on_slice(void *ctx, const char *task_id, uint32_t slice_no, int64_t start_ms,
		     int64_t end_ms, const struct profile_stack *stacks, size_t n,
		     const struct profile_slice_stats *stats)
{
	struct collector *c = ctx;

	(void)task_id;
	(void)stats;
	c->slices++;
	if (c->print_slices) {
		printf("# slice %u %lld %lld %zu\n", slice_no, (long long)start_ms,
		       (long long)end_ms, n);
		print_stacks(stacks, n, c->durations);
		fflush(stdout);
	}
	for (size_t i = 0; i < n; i++)
		if (foldtab_add(c->merged, stacks[i].folded, strlen(stacks[i].folded),
				stacks[i].count, stacks[i].duration_ns) < 0)
			c->err = -ENOMEM;
}

/* The totals, from the folded stacks alone: the truncated share is the
 * share of samples under the [truncated] root (profiler.h). */
static void report_totals(const struct profile_stack *stacks, size_t n, uint32_t slices,
			  bool durations)
{
	uint64_t events = 0, truncated = 0, lost = 0, ns = 0;

	for (size_t i = 0; i < n; i++) {
		events += stacks[i].count;
		ns += stacks[i].duration_ns;
		if (strncmp(stacks[i].folded, STACKPROF_TRUNCATED_FRAME ";",
			    strlen(STACKPROF_TRUNCATED_FRAME) + 1) == 0)
			truncated += stacks[i].count;
		if (strstr(stacks[i].folded, FOLDTAB_LOST_FRAME))
			lost += stacks[i].count;
	}
	fprintf(stderr,
		"debug profile: %llu %s in %zu stacks over %u slice(s); truncated %llu (%.1f %%); "
		"lost %llu",
		(unsigned long long)events, durations ? "blocks" : "samples", n, slices,
		(unsigned long long)truncated,
		events ? 100.0 * (double)truncated / (double)events : 0.0,
		(unsigned long long)lost);
	if (durations)
		fprintf(stderr, "; off CPU %.3f s", (double)ns / 1e9);
	fprintf(stderr, "\n");
}

/* CPU time (s) the processes used so far: per process, the sum of its
 * threads' schedstat run time (exact, ns) unless it strays from utime +
 * stime (every thread, dead ones included, in clock ticks) by more than two
 * ticks (a thread came or went), then the ticks. Gone processes count 0.
 * For the on-CPU check: samples ~ this x Hz. */
static double processes_cpu_s(const pid_t *pids, size_t n)
{
	long ticks_per_s = sysconf(_SC_CLK_TCK);
	double total_s = 0;

	for (size_t i = 0; i < n && ticks_per_s > 0; i++) {
		struct procstat_stat st;
		char buf[1024], dir[64];
		uint64_t run_ns = 0, ns;
		double ticks_s, run_s;
		DIR *tasks;
		struct dirent *e;

		if (readfile_fmt(buf, sizeof(buf), "/proc/%d/stat", (int)pids[i]) < 0 ||
		    procstat_parse_stat(buf, &st) != 0)
			continue;
		ticks_s = (double)(st.utime_ticks + st.stime_ticks) / (double)ticks_per_s;
		snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pids[i]);
		tasks = opendir(dir);
		while (tasks && (e = readdir(tasks)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			if (readfile_fmt(buf, sizeof(buf), "%s/%s/schedstat", dir, e->d_name) >=
				0 &&
			    procstat_parse_schedstat(buf, &ns) == 0)
				run_ns += ns;
		}
		if (tasks)
			closedir(tasks);
		run_s = (double)run_ns / 1e9;
		total_s += fabs(run_s - ticks_s) <= 2.0 / (double)ticks_per_s ? run_s : ticks_s;
	}
	return total_s;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool any_alive(const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], 0) == 0 || errno != ESRCH)
			return true;
	return false;
}

static int usage(FILE *out)
{
	fprintf(out,
		"usage: contprof debug profile --pid PID [--pid PID...] --target ON_CPU|OFF_CPU\n"
		"                              [--seconds N] [--hz N] [--flush-interval S]\n"
		"                              [--min-block-us N] [--slices]\n"
		"                              [--frame-pointers-only] [--stack-map-entries N]\n"
		"                              [--offcpu-attach probe|raw_tp]\n\n"
		"Profiles the processes with the agent's profiler for N seconds (default %d, or\n"
		"until they all exit) and prints folded stacks, root first: \"stack count\"\n"
		"(ON_CPU) or \"stack count total_ns\" (OFF_CPU); kernel frames end in _[k].\n"
		"--slices prints every flush slice (default every %d s) instead of the merge.\n"
		"--frame-pointers-only: no CFI unwinding of the user stacks that the\n"
		"frame-pointer walk leaves truncated (ON_CPU).\n"
		"--stack-map-entries: size of each stack map (default %d; a stack the map\n"
		"cannot take is counted under a [lost] frame).\n"
		"--offcpu-attach raw_tp: the raw tracepoint program without trying tp_btf\n"
		"first (default probe: tp_btf, else raw_tp).\n"
		"Totals (samples, truncated share, lost) go to stderr.\n\n"
		"examples:\n"
		"  contprof debug profile --pid 1234 --target ON_CPU --seconds 10 --hz 199\n"
		"  contprof debug profile --pid 1234 --target OFF_CPU --min-block-us 1000\n",
		DEBUG_PROFILE_DEFAULT_SECONDS, DEBUG_PROFILE_DEFAULT_FLUSH_S,
		PROFILER_DEFAULT_STACK_MAP_ENTRIES);
	return out == stdout ? 0 : EXIT_USAGE;
}

int cmd_debug_profile(int argc, char **argv)
{
	static const struct option opts[] = {{"pid", required_argument, NULL, 'p'},
					     {"target", required_argument, NULL, 't'},
					     {"seconds", required_argument, NULL, 's'},
					     {"hz", required_argument, NULL, 'z'},
					     {"flush-interval", required_argument, NULL, 'f'},
					     {"min-block-us", required_argument, NULL, 'm'},
					     {"slices", no_argument, NULL, 'S'},
					     {"frame-pointers-only", no_argument, NULL, 'F'},
					     {"stack-map-entries", required_argument, NULL, 'e'},
					     {"offcpu-attach", required_argument, NULL, 'r'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	pid_t pids[DEBUG_PROFILE_PIDS_MAX];
	size_t n_pids = 0;
	uint32_t seconds = DEBUG_PROFILE_DEFAULT_SECONDS, flush_s = DEBUG_PROFILE_DEFAULT_FLUSH_S;
	uint32_t hz = PROFILER_DEFAULT_ONCPU_HZ, stack_map_entries = 0, v;
	uint64_t min_block_us = 0;
	bool fp_only = false, raw_tp_only = false;
	int target = -1, opt, rc = 1;
	struct collector c = {0};
	struct profile_sink sink = {.slice = on_slice, .ctx = &c};
	struct profiler_session *session = NULL;
	const struct profiler_ops *ops;
	const struct profile_stack *stacks;
	size_t n_stacks;
	char reason[256] = "";
	int64_t end_ms, next_flush_ms;
	double cpu_start_s, cpu_s;
	struct sigaction sa = {.sa_handler = on_signal};

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:t:s:z:f:m:SFe:r:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_u32(optarg, &v) || !v || v > INT32_MAX ||
			    n_pids == DEBUG_PROFILE_PIDS_MAX) {
				fprintf(stderr, "debug profile: bad --pid '%s'\n", optarg);
				return EXIT_USAGE;
			}
			pids[n_pids++] = (pid_t)v;
			break;
		case 't':
			if (strcmp(optarg, "ON_CPU") == 0)
				target = POLICY_TARGET_ON_CPU;
			else if (strcmp(optarg, "OFF_CPU") == 0)
				target = POLICY_TARGET_OFF_CPU;
			else {
				fprintf(stderr, "debug profile: --target is ON_CPU or OFF_CPU\n");
				return EXIT_USAGE;
			}
			break;
		case 's':
			if (parse_u32(optarg, &seconds) || !seconds) {
				fprintf(stderr, "debug profile: bad --seconds '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'z':
			if (parse_u32(optarg, &hz) || !hz || hz > PROFILER_ONCPU_HZ_MAX) {
				fprintf(stderr, "debug profile: --hz is 1..%d\n",
					PROFILER_ONCPU_HZ_MAX);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			if (parse_u32(optarg, &flush_s) || !flush_s) {
				fprintf(stderr, "debug profile: bad --flush-interval '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'm':
			if (parse_u64(optarg, &min_block_us) || min_block_us > UINT64_MAX / 1000) {
				fprintf(stderr, "debug profile: bad --min-block-us '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			c.print_slices = true;
			break;
		case 'F':
			fp_only = true;
			break;
		case 'e':
			if (parse_u32(optarg, &stack_map_entries) || !stack_map_entries ||
			    stack_map_entries > PROFILER_STACK_MAP_ENTRIES_MAX) {
				fprintf(stderr, "debug profile: --stack-map-entries is 1..%u\n",
					PROFILER_STACK_MAP_ENTRIES_MAX);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (strcmp(optarg, "probe") == 0)
				raw_tp_only = false;
			else if (strcmp(optarg, "raw_tp") == 0)
				raw_tp_only = true;
			else {
				fprintf(stderr,
					"debug profile: --offcpu-attach is probe or raw_tp\n");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			return usage(stdout);
		default:
			return usage(stderr);
		}
	}
	if (!n_pids || target < 0) {
		fprintf(stderr, "debug profile: --pid and --target are required\n");
		return usage(stderr);
	}
	profiler_configure(&(struct profiler_config){.oncpu_hz = hz,
						     .offcpu_min_block_ns = min_block_us * 1000,
						     .frame_pointers_only = fp_only,
						     .stack_map_entries = stack_map_entries,
						     .offcpu_raw_tp_only = raw_tp_only});
	ops = profiler_for((enum policy_target)target, reason, sizeof(reason));
	if (!ops) {
		log_error("debug profile: %s", reason);
		return 1;
	}
	c.durations = target == POLICY_TARGET_OFF_CPU;
	c.merged = foldtab_new(STACKPROF_STACKS_PER_SLICE_MAX * 4);
	if (!c.merged) {
		log_error("debug profile: out of memory");
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (ops->start("debug", pids, n_pids, &session, reason, sizeof(reason)) != 0) {
		log_error("debug profile: %s", reason);
		goto out;
	}
	cpu_start_s = processes_cpu_s(pids, n_pids);
	if (target == POLICY_TARGET_ON_CPU)
		fprintf(stderr, "debug profile: profiling %zu process(es) on CPU at %u Hz\n",
			n_pids, hz);
	else
		fprintf(stderr, "debug profile: profiling %zu process(es) off CPU (%s)\n", n_pids,
			offcpu_attach_mode() ? offcpu_attach_mode() : "?");
	end_ms = mono_ms() + (int64_t)seconds * 1000;
	next_flush_ms = mono_ms() + (int64_t)flush_s * 1000;
	while (!stop_requested && mono_ms() < end_ms && any_alive(pids, n_pids)) {
		struct timespec ts = {0, DEBUG_PROFILE_POLL_MS * 1000000L};

		nanosleep(&ts, NULL);
		if (mono_ms() >= next_flush_ms && mono_ms() < end_ms) {
			int err = ops->flush(session, &sink);

			if (err)
				log_warn("debug profile: flush: %s", strerror(-err));
			next_flush_ms += (int64_t)flush_s * 1000;
		}
	}
	cpu_s = processes_cpu_s(pids, n_pids) - cpu_start_s;
	ops->stop(session, &sink);
	if (target == POLICY_TARGET_ON_CPU)
		fprintf(stderr,
			"debug profile: the processes ran %.3f s on CPU while sampled: about %.0f "
			"samples expected at %u Hz\n",
			cpu_s, cpu_s * hz, hz);
	if (foldtab_view(c.merged, &stacks, &n_stacks) == 0) {
		if (!c.print_slices)
			print_stacks(stacks, n_stacks, c.durations);
		report_totals(stacks, n_stacks, c.slices, c.durations);
		rc = c.err ? 1 : 0;
	}
out:
	foldtab_free(c.merged);
	return rc;
}
