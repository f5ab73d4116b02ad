/* Unit tests of core/policy: every validation rule (valid and invalid, with
 * the exact reasons), canonical form and version stability, round trips,
 * name tables, descriptions, and every allocation-failure path.
 *
 * Documents are written with single quotes for readability; dq() turns them
 * into double quotes before parsing (no test string needs a real one). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/policy.h"
#include "harness.h"

#define MAX_REASONS 12

/* The design document's example, and its canonical form. */
static const char example_doc[] =
    "{'service': 'checkout',\n"
    " 'targets': [\n"
    "   {'target': 'ON_CPU',\n"
    "    'items': [{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 10, 'count': 5}]},\n"
    "   {'target': 'NETWORK',\n"
    "    'items': [{'monitor': 'HTTP_ERROR_RATE', 'threshold': 10, 'period': 30, 'count': 3,\n"
    "               'uri_regex': '^/api/'}]}]}";
static const char example_canonical[] =
    "{'service':'checkout','targets':[{'items':[{'count':5,'monitor':'PROCESS_CPU','period':10,"
    "'threshold':80}],'target':'ON_CPU'},{'items':[{'count':3,'monitor':'HTTP_ERROR_RATE',"
    "'period':30,'threshold':10,'uri_regex':'^/api/'}],'target':'NETWORK'}]}";
/* sha256 of example_canonical, computed with `printf %s ... | sha256sum`. */
static const char example_version[] =
    "95a44b4a4658cf0d254d2fe16acbf00ffe49fa29ab913be602743617f10e7946";

/* Every field of the model in one document. */
static const char rich_doc[] =
    "{'targets': [{'silence': 60, 'target': 'NETWORK', 'duration': 30, 'items': ["
    "  {'monitor': 'HTTP_AVG_RESPONSE_TIME', 'threshold': 250.5, 'period': 60, 'count': 60,"
    "   'uri_list': ['/api/a', '/api/b', '/caf\\u00e9']},"
    "  {'monitor': 'HTTP_ERROR_RATE', 'threshold': 0.1, 'period': 30, 'count': 1,"
    "   'uri_regex': '^/api/(v[0-9]+)/[[:alnum:]]{1,8}$'},"
    "  {'monitor': 'SYSTEM_LOAD', 'threshold': 2.5, 'period': 5, 'count': 5}]},"
    " {'target': 'OFF_CPU', 'items': ["
    "  {'monitor': 'PROCESS_THREAD_COUNT', 'threshold': 2.0, 'period': 3600, 'count': 1},"
    "  {'monitor': 'PROCESS_CPU', 'threshold': 100, 'period': 1, 'count': 1}]}],"
    " 'service': 'shop-\\u00fcber'}";

/* Returns a malloc'd copy of `s` with every ' turned into ". */
static char *dq(const char *s)
{
	char *copy = strdup(s);

	for (char *p = copy; *p; p++)
		if (*p == '\'')
			*p = '"';
	return copy;
}

static int parse_sq(const char *doc, struct policy **ret, struct policy_errors *errors)
{
	char *json = dq(doc);
	int rc = policy_parse(json, strlen(json), ret, errors);

	free(json);
	return rc;
}

static struct policy *parse_valid(const char *doc)
{
	struct policy_errors errors = {0};
	struct policy *policy = NULL;
	int rc = parse_sq(doc, &policy, &errors);

	CHECK_INT_EQ(rc, 0);
	for (size_t i = 0; i < errors.n; i++)
		CHECK_STR_EQ(errors.reasons[i], "(no reason expected)");
	policy_errors_clear(&errors);
	return policy;
}

/* Version of a valid document; "" (and a failed check) otherwise. */
static void version_of(const char *doc, char out[POLICY_VERSION_HEX_LEN + 1])
{
	struct policy *policy = parse_valid(doc);

	out[0] = '\0';
	if (policy)
		CHECK_INT_EQ(policy_version(policy, out), 0);
	policy_free(policy);
}

/* ---- invalid documents ---------------------------------------------------- */

struct invalid_case {
	const char *doc;
	const char *reasons[MAX_REASONS]; /* in order, NULL-terminated */
};

#define ITEM_CPU       "{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 10, 'count': 5}"
#define DOC_ITEM(item) "{'service': 's', 'targets': [{'target': 'ON_CPU', 'items': [" item "]}]}"
#define HTTP_ITEM_HEAD                                                                             \
	"{'service': 's', 'targets': [{'target': 'ON_CPU', 'items': [{'monitor': "                 \
	"'HTTP_ERROR_RATE', 'threshold': 5, 'period': 10, 'count': 1, "
#define HTTP_ITEM_TAIL	      "}]}]}"
#define DOC_HTTP_ITEM(fields) HTTP_ITEM_HEAD fields HTTP_ITEM_TAIL
#define DOC_TARGET(fields)                                                                         \
	"{'service': 's', 'targets': [{'target': 'ON_CPU', 'items': [" ITEM_CPU "], " fields "}]}"

static const struct invalid_case invalid_cases[] = {
    /* document */
    {"[]", {"document: expected an object"}},
    {"42", {"document: expected an object"}},
    {"{}", {"service: missing", "targets: missing"}},
    {"{'service': 's', 'targets': [], 'owner': 'me'}", {"document: unknown field \"owner\""}},
    {"{'service': 's', 'targets': {}}", {"targets: expected an array"}},
    {"{'service': 5, 'targets': []}", {"service: expected a string"}},
    {"{'service': '', 'targets': []}", {"service: empty"}},
    {"{'service': 'a\\tb', 'targets': []}", {"service: contains a control character"}},
    {"{'service': 'a\\u007fb', 'targets': []}", {"service: contains a control character"}},
    {"{'service': 's', 'targets': [], 'service': 't'}",
     {"document: invalid JSON at line 1, column 41: duplicate object key near '\"service\"'"}},
    {"{'service': 's',\n 'targets': [1,]}",
     {"document: invalid JSON at line 2, column 16: unexpected token near ']'"}},
    {"", {"document: invalid JSON at line 1, column 0: unexpected token near end of file"}},
    /* targets */
    {"{'service': 's', 'targets': [1]}", {"targets[0]: expected an object"}},
    {"{'service': 's', 'targets': [{}]}",
     {"targets[0].target: missing", "targets[0].items: missing"}},
    {"{'service': 's', 'targets': [{'target': 1, 'items': [" ITEM_CPU "]}]}",
     {"targets[0].target: expected a string"}},
    {"{'service': 's', 'targets': [{'target': 'ONCPU', 'items': [" ITEM_CPU "]}]}",
     {"targets[0].target: unknown target \"ONCPU\" (expected ON_CPU, OFF_CPU or NETWORK)"}},
    {"{'service': 's', 'targets': [{'target': 'ON_CPU', 'items': [" ITEM_CPU "]},"
     " {'target': 'OFF_CPU', 'items': [" ITEM_CPU "]}, {'target': 'ON_CPU', 'items': [" ITEM_CPU
     "]}]}",
     {"targets[2].target: ON_CPU already given in targets[0]"}},
    {"{'service': 's', 'targets': [{'target': 'ON_CPU', 'items': {}}]}",
     {"targets[0].items: expected an array"}},
    {"{'service': 's', 'targets': [{'target': 'ON_CPU', 'items': []}]}",
     {"targets[0].items: empty (a target needs at least one item)"}},
    {DOC_TARGET("'duration': 0"), {"targets[0].duration: 0 is out of range [1, 86400]"}},
    {DOC_TARGET("'duration': 86401"), {"targets[0].duration: 86401 is out of range [1, 86400]"}},
    {DOC_TARGET("'duration': '60'"), {"targets[0].duration: expected an integer"}},
    {DOC_TARGET("'duration': 1.5"), {"targets[0].duration: expected an integer, got 1.5"}},
    {DOC_TARGET("'silence': 0"), {"targets[0].silence: 0 is out of range [1, 604800]"}},
    {DOC_TARGET("'silence': 604801"), {"targets[0].silence: 604801 is out of range [1, 604800]"}},
    {DOC_TARGET("'silence': null"), {"targets[0].silence: expected an integer"}},
    {DOC_TARGET("'profiler': 'perf'"), {"targets[0]: unknown field \"profiler\""}},
    /* items: shape, monitor */
    {DOC_ITEM("[]"), {"targets[0].items[0]: expected an object"}},
    {DOC_ITEM("{}"),
     {"targets[0].items[0].monitor: missing", "targets[0].items[0].threshold: missing",
      "targets[0].items[0].period: missing", "targets[0].items[0].count: missing"}},
    {DOC_ITEM("{'monitor': true, 'threshold': 1, 'period': 1, 'count': 1}"),
     {"targets[0].items[0].monitor: expected a string"}},
    {DOC_ITEM("{'monitor': 'CPU', 'threshold': 500, 'period': 1, 'count': 1}"),
     {"targets[0].items[0].monitor: unknown monitor \"CPU\" (expected PROCESS_CPU, "
      "PROCESS_THREAD_COUNT, SYSTEM_LOAD, HTTP_ERROR_RATE or HTTP_AVG_RESPONSE_TIME)"}},
    {DOC_ITEM(ITEM_CPU ", {'monitor': 'SYSTEM_LOAD', 'threshold': 1, 'period': 1, 'count': 1}, "
		       "{'monitor': 'PROCESS_CPU', 'threshold': 90, 'period': 1, 'count': 1}"),
     {"targets[0].items[2].monitor: PROCESS_CPU already given in items[0]"}},
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 10, 'count': 5, 'x': 1}"),
     {"targets[0].items[0]: unknown field \"x\""}},
    /* thresholds */
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': '80', 'period': 10, 'count': 5}"),
     {"targets[0].items[0].threshold: expected a number"}},
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 0, 'period': 10, 'count': 5}"),
     {"targets[0].items[0].threshold: 0 is out of range (0, 100]"}},
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': -5, 'period': 10, 'count': 5}"),
     {"targets[0].items[0].threshold: -5 is out of range (0, 100]"}},
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 100.5, 'period': 10, 'count': 5}"),
     {"targets[0].items[0].threshold: 100.5 is out of range (0, 100]"}},
    {DOC_ITEM("{'monitor': 'HTTP_ERROR_RATE', 'threshold': 101, 'period': 10, 'count': 5}"),
     {"targets[0].items[0].threshold: 101 is out of range (0, 100]"}},
    {DOC_ITEM("{'monitor': 'PROCESS_THREAD_COUNT', 'threshold': 1.5, 'period': 10, 'count': 5}"),
     {"targets[0].items[0].threshold: expected an integer, got 1.5"}},
    {DOC_ITEM("{'monitor': 'PROCESS_THREAD_COUNT', 'threshold': 0, 'period': 10, 'count': 5}"),
     {"targets[0].items[0].threshold: 0 is out of range [1, 10000000]"}},
    {DOC_ITEM("{'monitor': 'PROCESS_THREAD_COUNT', 'threshold': 1e8, 'period': 10, 'count': 5}"),
     {"targets[0].items[0].threshold: 100000000 is out of range [1, 10000000]"}},
    {DOC_ITEM("{'monitor': 'SYSTEM_LOAD', 'threshold': 0, 'period': 10, 'count': 5}"),
     {"targets[0].items[0].threshold: 0 is out of range (0, 100000]"}},
    {DOC_ITEM("{'monitor': 'SYSTEM_LOAD', 'threshold': 100000.25, 'period': 10, 'count': 5}"),
     {"targets[0].items[0].threshold: 100000.25 is out of range (0, 100000]"}},
    {DOC_ITEM("{'monitor': 'HTTP_AVG_RESPONSE_TIME', 'threshold': 0, 'period': 10, 'count': 5}"),
     {"targets[0].items[0].threshold: 0 is out of range (0, 3600000]"}},
    {DOC_ITEM("{'monitor': 'HTTP_AVG_RESPONSE_TIME', 'threshold': 3.6e6, 'period': 10, "
	      "'count': 5}, {'monitor': 'HTTP_ERROR_RATE', 'threshold': 1e-300, 'period': 10, "
	      "'count': 5}, {'monitor': 'SYSTEM_LOAD', 'threshold': 1e300, 'period': 1, "
	      "'count': 1}"),
     {"targets[0].items[2].threshold: 1e+300 is out of range (0, 100000]"}},
    /* period and count */
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': '10', 'count': 5}"),
     {"targets[0].items[0].period: expected an integer"}},
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 0, 'count': 1}"),
     {"targets[0].items[0].period: 0 is out of range [1, 3600]"}},
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 3601, 'count': 1}"),
     {"targets[0].items[0].period: 3601 is out of range [1, 3600]"}},
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 2.5, 'count': 1}"),
     {"targets[0].items[0].period: expected an integer, got 2.5"}},
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 10, 'count': 0}"),
     {"targets[0].items[0].count: 0 is out of range [1, 3600]"}},
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 10, 'count': 12}"),
     {"targets[0].items[0]: count 12 > period 10"}},
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 10, 'count': [5]}"),
     {"targets[0].items[0].count: expected an integer"}},
    /* URI filters: where they may appear */
    {DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 10, 'count': 5, "
	      "'uri_list': ['/a']}"),
     {"targets[0].items[0]: uri_list is only for HTTP monitors, not PROCESS_CPU"}},
    {DOC_ITEM("{'monitor': 'SYSTEM_LOAD', 'threshold': 8, 'period': 10, 'count': 5, "
	      "'uri_regex': '^/a'}"),
     {"targets[0].items[0]: uri_regex is only for HTTP monitors, not SYSTEM_LOAD"}},
    {DOC_HTTP_ITEM("'uri_list': ['/a'], 'uri_regex': '^/a'"),
     {"targets[0].items[0]: uri_list and uri_regex exclude each other"}},
    /* uri_list */
    {DOC_HTTP_ITEM("'uri_list': '/a'"),
     {"targets[0].items[0].uri_list: expected an array of paths"}},
    {DOC_HTTP_ITEM("'uri_list': []"), {"targets[0].items[0].uri_list: empty"}},
    {DOC_HTTP_ITEM("'uri_list': ['/a', 7, 'b', '', '/a b', '/\\u0001', '/a', '/ok']"),
     {"targets[0].items[0].uri_list[1]: expected a string",
      "targets[0].items[0].uri_list[2]: \"b\" does not start with \"/\"",
      "targets[0].items[0].uri_list[3]: \"\" does not start with \"/\"",
      "targets[0].items[0].uri_list[4]: contains a space or a control character",
      "targets[0].items[0].uri_list[5]: contains a space or a control character",
      "targets[0].items[0].uri_list[6]: \"/a\" already given in uri_list[0]"}},
    /* uri_regex */
    {DOC_HTTP_ITEM("'uri_regex': ['^/a']"), {"targets[0].items[0].uri_regex: expected a string"}},
    {DOC_HTTP_ITEM("'uri_regex': ''"), {"targets[0].items[0].uri_regex: empty"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/a\\n'"),
     {"targets[0].items[0].uri_regex: contains a control character"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/(a'"),
     {"targets[0].items[0].uri_regex: does not compile: Unmatched ( or \\("}},
    {DOC_HTTP_ITEM("'uri_regex': '^/[abc'"),
     {"targets[0].items[0].uri_regex: does not compile: Unmatched [, [^, [:, [., or [="}},
    {DOC_HTTP_ITEM("'uri_regex': '^/[[:alpha'"),
     {"targets[0].items[0].uri_regex: does not compile: Unmatched [, [^, [:, [., or [="}},
    {DOC_HTTP_ITEM("'uri_regex': '^/(a{1,100}){1,11}'"),
     {"targets[0].items[0].uri_regex: repetition counts multiply to more than 1000"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/a{1001}'"),
     {"targets[0].items[0].uri_regex: repetition counts multiply to more than 1000"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/a{0}(b{2,}){501}'"),
     {"targets[0].items[0].uri_regex: repetition counts multiply to more than 1000"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/(a{,100}){,11}'"),
     {"targets[0].items[0].uri_regex: repetition counts multiply to more than 1000"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/[[.].]{]{5000}'"),
     {"targets[0].items[0].uri_regex: repetition counts multiply to more than 1000"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/(a*)*\\\\1'"),
     {"targets[0].items[0].uri_regex: back-references (\\1 to \\9) are not allowed"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/a\\\\'"),
     {"targets[0].items[0].uri_regex: does not compile: Trailing backslash"}},
    {DOC_HTTP_ITEM("'uri_regex': '(((a{1,255}){1,255}){1,255}){1,255}'"),
     {"targets[0].items[0].uri_regex: repetition counts multiply to more than 1000"}},
    /* quoting of user text in reasons: escaped, one line, cut */
    {"{'service': 's', 'targets': [], 'a\\u0001\\\\b\\n\\'c': 1}",
     {"document: unknown field \"a\\u0001\\\\b\\u000a\\\"c\""}},
    {"{'service': 's', 'targets': [], "
     "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\u00e9\\u00e9zzz': 1}",
     {"document: unknown field \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\"..."}},
    /* several reasons at every level, in document order */
    {"{'targets': [{'target': 'ONCPU', 'items': [{'monitor': 'PROCESS_CPU', 'threshold': 120,"
     " 'period': 10, 'count': 12}], 'duration': 0},"
     " {'items': [{'count': 1, 'monitor': 'HTTP_ERROR_RATE', 'period': 1, 'threshold': 5,"
     " 'uri_regex': '('}], 'target': 'NETWORK'}], 'service': '', 'extra': 1}",
     {"targets[0].target: unknown target \"ONCPU\" (expected ON_CPU, OFF_CPU or NETWORK)",
      "targets[0].items[0].threshold: 120 is out of range (0, 100]",
      "targets[0].items[0]: count 12 > period 10",
      "targets[0].duration: 0 is out of range [1, 86400]",
      "targets[1].items[0].uri_regex: does not compile: Unmatched ( or \\(", "service: empty",
      "document: unknown field \"extra\""}},
};

static void check_invalid(size_t row, const struct invalid_case *c)
{
	struct policy_errors errors = {0};
	struct policy *policy = NULL;
	size_t want = 0;
	int rc;

	while (want < MAX_REASONS && c->reasons[want])
		want++;
	harness_context("row %zu: %s", row, c->doc);
	rc = parse_sq(c->doc, &policy, &errors);
	CHECK_INT_EQ(rc, -EINVAL);
	CHECK(policy == NULL);
	CHECK_INT_EQ(errors.n, want);
	for (size_t i = 0; i < errors.n && i < want; i++)
		CHECK_STR_EQ(errors.reasons[i], c->reasons[i]);
	policy_errors_clear(&errors);
	CHECK(errors.n == 0 && errors.reasons == NULL);
	/* Without an error list the verdict is the same. */
	CHECK_INT_EQ(parse_sq(c->doc, &policy, NULL), -EINVAL);
}

TEST(invalid_documents_report_every_reason)
{
	for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++)
		check_invalid(i, &invalid_cases[i]);
}

/* Builds `{'service': 's', 'targets': [], <n keys>}`-style documents and
 * other long ones. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t len = strlen(head) + strlen(unit) * n + strlen(tail) + 1;
	char *s = malloc(len), *p = s;

	p = stpcpy(p, head);
	for (size_t i = 0; i < n; i++)
		p = stpcpy(p, unit);
	stpcpy(p, tail);
	return s;
}

TEST(string_limits)
{
	struct invalid_case c = {0};
	char *name = repeat("", "x", POLICY_SERVICE_MAX_LEN, "");
	char *doc, *uri, *full;
	struct policy *policy;

	/* 255 bytes pass, 256 do not */
	doc = repeat("{'service': '", name, 1, "', 'targets': []}");
	policy = parse_valid(doc);
	CHECK(policy && strlen(policy->service) == POLICY_SERVICE_MAX_LEN);
	policy_free(policy);
	free(doc);
	doc = repeat("{'service': '", name, 1, "y', 'targets': []}");
	c.doc = doc;
	c.reasons[0] = "service: longer than 255 bytes";
	check_invalid(0, &c);
	free(doc);
	free(name);

	/* a 512-byte path passes, 513 do not; the same for a regex */
	uri = repeat("/", "u", POLICY_URI_MAX_LEN - 1, "");
	doc = repeat(HTTP_ITEM_HEAD "'uri_list': ['", uri, 1, "']" HTTP_ITEM_TAIL);
	policy = parse_valid(doc);
	CHECK(policy && strlen(policy->targets[0].items[0].uri_list[0]) == POLICY_URI_MAX_LEN);
	policy_free(policy);
	free(doc);
	doc = repeat(HTTP_ITEM_HEAD "'uri_list': ['", uri, 1, "v'], 'uri_regex': '^");
	full = repeat(doc, uri, 1, "'" HTTP_ITEM_TAIL);
	c.doc = full;
	c.reasons[0] = "targets[0].items[0].uri_list[0]: longer than 512 bytes";
	c.reasons[1] = "targets[0].items[0].uri_regex: longer than 512 bytes";
	c.reasons[2] = "targets[0].items[0]: uri_list and uri_regex exclude each other";
	check_invalid(1, &c);
	free(full);
	free(doc);
	doc = repeat(HTTP_ITEM_HEAD "'uri_regex': '", uri, 1, "'" HTTP_ITEM_TAIL);
	policy = parse_valid(doc);
	CHECK(policy && strlen(policy->targets[0].items[0].uri_regex) == POLICY_URI_MAX_LEN);
	policy_free(policy);
	free(doc);
	free(uri);
}

TEST(uri_list_size_limits)
{
	struct invalid_case c = {0};
	char paths[POLICY_URI_LIST_MAX + 1][16], list[(POLICY_URI_LIST_MAX + 1) * 16] = "";
	struct policy *policy;
	char *doc;

	for (int i = 0; i <= POLICY_URI_LIST_MAX; i++) {
		snprintf(paths[i], sizeof(paths[i]), "'/%d'", i);
		if (i < POLICY_URI_LIST_MAX) {
			strcat(list, i ? "," : "");
			strcat(list, paths[i]);
		}
	}
	doc = repeat(HTTP_ITEM_HEAD "'uri_list': [", list, 1, "]" HTTP_ITEM_TAIL);
	policy = parse_valid(doc);
	CHECK(policy && policy->targets[0].items[0].uri_list_len == POLICY_URI_LIST_MAX);
	policy_free(policy);
	free(doc);
	/* one more; and an invalid 66th entry is not looked at */
	doc = repeat(HTTP_ITEM_HEAD "'uri_list': [", list, 1, ", '/64', 'x']" HTTP_ITEM_TAIL);
	c.doc = doc;
	c.reasons[0] = "targets[0].items[0].uri_list: 66 paths > 64";
	check_invalid(0, &c);
	free(doc);
}

TEST(too_many_reasons_are_summarized)
{
	struct policy_errors errors = {0};
	struct policy *policy = NULL;
	char *doc = repeat("{'service': 's', 'targets': [", "{'target': 'ON_CPU'},", 69,
			   "{'target': 'ON_CPU'}]}");

	/* 70 targets: each lacks items (70) and all but the first repeat ON_CPU */
	CHECK_INT_EQ(parse_sq(doc, &policy, &errors), -EINVAL);
	CHECK_INT_EQ(errors.n, POLICY_ERRORS_MAX + 1);
	CHECK_STR_EQ(errors.reasons[0], "targets[0].items: missing");
	CHECK_STR_EQ(errors.reasons[1], "targets[1].target: ON_CPU already given in targets[0]");
	CHECK_STR_EQ(errors.reasons[POLICY_ERRORS_MAX], "document: 75 more reasons not shown");
	policy_errors_clear(&errors);
	policy_errors_clear(NULL);
	free(doc);
}

TEST(document_size_limit)
{
	struct policy_errors errors = {0};
	struct policy *policy = NULL;
	size_t pad = POLICY_DOC_MAX_BYTES - strlen("{'service': 's', 'targets': []}");
	char *doc = malloc(POLICY_DOC_MAX_BYTES + 2);

	/* exactly the limit (padded with spaces) is fine, one byte more is not */
	strcpy(doc, "{\"service\": \"s\", \"targets\": []}");
	memset(doc + strlen(doc), ' ', pad);
	doc[POLICY_DOC_MAX_BYTES] = ' ';
	doc[POLICY_DOC_MAX_BYTES + 1] = '\0';
	CHECK_INT_EQ(policy_parse(doc, POLICY_DOC_MAX_BYTES, &policy, &errors), 0);
	policy = policy_free(policy);
	CHECK_INT_EQ(policy_parse(doc, POLICY_DOC_MAX_BYTES + 1, &policy, &errors), -EINVAL);
	CHECK(policy == NULL);
	CHECK_INT_EQ(errors.n, 1);
	CHECK_STR_EQ(errors.reasons[0], "document: larger than 65536 bytes");
	policy_errors_clear(&errors);
	free(doc);
}

/* ---- valid documents and the model ---------------------------------------- */

TEST(example_document_model)
{
	struct policy *p = parse_valid(example_doc);

	if (!p)
		return;
	CHECK_STR_EQ(p->service, "checkout");
	CHECK_INT_EQ(p->n_targets, 2);
	CHECK_INT_EQ(p->targets[0].target, POLICY_TARGET_ON_CPU);
	CHECK_INT_EQ(p->targets[0].n_items, 1);
	CHECK_INT_EQ(p->targets[0].items[0].monitor, POLICY_MONITOR_PROCESS_CPU);
	CHECK_DBL_EQ(p->targets[0].items[0].threshold, 80);
	CHECK_INT_EQ(p->targets[0].items[0].period_s, 10);
	CHECK_INT_EQ(p->targets[0].items[0].count, 5);
	CHECK(p->targets[0].items[0].uri_regex == NULL && p->targets[0].items[0].uri_list == NULL);
	CHECK_INT_EQ(p->targets[0].duration_s, 0);
	CHECK_INT_EQ(p->targets[0].silence_s, 0);
	CHECK_INT_EQ(p->targets[1].target, POLICY_TARGET_NETWORK);
	CHECK_INT_EQ(p->targets[1].items[0].monitor, POLICY_MONITOR_HTTP_ERROR_RATE);
	CHECK_STR_EQ(p->targets[1].items[0].uri_regex, "^/api/");
	policy_free(p);
}

TEST(rich_document_model_is_in_canonical_order)
{
	struct policy *p = parse_valid(rich_doc);
	const struct policy_target_spec *off, *net;

	if (!p)
		return;
	CHECK_STR_EQ(p->service, "shop-\xc3\xbc"
				 "ber");
	CHECK_INT_EQ(p->n_targets, 2);
	off = &p->targets[0];
	net = &p->targets[1];
	CHECK_INT_EQ(off->target, POLICY_TARGET_OFF_CPU);
	CHECK_INT_EQ(net->target, POLICY_TARGET_NETWORK);
	CHECK_INT_EQ(off->n_items, 2);
	CHECK_INT_EQ(off->items[0].monitor, POLICY_MONITOR_PROCESS_CPU);
	CHECK_INT_EQ(off->items[1].monitor, POLICY_MONITOR_PROCESS_THREAD_COUNT);
	CHECK_DBL_EQ(off->items[1].threshold, 2);
	CHECK_INT_EQ(off->items[1].period_s, POLICY_PERIOD_MAX_S);
	CHECK_INT_EQ(net->duration_s, 30);
	CHECK_INT_EQ(net->silence_s, 60);
	CHECK_INT_EQ(net->n_items, 3);
	CHECK_INT_EQ(net->items[0].monitor, POLICY_MONITOR_SYSTEM_LOAD);
	CHECK_INT_EQ(net->items[1].monitor, POLICY_MONITOR_HTTP_ERROR_RATE);
	CHECK_STR_EQ(net->items[1].uri_regex, "^/api/(v[0-9]+)/[[:alnum:]]{1,8}$");
	CHECK_INT_EQ(net->items[2].monitor, POLICY_MONITOR_HTTP_AVG_RESPONSE_TIME);
	CHECK_DBL_EQ(net->items[2].threshold, 250.5);
	CHECK_INT_EQ(net->items[2].uri_list_len, 3);
	CHECK_STR_EQ(net->items[2].uri_list[0], "/api/a");
	CHECK_STR_EQ(net->items[2].uri_list[2], "/caf\xc3\xa9");
	policy_free(p);
}

static const char *const valid_docs[] = {
    "{'service': 'idle', 'targets': []}",
    DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 100, 'period': 3600, 'count': 3600}"),
    DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 1e-9, 'period': 1, 'count': 1}"),
    DOC_ITEM("{'monitor': 'PROCESS_THREAD_COUNT', 'threshold': 1e7, 'period': 1, 'count': 1}"),
    DOC_ITEM("{'monitor': 'SYSTEM_LOAD', 'threshold': 100000, 'period': 1, 'count': 1}"),
    DOC_ITEM("{'monitor': 'HTTP_AVG_RESPONSE_TIME', 'threshold': 3600000, 'period': 1, "
	     "'count': 1}"),
    DOC_TARGET("'duration': 86400, 'silence': 604800"),
    DOC_TARGET("'duration': 1, 'silence': 1"),
    DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 8e1, 'period': 1e1, 'count': 5.0}"),
    DOC_HTTP_ITEM("'uri_list': ['/', '/a?b=c', '/%20']"),
    /* bounded repetitions at the limit; braces that are not intervals */
    DOC_HTTP_ITEM("'uri_regex': '^/(a{1,10}){100}'"),
    DOC_HTTP_ITEM("'uri_regex': '^/x{0}y{1000}'"),
    DOC_HTTP_ITEM("'uri_regex': '^/[\\\\1]\\\\.\\\\0'"),
    DOC_HTTP_ITEM("'uri_regex': '^/[{]{1000}\\\\{2000\\\\}[]{]{1}[^]{]{1}[[:digit:]{]{1}'"),
    DOC_HTTP_ITEM("'uri_regex': '^/[[.-.]{]{1}[[=a=]{]{1}[[.].]{]{1}a{2,1000}/{,1}'"),
    rich_doc,
    example_doc,
};

TEST(valid_documents_pass)
{
	for (size_t i = 0; i < sizeof(valid_docs) / sizeof(valid_docs[0]); i++) {
		harness_context("row %zu: %s", i, valid_docs[i]);
		policy_free(parse_valid(valid_docs[i]));
	}
}

/* ---- canonical form and version ----------------------------------------- */

TEST(canonical_form_of_example)
{
	struct policy *p = parse_valid(example_doc);
	char version[POLICY_VERSION_HEX_LEN + 1];
	char *want = dq(example_canonical), *got;

	if (!p)
		return;
	got = policy_canonical(p);
	CHECK_STR_EQ(got, want);
	CHECK_INT_EQ(policy_version(p, version), 0);
	CHECK_STR_EQ(version, example_version);
	free(got);
	free(want);
	policy_free(p);
}

TEST(canonical_form_of_rich_document)
{
	struct policy *p = parse_valid(rich_doc);
	char *want =
	    dq("{'service':'shop-\xc3\xbc"
	       "ber','targets':[{'items':[{'count':1,'monitor':'PROCESS_CPU','period':1,"
	       "'threshold':100},{'count':1,'monitor':'PROCESS_THREAD_COUNT','period':3600,"
	       "'threshold':2}],'target':'OFF_CPU'},{'duration':30,'items':[{'count':5,"
	       "'monitor':'SYSTEM_LOAD','period':5,'threshold':2.5},{'count':1,'monitor':"
	       "'HTTP_ERROR_RATE','period':30,'threshold':0.1,'uri_regex':'^/api/(v[0-9]+)/"
	       "[[:alnum:]]{1,8}$'},{'count':60,'monitor':'HTTP_AVG_RESPONSE_TIME','period':"
	       "60,'threshold':250.5,'uri_list':['/api/a','/api/b','/caf\xc3\xa9']}],"
	       "'silence':60,'target':'NETWORK'}]}");
	char *got;

	if (!p)
		return;
	got = policy_canonical(p);
	CHECK_STR_EQ(got, want);
	free(got);
	free(want);
	policy_free(p);
}

/* Groups of documents that must share one version. */
static const char *const same_version[][4] = {
    {example_doc,
     /* keys, targets and items reordered; whitespace; number spellings */
     "{'targets':[{'items':[{'uri_regex':'^/api/','count':3.0,'period':3e1,"
     "'monitor':'HTTP_ERROR_RATE','threshold':1e1}],'target':'NETWORK'},"
     "{'target':'ON_CPU','items':[{'count':5,'period':10,'threshold':80.0,"
     "'monitor':'PROCESS_CPU'}]}],'service':'checkout'}",
     "\t{ 'service' :\n'checkout' , 'targets' : [ { 'target' : 'ON_CPU' , 'items' : [ { "
     "'monitor' : 'PROCESS_CPU' , 'threshold' : 8E+1 , 'period' : 10 , 'count' : 5 } ] } , { "
     "'target' : 'NETWORK' , 'items' : [ { 'monitor' : 'HTTP_ERROR_RATE' , 'threshold' : 10 , "
     "'period' : 30 , 'count' : 3 , 'uri_regex' : '\\u005e/api/' } ] } ] }\r\n",
     NULL},
    {DOC_ITEM(ITEM_CPU ", {'monitor': 'SYSTEM_LOAD', 'threshold': 0.5, 'period': 1, 'count': 1}"),
     DOC_ITEM("{'monitor': 'SYSTEM_LOAD', 'threshold': 5e-1, 'period': 1, 'count': 1}, " ITEM_CPU),
     DOC_ITEM("{'monitor': 'SYSTEM_LOAD', 'threshold': 0.50000000000000000001, 'period': 1, "
	      "'count': 1}, " ITEM_CPU),
     NULL},
};

/* Documents whose versions must all differ from each other. */
static const char *const distinct_versions[] = {
    DOC_ITEM(ITEM_CPU),
    DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 81, 'period': 10, 'count': 5}"),
    DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 80.5, 'period': 10, 'count': 5}"),
    DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 11, 'count': 5}"),
    DOC_ITEM("{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 10, 'count': 4}"),
    DOC_TARGET("'duration': 600"),
    DOC_TARGET("'silence': 1200"),
    "{'service': 't', 'targets': [{'target': 'ON_CPU', 'items': [" ITEM_CPU "]}]}",
    "{'service': 's', 'targets': [{'target': 'OFF_CPU', 'items': [" ITEM_CPU "]}]}",
    "{'service': 's', 'targets': []}",
    DOC_HTTP_ITEM("'uri_list': ['/a', '/b']"),
    DOC_HTTP_ITEM("'uri_list': ['/b', '/a']"),
    DOC_HTTP_ITEM("'uri_regex': '/a'"),
};

TEST(version_ignores_spelling_and_order)
{
	char first[POLICY_VERSION_HEX_LEN + 1], other[POLICY_VERSION_HEX_LEN + 1];

	for (size_t g = 0; g < sizeof(same_version) / sizeof(same_version[0]); g++) {
		version_of(same_version[g][0], first);
		CHECK_INT_EQ(strlen(first), POLICY_VERSION_HEX_LEN);
		for (size_t i = 1; same_version[g][i]; i++) {
			harness_context("group %zu, document %zu", g, i);
			version_of(same_version[g][i], other);
			CHECK_STR_EQ(other, first);
		}
	}
}

TEST(version_changes_with_content)
{
	enum {
		N = sizeof(distinct_versions) / sizeof(distinct_versions[0])
	};
	char versions[N][POLICY_VERSION_HEX_LEN + 1];

	for (size_t i = 0; i < N; i++)
		version_of(distinct_versions[i], versions[i]);
	for (size_t i = 0; i < N; i++)
		for (size_t k = 0; k < i; k++) {
			harness_context("documents %zu and %zu", k, i);
			CHECK(strcmp(versions[i], versions[k]) != 0);
		}
}

/* parse -> canonical -> parse gives the same canonical text, and
 * policy_to_json() holds exactly the canonical content. */
static void check_round_trip(const char *doc)
{
	struct policy *p = parse_valid(doc), *again = NULL;
	char *canonical, *canonical_again;
	json_t *from_text, *from_model;

	if (!p)
		return;
	canonical = policy_canonical(p);
	CHECK_INT_EQ(policy_parse(canonical, strlen(canonical), &again, NULL), 0);
	canonical_again = again ? policy_canonical(again) : NULL;
	CHECK_STR_EQ(canonical_again, canonical);
	from_text = json_loads(canonical, 0, NULL);
	from_model = policy_to_json(p);
	CHECK(from_text && from_model && json_equal(from_text, from_model));
	json_decref(from_text);
	json_decref(from_model);
	free(canonical);
	free(canonical_again);
	policy_free(again);
	policy_free(p);
}

TEST(round_trips)
{
	for (size_t i = 0; i < sizeof(valid_docs) / sizeof(valid_docs[0]); i++) {
		harness_context("row %zu: %s", i, valid_docs[i]);
		check_round_trip(valid_docs[i]);
	}
}

TEST(from_json_value)
{
	char *text = dq(example_doc);
	json_t *doc = json_loads(text, 0, NULL);
	struct policy *p = NULL;
	char version[POLICY_VERSION_HEX_LEN + 1];

	CHECK_INT_EQ(policy_from_json(doc, &p, NULL), 0);
	CHECK(p && policy_version(p, version) == 0);
	CHECK_STR_EQ(version, example_version);
	policy_free(p);
	json_decref(doc);
	free(text);
}

/* A model built by hand may hold what validation refuses; the writers still
 * produce valid JSON for it. */
TEST(canonical_escapes_strings)
{
	struct policy p = {.service = "a\"b\\c\n\x01/\xc3\xa9"};
	char *got = policy_canonical(&p);
	json_t *from_text = got ? json_loads(got, 0, NULL) : NULL, *from_model = policy_to_json(&p);

	CHECK_STR_EQ(got, "{\"service\":\"a\\\"b\\\\c\\u000a\\u0001/\xc3\xa9\",\"targets\":[]}");
	CHECK(from_text && from_model && json_equal(from_text, from_model));
	json_decref(from_text);
	json_decref(from_model);
	free(got);
}

TEST(canonical_is_bounded)
{
	char *huge = malloc(POLICY_CANONICAL_MAX_BYTES + 1);
	struct policy p = {.service = huge};
	char version[POLICY_VERSION_HEX_LEN + 1];

	memset(huge, 'x', POLICY_CANONICAL_MAX_BYTES);
	huge[POLICY_CANONICAL_MAX_BYTES] = '\0';
	CHECK(policy_canonical(&p) == NULL);
	CHECK_INT_EQ(policy_version(&p, version), -ENOMEM);
	free(huge);
}

/* ---- numbers, names, descriptions ---------------------------------------- */

TEST(format_number_shortest_round_trip)
{
	static const struct {
		double value;
		const char *text;
	} rows[] = {
	    {80, "80"},
	    {80.0, "80"},
	    {8e1, "80"},
	    {0, "0"},
	    {-0.0, "0"},
	    {-5, "-5"},
	    {0.1, "0.1"},
	    {2.5, "2.5"},
	    {1.0 / 3, "0.3333333333333333"},
	    {1e-9, "1e-09"},
	    {10000000, "10000000"},
	    {9007199254740991.0, "9007199254740991"},
	    {9007199254740992.0, "9007199254740992"}, /* 16 digits: %g keeps it fixed */
	    {36028797018963968.0, "3.602879701896397e+16"},
	    {1e21, "1e+21"},
	    {1e300, "1e+300"},
	    {-2.2250738585072014e-308, "-2.2250738585072014e-308"},
	};
	char buf[POLICY_NUMBER_BUF_LEN];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		harness_context("row %zu", i);
		CHECK_INT_EQ(policy_format_number(rows[i].value, buf), strlen(rows[i].text));
		CHECK_STR_EQ(buf, rows[i].text);
	}
}

TEST(name_tables)
{
	static const char *const targets[] = {"ON_CPU", "OFF_CPU", "NETWORK"};
	static const struct {
		const char *name, *unit;
		bool http;
	} monitors[] = {
	    {"PROCESS_CPU", "%", false},
	    {"PROCESS_THREAD_COUNT", "threads", false},
	    {"SYSTEM_LOAD", "load", false},
	    {"HTTP_ERROR_RATE", "%", true},
	    {"HTTP_AVG_RESPONSE_TIME", "ms", true},
	};

	CHECK_INT_EQ(sizeof(targets) / sizeof(targets[0]), POLICY_TARGET_COUNT);
	CHECK_INT_EQ(sizeof(monitors) / sizeof(monitors[0]), POLICY_MONITOR_COUNT);
	for (int t = 0; t < POLICY_TARGET_COUNT; t++) {
		CHECK_STR_EQ(policy_target_name(t), targets[t]);
		CHECK_INT_EQ(policy_target_from_name(targets[t]), t);
	}
	for (int m = 0; m < POLICY_MONITOR_COUNT; m++) {
		CHECK_STR_EQ(policy_monitor_name(m), monitors[m].name);
		CHECK_INT_EQ(policy_monitor_from_name(monitors[m].name), m);
		CHECK_STR_EQ(policy_monitor_unit(m), monitors[m].unit);
		CHECK_INT_EQ(policy_monitor_is_http(m), monitors[m].http);
	}
	CHECK_INT_EQ(policy_target_from_name("on_cpu"), -EINVAL);
	CHECK_INT_EQ(policy_target_from_name(""), -EINVAL);
	CHECK_INT_EQ(policy_monitor_from_name("PROCESS_CPU "), -EINVAL);
	CHECK_STR_EQ(policy_target_name(POLICY_TARGET_COUNT), "UNKNOWN");
	CHECK_STR_EQ(policy_target_name((enum policy_target) - 1), "UNKNOWN");
	CHECK_STR_EQ(policy_monitor_name(POLICY_MONITOR_COUNT), "UNKNOWN");
	CHECK_STR_EQ(policy_monitor_unit(POLICY_MONITOR_COUNT), "");
	CHECK(!policy_monitor_is_http(POLICY_MONITOR_COUNT));
}

TEST(describe_items)
{
	char *paths[] = {"/a", "/b", "/c", "/d", "/e", "/f"};
	static const struct {
		struct policy_item item;
		const char *text;
	} rows[] = {
	    {{POLICY_MONITOR_PROCESS_CPU, 80, 10, 5, NULL, NULL, 0},
	     "PROCESS_CPU >= 80 % (5 of 10 s)"},
	    {{POLICY_MONITOR_HTTP_ERROR_RATE, 10, 30, 3, "^/api/", NULL, 0},
	     "HTTP_ERROR_RATE >= 10 % (3 of 30 s) uri ~ ^/api/"},
	    {{POLICY_MONITOR_PROCESS_THREAD_COUNT, 500, 60, 60, NULL, NULL, 0},
	     "PROCESS_THREAD_COUNT >= 500 threads (60 of 60 s)"},
	    {{POLICY_MONITOR_SYSTEM_LOAD, 2.5, 5, 1, NULL, NULL, 0},
	     "SYSTEM_LOAD >= 2.5 load (1 of 5 s)"},
	};
	struct policy_item listed = {
	    POLICY_MONITOR_HTTP_AVG_RESPONSE_TIME, 250, 5, 2, NULL, paths, 2};
	char *s;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		s = policy_item_describe(&rows[i].item);
		CHECK_STR_EQ(s, rows[i].text);
		free(s);
	}
	s = policy_item_describe(&listed);
	CHECK_STR_EQ(s, "HTTP_AVG_RESPONSE_TIME >= 250 ms (2 of 5 s) uri in [/a, /b]");
	free(s);
	listed.uri_list_len = 4;
	s = policy_item_describe(&listed);
	CHECK_STR_EQ(s, "HTTP_AVG_RESPONSE_TIME >= 250 ms (2 of 5 s) uri in [/a, /b, /c, /d]");
	free(s);
	listed.uri_list_len = 6;
	s = policy_item_describe(&listed);
	CHECK_STR_EQ(
	    s, "HTTP_AVG_RESPONSE_TIME >= 250 ms (2 of 5 s) uri in [/a, /b, /c, /d, +2 more]");
	free(s);
}

TEST(free_accepts_null_and_half_built)
{
	struct policy *p = calloc(1, sizeof(*p));

	CHECK(policy_free(NULL) == NULL);
	/* one target whose item has a uri_list with a missing entry */
	p->targets = calloc(1, sizeof(*p->targets));
	p->n_targets = 1;
	p->targets[0].items = calloc(1, sizeof(*p->targets[0].items));
	p->targets[0].n_items = 1;
	p->targets[0].items[0].uri_list = calloc(2, sizeof(char *));
	p->targets[0].items[0].uri_list[0] = strdup("/a");
	p->targets[0].items[0].uri_list_len = 2;
	p = policy_free(p);
	CHECK(p == NULL);
}

/* ---- allocation failures -------------------------------------------------- */

static void *failing_json_malloc(size_t size)
{
	return core_malloc(size);
}

/* Runs `step` with the 0th, 1st, ... allocation failing until it succeeds
 * with no failure injected; every run must fail cleanly with -ENOMEM (ASan
 * checks that nothing leaks). Returns the number of allocations seen. */
static long walk_failures(int (*step)(void), int success)
{
	long n;
	int rc = -ENOMEM;

	for (n = 0; n < 10000 && rc == -ENOMEM; n++) {
		core_alloc_fail_after(n);
		rc = step();
		core_alloc_fail_after(-1);
		if (rc != -ENOMEM)
			CHECK_INT_EQ(rc, success);
	}
	CHECK_INT_EQ(rc, success);
	return n;
}

static int parse_rich_step(void)
{
	struct policy_errors errors = {0};
	struct policy *p = NULL;
	char *doc = dq(rich_doc);
	int rc = policy_parse(doc, strlen(doc), &p, &errors);

	CHECK(rc == 0 || p == NULL);
	policy_free(p);
	policy_errors_clear(&errors);
	free(doc);
	return rc;
}

static int parse_invalid_step(void)
{
	struct policy_errors errors = {0};
	struct policy *p = NULL;
	int rc = parse_sq(invalid_cases[sizeof(invalid_cases) / sizeof(invalid_cases[0]) - 1].doc,
			  &p, &errors);

	policy_errors_clear(&errors);
	return rc;
}

static int parse_bad_json_step(void)
{
	struct policy_errors errors = {0};
	int rc = policy_parse("{", 1, NULL, &errors);

	policy_errors_clear(&errors);
	return rc;
}

static int parse_too_large_step(void)
{
	static char big[POLICY_DOC_MAX_BYTES + 1];
	struct policy_errors errors = {0};
	int rc = policy_parse(big, sizeof(big), NULL, &errors);

	policy_errors_clear(&errors);
	return rc;
}

static int many_reasons_step(void)
{
	struct policy_errors errors = {0};
	char *doc = repeat("{'service': 's', 'targets': [", "1,", POLICY_ERRORS_MAX, "1]}");
	int rc = parse_sq(doc, NULL, &errors);

	free(doc);
	policy_errors_clear(&errors);
	return rc;
}

static struct policy *rich_policy;

static int writers_step(void)
{
	char version[POLICY_VERSION_HEX_LEN + 1];
	char *canonical = policy_canonical(rich_policy);
	char *description = policy_item_describe(&rich_policy->targets[1].items[2]);
	json_t *json = policy_to_json(rich_policy);
	int rc = policy_version(rich_policy, version);

	rc = canonical && description && json ? rc : -ENOMEM;
	free(canonical);
	free(description);
	json_decref(json);
	return rc;
}

TEST(allocation_failures_fail_cleanly)
{
	CHECK(walk_failures(parse_rich_step, 0) > 20);
	CHECK(walk_failures(parse_invalid_step, -EINVAL) > 7);
	CHECK(walk_failures(parse_bad_json_step, -EINVAL) > 1);
	CHECK(walk_failures(parse_too_large_step, -EINVAL) > 1);
	CHECK(walk_failures(many_reasons_step, -EINVAL) > POLICY_ERRORS_MAX);
	rich_policy = parse_valid(rich_doc);
	if (rich_policy)
		CHECK(walk_failures(writers_step, 0) > 20);
	rich_policy = policy_free(rich_policy);
}

int main(void)
{
	/* jansson allocates through the same fault injection */
	json_set_alloc_funcs(failing_json_malloc, free);

	RUN(invalid_documents_report_every_reason);
	RUN(string_limits);
	RUN(uri_list_size_limits);
	RUN(too_many_reasons_are_summarized);
	RUN(document_size_limit);
	RUN(example_document_model);
	RUN(rich_document_model_is_in_canonical_order);
	RUN(valid_documents_pass);
	RUN(canonical_form_of_example);
	RUN(canonical_form_of_rich_document);
	RUN(version_ignores_spelling_and_order);
	RUN(version_changes_with_content);
	RUN(round_trips);
	RUN(from_json_value);
	RUN(canonical_escapes_strings);
	RUN(canonical_is_bounded);
	RUN(format_number_shortest_round_trip);
	RUN(name_tables);
	RUN(describe_items);
	RUN(free_accepts_null_and_half_built);
	RUN(allocation_failures_fail_cleanly);
	return harness_finish();
}
