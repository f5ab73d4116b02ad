/* procstat: the readers of procstat.h — host facts (online CPUs, cgroup
 * mounts, load) and per-process readings and capacity. Parsing lives in
 * procstat_parse.c. */
#include "agent/procstat.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/readfile.h"

#define CGROUP_BUF_BYTES    (64 * 1024) /* /proc/PID/status and /proc/PID/cgroup */
#define SMALL_BUF_BYTES	    1024
#define MOUNTINFO_BUF_BYTES (256 * 1024)

/* A cgroup's quota, read at most once per PROCSTAT_CAPACITY_REFRESH_NS
 * however many watched processes share the cgroup. */
struct quota_entry {
	char cgroup[PROCSTAT_CGROUP_PATH_MAX];
	int v2;
	double cpus;
	uint64_t time_ns; /* 0: empty */
};

struct procstat {
	char root[PATH_MAX]; /* "" = this host */
	long ticks_per_s;
	uint64_t host_time_ns;
	int has_host;
	struct procstat_cpuset online;
	struct procstat_mounts mounts;
	struct quota_entry quotas[PROCSTAT_QUOTA_CACHE];
	size_t next_quota;
	int loadavg_fd; /* /proc/loadavg held open: read every second; -1 closed */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A missing /proc/PID file means the process is gone. */
static int gone_if_missing(ssize_t r)
{
	return (r == -ENOENT || r == -ESRCH) ? -ESRCH : (int)r;
}

static int refresh_host(struct procstat *ps)
{
	char *buf = malloc(MOUNTINFO_BUF_BYTES);
	struct procstat_cpuset online;
	struct procstat_mounts mounts;
	ssize_t n;
	int r;

	if (!buf)
		return -ENOMEM;
	n = readfile_fmt(buf, SMALL_BUF_BYTES, "%s/sys/devices/system/cpu/online", ps->root);
	r = n < 0 ? (int)n : procstat_parse_cpulist(buf, &online);
	if (r == 0 && procstat_cpuset_count(&online) == 0)
		r = -EINVAL;
	if (r == 0) {
		n = readfile_fmt(buf, MOUNTINFO_BUF_BYTES, "%s/proc/self/mountinfo", ps->root);
		r = n < 0 ? (int)n : procstat_parse_mountinfo(buf, &mounts);
	}
	free(buf);
	if (r < 0)
		return r;
	ps->online = online;
	ps->mounts = mounts;
	ps->has_host = 1;
	ps->host_time_ns = now_ns();
	return 0;
}

static int host_current(struct procstat *ps)
{
	if (ps->has_host && now_ns() - ps->host_time_ns < PROCSTAT_HOST_REFRESH_NS)
		return 0;
	return refresh_host(ps);
}

int procstat_open(const char *root, struct procstat **ret)
{
	struct procstat *ps = calloc(1, sizeof(*ps));
	int r;

	if (!ps)
		return -ENOMEM;
	if (root && strcmp(root, "/") != 0) {
		size_t n = strlen(root);

		if (n >= sizeof(ps->root)) {
			free(ps);
			return -ENAMETOOLONG;
		}
		memcpy(ps->root, root, n + 1);
		while (n > 0 && ps->root[n - 1] == '/')
			ps->root[--n] = '\0';
	}
	ps->loadavg_fd = -1;
	ps->ticks_per_s = sysconf(_SC_CLK_TCK);
	if (ps->ticks_per_s <= 0)
		ps->ticks_per_s = 100;
	r = refresh_host(ps);
	if (r < 0) {
		free(ps);
		return r;
	}
	*ret = ps;
	return 0;
}

struct procstat *procstat_close(struct procstat *ps)
{
	if (ps && ps->loadavg_fd >= 0)
		close(ps->loadavg_fd);
	free(ps);
	return NULL;
}

long procstat_ticks_per_s(const struct procstat *ps)
{
	return ps->ticks_per_s;
}

int procstat_system_load(struct procstat *ps, double *ret_load1)
{
	char buf[SMALL_BUF_BYTES], path[PATH_MAX];
	ssize_t n;

	if (ps->loadavg_fd < 0) {
		if ((size_t)snprintf(path, sizeof(path), "%s/proc/loadavg", ps->root) >=
		    sizeof(path))
			return -ENAMETOOLONG;
		ps->loadavg_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (ps->loadavg_fd < 0)
			return -errno;
	}
	do
		n = pread(ps->loadavg_fd, buf, sizeof(buf) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		n = -errno;
		close(ps->loadavg_fd);
		ps->loadavg_fd = -1;
		return (int)n;
	}
	buf[n] = '\0';
	return procstat_parse_loadavg(buf, ret_load1);
}

/* Reads a /proc file through a held fd, opening it on first use. */
static ssize_t pread_held(const struct procstat *ps, int *fd, uint32_t pid, const char *name,
			  char *buf, size_t size)
{
	ssize_t n;

	if (*fd < 0) {
		char path[PATH_MAX];
		int len = snprintf(path, sizeof(path), "%s/proc/%u/%s", ps->root, pid, name);

		if (len < 0 || (size_t)len >= sizeof(path))
			return -ENAMETOOLONG;
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*fd < 0)
			return -errno;
	}
	do
		n = pread(*fd, buf, size - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

/* The leader's run time from its held schedstat; 0 or -errno. */
static int read_leader_run(const struct procstat *ps, struct procstat_proc *proc, uint64_t *ret_ns)
{
	char buf[SMALL_BUF_BYTES];
	ssize_t n = pread_held(ps, &proc->schedstat_fd, proc->pid, "schedstat", buf, sizeof(buf));

	if (n < 0)
		return gone_if_missing(n);
	return procstat_parse_schedstat(buf, ret_ns);
}

/* Reads proc now. A process that had one thread at its last reading and
 * whose thread has not run since (same schedstat run time) cannot have
 * changed: only a running thread spends CPU, creates threads or exits (a
 * killed process runs its own exit). Then its stat — the costly file, the
 * kernel sums every thread and formats 52 fields — is not read again. */
static int read_proc(struct procstat *ps, struct procstat_proc *proc, struct procstat_reading *ret)
{
	char buf[SMALL_BUF_BYTES];
	struct procstat_reading rd = {0};
	struct procstat_stat st;
	uint64_t run_ns = 0;
	int has_run = 0;
	ssize_t n;
	int r;

	if (proc->has_reading && proc->last.threads == 1 && proc->last.has_leader_run) {
		r = read_leader_run(ps, proc, &run_ns);
		if (r == -ESRCH)
			return r;
		has_run = r == 0;
		if (has_run && run_ns == proc->last.leader_run_ns) {
			rd = proc->last;
			rd.time_ns = now_ns();
			*ret = rd;
			return 0;
		}
	}
	n = pread_held(ps, &proc->stat_fd, proc->pid, "stat", buf, sizeof(buf));
	if (n < 0)
		return gone_if_missing(n);
	rd.time_ns = now_ns();
	r = procstat_parse_stat(buf, &st);
	if (r < 0)
		return r;
	if (procstat_stat_is_dead(&st))
		return -ESRCH;
	rd.cpu_ticks = st.utime_ticks + st.stime_ticks;
	rd.threads = st.num_threads;
	rd.start_time_ticks = st.start_time_ticks;
	/* The exact source is worth a read only when it covers the whole
	 * process; read after stat when not read above, so it is no older. */
	if (st.num_threads == 1) {
		if (!has_run)
			has_run = read_leader_run(ps, proc, &run_ns) == 0;
		rd.leader_run_ns = run_ns;
		rd.has_leader_run = has_run;
	}
	*ret = rd;
	return 0;
}

int procstat_read(struct procstat *ps, uint32_t pid, struct procstat_reading *ret)
{
	struct procstat_proc proc;
	int r;

	procstat_proc_init(&proc, pid);
	r = read_proc(ps, &proc, ret);
	procstat_proc_release(&proc);
	return r;
}

/* The tightest quota on the path from the cgroup directory up to the mount
 * point of its hierarchy. v1 reads cfs_quota_us/cfs_period_us, v2 cpu.max.
 * Returns CPUs, 0 for none. */
static double hierarchy_quota(const struct procstat *ps, const char *mount, const char *mount_root,
			      const char *cgroup, int v2)
{
	char dir[PATH_MAX], quota[SMALL_BUF_BYTES], period[SMALL_BUF_BYTES];
	size_t root_len = strlen(mount_root), base_len;
	const char *rel;
	double best = 0, cpus;
	int n;

	if (!mount[0] || !cgroup[0] || strstr(cgroup, "/.."))
		return 0; /* not mounted, or outside our cgroup namespace's view */
	/* The process's path is seen from the hierarchy root; the mount shows
	 * the subtree at mount_root. */
	if (strcmp(mount_root, "/") == 0)
		rel = cgroup;
	else if (strncmp(cgroup, mount_root, root_len) == 0 &&
		 (cgroup[root_len] == '/' || cgroup[root_len] == '\0'))
		rel = cgroup + root_len;
	else
		return 0;
	n = snprintf(dir, sizeof(dir), "%s%s", ps->root, mount);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return 0;
	base_len = (size_t)n;
	n = snprintf(dir + base_len, sizeof(dir) - base_len, "%s", strcmp(rel, "/") ? rel : "");
	if (n < 0 || (size_t)n >= sizeof(dir) - base_len)
		return 0;
	for (int depth = 0; depth < PROCSTAT_CGROUP_MAX_DEPTH; depth++) {
		char *slash;
		int ok;

		if (v2) {
			ok = readfile_fmt(quota, sizeof(quota), "%s/cpu.max", dir) >= 0 &&
			     procstat_parse_cpu_max(quota, &cpus) == 0;
		} else {
			ok = readfile_fmt(quota, sizeof(quota), "%s/cpu.cfs_quota_us", dir) >= 0 &&
			     readfile_fmt(period, sizeof(period), "%s/cpu.cfs_period_us", dir) >=
				 0 &&
			     procstat_parse_cfs(quota, period, &cpus) == 0;
		}
		if (ok && cpus > 0 && (best == 0 || cpus < best))
			best = cpus;
		if (strlen(dir) <= base_len)
			break;
		slash = strrchr(dir + base_len, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	return best;
}

/* hierarchy_quota(), or its value read for the same cgroup less than
 * PROCSTAT_CAPACITY_REFRESH_NS ago when `use_cache`. */
static double cached_quota(struct procstat *ps, const char *mount, const char *mount_root,
			   const char *cgroup, int v2, bool use_cache)
{
	uint64_t now = now_ns();
	struct quota_entry *e;

	for (size_t i = 0; use_cache && i < PROCSTAT_QUOTA_CACHE; i++) {
		e = &ps->quotas[i];
		if (e->time_ns && e->v2 == v2 && now - e->time_ns < PROCSTAT_CAPACITY_REFRESH_NS &&
		    strcmp(e->cgroup, cgroup) == 0)
			return e->cpus;
	}
	e = &ps->quotas[ps->next_quota++ % PROCSTAT_QUOTA_CACHE];
	snprintf(e->cgroup, sizeof(e->cgroup), "%s", cgroup);
	e->v2 = v2;
	e->cpus = hierarchy_quota(ps, mount, mount_root, cgroup, v2);
	e->time_ns = now;
	return e->cpus;
}

/* The affinity of `pid`: one syscall on this host; Cpus_allowed_list of
 * /proc/PID/status (the same set) under a fixture root. */
static int read_affinity(struct procstat *ps, uint32_t pid, struct procstat_cpuset *ret)
{
	char *buf;
	ssize_t n;
	int r;

	if (!ps->root[0]) {
		cpu_set_t *set = CPU_ALLOC(PROCSTAT_MAX_CPUS);
		size_t size = CPU_ALLOC_SIZE(PROCSTAT_MAX_CPUS);

		if (!set)
			return -ENOMEM;
		CPU_ZERO_S(size, set);
		r = sched_getaffinity((pid_t)pid, size, set) < 0 ? -errno : 0;
		if (r == 0) {
			memset(ret, 0, sizeof(*ret));
			/* cpu_set_t is an array of longs, CPU n at bit n: the
			 * layout of procstat_cpuset on 64-bit Linux. */
			memcpy(ret->bits, set, size < sizeof(ret->bits) ? size : sizeof(ret->bits));
		}
		CPU_FREE(set);
		return r == -ESRCH ? -ESRCH : r;
	}
	buf = malloc(CGROUP_BUF_BYTES);
	if (!buf)
		return -ENOMEM;
	n = readfile_fmt(buf, CGROUP_BUF_BYTES, "%s/proc/%u/status", ps->root, pid);
	r = n < 0 ? gone_if_missing(n) : procstat_parse_status_cpus(buf, ret);
	free(buf);
	return r;
}

/* The cgroups of pid into *ret: proc's copy when younger than
 * PROCSTAT_CGROUP_REFRESH_NS, else /proc/PID/cgroup (kept in proc). */
static int read_cgroups(struct procstat *ps, uint32_t pid, struct procstat_proc *proc,
			struct procstat_cgroups *ret)
{
	uint64_t now = now_ns();
	char *buf;
	ssize_t n;
	int r;

	if (proc && proc->has_cgroups && now - proc->cgroups_time_ns < PROCSTAT_CGROUP_REFRESH_NS) {
		*ret = proc->cgroups;
		return 0;
	}
	buf = malloc(CGROUP_BUF_BYTES);
	if (!buf)
		return -ENOMEM;
	n = readfile_fmt(buf, CGROUP_BUF_BYTES, "%s/proc/%u/cgroup", ps->root, pid);
	r = n < 0 ? gone_if_missing(n) : procstat_parse_cgroup(buf, ret);
	free(buf);
	if (r == 0 && proc) {
		proc->cgroups = *ret;
		proc->cgroups_time_ns = now;
		proc->has_cgroups = 1;
	}
	return r;
}

/* proc: the watched process (its cgroups are kept), NULL for a one-off. */
static int read_capacity(struct procstat *ps, uint32_t pid, struct procstat_proc *proc,
			 struct procstat_capacity *ret)
{
	struct procstat_capacity cap = {0};
	struct procstat_cpuset allowed;
	struct procstat_cgroups cgroups;
	bool use_cache = proc != NULL;
	double q1, q2;
	int r;

	r = host_current(ps);
	if (r < 0)
		return r;
	r = read_affinity(ps, pid, &allowed);
	if (r == 0)
		r = read_cgroups(ps, pid, proc, &cgroups);
	if (r < 0)
		return r;
	cap.online = procstat_cpuset_count(&ps->online);
	procstat_cpuset_and(&allowed, &ps->online, &allowed);
	cap.affinity = procstat_cpuset_count(&allowed);
	if (cap.affinity == 0) /* racing a hotplug: fall back to the host */
		cap.affinity = cap.online;
	q1 = cached_quota(ps, ps->mounts.unified_mount, ps->mounts.unified_root, cgroups.unified, 1,
			  use_cache);
	q2 = cached_quota(ps, ps->mounts.cpu_v1_mount, ps->mounts.cpu_v1_root, cgroups.cpu_v1, 0,
			  use_cache);
	cap.quota_cpus = (q1 > 0 && (q2 == 0 || q1 < q2)) ? q1 : q2;
	cap.cpus = cap.affinity;
	if (cap.quota_cpus > 0 && cap.quota_cpus < cap.cpus)
		cap.cpus = cap.quota_cpus;
	*ret = cap;
	return 0;
}

int procstat_capacity(struct procstat *ps, uint32_t pid, struct procstat_capacity *ret)
{
	return read_capacity(ps, pid, NULL, ret);
}

void procstat_proc_init(struct procstat_proc *proc, uint32_t pid)
{
	memset(proc, 0, sizeof(*proc));
	proc->pid = pid;
	proc->stat_fd = -1;
	proc->schedstat_fd = -1;
}

void procstat_proc_release(struct procstat_proc *proc)
{
	if (proc->stat_fd >= 0)
		close(proc->stat_fd);
	if (proc->schedstat_fd >= 0)
		close(proc->schedstat_fd);
	procstat_proc_init(proc, proc->pid);
}

int procstat_sample(struct procstat *ps, struct procstat_proc *proc, struct procstat_sample *ret)
{
	struct procstat_sample s = {0};
	struct procstat_reading rd;
	uint64_t cpu_ns = 0;
	int r = read_proc(ps, proc, &rd);

	if (r == 0 && proc->has_reading && rd.start_time_ticks != proc->last.start_time_ticks)
		r = -ESRCH; /* the pid belongs to another process now */
	if (r < 0) {
		if (r == -ESRCH)
			procstat_proc_release(proc);
		return r;
	}
	if (proc->has_reading && rd.time_ns > proc->last.time_ns)
		cpu_ns = procstat_cpu_ns(&proc->last, &rd, ps->ticks_per_s);
	/* The capacity only scales CPU used: a process that used none reads
	 * 0 % whatever its capacity, so its refresh waits until it runs (a
	 * process re-pinned or moved while idle is seen before its CPU). */
	if (!proc->has_capacity ||
	    (cpu_ns > 0 && rd.time_ns - proc->capacity_time_ns >= PROCSTAT_CAPACITY_REFRESH_NS)) {
		r = read_capacity(ps, proc->pid, proc, &proc->capacity);
		if (r < 0) {
			if (r == -ESRCH)
				procstat_proc_release(proc);
			return r;
		}
		proc->has_capacity = 1;
		proc->capacity_time_ns = rd.time_ns;
	}
	s.threads = rd.threads;
	s.capacity = proc->capacity;
	if (proc->has_reading && rd.time_ns > proc->last.time_ns) {
		s.has_cpu = 1;
		s.elapsed_ns = rd.time_ns - proc->last.time_ns;
		s.cpu_ns = cpu_ns;
		s.cpu_percent = procstat_cpu_percent(s.cpu_ns, s.elapsed_ns, proc->capacity.cpus);
	}
	proc->last = rd;
	proc->has_reading = 1;
	*ret = s;
	return 0;
}
