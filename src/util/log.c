/* log: see log.h. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_INFO;

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	char line[2048];
	size_t used = 0;
	va_list ap;

	if (level < current_level)
		return;
	if (!isatty(STDERR_FILENO)) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		used = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		used += (size_t)snprintf(line + used, sizeof(line) - used, ".%03ldZ ",
					 ts.tv_nsec / 1000000);
	}
	used += (size_t)snprintf(line + used, sizeof(line) - used, "%s: ", names[level]);
	va_start(ap, fmt);
	int n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	used += (size_t)n;
	if (used >= sizeof(line) - 1)
		used = sizeof(line) - 2;
	line[used++] = '\n';
	(void)!write(STDERR_FILENO, line, used);
}
