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

unsigned long regex_guard_repeat_product(const char *re, bool *backreference)
{
	unsigned long product = 1;
	bool repeatable_copy = false; /* after ')' or a repetition operator */

	for (const char *p = re; *p; p++) {
		bool stacked = repeatable_copy;
		unsigned long low, high;
		char *end;

		repeatable_copy = false;
		if (*p == '\\' && p[1]) {
			*backreference |= p[1] >= '1' && p[1] <= '9';
			p++;
			continue;
		}
		if (*p == '[') {
			p = skip_bracket(p);
			continue;
		}
		if (*p == ')' || *p == '*' || *p == '?') {
			repeatable_copy = true;
			continue;
		}
		/* regcomp turns x+ into x x*: one copy more. Harmless on a single
		 * character, doubling on a group or another repetition, so
		 * "(((a+)+)+)" grows as 2^n (found by fuzzing). */
		if (*p == '+') {
			repeatable_copy = true;
			if (stacked)
				product = times(product, 2);
			continue;
		}
		if (*p != '{')
			continue;
		/* {m}, {m,}, {m,n}, and GNU's {,n}; anything else counts as 1 */
		end = (char *)p + 1;
		low = isdigit((unsigned char)*end) ? strtoul(end, &end, 10) : 0;
		high = low;
		if (*end == ',' && isdigit((unsigned char)end[1]))
			high = strtoul(end + 1, &end, 10);
		high = high > low ? high : low;
		product = times(product, high ? high : 1);
		if (*end == '}') {
			p = end;
			repeatable_copy = true;
		}
	}
	return product;
}
