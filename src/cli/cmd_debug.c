/* cmd_debug: `contprof debug ...` — hidden low-level checks used by the
 * integration tests and by users reporting a problem.
 *   debug proc-events [--count N] [--timeout SECONDS]
 * loads the agent's exec/exit BPF program and prints one JSON line per event. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/bpfutil.h"
#include "agent/procevents.h"
#include "cli/commands.h"
#include "util/log.h"
#include "util/parse.h"

struct print_state {
	uint32_t printed;
};

/* An exec's command line as discovery sees it (arguments joined by
 * spaces), JSON-quoted; "null" when the record has none. */
static char *cmdline_json(const struct procevent_record *r)
{
	char buf[PROCEVENT_CMDLINE_MAX + 1];
	size_t n = r->cmdline_copied;
	json_t *s;
	char *text;

	if (!(r->flags & PROCEVENT_F_CMDLINE))
		return strdup("null");
	memcpy(buf, r->cmdline, n);
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	s = json_stringn_nocheck(buf, n);
	text = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
	json_decref(s);
	return text;
}

static void print_event(const struct procevent_record *r, void *ctx)
{
	struct print_state *st = ctx;
	char comm[PROCEVENT_COMM_LEN + 1];
	uint64_t start_ticks = 0;
	char *cmdline = NULL;

	memcpy(comm, r->comm, PROCEVENT_COMM_LEN);
	comm[PROCEVENT_COMM_LEN] = '\0';
	for (char *c = comm; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
			*c = '?';
	printf("{\"event\":\"%s\",\"pid\":%u,\"ppid\":%u,\"exit_code\":%d,\"comm\":\"%s\"",
	       r->kind == PROCEVENT_EXEC ? "exec" : "exit", r->pid, r->ppid, r->exit_code, comm);
	if (procevent_start_time_ticks(r, sysconf(_SC_CLK_TCK), &start_ticks) == 0)
		printf(",\"start_time_ticks\":%llu,\"cmdline_len\":%u",
		       (unsigned long long)start_ticks, r->cmdline_len);
	if (r->kind == PROCEVENT_EXEC && (cmdline = cmdline_json(r)) != NULL)
		printf(",\"cmdline\":%s", cmdline);
	free(cmdline);
	printf("}\n");
	fflush(stdout);
	st->printed++;
}

static int debug_proc_events(int argc, char **argv)
{
	static const struct option opts[] = {{"count", required_argument, NULL, 'c'},
					     {"timeout", required_argument, NULL, 't'},
					     {NULL, 0, NULL, 0}};
	uint32_t count = 0, timeout_s = 0;
	struct print_state st = {0};
	struct procevents *pe = NULL;
	struct timespec start, now;
	int opt, err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:t:", opts, NULL)) != -1) {
		if (opt == 'c' && parse_u32(optarg, &count) == 0)
			continue;
		if (opt == 't' && parse_u32(optarg, &timeout_s) == 0)
			continue;
		fprintf(stderr, "debug proc-events: bad option (usage: --count N --timeout S)\n");
		return EXIT_USAGE;
	}
	err = bpfutil_setup();
	if (err) {
		log_error("debug proc-events: tracefs is not mounted and cannot be: %s",
			  strerror(-err));
		return 1;
	}
	err = procevents_open(print_event, &st, &pe);
	if (err) {
		log_error("debug proc-events: cannot load the exec/exit BPF program: %s",
			  strerror(-err));
		return 1;
	}
	fprintf(stderr, "debug proc-events: listening\n");
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		err = procevents_poll(pe, 100);
		if (err < 0 && err != -EINTR) {
			log_error("debug proc-events: ring buffer: %s", strerror(-err));
			break;
		}
		err = 0;
		if (count && st.printed >= count)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout_s && now.tv_sec - start.tv_sec >= (time_t)timeout_s)
			break;
	}
	if (procevents_dropped(pe))
		log_warn("debug proc-events: %llu events dropped (ring buffer full)",
			 (unsigned long long)procevents_dropped(pe));
	procevents_close(pe);
	return err ? 1 : 0;
}

int cmd_debug(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "http") == 0) /* own --help */
		return cmd_debug_http(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "network") == 0) /* own --help */
		return cmd_debug_network(argc - 1, argv + 1);
	if (argc < 2 || cli_wants_help(argc, argv)) {
		printf("usage: contprof debug proc-events [--count N] [--timeout SECONDS]\n"
		       "       contprof debug watch --pid PID [--seconds N]\n"
		       "       contprof debug discover [--config agent.yaml] [--seconds N]\n"
		       "       contprof debug http --pid PID ...      (see --help)\n"
		       "       contprof debug network --pid PID ...   (see --help)\n\n"
		       "proc-events: loads the agent's exec/exit BPF program and prints one JSON\n"
		       "  line per process exec or exit until N events or the timeout.\n"
		       "watch: prints one JSON line per second for a process: CPU %% of the\n"
		       "  capacity available to it, threads, host load, capacity (CPUs).\n"
		       "discover: prints the processes the config's rules match (default: the\n"
		       "  built-in config of `contprof up`); with --seconds, follows exec/exit\n"
		       "  for N seconds and prints one JSON line per change.\n\n"
		       "examples:\n  contprof debug proc-events --count 2 --timeout 5\n"
		       "  contprof debug watch --pid 1234 --seconds 10\n"
		       "  contprof debug discover --config agent.yaml --seconds 30\n");
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "proc-events") == 0)
		return debug_proc_events(argc - 1, argv + 1);
	if (strcmp(argv[1], "watch") == 0)
		return debug_watch(argc - 1, argv + 1);
	if (strcmp(argv[1], "discover") == 0)
		return debug_discover(argc - 1, argv + 1);
	if (strcmp(argv[1], "profile") == 0)
		return cmd_debug_profile(argc - 1, argv + 1);
	fprintf(stderr, "contprof debug: unknown check '%s'\n", argv[1]);
	return EXIT_USAGE;
}
