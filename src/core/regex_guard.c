/* regex_guard: see regex_guard.h. */
#include "core/regex_guard.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Past a bracket expression starting at `p` ('['): its closing ']', or the
 * last character when it is not closed (regcomp reports that). */
static const char *skip_bracket(const char *p)
{
	const char *q = p + 1;

	if (*q == '^')
		q++;
	if (*q == ']') /* a leading ']' is a member */
		q++;
	for (; *q && *q != ']'; q++) {
		if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
			const char terminator[3] = {q[1], ']', '\0'};
			const char *end = strstr(q + 2, terminator);

			if (!end)
				break;
			q = end + 1;
		}
	}
	return *q ? q : q - 1;
}

static unsigned long times(unsigned long product, unsigned long factor)
{
	if (factor > REGEX_GUARD_REPEAT_MAX || product * factor > REGEX_GUARD_REPEAT_MAX)
		return REGEX_GUARD_REPEAT_MAX + 1;
	return product * factor;
}

/* Walk state: what a following operator would repeat (the operand) and
 * each open group hold — a repetition, a closure (*, +, {m,}) — so far.
 *
 * Also, for loops over an operand that can match the empty string (a
 * closure over it: "a**", "(a|b*)*", "(a?)*", "()*"; or a repetition of it
 * when it is a repetition already: "(a*){2}", "a?{,3}"): how many copies
 * regcomp makes of them (`operand_bad` in the operand, `level_bad[d]` in the
 * group open at depth d, 0 the whole). With an anchor anywhere (^, $, \<...), computing their
 * epsilon closures costs about 2^copies: "^a**{0,20}" takes 11 s,
 * "^a**" 24 times in a row 29 s (found by fuzzing). Whether an operand
 * matches empty (`operand_nullable`) follows the groups' branches: a branch
 * is nullable when all its items are, a group when any branch is. */
struct walk {
	unsigned long product;
	bool nested; /* a closure over a repetition, or anything over a closure */
	bool operand_rep, operand_closure;
	int depth;
	bool group_rep[REGEX_GUARD_GROUP_DEPTH], group_closure[REGEX_GUARD_GROUP_DEPTH];
	bool operand_nullable, has_operand;
	bool operand_bounded_op; /* the operand ends with '?' or {m,n} */
	unsigned long operand_bad;
	unsigned long level_bad[REGEX_GUARD_GROUP_DEPTH + 1];
	/* Copies regcomp makes of the operand, of what each open group holds
	 * (sequences counted as if nested, as for the whole). */
	unsigned long operand_product, level_product[REGEX_GUARD_GROUP_DEPTH + 1];
	bool branch_nullable[REGEX_GUARD_GROUP_DEPTH + 1]; /* every item so far */
	bool alt_nullable[REGEX_GUARD_GROUP_DEPTH + 1];	   /* an earlier branch */
};

static unsigned long plus_saturating(unsigned long a, unsigned long b)
{
	return a > REGEX_GUARD_REPEAT_MAX || b > REGEX_GUARD_REPEAT_MAX - a
		   ? REGEX_GUARD_REPEAT_MAX + 1
		   : a + b;
}

/* The operand before is complete: its branch is nullable only if it is. */
static void commit_operand(struct walk *w)
{
	if (w->has_operand)
		w->branch_nullable[w->depth] &= w->operand_nullable;
	w->has_operand = false;
}

/* A new operand: a character, bracket expression or escape. */
static void atom(struct walk *w, bool nullable)
{
	commit_operand(w);
	w->operand_rep = w->operand_closure = false;
	w->operand_nullable = nullable;
	w->operand_bad = 0;
	w->operand_product = 1;
	w->operand_bounded_op = false;
	w->has_operand = true;
}

static void repetition(struct walk *w, unsigned long copies, bool closure, bool makes_nullable)
{
	unsigned long bad, empty_loops = 0;

	/* '?' or {m,n} right after '?' or {m,n} ("a??", "a?{0,1}"): regcomp
	 * nests one more optional layer per operator, and a closure over the
	 * stack costs in proportion ("^a" 20 '?' "++" takes seconds; found by
	 * fuzzing): count each such operator as 2 copies at least. */
	if (!closure && w->operand_bounded_op && copies < 2)
		copies = 2;
	bad = times(w->operand_bad ? w->operand_bad : 1, copies);
	/* A repetition of something that matches empty and is a repetition
	 * already ("(a*){2}{2}", "a?{,3}{,3}"), or a closure of anything that
	 * matches empty: its copies count. */
	if (w->operand_nullable && (closure || w->operand_rep))
		empty_loops = times(w->operand_product, copies);

	w->nested |= w->operand_closure || (closure && w->operand_rep);
	w->product = times(w->product, copies);
	w->operand_rep = true;
	w->operand_closure |= closure;
	if (w->depth > 0) {
		w->group_rep[w->depth - 1] = true;
		w->group_closure[w->depth - 1] |= closure;
	}
	/* The copies of what the operand holds, plus its own. */
	bad = plus_saturating(w->operand_bad ? bad : 0, empty_loops);
	w->operand_product = times(w->operand_product, copies);
	w->level_product[w->depth] = times(w->level_product[w->depth], copies);
	w->level_bad[w->depth] = plus_saturating(w->level_bad[w->depth] - w->operand_bad, bad);
	w->operand_bad = bad;
	w->operand_nullable |= makes_nullable;
	w->operand_bounded_op = !closure;
	w->has_operand = true;
}

unsigned long regex_guard_repeat_product(const char *re, bool *backreference)
{
	struct walk w = {
	    .product = 1, .operand_product = 1, .level_product[0] = 1, .branch_nullable[0] = true};

	for (const char *p = re; *p; p++) {
		unsigned long low, high;
		bool unbounded;
		char *end;

		switch (*p) {
		case '\\':
			*backreference |= p[1] >= '1' && p[1] <= '9';
			/* Word anchors (\< \> \b \B \` \') and back-references
			 * may match empty. */
			atom(&w, p[1] && strchr("<>bB`'123456789", p[1]));
			p += p[1] != '\0';
			continue;
		case '[':
			p = skip_bracket(p);
			atom(&w, false);
			continue;
		case '(':
			commit_operand(&w);
			/* Deeper groups are not tracked: count them as nested. */
			if (w.depth == REGEX_GUARD_GROUP_DEPTH)
				w.nested = true;
			else {
				w.group_rep[w.depth] = false;
				w.group_closure[w.depth] = false;
				w.depth++;
				w.level_bad[w.depth] = 0;
				w.level_product[w.depth] = 1;
				w.branch_nullable[w.depth] = true;
				w.alt_nullable[w.depth] = false;
			}
			w.operand_rep = w.operand_closure = false;
			w.operand_nullable = w.operand_bounded_op = false;
			w.operand_bad = 0;
			w.operand_product = 1;
			continue;
		case '|':
			commit_operand(&w);
			w.alt_nullable[w.depth] |= w.branch_nullable[w.depth];
			w.branch_nullable[w.depth] = true;
			w.operand_rep = w.operand_closure = false;
			w.operand_nullable = w.operand_bounded_op = false;
			w.operand_bad = 0;
			w.operand_product = 1;
			continue;
		case ')':
			if (w.depth > 0) {
				unsigned long bad, product;
				bool nullable;

				commit_operand(&w);
				nullable = w.alt_nullable[w.depth] || w.branch_nullable[w.depth];
				bad = w.level_bad[w.depth];
				product = w.level_product[w.depth];
				w.depth--;
				w.operand_rep = w.group_rep[w.depth];
				w.operand_closure = w.group_closure[w.depth];
				if (w.depth > 0) {
					w.group_rep[w.depth - 1] |= w.operand_rep;
					w.group_closure[w.depth - 1] |= w.operand_closure;
				}
				w.level_bad[w.depth] = plus_saturating(w.level_bad[w.depth], bad);
				w.operand_nullable = nullable;
				w.operand_bad = bad;
				w.operand_product = product;
				w.level_product[w.depth] = times(w.level_product[w.depth], product);
				w.operand_bounded_op = false;
				w.has_operand = true;
			}
			continue;
		case '*':
			repetition(&w, 1, true, true);
			continue;
		case '?':
			repetition(&w, 1, false, true);
			continue;
		case '+':
			/* regcomp turns x+ into x x*: one copy of x more. */
			repetition(&w, w.operand_rep ? 2 : 1, true, false);
			continue;
		case '{':
			break;
		case '^':
		case '$':
			atom(&w, true);
			continue;
		default:
			atom(&w, false);
			continue;
		}
		/* {m}, {m,}, {m,n}, and GNU's {,n}; anything else is a literal */
		end = (char *)p + 1;
		low = isdigit((unsigned char)*end) ? strtoul(end, &end, 10) : 0;
		high = low;
		unbounded = false;
		if (*end == ',') {
			end++;
			if (isdigit((unsigned char)*end))
				high = strtoul(end, &end, 10);
			else
				unbounded = true;
		}
		high = high > low ? high : low;
		if (*end == '}') {
			/* {m,} is a closure: m copies and a star */
			repetition(&w, high ? high : 1, unbounded, low == 0);
			p = end;
		} else {
			w.product = times(w.product, high ? high : 1);
			atom(&w, false);
		}
	}
	commit_operand(&w);
	if (w.level_bad[0] > REGEX_GUARD_NULLABLE_CLOSURES_MAX)
		return REGEX_GUARD_REPEAT_MAX + 1;
	/* Closures nested with repetitions cost regcomp far more per copy:
	 * "a*{1,50}*{1,20}" (1000 copies) takes over a minute, "a**{1,400}"
	 * four seconds (found by fuzzing), "(a{1,10}){1,100}" 14 ms. */
	return w.nested ? times(w.product, REGEX_GUARD_NESTED_WEIGHT) : w.product;
}

size_t regex_guard_anchored_prefix(const char *re, char *buf, size_t size)
{
	static const char special[] = ".[]()*+?{}|^$\\";
	size_t len = 0;
	const char *p;

	if (size)
		buf[0] = '\0';
	if (re[0] != '^' || strchr(re, '|') || size < 2)
		return 0;
	for (p = re + 1; *p && len < size - 1; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c >= 0x7f || strchr(special, c))
			break;
		buf[len++] = (char)c;
	}
	/* A repetition makes the character before it optional ('+' does not,
	 * but one rule for all is simpler and only shortens the prefix). */
	if (len && (*p == '*' || *p == '+' || *p == '?' || *p == '{'))
		len--;
	buf[len] = '\0';
	return len;
}
