/* format: see format.h. */
#include "cli/format.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

#define MS_PER_S   1000
#define MS_PER_MIN (60 * MS_PER_S)
#define MS_PER_H   (60 * MS_PER_MIN)
#define MS_PER_D   (24 * (int64_t)MS_PER_H)

int64_t format_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * MS_PER_S + ts.tv_nsec / 1000000;
}

/* The largest whole unit of a non-negative span: "3s", "12m", "5h", "2d". */
static void coarse_span(int64_t ms, char *buf, size_t n, const char *prefix, const char *suffix)
{
	if (ms < MS_PER_MIN)
		snprintf(buf, n, "%s%" PRId64 "s%s", prefix, ms / MS_PER_S, suffix);
	else if (ms < MS_PER_H)
		snprintf(buf, n, "%s%" PRId64 "m%s", prefix, ms / MS_PER_MIN, suffix);
	else if (ms < MS_PER_D)
		snprintf(buf, n, "%s%" PRId64 "h%s", prefix, ms / MS_PER_H, suffix);
	else
		snprintf(buf, n, "%s%" PRId64 "d%s", prefix, ms / MS_PER_D, suffix);
}

char *format_ago(int64_t now_ms, int64_t t_ms, char buf[FORMAT_BUF_LEN])
{
	if (t_ms <= 0)
		snprintf(buf, FORMAT_BUF_LEN, "-");
	else if (t_ms > now_ms && t_ms - now_ms >= MS_PER_S)
		coarse_span(t_ms - now_ms, buf, FORMAT_BUF_LEN, "in ", "");
	else if (now_ms - t_ms < MS_PER_S)
		snprintf(buf, FORMAT_BUF_LEN, "just now");
	else
		coarse_span(now_ms - t_ms, buf, FORMAT_BUF_LEN, "", " ago");
	return buf;
}

char *format_duration_ms(int64_t ms, char buf[FORMAT_BUF_LEN])
{
	if (ms < 0)
		snprintf(buf, FORMAT_BUF_LEN, "-");
	else if (ms < MS_PER_S)
		snprintf(buf, FORMAT_BUF_LEN, "%" PRId64 "ms", ms);
	else if (ms < MS_PER_MIN)
		snprintf(buf, FORMAT_BUF_LEN, "%" PRId64 "s", ms / MS_PER_S);
	else if (ms < MS_PER_H)
		snprintf(buf, FORMAT_BUF_LEN, "%" PRId64 "m%02" PRId64 "s", ms / MS_PER_MIN,
			 ms % MS_PER_MIN / MS_PER_S);
	else if (ms < MS_PER_D)
		snprintf(buf, FORMAT_BUF_LEN, "%" PRId64 "h%02" PRId64 "m", ms / MS_PER_H,
			 ms % MS_PER_H / MS_PER_MIN);
	else
		snprintf(buf, FORMAT_BUF_LEN, "%" PRId64 "d%02" PRId64 "h", ms / MS_PER_D,
			 ms % MS_PER_D / MS_PER_H);
	return buf;
}

char *format_time_ms(int64_t ms, char buf[FORMAT_BUF_LEN])
{
	time_t secs = (time_t)(ms / MS_PER_S);
	struct tm tm;

	if (ms <= 0 || !localtime_r(&secs, &tm) ||
	    strftime(buf, FORMAT_BUF_LEN, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, FORMAT_BUF_LEN, "-");
	return buf;
}

char *format_bytes(double bytes, char buf[FORMAT_BUF_LEN])
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	size_t u = 0;

	if (!(bytes >= 1024)) {
		snprintf(buf, FORMAT_BUF_LEN, "%.0f B", isfinite(bytes) ? bytes : 0.0);
		return buf;
	}
	bytes /= 1024;
	while (bytes >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, FORMAT_BUF_LEN, "%.1f %s", bytes, units[u]);
	return buf;
}

char *format_value(double v, char buf[FORMAT_BUF_LEN])
{
	if (!isfinite(v))
		snprintf(buf, FORMAT_BUF_LEN, "-");
	else if (v == trunc(v) && fabs(v) < 1e15)
		snprintf(buf, FORMAT_BUF_LEN, "%.0f", v);
	else if (fabs(v) >= 1 && fabs(v) < 1e15) {
		/* Two decimals at most, without trailing zeros: 47.4505 -> 47.45. */
		size_t n = (size_t)snprintf(buf, FORMAT_BUF_LEN, "%.2f", v);

		while (n > 0 && buf[n - 1] == '0')
			buf[--n] = '\0';
		if (n > 0 && buf[n - 1] == '.')
			buf[--n] = '\0';
	} else
		snprintf(buf, FORMAT_BUF_LEN, "%.3g", v);
	return buf;
}
