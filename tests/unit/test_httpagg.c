/* Unit tests for agent/httpagg (per-second HTTP item values, URI filters) and
 * httpmon_decode (the kernel record as user space sees it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/httpagg.h"
#include "agent/httpmon.h"
#include "harness.h"

#define MAX_VALUES 32
#define NS	   1000000000ull

struct values {
	struct httpagg_value v[MAX_VALUES];
	char label[MAX_VALUES][64];
	int n;
};

static void collect(const struct httpagg_value *v, void *ctx)
{
	struct values *s = ctx;

	if (s->n < MAX_VALUES) {
		s->v[s->n] = *v;
		snprintf(s->label[s->n], sizeof(s->label[0]), "%s", v->label);
		s->v[s->n].label = s->label[s->n];
		s->v[s->n].process_id = NULL; /* not kept past the callback */
	}
	s->n++;
}

static struct policy *parse(const char *json)
{
	struct policy *p = NULL;
	struct policy_errors errs = {0};

	if (policy_parse(json, strlen(json), &p, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "policy: %s\n", errs.reasons[i]);
		policy_errors_clear(&errs);
	}
	CHECK(p != NULL);
	return p;
}

/* A request of `pid` that ended at `end_ns` after `dur_ms`. */
static struct httpmon_request req(uint32_t pid, const char *uri, uint16_t status, uint64_t end_ns,
				  double dur_ms)
{
	struct httpmon_request r = {.pid = pid, .role = HTTPMON_ROLE_SERVER, .status = status};

	snprintf(r.uri, sizeof(r.uri), "%s", uri);
	r.end_ns = end_ns;
	r.start_ns = end_ns - (uint64_t)(dur_ms * 1e6);
	return r;
}

static void add(struct httpagg *agg, uint32_t pid, const char *uri, uint16_t status,
		uint64_t end_ns, double dur_ms)
{
	struct httpmon_request r = req(pid, uri, status, end_ns, dur_ms);

	httpagg_add(agg, &r);
}

static const char *BOTH_GLOBAL =
    "{\"service\":\"web\",\"targets\":[{\"target\":\"NETWORK\",\"items\":["
    "{\"monitor\":\"HTTP_ERROR_RATE\",\"threshold\":10,\"period\":5,\"count\":1},"
    "{\"monitor\":\"HTTP_AVG_RESPONSE_TIME\",\"threshold\":10,\"period\":5,\"count\":1}]},"
    "{\"target\":\"ON_CPU\",\"items\":[{\"monitor\":\"PROCESS_CPU\",\"threshold\":80,"
    "\"period\":5,\"count\":1}]}]}";

static const struct httpagg_value *find(const struct values *s, enum policy_monitor m,
					int64_t second)
{
	for (int i = 0; i < s->n && i < MAX_VALUES; i++)
		if (s->v[i].monitor == m && s->v[i].second == second)
			return &s->v[i];
	return NULL;
}

TEST(error_rate_and_average_of_a_completed_second)
{
	struct httpagg *agg = httpagg_new();
	struct policy *p = parse(BOTH_GLOBAL);
	struct values s = {0};
	const struct httpagg_value *v;

	CHECK_INT_EQ(httpagg_set_process(agg, "p1", 42, p), 0);
	CHECK(httpagg_watches_pid(agg, 42));
	CHECK(!httpagg_watches_pid(agg, 43));
	add(agg, 42, "/a", 200, 10 * NS + 100, 10);
	add(agg, 42, "/b", 500, 10 * NS + 200, 20);
	add(agg, 42, "/c", 503, 10 * NS + 999999999, 60);
	add(agg, 42, "/d", 499, 11 * NS, 4);
	add(agg, 43, "/x", 500, 10 * NS + 1, 1000); /* another process */
	/* Second 10 is complete only once tick 11 comes. */
	CHECK_INT_EQ(httpagg_tick(agg, 10, collect, &s), 0);
	CHECK_INT_EQ(httpagg_tick(agg, 11, collect, &s), 2);
	v = find(&s, POLICY_MONITOR_HTTP_ERROR_RATE, 10);
	CHECK(v != NULL);
	if (v) {
		CHECK_DBL_EQ(v->value, 200.0 / 3.0);
		CHECK_INT_EQ(v->requests, 3);
		CHECK_INT_EQ(v->errors, 2);
		CHECK_INT_EQ(v->target, POLICY_TARGET_NETWORK);
		CHECK_STR_EQ(v->label, "global");
		CHECK_INT_EQ(v->pid, 42);
	}
	v = find(&s, POLICY_MONITOR_HTTP_AVG_RESPONSE_TIME, 10);
	CHECK(v != NULL);
	if (v)
		CHECK_DBL_EQ(v->value, 30.0);
	s.n = 0;
	CHECK_INT_EQ(httpagg_tick(agg, 12, collect, &s), 2);
	v = find(&s, POLICY_MONITOR_HTTP_ERROR_RATE, 11);
	CHECK(v != NULL);
	if (v)
		CHECK_DBL_EQ(v->value, 0.0);
	policy_free(p);
	httpagg_free(agg);
}

TEST(seconds_without_requests_hold_no_value_and_late_ones_are_counted)
{
	struct httpagg *agg = httpagg_new();
	struct policy *p = parse(BOTH_GLOBAL);
	struct values s = {0};

	CHECK_INT_EQ(httpagg_set_process(agg, "p1", 42, p), 0);
	add(agg, 42, "/a", 200, 20 * NS, 1);
	add(agg, 42, "/a", 200, 23 * NS, 1);
	CHECK_INT_EQ(httpagg_tick(agg, 30, collect, &s), 4);
	CHECK_INT_EQ(s.v[0].second, 20); /* oldest first per item */
	CHECK_INT_EQ(s.v[1].second, 23);
	s.n = 0;
	CHECK_INT_EQ(httpagg_tick(agg, 31, collect, &s), 0);
	add(agg, 42, "/a", 200, 29 * NS, 1); /* second 29 was emitted (empty) */
	CHECK_INT_EQ(httpagg_late(agg), 1);
	CHECK_INT_EQ(httpagg_tick(agg, 32, collect, &s), 0);
	policy_free(p);
	httpagg_free(agg);
}

TEST(uri_list_matches_the_exact_path_without_query)
{
	struct httpagg *agg = httpagg_new();
	struct policy *p = parse("{\"service\":\"web\",\"targets\":[{\"target\":\"NETWORK\","
				 "\"items\":[{\"monitor\":\"HTTP_ERROR_RATE\",\"threshold\":1,"
				 "\"period\":1,\"count\":1,\"uri_list\":[\"/a\",\"/b/c\"]}]}]}");
	struct values s = {0};

	CHECK_INT_EQ(httpagg_set_process(agg, "p1", 7, p), 0);
	add(agg, 7, "/a", 500, 5 * NS, 1);		    /* yes */
	add(agg, 7, "/a?x=1&y=2", 200, 5 * NS, 1);	    /* yes: query ignored */
	add(agg, 7, "/a#frag", 200, 5 * NS, 1);		    /* yes */
	add(agg, 7, "/b/c", 200, 5 * NS, 1);		    /* yes */
	add(agg, 7, "http://h:8080/b/c?q", 200, 5 * NS, 1); /* yes: absolute form */
	add(agg, 7, "/ab", 500, 5 * NS, 1);		    /* no */
	add(agg, 7, "/a/", 500, 5 * NS, 1);		    /* no */
	add(agg, 7, "/b", 500, 5 * NS, 1);		    /* no */
	add(agg, 7, "*", 500, 5 * NS, 1);		    /* no */
	CHECK_INT_EQ(httpagg_tick(agg, 6, collect, &s), 1);
	CHECK_INT_EQ(s.v[0].requests, 5);
	CHECK_INT_EQ(s.v[0].errors, 1);
	CHECK_DBL_EQ(s.v[0].value, 20.0);
	CHECK_STR_EQ(s.v[0].label, "/a,/b/c");
	policy_free(p);
	httpagg_free(agg);
}

TEST(uri_regex_is_unanchored_unless_anchored_and_sees_the_path_only)
{
	struct httpagg *agg = httpagg_new();
	struct policy *p = parse(
	    "{\"service\":\"web\",\"targets\":["
	    "{\"target\":\"NETWORK\",\"items\":[{\"monitor\":\"HTTP_ERROR_RATE\",\"threshold\":1,"
	    "\"period\":1,\"count\":1,\"uri_regex\":\"api/v[0-9]+\"}]},"
	    "{\"target\":\"ON_CPU\",\"items\":[{\"monitor\":\"HTTP_ERROR_RATE\",\"threshold\":1,"
	    "\"period\":1,\"count\":1,\"uri_regex\":\"^/api/\"}]}]}");
	struct values s = {0};
	uint64_t net = 0, cpu = 0;

	CHECK_INT_EQ(httpagg_set_process(agg, "p1", 7, p), 0);
	add(agg, 7, "/api/v2/users", 200, 5 * NS, 1); /* both */
	add(agg, 7, "/x/api/v1", 200, 5 * NS, 1);     /* unanchored only */
	add(agg, 7, "/api/list", 200, 5 * NS, 1);     /* anchored only */
	add(agg, 7, "/x?u=api/v1", 200, 5 * NS, 1);   /* neither: query */
	CHECK_INT_EQ(httpagg_tick(agg, 6, collect, &s), 2);
	for (int i = 0; i < s.n; i++) {
		if (s.v[i].target == POLICY_TARGET_NETWORK)
			net = s.v[i].requests;
		else
			cpu = s.v[i].requests;
	}
	CHECK_INT_EQ(net, 2);
	CHECK_INT_EQ(cpu, 2);
	policy_free(p);
	httpagg_free(agg);
}

TEST(a_cut_uri_never_equals_a_listed_path)
{
	struct httpagg *agg = httpagg_new();
	struct policy *p = parse("{\"service\":\"web\",\"targets\":[{\"target\":\"NETWORK\","
				 "\"items\":[{\"monitor\":\"HTTP_ERROR_RATE\",\"threshold\":1,"
				 "\"period\":1,\"count\":1,\"uri_list\":[\"/long\"]}]}]}");
	struct httpmon_request r = req(7, "/long", 500, 5 * NS, 1);
	struct values s = {0};

	CHECK_INT_EQ(httpagg_set_process(agg, "p1", 7, p), 0);
	r.uri_truncated = true; /* "/long..." cut: the path may go on */
	httpagg_add(agg, &r);
	snprintf(r.uri, sizeof(r.uri), "/long?verylongquery");
	httpagg_add(agg, &r); /* the query started inside: path complete */
	CHECK_INT_EQ(httpagg_tick(agg, 6, collect, &s), 1);
	CHECK_INT_EQ(s.v[0].requests, 1);
	policy_free(p);
	httpagg_free(agg);
}

TEST(replacing_items_keeps_buckets_of_unchanged_items_and_bad_regex_changes_nothing)
{
	struct httpagg *agg = httpagg_new();
	struct policy *p = parse(BOTH_GLOBAL);
	struct policy *no_http = parse("{\"service\":\"web\",\"targets\":[{\"target\":\"ON_CPU\","
				       "\"items\":[{\"monitor\":\"PROCESS_CPU\",\"threshold\":80,"
				       "\"period\":5,\"count\":1}]}]}");
	char bad_regex[] = "(unclosed", service[] = "web";
	struct policy_item bad_item = {.monitor = POLICY_MONITOR_HTTP_ERROR_RATE,
				       .threshold = 1,
				       .period_s = 1,
				       .count = 1,
				       .uri_regex = bad_regex};
	struct policy_target_spec bad_target = {
	    .target = POLICY_TARGET_NETWORK, .items = &bad_item, .n_items = 1};
	struct policy bad = {.service = service, .targets = &bad_target, .n_targets = 1};
	struct values s = {0};

	CHECK_INT_EQ(httpagg_set_process(agg, "p1", 42, p), 0);
	add(agg, 42, "/a", 500, 10 * NS, 1);
	CHECK_INT_EQ(httpagg_set_process(agg, "p1", 42, p), 0); /* same items */
	CHECK_INT_EQ(httpagg_set_process(agg, "p1", 42, &bad), -EINVAL);
	CHECK_INT_EQ(httpagg_process_count(agg), 1);
	CHECK_INT_EQ(httpagg_tick(agg, 11, collect, &s), 2);
	CHECK_INT_EQ(httpagg_set_process(agg, "p2", 43, p), 0);
	CHECK_INT_EQ(httpagg_process_count(agg), 2);
	CHECK_INT_EQ(httpagg_set_process(agg, "p1", 42, no_http), 0); /* removes p1 */
	CHECK_INT_EQ(httpagg_process_count(agg), 1);
	CHECK(!httpagg_watches_pid(agg, 42));
	httpagg_remove_process(agg, "p2");
	httpagg_remove_process(agg, "nobody");
	CHECK_INT_EQ(httpagg_process_count(agg), 0);
	policy_free(p);
	policy_free(no_http);
	httpagg_free(agg);
	CHECK(httpagg_free(NULL) == NULL);
}

TEST(requests_count_only_for_the_process_of_their_pid)
{
	struct httpagg *agg = httpagg_new();
	struct policy *p = parse(BOTH_GLOBAL);
	struct values s = {0};

	CHECK_INT_EQ(httpagg_set_process(agg, "p1", 42, p), 0);
	CHECK_INT_EQ(httpagg_set_process(agg, "p2", 43, p), 0);
	add(agg, 43, "/a", 500, 10 * NS, 1);
	CHECK_INT_EQ(httpagg_tick(agg, 11, collect, &s), 2);
	CHECK_INT_EQ(s.v[0].pid, 43);
	policy_free(p);
	httpagg_free(agg);
}

TEST(uri_path_strips_query_fragment_scheme_and_host)
{
	char out[16];

	httpagg_uri_path("/a/b?c", out, sizeof(out));
	CHECK_STR_EQ(out, "/a/b");
	httpagg_uri_path("http://host", out, sizeof(out));
	CHECK_STR_EQ(out, "/");
	httpagg_uri_path("https://host:1/x#y", out, sizeof(out));
	CHECK_STR_EQ(out, "/x");
	httpagg_uri_path("/0123456789abcdefghij", out, sizeof(out));
	CHECK_STR_EQ(out, "/0123456789abcd");
}

TEST(decode_cuts_the_uri_and_flags_truncation)
{
	struct httpmon_event e = {.pid = 9,
				  .fd = 4,
				  .role = HTTPMON_ROLE_CLIENT,
				  .method = HTTPMON_METHOD_POST,
				  .status = 201,
				  .start_ns = 5,
				  .end_ns = 9};
	struct httpmon_request r;

	memcpy(e.uri, "/p?q=1 HTTP/1.1\r\nHost", 21);
	e.uri_len = 21;
	httpmon_decode(&e, &r);
	CHECK_STR_EQ(r.uri, "/p?q=1");
	CHECK(!r.uri_truncated);
	CHECK_INT_EQ(r.role, HTTPMON_ROLE_CLIENT);
	CHECK_STR_EQ(httpmon_method_name(r.method), "POST");
	CHECK_INT_EQ(r.status, 201);
	/* Copy ended inside the URI (buffer ended): truncated. */
	e.uri_len = 4;
	httpmon_decode(&e, &r);
	CHECK_STR_EQ(r.uri, "/p?q");
	CHECK(r.uri_truncated);
	/* Full-length URI without a terminator; control bytes made visible. */
	memset(e.uri, 'a', sizeof(e.uri));
	e.uri[1] = '\x01';
	e.uri_len = HTTPMON_URI_MAX;
	httpmon_decode(&e, &r);
	CHECK_INT_EQ(strlen(r.uri), HTTPMON_URI_MAX);
	CHECK(r.uri[1] == '?');
	CHECK(r.uri_truncated);
	/* Out-of-range enums from the kernel decode as unknown. */
	e.role = 9;
	e.method = 200;
	httpmon_decode(&e, &r);
	CHECK_INT_EQ(r.role, HTTPMON_ROLE_UNKNOWN);
	CHECK_STR_EQ(httpmon_method_name(r.method), "UNKNOWN");
	CHECK_STR_EQ(httpmon_role_name(HTTPMON_ROLE_SERVER), "server");
	CHECK_STR_EQ(httpmon_counter_name(HTTPMON_CNT_DESYNC), "desync");
}

int main(void)
{
	RUN(error_rate_and_average_of_a_completed_second);
	RUN(seconds_without_requests_hold_no_value_and_late_ones_are_counted);
	RUN(uri_list_matches_the_exact_path_without_query);
	RUN(uri_regex_is_unanchored_unless_anchored_and_sees_the_path_only);
	RUN(a_cut_uri_never_equals_a_listed_path);
	RUN(replacing_items_keeps_buckets_of_unchanged_items_and_bad_regex_changes_nothing);
	RUN(requests_count_only_for_the_process_of_their_pid);
	RUN(uri_path_strips_query_fragment_scheme_and_host);
	RUN(decode_cuts_the_uri_and_flags_truncation);
	return harness_finish();
}
