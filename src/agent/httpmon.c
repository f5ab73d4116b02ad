/* httpmon: see httpmon.h. */
#include "agent/httpmon.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "httpmon.skel.h"

/* Links being destroyed on the detacher thread. */
struct link_batch {
	struct bpf_link **links;
	int n;
	uint64_t took_ns;
};

/* The loader thread's input and result: written by the thread only, read by
 * the owner only after pthread_join(). */
struct load_result {
	uint32_t wakeup_every; /* input */
	int efd;	       /* input: written once when done */
	struct httpmon_bpf *skel;
	int err;
	uint64_t took_ns;
};

struct httpmon {
	struct httpmon_bpf *skel; /* NULL until the first load completed */
	struct ring_buffer *ring;
	struct netprof_slot *slots; /* `netconns` mmap'd (NETPROF_CONNS_MAX) */
	size_t slots_size;
	bool loading; /* `loader` runs and must be joined */
	pthread_t loader;
	struct load_result load;
	int load_efd;	  /* in epoll_fd: readable when the loader is done */
	int error;	  /* last failed load/attach, 0 after a success */
	bool error_fresh; /* not handed out by httpmon_take_error() yet */
	httpmon_ready_fn ready_fn;
	void *ready_ctx;
	uint64_t heads_floor_ns, heads_budget; /* the last httpmon_net_set_heads() */
	bool attached;
	bool detaching; /* `detacher` runs and must be joined */
	pthread_t detacher;
	struct link_batch *batch;
	int epoll_fd; /* stable fd the loop polls; holds the ring's fd */
	uint32_t wakeup_every;
	struct pidset http_pids, net_pids; /* httpmon_watch, httpmon_net_watch */
	bool net_attached;
	httpmon_fn fn;
	void *ctx;
	httpmon_net_fn net_fn;
	void *net_ctx;
	uint64_t load_ns, attach_ns, detach_ns;
};

/* The NETWORK-only programs (netprof.bpf.h): attached with the first
 * httpmon_net_watch() and detached with the last httpmon_net_unwatch(). */
static void net_programs(struct httpmon_bpf *skel, struct bpf_program **progs,
			 struct bpf_link ***links)
{
	int i = 0;

#define NET_PROG(name) (progs[i] = skel->progs.name, links[i] = &skel->links.name, i++)
	NET_PROG(net_enter_read);
	NET_PROG(net_enter_readv);
	NET_PROG(net_enter_recvfrom);
	NET_PROG(net_enter_recvmsg);
	NET_PROG(net_exit_write);
	NET_PROG(net_exit_writev);
	NET_PROG(net_exit_sendto);
	NET_PROG(net_exit_sendmsg);
	NET_PROG(net_exit_connect);
	NET_PROG(net_enter_close);
	NET_PROG(net_retransmit);
#undef NET_PROG
}

static bool pidset_has(const struct pidset *ps, uint32_t pid)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->pids[i] == pid)
			return true;
	return false;
}

static int pidset_add(struct pidset *ps, uint32_t pid)
{
	if (pidset_has(ps, pid))
		return 0;
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 16;
		uint32_t *p = realloc(ps->pids, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		ps->pids = p;
		ps->cap = cap;
	}
	ps->pids[ps->n++] = pid;
	return 1;
}

static bool pidset_del(struct pidset *ps, uint32_t pid)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->pids[i] == pid) {
			ps->pids[i] = ps->pids[--ps->n];
			return true;
		}
	return false;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void httpmon_decode(const struct httpmon_event *e, struct httpmon_request *r)
{
	size_t n = e->uri_len < HTTPMON_URI_MAX ? e->uri_len : HTTPMON_URI_MAX;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->pid = e->pid;
	r->fd = e->fd;
	r->role =
	    e->role <= HTTPMON_ROLE_CLIENT ? (enum httpmon_role)e->role : HTTPMON_ROLE_UNKNOWN;
	r->method = e->method < HTTPMON_METHOD_COUNT ? (enum httpmon_method)e->method
						     : HTTPMON_METHOD_UNKNOWN;
	r->status = e->status;
	r->start_ns = e->start_ns;
	r->end_ns = e->end_ns;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)e->uri[i];

		if (c == ' ' || c == '\r' || c == '\n' || c == '\0')
			break;
		r->uri[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	r->uri[i] = '\0';
	r->uri_truncated = i == n;
}

static int on_record(void *ctx, void *data, size_t size)
{
	const size_t head = offsetof(struct httpmon_event, uri);
	struct httpmon *hm = ctx;
	struct httpmon_request req;
	struct httpmon_event e;

	/* Records carry only the URI bytes the request had. */
	if (size < head)
		return 0;
	if (((const struct httpmon_event *)data)->kind != NETPROF_REC_REQUEST) {
		if (hm->net_fn)
			hm->net_fn(data, size, hm->net_ctx);
		return 0;
	}
	memset(&e, 0, sizeof(e));
	memcpy(&e, data, size < sizeof(e) ? size : sizeof(e));
	if (e.uri_len > size - head)
		e.uri_len = (uint16_t)(size - head);
	httpmon_decode(&e, &req);
	hm->fn(&req, hm->ctx);
	return 0;
}

int httpmon_open(httpmon_fn fn, void *ctx, uint32_t wakeup_every, struct httpmon **ret)
{
	struct httpmon *hm = calloc(1, sizeof(*hm));

	if (!hm)
		return -ENOMEM;
	hm->fn = fn;
	hm->ctx = ctx;
	hm->wakeup_every = wakeup_every;
	hm->load_efd = -1;
	hm->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (hm->epoll_fd < 0) {
		int err = -errno;

		free(hm);
		return err;
	}
	hm->load_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (hm->load_efd < 0 || epoll_ctl(hm->epoll_fd, EPOLL_CTL_ADD, hm->load_efd,
					  &(struct epoll_event){.events = EPOLLIN})) {
		int err = -errno;

		httpmon_close(hm);
		return err;
	}
	*ret = hm;
	return 0;
}

static void unload(struct httpmon *hm)
{
	httpmon_wait_detached(hm);
	if (hm->ring)
		epoll_ctl(hm->epoll_fd, EPOLL_CTL_DEL, ring_buffer__epoll_fd(hm->ring), NULL);
	ring_buffer__free(hm->ring);
	hm->ring = NULL;
	if (hm->slots)
		munmap(hm->slots, hm->slots_size);
	hm->slots = NULL;
	httpmon_bpf__destroy(hm->skel);
	hm->skel = NULL;
	hm->attached = false;
}

/* Maps the `netconns` slots (an mmap-able array) into hm->slots. */
static int map_slots(struct httpmon *hm)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	hm->slots_size = (NETPROF_CONNS_MAX * sizeof(struct netprof_slot) + (size_t)page - 1) /
			 (size_t)page * (size_t)page;
	p = mmap(NULL, hm->slots_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(hm->skel->maps.netconns), 0);
	if (p == MAP_FAILED)
		return -errno;
	hm->slots = p;
	return 0;
}

/* The loader thread: opens and loads (the verifier: most of a second of
 * CPU) a skeleton of its own; touches nothing but `r`. */
static void *load_programs(void *arg)
{
	struct load_result *r = arg;
	struct bpf_program *progs[HTTPMON_NET_PROGS];
	struct bpf_link **links[HTTPMON_NET_PROGS];
	struct httpmon_bpf *skel;
	uint64_t t0 = now_ns(), one = 1;
	int err;

	skel = httpmon_bpf__open();
	if (!skel) {
		err = -errno;
		goto out;
	}
	skel->rodata->wakeup_every = r->wakeup_every;
	net_programs(skel, progs, links);
	for (int i = 0; i < HTTPMON_NET_PROGS; i++)
		bpf_program__set_autoattach(progs[i], false);
	err = httpmon_bpf__load(skel);
	if (err) {
		httpmon_bpf__destroy(skel);
		skel = NULL;
	}
out:
	r->skel = skel;
	r->err = err < 0 ? err : (err ? -EINVAL : 0);
	r->took_ns = now_ns() - t0;
	/* Last (an eventfd write of 1 cannot fail): the owner joins on it. */
	(void)!write(r->efd, &one, sizeof(one));
	return NULL;
}

/* Starts the loader thread; the pids wait in their pidsets meanwhile. */
static int start_load(struct httpmon *hm)
{
	int err;

	memset(&hm->load, 0, sizeof(hm->load));
	hm->load.wakeup_every = hm->wakeup_every;
	hm->load.efd = hm->load_efd;
	err = pthread_create(&hm->loader, NULL, load_programs, &hm->load);
	if (err)
		return -err;
	hm->loading = true;
	return 0;
}

/* Joins the loader; returns its skeleton (NULL on failure: load.err). */
static struct httpmon_bpf *join_loader(struct httpmon *hm)
{
	uint64_t count;

	pthread_join(hm->loader, NULL);
	hm->loading = false;
	/* Non-blocking: clears the readiness the thread signalled. */
	if (read(hm->load_efd, &count, sizeof(count)) < 0)
		count = 0;
	hm->load_ns = hm->load.took_ns;
	return hm->load.skel;
}

void httpmon_wait_detached(struct httpmon *hm)
{
	if (!hm->detaching)
		return;
	pthread_join(hm->detacher, NULL);
	hm->detaching = false;
	hm->detach_ns = hm->batch->took_ns;
	free(hm->batch->links);
	free(hm->batch);
	hm->batch = NULL;
}

static int attach(struct httpmon *hm)
{
	uint64_t t0;
	int err;

	/* The old links must be gone, or each event would run twice. */
	httpmon_wait_detached(hm);
	t0 = now_ns();
	err = httpmon_bpf__attach(hm->skel);
	if (err) {
		httpmon_bpf__detach(hm->skel);
		return err < 0 ? err : -EINVAL;
	}
	hm->attached = true;
	hm->attach_ns = now_ns() - t0;
	return 0;
}

static int net_attach(struct httpmon *hm)
{
	struct bpf_program *progs[HTTPMON_NET_PROGS];
	struct bpf_link **links[HTTPMON_NET_PROGS];

	httpmon_wait_detached(hm);
	net_programs(hm->skel, progs, links);
	for (int i = 0; i < HTTPMON_NET_PROGS; i++) {
		struct bpf_link *link = bpf_program__attach(progs[i]);

		if (!link) {
			int err = -errno;

			for (int j = 0; j < i; j++) {
				bpf_link__destroy(*links[j]);
				*links[j] = NULL;
			}
			return err < 0 ? err : -EINVAL;
		}
		*links[i] = link;
	}
	hm->net_attached = true;
	return 0;
}

static void *destroy_links(void *arg)
{
	struct link_batch *b = arg;
	uint64_t t0 = now_ns();

	for (int i = 0; i < b->n; i++)
		bpf_link__destroy(b->links[i]);
	b->took_ns = now_ns() - t0;
	return NULL;
}

/* Detaching waits for the kernel to retire each tracepoint's program list
 * (measured here: ~0.8 s for the 11 links), too long for the agent's loop:
 * the links are taken from the skeleton and destroyed on a thread; a later
 * attach or close joins it. Synchronous when no thread can be started. */
static bool is_net_link(struct httpmon *hm, struct bpf_link **link)
{
	struct bpf_program *progs[HTTPMON_NET_PROGS];
	struct bpf_link **links[HTTPMON_NET_PROGS];

	net_programs(hm->skel, progs, links);
	for (int i = 0; i < HTTPMON_NET_PROGS; i++)
		if (links[i] == link)
			return true;
	return false;
}

/* Detaches every program, or (only_net) the NETWORK-only ones. */
static void detach(struct httpmon *hm, bool only_net)
{
	const struct bpf_object_skeleton *s = hm->skel->skeleton;
	struct link_batch *b;

	httpmon_wait_detached(hm);
	b = calloc(1, sizeof(*b));
	if (!only_net)
		hm->attached = false;
	hm->net_attached = false;
	if (b)
		b->links = calloc((size_t)s->prog_cnt, sizeof(*b->links));
	if (!b || !b->links) {
		uint64_t t0 = now_ns();

		free(b);
		for (int i = 0; i < s->prog_cnt; i++) {
			struct bpf_link **link = s->progs[i].link;

			if (only_net && !is_net_link(hm, link))
				continue;
			bpf_link__destroy(*link);
			*link = NULL;
		}
		hm->detach_ns = now_ns() - t0;
		return;
	}
	for (int i = 0; i < s->prog_cnt; i++) {
		struct bpf_link **link = s->progs[i].link;

		if (only_net && !is_net_link(hm, link))
			continue;
		if (*link)
			b->links[b->n++] = *link;
		*link = NULL;
	}
	if (pthread_create(&hm->detacher, NULL, destroy_links, b) != 0) {
		destroy_links(b);
		hm->detach_ns = b->took_ns;
		free(b->links);
		free(b);
		return;
	}
	hm->batch = b;
	hm->detaching = true;
}

struct httpmon *httpmon_close(struct httpmon *hm)
{
	if (!hm)
		return NULL;
	if (hm->loading)
		httpmon_bpf__destroy(join_loader(hm));
	unload(hm);
	if (hm->load_efd >= 0)
		close(hm->load_efd);
	if (hm->epoll_fd >= 0)
		close(hm->epoll_fd);
	free(hm->http_pids.pids);
	free(hm->net_pids.pids);
	free(hm);
	return NULL;
}

/* Sets or clears pid's bit `which` (HTTPMON_PID_WATCHED or _NET). */
static void bit_set(struct httpmon *hm, uint32_t pid, int which, bool on)
{
	__u64 *word = &hm->skel->bss->pid_bits[HTTPMON_PID_WORD(pid, which)];

	if (on)
		__atomic_fetch_or(word, 1ull << (pid % 64), __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(word, ~(1ull << (pid % 64)), __ATOMIC_RELAXED);
}

/* Makes the kernel side match the pidsets: attaches (and the NETWORK-only
 * programs when net pids exist) and sets every watched pid's bits. Needs the
 * object loaded and no load in progress. 0 or -errno (the pids stay in
 * their sets: a later watch retries). */
static int sync_kernel(struct httpmon *hm)
{
	int err;

	if (hm->http_pids.n == 0 && hm->net_pids.n == 0)
		return 0;
	if (!hm->attached) {
		err = attach(hm);
		if (err)
			return err;
	}
	for (size_t i = 0; i < hm->http_pids.n; i++)
		bit_set(hm, hm->http_pids.pids[i], HTTPMON_PID_WATCHED, true);
	for (size_t i = 0; i < hm->net_pids.n; i++) {
		bit_set(hm, hm->net_pids.pids[i], HTTPMON_PID_NET, true);
		bit_set(hm, hm->net_pids.pids[i], HTTPMON_PID_WATCHED, true);
	}
	if (hm->net_pids.n && !hm->net_attached)
		return net_attach(hm);
	return 0;
}

/* Detaches what no watched pid needs any more. */
static void detach_unused(struct httpmon *hm)
{
	if (hm->attached && hm->http_pids.n == 0 && hm->net_pids.n == 0) {
		detach(hm, false);
		/* Deliver what was completed before the detach. */
		ring_buffer__consume(hm->ring);
	} else if (hm->net_attached && hm->net_pids.n == 0) {
		detach(hm, true);
	}
}

/* After `pid` joined `set`: loads in the background (pending: 0), or
 * attaches at once when the object is loaded already; on a failure `pid`
 * leaves `set` again. */
static int watch_in(struct httpmon *hm, struct pidset *set, uint32_t pid)
{
	int added, err;

	if (pid == 0 || pid >= HTTPMON_PID_LIMIT)
		return -EINVAL;
	added = pidset_add(set, pid);
	if (added < 0)
		return added;
	if (hm->loading)
		return 0;
	err = hm->skel ? sync_kernel(hm) : start_load(hm);
	if (err && added) {
		pidset_del(set, pid);
		if (hm->skel) {
			if (!pidset_has(&hm->http_pids, pid) && !pidset_has(&hm->net_pids, pid))
				bit_set(hm, pid, HTTPMON_PID_WATCHED, false);
			if (set == &hm->net_pids)
				bit_set(hm, pid, HTTPMON_PID_NET, false);
			detach_unused(hm);
		}
	}
	return err;
}

int httpmon_watch(struct httpmon *hm, uint32_t pid)
{
	return watch_in(hm, &hm->http_pids, pid);
}

int httpmon_unwatch(struct httpmon *hm, uint32_t pid)
{
	if (pid == 0 || pid >= HTTPMON_PID_LIMIT || !pidset_del(&hm->http_pids, pid))
		return -ENOENT;
	if (!hm->skel || hm->loading)
		return 0;
	if (!pidset_has(&hm->net_pids, pid))
		bit_set(hm, pid, HTTPMON_PID_WATCHED, false);
	detach_unused(hm);
	return 0;
}

void httpmon_set_net_fn(struct httpmon *hm, httpmon_net_fn fn, void *ctx)
{
	hm->net_fn = fn;
	hm->net_ctx = ctx;
}

void httpmon_set_ready_fn(struct httpmon *hm, httpmon_ready_fn fn, void *ctx)
{
	hm->ready_fn = fn;
	hm->ready_ctx = ctx;
}

int httpmon_net_watch(struct httpmon *hm, uint32_t pid)
{
	return watch_in(hm, &hm->net_pids, pid);
}

int httpmon_net_unwatch(struct httpmon *hm, uint32_t pid)
{
	if (pid == 0 || pid >= HTTPMON_PID_LIMIT || !pidset_del(&hm->net_pids, pid))
		return -ENOENT;
	if (!hm->skel || hm->loading)
		return 0;
	bit_set(hm, pid, HTTPMON_PID_NET, false);
	if (!pidset_has(&hm->http_pids, pid))
		bit_set(hm, pid, HTTPMON_PID_WATCHED, false);
	detach_unused(hm);
	return 0;
}

size_t httpmon_net_watched_count(const struct httpmon *hm)
{
	return hm->net_pids.n;
}

void httpmon_net_set_heads(struct httpmon *hm, uint64_t floor_ns, uint64_t budget)
{
	/* Kept for a load in progress: finish_load() applies them. */
	hm->heads_floor_ns = floor_ns;
	hm->heads_budget = budget;
	if (!hm->skel)
		return;
	__atomic_store_n(&hm->skel->bss->slow_floor_ns, floor_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&hm->skel->bss->heads_budget, budget, __ATOMIC_RELAXED);
	__atomic_store_n(&hm->skel->bss->heads_sent, 0, __ATOMIC_RELAXED);
}

/* A copy of the connection in `slot`, with its key; false when the slot is
 * free, being filled or changed while it was copied (the kernel updates it
 * meanwhile: the copy is as consistent as a map lookup's). */
static bool read_slot(const struct netprof_slot *slot, uint64_t *key, struct netprof_conn *conn)
{
	uint64_t k = __atomic_load_n(&slot->key, __ATOMIC_ACQUIRE);

	if (k == 0 || k == NETPROF_SLOT_BUSY)
		return false;
	memcpy(conn, &slot->conn, sizeof(*conn));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&slot->key, __ATOMIC_RELAXED) != k)
		return false;
	*key = k;
	return true;
}

int httpmon_net_conns(struct httpmon *hm, httpmon_conn_fn fn, void *ctx)
{
	struct netprof_conn conn;
	int n = 0;

	if (!hm->slots)
		return 0;
	for (uint32_t w = 0; w < NETPROF_CONNS_MAX / 64; w++) {
		uint64_t bits = __atomic_load_n(&hm->skel->bss->net_slot_used[w], __ATOMIC_ACQUIRE);

		while (bits) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
			uint64_t key;

			bits &= bits - 1;
			if (read_slot(&hm->slots[i], &key, &conn)) {
				fn((uint32_t)(key >> 32), (uint32_t)key, &conn, ctx);
				n++;
			}
		}
	}
	return n;
}

/* Takes slot `which` of (pid, fd) for a connection user space adds: as the
 * kernel does (netprof_abi.h), from a free slot or one of a pid no longer
 * net-watched. */
static struct netprof_slot *take_slot(struct httpmon *hm, uint32_t pid, uint32_t fd, int which)
{
	uint32_t i = netprof_slot(pid, fd, which);
	struct netprof_slot *slot = &hm->slots[i];
	__u64 old = __atomic_load_n(&slot->key, __ATOMIC_ACQUIRE);

	if (old == NETPROF_SLOT_BUSY || (old && pidset_has(&hm->net_pids, (uint32_t)(old >> 32))))
		return NULL;
	if (!__atomic_compare_exchange_n(&slot->key, &old, NETPROF_SLOT_BUSY, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return NULL;
	__atomic_fetch_or(&hm->skel->bss->net_slot_used[i / 64], 1ull << (i % 64),
			  __ATOMIC_RELEASE);
	return slot;
}

int httpmon_net_add_conn(struct httpmon *hm, uint32_t pid, uint32_t fd,
			 const struct netprof_conn *conn)
{
	uint64_t key = (uint64_t)pid << 32 | fd;
	uint32_t bit = NETPROF_FD_BIT(pid, fd);
	struct netprof_slot *slot;

	if (!hm->slots)
		return -ENOENT;
	for (int which = 0; which < 2; which++)
		if (__atomic_load_n(&hm->slots[netprof_slot(pid, fd, which)].key,
				    __ATOMIC_ACQUIRE) == key)
			return -EEXIST;
	/* Before the slot: the kernel skips its lookup while the bit is clear. */
	__atomic_fetch_or(&hm->skel->bss->net_fd_bits[bit / 64], 1ull << (bit % 64),
			  __ATOMIC_RELAXED);
	slot = take_slot(hm, pid, fd, 0);
	if (!slot)
		slot = take_slot(hm, pid, fd, 1);
	if (!slot)
		return -ENOSPC;
	memset(slot->start_ns, 0, sizeof(slot->start_ns));
	memset(slot->start_tid, 0, sizeof(slot->start_tid));
	slot->conn = *conn;
	__atomic_store_n(&slot->key, key, __ATOMIC_RELEASE);
	return 0;
}

int httpmon_net_retransmits(struct httpmon *hm, httpmon_retrans_fn fn, void *ctx)
{
	struct netprof_tuple *keys, next;
	void *prev = NULL;
	size_t n = 0;
	int fd;

	if (!hm->skel)
		return 0;
	keys = calloc(NETPROF_RETRANS_MAX, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	fd = bpf_map__fd(hm->skel->maps.retrans);
	while (n < NETPROF_RETRANS_MAX && bpf_map_get_next_key(fd, prev, &next) == 0) {
		keys[n] = next;
		prev = &keys[n++];
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t count;

		if (bpf_map_lookup_and_delete_elem(fd, &keys[i], &count) == 0)
			fn(&keys[i], count, ctx);
	}
	free(keys);
	return (int)n;
}

size_t httpmon_watched_count(const struct httpmon *hm)
{
	return hm->http_pids.n;
}

int httpmon_fd(const struct httpmon *hm)
{
	return hm->epoll_fd;
}

/* The loader is done: installs its skeleton, creates the ring buffer and
 * brings the kernel side in line with the pids watched meanwhile (none left:
 * loaded, not attached). Then tells the ready callback. */
static void finish_load(struct httpmon *hm)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int err;

	hm->skel = join_loader(hm);
	err = hm->load.err;
	if (!err) {
		hm->ring =
		    ring_buffer__new(bpf_map__fd(hm->skel->maps.events), on_record, hm, NULL);
		if (!hm->ring)
			err = -errno;
		else if (epoll_ctl(hm->epoll_fd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(hm->ring),
				   &ev))
			err = -errno;
		else
			err = map_slots(hm);
		if (err)
			unload(hm);
	}
	if (!err) {
		httpmon_net_set_heads(hm, hm->heads_floor_ns, hm->heads_budget);
		err = sync_kernel(hm);
	}
	hm->error = err;
	hm->error_fresh = err != 0;
	if (hm->ready_fn)
		hm->ready_fn(err, hm->ready_ctx);
}

int httpmon_consume(struct httpmon *hm)
{
	/* The loader writes its eventfd last; peek without consuming it. */
	if (hm->loading) {
		struct pollfd p = {.fd = hm->load_efd, .events = POLLIN};

		if (poll(&p, 1, 0) == 1)
			finish_load(hm);
	}
	if (!hm->ring)
		return 0;
	return ring_buffer__consume(hm->ring);
}

bool httpmon_ready(const struct httpmon *hm)
{
	return hm->skel && !hm->loading;
}

int httpmon_take_error(struct httpmon *hm)
{
	if (!hm->error_fresh)
		return 0;
	hm->error_fresh = false;
	return hm->error;
}

int httpmon_wait_ready(struct httpmon *hm, int timeout_ms)
{
	int waited = 0;

	while (hm->loading && (timeout_ms < 0 || waited < timeout_ms)) {
		struct pollfd p = {.fd = hm->load_efd, .events = POLLIN};
		int n = poll(&p, 1, 100);

		if (n < 0 && errno != EINTR)
			return -errno;
		waited += 100;
		httpmon_consume(hm);
	}
	if (hm->loading)
		return -ETIMEDOUT;
	return hm->error;
}

int httpmon_poll(struct httpmon *hm, int timeout_ms)
{
	struct epoll_event ev;
	int n = epoll_wait(hm->epoll_fd, &ev, 1, timeout_ms);

	if (n < 0)
		return -errno;
	return httpmon_consume(hm);
}

int httpmon_stats(const struct httpmon *hm, struct httpmon_stats *ret)
{
	struct httpmon_stats st = {0};
	int ncpu, fd;

	st.load_ns = hm->load_ns;
	st.attach_ns = hm->attach_ns;
	st.detach_ns = hm->detach_ns;
	st.loaded = hm->skel != NULL;
	st.loading = hm->loading;
	st.attached = hm->attached;
	st.error = hm->error;
	if (hm->skel) {
		ncpu = libbpf_num_possible_cpus();
		if (ncpu <= 0)
			return ncpu < 0 ? ncpu : -EINVAL;
		uint64_t *values = calloc((size_t)ncpu, sizeof(*values));

		if (!values)
			return -ENOMEM;
		fd = bpf_map__fd(hm->skel->maps.counters);
		for (uint32_t k = 0; k < HTTPMON_CNT_COUNT; k++) {
			if (bpf_map_lookup_elem(fd, &k, values))
				continue;
			for (int c = 0; c < ncpu; c++)
				st.counters[k] += values[c];
		}
		free(values);
	}
	*ret = st;
	return 0;
}

const char *httpmon_method_name(enum httpmon_method method)
{
	static const char *const names[HTTPMON_METHOD_COUNT] = {
	    [HTTPMON_METHOD_UNKNOWN] = "UNKNOWN", [HTTPMON_METHOD_GET] = "GET",
	    [HTTPMON_METHOD_POST] = "POST",	  [HTTPMON_METHOD_PUT] = "PUT",
	    [HTTPMON_METHOD_DELETE] = "DELETE",	  [HTTPMON_METHOD_HEAD] = "HEAD",
	    [HTTPMON_METHOD_PATCH] = "PATCH",	  [HTTPMON_METHOD_OPTIONS] = "OPTIONS",
	    [HTTPMON_METHOD_CONNECT] = "CONNECT", [HTTPMON_METHOD_TRACE] = "TRACE",
	};

	return (unsigned)method < HTTPMON_METHOD_COUNT ? names[method] : "UNKNOWN";
}

const char *httpmon_role_name(enum httpmon_role role)
{
	switch (role) {
	case HTTPMON_ROLE_SERVER:
		return "server";
	case HTTPMON_ROLE_CLIENT:
		return "client";
	default:
		return "unknown";
	}
}

const char *httpmon_counter_name(enum httpmon_counter counter)
{
	static const char *const names[HTTPMON_CNT_COUNT] = {
	    [HTTPMON_CNT_REQUESTS] = "requests",
	    [HTTPMON_CNT_RESPONSES] = "responses",
	    [HTTPMON_CNT_EMITTED] = "emitted",
	    [HTTPMON_CNT_RING_FULL] = "ring_full",
	    [HTTPMON_CNT_UNPAIRED_REQUESTS] = "unpaired_requests",
	    [HTTPMON_CNT_UNPAIRED_RESPONSES] = "unpaired_responses",
	    [HTTPMON_CNT_DESYNC] = "desync",
	    [HTTPMON_CNT_CONN_COLLIDE] = "conn_collisions",
	    [HTTPMON_CNT_NET_COLLIDE] = "net_conn_collisions",
	};

	return (unsigned)counter < HTTPMON_CNT_COUNT ? names[counter] : "unknown";
}
