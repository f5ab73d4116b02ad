/* parse: see parse.h. */
#include "util/parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*ret = v;
	return 0;
}

int parse_u32(const char *s, uint32_t *ret)
{
	uint64_t v;
	int r = parse_u64(s, &v);

	if (r < 0)
		return r;
	if (v > UINT32_MAX)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

int parse_i64(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || !(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*ret = v;
	return 0;
}

int parse_double(const char *s, double *ret)
{
	char *end;
	double v;

	if (!s || !*s || isspace((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || !isfinite(v))
		return -ERANGE;
	*ret = v;
	return 0;
}

int parse_duration_ms(const char *s, int64_t *ret_ms)
{
	char *end;
	unsigned long long v;
	int64_t unit_ms;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (*end) {
	case '\0':
	case 's':
		unit_ms = 1000;
		break;
	case 'm':
		unit_ms = 60 * 1000;
		break;
	case 'h':
		unit_ms = 3600 * 1000;
		break;
	case 'd':
		unit_ms = 86400 * 1000;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (v > (unsigned long long)(INT64_MAX / unit_ms))
		return -ERANGE;
	*ret_ms = (int64_t)v * unit_ms;
	return 0;
}

int parse_time_ms(const char *s, int64_t now_ms, int64_t *ret_ms)
{
	int64_t v;
	int r;

	if (!s)
		return -EINVAL;
	if (strcmp(s, "now") == 0) {
		*ret_ms = now_ms;
		return 0;
	}
	if (s[0] == '-') {
		r = parse_duration_ms(s + 1, &v);
		if (r < 0)
			return r;
		if (v > now_ms)
			return -ERANGE;
		*ret_ms = now_ms - v;
		return 0;
	}
	r = parse_i64(s, &v);
	if (r < 0)
		return r;
	if (v <= 0)
		return -ERANGE;
	*ret_ms = v;
	return 0;
}
