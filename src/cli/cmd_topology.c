/* cmd_topology: `contprof topology TASK` — the process topology a NETWORK
 * task recorded (GET /api/v1/tasks/{id}/topology) as three tables: the
 * nodes, the edges between them with their traffic, and the sampled slow or
 * failed requests.
 *
 * The document is the agent's (docs/agent-api.md, "Topology"; every field in
 * docs/netprof.md); this reads, showing "-" for whatever is absent:
 *   nodes   [{id, service, instance, process|name, pid, address}]
 *   edges   [{from, to, role, bytes_out, bytes_in,
 *             http: {requests, status: {"5xx"}, latency_ms: {avg, p99}}}]
 *   samples [{method, uri, status, duration_ms}, optional time, from, to]
 * where from/to are node ids (a peer without a node shows as its id). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmdutil.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/table.h"

#define WHO		 "contprof topology"
#define NODE_LABEL_WIDTH 40
#define URI_MAX_WIDTH	 60

static void usage(void)
{
	printf("usage: contprof topology TASK [--json]\n\n"
	       "Shows what a NETWORK task saw: every process and peer (nodes), the\n"
	       "connections between them with requests, 5xx responses, average and p99\n"
	       "latency and bytes each way (edges), and the slow or failed requests it\n"
	       "sampled.\n\n"
	       "options:\n"
	       "  --json              print the server's JSON\n" CLIENT_OPTIONS_HELP
	       "  -h, --help          this help\n\n"
	       "examples:\n"
	       "  contprof topology 7c1e0a52\n"
	       "  contprof topology 7c1e0a52 --json | jq '.edges | length'\n");
}

/* Member at a dotted path ("http.latency_ms.p99"), or NULL. */
static const json_t *member_at(const json_t *obj, const char *dotted)
{
	char key[64];

	while (obj) {
		const char *dot = strchr(dotted, '.');
		size_t len = dot ? (size_t)(dot - dotted) : strlen(dotted);

		if (len >= sizeof(key))
			return NULL;
		memcpy(key, dotted, len);
		key[len] = '\0';
		obj = json_object_get(obj, key);
		if (!dot)
			return obj;
		dotted = dot + 1;
	}
	return NULL;
}

/* The first of the dotted `keys` that is a number. */
static bool num_any(const json_t *obj, const char *const *keys, double *ret)
{
	for (; *keys; keys++) {
		const json_t *v = member_at(obj, *keys);

		if (json_is_number(v)) {
			*ret = json_number_value(v);
			return true;
		}
	}
	return false;
}

static const char *str_any(const json_t *obj, const char *const *keys)
{
	for (; *keys; keys++)
		if (cmdutil_str(obj, *keys))
			return cmdutil_str(obj, *keys);
	return NULL;
}

/* How a node reads in an edge: "service/process (pid 12)", or its address. */
static char *node_label(const json_t *node)
{
	static const char *const process_keys[] = {"process", "name", NULL};
	const char *service = cmdutil_str(node, "service"), *process = str_any(node, process_keys);
	const char *address = cmdutil_str(node, "address");
	char pid_buf[CMDUTIL_SCALAR_LEN], *label;
	const json_t *pid_value = json_object_get(node, "pid");
	const char *pid = cmdutil_scalar(pid_value, pid_buf);
	int n;

	if (!process && address)
		return strdup(address);
	if (json_is_number(pid_value))
		n = asprintf(&label, "%s%s%s (pid %s)", service ? service : "", service ? "/" : "",
			     process ? process : "?", pid);
	else
		n = asprintf(&label, "%s%s%s", service ? service : "", service ? "/" : "",
			     process ? process : (address ? address : "?"));
	return n < 0 ? NULL : label;
}

/* The label of node `id` (a string or number), or the id itself. */
static char *endpoint_label(const json_t *nodes, const json_t *id)
{
	char want[CMDUTIL_SCALAR_LEN], have[CMDUTIL_SCALAR_LEN];
	const char *want_text;
	size_t i;
	json_t *node;

	if (json_is_object(id))
		return node_label(id);
	if (!id || json_is_null(id))
		return strdup("-");
	want_text = cmdutil_scalar(id, want);
	json_array_foreach(nodes, i, node)
	{
		if (strcmp(cmdutil_scalar(json_object_get(node, "id"), have), want_text) == 0)
			return node_label(node);
	}
	return strdup(want_text);
}

static int cell_num(struct table *t, const json_t *obj, const char *const *keys)
{
	char buf[FORMAT_BUF_LEN];
	double v;

	return table_cell(t, num_any(obj, keys, &v) ? format_value(v, buf) : NULL);
}

static int cell_ms(struct table *t, const json_t *obj, const char *const *keys)
{
	char buf[FORMAT_BUF_LEN];
	double v;

	if (!num_any(obj, keys, &v))
		return table_cell(t, NULL);
	return table_cellf(t, "%s ms", format_value(v, buf));
}

static int cell_bytes(struct table *t, const json_t *obj, const char *const *keys)
{
	char buf[FORMAT_BUF_LEN];
	double v;

	return table_cell(t, num_any(obj, keys, &v) ? format_bytes(v, buf) : NULL);
}

static int print_nodes(const json_t *nodes)
{
	static const struct table_column columns[] = {
	    {"ID", TABLE_LEFT, 0},	{"SERVICE", TABLE_LEFT, 0}, {"INSTANCE", TABLE_LEFT, 0},
	    {"PROCESS", TABLE_LEFT, 0}, {"PID", TABLE_RIGHT, 0},    {"ADDRESS", TABLE_LEFT, 0},
	};
	static const char *const process_keys[] = {"process", "name", NULL};
	struct table *t = table_new(columns, sizeof(columns) / sizeof(columns[0]));
	char buf[CMDUTIL_SCALAR_LEN];
	size_t i;
	json_t *node;
	int err = 0;

	if (!t)
		return -ENOMEM;
	json_array_foreach(nodes, i, node)
	{
		err |= table_cell(t, cmdutil_scalar(json_object_get(node, "id"), buf));
		err |= table_cell(t, cmdutil_str(node, "service"));
		err |= table_cell(t, cmdutil_str(node, "instance"));
		err |= table_cell(t, str_any(node, process_keys));
		err |= table_cell(t, cmdutil_scalar(json_object_get(node, "pid"), buf));
		err |= table_cell(t, cmdutil_str(node, "address"));
	}
	printf("nodes (%zu)\n", json_array_size(nodes));
	if (!err)
		err = table_print(t, stdout);
	table_free(t);
	return err ? -ENOMEM : 0;
}

static int print_edges(const json_t *nodes, const json_t *edges)
{
	static const struct table_column columns[] = {
	    {"FROM", TABLE_LEFT, NODE_LABEL_WIDTH},
	    {"", TABLE_LEFT, 0},
	    {"TO", TABLE_LEFT, NODE_LABEL_WIDTH},
	    {"ROLE", TABLE_LEFT, 0},
	    {"REQUESTS", TABLE_RIGHT, 0},
	    {"5XX", TABLE_RIGHT, 0},
	    {"AVG", TABLE_RIGHT, 0},
	    {"P99", TABLE_RIGHT, 0},
	    {"SENT", TABLE_RIGHT, 0},
	    {"RECEIVED", TABLE_RIGHT, 0},
	};
	static const char *const requests[] = {"http.requests", "requests", NULL};
	static const char *const errors[] = {"http.status.5xx", "errors_5xx", NULL};
	static const char *const avg[] = {"http.latency_ms.avg", "avg_latency_ms", NULL};
	static const char *const p99[] = {"http.latency_ms.p99", "p99_latency_ms", NULL};
	static const char *const sent[] = {"bytes_sent", "bytes_out", NULL};
	static const char *const received[] = {"bytes_received", "bytes_in", NULL};
	struct table *t = table_new(columns, sizeof(columns) / sizeof(columns[0]));
	size_t i;
	json_t *edge;
	int err = 0;

	if (!t)
		return -ENOMEM;
	json_array_foreach(edges, i, edge)
	{
		char *from = endpoint_label(nodes, json_object_get(edge, "from"));
		char *to = endpoint_label(nodes, json_object_get(edge, "to"));

		err |= table_cell(t, from);
		err |= table_cell(t, "\xe2\x86\x92"); /* U+2192 */
		err |= table_cell(t, to);
		free(from);
		free(to);
		if (!from || !to)
			err = -ENOMEM;
		err |= table_cell(t, cmdutil_str(edge, "role"));
		err |= cell_num(t, edge, requests);
		err |= cell_num(t, edge, errors);
		err |= cell_ms(t, edge, avg);
		err |= cell_ms(t, edge, p99);
		err |= cell_bytes(t, edge, sent);
		err |= cell_bytes(t, edge, received);
	}
	printf("\nedges (%zu)\n", json_array_size(edges));
	if (!err)
		err = table_print(t, stdout);
	table_free(t);
	return err ? -ENOMEM : 0;
}

/* True when any sample names member `key`. */
static bool any_has(const json_t *samples, const char *key)
{
	size_t i;
	json_t *sample;

	json_array_foreach(samples, i, sample)
	{
		if (json_object_get(sample, key))
			return true;
	}
	return false;
}

static int print_samples(const json_t *nodes, const json_t *samples)
{
	static const char *const duration[] = {"duration_ms", "latency_ms", NULL};
	struct table_column columns[7];
	bool with_time = any_has(samples, "time");
	bool with_edge = any_has(samples, "from") || any_has(samples, "to");
	size_t n = 0;
	struct table *t;
	char when[FORMAT_BUF_LEN], buf[CMDUTIL_SCALAR_LEN];
	size_t i;
	json_t *sample;
	int err = 0;

	if (with_time)
		columns[n++] = (struct table_column){"TIME", TABLE_LEFT, 0};
	if (with_edge) {
		columns[n++] = (struct table_column){"FROM", TABLE_LEFT, NODE_LABEL_WIDTH};
		columns[n++] = (struct table_column){"TO", TABLE_LEFT, NODE_LABEL_WIDTH};
	}
	columns[n++] = (struct table_column){"METHOD", TABLE_LEFT, 0};
	columns[n++] = (struct table_column){"URI", TABLE_LEFT, URI_MAX_WIDTH};
	columns[n++] = (struct table_column){"STATUS", TABLE_RIGHT, 0};
	columns[n++] = (struct table_column){"DURATION", TABLE_RIGHT, 0};
	t = table_new(columns, n);
	if (!t)
		return -ENOMEM;
	json_array_foreach(samples, i, sample)
	{
		if (with_time)
			err |= table_cell(t, format_time_ms(cmdutil_ms(sample, "time"), when));
		if (with_edge) {
			char *from = endpoint_label(nodes, json_object_get(sample, "from"));
			char *to = endpoint_label(nodes, json_object_get(sample, "to"));

			err |= table_cell(t, from);
			err |= table_cell(t, to);
			if (!from || !to)
				err = -ENOMEM;
			free(from);
			free(to);
		}
		err |= table_cell(t, cmdutil_str(sample, "method"));
		err |= table_cell(t, cmdutil_str(sample, "uri"));
		err |= table_cell(t, cmdutil_scalar(json_object_get(sample, "status"), buf));
		err |= cell_ms(t, sample, duration);
	}
	printf("\nsampled requests (%zu)\n", json_array_size(samples));
	if (!err)
		err = table_print(t, stdout);
	table_free(t);
	return err ? -ENOMEM : 0;
}

static int print_topology(const json_t *doc)
{
	const json_t *nodes = json_object_get(doc, "nodes"), *edges = json_object_get(doc, "edges");
	const json_t *samples = json_object_get(doc, "samples");
	json_t *empty = json_array();
	int err;

	if (!empty)
		return -ENOMEM;
	if (!json_is_array(nodes))
		nodes = empty;
	if (!json_is_array(edges))
		edges = empty;
	if (!json_is_array(samples))
		samples = empty;
	if (json_array_size(nodes) == 0 && json_array_size(edges) == 0 &&
	    json_array_size(samples) == 0) {
		json_decref(empty);
		fprintf(stderr,
			"%s: no topology recorded for this task (NETWORK tasks record one)\n", WHO);
		return 0;
	}
	err = print_nodes(nodes);
	if (!err)
		err = print_edges(nodes, edges);
	if (!err && json_array_size(samples) > 0)
		err = print_samples(nodes, samples);
	json_decref(empty);
	return err;
}

int cmd_topology(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    CLIENT_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct client_options copts = {0};
	struct client *c = NULL;
	json_t *doc = NULL;
	char *path = NULL, *escaped = NULL;
	const char *id;
	int opt, rc = 1, json = 0;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (opt == 'j')
			json = 1;
		else if (opt == 'h') {
			usage();
			return 0;
		} else if (!client_options_take(&copts, opt, optarg))
			return cmdutil_bad_option(WHO, opt, argv);
	}
	id = cmdutil_positional(argc, argv, 0);
	if (!id || !*id)
		return cmdutil_usage_error(WHO, "which task? give its ID");
	if (cmdutil_positional(argc, argv, 1))
		return cmdutil_usage_error(WHO, "unexpected argument '%s'",
					   cmdutil_positional(argc, argv, 1));
	c = cmdutil_connect(WHO, &copts, &rc);
	if (!c)
		return rc;
	escaped = client_escape(id);
	if (!escaped || asprintf(&path, "/api/v1/tasks/%s/topology", escaped) < 0) {
		path = NULL;
		fprintf(stderr, "%s: out of memory\n", WHO);
		rc = 1;
		goto cleanup;
	}
	if (client_request_json(c, "GET", path, NULL, &doc) < 0) {
		rc = cmdutil_fail(WHO, c);
		goto cleanup;
	}
	if (json)
		rc = cmdutil_print_json(doc);
	else if (!json_is_object(doc)) {
		fprintf(stderr, "%s: the server's answer is not a topology\n", WHO);
		rc = 1;
	} else if (print_topology(doc) < 0) {
		fprintf(stderr, "%s: out of memory\n", WHO);
		rc = 1;
	} else
		rc = 0;
cleanup:
	json_decref(doc);
	free(escaped);
	free(path);
	client_free(c);
	return rc;
}
