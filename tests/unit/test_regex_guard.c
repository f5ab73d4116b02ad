/* Unit tests of core/regex_guard: the interval product and back-reference
 * detection that keep costly EREs away from glibc's regcomp. */
#include <stdbool.h>

#include "core/regex_guard.h"
#include "harness.h"

TEST(regex_guard_products)
{
	static const struct {
		const char *re;
		unsigned long product;
		bool backreference;
	} cases[] = {
	    {"^/api/", 1, false},
	    {"a{3}", 3, false},
	    {"a{2,5}", 5, false},
	    {"a{7,}", 7, false},
	    {"a{,4}", 4, false},
	    {"a{0}", 1, false},
	    {"(a{10}){20}", 200, false},
	    {"a{10}b{10}c{10}", 1000, false},
	    {"a{10}b{10}c{11}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"a{1001}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"((a{1,255}){1,255}){1,255}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"a\\{500}\\{500}", 1, false}, /* escaped braces are literals */
	    {"[{]{5}", 5, false},	   /* a brace inside brackets is a member */
	    {"[]{]{6}", 6, false},	   /* a leading ']' is a member */
	    {"[^]{]{6}", 6, false},	   /* also after '^' */
	    {"[[:alpha:]{]{2}", 2, false}, /* a class does not close the bracket */
	    {"[[:alpha:{9}", 9, false},	   /* unclosed class: counted, too many is safe */
	    {"[abc{9}", 1, false},	   /* an unclosed bracket */
	    {"^/a+/b+/c+/d+/e+/f+/g+/h+/i+/j+/k+$", 1, false}, /* '+' on characters */
	    {"(ab)+", 1, false},
	    {"((a+)+)+", 4 * REGEX_GUARD_NESTED_WEIGHT, false},
	    {"a+++++", 16 * REGEX_GUARD_NESTED_WEIGHT, false},
	    {"a+++++++", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"a+++++++++++", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"(((((((((((x)+)+)+)+)+)+)+)+)+)+)+", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"a{10}+", 20 * REGEX_GUARD_NESTED_WEIGHT, false},
	    {"a*+", 2 * REGEX_GUARD_NESTED_WEIGHT, false},
	    {"a?+{3}", REGEX_GUARD_REPEAT_MAX + 1, false}, /* 12 copies matching empty */
	    {"a?{3}", 3, false},			   /* '?' is no closure */
	    {"(a{10}){20}", 200, false},		   /* intervals over intervals: cheap */
	    {"(a{1,10}){1,100}", 1000, false},
	    {"a{5,}", 5, false},
	    {"a{5,}{2}", 10 * REGEX_GUARD_NESTED_WEIGHT, false},
	    {"^(/[a-z0-9]+)*$", REGEX_GUARD_NESTED_WEIGHT, false},
	    {"(a*b)c{50}", 50, false}, /* the closure is not repeated */
	    {"(a*b){50}", 50 * REGEX_GUARD_NESTED_WEIGHT, false},
	    {"((a*)b){2}", 2 * REGEX_GUARD_NESTED_WEIGHT, false},
	    /* found by fuzzing: seconds to minutes in regcomp */
	    {"a*{1,50}*{1,20}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"a**{1,400}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"/**********{1,255}*********/", REGEX_GUARD_REPEAT_MAX + 1, false},
	    /* 50 copies of a closure over "a*": refused (with an anchor 2^50) */
	    {"a**{1,50}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    /* Closures over what matches empty: 2^copies with an anchor (found
	     * by fuzzing: "^9****{0,25}**5**" took minutes in regcomp). */
	    {"^9****{0,25}**5**", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^a**{0,20}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^a**{0,9}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^a**{0,4}", 4 * REGEX_GUARD_NESTED_WEIGHT, false}, /* 8 copies */
	    {"^a**{0,5}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^a**a**a**a**a**a**a**a**a**", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^a**a**a**a**a**a**a**a**", REGEX_GUARD_NESTED_WEIGHT, false},
	    {"^(a**){0,16}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^(b|a*)*{0,16}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^(a|)*{0,16}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^()*{0,16}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^(a{0,1})*{0,16}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^a{0,}*{0,16}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^a?*{0,16}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"\\<a**{0,16}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^((a*)*){3}{3}", REGEX_GUARD_REPEAT_MAX + 1, false}, /* 9 copies */
	    {"^((a*)*){2}", 2 * REGEX_GUARD_NESTED_WEIGHT, false},
	    {"^a?{,3}{,3}{2}", REGEX_GUARD_REPEAT_MAX + 1, false}, /* 0.7 s with anchors */
	    {"^.*{,3}{,3}+", REGEX_GUARD_REPEAT_MAX + 1, false},   /* 1.3 s */
	    /* Stacked '?' / {m,n}: 2 copies each at least (found by fuzzing:
	     * 20 '?' then "+++" took minutes in regcomp) */
	    {"]]]]]]]]]]=]?????????????????????+++]]]]]]vs$", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^a????????????????????++", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^a??", 2, false},
	    {"^a???", 4, false},
	    {"^a?{0,1}{0,1}", 4, false},
	    {"^(a?)?", 1, false},				    /* a group is one operand */
	    {"^/x.*?/y.*?/z.*?", REGEX_GUARD_NESTED_WEIGHT, false}, /* '?' over closures */
	    /* ...but closures over what cannot match empty are cheap */
	    {"^(a+)*(a+)*(a+)*(a+)*(a+)*(a+)*(a+)*(a+)*(a+)*(a+)*", REGEX_GUARD_NESTED_WEIGHT,
	     false},
	    {"^(ab)*(ab)*(ab)*(ab)*(ab)*(ab)*(ab)*(ab)*(ab)*(ab)*", 1, false},
	    {"^(a*b)*", REGEX_GUARD_NESTED_WEIGHT, false},
	    {"^(a|b*c)*", REGEX_GUARD_NESTED_WEIGHT, false},
	    {"^(/[a-z]*)*$", REGEX_GUARD_NESTED_WEIGHT, false},
	    {"^(/[a-z]*){1,16}", 16 * REGEX_GUARD_NESTED_WEIGHT, false},
	    /* a repetition over a repetition that matches empty counts its copies
	     * too: over-counts some cheap ones, e.g. "^(a*){0,16}" (fast) */
	    {"^(a*){0,16}", REGEX_GUARD_REPEAT_MAX + 1, false},
	    {"^/api/(v[0-9]+/)?users/([0-9]+)?$", REGEX_GUARD_NESTED_WEIGHT, false},
	    {"x{1*04}+", 1, false}, /* not an interval: '+' on a character */
	    {"\\)+", 1, false},	    /* an escaped ')' is a character */
	    {"[)]+", 1, false},
	    {"(a+)\\1", 1, true},
	    {"(a)(b)\\9{4}", 4, true},
	    {"\\0\\\\1", 1, false}, /* \0 and an escaped backslash */
	    {"trailing\\", 1, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool backreference = false;

		harness_context("%s", cases[i].re);
		CHECK_INT_EQ(regex_guard_repeat_product(cases[i].re, &backreference),
			     cases[i].product);
		CHECK_INT_EQ(backreference, cases[i].backreference);
	}
}

/* Groups deeper than tracked count as nested; a stray ')' is harmless. */
TEST(regex_guard_deep_groups)
{
	char re[2 * (REGEX_GUARD_GROUP_DEPTH + 8) + 2];
	bool backreference = false;
	size_t n = 0;

	for (int i = 0; i < REGEX_GUARD_GROUP_DEPTH + 8; i++)
		re[n++] = '(';
	re[n++] = 'a';
	for (int i = 0; i < REGEX_GUARD_GROUP_DEPTH + 8; i++)
		re[n++] = ')';
	re[n] = '\0';
	CHECK_INT_EQ(regex_guard_repeat_product(re, &backreference), REGEX_GUARD_NESTED_WEIGHT);
	CHECK_INT_EQ(regex_guard_repeat_product("a)+", &backreference), 1);
	CHECK_INT_EQ(regex_guard_repeat_product("(a)+", &backreference), 1);
	CHECK(!backreference);
}

TEST(regex_guard_anchored_prefix_of_patterns)
{
	static const struct {
		const char *re, *want;
	} cases[] = {
	    {"^sleep 77[0-9]$", "sleep 77"},
	    {"^nginx: worker", "nginx: worker"},
	    {"^nginx$", "nginx"},
	    {"^ab*c", "a"}, /* b may be absent */
	    {"^ab+c", "a"}, /* shortened all the same */
	    {"^ab?", "a"},
	    {"^ab{2}", "a"},
	    {"^a.b", "a"},
	    {"^(ab)c", ""},
	    {"^a\\.b", "a"},
	    {"nginx", ""},  /* not anchored */
	    {"^ab|cd", ""}, /* the anchor binds the first branch only */
	    {"^x(a|b)", ""},
	    {"^/usr/bin/python3", "/usr/bin/python3"},
	    {"^caf\xc3\xa9", "caf"}, /* ASCII only */
	    {"^", ""},
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		harness_context("pattern %s", cases[i].re);
		CHECK_INT_EQ(regex_guard_anchored_prefix(cases[i].re, buf, sizeof(buf)),
			     strlen(cases[i].want));
		CHECK_STR_EQ(buf, cases[i].want);
	}
	/* Cut to the buffer; a repetition right after the cut still counts. */
	CHECK_INT_EQ(regex_guard_anchored_prefix("^abcdef", buf, 4), 3);
	CHECK_STR_EQ(buf, "abc");
	CHECK_INT_EQ(regex_guard_anchored_prefix("^abcd*", buf, 4), 3);
	CHECK_INT_EQ(regex_guard_anchored_prefix("^abc*", buf, 4), 2);
	CHECK_STR_EQ(buf, "ab");
}

int main(void)
{
	RUN(regex_guard_products);
	RUN(regex_guard_deep_groups);
	RUN(regex_guard_anchored_prefix_of_patterns);
	return harness_finish();
}
