/* Unit tests for procstat: every parser on fixture text, the CPU arithmetic,
 * and the readers against a fixture /proc + /sys + cgroupfs tree. */
#include <errno.h>
#include <stdio.h>

#include "agent/procstat.h"
#include "fixture.h"
#include "harness.h"

/* A /proc/PID/stat line: pid 42, comm, state, ppid 1, flags, utime, stime,
 * threads, starttime. */
static void stat_line(char *buf, size_t size, const char *comm, char state, unsigned flags,
		      unsigned long long utime, unsigned long long stime, unsigned threads,
		      unsigned long long start)
{
	snprintf(buf, size,
		 "42 (%s) %c 1 42 42 0 -1 %u 100 0 0 0 %llu %llu 0 0 20 0 %u 0 %llu 10000000 "
		 "200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
		 comm, state, flags, utime, stime, threads, start);
}

TEST(parse_stat_fields)
{
	struct procstat_stat st;
	char line[512];

	stat_line(line, sizeof(line), "nginx", 'S', 4194560, 1234, 567, 9, 8888);
	CHECK_INT_EQ(procstat_parse_stat(line, &st), 0);
	CHECK_STR_EQ(st.comm, "nginx");
	CHECK_INT_EQ(st.state, 'S');
	CHECK_INT_EQ(st.ppid, 1);
	CHECK_INT_EQ(st.flags, 4194560);
	CHECK_INT_EQ(st.utime_ticks, 1234);
	CHECK_INT_EQ(st.stime_ticks, 567);
	CHECK_INT_EQ(st.num_threads, 9);
	CHECK_INT_EQ(st.start_time_ticks, 8888);
	CHECK(!(st.flags & PROCSTAT_PF_KTHREAD));
}

TEST(parse_stat_comm_with_spaces_and_parens)
{
	struct procstat_stat st;
	char line[512];

	stat_line(line, sizeof(line), "a) (b c", 'R', PROCSTAT_PF_KTHREAD, 1, 2, 1, 3);
	CHECK_INT_EQ(procstat_parse_stat(line, &st), 0);
	CHECK_STR_EQ(st.comm, "a) (b c");
	CHECK_INT_EQ(st.state, 'R');
	CHECK_INT_EQ(st.start_time_ticks, 3);
	CHECK(st.flags & PROCSTAT_PF_KTHREAD);
}

TEST(parse_stat_refuses_malformed)
{
	struct procstat_stat st = {.ppid = 77};

	CHECK_INT_EQ(procstat_parse_stat("", &st), -EINVAL);
	CHECK_INT_EQ(procstat_parse_stat("42 nginx S 1", &st), -EINVAL);
	CHECK_INT_EQ(procstat_parse_stat("42 (nginx) S 1 42 42 0 -1 0 100", &st), -EINVAL);
	CHECK_INT_EQ(procstat_parse_stat("42 (x) S 1 42 42 0 -1 0 1 0 0 0 x 2 0 0 20 0 1 0 5", &st),
		     -EINVAL);
	CHECK_INT_EQ(
	    procstat_parse_stat("42 (x) SS 1 42 42 0 -1 0 1 0 0 0 1 2 0 0 20 0 1 0 5", &st),
	    -EINVAL);
	CHECK_INT_EQ(st.ppid, 77); /* untouched on failure */
}

TEST(stat_dead_or_alive)
{
	struct procstat_stat st = {.state = 'Z', .num_threads = 1};

	CHECK(procstat_stat_is_dead(&st));
	st.num_threads = 3; /* the leader exited, its threads run on */
	CHECK(!procstat_stat_is_dead(&st));
	st.state = 'X';
	CHECK(procstat_stat_is_dead(&st));
	st.state = 'S';
	CHECK(!procstat_stat_is_dead(&st));
}

TEST(parse_schedstat_and_loadavg)
{
	uint64_t ns = 0;
	double load = 0;

	CHECK_INT_EQ(procstat_parse_schedstat("123456789 5000 17\n", &ns), 0);
	CHECK_INT_EQ(ns, 123456789);
	CHECK_INT_EQ(procstat_parse_schedstat("", &ns), -EINVAL);
	CHECK_INT_EQ(procstat_parse_schedstat("-1 0 0", &ns), -EINVAL);
	CHECK_INT_EQ(procstat_parse_loadavg("1.52 0.58 0.59 1/345 12345\n", &load), 0);
	CHECK_DBL_EQ(load, 1.52);
	CHECK_INT_EQ(procstat_parse_loadavg("x 1 2", &load), -EINVAL);
	CHECK_INT_EQ(procstat_parse_loadavg("", &load), -EINVAL);
}

TEST(parse_cpulist)
{
	struct procstat_cpuset a, b, both;

	CHECK_INT_EQ(procstat_parse_cpulist("0-3,5\n", &a), 0);
	CHECK_INT_EQ(procstat_cpuset_count(&a), 5);
	CHECK_INT_EQ(procstat_parse_cpulist("3-5,64,4095", &b), 0);
	CHECK_INT_EQ(procstat_cpuset_count(&b), 5);
	procstat_cpuset_and(&a, &b, &both);
	CHECK_INT_EQ(procstat_cpuset_count(&both), 2); /* 3 and 5 */
	CHECK_INT_EQ(procstat_parse_cpulist("\n", &a), 0);
	CHECK_INT_EQ(procstat_cpuset_count(&a), 0);
	CHECK_INT_EQ(procstat_parse_cpulist("0", &a), 0);
	CHECK_INT_EQ(procstat_cpuset_count(&a), 1);
	CHECK_INT_EQ(procstat_parse_cpulist("7-3", &a), -EINVAL);
	CHECK_INT_EQ(procstat_parse_cpulist("a", &a), -EINVAL);
	CHECK_INT_EQ(procstat_parse_cpulist("1,,2", &a), -EINVAL);
	CHECK_INT_EQ(procstat_parse_cpulist("1-", &a), -EINVAL);
	CHECK_INT_EQ(procstat_parse_cpulist("4096", &a), -EINVAL);
	CHECK_INT_EQ(procstat_parse_cpulist("0 1", &a), -EINVAL);
}

TEST(parse_status_cpus_allowed_list)
{
	const char *status = "Name:\tbusy\nThreads:\t3\nCpus_allowed:\t3\n"
			     "Cpus_allowed_list:\t0-1\nMems_allowed_list:\t0\n";
	struct procstat_cpuset set;

	CHECK_INT_EQ(procstat_parse_status_cpus(status, &set), 0);
	CHECK_INT_EQ(procstat_cpuset_count(&set), 2);
	CHECK_INT_EQ(procstat_parse_status_cpus("Name:\tx\n", &set), -ENOENT);
	CHECK_INT_EQ(procstat_parse_status_cpus("Cpus_allowed_list:\tz\n", &set), -EINVAL);
}

TEST(parse_cgroup_quotas)
{
	double cpus = -1;

	CHECK_INT_EQ(procstat_parse_cpu_max("max 100000\n", &cpus), 0);
	CHECK_DBL_EQ(cpus, 0);
	CHECK_INT_EQ(procstat_parse_cpu_max("20000 100000\n", &cpus), 0);
	CHECK_DBL_EQ(cpus, 0.2);
	CHECK_INT_EQ(procstat_parse_cpu_max("150000 100000", &cpus), 0);
	CHECK_DBL_EQ(cpus, 1.5);
	CHECK_INT_EQ(procstat_parse_cpu_max("max", &cpus), 0);
	CHECK_DBL_EQ(cpus, 0);
	CHECK_INT_EQ(procstat_parse_cpu_max("0 100000", &cpus), -EINVAL);
	CHECK_INT_EQ(procstat_parse_cpu_max("20000 0", &cpus), -EINVAL);
	CHECK_INT_EQ(procstat_parse_cpu_max("lots 100000", &cpus), -EINVAL);
	CHECK_INT_EQ(procstat_parse_cpu_max("", &cpus), -EINVAL);

	CHECK_INT_EQ(procstat_parse_cfs("-1\n", "100000\n", &cpus), 0);
	CHECK_DBL_EQ(cpus, 0);
	CHECK_INT_EQ(procstat_parse_cfs("20000\n", "100000\n", &cpus), 0);
	CHECK_DBL_EQ(cpus, 0.2);
	CHECK_INT_EQ(procstat_parse_cfs("50000", "25000", &cpus), 0);
	CHECK_DBL_EQ(cpus, 2.0);
	CHECK_INT_EQ(procstat_parse_cfs("20000", "0", &cpus), -EINVAL);
	CHECK_INT_EQ(procstat_parse_cfs("x", "100000", &cpus), -EINVAL);
	CHECK_INT_EQ(procstat_parse_cfs("0", "100000", &cpus), -EINVAL);
}

TEST(parse_proc_cgroup)
{
	struct procstat_cgroups cg;

	CHECK_INT_EQ(procstat_parse_cgroup("12:pids:/\n4:cpu,cpuacct:/docker/abc\n"
					   "1:name=systemd:/system.slice/x.service\n0::/\n",
					   &cg),
		     0);
	CHECK_STR_EQ(cg.unified, "/");
	CHECK_STR_EQ(cg.cpu_v1, "/docker/abc");
	CHECK_STR_EQ(cg.systemd_v1, "/system.slice/x.service");
	CHECK_INT_EQ(procstat_parse_cgroup("0::/user.slice/a:b.scope\n", &cg), 0);
	CHECK_STR_EQ(cg.unified, "/user.slice/a:b.scope");
	CHECK_STR_EQ(cg.cpu_v1, "");
	/* "cpuset" is not "cpu". */
	CHECK_INT_EQ(procstat_parse_cgroup("3:cpuset:/x\n1:cpu:/y\n", &cg), 0);
	CHECK_STR_EQ(cg.cpu_v1, "/y");
	CHECK_STR_EQ(cg.unified, "");
	CHECK_INT_EQ(procstat_parse_cgroup("garbage\n", &cg), -EINVAL);
	CHECK_INT_EQ(procstat_parse_cgroup("", &cg), 0);
}

TEST(parse_mountinfo_cgroup_mounts)
{
	const char *text =
	    "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
	    "30 25 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
	    "31 30 0:27 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw\n"
	    "35 30 0:31 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
	    "36 30 0:32 /kube/pod\\0401 /sys/fs/cgroup/cpu\\054cpuacct rw shared:15 - cgroup "
	    "cgroup rw,cpu,cpuacct\n"
	    "40 30 0:32 / /mnt/again rw - cgroup cgroup rw,cpu,cpuacct\n";
	struct procstat_mounts m;

	CHECK_INT_EQ(procstat_parse_mountinfo(text, &m), 0);
	CHECK_STR_EQ(m.unified_mount, "/sys/fs/cgroup/unified");
	CHECK_STR_EQ(m.unified_root, "/");
	CHECK_STR_EQ(m.cpu_v1_mount, "/sys/fs/cgroup/cpu,cpuacct");
	CHECK_STR_EQ(m.cpu_v1_root, "/kube/pod 1");
	CHECK_INT_EQ(procstat_parse_mountinfo("nonsense\n", &m), 0);
	CHECK_STR_EQ(m.unified_mount, "");
	CHECK_STR_EQ(m.cpu_v1_mount, "");
}

TEST(cpu_ns_picks_the_exact_source_when_it_can)
{
	struct procstat_reading a = {
	    .cpu_ticks = 100, .leader_run_ns = 1000000000ULL, .has_leader_run = 1, .threads = 1};
	struct procstat_reading b = {
	    .cpu_ticks = 150, .leader_run_ns = 1503000000ULL, .has_leader_run = 1, .threads = 1};

	/* Single-threaded, agreeing within two ticks: schedstat's ns. */
	CHECK_INT_EQ(procstat_cpu_ns(&a, &b, 100), 503000000ULL);
	/* A thread came and went: ticks say far more than the main thread ran. */
	b.cpu_ticks = 180;
	CHECK_INT_EQ(procstat_cpu_ns(&a, &b, 100), 800000000ULL);
	/* Multi-threaded at either end: ticks. */
	b.cpu_ticks = 150;
	b.threads = 4;
	CHECK_INT_EQ(procstat_cpu_ns(&a, &b, 100), 500000000ULL);
	/* No schedstat: ticks. */
	b.threads = 1;
	b.has_leader_run = 0;
	CHECK_INT_EQ(procstat_cpu_ns(&a, &b, 100), 500000000ULL);
	/* Counters never run backwards; if they seem to, nothing was used. */
	b.cpu_ticks = 90;
	CHECK_INT_EQ(procstat_cpu_ns(&a, &b, 100), 0);
	/* Other tick rates. */
	b.cpu_ticks = 350;
	CHECK_INT_EQ(procstat_cpu_ns(&a, &b, 250), 1000000000ULL);
}

TEST(cpu_percent_of_capacity)
{
	CHECK_DBL_EQ(procstat_cpu_percent(500000000ULL, 1000000000ULL, 1.0), 50.0);
	CHECK_DBL_EQ(procstat_cpu_percent(1000000000ULL, 1000000000ULL, 2.0), 50.0);
	CHECK_DBL_EQ(procstat_cpu_percent(190000000ULL, 1000000000ULL, 0.2), 95.0);
	CHECK_DBL_EQ(procstat_cpu_percent(1010000000ULL, 1000000000ULL, 1.0), 100.0);
	CHECK_DBL_EQ(procstat_cpu_percent(5, 0, 1.0), 0.0);
	CHECK_DBL_EQ(procstat_cpu_percent(5, 1000, 0.0), 0.0);
}

/* A host with CPUs 0-3, cgroup2 at /sys/fs/cgroup and v1 cpu at
 * /sys/fs/cgroup/cpu,cpuacct. */
static void host_fixture(struct fixture *f)
{
	CHECK(fixture_init(f) == 0);
	fixture_write(f, "sys/devices/system/cpu/online", "0-3\n");
	fixture_write(f, "proc/loadavg", "2.50 1.00 0.50 3/300 999\n");
	fixture_write(f, "proc/self/mountinfo",
		      "31 30 0:27 / /sys/fs/cgroup rw shared:10 - cgroup2 cgroup2 rw\n"
		      "36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup "
		      "rw,cpu,cpuacct\n");
}

static void proc_fixture(struct fixture *f, unsigned pid, const char *cpus, const char *cgroup,
			 unsigned long long ticks, unsigned threads, unsigned long long start)
{
	char path[64], text[512];

	snprintf(path, sizeof(path), "proc/%u/status", pid);
	snprintf(text, sizeof(text), "Name:\tbusy\nThreads:\t%u\nCpus_allowed_list:\t%s\n", threads,
		 cpus);
	fixture_write(f, path, text);
	snprintf(path, sizeof(path), "proc/%u/cgroup", pid);
	fixture_write(f, path, cgroup);
	snprintf(path, sizeof(path), "proc/%u/stat", pid);
	stat_line(text, sizeof(text), "busy", 'R', 0, ticks, 0, threads, start);
	fixture_write(f, path, text);
}

TEST(reader_load_and_capacity_v2_ancestor_quota)
{
	struct procstat_capacity cap;
	struct procstat *ps = NULL;
	struct fixture f;
	double load = 0;

	host_fixture(&f);
	proc_fixture(&f, 100, "0-1", "0::/a/b\n", 10, 1, 5);
	fixture_write(&f, "sys/fs/cgroup/a/cpu.max", "50000 100000\n");
	fixture_write(&f, "sys/fs/cgroup/a/b/cpu.max", "max 100000\n");
	CHECK_INT_EQ(procstat_open(f.root, &ps), 0);
	CHECK_INT_EQ(procstat_system_load(ps, &load), 0);
	CHECK_DBL_EQ(load, 2.5);
	CHECK_INT_EQ(procstat_capacity(ps, 100, &cap), 0);
	CHECK_INT_EQ(cap.online, 4);
	CHECK_INT_EQ(cap.affinity, 2);
	CHECK_DBL_EQ(cap.quota_cpus, 0.5);
	CHECK_DBL_EQ(cap.cpus, 0.5);
	/* A quota above the affinity does not raise the capacity. */
	fixture_write(&f, "sys/fs/cgroup/a/cpu.max", "300000 100000\n");
	CHECK_INT_EQ(procstat_capacity(ps, 100, &cap), 0);
	CHECK_DBL_EQ(cap.quota_cpus, 3.0);
	CHECK_DBL_EQ(cap.cpus, 2.0);
	CHECK_INT_EQ(procstat_capacity(ps, 101, &cap), -ESRCH);
	/* A path outside our cgroup namespace ("/../x") is not followed. */
	fixture_write(&f, "proc/100/cgroup", "0::/../a\n");
	CHECK_INT_EQ(procstat_capacity(ps, 100, &cap), 0);
	CHECK_DBL_EQ(cap.quota_cpus, 0);
	CHECK_DBL_EQ(cap.cpus, 2.0);
	procstat_close(ps);
	fixture_cleanup(&f);
}

TEST(reader_capacity_v1_quota_and_affinity_outside_online)
{
	struct procstat_capacity cap;
	struct procstat *ps = NULL;
	struct fixture f;

	host_fixture(&f);
	/* CPUs 2-7 allowed, 4-7 offline: 2 usable. v1 quota 1.5 at /g, none in v2. */
	proc_fixture(&f, 200, "2-7", "4:cpu,cpuacct:/g\n0::/\n", 0, 2, 5);
	fixture_write(&f, "sys/fs/cgroup/cpu,cpuacct/g/cpu.cfs_quota_us", "150000\n");
	fixture_write(&f, "sys/fs/cgroup/cpu,cpuacct/g/cpu.cfs_period_us", "100000\n");
	fixture_write(&f, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
	fixture_write(&f, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
	CHECK_INT_EQ(procstat_open(f.root, &ps), 0);
	CHECK_INT_EQ(procstat_capacity(ps, 200, &cap), 0);
	CHECK_INT_EQ(cap.affinity, 2);
	CHECK_DBL_EQ(cap.quota_cpus, 1.5);
	CHECK_DBL_EQ(cap.cpus, 1.5);
	/* v1 and v2 both limit (hybrid): the tighter wins. */
	fixture_write(&f, "proc/200/cgroup", "4:cpu,cpuacct:/g\n0::/c\n");
	fixture_write(&f, "sys/fs/cgroup/c/cpu.max", "100000 100000\n");
	CHECK_INT_EQ(procstat_capacity(ps, 200, &cap), 0);
	CHECK_DBL_EQ(cap.quota_cpus, 1.0);
	CHECK_DBL_EQ(cap.cpus, 1.0);
	procstat_close(ps);
	fixture_cleanup(&f);
}

TEST(reader_open_needs_online_cpus)
{
	struct procstat *ps = NULL;
	struct fixture f;

	CHECK(fixture_init(&f) == 0);
	CHECK_INT_EQ(procstat_open(f.root, &ps), -ENOENT);
	fixture_write(&f, "sys/devices/system/cpu/online", "\n");
	fixture_write(&f, "proc/self/mountinfo", "");
	CHECK_INT_EQ(procstat_open(f.root, &ps), -EINVAL);
	CHECK(ps == NULL);
	CHECK(procstat_close(NULL) == NULL);
	fixture_cleanup(&f);
}

TEST(reader_sample_sequence_reuse_and_exit)
{
	struct procstat_sample s;
	struct procstat_proc proc;
	struct procstat *ps = NULL;
	struct fixture f;
	char text[512];

	host_fixture(&f);
	proc_fixture(&f, 300, "0-3", "0::/\n", 1000, 3, 77);
	CHECK_INT_EQ(procstat_open(f.root, &ps), 0);
	procstat_proc_init(&proc, 300);
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	CHECK(!s.has_cpu);
	CHECK_INT_EQ(s.threads, 3);
	CHECK(proc.stat_fd >= 0); /* held for the next second */
	CHECK_DBL_EQ(s.capacity.cpus, 4.0);
	/* 50 more ticks (3 threads: tick source) = 0.5 s of CPU. */
	stat_line(text, sizeof(text), "busy", 'R', 0, 1050, 0, 5, 77);
	fixture_write(&f, "proc/300/stat", text);
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	CHECK(s.has_cpu);
	CHECK_INT_EQ(s.threads, 5);
	CHECK_INT_EQ(s.cpu_ns, 50 * (1000000000ULL / (uint64_t)procstat_ticks_per_s(ps)));
	CHECK(s.elapsed_ns > 0);
	CHECK_DBL_EQ(s.cpu_percent, procstat_cpu_percent(s.cpu_ns, s.elapsed_ns, 4.0));
	/* The pid now belongs to another process (other start time). */
	stat_line(text, sizeof(text), "other", 'S', 0, 1, 0, 1, 99);
	fixture_write(&f, "proc/300/stat", text);
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), -ESRCH);
	CHECK(!proc.has_reading);
	/* Watching it afresh works; then it becomes a zombie; then it is gone. */
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	stat_line(text, sizeof(text), "other", 'Z', 0, 1, 0, 1, 99);
	fixture_write(&f, "proc/300/stat", text);
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), -ESRCH);
	CHECK_INT_EQ(proc.stat_fd, -1); /* released when found gone */
	fixture_remove(&f, "proc/300");
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), -ESRCH);
	procstat_proc_release(&proc);
	procstat_close(ps);
	fixture_cleanup(&f);
}

TEST(reader_single_thread_uses_schedstat)
{
	struct procstat_reading a, b;
	struct procstat *ps = NULL;
	struct fixture f;
	char text[512];

	host_fixture(&f);
	proc_fixture(&f, 400, "0", "0::/\n", 100, 1, 5);
	fixture_write(&f, "proc/400/schedstat", "1000000000 0 10\n");
	CHECK_INT_EQ(procstat_open(f.root, &ps), 0);
	CHECK_INT_EQ(procstat_read(ps, 400, &a), 0);
	CHECK(a.has_leader_run);
	stat_line(text, sizeof(text), "busy", 'R', 0, 125, 0, 1, 5);
	fixture_write(&f, "proc/400/stat", text);
	fixture_write(&f, "proc/400/schedstat", "1257000000 0 20\n");
	CHECK_INT_EQ(procstat_read(ps, 400, &b), 0);
	if (procstat_ticks_per_s(ps) == 100)
		CHECK_INT_EQ(procstat_cpu_ns(&a, &b, 100), 257000000ULL);
	CHECK(b.time_ns >= a.time_ns);
	procstat_close(ps);
	fixture_cleanup(&f);
}

/* A one-thread process whose thread has not run since the last sample cannot
 * have changed: the sample reuses the last reading (stat not read; here its
 * file changes unseen) until the run time moves, then stat is read again. */
TEST(reader_idle_single_thread_skips_stat)
{
	struct procstat_sample s;
	struct procstat_proc proc;
	struct procstat *ps = NULL;
	struct fixture f;
	char text[512];

	host_fixture(&f);
	proc_fixture(&f, 500, "0-3", "0::/\n", 100, 1, 5);
	fixture_write(&f, "proc/500/schedstat", "1000000000 0 10\n");
	CHECK_INT_EQ(procstat_open(f.root, &ps), 0);
	procstat_proc_init(&proc, 500);
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	CHECK_INT_EQ(s.threads, 1);
	/* Not run: a stat that says otherwise is not read. */
	stat_line(text, sizeof(text), "busy", 'R', 0, 900, 0, 7, 5);
	fixture_write(&f, "proc/500/stat", text);
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	CHECK(s.has_cpu);
	CHECK_INT_EQ(s.cpu_ns, 0);
	CHECK_INT_EQ(s.threads, 1);
	/* Ran 80 ms and is alone again: schedstat's ns. */
	stat_line(text, sizeof(text), "busy", 'R', 0, 108, 0, 1, 5);
	fixture_write(&f, "proc/500/stat", text);
	fixture_write(&f, "proc/500/schedstat", "1080000000 0 11\n");
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	if (procstat_ticks_per_s(ps) == 100)
		CHECK_INT_EQ(s.cpu_ns, 80000000ULL);
	/* Ran and made threads: stat's count and ticks. */
	stat_line(text, sizeof(text), "busy", 'R', 0, 120, 0, 4, 5);
	fixture_write(&f, "proc/500/stat", text);
	fixture_write(&f, "proc/500/schedstat", "1090000000 0 12\n");
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	CHECK_INT_EQ(s.threads, 4);
	CHECK_INT_EQ(s.cpu_ns, 12 * (1000000000ULL / (uint64_t)procstat_ticks_per_s(ps)));
	/* Alone again, then it exits (its run time moves): a zombie is gone. */
	stat_line(text, sizeof(text), "busy", 'S', 0, 121, 0, 1, 5);
	fixture_write(&f, "proc/500/stat", text);
	fixture_write(&f, "proc/500/schedstat", "1100000000 0 13\n");
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	stat_line(text, sizeof(text), "busy", 'Z', 0, 121, 0, 1, 5);
	fixture_write(&f, "proc/500/stat", text);
	fixture_write(&f, "proc/500/schedstat", "1100500000 0 14\n");
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), -ESRCH);
	procstat_proc_release(&proc);
	procstat_close(ps);
	fixture_cleanup(&f);
}

/* An idle process's capacity is not read again (it would scale no CPU);
 * re-pinned while idle, it has the new capacity as soon as it runs. The test
 * ages the capacity reading instead of waiting PROCSTAT_CAPACITY_REFRESH_NS. */
TEST(reader_idle_process_capacity_refreshed_when_it_runs)
{
	struct procstat_sample s;
	struct procstat_proc proc;
	struct procstat *ps = NULL;
	struct fixture f;
	char text[512];

	host_fixture(&f);
	proc_fixture(&f, 600, "0-3", "0::/\n", 100, 1, 5);
	fixture_write(&f, "proc/600/schedstat", "1000000000 0 10\n");
	CHECK_INT_EQ(procstat_open(f.root, &ps), 0);
	procstat_proc_init(&proc, 600);
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	CHECK_DBL_EQ(s.capacity.cpus, 4.0);
	/* Re-pinned to one CPU while idle, the capacity reading old enough to
	 * be refreshed: idle, it reads 0 % and its capacity is not read. */
	fixture_write(&f, "proc/600/status", "Name:\tx\nCpus_allowed_list:\t2\n");
	proc.capacity_time_ns -= PROCSTAT_CAPACITY_REFRESH_NS;
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	CHECK(s.has_cpu);
	CHECK_INT_EQ(s.cpu_ns, 0);
	CHECK_DBL_EQ(s.cpu_percent, 0.0);
	CHECK_DBL_EQ(s.capacity.cpus, 4.0);
	/* It runs 500 ms: the capacity is read before it scales that CPU. */
	stat_line(text, sizeof(text), "busy", 'R', 0, 150, 0, 1, 5);
	fixture_write(&f, "proc/600/stat", text);
	fixture_write(&f, "proc/600/schedstat", "1500000000 0 11\n");
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	CHECK_DBL_EQ(s.capacity.cpus, 1.0);
	CHECK_INT_EQ(s.capacity.affinity, 1);
	CHECK_INT_EQ(s.cpu_ns, 500000000ULL);
	CHECK_DBL_EQ(s.cpu_percent, procstat_cpu_percent(s.cpu_ns, s.elapsed_ns, 1.0));
	/* Running again within the refresh period: the reading is kept. */
	fixture_write(&f, "proc/600/status", "Name:\tx\nCpus_allowed_list:\t0-3\n");
	fixture_write(&f, "proc/600/schedstat", "1600000000 0 12\n");
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	CHECK_DBL_EQ(s.capacity.cpus, 1.0);
	procstat_proc_release(&proc);
	procstat_close(ps);
	fixture_cleanup(&f);
}

/* A watched process's cgroup paths are kept between capacity refreshes
 * (PROCSTAT_CGROUP_REFRESH_NS); the refresh itself re-reads the quota. The
 * test forces both refreshes by clearing proc's flags. */
TEST(reader_keeps_cgroup_paths_of_a_watched_process)
{
	struct procstat_sample s;
	struct procstat_proc proc;
	struct procstat *ps = NULL;
	struct fixture f;

	host_fixture(&f);
	proc_fixture(&f, 600, "0-3", "0::/a\n", 10, 2, 5);
	fixture_write(&f, "sys/fs/cgroup/a/cpu.max", "50000 100000\n");
	fixture_write(&f, "sys/fs/cgroup/c/cpu.max", "25000 100000\n");
	CHECK_INT_EQ(procstat_open(f.root, &ps), 0);
	procstat_proc_init(&proc, 600);
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	CHECK_DBL_EQ(s.capacity.quota_cpus, 0.5);
	CHECK(proc.has_cgroups);
	/* Moved: a capacity refresh within the cgroup period keeps the path. */
	fixture_write(&f, "proc/600/cgroup", "0::/c\n");
	proc.has_capacity = 0;
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	CHECK_DBL_EQ(s.capacity.quota_cpus, 0.5);
	/* Once the paths are due, the move is seen. */
	proc.has_cgroups = 0;
	proc.has_capacity = 0;
	CHECK_INT_EQ(procstat_sample(ps, &proc, &s), 0);
	CHECK_DBL_EQ(s.capacity.quota_cpus, 0.25);
	procstat_proc_release(&proc);
	CHECK(!proc.has_cgroups);
	procstat_close(ps);
	fixture_cleanup(&f);
}

int main(void)
{
	RUN(parse_stat_fields);
	RUN(parse_stat_comm_with_spaces_and_parens);
	RUN(parse_stat_refuses_malformed);
	RUN(stat_dead_or_alive);
	RUN(parse_schedstat_and_loadavg);
	RUN(parse_cpulist);
	RUN(parse_status_cpus_allowed_list);
	RUN(parse_cgroup_quotas);
	RUN(parse_proc_cgroup);
	RUN(parse_mountinfo_cgroup_mounts);
	RUN(cpu_ns_picks_the_exact_source_when_it_can);
	RUN(cpu_percent_of_capacity);
	RUN(reader_load_and_capacity_v2_ancestor_quota);
	RUN(reader_capacity_v1_quota_and_affinity_outside_online);
	RUN(reader_open_needs_online_cpus);
	RUN(reader_sample_sequence_reuse_and_exit);
	RUN(reader_single_thread_uses_schedstat);
	RUN(reader_idle_single_thread_skips_stat);
	RUN(reader_keeps_cgroup_paths_of_a_watched_process);
	RUN(reader_idle_process_capacity_refreshed_when_it_runs);
	return harness_finish();
}
