/* policy_fixtures: documents and helpers shared by the policy unit tests
 * (test_policy.c: validation; test_policy_canon.c: canonical form, version,
 * names, descriptions).
 *
 * Documents are written with single quotes for readability; dq() turns them
 * into double quotes before parsing (no test string needs a real one). */
#ifndef CONTPROF_TESTS_POLICY_FIXTURES_H
#define CONTPROF_TESTS_POLICY_FIXTURES_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/policy.h"
#include "harness.h"

#define UNUSED __attribute__((unused))

/* The design document's example, and its canonical form. */
UNUSED static const char example_doc[] =
    "{'service': 'checkout',\n"
    " 'targets': [\n"
    "   {'target': 'ON_CPU',\n"
    "    'items': [{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 10, 'count': 5}]},\n"
    "   {'target': 'NETWORK',\n"
    "    'items': [{'monitor': 'HTTP_ERROR_RATE', 'threshold': 10, 'period': 30, 'count': 3,\n"
    "               'uri_regex': '^/api/'}]}]}";
UNUSED static const char example_canonical[] =
    "{'service':'checkout','targets':[{'items':[{'count':5,'monitor':'PROCESS_CPU','period':10,"
    "'threshold':80}],'target':'ON_CPU'},{'items':[{'count':3,'monitor':'HTTP_ERROR_RATE',"
    "'period':30,'threshold':10,'uri_regex':'^/api/'}],'target':'NETWORK'}]}";
/* sha256 of example_canonical, computed with `printf %s ... | sha256sum`. */
UNUSED static const char example_version[] =
    "95a44b4a4658cf0d254d2fe16acbf00ffe49fa29ab913be602743617f10e7946";

/* Every field of the model in one document. */
UNUSED static const char rich_doc[] =
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
static inline char *dq(const char *s)
{
	char *copy = strdup(s);

	for (char *p = copy; *p; p++)
		if (*p == '\'')
			*p = '"';
	return copy;
}

static inline int parse_sq(const char *doc, struct policy **ret, struct policy_errors *errors)
{
	char *json = dq(doc);
	int rc = policy_parse(json, strlen(json), ret, errors);

	free(json);
	return rc;
}

static inline struct policy *parse_valid(const char *doc)
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

/* One target with one item, or with extra target fields. */
#define ITEM_CPU       "{'monitor': 'PROCESS_CPU', 'threshold': 80, 'period': 10, 'count': 5}"
#define DOC_ITEM(item) "{'service': 's', 'targets': [{'target': 'ON_CPU', 'items': [" item "]}]}"
#define HTTP_ITEM_HEAD                                                                             \
	"{'service': 's', 'targets': [{'target': 'ON_CPU', 'items': [{'monitor': "                 \
	"'HTTP_ERROR_RATE', 'threshold': 5, 'period': 10, 'count': 1, "
#define HTTP_ITEM_TAIL	      "}]}]}"
#define DOC_HTTP_ITEM(fields) HTTP_ITEM_HEAD fields HTTP_ITEM_TAIL
#define DOC_TARGET(fields)                                                                         \
	"{'service': 's', 'targets': [{'target': 'ON_CPU', 'items': [" ITEM_CPU "], " fields "}]}"

/* head + n times unit + tail, malloc'd: long and repetitive documents. */
static inline char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t len = strlen(head) + strlen(unit) * n + strlen(tail) + 1;
	char *s = malloc(len), *p = s;

	p = stpcpy(p, head);
	for (size_t i = 0; i < n; i++)
		p = stpcpy(p, unit);
	stpcpy(p, tail);
	return s;
}

/* Valid documents: every limit at its edge, every spelling. */
UNUSED static const char *const valid_docs[] = {
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

/* jansson allocates through the same fault injection: main() of each test
 * calls json_set_alloc_funcs(failing_json_malloc, free) first. */
static inline void *failing_json_malloc(size_t size)
{
	return core_malloc(size);
}

/* Runs `step` with the 0th, 1st, ... allocation failing until it succeeds
 * with no failure injected; every run must fail cleanly with -ENOMEM (ASan
 * checks that nothing leaks). Returns the number of allocations seen. */
static inline long walk_failures(int (*step)(void), int success)
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

#endif
