/* Unit tests of core/policy's writers: canonical form and version stability,
 * round trips, name tables, number formatting, descriptions, destructors,
 * and allocation failures while writing. */
#include "policy_fixtures.h"

/* Version of a valid document; "" (and a failed check) otherwise. */
static void version_of(const char *doc, char out[POLICY_VERSION_HEX_LEN + 1])
{
	struct policy *policy = parse_valid(doc);

	out[0] = '\0';
	if (policy)
		CHECK_INT_EQ(policy_version(policy, out), 0);
	policy_free(policy);
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
	rich_policy = parse_valid(rich_doc);
	if (rich_policy)
		CHECK(walk_failures(writers_step, 0) > 20);
	rich_policy = policy_free(rich_policy);
}

int main(void)
{
	json_set_alloc_funcs(failing_json_malloc, free);

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
