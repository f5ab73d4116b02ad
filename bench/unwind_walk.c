/* unwind_walk: the user-space CPU one stack snapshot costs to unwind, with
 * the cached CFI rules (cfirule.c, the default) and with libdw's general
 * dwfl_frame unwinder (what every snapshot took before), on the same
 * snapshot: taken in this process inside a qsort comparator (the C
 * library's sort code has no frame pointers) on a thread, so the walk goes
 * through libc's msort recursion down to the thread's entry, like the
 * qsortcmp workload of bench/unwind.sh. In-process and single-threaded, so
 * the figure does not depend on the host's load as the agent's CPU does.
 * Prints the median, min and max over RUNS runs of the time per walk, the
 * walk's depth, and the first walk's cost (the rules computed then).
 *
 * With BENCH_FIGURES=FILE in the environment, every run's time is also
 * appended to FILE as a line for scripts/bench.sh:
 *   FIGURE name value unit target peer label
 *
 * Built and run by bench/unwind_walk.sh.
 */
#include "agent/unwind.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KEYS	      4096
#define SNAP_AT_CALL  1 /* the first merge: the deepest recursion */
#define RUNS	      7
#define WALKS_RULES   20000
#define WALKS_GENERAL 2000

static struct unwind_snapshot snap;
static uint64_t stack_top;
static unsigned calls;
static volatile unsigned sink;

__attribute__((noinline)) static void snap_here(void)
{
	uint64_t ip, sp, bp, len;

	__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
			 : "=r"(ip), "=r"(sp), "=r"(bp));
	snap.regs[UNWIND_REG_IP] = ip;
	snap.regs[UNWIND_REG_SP] = sp;
	snap.regs[6] = bp;
	len = stack_top - sp;
	if (len > UNWIND_STACK_MAX)
		len = UNWIND_STACK_MAX;
	memcpy(snap.stack, (const void *)sp, len);
	snap.stack_len = (__u32)len;
	snap.pid = (__u32)getpid();
	snap.tid = (__u32)syscall(SYS_gettid);
}

static int compare_keys(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	if (++calls == SNAP_AT_CALL)
		snap_here();
	return x < y ? -1 : x > y;
}

static void *sorter(void *arg)
{
	static unsigned keys[KEYS];

	(void)arg;
	for (unsigned i = 0; i < KEYS; i++)
		keys[i] = (i * 2654435761u) >> 5;
	qsort(keys, KEYS, sizeof(keys[0]), compare_keys);
	sink += keys[0];
	return NULL;
}

static int capture(void)
{
	pthread_attr_t attr;
	pthread_t t;
	void *addr = aligned_alloc(4096, 1 << 20);
	size_t size;

	if (!addr)
		return -1;
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, addr, 1 << 20);
	pthread_attr_getstack(&attr, &addr, &size);
	stack_top = (uint64_t)addr + size;
	if (pthread_create(&t, &attr, sorter, NULL) != 0)
		return -1;
	pthread_join(t, NULL);
	pthread_attr_destroy(&attr);
	free(addr);
	return snap.stack_len ? 0 : -1;
}

static double now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Times `walks` walks of the snapshot, RUNS times: µs per walk into us[]. */
static int time_walks(struct unwinder *u, int walks, double *us, size_t *ret_n, bool *ret_complete)
{
	static uint64_t pcs[STACKCOUNT_DEPTH_MAX];

	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);

		for (int i = 0; i < walks; i++)
			if (unwinder_unwind(u, &snap, 0, pcs, STACKCOUNT_DEPTH_MAX, ret_n,
					    ret_complete) != 0)
				return -1;
		us[r] = (now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / 1e3 / walks;
	}
	qsort(us, RUNS, sizeof(*us), cmp_double);
	return 0;
}

static void figure(const char *name, const double *us, const char *label)
{
	const char *path = getenv("BENCH_FIGURES");
	FILE *f;

	printf("%-38s %8.2f us per walk [%.2f-%.2f] (%d runs)\n", label, us[RUNS / 2], us[0],
	       us[RUNS - 1], RUNS);
	if (!path || !(f = fopen(path, "a")))
		return;
	for (int r = 0; r < RUNS; r++)
		fprintf(f, "FIGURE unwind_walk.%s %.3f us lower - %s\n", name, us[r], label);
	fclose(f);
}

int main(void)
{
	struct unwinder *fast = unwinder_new(), *general = unwinder_new();
	static uint64_t pcs[STACKCOUNT_DEPTH_MAX];
	double rules_us[RUNS], general_us[RUNS], t0, first_us;
	struct cfirule_stats st;
	size_t n_rules = 0, n_general = 0, n;
	bool c_rules = false, c_general = false, complete;

	if (!fast || !general || capture() != 0) {
		fprintf(stderr, "unwind_walk: cannot set up (out of memory, or no snapshot)\n");
		return 1;
	}
	unwinder_set_rule_cache(general, false);
	/* Both sessions open the process's modules before the clock runs. */
	unwinder_unwind(general, &snap, 0, pcs, STACKCOUNT_DEPTH_MAX, &n, &complete);
	unwinder_set_rule_cache(fast, false);
	unwinder_unwind(fast, &snap, 0, pcs, STACKCOUNT_DEPTH_MAX, &n, &complete);
	unwinder_set_rule_cache(fast, true);
	t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	unwinder_unwind(fast, &snap, 0, pcs, STACKCOUNT_DEPTH_MAX, &n, &complete);
	first_us = (now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / 1e3;
	if (time_walks(fast, WALKS_RULES, rules_us, &n_rules, &c_rules) != 0 ||
	    time_walks(general, WALKS_GENERAL, general_us, &n_general, &c_general) != 0) {
		fprintf(stderr, "unwind_walk: a walk failed\n");
		return 1;
	}
	unwinder_get_stats(fast, &st);
	printf("snapshot: %u bytes of stack; %zu frames (%s) with rules, %zu (%s) with libdw\n",
	       snap.stack_len, n_rules, c_rules ? "complete" : "incomplete", n_general,
	       c_general ? "complete" : "incomplete");
	printf("first walk with rules: %.1f us (%llu rules computed); walks by rules alone: "
	       "%llu, handed to libdw: %llu\n",
	       first_us, (unsigned long long)st.computed, (unsigned long long)st.walks,
	       (unsigned long long)st.general);
	figure("rules_us", rules_us, "cached CFI rules");
	figure("libdw_us", general_us, "libdw dwfl_frame (before)");
	unwinder_free(fast);
	unwinder_free(general);
	if (n_rules != n_general || c_rules != c_general) {
		fprintf(stderr, "unwind_walk: the two paths disagree\n");
		return 1;
	}
	return 0;
}
