/* utf8: see utf8.h. */
#include "core/utf8.h"

#include <string.h>

/* How many bytes, from the start of u (len bytes), follow the rules of one
 * sequence; its full length goes to *need (0 for a byte no sequence starts
 * with). The sequence is whole when the result equals *need. */
static size_t valid_prefix(const unsigned char *u, size_t len, size_t *need)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t i;

	*need = 0;
	if (len == 0)
		return 0;
	if (u[0] < 0x80)
		return *need = 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		*need = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		*need = 3;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		*need = 4;
	else
		return 0;
	/* The second byte's range excludes overlong forms, surrogates and
	 * code points above U+10FFFF. */
	if (u[0] == 0xe0)
		lo = 0xa0;
	else if (u[0] == 0xed)
		hi = 0x9f;
	else if (u[0] == 0xf0)
		lo = 0x90;
	else if (u[0] == 0xf4)
		hi = 0x8f;
	for (i = 1; i < *need && i < len; i++) {
		if (u[i] < lo || u[i] > hi)
			break;
		lo = 0x80;
		hi = 0xbf;
	}
	return i;
}

size_t utf8_sequence_len(const char *s, size_t len)
{
	size_t need, n = valid_prefix((const unsigned char *)s, len, &need);

	return need && n == need ? n : 0;
}

bool utf8_valid(const char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len;) {
		size_t n = utf8_sequence_len(s + i, len - i);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

size_t utf8_repair(char *s)
{
	size_t len = strlen(s), i = 0;

	while (i < len) {
		size_t need, n = valid_prefix((const unsigned char *)s + i, len - i, &need);

		if (need && n == need) {
			i += n;
		} else if (need && i + n == len) {
			s[i] = '\0'; /* a sequence cut by the end */
			return i;
		} else {
			s[i++] = '?';
		}
	}
	return len;
}
