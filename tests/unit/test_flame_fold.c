/* Unit tests of core/flame's folded-stack lines: parsing one line and a
 * whole text, formatting one line. The tree is in test_flame.c. */
#include "core/flame.h"
#include "harness.h"

#include <errno.h>
#include <stdio.h>

static int parse(const char *line, enum flame_fields fields, struct flame_sample *s,
		 const char **reason)
{
	return flame_parse_line(line, strlen(line), fields, s, reason);
}

/* The stack of a parsed sample as a C string (static buffer, tests only). */
static const char *stack_of(const struct flame_sample *s)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%.*s", (int)s->stack_len, s->stack);
	return buf;
}

/* ---- parsing one line ---- */

TEST(parse_plain_line)
{
	struct flame_sample s;

	CHECK_INT_EQ(parse("main;foo;bar 3", FLAME_FIELDS_COUNT, &s, NULL), 0);
	CHECK_STR_EQ(stack_of(&s), "main;foo;bar");
	CHECK_INT_EQ(s.depth, 3);
	CHECK_INT_EQ(s.count, 3);
	CHECK_INT_EQ(s.duration_ns, 0);
}

TEST(parse_spaces_inside_frames)
{
	struct flame_sample s;

	CHECK_INT_EQ(parse("[unknown];std::vector<int, a>::x;a b 12", FLAME_FIELDS_COUNT, &s, NULL),
		     0);
	CHECK_STR_EQ(stack_of(&s), "[unknown];std::vector<int, a>::x;a b");
	CHECK_INT_EQ(s.depth, 3);
	CHECK_INT_EQ(s.count, 12);
	/* The field shape decides what the last fields are. */
	CHECK_INT_EQ(parse("a;b c 3 400", FLAME_FIELDS_COUNT, &s, NULL), 0);
	CHECK_STR_EQ(stack_of(&s), "a;b c 3");
	CHECK_INT_EQ(s.count, 400);
	CHECK_INT_EQ(parse("a;b c 3 400", FLAME_FIELDS_COUNT_DURATION, &s, NULL), 0);
	CHECK_STR_EQ(stack_of(&s), "a;b c");
	CHECK_INT_EQ(s.count, 3);
	CHECK_INT_EQ(s.duration_ns, 400);
	/* A frame may be a single space in the middle. */
	CHECK_INT_EQ(parse("a; ;b 1", FLAME_FIELDS_COUNT, &s, NULL), 0);
	CHECK_INT_EQ(s.depth, 3);
}

TEST(parse_whitespace_and_line_endings)
{
	struct flame_sample s;

	CHECK_INT_EQ(parse("a;b\t7", FLAME_FIELDS_COUNT, &s, NULL), 0);
	CHECK_STR_EQ(stack_of(&s), "a;b");
	CHECK_INT_EQ(s.count, 7);
	CHECK_INT_EQ(parse("  a;b  \t 7 \t ", FLAME_FIELDS_COUNT, &s, NULL), 0);
	CHECK_STR_EQ(stack_of(&s), "a;b");
	CHECK_INT_EQ(s.count, 7);
	CHECK_INT_EQ(parse("a;b 7\r", FLAME_FIELDS_COUNT, &s, NULL), 0);
	CHECK_INT_EQ(s.count, 7);
	CHECK_INT_EQ(parse("a;b 7 9\r", FLAME_FIELDS_COUNT_DURATION, &s, NULL), 0);
	CHECK_INT_EQ(s.duration_ns, 9);
	CHECK_INT_EQ(parse("a 007", FLAME_FIELDS_COUNT, &s, NULL), 0);
	CHECK_INT_EQ(s.count, 7);
	CHECK_INT_EQ(parse("a 0", FLAME_FIELDS_COUNT, &s, NULL), 0);
	CHECK_INT_EQ(s.count, 0);
}

TEST(parse_rejects_bad_lines)
{
	static const struct {
		const char *line;
		enum flame_fields fields;
		int err;
		const char *reason;
	} cases[] = {
	    {"", FLAME_FIELDS_COUNT, -EINVAL, "empty line"},
	    {" \t\r", FLAME_FIELDS_COUNT, -EINVAL, "empty line"},
	    {"a;b", FLAME_FIELDS_COUNT, -EINVAL, "missing count (want: STACK COUNT)"},
	    {"a;b x", FLAME_FIELDS_COUNT, -EINVAL, "missing count (want: STACK COUNT)"},
	    {"a;b 12x", FLAME_FIELDS_COUNT, -EINVAL, "missing count (want: STACK COUNT)"},
	    {"a;b -1", FLAME_FIELDS_COUNT, -EINVAL, "missing count (want: STACK COUNT)"},
	    {"a;b +1", FLAME_FIELDS_COUNT, -EINVAL, "missing count (want: STACK COUNT)"},
	    {"5", FLAME_FIELDS_COUNT, -EINVAL, "missing stack"},
	    {"5 6", FLAME_FIELDS_COUNT_DURATION, -EINVAL, "missing stack"},
	    {"6", FLAME_FIELDS_COUNT_DURATION, -EINVAL,
	     "missing count or duration (want: STACK COUNT DURATION_NS)"},
	    {"a;b 5", FLAME_FIELDS_COUNT_DURATION, -EINVAL,
	     "missing count or duration (want: STACK COUNT DURATION_NS)"},
	    {"a;b 5 x", FLAME_FIELDS_COUNT_DURATION, -EINVAL,
	     "missing count or duration (want: STACK COUNT DURATION_NS)"},
	    {"a;;b 1", FLAME_FIELDS_COUNT, -EINVAL, "empty frame"},
	    {";a 1", FLAME_FIELDS_COUNT, -EINVAL, "empty frame"},
	    {"a; 1", FLAME_FIELDS_COUNT, -EINVAL, "empty frame"},
	    {"; 1", FLAME_FIELDS_COUNT, -EINVAL, "empty frame"},
	    {"a\rb 1", FLAME_FIELDS_COUNT, -EINVAL, "invalid character (CR, LF or NUL) in a frame"},
	    {"a\nb 1", FLAME_FIELDS_COUNT, -EINVAL, "invalid character (CR, LF or NUL) in a frame"},
	    {"a 9007199254740992", FLAME_FIELDS_COUNT, -ERANGE, "count above 2^53-1"},
	    {"a 99999999999999999999999999", FLAME_FIELDS_COUNT, -ERANGE, "count above 2^53-1"},
	    {"a 1 9007199254740992", FLAME_FIELDS_COUNT_DURATION, -ERANGE, "duration above 2^53-1"},
	    {"a 18446744073709551616 1", FLAME_FIELDS_COUNT_DURATION, -ERANGE,
	     "count above 2^53-1"},
	};
	struct flame_sample s = {.count = 42};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *reason = NULL;

		harness_context("line \"%s\"", cases[i].line);
		CHECK_INT_EQ(parse(cases[i].line, cases[i].fields, &s, &reason), cases[i].err);
		CHECK_STR_EQ(reason, cases[i].reason);
		CHECK_INT_EQ(s.count, 42); /* untouched on error */
	}
	/* A NUL inside the given length; a NULL reason pointer is fine. */
	CHECK_INT_EQ(flame_parse_line("a\0b 1", 5, FLAME_FIELDS_COUNT, &s, NULL), -EINVAL);
}

TEST(parse_largest_values)
{
	struct flame_sample s;

	CHECK_INT_EQ(
	    parse("a 9007199254740991 9007199254740991", FLAME_FIELDS_COUNT_DURATION, &s, NULL), 0);
	CHECK_INT_EQ(s.count, FLAME_VALUE_MAX);
	CHECK_INT_EQ(s.duration_ns, FLAME_VALUE_MAX);
}

/* ---- parsing a text ---- */

struct collected {
	int lines;
	char stacks[8][64];
	uint64_t counts[8];
	int fail_with; /* returned at the second line when not 0 */
};

static int collect(void *ctx, const struct flame_sample *s)
{
	struct collected *c = ctx;

	if (c->fail_with && c->lines == 1)
		return c->fail_with;
	snprintf(c->stacks[c->lines], sizeof(c->stacks[0]), "%.63s", stack_of(s));
	c->counts[c->lines++] = s->count;
	return 0;
}

TEST(parse_folded_text)
{
	const char *text = "a;b 1\r\n\n  \r\nc 2\n\t\nd;e f 3";
	struct collected c = {0};
	struct flame_error err = {0};

	CHECK_INT_EQ(flame_parse_folded(text, strlen(text), FLAME_FIELDS_COUNT, collect, &c, &err),
		     0);
	CHECK_INT_EQ(c.lines, 3);
	CHECK_STR_EQ(c.stacks[0], "a;b");
	CHECK_STR_EQ(c.stacks[1], "c");
	CHECK_STR_EQ(c.stacks[2], "d;e f");
	CHECK_INT_EQ(c.counts[2], 3);
	CHECK_INT_EQ(err.line, 0);
	/* Empty text, and validation only. */
	CHECK_INT_EQ(flame_parse_folded("", 0, FLAME_FIELDS_COUNT, collect, &c, &err), 0);
	CHECK_INT_EQ(flame_parse_folded(text, strlen(text), FLAME_FIELDS_COUNT, NULL, NULL, NULL),
		     0);
}

TEST(parse_folded_reports_the_line)
{
	const char *text = "a 1\n\nb x\nc 1\n";
	struct collected c = {0};
	struct flame_error err = {0};

	CHECK_INT_EQ(flame_parse_folded(text, strlen(text), FLAME_FIELDS_COUNT, collect, &c, &err),
		     -EINVAL);
	CHECK_INT_EQ(err.line, 3);
	CHECK_STR_EQ(err.reason, "missing count (want: STACK COUNT)");
	CHECK_INT_EQ(c.lines, 1);
	CHECK_INT_EQ(flame_parse_folded(text, strlen(text), FLAME_FIELDS_COUNT, NULL, NULL, NULL),
		     -EINVAL);
	text = "a 1\nb 99999999999999999";
	CHECK_INT_EQ(flame_parse_folded(text, strlen(text), FLAME_FIELDS_COUNT, NULL, NULL, &err),
		     -ERANGE);
	CHECK_INT_EQ(err.line, 2);
}

TEST(parse_folded_callback_errors)
{
	static const struct {
		int err;
		const char *reason;
	} cases[] = {
	    {-E2BIG, "flame graph node limit reached"},
	    {-EOVERFLOW, "a total would pass 2^53-1"},
	    {-ENOMEM, "out of memory"},
	    {-EPERM, "refused by the caller"},
	};
	const char *text = "a 1\nb 2\n";
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct collected c = {.fail_with = cases[i].err};
		struct flame_error err = {0};

		CHECK_INT_EQ(
		    flame_parse_folded(text, strlen(text), FLAME_FIELDS_COUNT, collect, &c, &err),
		    cases[i].err);
		CHECK_INT_EQ(err.line, 2);
		CHECK_STR_EQ(err.reason, cases[i].reason);
	}
}

/* ---- formatting one line ---- */

TEST(format_line_round_trip)
{
	const char *frames[] = {"main", "std::vector<int, a>::x", "[unknown]"};
	uint64_t duration = 12345;
	struct flame_sample s;
	char buf[128];
	size_t len = 0;

	CHECK_INT_EQ(flame_format_line(buf, sizeof(buf), frames, 3, 7, NULL, &len), 0);
	CHECK_STR_EQ(buf, "main;std::vector<int, a>::x;[unknown] 7\n");
	CHECK_INT_EQ(len, strlen(buf));
	CHECK_INT_EQ(flame_parse_line(buf, len, FLAME_FIELDS_COUNT, &s, NULL), 0);
	CHECK_STR_EQ(stack_of(&s), "main;std::vector<int, a>::x;[unknown]");
	CHECK_INT_EQ(s.count, 7);

	CHECK_INT_EQ(flame_format_line(buf, sizeof(buf), frames, 1, 0, &duration, &len), 0);
	CHECK_STR_EQ(buf, "main 0 12345\n");
	CHECK_INT_EQ(flame_parse_line(buf, len, FLAME_FIELDS_COUNT_DURATION, &s, NULL), 0);
	CHECK_INT_EQ(s.duration_ns, 12345);
}

TEST(format_line_errors)
{
	const char *good[] = {"a", "b"}, *empty[] = {"a", ""}, *semi[] = {"a;b"}, *lf[] = {"a\n"},
		   *cr[] = {"x\ry"};
	uint64_t too_big = FLAME_VALUE_MAX + 1;
	char buf[16];
	size_t len = 99;

	CHECK_INT_EQ(flame_format_line(buf, sizeof(buf), good, 0, 1, NULL, &len), -EINVAL);
	CHECK_INT_EQ(flame_format_line(buf, sizeof(buf), empty, 2, 1, NULL, &len), -EINVAL);
	CHECK_INT_EQ(flame_format_line(buf, sizeof(buf), semi, 1, 1, NULL, &len), -EINVAL);
	CHECK_INT_EQ(flame_format_line(buf, sizeof(buf), lf, 1, 1, NULL, &len), -EINVAL);
	CHECK_INT_EQ(flame_format_line(buf, sizeof(buf), cr, 1, 1, NULL, &len), -EINVAL);
	CHECK_INT_EQ(flame_format_line(buf, sizeof(buf), good, 2, too_big, NULL, &len), -ERANGE);
	CHECK_INT_EQ(flame_format_line(buf, sizeof(buf), good, 2, 1, &too_big, &len), -ERANGE);
	CHECK_INT_EQ(len, 99);
	/* "a;b 10\n" is 7 bytes: 8 fit, 7 do not. */
	CHECK_INT_EQ(flame_format_line(buf, 7, good, 2, 10, NULL, &len), -ENOSPC);
	CHECK_INT_EQ(len, 7);
	CHECK_INT_EQ(flame_format_line(buf, 8, good, 2, 10, NULL, &len), 0);
	CHECK_STR_EQ(buf, "a;b 10\n");
}

int main(void)
{
	RUN(parse_plain_line);
	RUN(parse_spaces_inside_frames);
	RUN(parse_whitespace_and_line_endings);
	RUN(parse_rejects_bad_lines);
	RUN(parse_largest_values);
	RUN(parse_folded_text);
	RUN(parse_folded_reports_the_line);
	RUN(parse_folded_callback_errors);
	RUN(format_line_round_trip);
	RUN(format_line_errors);
	return harness_finish();
}
