/* Unit tests of cli/flame_svg: well-formed XML, widths proportional to
 * values, merging of shared prefixes, escaping of frame names, label
 * fitting, deterministic colors and output, malformed input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

#include "cli/flame_svg.h"

static char *render(const char *folded, size_t *ret_len)
{
	char *svg = NULL;
	size_t len = 0, bad = 0;
	int err = flame_svg_render(folded, strlen(folded), NULL, &svg, &len, &bad);

	CHECK_INT_EQ(err, 0);
	if (ret_len)
		*ret_len = len;
	return svg;
}

/* A small XML checker: every tag closes in order, attributes are quoted,
 * '&' starts a known entity, and text holds no raw '<'. Returns 1 when the
 * document is well-formed with one root element. */
static int xml_well_formed(const char *s)
{
	const char *stack[64];
	size_t stack_len[64];
	int depth = 0, roots = 0;

	while (*s) {
		if (*s == '&') {
			static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;",
							       "&apos;"};
			int ok = 0;

			for (size_t i = 0; i < 5; i++)
				ok |= strncmp(s, entities[i], strlen(entities[i])) == 0;
			if (!ok)
				return 0;
			s++;
		} else if (strncmp(s, "<?", 2) == 0) {
			s = strstr(s, "?>");
			if (!s)
				return 0;
			s += 2;
		} else if (*s == '<') {
			int closing = s[1] == '/';
			const char *name = s + 1 + closing, *p = name;
			size_t n;

			while (*p && *p != ' ' && *p != '>' && *p != '/')
				p++;
			n = (size_t)(p - name);
			if (n == 0)
				return 0;
			/* Attributes: name="value" with no '<' inside values. */
			while (*p && *p != '>' && *p != '/') {
				if (*p == '"') {
					const char *end = strchr(p + 1, '"');

					if (!end)
						return 0;
					for (const char *q = p + 1; q < end; q++)
						if (*q == '<')
							return 0;
					p = end;
				}
				p++;
			}
			if (closing) {
				if (depth == 0 || stack_len[depth - 1] != n ||
				    strncmp(stack[depth - 1], name, n) != 0)
					return 0;
				depth--;
			} else if (*p == '/') {
				if (depth == 0)
					roots++;
				p++;
			} else {
				if (depth == 64)
					return 0;
				if (depth == 0)
					roots++;
				stack[depth] = name;
				stack_len[depth++] = n;
			}
			if (*p != '>')
				return 0;
			s = p + 1;
		} else {
			s++;
		}
	}
	return depth == 0 && roots == 1;
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* The value of attribute `attr` of the rect that follows the frame's
 * <title>NAME (...; -1 when absent. */
static double frame_attr(const char *svg, const char *name, const char *attr)
{
	char title[256], key[32];
	const char *p;

	snprintf(title, sizeof(title), "<title>%s (", name);
	snprintf(key, sizeof(key), " %s=\"", attr);
	p = strstr(svg, title);
	if (!p)
		return -1;
	p = strstr(p, key);
	return p ? strtod(p + strlen(key), NULL) : -1;
}

TEST(output_is_well_formed_svg)
{
	char *svg = render("main;work;spin 30\nmain;work;io 10\nmain;idle 60\n", NULL);

	CHECK(strncmp(svg, "<?xml", 5) == 0);
	CHECK(strstr(svg, "<svg ") != NULL);
	CHECK(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
	CHECK(xml_well_formed(svg));
	/* all, main, work, spin, io, idle: one group, rect and tooltip each. */
	CHECK_INT_EQ(count(svg, "<g>"), 6);
	CHECK_INT_EQ(count(svg, "<title>"), 6);
	CHECK_INT_EQ(count(svg, "<rect x=") - 1, 6); /* minus the background */
	CHECK(strstr(svg, "total: 100 samples") != NULL);
	free(svg);
}

TEST(widths_are_proportional_to_values)
{
	char *svg = render("a;b 3\na;c 1\n", NULL);
	double all = frame_attr(svg, "all", "width"), a = frame_attr(svg, "a", "width");
	double b = frame_attr(svg, "b", "width"), c = frame_attr(svg, "c", "width");

	CHECK_DBL_EQ(all, FLAME_SVG_DEFAULT_WIDTH_PX - 20.0);
	CHECK_DBL_EQ(a, all);
	CHECK_DBL_EQ(b, 3 * c);
	CHECK_DBL_EQ(b + c, a);
	/* Siblings sit side by side in name order, children above parents. */
	CHECK_DBL_EQ(frame_attr(svg, "c", "x"), frame_attr(svg, "b", "x") + b);
	CHECK(frame_attr(svg, "b", "y") < frame_attr(svg, "a", "y"));
	CHECK(frame_attr(svg, "a", "y") < frame_attr(svg, "all", "y"));
	CHECK(strstr(svg, "<title>b (3 samples, 75.00%)</title>") != NULL);
	free(svg);
}

TEST(shared_prefixes_merge_wherever_the_lines_are)
{
	/* "a" alone, "a!x" between (sorts between "a" and "a;..." bytewise) and
	 * a repeated stack: one "a" node of value 1+2+4, "b" of 2+4. */
	char *svg = render("a;b 2\na!x 5\na 1\na;b 4\n", NULL);

	CHECK_INT_EQ(count(svg, "<title>a ("), 1);
	CHECK_INT_EQ(count(svg, "<title>b ("), 1);
	CHECK(strstr(svg, "<title>a (7 samples,") != NULL);
	CHECK(strstr(svg, "<title>b (6 samples,") != NULL);
	CHECK(strstr(svg, "<title>all (12 samples, 100.00%)") != NULL);
	free(svg);
}

TEST(frame_names_are_escaped)
{
	char *svg = render("std::vector<int>&;say \"hi\" 'x' 5\n", NULL);

	CHECK(xml_well_formed(svg));
	CHECK(strstr(svg, "std::vector&lt;int&gt;&amp;") != NULL);
	CHECK(strstr(svg, "say &quot;hi&quot; &apos;x&apos;") != NULL);
	CHECK(strstr(svg, "vector<int>") == NULL);
	CHECK(strstr(svg, "\"hi\"") == NULL);
	free(svg);
}

TEST(control_bytes_and_invalid_utf8_become_question_marks)
{
	char *svg = render("ok\x01;bad\xff\xfe;caf\xc3\xa9 2\n", NULL);

	CHECK(xml_well_formed(svg));
	CHECK(strstr(svg, "<title>ok? (") != NULL);
	CHECK(strstr(svg, "<title>bad?? (") != NULL);
	CHECK(strstr(svg, "<title>caf\xc3\xa9 (") != NULL);
	free(svg);
}

TEST(labels_are_cut_to_fit_and_tiny_frames_skipped)
{
	char folded[256];
	char *svg;

	/* 1 of 10000 px-worth: the narrow frame (~0.1 px) is below the minimum. */
	snprintf(folded, sizeof(folded),
		 "wide_function_with_a_long_name 100000\nnarrow 1\n"
		 "small;a_rather_long_function_name_that_cannot_fit 1000\n");
	svg = render(folded, NULL);
	CHECK(strstr(svg, "<title>narrow (") == NULL);
	/* small: 1000/101000 of 1180 px = 11.7 px: too narrow for a label. */
	CHECK(strstr(svg, ">small<") == NULL);
	CHECK(strstr(svg, "<title>small (") != NULL);
	/* The wide frame's label is whole. */
	CHECK(strstr(svg, ">wide_function_with_a_long_name</text>") != NULL);
	free(svg);

	svg = render("x;abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxyz 1\ny 7\n", NULL);
	/* 1/8 of 1180 px = 147.5 px -> (147.5 - 6) / 7.08 = 19 chars: 17 + "..". */
	CHECK(strstr(svg, ">abcdefghijklmnopq..</text>") != NULL);
	CHECK(xml_well_formed(svg));
	free(svg);
}

TEST(colors_are_deterministic_by_name)
{
	char c1[32], c2[32], c3[32];
	char *one, *two;
	size_t len1, len2;

	flame_svg_color("malloc", 6, c1, sizeof(c1));
	flame_svg_color("malloc", 6, c2, sizeof(c2));
	flame_svg_color("free", 4, c3, sizeof(c3));
	CHECK_STR_EQ(c1, c2);
	CHECK(strcmp(c1, c3) != 0);
	CHECK(strncmp(c1, "rgb(", 4) == 0);
	one = render("main;malloc 3\nmain;free 2\n", &len1);
	two = render("main;free 2\nmain;malloc 3\n", &len2);
	CHECK_INT_EQ(len1, len2);
	CHECK(memcmp(one, two, len1) == 0);
	free(one);
	free(two);
}

TEST(empty_input_says_no_samples)
{
	char *svg = render("\n\n", NULL);

	CHECK(xml_well_formed(svg));
	CHECK(strstr(svg, "no samples") != NULL);
	CHECK_INT_EQ(count(svg, "<g>"), 0);
	free(svg);
}

TEST(malformed_lines_are_refused_with_their_number)
{
	static const char *const bad[] = {"a;b 1\nno_value\n", "a;b 1\n\na;b x\n", "a;b -3\n",
					  " 5\n", "a;b 1e999\n"};
	static const size_t lines[] = {2, 3, 1, 1, 1};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *svg = NULL;
		size_t len = 0, line = 0;

		harness_context("input %zu", i);
		CHECK_INT_EQ(flame_svg_render(bad[i], strlen(bad[i]), NULL, &svg, &len, &line),
			     -EINVAL);
		CHECK_INT_EQ(line, lines[i]);
		CHECK(svg == NULL);
	}
}

TEST(decimal_values_crlf_and_options)
{
	struct flame_svg_options opts = {.title = "t<1>", .unit = "ns", .width_px = 400};
	const char *in = "a;b 1.5\r\na;c 0.5\r\n";
	char *svg = NULL;
	size_t len = 0;

	CHECK_INT_EQ(flame_svg_render(in, strlen(in), &opts, &svg, &len, NULL), 0);
	CHECK(strstr(svg, "width=\"400\"") != NULL);
	CHECK(strstr(svg, ">t&lt;1&gt;</text>") != NULL);
	CHECK(strstr(svg, "<title>b (1.5 ns, 75.00%)</title>") != NULL);
	CHECK_DBL_EQ(frame_attr(svg, "b", "width"), 3 * frame_attr(svg, "c", "width"));
	free(svg);
	in = "off;poll 812000000\noff;sleep 1250000000\n";
	CHECK_INT_EQ(flame_svg_render(in, strlen(in), &opts, &svg, &len, NULL), 0);
	CHECK(strstr(svg, "<title>poll (812 ms, ") != NULL);
	CHECK(strstr(svg, "<title>sleep (1.25 s, ") != NULL);
	CHECK(strstr(svg, ">total: 2.06 s</text>") != NULL);
	free(svg);
	in = "spin 2500\n";
	CHECK_INT_EQ(flame_svg_render(in, strlen(in), &opts, &svg, &len, NULL), 0);
	CHECK(strstr(svg, "<title>spin (2.5 \xc2\xb5s, 100.00%)") != NULL);
	free(svg);
	opts.width_px = 10;
	CHECK_INT_EQ(flame_svg_render(in, strlen(in), &opts, &svg, &len, NULL), -EINVAL);
}

TEST(a_subtitle_is_escaped_and_moves_the_frames_down)
{
	struct flame_svg_options opts = {.title = "t", .subtitle = "cpu >= 80 % & more"};
	const char *in = "a;b 2\n";
	char *plain = render(in, NULL), *svg = NULL;
	size_t len = 0;

	CHECK_INT_EQ(flame_svg_render(in, strlen(in), &opts, &svg, &len, NULL), 0);
	CHECK(xml_well_formed(svg));
	CHECK(strstr(svg, ">cpu &gt;= 80 % &amp; more</text>") != NULL);
	CHECK_DBL_EQ(frame_attr(svg, "all", "y"), frame_attr(plain, "all", "y") + 18);
	CHECK_DBL_EQ(frame_attr(svg, "b", "y"), frame_attr(plain, "b", "y") + 18);
	free(svg);
	free(plain);
}

TEST(deep_stacks_are_capped)
{
	size_t depth = FLAME_SVG_MAX_DEPTH + 50, len = depth * 2 + 8;
	char *in = malloc(len), *p = in, *svg;

	for (size_t i = 0; i < depth; i++) {
		*p++ = 'f';
		*p++ = i + 1 < depth ? ';' : ' ';
	}
	strcpy(p, "9\n");
	svg = render(in, NULL);
	CHECK(svg != NULL);
	/* root + FLAME_SVG_MAX_DEPTH frames. */
	CHECK_INT_EQ(count(svg, "<g>"), FLAME_SVG_MAX_DEPTH + 1);
	free(svg);
	free(in);
}

int main(void)
{
	RUN(output_is_well_formed_svg);
	RUN(widths_are_proportional_to_values);
	RUN(shared_prefixes_merge_wherever_the_lines_are);
	RUN(frame_names_are_escaped);
	RUN(control_bytes_and_invalid_utf8_become_question_marks);
	RUN(labels_are_cut_to_fit_and_tiny_frames_skipped);
	RUN(colors_are_deterministic_by_name);
	RUN(empty_input_says_no_samples);
	RUN(malformed_lines_are_refused_with_their_number);
	RUN(decimal_values_crlf_and_options);
	RUN(a_subtitle_is_escaped_and_moves_the_frames_down);
	RUN(deep_stacks_are_capped);
	return harness_finish();
}
