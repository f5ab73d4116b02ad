/* Unit tests of core/policy validation: every rule, valid and invalid, with
 * the exact reasons in order; limits; the model a valid document becomes;
 * allocation failures while parsing. */
#include "policy_fixtures.h"

#define MAX_REASONS 12

/* ---- invalid documents ---------------------------------------------------- */

struct invalid_case {
	const char *doc;
	const char *reasons[MAX_REASONS]; /* in order, NULL-terminated */
};

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
     {"targets[0].items[0].uri_regex: too costly to compile: its repetitions make more than 1000 "
      "copies (nested ones and loops over what matches empty count extra)"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/a{1001}'"),
     {"targets[0].items[0].uri_regex: too costly to compile: its repetitions make more than 1000 "
      "copies (nested ones and loops over what matches empty count extra)"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/a{0}(b{2,}){501}'"),
     {"targets[0].items[0].uri_regex: too costly to compile: its repetitions make more than 1000 "
      "copies (nested ones and loops over what matches empty count extra)"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/(a{,100}){,11}'"),
     {"targets[0].items[0].uri_regex: too costly to compile: its repetitions make more than 1000 "
      "copies (nested ones and loops over what matches empty count extra)"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/[[.].]{]{5000}'"),
     {"targets[0].items[0].uri_regex: too costly to compile: its repetitions make more than 1000 "
      "copies (nested ones and loops over what matches empty count extra)"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/(a*)*\\\\1'"),
     {"targets[0].items[0].uri_regex: back-references (\\1 to \\9) are not allowed"}},
    {DOC_HTTP_ITEM("'uri_regex': '^/a\\\\'"),
     {"targets[0].items[0].uri_regex: does not compile: Trailing backslash"}},
    {DOC_HTTP_ITEM("'uri_regex': '(((a{1,255}){1,255}){1,255}){1,255}'"),
     {"targets[0].items[0].uri_regex: too costly to compile: its repetitions make more than 1000 "
      "copies (nested ones and loops over what matches empty count extra)"}},
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

TEST(valid_documents_pass)
{
	for (size_t i = 0; i < sizeof(valid_docs) / sizeof(valid_docs[0]); i++) {
		harness_context("row %zu: %s", i, valid_docs[i]);
		policy_free(parse_valid(valid_docs[i]));
	}
}

/* ---- allocation failures -------------------------------------------------- */
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

TEST(allocation_failures_fail_cleanly)
{
	CHECK(walk_failures(parse_rich_step, 0) > 20);
	CHECK(walk_failures(parse_invalid_step, -EINVAL) > 7);
	CHECK(walk_failures(parse_bad_json_step, -EINVAL) > 1);
	CHECK(walk_failures(parse_too_large_step, -EINVAL) > 1);
	CHECK(walk_failures(many_reasons_step, -EINVAL) > POLICY_ERRORS_MAX);
}

/* Found by fuzzing: jansson quotes the raw bytes near a syntax error, which
 * may be invalid UTF-8 or a line break; the reason must stay one line of
 * valid UTF-8 (the server sends it as a JSON string). */
TEST(invalid_json_reason_is_clean_utf8)
{
	static const char *const docs[] = {
	    "{\"\\u12\xc3\xa9\": 1}", /* "near" ends inside a character */
	    "{\"\\u0\n1\": 1}",	      /* "near" holds a line break */
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct policy_errors errors = {0};
		struct policy *p = NULL;

		harness_context("doc %zu", i);
		CHECK_INT_EQ(policy_parse(docs[i], strlen(docs[i]), &p, &errors), -EINVAL);
		CHECK_INT_EQ(errors.n, 1);
		if (errors.n == 1) {
			json_t *s = json_string(errors.reasons[0]);

			CHECK(strstr(errors.reasons[0], "invalid JSON at line") != NULL);
			CHECK(strchr(errors.reasons[0], '\n') == NULL);
			CHECK(s != NULL);
			json_decref(s);
		}
		policy_errors_clear(&errors);
	}
}

int main(void)
{
	json_set_alloc_funcs(failing_json_malloc, free);

	RUN(invalid_documents_report_every_reason);
	RUN(string_limits);
	RUN(uri_list_size_limits);
	RUN(too_many_reasons_are_summarized);
	RUN(document_size_limit);
	RUN(example_document_model);
	RUN(rich_document_model_is_in_canonical_order);
	RUN(valid_documents_pass);
	RUN(allocation_failures_fail_cleanly);
	RUN(invalid_json_reason_is_clean_utf8);
	return harness_finish();
}
