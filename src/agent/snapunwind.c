/* snapunwind: see snapunwind.h. The thread sleeps in epoll_wait on the ring
 * buffer and an eventfd for at most SNAPUNWIND_POLL_MS (the BPF side writes
 * on-CPU samples without wake-ups until the ring is UNWIND_RING_WAKE_BYTES
 * full, so a busy host costs no wake-up per sample; off-CPU sites wake it
 * when it is idle). The eventfd is for a drain asking it to catch up and for
 * the stop. The table is a chained hash
 * of stacks keyed by their content, guarded by `lock`; a drain swaps it for
 * an empty one and reads it outside the lock. */
#include "agent/snapunwind.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/unwind.h"
#include "util/log.h"

#define BUCKETS 4096

struct agg {
	struct agg *next;
	uint64_t hash;
	uint32_t pid;
	int32_t user_err, kernel_err;
	uint16_t n_user, n_kernel;
	bool complete;
	uint64_t count;
	uint64_t ips[]; /* n_user user pcs, then n_kernel kernel ips */
};

struct table {
	struct agg *buckets[BUCKETS];
	size_t n;
};

/* A learned frame-pointer walk: its pid and outermost address, and the
 * outermost frames the CFI found beyond it. */
struct tail {
	struct tail *next;
	uint32_t pid, n;
	uint64_t top;
	uint64_t pcs[SNAPUNWIND_TAIL_MAX];
};

/* An off-CPU blocking site's unwound stack; immutable once published. */
struct site {
	uint32_t n;
	bool complete;
	uint64_t pcs[];
};

struct snapunwind {
	pthread_t thread;
	bool thread_started;
	struct ring_buffer *rb;
	int fp_complete_fd, sites_fd;
	struct unwinder *unwinder;
	struct site *sites[SNAPUNWIND_SITES_MAX];
	size_t n_sites; /* published: read under `lock` */
	pthread_mutex_t lock;
	int epoll_fd, wake_fd;
	pthread_cond_t caught_up;
	bool stop;
	uint64_t sync_requested, sync_done;
	struct table *table;
	struct tail *tails[BUCKETS];
	size_t n_tails;
	struct snapunwind_stats stats;
	uint64_t pcs[STACKCOUNT_DEPTH_MAX]; /* the thread's scratch */
};

static int64_t clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t hash_words(uint64_t h, const uint64_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= w[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

static void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t b = 0; b < BUCKETS; b++) {
		struct agg *a = t->buckets[b];

		while (a) {
			struct agg *next = a->next;

			free(a);
			a = next;
		}
	}
	free(t);
}

/* Counts one stack; called with `lock` held. A full table counts the
 * sample as lost for its pid (an entry with no frames). */
static void table_add(struct table *t, uint32_t pid, bool complete, int32_t user_err,
		      const uint64_t *user, size_t n_user, int32_t kernel_err,
		      const uint64_t *kernel, size_t n_kernel)
{
	uint64_t head[4] = {pid, complete, (uint32_t)user_err, (uint32_t)kernel_err};
	uint64_t h;
	struct agg **slot, *a;

	if (t->n >= SNAPUNWIND_STACKS_MAX) {
		complete = false;
		user_err = -ENOSPC;
		n_user = 0;
		kernel_err = -EFAULT;
		n_kernel = 0;
		head[1] = 0;
		head[2] = (uint32_t)user_err;
		head[3] = (uint32_t)kernel_err;
	}
	h = hash_words(0xcbf29ce484222325ULL, head, 4);
	h = hash_words(h ^ n_user, user, n_user);
	h = hash_words(h ^ n_kernel, kernel, n_kernel);
	for (slot = &t->buckets[h % BUCKETS]; (a = *slot); slot = &a->next) {
		if (a->hash == h && a->pid == pid && a->complete == complete &&
		    a->user_err == user_err && a->kernel_err == kernel_err && a->n_user == n_user &&
		    a->n_kernel == n_kernel && !memcmp(a->ips, user, n_user * sizeof(uint64_t)) &&
		    !memcmp(a->ips + n_user, kernel, n_kernel * sizeof(uint64_t))) {
			a->count++;
			return;
		}
	}
	a = malloc(sizeof(*a) + (n_user + n_kernel) * sizeof(uint64_t));
	if (!a)
		return; /* out of memory: the sample is gone, nothing sane to do */
	*a = (struct agg){.hash = h,
			  .pid = pid,
			  .user_err = user_err,
			  .kernel_err = kernel_err,
			  .n_user = (uint16_t)n_user,
			  .n_kernel = (uint16_t)n_kernel,
			  .complete = complete,
			  .count = 1};
	memcpy(a->ips, user, n_user * sizeof(uint64_t));
	memcpy(a->ips + n_user, kernel, n_kernel * sizeof(uint64_t));
	*slot = a;
	t->n++;
}

/* How many outermost frames the CFI found beyond a frame-pointer walk that
 * is otherwise identical (-1: the walks differ, or too many are missing). */
static int fp_walk_tail(const struct unwind_snapshot *s, const uint64_t *pcs, size_t n)
{
	if (s->n_fp <= 0 || (size_t)s->n_fp > n || n - (size_t)s->n_fp > SNAPUNWIND_TAIL_MAX)
		return -1;
	if (memcmp(s->fp_ips, pcs, (size_t)s->n_fp * sizeof(uint64_t)) != 0)
		return -1;
	return (int)(n - (size_t)s->n_fp);
}

static struct tail **tail_slot(struct snapunwind *su, uint32_t pid, uint64_t top)
{
	uint64_t key[2] = {pid, top};
	struct tail **p = &su->tails[hash_words(0xcbf29ce484222325ULL, key, 2) % BUCKETS];

	while (*p && ((*p)->pid != pid || (*p)->top != top))
		p = &(*p)->next;
	return p;
}

/* Remembers the tail of a complete frame-pointer walk and lets the kernel
 * keep such samples; called with `lock` held. */
static void learn_fp_walk(struct snapunwind *su, const struct unwind_snapshot *s,
			  const uint64_t *pcs, int n_tail)
{
	struct unwind_top_key key = {.pid = s->pid, .ip = s->fp_ips[s->n_fp - 1]};
	struct tail **slot = tail_slot(su, s->pid, key.ip), *t;
	uint8_t one = 1;

	if (*slot || su->n_tails >= SNAPUNWIND_TOPS_MAX)
		return;
	t = calloc(1, sizeof(*t));
	if (!t)
		return;
	t->pid = s->pid;
	t->top = key.ip;
	t->n = (uint32_t)n_tail;
	memcpy(t->pcs, pcs + s->n_fp, (size_t)n_tail * sizeof(uint64_t));
	*slot = t;
	su->n_tails++;
	if (bpf_map_update_elem(su->fp_complete_fd, &key, &one, BPF_ANY) == 0)
		su->stats.learned++;
}

int snapunwind_tail(struct snapunwind *su, uint32_t pid, uint64_t top, uint64_t *ret_pcs)
{
	const struct tail *t;
	int n = -1;

	pthread_mutex_lock(&su->lock);
	t = *tail_slot(su, pid, top);
	if (t) {
		memcpy(ret_pcs, t->pcs, t->n * sizeof(uint64_t));
		n = (int)t->n;
	}
	pthread_mutex_unlock(&su->lock);
	return n;
}

/* Off-CPU: publishes the unwound stack of a blocking site and tells the
 * kernel its id (or that it failed: its blocks keep the frame-pointer walk). */
static void name_site(struct snapunwind *su, const struct unwind_snapshot *s, const uint64_t *pcs,
		      size_t n, bool complete, int n_tail)
{
	struct unwind_site_key key = {
	    .pid = s->pid, .ip = s->regs[UNWIND_REG_IP], .sp = s->regs[UNWIND_REG_SP]};
	int32_t value = UNWIND_SITE_FAILED;
	struct site *site = NULL;

	if (pcs && n && su->n_sites < SNAPUNWIND_SITES_MAX) {
		site = malloc(sizeof(*site) + n * sizeof(uint64_t));
		if (site) {
			site->n = (uint32_t)n;
			site->complete = complete;
			memcpy(site->pcs, pcs, n * sizeof(uint64_t));
		}
	}
	pthread_mutex_lock(&su->lock);
	if (n_tail >= 0)
		learn_fp_walk(su, s, su->pcs, n_tail);
	if (site) {
		value = UNWIND_ID_BASE + (int32_t)su->n_sites;
		su->sites[su->n_sites++] = site;
	}
	su->stats.snapshots++;
	su->stats.complete += complete;
	su->stats.failed += !site;
	su->stats.stack_bytes += s->stack_len;
	pthread_mutex_unlock(&su->lock);
	bpf_map_update_elem(su->sites_fd, &key, &value, BPF_ANY);
}

int snapunwind_lookup(struct snapunwind *su, int32_t id, const uint64_t **ret_pcs, size_t *ret_n,
		      bool *ret_complete)
{
	const struct site *site = NULL;

	pthread_mutex_lock(&su->lock);
	if (id >= UNWIND_ID_BASE && (size_t)(id - UNWIND_ID_BASE) < su->n_sites)
		site = su->sites[id - UNWIND_ID_BASE];
	pthread_mutex_unlock(&su->lock);
	if (!site)
		return -ENOENT;
	*ret_pcs = site->pcs;
	*ret_n = site->n;
	*ret_complete = site->complete;
	return 0;
}

static int on_snapshot(void *ctx, void *data, size_t size)
{
	struct snapunwind *su = ctx;
	const struct unwind_snapshot *s = data;
	const size_t header = offsetof(struct unwind_snapshot, stack);
	const uint64_t *user = su->pcs;
	size_t n = 0, n_kernel;
	bool complete = false;
	int32_t kernel_err = 0;
	int err, n_tail;

	if (size < header || s->stack_len > size - header || s->n_fp > STACKCOUNT_DEPTH_MAX ||
	    s->n_kernel > STACKCOUNT_DEPTH_MAX)
		return 0; /* not ours: ignore */
	err = unwinder_unwind(su->unwinder, s, clock_ms(CLOCK_MONOTONIC), su->pcs,
			      STACKCOUNT_DEPTH_MAX, &n, &complete);
	if (err && s->n_fp > 0) {
		user = (const uint64_t *)s->fp_ips; /* better the frame-pointer walk than nothing */
		n = (size_t)s->n_fp;
	}
	n_tail = complete && !err ? fp_walk_tail(s, su->pcs, n) : -1;
	if (s->kind == UNWIND_KIND_SITE) {
		name_site(su, s, err ? NULL : su->pcs, n, complete, n_tail);
		return 0;
	}
	n_kernel = s->n_kernel > 0 ? (size_t)s->n_kernel : 0;
	if (s->n_kernel <= 0)
		kernel_err = s->n_kernel < 0 ? s->n_kernel : -EFAULT;
	pthread_mutex_lock(&su->lock);
	if (n_tail >= 0)
		learn_fp_walk(su, s, su->pcs, n_tail);
	table_add(su->table, s->pid, complete, n ? 0 : -EFAULT, user, n, kernel_err,
		  (const uint64_t *)s->kernel_ips, n_kernel);
	su->stats.snapshots++;
	su->stats.complete += complete;
	su->stats.failed += err != 0;
	su->stats.stack_bytes += s->stack_len;
	pthread_mutex_unlock(&su->lock);
	return 0;
}

/* Wakes the thread: a drain or a stop wants it. */
static void wake_thread(struct snapunwind *su)
{
	uint64_t one = 1;

	/* A full counter (never: it is read back each round) is a wake-up too. */
	(void)!write(su->wake_fd, &one, sizeof(one));
}

static void *run(void *arg)
{
	struct snapunwind *su = arg;

	for (;;) {
		uint64_t requested, t0, spent_ns, count;
		struct cfirule_stats rules;
		struct epoll_event ev;
		bool stop, asked;
		int consumed;

		pthread_mutex_lock(&su->lock);
		stop = su->stop;
		asked = su->sync_requested != su->sync_done;
		pthread_mutex_unlock(&su->lock);
		if (stop)
			break;
		/* Until the poll interval ends, the kernel says the ring buffer
		 * is filling up or holds an off-CPU site, or someone asks. */
		if (!asked)
			epoll_wait(su->epoll_fd, &ev, 1, SNAPUNWIND_POLL_MS);
		(void)!read(su->wake_fd, &count, sizeof(count)); /* reset, before reading the ask */
		pthread_mutex_lock(&su->lock);
		requested = su->sync_requested;
		pthread_mutex_unlock(&su->lock);
		t0 = thread_cpu_ns();
		consumed = ring_buffer__consume(su->rb);
		unwinder_expire(su->unwinder, clock_ms(CLOCK_MONOTONIC));
		unwinder_get_stats(su->unwinder, &rules);
		/* Timed per batch: a thread CPU clock read is a system call. */
		spent_ns = consumed > 0 ? thread_cpu_ns() - t0 : 0;
		pthread_mutex_lock(&su->lock);
		su->stats.unwind_ns += spent_ns;
		su->stats.by_rules = rules.walks;
		su->stats.rules_computed = rules.computed;
		su->sync_done = requested;
		pthread_cond_broadcast(&su->caught_up);
		pthread_mutex_unlock(&su->lock);
	}
	return NULL;
}

/* The thread's wait set: the ring buffer (readable when the kernel wakes
 * it) and the eventfd of wake_thread(). 0 or -errno. */
static int open_wait_set(struct snapunwind *su, int snapshots_fd)
{
	struct epoll_event ring = {.events = EPOLLIN}, wake = {.events = EPOLLIN};

	su->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	su->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (su->epoll_fd < 0 || su->wake_fd < 0)
		return -errno;
	if (epoll_ctl(su->epoll_fd, EPOLL_CTL_ADD, snapshots_fd, &ring) != 0 ||
	    epoll_ctl(su->epoll_fd, EPOLL_CTL_ADD, su->wake_fd, &wake) != 0)
		return -errno;
	return 0;
}

struct snapunwind *snapunwind_start(int snapshots_fd, int fp_complete_fd, int sites_fd)
{
	struct snapunwind *su = calloc(1, sizeof(*su));
	pthread_condattr_t attr;
	int err = ENOMEM;

	if (!su)
		goto fail;
	su->epoll_fd = su->wake_fd = -1;
	pthread_mutex_init(&su->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&su->caught_up, &attr);
	pthread_condattr_destroy(&attr);
	su->fp_complete_fd = fp_complete_fd;
	su->sites_fd = sites_fd;
	su->table = calloc(1, sizeof(*su->table));
	su->unwinder = unwinder_new();
	if (!su->table || !su->unwinder)
		goto fail;
	su->rb = ring_buffer__new(snapshots_fd, on_snapshot, su, NULL);
	if (!su->rb) {
		err = errno ? errno : EINVAL;
		goto fail;
	}
	err = -open_wait_set(su, snapshots_fd);
	if (err)
		goto fail;
	err = pthread_create(&su->thread, NULL, run, su);
	if (err)
		goto fail;
	su->thread_started = true;
	return su;
fail:
	snapunwind_stop(su);
	errno = err;
	return NULL;
}

struct snapunwind *snapunwind_stop(struct snapunwind *su)
{
	if (!su)
		return NULL;
	if (su->thread_started) {
		pthread_mutex_lock(&su->lock);
		su->stop = true;
		pthread_mutex_unlock(&su->lock);
		wake_thread(su);
		pthread_join(su->thread, NULL);
	}
	for (size_t b = 0; b < BUCKETS; b++) {
		while (su->tails[b]) {
			struct tail *t = su->tails[b];

			su->tails[b] = t->next;
			free(t);
		}
	}
	for (size_t i = 0; i < su->n_sites; i++)
		free(su->sites[i]);
	ring_buffer__free(su->rb);
	unwinder_free(su->unwinder);
	table_free(su->table);
	if (su->epoll_fd >= 0)
		close(su->epoll_fd);
	if (su->wake_fd >= 0)
		close(su->wake_fd);
	pthread_cond_destroy(&su->caught_up);
	pthread_mutex_destroy(&su->lock);
	free(su);
	return NULL;
}

int snapunwind_drain(struct snapunwind *su, stackdrain_fn fn, void *ctx)
{
	struct table *fresh = calloc(1, sizeof(*fresh)), *t;
	struct timespec until;
	uint64_t ticket;
	int n = 0;

	if (!fresh)
		return -ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += SNAPUNWIND_SYNC_MS / 1000;
	pthread_mutex_lock(&su->lock);
	ticket = ++su->sync_requested;
	wake_thread(su);
	while (su->sync_done < ticket && !su->stop)
		if (pthread_cond_timedwait(&su->caught_up, &su->lock, &until) == ETIMEDOUT)
			break;
	t = su->table;
	su->table = fresh;
	pthread_mutex_unlock(&su->lock);
	for (size_t b = 0; b < BUCKETS; b++) {
		for (const struct agg *a = t->buckets[b]; a; a = a->next) {
			struct stackdrain_record r = {
			    .pid = a->pid,
			    .user = a->ips,
			    .n_user = a->n_user,
			    .user_err = a->user_err,
			    .user_complete = a->complete,
			    .kernel = a->ips + a->n_user,
			    .n_kernel = a->n_kernel,
			    .kernel_err = a->kernel_err,
			    .count = a->count,
			};

			fn(ctx, &r);
			n++;
		}
	}
	table_free(t);
	return n;
}

void snapunwind_log_stats(struct snapunwind *su, const char *who, uint64_t dropped)
{
	struct snapunwind_stats us;

	snapunwind_get_stats(su, &us);
	if (!us.snapshots && !dropped)
		return;
	log_info("%s: CFI unwinding: %llu snapshots, %llu complete, %llu failed, %llu dropped, "
		 "%llu frame-pointer tops learned, %llu walked by cached rules (%llu rules "
		 "computed), %.1f KiB of stack, %.1f us per snapshot",
		 who, (unsigned long long)us.snapshots, (unsigned long long)us.complete,
		 (unsigned long long)us.failed, (unsigned long long)dropped,
		 (unsigned long long)us.learned, (unsigned long long)us.by_rules,
		 (unsigned long long)us.rules_computed,
		 us.snapshots ? (double)us.stack_bytes / 1024.0 / (double)us.snapshots : 0.0,
		 us.snapshots ? (double)us.unwind_ns / 1e3 / (double)us.snapshots : 0.0);
}

void snapunwind_get_stats(struct snapunwind *su, struct snapunwind_stats *ret)
{
	pthread_mutex_lock(&su->lock);
	*ret = su->stats;
	pthread_mutex_unlock(&su->lock);
}
