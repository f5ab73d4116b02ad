/* cmd_flame: `contprof flame TASK` — a task's flame graph from
 * GET /api/v1/tasks/{id}/flamegraph as folded stacks, d3-flame-graph JSON or
 * pprof exactly as the server sends them, or as an SVG drawn here from the
 * folded form (flame_svg.h). Writes to stdout or, with -o, to a file that
 * appears complete or not at all. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmdutil.h"
#include "cli/commands.h"
#include "cli/flame_svg.h"
#include "cli/format.h"
#include "util/fsutil.h"
#include "util/parse.h"

#define WHO		  "contprof flame"
#define DEFAULT_FORMAT	  "folded"
#define DEFAULT_AGGREGATE "count"
#define DURATION_UNIT	  "ns" /* what the server's duration aggregate sums */
#define OUTPUT_TMP_SUFFIX ".tmp"
#define OUTPUT_FILE_MODE  0644

static void usage(void)
{
	printf("usage: contprof flame TASK [--format folded|json|pprof|svg]\n"
	       "                      [--aggregate count|duration] [--from T] [--to T]\n"
	       "                      [-o FILE] [--width PX]\n\n"
	       "Fetches the flame graph of a profiling task. folded, json (d3-flame-graph)\n"
	       "and pprof (gzipped protobuf, for `go tool pprof`) come from the server as\n"
	       "they are; svg is drawn here from the folded stacks: a self-contained\n"
	       "flame graph with a tooltip per frame.\n\n"
	       "options:\n"
	       "  --format F          folded (default), json, pprof or svg; with -o and no\n"
	       "                      --format, taken from FILE's extension (.svg, .json,\n"
	       "                      .pb.gz/.pprof, .folded/.txt)\n"
	       "  --aggregate A       count: samples (default); duration: time off CPU\n"
	       "                      (OFF_CPU tasks)\n"
	       "  --from T, --to T    only samples in [T, T): Unix ms, 'now', or relative\n"
	       "                      to now like -10m\n"
	       "  -o, --output FILE   write to FILE instead of stdout (pprof needs it when\n"
	       "                      stdout is a terminal)\n"
	       "  --width PX          svg width in pixels (default %d)\n" CLIENT_OPTIONS_HELP
	       "  -h, --help          this help\n\n"
	       "examples:\n"
	       "  contprof flame 7c1e0a52 --format svg -o cpu.svg\n"
	       "  contprof flame 7c1e0a52 | sort -k2 -nr | head\n"
	       "  contprof flame 7c1e0a52 --format pprof -o cpu.pb.gz && go tool pprof -top "
	       "cpu.pb.gz\n"
	       "  contprof flame 7c1e0a52 --aggregate duration --from -10m -o offcpu.svg\n",
	       FLAME_SVG_DEFAULT_WIDTH_PX);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The format a file name asks for, or NULL when it does not say. */
static const char *format_from_name(const char *path)
{
	if (ends_with(path, ".svg"))
		return "svg";
	if (ends_with(path, ".json"))
		return "json";
	if (ends_with(path, ".pb.gz") || ends_with(path, ".pprof") || ends_with(path, ".pb"))
		return "pprof";
	if (ends_with(path, ".folded") || ends_with(path, ".txt"))
		return "folded";
	return NULL;
}

/* Writes buf to `path` through a temporary file renamed into place, or to
 * stdout when path is NULL or "-". Returns the exit code, reporting errors. */
static int write_output(const char *path, const char *buf, size_t len)
{
	char *tmp = NULL;
	int fd, err;

	if (!path || strcmp(path, "-") == 0) {
		if (fwrite(buf, 1, len, stdout) != len) {
			fprintf(stderr, "%s: cannot write to stdout: %s\n", WHO, strerror(errno));
			return 1;
		}
		return 0;
	}
	if (asprintf(&tmp, "%s%s", path, OUTPUT_TMP_SUFFIX) < 0) {
		fprintf(stderr, "%s: out of memory\n", WHO);
		return 1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, OUTPUT_FILE_MODE);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	err = fs_write_all(fd, buf, len);
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		goto fail;
	}
	free(tmp);
	fprintf(stderr, "%s: wrote %s (%zu bytes)\n", WHO, path, len);
	return 0;
fail:
	fprintf(stderr, "%s: cannot write %s: %s\n", WHO, path, strerror(-err));
	free(tmp);
	return 1;
}

struct flame_args {
	const char *task, *format, *aggregate, *output;
	int64_t from_ms, to_ms;
	unsigned width_px;
};

static int build_path(const struct flame_args *a, char **ret)
{
	char *escaped = client_escape(a->task), *path = NULL, num[32];
	const char *fetch = strcmp(a->format, "svg") == 0 ? "folded" : a->format;
	int err = -ENOMEM;

	if (!escaped || asprintf(&path, "/api/v1/tasks/%s/flamegraph", escaped) < 0) {
		path = NULL;
		goto cleanup;
	}
	if (client_query_add(&path, "format", fetch) < 0 ||
	    client_query_add(&path, "aggregate", a->aggregate) < 0)
		goto cleanup;
	snprintf(num, sizeof(num), "%lld", (long long)a->from_ms);
	if (a->from_ms && client_query_add(&path, "from", num) < 0)
		goto cleanup;
	snprintf(num, sizeof(num), "%lld", (long long)a->to_ms);
	if (a->to_ms && client_query_add(&path, "to", num) < 0)
		goto cleanup;
	*ret = path;
	path = NULL;
	err = 0;
cleanup:
	free(path);
	free(escaped);
	return err;
}

/* Title and subtitle of the SVG from the task (best effort: a task that
 * cannot be fetched leaves a title naming only its id). */
static void svg_titles(struct client *c, const struct flame_args *a, char *title, size_t title_len,
		       char *subtitle, size_t subtitle_len)
{
	char *escaped = client_escape(a->task), *path = NULL, when[FORMAT_BUF_LEN];
	char buf[CMDUTIL_SCALAR_LEN];
	const char *target, *service, *process, *message;
	const char *what = strcmp(a->aggregate, "duration") == 0 ? "time off CPU" : "samples";
	json_t *task = NULL;

	snprintf(title, title_len, "Flame graph of task %s", a->task);
	snprintf(subtitle, subtitle_len, "%s", what);
	if (!escaped || asprintf(&path, "/api/v1/tasks/%s", escaped) < 0) {
		free(escaped);
		return;
	}
	if (client_request_json(c, "GET", path, NULL, &task) == 0 && json_is_object(task)) {
		target = cmdutil_str(task, "target");
		service = cmdutil_str(task, "service");
		process = cmdutil_scalar(json_object_get(task, "process_id"), buf);
		message = cmdutil_str(json_object_get(task, "cause"), "message");
		snprintf(title, title_len, "%s flame graph of %s%s%s (task %s)",
			 target ? target : "", service ? service : "", service ? " " : "", process,
			 a->task);
		snprintf(subtitle, subtitle_len, "%s \xc2\xb7 started %s%s%s", what,
			 format_time_ms(cmdutil_ms(task, "start_time"), when),
			 message ? " \xc2\xb7 " : "", message ? message : "");
	}
	json_decref(task);
	free(path);
	free(escaped);
}

static int render_svg(struct client *c, const struct flame_args *a,
		      const struct client_response *resp)
{
	char title[512], subtitle[512];
	struct flame_svg_options opts = {
	    .title = title,
	    .subtitle = subtitle,
	    .unit = strcmp(a->aggregate, "duration") == 0 ? DURATION_UNIT : "samples",
	    .width_px = a->width_px,
	};
	size_t svg_len = 0, bad_line = 0;
	char *svg = NULL;
	int err, rc;

	svg_titles(c, a, title, sizeof(title), subtitle, sizeof(subtitle));
	err = flame_svg_render(resp->body, resp->len, &opts, &svg, &svg_len, &bad_line);
	if (err == -EINVAL) {
		fprintf(stderr, "%s: the server's folded stacks are malformed at line %zu\n", WHO,
			bad_line);
		return 1;
	}
	if (err) {
		fprintf(stderr, "%s: cannot draw the flame graph: %s\n", WHO, strerror(-err));
		return 1;
	}
	rc = write_output(a->output, svg, svg_len);
	free(svg);
	return rc;
}

/* Parses the command line into *a; returns -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, struct flame_args *a, struct client_options *copts)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"aggregate", required_argument, NULL, 'a'},
	    {"from", required_argument, NULL, 'F'},
	    {"to", required_argument, NULL, 'T'},
	    {"output", required_argument, NULL, 'o'},
	    {"width", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    CLIENT_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int64_t now_ms = format_now_ms();
	uint32_t width;
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			a->format = optarg;
			break;
		case 'a':
			a->aggregate = optarg;
			break;
		case 'F':
		case 'T':
			if (parse_time_ms(optarg, now_ms, opt == 'F' ? &a->from_ms : &a->to_ms) < 0)
				return cmdutil_usage_error(WHO,
							   "--%s wants Unix ms, 'now' or a "
							   "relative time like -10m, not '%s'",
							   opt == 'F' ? "from" : "to", optarg);
			break;
		case 'o':
			a->output = optarg;
			break;
		case 'w':
			if (parse_u32(optarg, &width) < 0 || width < FLAME_SVG_MIN_WIDTH_PX ||
			    width > FLAME_SVG_MAX_WIDTH_PX)
				return cmdutil_usage_error(
				    WHO, "--width wants %d..%d pixels, not '%s'",
				    FLAME_SVG_MIN_WIDTH_PX, FLAME_SVG_MAX_WIDTH_PX, optarg);
			a->width_px = width;
			break;
		case 'h':
			usage();
			return 0;
		default:
			if (!client_options_take(copts, opt, optarg))
				return cmdutil_bad_option(WHO, opt, argv);
		}
	}
	a->task = cmdutil_positional(argc, argv, 0);
	if (!a->task || !*a->task)
		return cmdutil_usage_error(WHO, "which task? give its ID");
	if (cmdutil_positional(argc, argv, 1))
		return cmdutil_usage_error(WHO, "unexpected argument '%s'",
					   cmdutil_positional(argc, argv, 1));
	if (!a->format && a->output)
		a->format = format_from_name(a->output);
	if (!a->format)
		a->format = DEFAULT_FORMAT;
	if (strcmp(a->format, "folded") && strcmp(a->format, "json") &&
	    strcmp(a->format, "pprof") && strcmp(a->format, "svg"))
		return cmdutil_usage_error(WHO, "--format is folded, json, pprof or svg, not '%s'",
					   a->format);
	if (strcmp(a->aggregate, "count") && strcmp(a->aggregate, "duration"))
		return cmdutil_usage_error(WHO, "--aggregate is count or duration, not '%s'",
					   a->aggregate);
	if (a->from_ms && a->to_ms && a->from_ms >= a->to_ms)
		return cmdutil_usage_error(WHO, "--from must be before --to");
	if (strcmp(a->format, "pprof") == 0 && (!a->output || strcmp(a->output, "-") == 0) &&
	    isatty(STDOUT_FILENO))
		return cmdutil_usage_error(WHO, "pprof is binary; write it to a file with -o FILE "
						"or redirect stdout");
	return -1;
}

int cmd_flame(int argc, char **argv)
{
	struct flame_args a = {.aggregate = DEFAULT_AGGREGATE};
	struct client_options copts = {0};
	struct client_response resp = {0};
	struct client *c = NULL;
	char *path = NULL;
	int rc;

	rc = parse_args(argc, argv, &a, &copts);
	if (rc >= 0)
		return rc;
	c = cmdutil_connect(WHO, &copts, &rc);
	if (!c)
		return rc;
	if (build_path(&a, &path) < 0) {
		fprintf(stderr, "%s: out of memory\n", WHO);
		rc = 1;
		goto cleanup;
	}
	if (client_request(c, "GET", path, NULL, &resp) < 0) {
		rc = cmdutil_fail(WHO, c);
		goto cleanup;
	}
	if (strcmp(a.format, "svg") == 0)
		rc = render_svg(c, &a, &resp);
	else
		rc = write_output(a.output, resp.body, resp.len);
	if (rc == 0 && resp.len == 0 && strcmp(a.format, "folded") == 0)
		fprintf(stderr, "%s: no samples for task %s (yet)\n", WHO, a.task);
cleanup:
	client_response_clear(&resp);
	free(path);
	client_free(c);
	return rc;
}
