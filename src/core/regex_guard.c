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
 * each open group hold — a repetition, a closure (*, +, {m,}) — so far. */
struct walk {
	unsigned long product;
	bool nested; /* a closure over a repetition, or anything over a closure */
	bool operand_rep, operand_closure;
	int depth;
	bool group_rep[REGEX_GUARD_GROUP_DEPTH], group_closure[REGEX_GUARD_GROUP_DEPTH];
};

static void repetition(struct walk *w, unsigned long copies, bool closure)
{
	w->nested |= w->operand_closure || (closure && w->operand_rep);
	w->product = times(w->product, copies);
	w->operand_rep = true;
	w->operand_closure |= closure;
	if (w->depth > 0) {
		w->group_rep[w->depth - 1] = true;
		w->group_closure[w->depth - 1] |= closure;
	}
}

unsigned long regex_guard_repeat_product(const char *re, bool *backreference)
{
	struct walk w = {.product = 1};

	for (const char *p = re; *p; p++) {
		unsigned long low, high;
		bool unbounded;
		char *end;

		switch (*p) {
		case '\\':
			*backreference |= p[1] >= '1' && p[1] <= '9';
			p += p[1] != '\0';
			w.operand_rep = w.operand_closure = false;
			continue;
		case '[':
			p = skip_bracket(p);
			w.operand_rep = w.operand_closure = false;
			continue;
		case '(':
			/* Deeper groups are not tracked: count them as nested. */
			if (w.depth == REGEX_GUARD_GROUP_DEPTH)
				w.nested = true;
			else {
				w.group_rep[w.depth] = false;
				w.group_closure[w.depth] = false;
				w.depth++;
			}
			w.operand_rep = w.operand_closure = false;
			continue;
		case ')':
			if (w.depth > 0) {
				w.depth--;
				w.operand_rep = w.group_rep[w.depth];
				w.operand_closure = w.group_closure[w.depth];
				if (w.depth > 0) {
					w.group_rep[w.depth - 1] |= w.operand_rep;
					w.group_closure[w.depth - 1] |= w.operand_closure;
				}
			}
			continue;
		case '*':
			repetition(&w, 1, true);
			continue;
		case '?':
			repetition(&w, 1, false);
			continue;
		case '+':
			/* regcomp turns x+ into x x*: one copy of x more. */
			repetition(&w, w.operand_rep ? 2 : 1, true);
			continue;
		case '{':
			break;
		default:
			w.operand_rep = w.operand_closure = false;
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
			repetition(&w, high ? high : 1, unbounded);
			p = end;
		} else {
			w.product = times(w.product, high ? high : 1);
			w.operand_rep = w.operand_closure = false;
		}
	}
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
