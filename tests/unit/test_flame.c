/* Unit tests of core/flame's tree: merging, aggregates, limits, JSON and
 * folded output, allocation failures, and a timing print. Folded lines are
 * in test_flame_fold.c. */
#include "core/flame.h"
#include "harness.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* ---- helpers ---- */

static struct flame_tree *tree_of(const char *text, enum flame_fields fields,
				  const struct flame_limits *limits)
{
	struct flame_tree *t = flame_tree_new(limits);
	struct flame_error err = {0};

	CHECK(t != NULL);
	CHECK_INT_EQ(flame_parse_folded(text, strlen(text), fields, flame_tree_add_sample, t, &err),
		     0);
	return t;
}

/* JSON (or folded) of a tree as a malloc'd string; NULL on error. */
static char *json_of(const struct flame_tree *t, enum flame_aggregate agg)
{
	char *out = NULL;
	size_t len = 0;

	if (flame_tree_to_json(t, agg, &out, &len) < 0)
		return NULL;
	CHECK_INT_EQ(len, strlen(out));
	return out;
}

static char *folded_of(const struct flame_tree *t, enum flame_aggregate agg)
{
	char *out = NULL;
	size_t len = 0;

	if (flame_tree_to_folded(t, agg, &out, &len) < 0)
		return NULL;
	CHECK_INT_EQ(len, strlen(out));
	return out;
}

static void check_json(const struct flame_tree *t, enum flame_aggregate agg, const char *want)
{
	char *got = json_of(t, agg);

	CHECK_STR_EQ(got, want);
	free(got);
}

static void check_folded(const struct flame_tree *t, enum flame_aggregate agg, const char *want)
{
	char *got = folded_of(t, agg);

	CHECK_STR_EQ(got, want);
	free(got);
}

/* ---- the tree ---- */

static const char *const merge_text = "main;a;b 1 100\n"
				      "main;a;c 2 0\n"
				      "main;d 3 50\n"
				      "main;a 4 7\n";

TEST(tree_merges_prefixes_count)
{
	struct flame_tree *t = tree_of(merge_text, FLAME_FIELDS_COUNT_DURATION, NULL);
	struct flame_tree_stats st;

	check_json(t, FLAME_AGGREGATE_COUNT,
		   "{\"name\":\"root\",\"value\":10,\"children\":[{\"name\":\"main\",\"value\":10,"
		   "\"children\":[{\"name\":\"a\",\"value\":7,\"children\":[{\"name\":\"b\","
		   "\"value\":1},{\"name\":\"c\",\"value\":2}]},{\"name\":\"d\",\"value\":3}]}]}");
	check_folded(t, FLAME_AGGREGATE_COUNT, "main;a 4\nmain;a;b 1\nmain;a;c 2\nmain;d 3\n");
	CHECK_INT_EQ(flame_tree_total(t, FLAME_AGGREGATE_COUNT), 10);
	flame_tree_get_stats(t, &st);
	CHECK_INT_EQ(st.nodes, 6);
	CHECK_INT_EQ(st.names, 5);
	CHECK_INT_EQ(st.stacks, 4);
	CHECK_INT_EQ(st.truncated_stacks, 0);
	CHECK_INT_EQ(st.shortened_frames, 0);
	flame_tree_free(t);
}

TEST(tree_aggregates_duration)
{
	struct flame_tree *t = tree_of(merge_text, FLAME_FIELDS_COUNT_DURATION, NULL);

	/* c has no duration: left out of the duration graph. */
	check_json(t, FLAME_AGGREGATE_DURATION,
		   "{\"name\":\"root\",\"value\":157,\"children\":[{\"name\":\"main\",\"value\":"
		   "157,\"children\":[{\"name\":\"a\",\"value\":107,\"children\":[{\"name\":\"b\","
		   "\"value\":100}]},{\"name\":\"d\",\"value\":50}]}]}");
	check_folded(t, FLAME_AGGREGATE_DURATION, "main;a 7\nmain;a;b 100\nmain;d 50\n");
	CHECK_INT_EQ(flame_tree_total(t, FLAME_AGGREGATE_DURATION), 157);
	flame_tree_free(t);
}

TEST(tree_output_is_sorted_and_deterministic)
{
	struct flame_tree *t1 = tree_of("z;y 1\na 2\nM 3\n_ 4\nz;b 5\n", FLAME_FIELDS_COUNT, NULL);
	struct flame_tree *t2 = tree_of("z;b 5\n_ 4\nM 3\na 2\nz;y 1\n", FLAME_FIELDS_COUNT, NULL);
	char *j1 = json_of(t1, FLAME_AGGREGATE_COUNT), *j2 = json_of(t2, FLAME_AGGREGATE_COUNT);
	char *f1 = folded_of(t1, FLAME_AGGREGATE_COUNT), *f2 = folded_of(t2, FLAME_AGGREGATE_COUNT);

	CHECK_STR_EQ(f1, "M 3\n_ 4\na 2\nz;b 5\nz;y 1\n");
	CHECK_STR_EQ(f2, f1);
	CHECK_STR_EQ(j2, j1);
	CHECK_STR_EQ(j1,
		     "{\"name\":\"root\",\"value\":15,\"children\":[{\"name\":\"M\",\"value\":3},"
		     "{\"name\":\"_\",\"value\":4},{\"name\":\"a\",\"value\":2},{\"name\":\"z\","
		     "\"value\":6,\"children\":[{\"name\":\"b\",\"value\":5},{\"name\":\"y\","
		     "\"value\":1}]}]}");
	free(j1);
	free(j2);
	free(f1);
	free(f2);
	flame_tree_free(t1);
	flame_tree_free(t2);
}

TEST(tree_empty_and_no_op)
{
	struct flame_tree *t = flame_tree_new(NULL);
	const char *frames[] = {"a"};
	struct flame_tree_stats st;
	char *out = NULL;
	size_t len = 99;

	check_json(t, FLAME_AGGREGATE_COUNT, "{\"name\":\"root\",\"value\":0,\"children\":[]}");
	CHECK_INT_EQ(flame_tree_to_folded(t, FLAME_AGGREGATE_COUNT, &out, &len), 0);
	CHECK_STR_EQ(out, "");
	CHECK_INT_EQ(len, 0);
	free(out);
	/* Nothing counted: nothing added, whether the stack is new or seen. */
	CHECK_INT_EQ(flame_tree_add(t, frames, 1, 0, 0), 0);
	CHECK_INT_EQ(flame_tree_add_stack(t, "a", 1, 0, 0), 0);
	flame_tree_get_stats(t, &st);
	CHECK_INT_EQ(st.nodes, 1);
	CHECK_INT_EQ(st.stacks, 0);
	/* Count without duration: absent from the duration graph. */
	CHECK_INT_EQ(flame_tree_add(t, frames, 1, 3, 0), 0);
	CHECK_INT_EQ(flame_tree_add_stack(t, "a", 1, 2, 0), 0);
	CHECK_INT_EQ(flame_tree_add_stack(t, "a", 1, 0, 0), 0);
	CHECK_INT_EQ(flame_tree_total(t, FLAME_AGGREGATE_COUNT), 5);
	check_json(t, FLAME_AGGREGATE_DURATION, "{\"name\":\"root\",\"value\":0,\"children\":[]}");
	flame_tree_free(t);
	CHECK(flame_tree_free(NULL) == NULL);
}

TEST(tree_add_frames_array)
{
	struct flame_tree *t = flame_tree_new(NULL);
	const char *s1[] = {"main", "read"}, *s2[] = {"main", "read", "[unknown]"};
	const char *bad1[] = {"main", ""}, *bad2[] = {"a;b"}, *bad3[] = {"a\n"};

	CHECK_INT_EQ(flame_tree_add(t, s1, 2, 2, 20), 0);
	CHECK_INT_EQ(flame_tree_add(t, s2, 3, 1, 10), 0);
	CHECK_INT_EQ(flame_tree_add(t, s1, 0, 1, 0), -EINVAL);
	CHECK_INT_EQ(flame_tree_add(t, bad1, 2, 1, 0), -EINVAL);
	CHECK_INT_EQ(flame_tree_add(t, bad2, 1, 1, 0), -EINVAL);
	CHECK_INT_EQ(flame_tree_add(t, bad3, 1, 1, 0), -EINVAL);
	CHECK_INT_EQ(flame_tree_add_stack(t, "", 0, 1, 0), -EINVAL);
	CHECK_INT_EQ(flame_tree_add_stack(t, "a;;b", 4, 1, 0), -EINVAL);
	check_folded(t, FLAME_AGGREGATE_DURATION, "main;read 20\nmain;read;[unknown] 10\n");
	flame_tree_free(t);
}

TEST(tree_refuses_overflow_unchanged)
{
	struct flame_tree *t = flame_tree_new(NULL);

	CHECK_INT_EQ(flame_tree_add_stack(t, "a", 1, FLAME_VALUE_MAX, 5), 0);
	CHECK_INT_EQ(flame_tree_add_stack(t, "b", 1, 1, 0), -EOVERFLOW);
	CHECK_INT_EQ(flame_tree_add_stack(t, "b", 1, 0, FLAME_VALUE_MAX), -EOVERFLOW);
	CHECK_INT_EQ(flame_tree_add_stack(t, "a", 1, 1, 0), -EOVERFLOW); /* a repeated stack */
	CHECK_INT_EQ(flame_tree_add_stack(t, "a", 1, 0, FLAME_VALUE_MAX), -EOVERFLOW);
	CHECK_INT_EQ(flame_tree_add_stack(t, "b", 1, 0, FLAME_VALUE_MAX - 5), 0);
	check_folded(t, FLAME_AGGREGATE_COUNT, "a 9007199254740991\n");
	check_folded(t, FLAME_AGGREGATE_DURATION, "a 5\nb 9007199254740986\n");
	flame_tree_free(t);
}

TEST(tree_truncates_deep_stacks)
{
	struct flame_limits l = {.max_depth = 3};
	struct flame_tree *t = flame_tree_new(&l);
	const char *deep[] = {"a", "b", "c", "d", "e"}, *exact[] = {"a", "x", "y"};
	struct flame_tree_stats st;

	CHECK_INT_EQ(flame_tree_add_stack(t, "a;b;c;d;e", 9, 1, 0), 0);
	CHECK_INT_EQ(flame_tree_add(t, deep, 5, 2, 0), 0);
	CHECK_INT_EQ(flame_tree_add(t, exact, 3, 4, 0), 0);
	CHECK_INT_EQ(flame_tree_add_stack(t, "a;b;c", 5, 8, 0), 0);
	CHECK_INT_EQ(flame_tree_add_stack(t, "a;b;c;d;e", 9, 16, 0), 0); /* seen before */
	check_folded(t, FLAME_AGGREGATE_COUNT, "a;b;[truncated] 19\na;b;c 8\na;x;y 4\n");
	flame_tree_get_stats(t, &st);
	CHECK_INT_EQ(st.stacks, 5);
	CHECK_INT_EQ(st.truncated_stacks, 3);
	flame_tree_free(t);
}

TEST(tree_node_limit)
{
	struct flame_limits l = {.max_nodes = 4};
	struct flame_tree *t = flame_tree_new(&l);
	struct flame_tree_stats st;

	CHECK_INT_EQ(flame_tree_add_stack(t, "a;b;c", 5, 1, 0), 0);
	CHECK_INT_EQ(flame_tree_add_stack(t, "a;b;d", 5, 1, 0), -E2BIG);
	CHECK_INT_EQ(flame_tree_add_stack(t, "x", 1, 1, 0), -E2BIG);
	CHECK_INT_EQ(flame_tree_add_stack(t, "a;b;c", 5, 2, 0), 0);
	CHECK_INT_EQ(flame_tree_add_stack(t, "a;b", 3, 1, 0), 0);
	check_folded(t, FLAME_AGGREGATE_COUNT, "a;b 1\na;b;c 3\n");
	flame_tree_get_stats(t, &st);
	CHECK_INT_EQ(st.nodes, 4);
	CHECK_INT_EQ(st.names, 3); /* a refused insert interns nothing */
	flame_tree_free(t);
	/* The stack cache holds 64 bytes per allowed node: a 300-byte stack is
	 * not cached but still counted every time. */
	t = flame_tree_new(&l);
	{
		char big[301];

		memset(big, 'x', 300);
		big[300] = '\0';
		CHECK_INT_EQ(flame_tree_add_stack(t, big, 300, 1, 0), 0);
		CHECK_INT_EQ(flame_tree_add_stack(t, big, 300, 1, 0), 0);
	}
	CHECK_INT_EQ(flame_tree_total(t, FLAME_AGGREGATE_COUNT), 2);
	flame_tree_get_stats(t, &st);
	CHECK_INT_EQ(st.nodes, 2);
	flame_tree_free(t);
}

TEST(tree_shortens_long_frames)
{
	struct flame_limits l = {.max_frame_len = 16};
	struct flame_tree *t = flame_tree_new(&l);
	struct flame_tree_stats st;

	/* 13 bytes kept + "...". */
	CHECK_INT_EQ(flame_tree_add_stack(t, "abcdefghijklmnopqrstuvwxyz;x", 28, 1, 0), 0);
	/* 12 ASCII + "é" (2 bytes) straddling the cut at 13: cut before it. */
	CHECK_INT_EQ(flame_tree_add_stack(t, "0123456789AB\xc3\xa9xyzw", 18, 1, 0), 0);
	/* Exactly 16 bytes: kept whole; two long frames in one stack. */
	CHECK_INT_EQ(flame_tree_add_stack(
			 t, "0123456789abcdef;0123456789abcdefXX;0123456789abcdefYY", 54, 1, 0),
		     0);
	check_folded(t, FLAME_AGGREGATE_COUNT,
		     "0123456789AB... 1\n0123456789abcdef;0123456789abc...;0123456789abc... 1\n"
		     "abcdefghijklm...;x 1\n");
	flame_tree_get_stats(t, &st);
	CHECK_INT_EQ(st.shortened_frames, 3); /* the XX and YY frames became one name */
	flame_tree_free(t);
}

TEST(tree_limits_validated)
{
	struct flame_limits bad[] = {
	    {.max_depth = 1},
	    {.max_depth = FLAME_MAX_DEPTH_CEILING + 1},
	    {.max_frame_len = 15},
	    {.max_frame_len = FLAME_MAX_FRAME_LEN_CEILING + 1},
	    {.max_nodes = FLAME_MAX_NODES_CEILING + 1},
	};
	struct flame_limits edge = {
	    .max_depth = 2, .max_frame_len = 16, .max_nodes = 1, .max_output_bytes = 1};
	struct flame_tree *t;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		harness_context("limits %zu", i);
		errno = 0;
		CHECK(flame_tree_new(&bad[i]) == NULL);
		CHECK_INT_EQ(errno, EINVAL);
	}
	t = flame_tree_new(&edge);
	CHECK(t != NULL);
	CHECK_INT_EQ(flame_tree_add_stack(t, "a", 1, 1, 0), -E2BIG); /* only the root fits */
	flame_tree_free(t);
}

TEST(tree_output_limit)
{
	struct flame_limits l = {.max_output_bytes = 40};
	struct flame_tree *t = tree_of("main;foo 1\n", FLAME_FIELDS_COUNT, &l);
	char *out = NULL;
	size_t len = 0;

	CHECK_INT_EQ(flame_tree_to_json(t, FLAME_AGGREGATE_COUNT, &out, &len), -E2BIG);
	CHECK(out == NULL);
	check_folded(t, FLAME_AGGREGATE_COUNT, "main;foo 1\n"); /* 11 bytes fit */
	flame_tree_free(t);
	l.max_output_bytes = 8;
	t = tree_of("main;foo 1\n", FLAME_FIELDS_COUNT, &l);
	CHECK_INT_EQ(flame_tree_to_folded(t, FLAME_AGGREGATE_COUNT, &out, &len), -E2BIG);
	flame_tree_free(t);
	/* Growth stops at the maximum: a 6000-byte answer under a 6100 limit. */
	l.max_output_bytes = 6100;
	t = flame_tree_new(&l);
	{
		char name[1001];
		int i;

		memset(name, 'n', 1000);
		name[1000] = '\0';
		for (i = 0; i < 6; i++) {
			name[0] = (char)('a' + i);
			CHECK_INT_EQ(flame_tree_add_stack(t, name, 1000, 1, 0), 0);
		}
	}
	out = folded_of(t, FLAME_AGGREGATE_COUNT);
	CHECK(out != NULL);
	CHECK_INT_EQ(out ? strlen(out) : 0, 6 * 1003);
	free(out);
	flame_tree_free(t);
}

TEST(json_escapes_names)
{
	static const struct {
		const char *frame, *json;
	} cases[] = {
	    {"q\"b\\s", "q\\\"b\\\\s"},
	    {"tab\there\x01\x1f", "tab\\u0009here\\u0001\\u001f"},
	    {"del\x7f", "del\x7f"},
	    {"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
	     "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"},
	    {"\xed\x9f\xbf", "\xed\x9f\xbf"}, /* U+D7FF, just below surrogates */
	    {"x\x80y", "x\\ufffdy"},	      /* lone continuation */
	    {"\xc0\x80", "\\ufffd\\ufffd"},   /* overlong 2-byte */
	    {"\xc1\xbf", "\\ufffd\\ufffd"},
	    {"\xe0\x80\x80", "\\ufffd\\ufffd\\ufffd"},		  /* overlong 3-byte */
	    {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},		  /* surrogate */
	    {"\xf0\x80\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* overlong 4-byte */
	    {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* above U+10FFFF */
	    {"\xf5\x80", "\\ufffd\\ufffd"},
	    {"\xff", "\\ufffd"},
	    {"end\xe2\x82", "end\\ufffd\\ufffd"},	 /* cut short */
	    {"\xe2\x28\xa1", "\\ufffd(\\ufffd"},	 /* bad second byte */
	    {"\xe2\x82\x28", "\\ufffd\\ufffd("},	 /* bad third byte */
	    {"\xf0\x9f\x98(", "\\ufffd\\ufffd\\ufffd("}, /* bad fourth byte */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct flame_tree *t = flame_tree_new(NULL);
		const char *frames[] = {cases[i].frame};
		char want[256];

		harness_context("case %zu", i);
		CHECK_INT_EQ(flame_tree_add(t, frames, 1, 1, 0), 0);
		snprintf(want, sizeof(want),
			 "{\"name\":\"root\",\"value\":1,\"children\":[{\"name\":\"%s\","
			 "\"value\":1}]}",
			 cases[i].json);
		check_json(t, FLAME_AGGREGATE_COUNT, want);
		/* A strict parser (jansson refuses invalid UTF-8) reads it back. */
		{
			char *got = json_of(t, FLAME_AGGREGATE_COUNT);
			json_t *doc = got ? json_loads(got, 0, NULL) : NULL;

			CHECK(doc != NULL);
			json_decref(doc);
			free(got);
		}
		flame_tree_free(t);
	}
}

/* Many distinct names and nodes: the indexes and the arena grow, a frame
 * called "root" is an ordinary frame, lookups still find everything. */
TEST(tree_grows)
{
	static const char want_head[] =
	    "{\"name\":\"root\",\"value\":6000,\"children\":[{\"name\":\"root\",\"value\":"
	    "6000,\"children\":[{\"name\":\"mod0\",\"value\":120,";
	struct flame_tree *t = flame_tree_new(NULL);
	struct flame_tree_stats st;
	static char stack[160 * 1024];
	char *out;
	int i, n, round;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < 3000; i++) {
			n = snprintf(stack, sizeof(stack), "root;mod%d;fn%d;leaf", i % 50, i);
			CHECK_INT_EQ(flame_tree_add_stack(t, stack, (size_t)n, 1, 1), 0);
		}
	}
	flame_tree_get_stats(t, &st);
	CHECK_INT_EQ(st.nodes, 1 + 1 + 50 + 3000 * 2);
	CHECK_INT_EQ(st.names, 1 + 50 + 3000 + 1);
	CHECK_INT_EQ(flame_tree_total(t, FLAME_AGGREGATE_COUNT), 6000);
	out = json_of(t, FLAME_AGGREGATE_COUNT);
	CHECK(out && strncmp(out, want_head, sizeof(want_head) - 1) == 0);
	free(out);
	flame_tree_free(t);

	/* One stack of 140 frames of 1000 bytes in a new tree: the arena and
	 * the stack cache grow several times at once. */
	t = flame_tree_new(NULL);
	for (n = 0, i = 0; i < 140; i++) {
		memset(stack + n, 'a' + i % 26, 1000);
		n += 1000;
		stack[n++] = ';';
	}
	CHECK_INT_EQ(flame_tree_add_stack(t, stack, (size_t)n - 1, 1, 1), 0);
	flame_tree_get_stats(t, &st);
	CHECK_INT_EQ(flame_tree_add_stack(t, stack, (size_t)n - 1, 1, 1), 0);
	flame_tree_get_stats(t, &st);
	CHECK_INT_EQ(st.nodes, 141);
	CHECK_INT_EQ(st.names, 26);
	CHECK_INT_EQ(st.stacks, 2);
	flame_tree_free(t);
}

/* ---- allocation failures ---- */

TEST(allocation_failures)
{
	const char *text = "main;a;b 1 1\nmain;c 2 2\n";
	struct flame_limits l = {.max_frame_len = 16};
	struct flame_tree *t;
	char *want_json = NULL, *want_folded = NULL, *out, *reference = NULL, stack[64];
	size_t len;
	long n;
	int r, failures;

	/* flame_tree_new */
	for (n = 0, failures = 0;; n++) {
		flame_alloc_fail_after(n);
		t = flame_tree_new(&l);
		if (t)
			break;
		CHECK_INT_EQ(errno, ENOMEM);
		failures++;
	}
	flame_alloc_fail_after(-1);
	CHECK(failures >= 5);

	/* insertion: over 300 inserts that grow every table, fail the nth
	 * allocation; the failed insert changes nothing and succeeds when retried. */
	for (n = 0, failures = 0; n < 40; n++) {
		int i;

		flame_alloc_fail_after(n);
		for (i = 0; i < 300; i++) {
			int n_chars = snprintf(stack, sizeof(stack),
					       i % 10 ? "main;fn%d_abcdefghij;leaf%d"
						      : "main;a-very-long-name-%d;z%d",
					       i, i % 7);

			r = flame_tree_add_stack(t, stack, (size_t)n_chars, 1, 1);
			if (r < 0) {
				flame_alloc_fail_after(-1);
				CHECK_INT_EQ(r, -ENOMEM);
				failures++;
				CHECK_INT_EQ(flame_tree_add_stack(t, stack, (size_t)n_chars, 1, 1),
					     0);
			}
		}
		flame_alloc_fail_after(-1);
		out = folded_of(t, FLAME_AGGREGATE_COUNT);
		if (n == 0)
			reference = out;
		else
			CHECK_STR_EQ(out, reference);
		if (n)
			free(out);
		flame_tree_free(t);
		t = flame_tree_new(&l);
	}
	harness_context("%d insert failures", failures);
	CHECK(failures >= 15);
	free(reference);
	r = flame_parse_folded(text, strlen(text), FLAME_FIELDS_COUNT_DURATION,
			       flame_tree_add_sample, t, NULL);
	CHECK_INT_EQ(r, 0);
	CHECK_INT_EQ(flame_tree_add_stack(t, "main;x", 6, 1, 1), 0);
	CHECK_INT_EQ(flame_tree_add_stack(t, "main;a-very-long-frame-name;z", 29, 1, 1), 0);
	want_json = json_of(t, FLAME_AGGREGATE_COUNT);
	want_folded = folded_of(t, FLAME_AGGREGATE_COUNT);
	CHECK_STR_EQ(want_folded, "main;a;b 1\nmain;a-very-long-f...;z 1\nmain;c 2\nmain;x 1\n");

	/* serialization */
	for (n = 0, failures = 0;; n++) {
		flame_alloc_fail_after(n);
		r = flame_tree_to_json(t, FLAME_AGGREGATE_COUNT, &out, &len);
		flame_alloc_fail_after(-1);
		if (r == 0)
			break;
		CHECK_INT_EQ(r, -ENOMEM);
		failures++;
	}
	CHECK(failures >= 8);
	CHECK_STR_EQ(out, want_json);
	free(out);
	for (n = 0;; n++) {
		flame_alloc_fail_after(n);
		r = flame_tree_to_folded(t, FLAME_AGGREGATE_COUNT, &out, &len);
		flame_alloc_fail_after(-1);
		if (r == 0)
			break;
		CHECK_INT_EQ(r, -ENOMEM);
	}
	CHECK_STR_EQ(out, want_folded);
	free(out);
	flame_tree_free(t);

	/* An empty folded answer still allocates its "". */
	t = flame_tree_new(NULL);
	flame_alloc_fail_after(7); /* children lists and walk stack succeed */
	r = flame_tree_to_folded(t, FLAME_AGGREGATE_COUNT, &out, &len);
	flame_alloc_fail_after(-1);
	CHECK_INT_EQ(r, -ENOMEM);
	flame_tree_free(t);
	free(want_json);
	free(want_folded);
}

/* ---- timing (printed, not asserted) ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

TEST(timing_60k_samples_5k_stacks)
{
	enum {
		STACKS = 5000,
		SAMPLES = 60000,
		DEPTH_MAX = 40
	};
	static char stacks[STACKS][DEPTH_MAX * 16];
	static size_t lens[STACKS];
	uint64_t state = 88172645463325252u;
	struct flame_tree *t = flame_tree_new(NULL);
	struct flame_tree_stats st;
	double t0, t1, t2;
	char *json = NULL;
	size_t json_len = 0;
	int i, d;

	for (i = 0; i < STACKS; i++) {
		int depth = 10 + i % 31;

		for (d = 0; d < depth; d++) {
			state ^= state << 13;
			state ^= state >> 7;
			state ^= state << 17;
			/* Shallow frames shared widely, deep ones rarely. */
			lens[i] += (size_t)sprintf(stacks[i] + lens[i], "%sfn_%u_%u", d ? ";" : "",
						   (unsigned)d, (unsigned)(state % (1u + d * 40u)));
		}
	}
	t0 = now_ms();
	for (i = 0; i < SAMPLES; i++) {
		int s = i < STACKS ? i : (int)((unsigned)(i * 2654435761u) % STACKS);

		CHECK_INT_EQ(flame_tree_add_stack(t, stacks[s], lens[s], 1, 1000), 0);
	}
	t1 = now_ms();
	CHECK_INT_EQ(flame_tree_to_json(t, FLAME_AGGREGATE_COUNT, &json, &json_len), 0);
	t2 = now_ms();
	flame_tree_get_stats(t, &st);
	printf("timing: %d samples over %d stacks (depth 10-40): build %.1f ms, JSON %.1f ms "
	       "(%zu bytes, %u nodes)\n",
	       SAMPLES, STACKS, t1 - t0, t2 - t1, json_len, st.nodes);
	CHECK_INT_EQ(flame_tree_total(t, FLAME_AGGREGATE_COUNT), SAMPLES);
	free(json);
	flame_tree_free(t);
}

int main(void)
{
	RUN(tree_merges_prefixes_count);
	RUN(tree_aggregates_duration);
	RUN(tree_output_is_sorted_and_deterministic);
	RUN(tree_empty_and_no_op);
	RUN(tree_add_frames_array);
	RUN(tree_refuses_overflow_unchanged);
	RUN(tree_truncates_deep_stacks);
	RUN(tree_node_limit);
	RUN(tree_shortens_long_frames);
	RUN(tree_limits_validated);
	RUN(tree_output_limit);
	RUN(json_escapes_names);
	RUN(tree_grows);
	RUN(allocation_failures);
	RUN(timing_60k_samples_5k_stacks);
	return harness_finish();
}
