/* unwind: CFI unwinding of a snapshot taken in this very process — the
 * registers and stack bytes a BPF program would send — through libdw, with
 * the return addresses each function saw as the expected frames. Runs on a
 * thread with a known stack, so the copy never reads past its top. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/types.h>

#include "agent/unwind.h"
#include "harness.h"

#define LEVELS 3

struct capture {
	struct unwind_snapshot snap;
	uint64_t ret_addrs[LEVELS + 1]; /* what each level's callee returns to */
	uint64_t stack_top;
};

static struct capture *cap;
static volatile int sink;

/* Takes the snapshot at a point inside this function: pc, sp and the frame
 * register read together, then the stack from sp up to the thread's top. */
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
	memcpy(s->stack, (const void *)sp, len);
	s->stack_len = (__u32)len;
	s->pid = (__u32)getpid();
	s->tid = (__u32)syscall(SYS_gettid);
	cap->ret_addrs[0] = (uint64_t)__builtin_return_address(0);
	sink++;
}

__attribute__((noinline)) static void level_two(void)
{
	snap_here();
	cap->ret_addrs[1] = (uint64_t)__builtin_return_address(0);
	sink++;
}

__attribute__((noinline)) static void level_one(void)
{
	level_two();
	cap->ret_addrs[2] = (uint64_t)__builtin_return_address(0);
	sink++;
}

static void *thread_main(void *arg)
{
	(void)arg;
	level_one();
	return NULL;
}

/* Runs thread_main on a thread whose stack bounds are known. */
static void capture_on_thread(void)
{
	pthread_attr_t attr;
	pthread_t t;
	void *addr;
	size_t size;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1 << 20);
	addr = aligned_alloc(4096, 1 << 20);
	pthread_attr_setstack(&attr, addr, 1 << 20);
	pthread_attr_getstack(&attr, &addr, &size);
	cap->stack_top = (uint64_t)addr + size;
	CHECK(pthread_create(&t, &attr, thread_main, NULL) == 0);
	pthread_join(t, NULL);
	pthread_attr_destroy(&attr);
	/* The stack stays allocated: the snapshot holds a copy anyway. */
	free(addr);
}

TEST(unwinds_a_thread_to_its_entry)
{
	struct unwinder *u = unwinder_new();
	uint64_t pcs[STACKCOUNT_DEPTH_MAX];
	size_t n = 0;
	bool complete = false;

	cap = calloc(1, sizeof(*cap));
	CHECK(u && cap);
	if (!u || !cap)
		return;
	capture_on_thread();
	CHECK_INT_EQ(unwinder_unwind(u, &cap->snap, 0, pcs, STACKCOUNT_DEPTH_MAX, &n, &complete),
		     0);
	CHECK(complete);
	CHECK(n >= 4);
	if (n >= 4) {
		CHECK_INT_EQ(pcs[0], cap->snap.regs[UNWIND_REG_IP]);
		CHECK_INT_EQ(pcs[1], cap->ret_addrs[0]); /* in level_two */
		CHECK_INT_EQ(pcs[2], cap->ret_addrs[1]); /* in level_one */
		CHECK_INT_EQ(pcs[3], cap->ret_addrs[2]); /* in thread_main */
	}
	/* The C library's thread start code lies beyond thread_main. */
	CHECK(n >= 5 && n <= 8);
	unwinder_free(u);
	free(cap);
}

TEST(a_short_stack_copy_ends_the_stack_incomplete)
{
	struct unwinder *u = unwinder_new();
	uint64_t pcs[STACKCOUNT_DEPTH_MAX];
	size_t n = 0;
	bool complete = true;

	cap = calloc(1, sizeof(*cap));
	CHECK(u && cap);
	if (!u || !cap)
		return;
	capture_on_thread();
	cap->snap.stack_len = 8; /* the caller's frame is not in the copy */
	CHECK_INT_EQ(unwinder_unwind(u, &cap->snap, 0, pcs, STACKCOUNT_DEPTH_MAX, &n, &complete),
		     0);
	CHECK(!complete);
	CHECK(n >= 1 && n < 4);
	CHECK_INT_EQ(pcs[0], cap->snap.regs[UNWIND_REG_IP]);
	unwinder_free(u);
	free(cap);
}

TEST(a_process_that_does_not_exist_is_an_error)
{
	struct unwinder *u = unwinder_new();
	struct unwind_snapshot *s = calloc(1, sizeof(*s));
	uint64_t pcs[4];
	size_t n = 1;
	bool complete = true;

	CHECK(u && s);
	if (!u || !s)
		return;
	s->pid = s->tid = 0x7ffffff0; /* above any pid_max */
	CHECK(unwinder_unwind(u, s, 0, pcs, 4, &n, &complete) < 0);
	CHECK_INT_EQ(n, 0);
	CHECK(!complete);
	unwinder_free(u);
	free(s);
}

int main(void)
{
	RUN(unwinds_a_thread_to_its_entry);
	RUN(a_short_stack_copy_ends_the_stack_incomplete);
	RUN(a_process_that_does_not_exist_is_an_error);
	return harness_finish();
}
