/* bpfutil: see bpfutil.h. */
#include "agent/bpfutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "util/log.h"

static int route_libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	if (level == LIBBPF_DEBUG && log_get_level() > LOG_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_msg(level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG, "libbpf: %s", line);
	return 0;
}

#define TRACEFS_DIR "/sys/kernel/tracing"

static int ensure_tracefs(void)
{
	if (access(TRACEFS_DIR "/events", F_OK) == 0)
		return 0;
	if (access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return 0;
	if (mount("tracefs", TRACEFS_DIR, "tracefs", 0, NULL) != 0)
		return -errno;
	log_debug("bpf: mounted tracefs at " TRACEFS_DIR);
	return 0;
}

int bpfutil_setup(void)
{
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	libbpf_set_print(route_libbpf_log);
	return ensure_tracefs();
}
