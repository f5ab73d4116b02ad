/* cmd_profile: `contprof profile PROCESS_ID --target T [--duration S]` —
 * asks the server for a manual task (POST /api/v1/tasks); the agent of that
 * process picks it up through its policy sync and profiles at once. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmdutil.h"
#include "cli/commands.h"
#include "core/policy.h"
#include "util/parse.h"

#define WHO			   "contprof profile"
#define PROFILE_DEFAULT_DURATION_S 60

static void usage(void)
{
	printf("usage: contprof profile PROCESS_ID --target ON_CPU|OFF_CPU|NETWORK\n"
	       "                        [--duration SECONDS] [--json]\n\n"
	       "Starts profiling a process now, without waiting for a policy: the server\n"
	       "records a manual task and the process's agent starts it within seconds.\n"
	       "NETWORK profiles every process of the process's service instance.\n\n"
	       "options:\n"
	       "  --target T          ON_CPU, OFF_CPU or NETWORK (required)\n"
	       "  --duration D        how long: seconds, or 90s, 5m, 1h (default %d s,\n"
	       "                      at most %d s)\n"
	       "  --json              print the server's JSON answer\n" CLIENT_OPTIONS_HELP
	       "  -h, --help          this help\n\n"
	       "examples:\n"
	       "  contprof profile 3f9c2e1a --target ON_CPU --duration 30\n"
	       "  contprof profile 3f9c2e1a --target OFF_CPU --duration 2m\n",
	       PROFILE_DEFAULT_DURATION_S, POLICY_DURATION_MAX_S);
}

static int valid_target(const char *t)
{
	return strcmp(t, "ON_CPU") == 0 || strcmp(t, "OFF_CPU") == 0 || strcmp(t, "NETWORK") == 0;
}

static void print_started(const json_t *task, const char *process, const char *target,
			  int64_t duration_s)
{
	char buf[CMDUTIL_SCALAR_LEN];
	const char *id;
	const json_t *task_id = json_object_get(task, "id");
	const char *status = cmdutil_str(task, "status");

	if (!task_id) {
		printf("requested %s profiling of process %s for %lld s\n", target, process,
		       (long long)duration_s);
		return;
	}
	id = cmdutil_scalar(task_id, buf);
	printf("task %s: %s profiling of process %s for %lld s (%s)\n", id, target, process,
	       (long long)duration_s, status ? status : "the agent starts it within seconds");
	printf("follow it:    contprof task %s\n", id);
	if (strcmp(target, "NETWORK") == 0)
		printf("topology:     contprof topology %s\n", id);
	else
		printf("flame graph:  contprof flame %s --format svg -o %s.svg\n", id, id);
}

int cmd_profile(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"target", required_argument, NULL, 't'},
	    {"duration", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    CLIENT_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct client_options copts = {0};
	const char *target = NULL, *process;
	int64_t duration_ms = PROFILE_DEFAULT_DURATION_S * 1000LL;
	struct client *c = NULL;
	json_t *body = NULL, *answer = NULL;
	int opt, rc = 1, json = 0;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (opt == 't')
			target = optarg;
		else if (opt == 'd') {
			if (parse_duration_ms(optarg, &duration_ms) < 0 || duration_ms < 1000 ||
			    duration_ms % 1000 || duration_ms > POLICY_DURATION_MAX_S * 1000LL)
				return cmdutil_usage_error(WHO,
							   "--duration wants whole seconds from 1 "
							   "to %d (like 30, 90s, 5m), not '%s'",
							   POLICY_DURATION_MAX_S, optarg);
		} else if (opt == 'j')
			json = 1;
		else if (opt == 'h') {
			usage();
			return 0;
		} else if (!client_options_take(&copts, opt, optarg))
			return cmdutil_bad_option(WHO, opt, argv);
	}
	process = cmdutil_positional(argc, argv, 0);
	if (!process || !*process)
		return cmdutil_usage_error(WHO,
					   "which process? give its ID (see `contprof processes`)");
	if (cmdutil_positional(argc, argv, 1))
		return cmdutil_usage_error(WHO, "unexpected argument '%s'",
					   cmdutil_positional(argc, argv, 1));
	if (!target)
		return cmdutil_usage_error(WHO, "--target ON_CPU|OFF_CPU|NETWORK is required");
	if (!valid_target(target))
		return cmdutil_usage_error(WHO, "--target is ON_CPU, OFF_CPU or NETWORK, not '%s'",
					   target);
	c = cmdutil_connect(WHO, &copts, &rc);
	if (!c)
		return rc;
	body = json_pack("{s:s, s:s, s:I}", "process_id", process, "target", target, "duration",
			 (json_int_t)(duration_ms / 1000));
	if (!body) {
		fprintf(stderr, "%s: cannot build the request (PROCESS_ID must be UTF-8)\n", WHO);
		rc = 1;
		goto cleanup;
	}
	if (client_request_json(c, "POST", "/api/v1/tasks", body, &answer) < 0) {
		rc = cmdutil_fail(WHO, c);
		goto cleanup;
	}
	if (json)
		rc = cmdutil_print_json(answer);
	else {
		print_started(answer, process, target, duration_ms / 1000);
		rc = 0;
	}
cleanup:
	json_decref(answer);
	json_decref(body);
	client_free(c);
	return rc;
}
