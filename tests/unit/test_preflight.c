/* Unit tests for agent/preflight: the file checks on fake /proc and /sys
 * trees (a host without BTF, tracefs, tracepoints or privileges, in lockdown,
 * with hidden kernel symbols) give the right level and a message naming what
 * is missing and the fix; a complete tree passes. The syscall probes run on
 * the real host in tests/integration/agent_check.test.mjs. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/preflight.h"
#include "harness.h"

#define ROOT_STATUS "Name:\tcontprof\nUid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\n"
#define USER_STATUS "Name:\tcontprof\nUid:\t1000\t1000\t1000\t1000\nCapEff:\t0000000000000000\n"

static char root[PATH_MAX];

/* Writes text to root/rel, creating its directories. */
static void put(const char *rel, const char *text)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *slash = strchr(path + strlen(root) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void fresh_root(void)
{
	char cmd[PATH_MAX + 16];

	if (root[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", root);
	}
	snprintf(root, sizeof(root), "/tmp/contprof-preflight-XXXXXX");
	if (!mkdtemp(root))
		root[0] = '\0';
}

/* A host with everything the agent needs. */
static void complete_host(void)
{
	fresh_root();
	put("proc/self/status", ROOT_STATUS);
	put("sys/kernel/btf/vmlinux", "BTF");
	put("proc/filesystems", "nodev\tsysfs\nnodev\ttracefs\n");
	put("sys/kernel/tracing/events/sched/sched_process_exec/id", "1");
	put("sys/kernel/tracing/events/sched/sched_process_exit/id", "2");
	put("sys/kernel/tracing/events/syscalls/sys_exit_read/id", "3");
	put("sys/kernel/tracing/events/syscalls/sys_enter_connect/id", "4");
	put("proc/sys/kernel/perf_event_paranoid", "2\n");
	put("sys/kernel/security/lockdown", "[none] integrity confidentiality\n");
	put("proc/kallsyms", "ffffffff81000000 T _stext\n");
}

static const struct preflight_item *item(const struct preflight_report *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->items[i].name, name) == 0)
			return &r->items[i];
	return NULL;
}

/* The item's level, or -1 when the report lacks it. */
static int level_of(const struct preflight_report *r, const char *name)
{
	const struct preflight_item *it = item(r, name);

	return it ? (int)it->level : -1;
}

static int detail_has(const struct preflight_report *r, const char *name, const char *text)
{
	const struct preflight_item *it = item(r, name);

	return it && strstr(it->detail, text) != NULL;
}

TEST(complete_host_passes_every_file_check)
{
	struct preflight_report r;

	complete_host();
	CHECK_INT_EQ(preflight_run(root, 0, &r), 0);
	CHECK_INT_EQ(r.n_fail, 0);
	CHECK_INT_EQ(r.n_warn, 0);
	CHECK_INT_EQ(r.n, 7);
	CHECK_INT_EQ(level_of(&r, "tracepoints"), PREFLIGHT_OK);
	CHECK(detail_has(&r, "privileges", "euid 0"));
	CHECK(detail_has(&r, "tracefs", "/sys/kernel/tracing"));
	CHECK(item(&r, "cpu-clock") == NULL); /* probes not asked for */
}

TEST(not_root_fails_privileges_and_paranoid)
{
	struct preflight_report r;

	complete_host();
	put("proc/self/status", USER_STATUS);
	put("proc/sys/kernel/perf_event_paranoid", "3\n");
	CHECK_INT_EQ(preflight_run(root, 0, &r), 0);
	CHECK_INT_EQ(level_of(&r, "privileges"), PREFLIGHT_FAIL);
	CHECK(detail_has(&r, "privileges", "not running as root (euid 1000"));
	CHECK(detail_has(&r, "privileges", "run the agent as root"));
	CHECK_INT_EQ(level_of(&r, "perf_event_paranoid"), PREFLIGHT_FAIL);
	CHECK(detail_has(&r, "perf_event_paranoid", "3: without CAP_PERFMON"));
	CHECK_INT_EQ(r.n_fail, 2);
}

TEST(capabilities_without_root_are_enough)
{
	struct preflight_report r;

	complete_host();
	/* CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, uid 998. */
	put("proc/self/status", "Uid:\t998\t998\t998\t998\nCapEff:\t000000c000080004\n");
	CHECK_INT_EQ(preflight_run(root, 0, &r), 0);
	CHECK_INT_EQ(level_of(&r, "privileges"), PREFLIGHT_OK);
	CHECK_INT_EQ(level_of(&r, "perf_event_paranoid"), PREFLIGHT_OK);
	/* CAP_BPF and CAP_PERFMON only: other users' frames stay unknown. */
	put("proc/self/status", "Uid:\t998\t998\t998\t998\nCapEff:\t000000c000000000\n");
	CHECK_INT_EQ(preflight_run(root, 0, &r), 0);
	CHECK_INT_EQ(level_of(&r, "privileges"), PREFLIGHT_WARN);
	CHECK(detail_has(&r, "privileges", "CAP_SYS_PTRACE"));
}

TEST(no_btf_names_the_kernel_option)
{
	struct preflight_report r;
	char path[PATH_MAX * 2];

	complete_host();
	snprintf(path, sizeof(path), "%s/sys/kernel/btf/vmlinux", root);
	unlink(path);
	CHECK_INT_EQ(preflight_run(root, 0, &r), 0);
	CHECK_INT_EQ(level_of(&r, "btf"), PREFLIGHT_FAIL);
	CHECK(detail_has(&r, "btf", "CONFIG_DEBUG_INFO_BTF=y"));
	CHECK_INT_EQ(r.n_fail, 1);
}

TEST(tracefs_unmounted_is_fine_when_the_kernel_has_it)
{
	struct preflight_report r;

	fresh_root();
	put("proc/self/status", ROOT_STATUS);
	put("sys/kernel/btf/vmlinux", "BTF");
	put("proc/filesystems", "nodev\tsysfs\nnodev\ttracefs\n");
	CHECK_INT_EQ(preflight_run(root, 0, &r), 0);
	CHECK_INT_EQ(level_of(&r, "tracefs"), PREFLIGHT_OK);
	CHECK(detail_has(&r, "tracefs", "the agent mounts it"));
	CHECK(item(&r, "tracepoints") == NULL);
	/* A kernel without tracefs at all. */
	put("proc/filesystems", "nodev\tsysfs\n");
	CHECK_INT_EQ(preflight_run(root, 0, &r), 0);
	CHECK_INT_EQ(level_of(&r, "tracefs"), PREFLIGHT_FAIL);
	CHECK(detail_has(&r, "tracefs", "mount -t tracefs tracefs /sys/kernel/tracing"));
}

TEST(missing_tracepoints_are_named_with_what_needs_them)
{
	struct preflight_report r;

	fresh_root();
	put("proc/self/status", ROOT_STATUS);
	put("sys/kernel/debug/tracing/events/sched/sched_process_exec/id", "1");
	put("sys/kernel/debug/tracing/events/sched/sched_process_exit/id", "2");
	CHECK_INT_EQ(preflight_run(root, 0, &r), 0);
	CHECK(detail_has(&r, "tracefs", "/sys/kernel/debug/tracing"));
	CHECK_INT_EQ(level_of(&r, "tracepoints"), PREFLIGHT_FAIL);
	CHECK(detail_has(&r, "tracepoints", "syscalls/sys_exit_read, syscalls/sys_enter_connect"));
	CHECK(detail_has(&r, "tracepoints", "the HTTP monitor (needs CONFIG_FTRACE_SYSCALLS)"));
	CHECK(!detail_has(&r, "tracepoints", "exec/exit"));
}

TEST(lockdown_kallsyms_and_perf_events)
{
	struct preflight_report r;
	char path[PATH_MAX * 2];

	complete_host();
	put("sys/kernel/security/lockdown", "none integrity [confidentiality]\n");
	put("proc/kallsyms", "0000000000000000 T _stext\n");
	snprintf(path, sizeof(path), "%s/proc/sys/kernel/perf_event_paranoid", root);
	unlink(path);
	CHECK_INT_EQ(preflight_run(root, 0, &r), 0);
	CHECK_INT_EQ(level_of(&r, "lockdown"), PREFLIGHT_FAIL);
	CHECK(detail_has(&r, "lockdown", "lockdown=integrity"));
	CHECK_INT_EQ(level_of(&r, "kallsyms"), PREFLIGHT_WARN);
	CHECK(detail_has(&r, "kallsyms", "[unknown]"));
	CHECK_INT_EQ(level_of(&r, "perf_event_paranoid"), PREFLIGHT_FAIL);
	CHECK(detail_has(&r, "perf_event_paranoid", "CONFIG_PERF_EVENTS"));
	CHECK_INT_EQ(r.n_warn, 1);
	CHECK_INT_EQ(r.n_fail, 2);
}

TEST(bad_arguments)
{
	struct preflight_report r;

	CHECK_INT_EQ(preflight_run(NULL, 0, &r), -EINVAL);
	CHECK_INT_EQ(r.n, 0);
	CHECK_INT_EQ(preflight_run("", 0, &r), -EINVAL);
	CHECK_INT_EQ(preflight_run("/", 0, NULL), -EINVAL);
	CHECK_STR_EQ(preflight_level_name(PREFLIGHT_FAIL), "MISSING");
	CHECK_STR_EQ(preflight_level_name(PREFLIGHT_WARN), "warning");
}

int main(void)
{
	RUN(complete_host_passes_every_file_check);
	RUN(not_root_fails_privileges_and_paranoid);
	RUN(capabilities_without_root_are_enough);
	RUN(no_btf_names_the_kernel_option);
	RUN(tracefs_unmounted_is_fine_when_the_kernel_has_it);
	RUN(missing_tracepoints_are_named_with_what_needs_them);
	RUN(lockdown_kallsyms_and_perf_events);
	RUN(bad_arguments);
	fresh_root(); /* removes the last tree */
	if (root[0])
		rmdir(root);
	return harness_finish();
}
