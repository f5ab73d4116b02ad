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

unsigned long regex_guard_repeat_product(const char *re, bool *backreference)
{
	unsigned long product = 1;

	for (const char *p = re; *p; p++) {
		unsigned long low, high;
		char *end;

		if (*p == '\\' && p[1]) {
			*backreference |= p[1] >= '1' && p[1] <= '9';
			p++;
			continue;
		}
		if (*p == '[') {
			p = skip_bracket(p);
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
		high = high ? high : 1;
		product =
		    high > REGEX_GUARD_REPEAT_MAX ? REGEX_GUARD_REPEAT_MAX + 1 : product * high;
		product = product > REGEX_GUARD_REPEAT_MAX ? REGEX_GUARD_REPEAT_MAX + 1 : product;
	}
	return product;
}
