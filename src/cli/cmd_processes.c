/* cmd_processes: `contprof processes [--service S]` — the processes agents
 * report, from GET /api/v1/processes, as a table or the server's JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmdutil.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/table.h"

#define WHO		 "contprof processes"
#define LABELS_MAX_WIDTH 40
#define NAME_MAX_WIDTH	 32

static void usage(void)
{
	printf(
	    "usage: contprof processes [--service S] [--json]\n\n"
	    "Lists the processes the agents watch: one row per process with the\n"
	    "service, instance and process names it maps to, its pid and host, its\n"
	    "labels and when an agent last reported it.\n\n"
	    "options:\n"
	    "  --service S         only the processes of service S\n"
	    "  --json              print the server's JSON instead of a table\n" CLIENT_OPTIONS_HELP
	    "  -h, --help          this help\n\n"
	    "examples:\n"
	    "  contprof processes\n"
	    "  contprof processes --service checkout\n"
	    "  contprof processes --json | jq '.[].pid'\n");
}

static int print_table(const json_t *rows, const char *service)
{
	static const struct table_column columns[] = {
	    {"ID", TABLE_LEFT, 0},
	    {"SERVICE", TABLE_LEFT, 0},
	    {"INSTANCE", TABLE_LEFT, 0},
	    {"NAME", TABLE_LEFT, NAME_MAX_WIDTH},
	    {"PID", TABLE_RIGHT, 0},
	    {"HOST", TABLE_LEFT, 0},
	    {"LABELS", TABLE_LEFT, LABELS_MAX_WIDTH},
	    {"LAST SEEN", TABLE_LEFT, 0},
	};
	struct table *t = table_new(columns, sizeof(columns) / sizeof(columns[0]));
	int64_t now_ms = format_now_ms();
	char buf[CMDUTIL_SCALAR_LEN], when[FORMAT_BUF_LEN];
	size_t i;
	json_t *row;
	int err = 0;

	if (!t)
		goto fail;
	json_array_foreach(rows, i, row)
	{
		char *labels = cmdutil_labels(json_object_get(row, "labels"));

		if (!labels)
			goto fail;
		err |= table_cell(t, cmdutil_scalar(json_object_get(row, "id"), buf));
		err |= table_cell(t, cmdutil_str(row, "service"));
		err |= table_cell(t, cmdutil_str(row, "instance"));
		err |= table_cell(t, cmdutil_str(row, "name"));
		err |= table_cell(t, cmdutil_scalar(json_object_get(row, "pid"), buf));
		err |= table_cell(t, cmdutil_str(row, "host"));
		err |= table_cell(t, *labels ? labels : "-");
		err |= table_cell(t, format_ago(now_ms, cmdutil_ms(row, "last_seen"), when));
		free(labels);
		if (err)
			goto fail;
	}
	if (json_array_size(rows) == 0) {
		table_free(t);
		if (service)
			fprintf(stderr, "%s: no processes of service %s\n", WHO, service);
		else
			fprintf(stderr, "%s: no processes reported yet\n", WHO);
		return 0;
	}
	err = table_print(t, stdout);
	table_free(t);
	return err ? 1 : 0;
fail:
	table_free(t);
	fprintf(stderr, "%s: out of memory\n", WHO);
	return 1;
}

int cmd_processes(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"service", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    CLIENT_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct client_options copts = {0};
	const char *service = NULL;
	struct client *c = NULL;
	json_t *rows = NULL;
	bool truncated = false;
	char *path = NULL;
	int opt, rc = 1, json = 0;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (opt == 's')
			service = optarg;
		else if (opt == 'j')
			json = 1;
		else if (opt == 'h') {
			usage();
			return 0;
		} else if (!client_options_take(&copts, opt, optarg))
			return cmdutil_bad_option(WHO, opt, argv);
	}
	if (optind < argc)
		return cmdutil_usage_error(WHO, "unexpected argument '%s'", argv[optind]);
	c = cmdutil_connect(WHO, &copts, &rc);
	if (!c)
		return rc;
	path = strdup("/api/v1/processes");
	if (!path || (service && client_query_add(&path, "service", service) < 0)) {
		fprintf(stderr, "%s: out of memory\n", WHO);
		rc = 1;
		goto cleanup;
	}
	if (cmdutil_get_list(c, path, "processes", 0, &rows, &truncated) < 0) {
		rc = cmdutil_fail(WHO, c);
		goto cleanup;
	}
	rc = json ? cmdutil_print_json(rows) : print_table(rows, service);
	if (truncated)
		fprintf(stderr, "%s: showing the first %d processes only\n", WHO,
			CMDUTIL_MAX_LIST_ROWS);
cleanup:
	json_decref(rows);
	free(path);
	client_free(c);
	return rc;
}
