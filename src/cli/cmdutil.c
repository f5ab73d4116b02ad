/* cmdutil: see cmdutil.h. */
#include "cli/cmdutil.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/format.h"

int cmdutil_usage_error(const char *who, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see `%s --help`)\n", who);
	return EXIT_USAGE;
}

int cmdutil_bad_option(const char *who, int opt, char **argv)
{
	const char *word = optind > 0 ? argv[optind - 1] : "?";

	if (opt == ':')
		return cmdutil_usage_error(who, "option '%s' needs a value", word);
	if (optopt && !(word[0] == '-' && word[1] == '-'))
		return cmdutil_usage_error(who, "unknown option '-%c'", optopt);
	return cmdutil_usage_error(who, "unknown option '%s'", word);
}

struct client *cmdutil_connect(const char *who, const struct client_options *opts, int *exit_code)
{
	struct client *c = client_new();
	int err;

	if (!c) {
		fprintf(stderr, "%s: out of memory\n", who);
		*exit_code = EXIT_FAILURE_SERVER;
		return NULL;
	}
	err = client_configure(c, opts);
	if (err) {
		client_report(c, who, stderr);
		if (err == -ENOMEM)
			fprintf(stderr, "%s: out of memory\n", who);
		*exit_code = err == -EINVAL ? EXIT_USAGE : EXIT_FAILURE_SERVER;
		return client_free(c);
	}
	return c;
}

int cmdutil_fail(const char *who, const struct client *c)
{
	if (client_error_count(c) == 0)
		fprintf(stderr, "%s: out of memory\n", who);
	client_report(c, who, stderr);
	return EXIT_FAILURE_SERVER;
}

int cmdutil_print_json(const json_t *v)
{
	if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) != 0 ||
	    fputc('\n', stdout) == EOF)
		return EXIT_FAILURE_SERVER;
	return 0;
}

json_t *cmdutil_list(json_t *answer, const char *key)
{
	json_t *rows;

	if (json_is_array(answer))
		return answer;
	if (!json_is_object(answer))
		return NULL;
	rows = json_object_get(answer, key);
	if (json_is_array(rows))
		return rows;
	rows = json_object_get(answer, "items");
	return json_is_array(rows) ? rows : NULL;
}

int cmdutil_get_list(struct client *c, const char *path, const char *key, size_t max_rows,
		     json_t **ret, bool *ret_truncated)
{
	json_t *all = json_array(), *page = NULL, *rows;
	int64_t offset = 0, next = -1;
	char number[32], *page_path = NULL;
	bool truncated = false;
	int err = -ENOMEM;

	if (!all)
		return -ENOMEM;
	if (max_rows == 0 || max_rows > CMDUTIL_MAX_LIST_ROWS)
		max_rows = CMDUTIL_MAX_LIST_ROWS;
	for (;;) {
		size_t want = max_rows - json_array_size(all);

		page_path = strdup(path);
		snprintf(number, sizeof(number), "%zu",
			 want < CMDUTIL_PAGE_ROWS ? want : (size_t)CMDUTIL_PAGE_ROWS);
		if (!page_path || client_query_add(&page_path, "limit", number) < 0)
			goto cleanup;
		snprintf(number, sizeof(number), "%lld", (long long)offset);
		if (offset > 0 && client_query_add(&page_path, "offset", number) < 0)
			goto cleanup;
		err = client_get_json_page(c, page_path, &page, &next);
		if (err)
			goto cleanup;
		rows = cmdutil_list(page, key);
		if (!rows) {
			client_note(c, "the server's answer holds no list");
			err = -EPROTO;
			goto cleanup;
		}
		err = -ENOMEM;
		if (json_array_extend(all, rows) < 0)
			goto cleanup;
		if (json_array_size(all) >= max_rows) {
			truncated = next > offset;
			while (json_array_size(all) > max_rows) {
				json_array_remove(all, json_array_size(all) - 1);
				truncated = true;
			}
		}
		if (truncated || next <= offset || json_array_size(rows) == 0)
			break;
		offset = next;
		json_decref(page);
		page = NULL;
		free(page_path);
		page_path = NULL;
	}
	*ret = all;
	*ret_truncated = truncated;
	all = NULL;
	err = 0;
cleanup:
	json_decref(all);
	json_decref(page);
	free(page_path);
	return err;
}

const char *cmdutil_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

bool cmdutil_num(const json_t *obj, const char *key, double *ret)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_number(v))
		return false;
	*ret = json_number_value(v);
	return true;
}

int64_t cmdutil_ms(const json_t *obj, const char *key)
{
	double v;

	if (!cmdutil_num(obj, key, &v) || !isfinite(v) || v <= 0 || v > 9e15)
		return 0;
	return (int64_t)v;
}

const char *cmdutil_scalar(const json_t *v, char buf[CMDUTIL_SCALAR_LEN])
{
	char value[FORMAT_BUF_LEN];

	if (!v)
		return "-";
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_value(v);
	case JSON_INTEGER:
		snprintf(buf, CMDUTIL_SCALAR_LEN, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, CMDUTIL_SCALAR_LEN, "%s", format_value(json_real_value(v), value));
		return buf;
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	case JSON_OBJECT:
		return "{...}";
	case JSON_ARRAY:
		return "[...]";
	default:
		return "-";
	}
}

char *cmdutil_labels(const json_t *labels)
{
	char *out = strdup(""), buf[CMDUTIL_SCALAR_LEN];
	const char *key;
	json_t *value;

	if (!out || !json_is_object(labels))
		return out;
	json_object_foreach((json_t *)labels, key, value)
	{
		char *joined;

		if (asprintf(&joined, "%s%s%s=%s", out, *out ? "," : "", key,
			     cmdutil_scalar(value, buf)) < 0) {
			free(out);
			return NULL;
		}
		free(out);
		out = joined;
	}
	return out;
}

const char *cmdutil_positional(int argc, char **argv, int index)
{
	return optind + index < argc ? argv[optind + index] : NULL;
}

void cmdutil_print_field(int indent, int width, const char *label, const char *value)
{
	printf("%*s%-*s ", indent, "", width, label);
	for (const char *p = value ? value : "-"; *p; p++)
		putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
	putchar('\n');
}
