/* procstat: per-process, per-second statistics of DESIGN.md section 2 —
 * PROCESS_CPU, PROCESS_THREAD_COUNT — and the host's SYSTEM_LOAD, read from
 * procfs, sysfs and cgroupfs.
 *
 * PROCESS_CPU for second T is the CPU time the process used between the
 * previous reading and this one, divided by the elapsed CLOCK_MONOTONIC time
 * and by the process's capacity, as a percentage clamped to [0, 100]. The
 * capacity (in CPUs) is min(|online CPUs ∩ affinity|, cgroup CPU quota), the
 * quota being the tightest of the process's cgroup and its ancestors (v2
 * cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us; both on hybrid hosts). It
 * is recomputed every PROCSTAT_CAPACITY_REFRESH_NS, as affinity and quota can
 * change, but only for a sample in which the process used CPU: the capacity
 * only scales CPU used (an idle process reads 0 % whatever it is), so an idle
 * process costs no capacity reads and one re-pinned or moved while idle has
 * its capacity read again before its next CPU is scaled by it. Within that
 * period processes of one cgroup share one reading of its
 * quotas (procstat_capacity() itself always reads afresh). Which cgroup a
 * watched process is in (/proc/PID/cgroup: moves are rare, the read is not
 * cheap) is read again every PROCSTAT_CGROUP_REFRESH_NS. On this host the
 * affinity is sched_getaffinity(), one syscall.
 *
 * CPU time source: /proc/PID/stat utime + stime covers every thread (dead ones
 * included) but in clock ticks (10 ms); /proc/PID/schedstat is exact (ns) but
 * covers the main thread only. A single-threaded process (at both readings)
 * uses the schedstat delta unless it disagrees with the tick delta by more
 * than two ticks (a short-lived thread ran); everything else uses ticks.
 * The thread count is /proc/PID/stat's num_threads (the same counter as
 * status's Threads, without a second file read). A process that had one
 * thread and whose thread has not run since (schedstat's run time unchanged)
 * keeps its last reading without a read of stat, the costly file: only a
 * running thread spends CPU, makes threads or exits. The affinity is status's
 * Cpus_allowed_list (what sched_getaffinity returns, readable under a fixture
 * root).
 *
 * The pure parsers (procstat_parse_*) take text and do no I/O; the readers
 * take every path under a root prefix ("" or "/" = this host) so tests point
 * them at a fixture tree. Not thread-safe: one owner (the agent loop). */
#ifndef CONTPROF_AGENT_PROCSTAT_H
#define CONTPROF_AGENT_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

#define PROCSTAT_MAX_CPUS	       4096
#define PROCSTAT_CAPACITY_REFRESH_NS   (5ULL * 1000000000ULL)  /* per process */
#define PROCSTAT_CGROUP_REFRESH_NS     (30ULL * 1000000000ULL) /* its cgroup paths */
#define PROCSTAT_HOST_REFRESH_NS       (5ULL * 1000000000ULL)  /* online CPUs, cgroup mounts */
#define PROCSTAT_SCHEDSTAT_SLACK_TICKS 2
#define PROCSTAT_COMM_MAX	       16 /* TASK_COMM_LEN, NUL included */
#define PROCSTAT_CGROUP_PATH_MAX       1024
#define PROCSTAT_CGROUP_MAX_DEPTH      64	   /* ancestors read for a quota */
#define PROCSTAT_QUOTA_CACHE	       64	   /* cgroups whose quota is kept */
#define PROCSTAT_PF_KTHREAD	       0x00200000U /* task flags: kernel thread */

/* ---- pure parsers ---- */

/* The fields of /proc/PID/stat we use. */
struct procstat_stat {
	char comm[PROCSTAT_COMM_MAX];
	char state;
	uint32_t ppid;
	uint32_t flags;
	uint64_t utime_ticks;
	uint64_t stime_ticks;
	uint32_t num_threads;
	uint64_t start_time_ticks; /* since boot; with the pid, a process identity */
};

struct procstat_cpuset {
	uint64_t bits[PROCSTAT_MAX_CPUS / 64];
};

/* True when a stat says the process has ended: 'X', or 'Z' with no thread
 * left (a leader that called pthread_exit shows 'Z' while its threads run). */
int procstat_stat_is_dead(const struct procstat_stat *st);
/* Parses one /proc/PID/stat line (comm may hold spaces and parentheses).
 * 0 or -EINVAL. */
int procstat_parse_stat(const char *text, struct procstat_stat *ret);
/* Parses /proc/PID/schedstat: the first field, ns on the CPU. 0 or -EINVAL. */
int procstat_parse_schedstat(const char *text, uint64_t *ret_run_ns);
/* Parses a CPU list "0-3,5\n" (sysfs online, cpuset, Cpus_allowed_list).
 * "" is the empty set. 0 or -EINVAL (also for a CPU >= PROCSTAT_MAX_CPUS). */
int procstat_parse_cpulist(const char *text, struct procstat_cpuset *ret);
/* Finds "Cpus_allowed_list:" in /proc/PID/status text. 0, -ENOENT, -EINVAL. */
int procstat_parse_status_cpus(const char *status_text, struct procstat_cpuset *ret);
uint32_t procstat_cpuset_count(const struct procstat_cpuset *set);
/* a ∩ b into ret (may alias either). */
void procstat_cpuset_and(const struct procstat_cpuset *a, const struct procstat_cpuset *b,
			 struct procstat_cpuset *ret);
/* Parses cgroup v2 cpu.max "QUOTA PERIOD" or "max PERIOD" into CPUs; 0 means
 * no limit. 0 or -EINVAL. */
int procstat_parse_cpu_max(const char *text, double *ret_cpus);
/* Parses cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us texts ("-1" = no
 * limit) into CPUs, 0 meaning no limit. 0 or -EINVAL. */
int procstat_parse_cfs(const char *quota_text, const char *period_text, double *ret_cpus);
/* Parses /proc/loadavg: the 1-minute load. 0 or -EINVAL. */
int procstat_parse_loadavg(const char *text, double *ret_load1);

/* A process's cgroups from /proc/PID/cgroup: the v2 path ("0::" line) and the
 * v1 path of the hierarchy holding the cpu controller; "" when absent. */
struct procstat_cgroups {
	char unified[PROCSTAT_CGROUP_PATH_MAX];
	char cpu_v1[PROCSTAT_CGROUP_PATH_MAX];
	char systemd_v1[PROCSTAT_CGROUP_PATH_MAX]; /* name=systemd, for naming */
};
int procstat_parse_cgroup(const char *text, struct procstat_cgroups *ret);

/* Where cgroup hierarchies are mounted, from /proc/self/mountinfo: the mount
 * point and the hierarchy path its root shows ("" mount = not mounted). */
struct procstat_mounts {
	char unified_mount[PROCSTAT_CGROUP_PATH_MAX];
	char unified_root[PROCSTAT_CGROUP_PATH_MAX];
	char cpu_v1_mount[PROCSTAT_CGROUP_PATH_MAX];
	char cpu_v1_root[PROCSTAT_CGROUP_PATH_MAX];
};
int procstat_parse_mountinfo(const char *text, struct procstat_mounts *ret);

/* One reading of a process. */
struct procstat_reading {
	uint64_t time_ns;	/* CLOCK_MONOTONIC right after the read */
	uint64_t cpu_ticks;	/* utime + stime, every thread */
	uint64_t leader_run_ns; /* schedstat of the main thread */
	int has_leader_run;
	uint32_t threads;
	uint64_t start_time_ticks;
};

/* CPU time between two readings of one process, in ns (see the header
 * comment for the source chosen). ticks_per_s is sysconf(_SC_CLK_TCK). */
uint64_t procstat_cpu_ns(const struct procstat_reading *prev, const struct procstat_reading *cur,
			 long ticks_per_s);
/* cpu_ns over elapsed_ns at capacity_cpus, in percent clamped to [0, 100];
 * 0 when elapsed or capacity is 0. */
double procstat_cpu_percent(uint64_t cpu_ns, uint64_t elapsed_ns, double capacity_cpus);

/* ---- readers ---- */

struct procstat;

/* What a process may use, in CPUs, and where the figure came from. */
struct procstat_capacity {
	double cpus;	   /* min(affinity_cpus, quota_cpus when set) */
	uint32_t online;   /* online CPUs on the host */
	uint32_t affinity; /* online CPUs the process may run on */
	double quota_cpus; /* tightest cgroup quota, 0 = none */
};

/* One watched process: keep it per pid and pass it to every sample. It holds
 * /proc/PID/stat and schedstat open between samples (a pread per second
 * instead of open+read+close; a held fd never reads a later process that
 * reuses the pid), so release it with procstat_proc_release(). */
struct procstat_proc {
	uint32_t pid;
	int stat_fd;	  /* -1 when closed */
	int schedstat_fd; /* -1 when closed */
	int has_reading;
	struct procstat_reading last;
	int has_capacity;
	uint64_t capacity_time_ns;
	struct procstat_capacity capacity;
	int has_cgroups; /* the paths of /proc/PID/cgroup, read at cgroups_time_ns */
	uint64_t cgroups_time_ns;
	struct procstat_cgroups cgroups;
};

/* One second of a process. */
struct procstat_sample {
	int has_cpu; /* false on the first reading */
	double cpu_percent;
	uint64_t cpu_ns;     /* CPU used in the interval */
	uint64_t elapsed_ns; /* length of the interval */
	uint32_t threads;
	struct procstat_capacity capacity; /* as last read: see the header comment */
};

/* root: prefix for /proc and /sys ("" or NULL = this host). Reads the online
 * CPUs and cgroup mounts. Returns 0 and *ret, or -errno. */
int procstat_open(const char *root, struct procstat **ret);
/* Accepts NULL; returns NULL. */
struct procstat *procstat_close(struct procstat *ps);
long procstat_ticks_per_s(const struct procstat *ps);

/* The host's 1-minute load average (/proc/loadavg, held open between
 * calls). 0 or -errno. */
int procstat_system_load(struct procstat *ps, double *ret_load1);
/* Reads one process now (one-off: opens and closes its files). -ESRCH when
 * it is gone. */
int procstat_read(struct procstat *ps, uint32_t pid, struct procstat_reading *ret);
/* Computes the capacity of pid now. 0 or -errno (-ESRCH when gone). */
int procstat_capacity(struct procstat *ps, uint32_t pid, struct procstat_capacity *ret);

void procstat_proc_init(struct procstat_proc *proc, uint32_t pid);
/* Closes proc's fds and forgets its readings; init again to reuse it. */
void procstat_proc_release(struct procstat_proc *proc);
/* Takes this second's reading of proc and fills *ret. Returns 0, or -ESRCH
 * when the process is gone or its pid now belongs to another process (proc
 * is then released and starts afresh on the next call), or another -errno. */
int procstat_sample(struct procstat *ps, struct procstat_proc *proc, struct procstat_sample *ret);

#endif
