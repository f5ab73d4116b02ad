/* cfirule: the cached-rule walk (the unwinder's fast path) against libdw's
 * general unwinder on the same snapshots, which must agree exactly: frames
 * and completeness. Snapshots are taken in this very process, inside a
 * qsort comparator (the C library's sort code has no frame pointers), on a
 * thread with a known stack; then the same stack bytes are walked from
 * thousands of other pcs in the C library's and this binary's code, which
 * exercises every rule shape those binaries hold (rsp- and rbp-based CFA,
 * saved rbp, PLT expressions and code without an FDE for libdw's path) and
 * the table's growth. */

#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/types.h>

#include "agent/unwind.h"
#include "harness.h"

struct capture {
	struct unwind_snapshot snap;
	uint64_t stack_top;
	bool taken;
};

static struct capture *cap;
static volatile unsigned sink;

/* Copies stack bytes as the BPF program does, redzones of the sanitizer
 * build included (memcpy would be checked). */
__attribute__((no_sanitize("address"))) static void copy_stack(uint8_t *dst, uint64_t from,
							       size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = ((const volatile uint8_t *)from)[i];
}

/* Takes the snapshot here: pc, sp and rbp read together, then the stack
 * from sp up to the thread's top (at most UNWIND_STACK_MAX). */
__attribute__((noinline)) static void snap_here(void)
{
	struct unwind_snapshot *s = &cap->snap;
	uint64_t ip, sp, bp, len;

	__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
			 : "=r"(ip), "=r"(sp), "=r"(bp));
	memset(s->regs, 0, sizeof(s->regs));
	s->regs[UNWIND_REG_IP] = ip;
	s->regs[UNWIND_REG_SP] = sp;
	s->regs[6] = bp;
	len = cap->stack_top - sp;
	if (len > UNWIND_STACK_MAX)
		len = UNWIND_STACK_MAX;
	copy_stack(s->stack, sp, len);
	s->stack_len = (__u32)len;
	s->pid = (__u32)getpid();
	s->tid = (__u32)syscall(SYS_gettid);
	cap->taken = true;
}

static int compare_and_snap(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	if (!cap->taken)
		snap_here();
	sink += x ^ y;
	return x < y ? -1 : x > y;
}

static void *thread_main(void *arg)
{
	unsigned keys[64];

	(void)arg;
	for (unsigned i = 0; i < 64; i++)
		keys[i] = (i * 2654435761u) >> 7;
	qsort(keys, 64, sizeof(keys[0]), compare_and_snap);
	sink += keys[0];
	return NULL;
}

/* Runs thread_main on a thread whose stack bounds are known. */
static void capture_in_qsort(void)
{
	pthread_attr_t attr;
	pthread_t t;
	void *addr;
	size_t size;

	pthread_attr_init(&attr);
	addr = aligned_alloc(4096, 1 << 20);
	pthread_attr_setstack(&attr, addr, 1 << 20);
	pthread_attr_getstack(&attr, &addr, &size);
	cap->stack_top = (uint64_t)addr + size;
	CHECK(pthread_create(&t, &attr, thread_main, NULL) == 0);
	pthread_join(t, NULL);
	pthread_attr_destroy(&attr);
	free(addr); /* the snapshot holds a copy */
}

struct result {
	int err;
	size_t n;
	bool complete;
	uint64_t pcs[STACKCOUNT_DEPTH_MAX];
};

static void unwind_into(struct unwinder *u, const struct unwind_snapshot *s, size_t max,
			struct result *r)
{
	r->err = unwinder_unwind(u, s, 0, r->pcs, max, &r->n, &r->complete);
}

/* Both paths on `s`, one after the other on the same unwinder (libdw's
 * results for garbage stacks depend on which modules' files it has opened
 * so far): true when they agree. */
static bool paths_agree(struct unwinder *u, const struct unwind_snapshot *s, size_t max)
{
	static struct result a, b;

	unwinder_set_rule_cache(u, true);
	unwind_into(u, s, max, &a);
	unwinder_set_rule_cache(u, false);
	unwind_into(u, s, max, &b);
	unwinder_set_rule_cache(u, true);
	if (a.err != b.err || a.n != b.n || a.complete != b.complete ||
	    memcmp(a.pcs, b.pcs, a.n * sizeof(uint64_t)) != 0) {
		harness_context("pc %#llx: rules err %d n %zu complete %d, libdw err %d n %zu "
				"complete %d",
				(unsigned long long)s->regs[UNWIND_REG_IP], a.err, a.n, a.complete,
				b.err, b.n, b.complete);
		return false;
	}
	return true;
}

static bool setup(struct unwinder **u)
{
	*u = unwinder_new();
	cap = calloc(1, sizeof(*cap));
	CHECK(*u && cap);
	if (!*u || !cap)
		return false;
	capture_in_qsort();
	CHECK(cap->taken);
	return cap->taken;
}

static void teardown(struct unwinder *u)
{
	unwinder_free(u);
	free(cap);
	cap = NULL;
}

TEST(cached_rules_walk_qsort_like_libdw)
{
	struct unwinder *u;
	struct cfirule_stats st;
	static struct result r;

	if (!setup(&u))
		return;
	CHECK(paths_agree(u, &cap->snap, STACKCOUNT_DEPTH_MAX));
	unwinder_get_stats(u, &st);
	CHECK_INT_EQ(st.walks, 1); /* every frame had a simple rule */
	CHECK_INT_EQ(st.general, 0);
	CHECK(st.computed >= 5);
	unwind_into(u, &cap->snap, STACKCOUNT_DEPTH_MAX, &r);
	CHECK_INT_EQ(r.err, 0);
	CHECK(r.complete); /* down to the thread's entry, through libc's qsort */
	CHECK(r.n >= 6);
	/* The second walk finds every rule in the table. */
	{
		uint64_t computed = st.computed;

		unwinder_get_stats(u, &st);
		CHECK_INT_EQ(st.walks, 2);
		CHECK_INT_EQ(st.computed, computed);
	}
	teardown(u);
}

TEST(short_copies_and_frame_limits_agree)
{
	struct unwinder *u;
	uint32_t full;

	if (!setup(&u))
		return;
	full = cap->snap.stack_len;
	for (uint32_t len = 0; len <= full && len <= 4096; len += 8) {
		cap->snap.stack_len = len;
		if (!CHECK(paths_agree(u, &cap->snap, STACKCOUNT_DEPTH_MAX)))
			break;
	}
	cap->snap.stack_len = full;
	for (size_t max = 0; max <= 12; max++)
		if (!CHECK(paths_agree(u, &cap->snap, max)))
			break;
	/* A zeroed frame register: walks based on it end like libdw's. */
	cap->snap.regs[6] = 0;
	CHECK(paths_agree(u, &cap->snap, STACKCOUNT_DEPTH_MAX));
	teardown(u);
}

struct text_range {
	const char *name_part; /* "" for the main program */
	uint64_t start, end;
};

static int find_text(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct text_range *t = arg;

	(void)size;
	if (t->end || !info->dlpi_name || !strstr(info->dlpi_name, t->name_part))
		return 0;
	if (!t->name_part[0] && info->dlpi_name[0])
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			t->start = info->dlpi_addr + ph->p_vaddr;
			t->end = t->start + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

/* Walks the captured stack bytes from `count` pcs spread over a module's
 * code; returns how many of them disagreed. */
static int sweep(struct unwinder *u, const char *name_part, size_t count)
{
	struct text_range t = {.name_part = name_part};
	uint64_t pc0 = cap->snap.regs[UNWIND_REG_IP], step;
	int bad = 0;

	dl_iterate_phdr(find_text, &t);
	CHECK(t.end > t.start);
	if (t.end <= t.start)
		return 1;
	step = (t.end - t.start) / count;
	step += step % 2 == 0; /* odd: every alignment */
	for (uint64_t pc = t.start; pc < t.end; pc += step) {
		cap->snap.regs[UNWIND_REG_IP] = pc;
		if (!paths_agree(u, &cap->snap, STACKCOUNT_DEPTH_MAX) && ++bad > 3)
			break;
	}
	cap->snap.regs[UNWIND_REG_IP] = pc0;
	return bad;
}

TEST(walks_from_anywhere_in_libc_and_this_binary_agree)
{
	struct unwinder *u;
	struct cfirule_stats st;

	if (!setup(&u))
		return;
	CHECK_INT_EQ(sweep(u, "libc.so", 6000), 0);
	CHECK_INT_EQ(sweep(u, "", 1500), 0);
	unwinder_get_stats(u, &st);
	/* Most pcs have simple rules; some need libdw (PLT, no FDE). */
	CHECK(st.walks > 1000);
	CHECK(st.general > 0);
	CHECK(st.computed > CFIRULE_SLOTS_MIN); /* the table grew */
	teardown(u);
}

int main(void)
{
	RUN(cached_rules_walk_qsort_like_libdw);
	RUN(short_copies_and_frame_limits_agree);
	RUN(walks_from_anywhere_in_libc_and_this_binary_agree);
	return harness_finish();
}
