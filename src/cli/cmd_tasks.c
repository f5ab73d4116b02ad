/* cmd_tasks: `contprof tasks` (a listing of profiling tasks with why each
 * started, from GET /api/v1/tasks) and `contprof task ID` (one task with its
 * cause broken out, from GET /api/v1/tasks/{id}). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmdutil.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/table.h"
#include "util/parse.h"

#define CAUSE_MAX_WIDTH 60
#define ID_MAX_WIDTH	36
#define FIELD_WIDTH	10

static void tasks_usage(void)
{
	printf(
	    "usage: contprof tasks [--service S] [--process ID] [--since DURATION] [--limit N]\n"
	    "                      [--json]\n\n"
	    "Lists profiling tasks, newest first as the server orders them: what was\n"
	    "profiled, whether a policy or a person started it, when, for how long,\n"
	    "how it ended and the readable cause.\n\n"
	    "options:\n"
	    "  --service S         only tasks of service S\n"
	    "  --process ID        only tasks of process ID (see `contprof processes`)\n"
	    "  --since DURATION    only tasks started in the last DURATION: 90s, 15m,\n"
	    "                      48h, 7d (default: all the server keeps)\n"
	    "  --limit N           only the N newest tasks\n"
	    "  --json              print the server's JSON instead of a table\n" CLIENT_OPTIONS_HELP
	    "  -h, --help          this help\n\n"
	    "examples:\n"
	    "  contprof tasks --service checkout --since 48h\n"
	    "  contprof tasks --process web-3:812:4711 --limit 20 --json\n"
	    "  contprof task $(contprof tasks --json | jq -r '.[0].id')\n");
}

static void task_usage(void)
{
	printf("usage: contprof task ID [--json]\n\n"
	       "Shows one profiling task: target, trigger, process, status, times, the\n"
	       "share of samples whose user stack looks truncated (cut short, e.g. by\n"
	       "code without frame pointers) and the samples lost, and its cause broken\n"
	       "out (monitor, threshold, period, count, slots matched, current and peak\n"
	       "values, URI filter, message).\n\n"
	       "options:\n"
	       "  --json              print the server's JSON\n" CLIENT_OPTIONS_HELP
	       "  -h, --help          this help\n\n"
	       "examples:\n"
	       "  contprof task 7c1e0a52\n"
	       "  contprof task 7c1e0a52 --json | jq .cause\n");
}

/* The unit a monitor's values are in (DESIGN.md section 2). */
static const char *monitor_unit(const char *monitor)
{
	static const struct {
		const char *monitor, *unit;
	} units[] = {
	    {"PROCESS_CPU", "%"},     {"PROCESS_THREAD_COUNT", "threads"}, {"SYSTEM_LOAD", ""},
	    {"HTTP_ERROR_RATE", "%"}, {"HTTP_AVG_RESPONSE_TIME", "ms"},
	};

	for (size_t i = 0; monitor && i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(monitor, units[i].monitor) == 0)
			return units[i].unit;
	return "";
}

/* Elapsed time of a task: end - start, or now - start while it runs. */
static char *task_duration(const json_t *task, int64_t now_ms, char buf[FORMAT_BUF_LEN])
{
	int64_t start = cmdutil_ms(task, "start_time"), end = cmdutil_ms(task, "end_time");
	const char *status = cmdutil_str(task, "status");

	if (!start) {
		snprintf(buf, FORMAT_BUF_LEN, "-");
		return buf;
	}
	if (!end && status && strcmp(status, "RUNNING") == 0)
		end = now_ms;
	if (!end) {
		snprintf(buf, FORMAT_BUF_LEN, "-");
		return buf;
	}
	return format_duration_ms(end - start, buf);
}

/* The process a task profiles, or "service/instance" for an instance-wide
 * NETWORK task. */
static const char *task_process(const json_t *task, char buf[CMDUTIL_SCALAR_LEN])
{
	const json_t *process = json_object_get(task, "process_id");
	const char *service = cmdutil_str(task, "service"),
		   *instance = cmdutil_str(task, "instance");

	if (process && !json_is_null(process))
		return cmdutil_scalar(process, buf);
	if (!instance)
		return "-";
	snprintf(buf, CMDUTIL_SCALAR_LEN, "%s%s%s", service ? service : "", service ? "/" : "",
		 instance);
	return buf;
}

static const char *cause_text(const json_t *task)
{
	const json_t *cause = json_object_get(task, "cause");
	const char *message = cmdutil_str(cause, "message"), *trigger;

	if (message)
		return message;
	if (json_is_string(cause))
		return json_string_value(cause);
	if (cmdutil_str(task, "reason"))
		return cmdutil_str(task, "reason");
	trigger = cmdutil_str(task, "trigger");
	return trigger && strcmp(trigger, "MANUAL") == 0 ? "manual" : NULL;
}

static int print_tasks_table(const json_t *rows)
{
	static const struct table_column columns[] = {
	    {"ID", TABLE_LEFT, ID_MAX_WIDTH}, {"TARGET", TABLE_LEFT, 0},
	    {"TRIGGER", TABLE_LEFT, 0},	      {"PROCESS", TABLE_LEFT, 0},
	    {"START", TABLE_LEFT, 0},	      {"DURATION", TABLE_RIGHT, 0},
	    {"STATUS", TABLE_LEFT, 0},	      {"CAUSE", TABLE_LEFT, CAUSE_MAX_WIDTH},
	};
	struct table *t = table_new(columns, sizeof(columns) / sizeof(columns[0]));
	char id[CMDUTIL_SCALAR_LEN], process[CMDUTIL_SCALAR_LEN];
	char start[FORMAT_BUF_LEN], duration[FORMAT_BUF_LEN];
	int64_t now_ms = format_now_ms();
	size_t i;
	json_t *row;
	int err = 0;

	if (!t)
		goto fail;
	json_array_foreach(rows, i, row)
	{
		err |= table_cell(t, cmdutil_scalar(json_object_get(row, "id"), id));
		err |= table_cell(t, cmdutil_str(row, "target"));
		err |= table_cell(t, cmdutil_str(row, "trigger"));
		err |= table_cell(t, task_process(row, process));
		err |= table_cell(t, format_time_ms(cmdutil_ms(row, "start_time"), start));
		err |= table_cell(t, task_duration(row, now_ms, duration));
		err |= table_cell(t, cmdutil_str(row, "status"));
		err |= table_cell(t, cause_text(row));
		if (err)
			goto fail;
	}
	if (json_array_size(rows) == 0) {
		table_free(t);
		fprintf(stderr, "contprof tasks: no tasks match\n");
		return 0;
	}
	err = table_print(t, stdout);
	table_free(t);
	return err ? 1 : 0;
fail:
	table_free(t);
	fprintf(stderr, "contprof tasks: out of memory\n");
	return 1;
}

/* Builds /api/v1/tasks with the filters given. 0 or -ENOMEM. */
static int tasks_path(const char *service, const char *process, int64_t since_ms, char **ret)
{
	char *path = strdup("/api/v1/tasks"), since[32];

	if (!path)
		return -ENOMEM;
	snprintf(since, sizeof(since), "%lld", (long long)since_ms);
	if ((service && client_query_add(&path, "service", service) < 0) ||
	    (process && client_query_add(&path, "process", process) < 0) ||
	    (since_ms > 0 && client_query_add(&path, "since", since) < 0)) {
		free(path);
		return -ENOMEM;
	}
	*ret = path;
	return 0;
}

int cmd_tasks(int argc, char **argv)
{
	static const char *const who = "contprof tasks";
	static const struct option opts[] = {
	    {"service", required_argument, NULL, 's'},
	    {"process", required_argument, NULL, 'p'},
	    {"since", required_argument, NULL, 'S'},
	    {"limit", required_argument, NULL, 'l'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    CLIENT_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct client_options copts = {0};
	const char *service = NULL, *process = NULL;
	int64_t since_ms = 0, span_ms;
	uint32_t limit = 0;
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
		else if (opt == 'p')
			process = optarg;
		else if (opt == 'S') {
			if (parse_duration_ms(optarg, &span_ms) < 0 || span_ms <= 0)
				return cmdutil_usage_error(
				    who,
				    "--since wants a duration like 90s, 15m, 48h or 7d, not '%s'",
				    optarg);
			since_ms = format_now_ms() - span_ms;
			if (since_ms <= 0)
				since_ms = 1;
		} else if (opt == 'l') {
			if (parse_u32(optarg, &limit) < 0 || limit == 0 ||
			    limit > CMDUTIL_MAX_LIST_ROWS)
				return cmdutil_usage_error(who, "--limit wants 1 to %d, not '%s'",
							   CMDUTIL_MAX_LIST_ROWS, optarg);
		} else if (opt == 'j')
			json = 1;
		else if (opt == 'h') {
			tasks_usage();
			return 0;
		} else if (!client_options_take(&copts, opt, optarg))
			return cmdutil_bad_option(who, opt, argv);
	}
	if (optind < argc)
		return cmdutil_usage_error(who, "unexpected argument '%s'", argv[optind]);
	c = cmdutil_connect(who, &copts, &rc);
	if (!c)
		return rc;
	if (tasks_path(service, process, since_ms, &path) < 0) {
		fprintf(stderr, "%s: out of memory\n", who);
		rc = 1;
		goto cleanup;
	}
	if (cmdutil_get_list(c, path, "tasks", limit, &rows, &truncated) < 0) {
		rc = cmdutil_fail(who, c);
		goto cleanup;
	}
	rc = json ? cmdutil_print_json(rows) : print_tasks_table(rows);
	if (truncated && !limit)
		fprintf(stderr, "%s: showing the first %d tasks only\n", who,
			CMDUTIL_MAX_LIST_ROWS);
cleanup:
	json_decref(rows);
	free(path);
	client_free(c);
	return rc;
}

/* "80 %", "200 ms", "1.5" — a cause value with its monitor's unit. */
static void print_cause_value(const char *label, const json_t *cause, const char *key,
			      const char *unit)
{
	char value[FORMAT_BUF_LEN], line[FORMAT_BUF_LEN + 16];
	double v;

	if (!cmdutil_num(cause, key, &v)) {
		char buf[CMDUTIL_SCALAR_LEN];

		cmdutil_print_field(2, FIELD_WIDTH, label,
				    cmdutil_scalar(json_object_get(cause, key), buf));
		return;
	}
	snprintf(line, sizeof(line), "%s%s%s", format_value(v, value), *unit ? " " : "", unit);
	cmdutil_print_field(2, FIELD_WIDTH, label, line);
}

static void print_cause(const json_t *cause)
{
	static const char *const known[] = {"monitor", "threshold", "period", "count",	"matched",
					    "current", "peak",	    "uri",    "message"};
	const char *monitor = cmdutil_str(cause, "monitor"), *unit = monitor_unit(monitor), *key;
	char buf[CMDUTIL_SCALAR_LEN], line[128];
	double period, count, matched;
	json_t *value;

	printf("cause\n");
	if (!json_is_object(cause)) {
		cmdutil_print_field(2, FIELD_WIDTH, "message",
				    json_is_string(cause) ? json_string_value(cause) : NULL);
		return;
	}
	cmdutil_print_field(2, FIELD_WIDTH, "monitor", monitor);
	print_cause_value("threshold", cause, "threshold", unit);
	if (cmdutil_num(cause, "period", &period)) {
		snprintf(line, sizeof(line), "%.0f s", period);
		cmdutil_print_field(2, FIELD_WIDTH, "period", line);
	} else
		cmdutil_print_field(2, FIELD_WIDTH, "period", NULL);
	cmdutil_print_field(2, FIELD_WIDTH, "count",
			    cmdutil_scalar(json_object_get(cause, "count"), buf));
	if (cmdutil_num(cause, "matched", &matched) && cmdutil_num(cause, "count", &count) &&
	    cmdutil_num(cause, "period", &period)) {
		snprintf(line, sizeof(line), "%.0f of the last %.0f slots (needed %.0f)", matched,
			 period, count);
		cmdutil_print_field(2, FIELD_WIDTH, "matched", line);
	} else
		cmdutil_print_field(2, FIELD_WIDTH, "matched",
				    cmdutil_scalar(json_object_get(cause, "matched"), buf));
	print_cause_value("current", cause, "current", unit);
	print_cause_value("peak", cause, "peak", unit);
	cmdutil_print_field(2, FIELD_WIDTH, "uri",
			    cmdutil_scalar(json_object_get(cause, "uri"), buf));
	cmdutil_print_field(2, FIELD_WIDTH, "message", cmdutil_str(cause, "message"));
	json_object_foreach((json_t *)cause, key, value)
	{
		size_t k = 0;

		while (k < sizeof(known) / sizeof(known[0]) && strcmp(known[k], key) != 0)
			k++;
		if (k == sizeof(known) / sizeof(known[0]))
			cmdutil_print_field(2, FIELD_WIDTH, key, cmdutil_scalar(value, buf));
	}
}

static void print_time_field(const char *label, int64_t ms, int64_t now_ms)
{
	char when[FORMAT_BUF_LEN], ago[FORMAT_BUF_LEN], line[2 * FORMAT_BUF_LEN + 4];

	if (!ms) {
		cmdutil_print_field(0, FIELD_WIDTH, label, NULL);
		return;
	}
	snprintf(line, sizeof(line), "%s (%s)", format_time_ms(ms, when),
		 format_ago(now_ms, ms, ago));
	cmdutil_print_field(0, FIELD_WIDTH, label, line);
}

/* "truncated user stacks: 1.2 % of 4950 samples, 0 lost" from the task's
 * stack_stats (the agent's totals over the slices stored); nothing when the
 * task has none (NETWORK, no slice yet, an older agent). */
static void print_stack_stats(const json_t *task, const char *target)
{
	const json_t *stats = json_object_get(task, "stack_stats");
	const char *unit = target && strcmp(target, "OFF_CPU") == 0 ? "blocks" : "samples";
	double samples, truncated, lost;

	if (!cmdutil_num(stats, "samples", &samples) ||
	    !cmdutil_num(stats, "truncated", &truncated) || !cmdutil_num(stats, "lost", &lost))
		return;
	printf("truncated user stacks: %.1f %% of %.0f %s, %.0f lost\n",
	       samples > 0 ? 100.0 * truncated / samples : 0.0, samples, unit, lost);
}

static void print_task(const json_t *task)
{
	static const char *const shown[] = {"id",	  "target",   "trigger",
					    "process_id", "status",   "start_time",
					    "end_time",	  "duration", "cause"};
	char buf[CMDUTIL_SCALAR_LEN], duration[FORMAT_BUF_LEN];
	int64_t now_ms = format_now_ms();
	const char *target = cmdutil_str(task, "target"), *key, *id_text;
	const json_t *id = json_object_get(task, "id");
	json_t *value;
	double planned_s;

	cmdutil_print_field(0, FIELD_WIDTH, "task", cmdutil_scalar(id, buf));
	cmdutil_print_field(0, FIELD_WIDTH, "target", target);
	cmdutil_print_field(0, FIELD_WIDTH, "trigger", cmdutil_str(task, "trigger"));
	cmdutil_print_field(0, FIELD_WIDTH, "process", task_process(task, buf));
	cmdutil_print_field(0, FIELD_WIDTH, "status", cmdutil_str(task, "status"));
	print_time_field("started", cmdutil_ms(task, "start_time"), now_ms);
	print_time_field("ended", cmdutil_ms(task, "end_time"), now_ms);
	cmdutil_print_field(0, FIELD_WIDTH, "elapsed", task_duration(task, now_ms, duration));
	if (cmdutil_num(task, "duration", &planned_s) && planned_s >= 0)
		cmdutil_print_field(0, FIELD_WIDTH, "planned",
				    format_duration_ms((int64_t)(planned_s * 1000), duration));
	/* Whatever else the server tells about the task (reason, service, ...). */
	json_object_foreach((json_t *)task, key, value)
	{
		size_t k = 0;

		while (k < sizeof(shown) / sizeof(shown[0]) && strcmp(shown[k], key) != 0)
			k++;
		if (k == sizeof(shown) / sizeof(shown[0]) && !json_is_object(value) &&
		    !json_is_array(value) && !json_is_null(value))
			cmdutil_print_field(0, FIELD_WIDTH, key, cmdutil_scalar(value, buf));
	}
	print_stack_stats(task, target);
	print_cause(json_object_get(task, "cause"));
	id_text = cmdutil_scalar(id, buf);
	if (target && strcmp(target, "NETWORK") == 0)
		printf("\ntopology:    contprof topology %s\n", id_text);
	else
		printf("\nflame graph: contprof flame %s --format svg -o %s.svg\n", id_text,
		       id_text);
}

int cmd_task(int argc, char **argv)
{
	static const char *const who = "contprof task";
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    CLIENT_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct client_options copts = {0};
	struct client *c = NULL;
	json_t *task = NULL;
	char *path = NULL, *escaped = NULL;
	const char *id;
	int opt, rc = 1, json = 0;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (opt == 'j')
			json = 1;
		else if (opt == 'h') {
			task_usage();
			return 0;
		} else if (!client_options_take(&copts, opt, optarg))
			return cmdutil_bad_option(who, opt, argv);
	}
	id = cmdutil_positional(argc, argv, 0);
	if (!id || !*id)
		return cmdutil_usage_error(who, "which task? give its ID");
	if (cmdutil_positional(argc, argv, 1))
		return cmdutil_usage_error(who, "unexpected argument '%s'",
					   cmdutil_positional(argc, argv, 1));
	c = cmdutil_connect(who, &copts, &rc);
	if (!c)
		return rc;
	escaped = client_escape(id);
	if (!escaped || asprintf(&path, "/api/v1/tasks/%s", escaped) < 0) {
		path = NULL;
		fprintf(stderr, "%s: out of memory\n", who);
		rc = 1;
		goto cleanup;
	}
	if (client_request_json(c, "GET", path, NULL, &task) < 0) {
		rc = cmdutil_fail(who, c);
		goto cleanup;
	}
	if (json)
		rc = cmdutil_print_json(task);
	else if (!json_is_object(task)) {
		fprintf(stderr, "%s: the server's answer is not a task\n", who);
		rc = 1;
	} else {
		print_task(task);
		rc = 0;
	}
cleanup:
	json_decref(task);
	free(escaped);
	free(path);
	client_free(c);
	return rc;
}
