/* main: the `contprof` binary — global options and the subcommand table.
 * Every command group lives in its own cmd_*.c; this file only dispatches and
 * checks that stdout was written completely before exiting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "demo/demo.h"
#include "util/log.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	int hidden;
};

static const struct command commands[] = {
    {"up", cmd_up, "run server and agent on this host (SQLite, UI on 127.0.0.1:8080)", 0},
    {"agent", cmd_agent, "run the agent of this host (discover, watch, trigger, profile)", 0},
    {"server", cmd_server, "run the server: agent API, query API, /metrics (SQLite store)", 0},
    {"policy", cmd_policy, "validate, get, set or delete a service's policy", 0},
    {"processes", cmd_processes, "list the processes the agents watch", 0},
    {"tasks", cmd_tasks, "list profiling tasks and why they started", 0},
    {"task", cmd_task, "show one task with its cause in full", 0},
    {"flame", cmd_flame, "a task's flame graph: folded, JSON, pprof or SVG", 0},
    {"topology", cmd_topology, "a network task's process topology", 0},
    {"profile", cmd_profile, "profile a process now (manual task)", 0},
    {"debug", cmd_debug, "low-level checks of this host's eBPF support", 1},
    {"demo-frontend", demo_frontend_main, "the demo's frontend (run by `up --demo`)", 1},
    {"demo-backend", demo_backend_main, "the demo's backend (run by `up --demo`)", 1},
    {"demo-load", demo_load_main, "the demo's load generator (run by `up --demo`)", 1},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: contprof [-v] COMMAND [ARGS...]\n\n"
		     "Policy-driven continuous profiling for Linux.\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!commands[i].hidden)
			fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nglobal options:\n"
		     "  -v, --verbose   debug logging (libbpf included)\n"
		     "  --version       print the version\n\n"
		     "Run `contprof COMMAND --help` for a command's options and examples.\n");
}

int cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

static int finish(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "contprof: error writing output: %s\n", strerror(errno));
		return 1;
	}
	return rc;
}

int main(int argc, char **argv)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			log_set_level(LOG_DEBUG);
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return finish(0);
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("contprof %s\n", CONTPROF_VERSION);
			return finish(0);
		} else {
			fprintf(stderr, "contprof: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t c = 0; c < N_COMMANDS; c++)
		if (strcmp(argv[i], commands[c].name) == 0)
			return finish(commands[c].run(argc - i, argv + i));
	fprintf(stderr, "contprof: unknown command '%s' (see `contprof --help`)\n", argv[i]);
	return EXIT_USAGE;
}
