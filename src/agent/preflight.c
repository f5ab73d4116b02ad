/* preflight: see preflight.h. Checks read small files under the root with
 * readfile(); the probes make the same syscalls the profilers make, on this
 * process, and undo them at once. */
#include "agent/preflight.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util/readfile.h"

/* Capability bits (linux/capability.h), named here to avoid libcap. */
#define CAP_BIT_DAC_READ_SEARCH 2
#define CAP_BIT_SYS_PTRACE	19
#define CAP_BIT_SYS_ADMIN	21
#define CAP_BIT_PERFMON		38
#define CAP_BIT_BPF		39

/* Above this RLIMIT_MEMLOCK the agent's maps fit whatever the kernel counts. */
#define PREFLIGHT_MEMLOCK_ENOUGH_BYTES (64ULL << 20)
#define PREFLIGHT_PROBE_HZ	       99

struct ctx {
	const char *root; /* "" for "/" so paths never start with "//" */
	struct preflight_report *r;
	bool bpf_caps, perfmon_caps;
};

static void add(struct ctx *c, const char *name, enum preflight_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(struct ctx *c, const char *name, enum preflight_level level, const char *fmt, ...)
{
	struct preflight_item *it;
	va_list ap;

	if (c->r->n >= PREFLIGHT_MAX_ITEMS)
		return;
	it = &c->r->items[c->r->n++];
	it->name = name;
	it->level = level;
	va_start(ap, fmt);
	vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
	va_end(ap);
	if (level == PREFLIGHT_WARN)
		c->r->n_warn++;
	else if (level == PREFLIGHT_FAIL)
		c->r->n_fail++;
}

const char *preflight_level_name(enum preflight_level level)
{
	return level == PREFLIGHT_OK ? "ok" : level == PREFLIGHT_WARN ? "warning" : "MISSING";
}

static ssize_t read_under(const struct ctx *c, const char *path, char *buf, size_t size)
{
	return readfile_fmt(buf, size, "%s%s", c->root, path);
}

static int access_under(const struct ctx *c, const char *path, int mode)
{
	char full[PATH_MAX];

	if ((size_t)snprintf(full, sizeof(full), "%s%s", c->root, path) >= sizeof(full))
		return -ENAMETOOLONG;
	return access(full, mode) == 0 ? 0 : -errno;
}

/* The value after "\nKEY:" in a /proc status text, or NULL. */
static const char *status_field(const char *text, const char *key)
{
	char needle[32];
	const char *at;

	snprintf(needle, sizeof(needle), "\n%s:", key);
	at = strstr(text, needle);
	if (!at)
		return NULL;
	at += strlen(needle);
	while (*at == ' ' || *at == '\t')
		at++;
	return at;
}

static void check_privileges(struct ctx *c)
{
	char status[4096];
	const char *uid_s, *cap_s;
	unsigned long long cap;
	unsigned long euid = 0;
	char *end;
	bool ptrace_ok;

	if (read_under(c, "/proc/self/status", status + 1, sizeof(status) - 1) < 0) {
		add(c, "privileges", PREFLIGHT_WARN,
		    "cannot read /proc/self/status: is /proc mounted?");
		return;
	}
	status[0] = '\n';
	uid_s = status_field(status, "Uid");
	cap_s = status_field(status, "CapEff");
	if (uid_s) { /* real, effective, saved, fs */
		strtoul(uid_s, &end, 10);
		euid = strtoul(end, NULL, 10);
	}
	errno = 0;
	cap = cap_s ? strtoull(cap_s, &end, 16) : 0;
	if (!cap_s || errno || end == cap_s) {
		add(c, "privileges", PREFLIGHT_WARN, "no CapEff line in /proc/self/status");
		return;
	}
#define HAS(bit) ((cap >> (bit)) & 1ULL)
	c->perfmon_caps = HAS(CAP_BIT_PERFMON) || HAS(CAP_BIT_SYS_ADMIN);
	c->bpf_caps = (HAS(CAP_BIT_BPF) && HAS(CAP_BIT_PERFMON)) || HAS(CAP_BIT_SYS_ADMIN);
	ptrace_ok = HAS(CAP_BIT_SYS_PTRACE) && HAS(CAP_BIT_DAC_READ_SEARCH);
#undef HAS
	if (!c->bpf_caps)
		add(c, "privileges", PREFLIGHT_FAIL,
		    "not running as root (euid %lu, without CAP_BPF + CAP_PERFMON or "
		    "CAP_SYS_ADMIN): no BPF program or perf event can be opened, so no "
		    "profiler, HTTP monitor or exec/exit events — run the agent as root "
		    "(sudo contprof agent ..., or the contprof-agent systemd unit)",
		    euid);
	else if (!ptrace_ok)
		add(c, "privileges", PREFLIGHT_WARN,
		    "without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH the maps and binaries of "
		    "other users' processes cannot be read: their frames stay [unknown]");
	else
		add(c, "privileges", PREFLIGHT_OK, "euid %lu, BPF and perf capabilities", euid);
}

static void check_btf(struct ctx *c)
{
	int err = access_under(c, "/sys/kernel/btf/vmlinux", R_OK);

	if (err)
		add(c, "btf", PREFLIGHT_FAIL,
		    "no kernel BTF (/sys/kernel/btf/vmlinux: %s): the profilers and the HTTP "
		    "monitor are CO-RE BPF programs and cannot load — use a kernel built with "
		    "CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, Fedora and RHEL kernels are)",
		    strerror(-err));
	else
		add(c, "btf", PREFLIGHT_OK,
		    "/sys/kernel/btf/vmlinux (CO-RE; off-CPU uses tp_btf sched_switch, else "
		    "the raw tracepoint)");
}

/* The tracepoints our programs attach to, one per group that can be missing. */
static const struct {
	const char *event, *user;
} tracepoints[] = {
    {"sched/sched_process_exec", "exec/exit events (else /proc rescans every 5 s)"},
    {"sched/sched_process_exit", "exec/exit events (else /proc rescans every 5 s)"},
    {"syscalls/sys_exit_read", "the HTTP monitor (needs CONFIG_FTRACE_SYSCALLS)"},
    {"syscalls/sys_enter_connect", "the HTTP monitor (needs CONFIG_FTRACE_SYSCALLS)"},
};

static void check_tracing(struct ctx *c)
{
	static const char *const dirs[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
	char path[PATH_MAX], filesystems[4096], missing[200] = "", users[200] = "";
	const char *dir = NULL;
	int err = -ENOENT;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !dir; i++) {
		snprintf(path, sizeof(path), "%s/events", dirs[i]);
		err = access_under(c, path, X_OK);
		if (err == 0)
			dir = dirs[i];
		else if (err == -EACCES)
			break;
	}
	if (err == -EACCES) {
		add(c, "tracefs", PREFLIGHT_WARN, "%s: permission denied (only root can look)",
		    path);
		return;
	}
	if (!dir) {
		if (read_under(c, "/proc/filesystems", filesystems, sizeof(filesystems)) > 0 &&
		    strstr(filesystems, "\ttracefs\n"))
			add(c, "tracefs", PREFLIGHT_OK,
			    "not mounted; the agent mounts it at /sys/kernel/tracing");
		else
			add(c, "tracefs", PREFLIGHT_FAIL,
			    "tracefs is neither mounted nor in /proc/filesystems: tracepoints "
			    "cannot be attached, so no HTTP monitor and no exec/exit events — use "
			    "a kernel with CONFIG_FTRACE, then mount -t tracefs tracefs "
			    "/sys/kernel/tracing");
		return;
	}
	add(c, "tracefs", PREFLIGHT_OK, "%s", dir);
	for (size_t i = 0; i < sizeof(tracepoints) / sizeof(tracepoints[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/%s", dir, tracepoints[i].event);
		if (access_under(c, path, F_OK) == 0)
			continue;
		if (strlen(missing) + strlen(tracepoints[i].event) + 3 < sizeof(missing))
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 "%s%s", missing[0] ? ", " : "", tracepoints[i].event);
		if (!strstr(users, tracepoints[i].user) &&
		    strlen(users) + strlen(tracepoints[i].user) + 6 < sizeof(users))
			snprintf(users + strlen(users), sizeof(users) - strlen(users), "%s%s",
				 users[0] ? " and " : "", tracepoints[i].user);
	}
	if (missing[0])
		add(c, "tracepoints", PREFLIGHT_FAIL, "missing under %s/events: %s — used by %s",
		    dir, missing, users);
	else
		add(c, "tracepoints", PREFLIGHT_OK, "sched and syscalls tracepoints present");
}

static void check_paranoid(struct ctx *c)
{
	char buf[32];
	long level;

	if (read_under(c, "/proc/sys/kernel/perf_event_paranoid", buf, sizeof(buf)) <= 0) {
		add(c, "perf_event_paranoid", PREFLIGHT_FAIL,
		    "no /proc/sys/kernel/perf_event_paranoid: the kernel has no perf events "
		    "(CONFIG_PERF_EVENTS), so no on-CPU profiling");
		return;
	}
	level = strtol(buf, NULL, 10);
	if (c->perfmon_caps || level <= 0)
		add(c, "perf_event_paranoid", PREFLIGHT_OK, "%ld%s", level,
		    c->perfmon_caps ? " (no limit with CAP_PERFMON)" : "");
	else
		add(c, "perf_event_paranoid", PREFLIGHT_FAIL,
		    "%ld: without CAP_PERFMON, per-CPU cpu-clock events need "
		    "kernel.perf_event_paranoid <= 0 — run the agent as root",
		    level);
}

static void check_lockdown(struct ctx *c)
{
	char buf[128];

	if (read_under(c, "/sys/kernel/security/lockdown", buf, sizeof(buf)) <= 0 ||
	    !strstr(buf, "[confidentiality]")) {
		add(c, "lockdown", PREFLIGHT_OK, "not in confidentiality mode");
		return;
	}
	add(c, "lockdown", PREFLIGHT_FAIL,
	    "kernel lockdown is 'confidentiality': BPF programs may not read memory, so no "
	    "stacks and no HTTP payloads — boot with lockdown=integrity (or none), e.g. "
	    "without Secure Boot's lockdown");
}

static void check_kallsyms(struct ctx *c)
{
	char buf[256];
	unsigned long long addr;

	if (read_under(c, "/proc/kallsyms", buf, sizeof(buf)) <= 0) {
		add(c, "kallsyms", PREFLIGHT_WARN,
		    "no readable /proc/kallsyms: kernel frames show as [unknown]");
		return;
	}
	addr = strtoull(buf, NULL, 16);
	if (addr == 0)
		add(c, "kallsyms", PREFLIGHT_WARN,
		    "/proc/kallsyms shows zero addresses (kernel.kptr_restrict, or not root): "
		    "kernel frames show as [unknown] — run the agent as root, or set "
		    "kernel.kptr_restrict=1");
	else
		add(c, "kallsyms", PREFLIGHT_OK, "kernel symbols readable");
}

static const char *errno_hint(int err)
{
	if (err == -EPERM || err == -EACCES)
		return " — run the agent as root";
	return "";
}

static void probe_memlock(struct ctx *c)
{
	struct rlimit rl;
	unsigned long long entries;
	int fd, err;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= PREFLIGHT_MEMLOCK_ENOUGH_BYTES) {
		add(c, "memlock", PREFLIGHT_OK, "RLIMIT_MEMLOCK %s",
		    rl.rlim_cur == RLIM_INFINITY ? "unlimited" : "large enough");
		return;
	}
	/* A map beyond the limit loads only when the kernel charges BPF memory to
	 * the memory cgroup instead (5.11 and later). */
	entries = rl.rlim_cur / 4096 + 256;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4096, (uint32_t)entries, NULL);
	err = fd < 0 ? -errno : 0;
	if (fd >= 0) {
		close(fd);
		add(c, "memlock", PREFLIGHT_OK,
		    "RLIMIT_MEMLOCK %llu KiB, not used: BPF memory is charged to the cgroup",
		    (unsigned long long)rl.rlim_cur / 1024);
	} else if (err == -EPERM && c->bpf_caps) {
		add(c, "memlock", PREFLIGHT_WARN,
		    "RLIMIT_MEMLOCK %llu KiB limits BPF maps on this kernel: the agent raises "
		    "it (root); if maps still fail, set LimitMEMLOCK=infinity in the unit or "
		    "ulimit -l unlimited",
		    (unsigned long long)rl.rlim_cur / 1024);
	} else {
		add(c, "memlock", c->bpf_caps ? PREFLIGHT_WARN : PREFLIGHT_FAIL,
		    "cannot create a BPF map: %s, so no BPF program can run%s", strerror(-err),
		    errno_hint(err));
	}
}

static void probe_cpu_clock(struct ctx *c)
{
	struct perf_event_attr attr = {
	    .type = PERF_TYPE_SOFTWARE,
	    .size = sizeof(attr),
	    .config = PERF_COUNT_SW_CPU_CLOCK,
	    .sample_freq = PREFLIGHT_PROBE_HZ,
	    .freq = 1,
	    .disabled = 1,
	};
	int cpu = sched_getcpu();
	long fd =
	    syscall(__NR_perf_event_open, &attr, -1, cpu < 0 ? 0 : cpu, -1, PERF_FLAG_FD_CLOEXEC);
	int err = fd < 0 ? -errno : 0;

	if (fd >= 0) {
		close((int)fd);
		add(c, "cpu-clock", PREFLIGHT_OK, "software cpu-clock perf event per CPU");
	} else if (err == -ENOENT || err == -ENODEV || err == -EOPNOTSUPP) {
		add(c, "cpu-clock", PREFLIGHT_FAIL,
		    "no software cpu-clock perf event (%s): no on-CPU profiling on this kernel",
		    strerror(-err));
	} else {
		add(c, "cpu-clock", PREFLIGHT_FAIL,
		    "perf_event_open(cpu-clock): %s, so no on-CPU profiling%s", strerror(-err),
		    errno_hint(err));
	}
}

static void probe_bpf(struct ctx *c)
{
	int prog = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_PERF_EVENT, NULL);
	int ring;

	if (prog == 1)
		add(c, "bpf", PREFLIGHT_OK, "BPF programs load");
	else
		/* libbpf says 0 for any refusal: without the capabilities it is ours. */
		add(c, "bpf", PREFLIGHT_FAIL, "cannot load a BPF program: %s%s",
		    prog < 0	   ? strerror(-prog)
		    : !c->bpf_caps ? "not permitted"
				   : "not supported by this kernel (CONFIG_BPF_SYSCALL)",
		    prog < 0	   ? errno_hint(prog)
		    : !c->bpf_caps ? errno_hint(-EPERM)
				   : "");
	if (prog != 1)
		return; /* the ring buffer probe would only repeat the reason */
	ring = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
	if (ring == 1)
		add(c, "ringbuf", PREFLIGHT_OK, "BPF ring buffers");
	else
		add(c, "ringbuf", PREFLIGHT_FAIL,
		    "no BPF ring buffer (%s): no HTTP monitor and no exec/exit events — they "
		    "need kernel 5.8 or later",
		    ring == 0 ? "not supported" : strerror(-ring));
}

int preflight_run(const char *root, int probe, struct preflight_report *ret)
{
	struct ctx c = {.r = ret};

	if (!ret)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (!root || !root[0])
		return -EINVAL;
	c.root = strcmp(root, "/") == 0 ? "" : root;
	check_privileges(&c);
	check_btf(&c);
	check_tracing(&c);
	check_paranoid(&c);
	check_lockdown(&c);
	check_kallsyms(&c);
	if (probe) {
		probe_memlock(&c);
		probe_cpu_clock(&c);
		probe_bpf(&c);
	}
	return 0;
}
