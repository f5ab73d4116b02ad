/* preflight: checks the privileges and kernel features the agent's BPF
 * programs and perf events need — capabilities, kernel BTF, tracefs and the
 * tracepoints we attach to, perf_event_paranoid, kernel lockdown, readable
 * kernel symbols and, on a live host, real probes: a cpu-clock perf event, a
 * BPF program load, a BPF ring buffer and a map larger than RLIMIT_MEMLOCK.
 * Each check ends in one line saying what is missing, what stops working and
 * how to fix it (docs/troubleshooting.md explains each). Files are read under
 * a root directory ("/" on a live host, a fake tree in unit tests); the
 * syscall probes run only when asked to. Owns no state and does not log: the
 * agent logs the report at start, `contprof agent --check` prints it. */
#ifndef CONTPROF_AGENT_PREFLIGHT_H
#define CONTPROF_AGENT_PREFLIGHT_H

#include <stddef.h>

enum preflight_level {
	PREFLIGHT_OK,
	PREFLIGHT_WARN, /* works with less: some frames, hooks or figures missing */
	PREFLIGHT_FAIL, /* a profiler, the HTTP monitor or exec events cannot start */
};

#define PREFLIGHT_MAX_ITEMS  16
#define PREFLIGHT_DETAIL_LEN 320

struct preflight_item {
	const char *name; /* "privileges", "btf", "tracefs", ... (static) */
	enum preflight_level level;
	char detail[PREFLIGHT_DETAIL_LEN];
};

struct preflight_report {
	size_t n;
	size_t n_warn, n_fail;
	struct preflight_item items[PREFLIGHT_MAX_ITEMS];
};

/* Runs every check, reading /proc and /sys under root ("/" for this host);
 * with probe != 0 also the syscall probes, which need a live host. Fills *ret
 * (always completely); returns 0, or -EINVAL for a NULL or empty root. */
int preflight_run(const char *root, int probe, struct preflight_report *ret);

/* "ok", "warning" or "MISSING". */
const char *preflight_level_name(enum preflight_level level);

#endif
