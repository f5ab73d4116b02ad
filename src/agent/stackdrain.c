/* stackdrain: see stackdrain.h. The user-space stack cache is keyed by
 * (generation, stack id); on-CPU keeps nothing in it between drains. */
#include "agent/stackdrain.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent/snapunwind.h"
#include "agent/stackcount.h"
#include "agent/unwind_abi.h"

#define CACHE_BUCKETS 1024
/* When membarrier cannot wait for a grace period: programs run for
 * microseconds, so this is ample. */
#define FALLBACK_QUIESCE_NS (20 * 1000 * 1000)

struct cached_stack {
	uint64_t ref; /* gen << 32 | id */
	uint32_t n;
	struct cached_stack *next;
	uint64_t ips[];
};

struct stackdrain {
	struct stackdrain_maps maps;
	struct stack_key *keys;
	struct stack_value *values;
	struct cached_stack *cache[CACHE_BUCKETS];
	uint64_t *inflight; /* refs still needed after this drain, sorted */
	size_t n_inflight, inflight_cap;
	uint64_t ips[STACKCOUNT_DEPTH_MAX];
	uint64_t completed[STACKCOUNT_DEPTH_MAX + SNAPUNWIND_TAIL_MAX];
};

static uint64_t make_ref(uint32_t gen, int32_t id)
{
	return (uint64_t)gen << 32 | (uint32_t)id;
}

struct stackdrain *stackdrain_new(const struct stackdrain_maps *maps)
{
	struct stackdrain *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->maps = *maps;
	d->keys = calloc(maps->counts_max, sizeof(*d->keys));
	d->values = calloc(maps->counts_max, sizeof(*d->values));
	if (!d->keys || !d->values)
		return stackdrain_free(d);
	return d;
}

static void cache_clear_unpinned(struct stackdrain *d);

struct stackdrain *stackdrain_free(struct stackdrain *d)
{
	if (!d)
		return NULL;
	d->n_inflight = 0;
	cache_clear_unpinned(d);
	free(d->inflight);
	free(d->keys);
	free(d->values);
	free(d);
	return NULL;
}

static struct cached_stack **cache_slot(struct stackdrain *d, uint64_t ref)
{
	struct cached_stack **p = &d->cache[(ref * 0x9E3779B97F4A7C15ULL) >> 54];

	while (*p && (*p)->ref != ref)
		p = &(*p)->next;
	return p;
}

static int cmp_ref(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_inflight(const struct stackdrain *d, uint64_t ref)
{
	return d->n_inflight &&
	       bsearch(&ref, d->inflight, d->n_inflight, sizeof(ref), cmp_ref) != NULL;
}

/* Drops every cached stack no longer referenced from the kernel. */
static void cache_clear_unpinned(struct stackdrain *d)
{
	for (size_t b = 0; b < CACHE_BUCKETS; b++) {
		struct cached_stack **p = &d->cache[b];

		while (*p) {
			struct cached_stack *c = *p;

			if (is_inflight(d, c->ref)) {
				p = &c->next;
				continue;
			}
			*p = c->next;
			free(c);
		}
	}
}

/* Copies stack `id` of the generation `gen` from `stacks_fd` into the cache. */
static int cache_fill(struct stackdrain *d, int stacks_fd, uint32_t gen, int32_t id)
{
	uint64_t ref = make_ref(gen, id);
	struct cached_stack **slot = cache_slot(d, ref), *c;
	uint32_t n = 0;

	if (id < 0 || id >= UNWIND_ID_BASE || *slot)
		return 0; /* no stack, an unwound one (snapunwind), or copied already */
	memset(d->ips, 0, sizeof(d->ips));
	if (bpf_map_lookup_elem(stacks_fd, &id, d->ips) != 0)
		return 0; /* gone: the record shows it as lost */
	while (n < STACKCOUNT_DEPTH_MAX && d->ips[n])
		n++;
	c = malloc(sizeof(*c) + n * sizeof(uint64_t));
	if (!c)
		return -ENOMEM;
	c->ref = ref;
	c->n = n;
	c->next = NULL;
	memcpy(c->ips, d->ips, n * sizeof(uint64_t));
	*slot = c;
	return 0;
}

static int inflight_add(struct stackdrain *d, uint32_t gen, int32_t id)
{
	if (id < 0)
		return 0;
	if (d->n_inflight == d->inflight_cap) {
		size_t cap = d->inflight_cap ? d->inflight_cap * 2 : 256;
		uint64_t *p = realloc(d->inflight, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		d->inflight = p;
		d->inflight_cap = cap;
	}
	d->inflight[d->n_inflight++] = make_ref(gen, id);
	return 0;
}

/* Off-CPU: stacks that later counts may still reference — those of threads
 * blocked now, and those in counts of the live buffer. The BPF side adds a
 * count before it deletes the blocked entry, so a reference cannot slip
 * between the two scans. */
static int collect_inflight(struct stackdrain *d, uint32_t old_gen)
{
	int live_fd = d->maps.counts_fd[(old_gen + 1) & 1];
	struct stack_key key, next;
	uint32_t tid, next_tid;
	bool first = true;
	int err = 0;

	d->n_inflight = 0;
	if (d->maps.starts_fd < 0)
		return 0;
	while (!err &&
	       bpf_map_get_next_key(d->maps.starts_fd, first ? NULL : &tid, &next_tid) == 0) {
		struct stack_start st;

		first = false;
		tid = next_tid;
		if (bpf_map_lookup_elem(d->maps.starts_fd, &tid, &st) != 0)
			continue;
		err = inflight_add(d, st.gen, st.user_stack);
		if (!err)
			err = inflight_add(d, st.gen, st.kernel_stack);
	}
	first = true;
	while (!err && bpf_map_get_next_key(live_fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (key.gen == old_gen + 1)
			continue;
		err = inflight_add(d, key.gen, key.user_stack);
		if (!err)
			err = inflight_add(d, key.gen, key.kernel_stack);
	}
	if (d->n_inflight)
		qsort(d->inflight, d->n_inflight, sizeof(uint64_t), cmp_ref);
	return err;
}

/* Waits until no BPF program runs with the old generation. */
static void quiesce(void)
{
	struct timespec ts = {0, FALLBACK_QUIESCE_NS};

	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
		return;
	nanosleep(&ts, NULL);
}

/* Takes every count of buffer `fd`: batched when the kernel can. */
static int take_counts(struct stackdrain *d, int fd, uint32_t *ret_n)
{
	uint32_t total = 0, batch_token = 0;
	bool first = true;
	int err;

	for (;;) {
		uint32_t count = d->maps.counts_max - total;
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		if (!count)
			break;
		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &batch_token, &batch_token,
						      d->keys + total, d->values + total, &count,
						      &opts);
		first = false;
		if (err && err != -ENOENT) {
			if (total == 0 && (err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP))
				break; /* no batch ops here: one by one below */
			*ret_n = total;
			return err;
		}
		total += count;
		if (err == -ENOENT) {
			*ret_n = total;
			return 0;
		}
	}
	/* One by one: the buffer is idle, so deleting while walking is safe. */
	while (total < d->maps.counts_max && bpf_map_get_next_key(fd, NULL, &d->keys[total]) == 0) {
		struct stack_key *k = &d->keys[total];

		if (bpf_map_lookup_elem(fd, k, &d->values[total]) == 0 &&
		    bpf_map_delete_elem(fd, k) == 0)
			total++;
		else if (bpf_map_delete_elem(fd, k) != 0)
			break;
	}
	*ret_n = total;
	return 0;
}

static void clear_stacks(int fd)
{
	uint32_t id;

	while (bpf_map_get_next_key(fd, NULL, &id) == 0)
		if (bpf_map_delete_elem(fd, &id) != 0)
			break;
}

static void resolve_part(struct stackdrain *d, uint32_t gen, int32_t id, const uint64_t **ips,
			 size_t *n, int *err)
{
	struct cached_stack *c;

	*ips = NULL;
	*n = 0;
	if (id < 0) {
		*err = id;
		return;
	}
	c = *cache_slot(d, make_ref(gen, id));
	if (!c || !c->n) {
		*err = -ENOENT;
		return;
	}
	*ips = c->ips;
	*n = c->n;
	*err = 0;
}

/* A user stack whose frame-pointer walk the unwinder learned as complete:
 * its outermost frames the walk cannot see are added back. */
static void complete_user(struct stackdrain *d, struct stackdrain_record *r)
{
	int n_tail;

	if (!d->maps.unwound || r->user_err || !r->n_user || r->user_complete)
		return;
	n_tail = snapunwind_tail(d->maps.unwound, r->pid, r->user[r->n_user - 1],
				 d->completed + r->n_user);
	if (n_tail < 0)
		return;
	memcpy(d->completed, r->user, r->n_user * sizeof(uint64_t));
	r->user = d->completed;
	r->n_user += (size_t)n_tail;
	r->user_complete = true;
}

int stackdrain_run(struct stackdrain *d, stackdrain_fn fn, void *ctx)
{
	uint32_t old_gen = __atomic_load_n(d->maps.gen, __ATOMIC_RELAXED);
	int counts_fd = d->maps.counts_fd[old_gen & 1];
	int stacks_fd = d->maps.stacks_fd[old_gen & 1];
	uint32_t n = 0;
	int err, err2;

	__atomic_store_n(d->maps.gen, old_gen + 1, __ATOMIC_SEQ_CST);
	quiesce();
	err = take_counts(d, counts_fd, &n);
	err2 = collect_inflight(d, old_gen);
	if (!err)
		err = err2;
	/* Copy what the drained counts and the in-flight references need from
	 * the idle stack map, then empty it for its next turn. */
	for (uint32_t i = 0; i < n; i++) {
		if (d->keys[i].gen != old_gen)
			continue;
		err2 = cache_fill(d, stacks_fd, old_gen, d->keys[i].user_stack);
		if (!err2)
			err2 = cache_fill(d, stacks_fd, old_gen, d->keys[i].kernel_stack);
		if (err2 && !err)
			err = err2;
	}
	for (size_t i = 0; i < d->n_inflight; i++) {
		uint64_t ref = d->inflight[i];

		if ((uint32_t)(ref >> 32) != old_gen)
			continue;
		err2 = cache_fill(d, stacks_fd, old_gen, (int32_t)(uint32_t)ref);
		if (err2 && !err)
			err = err2;
	}
	clear_stacks(stacks_fd);
	for (uint32_t i = 0; i < n; i++) {
		const struct stack_key *k = &d->keys[i];
		struct stackdrain_record r = {
		    .pid = k->pid, .count = d->values[i].count, .total_ns = d->values[i].total_ns};

		if (k->user_stack >= UNWIND_ID_BASE && d->maps.unwound)
			r.user_err = snapunwind_lookup(d->maps.unwound, k->user_stack, &r.user,
						       &r.n_user, &r.user_complete);
		else
			resolve_part(d, k->gen, k->user_stack, &r.user, &r.n_user, &r.user_err);
		resolve_part(d, k->gen, k->kernel_stack, &r.kernel, &r.n_kernel, &r.kernel_err);
		complete_user(d, &r);
		fn(ctx, &r);
	}
	cache_clear_unpinned(d);
	if (d->maps.unwound) {
		err2 = snapunwind_drain(d->maps.unwound, fn, ctx);
		if (err2 < 0 && !err)
			err = err2;
		else if (err2 > 0)
			n += (uint32_t)err2;
	}
	return err ? err : (int)n;
}
