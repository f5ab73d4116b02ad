/* netprof (kernel side, included by httpmon.bpf.c): per-connection traffic
 * of the processes of running NETWORK tasks, on the same hooks and the same
 * (tgid, fd) connection keys as the HTTP monitor. See netprof_abi.h.
 *
 * Split by cost. The shared programs (httpmon's, attached while any process
 * is watched) pay one more bitmap test for watched processes only: read
 * exits add bytes/calls/time, write entries note the start time, accept
 * exits open a connection, request and response buffers give the heads of
 * slow or failed requests. The programs below marked NETPROF_ONLY have
 * autoattach off: user space attaches them only while a NETWORK task runs
 * (read entries, write exits, connect exit, close entry, retransmits), so
 * the HTTP monitor alone never runs them.
 *
 * A connection, and the start of the read or write in progress on it (with
 * the thread in it), live in a slot of the `netconns` array: its lookups
 * are inlined by the verifier, where a hash lookup and task storage cost a
 * helper call each (50-100 ns on this kernel). Only connect's start, once
 * per connection, stays in task storage.
 */
#ifndef CONTPROF_AGENT_NETPROF_BPF_H
#define CONTPROF_AGENT_NETPROF_BPF_H

#include "agent/netprof_abi.h"

#define NETPROF_AF_INET	    2
#define NETPROF_AF_INET6    10
#define NETPROF_EINPROGRESS 115

/* Bit n of pid_bits' word HTTPMON_PID_WORD(n, HTTPMON_PID_NET) set: tgid n
 * belongs to a running NETWORK task (its watched bit is set too). */
/* Requests at least this slow (and every 4xx/5xx) get their heads sent,
 * while fewer than heads_budget were sent since user space last zeroed
 * heads_sent (each flush): a storm of 5xx cannot fill the shared ring. */
__u64 slow_floor_ns;
/* See NETPROF_FD_BIT; written by both sides. */
__u64 net_fd_bits[NETPROF_FD_BITS / 64];
__u64 heads_budget;
__u64 heads_sent;
/* Bit i set: slot i of `netconns` is taken (user space reads only those). */
__u64 net_slot_used[NETPROF_CONNS_MAX / 64];

/* An array, not a hash: its lookups are inlined (see netprof_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NETPROF_CONNS_MAX);
	__type(key, __u32);
	__type(value, struct netprof_slot);
} netconns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETPROF_RETRANS_MAX);
	__type(key, struct netprof_tuple);
	__type(value, __u32);
} retrans SEC(".maps");

/* The connect a thread is in: start time and fd (0 ts: none noted). The
 * read/write syscalls keep theirs in the connection's slot. */
struct inflight {
	__u64 ts;
	__u32 fd;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

static __always_inline bool is_net(__u32 tgid)
{
	__u32 word = tgid >> 6;

	barrier_var(word);
	if (word >= HTTPMON_BITMAP_WORDS)
		return false;
	/* Masked too: the verifier sees the bound whatever copy clang uses. */
	return pid_bits[(2 * word + HTTPMON_PID_NET) & (2 * HTTPMON_BITMAP_WORDS - 1)] &
	       (1ULL << (tgid & 63));
}

static __always_inline bool net_fd_maybe(__u32 tgid, __u32 fd)
{
	__u32 b = NETPROF_FD_BIT(tgid, fd);

	return net_fd_bits[b / 64] & (1ULL << (b % 64));
}

/* The slot of connection (tgid, fd) (its index in *idx), or NULL when it
 * is not tracked. The callers test net_fd_maybe() first: files and pipes
 * cost no slot lines. */
static __always_inline struct netprof_slot *net_find_idx(__u32 tgid, __u32 fd, __u32 *idx)
{
	__u64 key = (__u64)tgid << 32 | fd;
	struct netprof_slot *s;
	__u32 i;

	i = netprof_slot(tgid, fd, 0);
	s = bpf_map_lookup_elem(&netconns, &i);
	if (s && s->key == key)
		goto found;
	i = netprof_slot(tgid, fd, 1);
	s = bpf_map_lookup_elem(&netconns, &i);
	if (s && s->key == key)
		goto found;
	return NULL;
found:
	*idx = i;
	return s;
}

static __always_inline struct netprof_slot *net_find(__u32 tgid, __u32 fd)
{
	__u32 idx;

	return net_find_idx(tgid, fd, &idx);
}

/* Notes that thread `tid` starts a read (dir IN) or write (OUT) on s at ts. */
static __always_inline void net_note_io(struct netprof_slot *s, __u32 dir, __u32 tid, __u64 ts)
{
	dir &= 1;
	s->start_ns[dir] = ts;
	s->start_tid[dir] = tid;
}

/* Start time of the read or write thread `tid` is in on s, consumed; 0
 * when another thread noted the last one (never another's time). */
static __always_inline __u64 net_take_io(struct netprof_slot *s, __u32 dir, __u32 tid)
{
	__u64 ts;

	dir &= 1;
	if (s->start_tid[dir] != tid)
		return 0;
	ts = s->start_ns[dir];
	s->start_ns[dir] = 0;
	return ts;
}

/* Notes that the current thread, `task`, starts a connect on fd at ts. */
static __always_inline void net_note_connect(struct task_struct *task, __u32 fd, __u64 ts)
{
	struct inflight *f =
	    bpf_task_storage_get(&inflight, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (f) {
		f->ts = ts;
		f->fd = fd;
	}
}

/* Start time of the connect on `fd` this thread is in, consumed; 0 none. */
static __always_inline __u64 net_take_connect(struct task_struct *task, __u32 fd)
{
	struct inflight *f = bpf_task_storage_get(&inflight, task, 0, 0);
	__u64 ts;

	if (!f || f->fd != fd)
		return 0;
	ts = f->ts;
	f->ts = 0;
	return ts;
}

static __always_inline __u32 log2_bucket(__u64 v)
{
	__u32 b = 0;

	if (v >> 32) {
		v >>= 32;
		b += 32;
	}
	if (v >> 16) {
		v >>= 16;
		b += 16;
	}
	if (v >> 8) {
		v >>= 8;
		b += 8;
	}
	if (v >> 4) {
		v >>= 4;
		b += 4;
	}
	if (v >> 2) {
		v >>= 2;
		b += 2;
	}
	if (v >> 1)
		b += 1;
	return b < NETPROF_HIST_BUCKETS ? b : NETPROF_HIST_BUCKETS - 1;
}

/* One completed read (dir IN) or write (OUT) of `bytes` on connection c, at
 * `now`, in a syscall that started at `start` (0: unknown). Global
 * functions (here and below) are verified once, apart from their callers:
 * the HTTP programs' verification does not grow with them. */
__noinline int net_io(struct netprof_conn *c, __u32 dir, __u64 bytes, __u64 now, __u64 start)
{
	if (!c)
		return 0;
	dir &= 1;
	c->bytes[dir] += bytes;
	c->calls[dir] += 1;
	if (start && now > start) {
		c->syscall_ns[dir] += now - start;
		c->hist[dir][log2_bucket(now - start) & (NETPROF_HIST_BUCKETS - 1)] += 1;
	}
	return 0;
}

/* A read of `bytes` by the current thread `task` of net-watched process
 * tgid on fd returned: counted on its connection. Returns the time taken
 * for it (0 if none was: files, pipes and untracked sockets). */
static __always_inline __u64 net_read_done(struct task_struct *task, __u32 tgid, __u32 fd,
					   __u64 bytes)
{
	struct netprof_slot *s;
	__u64 now;

	if (!net_fd_maybe(tgid, fd))
		return 0;
	s = net_find(tgid, fd);
	if (!s)
		return 0;
	now = bpf_ktime_get_ns();
	net_io(&s->conn, NETPROF_IN, bytes, now, net_take_io(s, NETPROF_IN, task->pid));
	return now;
}

/* Thread id = tgid << 32 | tid of a net-watched process starts a write on
 * fd: its start is noted on the connection. Returns the time taken for it
 * (0 if none was). */
static __always_inline __u64 net_write_starts(__u64 id, __u32 fd)
{
	struct netprof_slot *s;
	__u64 now;

	if (!net_fd_maybe(id >> 32, fd))
		return 0;
	s = net_find(id >> 32, fd);
	if (!s)
		return 0;
	now = bpf_ktime_get_ns();
	net_note_io(s, NETPROF_OUT, (__u32)id, now);
	return now;
}

static __always_inline void v4_mapped(__u8 *dst, __be32 a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &a, 4);
}

/* Takes slot `which` of (tgid, fd) if it is free or its process is no
 * longer net-watched: marked busy (see netprof_abi.h), its used bit set. */
static __always_inline struct netprof_slot *net_take(__u32 tgid, __u32 fd, int which)
{
	__u32 i = netprof_slot(tgid, fd, which);
	struct netprof_slot *s = bpf_map_lookup_elem(&netconns, &i);
	__u64 old;

	if (!s)
		return NULL;
	old = s->key;
	if (old == NETPROF_SLOT_BUSY || (old && is_net(old >> 32)))
		return NULL;
	if (__sync_val_compare_and_swap(&s->key, old, NETPROF_SLOT_BUSY) != old)
		return NULL;
	__sync_fetch_and_or(&net_slot_used[(i / 64) & (NETPROF_CONNS_MAX / 64 - 1)],
			    1ULL << (i % 64));
	return s;
}

/* Opens a connection of role `role` for socket fd (tgid, fd): addresses
 * from the socket. Non-TCP or unreadable fds are not tracked. */
static __always_inline void net_open(__u32 tgid, __u32 fd, __u8 role, __u64 connect_ns, __u64 now)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	__u64 key = (__u64)tgid << 32 | fd;
	struct netprof_closed *r;
	struct netprof_slot *s;
	struct netprof_conn *c;
	struct file **fds, *file = NULL;
	struct socket *sock;
	struct sock *sk;
	__u32 fd_bit;
	__u16 family;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & 00170000) != 00140000)
		return;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != 1 /* SOCK_STREAM */)
		return;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != NETPROF_AF_INET && family != NETPROF_AF_INET6)
		return;
	/* A close not seen (the task started after it) left the fd's slot. */
	s = net_find(tgid, fd);
	if (s && __sync_val_compare_and_swap(&s->key, key, NETPROF_SLOT_BUSY) != key)
		s = NULL;
	if (!s)
		s = net_take(tgid, fd, 0);
	if (!s)
		s = net_take(tgid, fd, 1);
	if (!s) {
		count(HTTPMON_CNT_NET_COLLIDE, 1);
		return;
	}
	s->start_ns[0] = s->start_ns[1] = 0;
	s->start_tid[0] = s->start_tid[1] = 0;
	c = &s->conn;
	__builtin_memset(c, 0, sizeof(*c));
	c->role = role;
	c->family = family;
	c->open_ns = now;
	c->connect_ns = connect_ns;
	c->local.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	c->remote.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == NETPROF_AF_INET) {
		v4_mapped(c->local.addr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		v4_mapped(c->remote.addr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else {
		BPF_CORE_READ_INTO(&c->local.addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&c->remote.addr, sk, __sk_common.skc_v6_daddr);
	}
	fd_bit = NETPROF_FD_BIT(tgid, fd);
	__sync_fetch_and_or(&net_fd_bits[fd_bit / 64], 1ULL << (fd_bit % 64));
	/* Filled: an atomic exchange publishes it after the stores above. */
	__sync_lock_test_and_set(&s->key, key);
	/* User space learns of it before its requests (the ring is ordered). */
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(HTTPMON_CNT_RING_FULL, 1);
		return;
	}
	r->pid = tgid;
	r->fd = fd;
	r->role = role;
	r->kind = NETPROF_REC_OPENED;
	r->close_ns = 0;
	__builtin_memcpy(&r->conn, c, sizeof(*c));
	bpf_ringbuf_submit(r, 0);
}

/* min(n, NETPROF_HEAD_MAX) for n >= 1, in a form the verifier bounds. */
static __always_inline __u32 bounded_len(__u64 n)
{
	__u32 m;

	if (n > NETPROF_HEAD_MAX)
		n = NETPROF_HEAD_MAX;
	m = (n - 1) & (NETPROF_HEAD_MAX - 1);
	barrier_var(m);
	return m + 1;
}

/* Copies the first n bytes of window w into c's request head, a word at a
 * time: a plain loop, no helper call (a global function: verified once). */
__noinline int net_copy_head(struct conn *c, struct scratch *w, __u32 n)
{
	if (!c || !w)
		return 0;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < NETPROF_HEAD_MAX / 8; i++) {
		if (i * 8 >= n)
			break;
		*(__u64 *)(c->req_head + i * 8) = *(__u64 *)(w->data + i * 8);
	}
	return 0;
}

/* Keeps the first n bytes of a request (window w) in its connection, for
 * its heads: one copy, no lookup. */
static __always_inline void net_keep_request_head(struct conn *c, struct scratch *w, __u32 n,
						  __u64 ts)
{
	if (n == 0)
		return;
	n = bounded_len(n);
	net_copy_head(c, w, n);
	c->req_head_len = n;
	c->req_head_start_ns = ts;
}

/* Sends the heads of request `done` (a record already sent: start, end and
 * status set) of connection c, answered by the `len` bytes at `ubuf`, when
 * it is slow or failed. A global function: verified once. */
__noinline int net_send_heads(struct conn *c, struct httpmon_event *done, __u64 ubuf, __u64 len)
{
	struct netprof_heads *r;
	__u32 n;

	if (!c || !done)
		return 0;
	if (done->status < 400 && done->end_ns - done->start_ns < slow_floor_ns)
		return 0;
	if (__sync_fetch_and_add(&heads_sent, 1) >= heads_budget)
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(HTTPMON_CNT_RING_FULL, 1);
		return 0;
	}
	r->pid = done->pid;
	r->fd = done->fd;
	r->role = done->role;
	r->status = done->status;
	r->kind = NETPROF_REC_HEADS;
	r->start_ns = done->start_ns;
	r->req_len = 0;
	if (c->req_head_start_ns == done->start_ns && c->req_head_len) {
		n = bounded_len(c->req_head_len);
		if (bpf_probe_read_kernel(r->req, n, c->req_head) == 0)
			r->req_len = n;
	}
	r->resp_len = 0;
	if (len) {
		n = bounded_len(len);
		if (bpf_probe_read_user(r->resp, n, (const void *)ubuf) == 0)
			r->resp_len = n;
	}
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* ---- programs attached only while a NETWORK task runs ---- */

static __always_inline int net_enter(__u64 fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct netprof_slot *s;

	if (!is_net(tgid) || !net_fd_maybe(tgid, fd))
		return 0;
	s = net_find(tgid, fd);
	if (s)
		net_note_io(s, NETPROF_IN, (__u32)id, bpf_ktime_get_ns());
	return 0;
}

SEC("tp/syscalls/sys_enter_read")
int net_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return net_enter(ctx->args[0]);
}

SEC("tp/syscalls/sys_enter_readv")
int net_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return net_enter(ctx->args[0]);
}

SEC("tp/syscalls/sys_enter_recvfrom")
int net_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return net_enter(ctx->args[0]);
}

SEC("tp/syscalls/sys_enter_recvmsg")
int net_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return net_enter(ctx->args[0]);
}

static __always_inline int net_write_exit(long nr, long ret)
{
	struct task_struct *task;
	struct netprof_slot *s;
	__u64 arg1, arg2;
	__u32 tgid, fd;

	if (ret <= 0)
		return 0;
	task = bpf_get_current_task_btf();
	tgid = task->tgid;
	if (!is_net(tgid))
		return 0;
	syscall_args(task, nr, &arg1, &arg2);
	fd = arg1;
	if (!net_fd_maybe(tgid, fd))
		return 0;
	s = net_find(tgid, fd);
	if (s)
		net_io(&s->conn, NETPROF_OUT, ret, bpf_ktime_get_ns(),
		       net_take_io(s, NETPROF_OUT, task->pid));
	return 0;
}

SEC("tp/syscalls/sys_exit_write")
int net_exit_write(struct trace_event_raw_sys_exit *ctx)
{
	return net_write_exit(ctx->id, ctx->ret);
}

SEC("tp/syscalls/sys_exit_writev")
int net_exit_writev(struct trace_event_raw_sys_exit *ctx)
{
	return net_write_exit(ctx->id, ctx->ret);
}

SEC("tp/syscalls/sys_exit_sendto")
int net_exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	return net_write_exit(ctx->id, ctx->ret);
}

SEC("tp/syscalls/sys_exit_sendmsg")
int net_exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	return net_write_exit(ctx->id, ctx->ret);
}

/* connect: the start at entry (in the shared enter_connect), the
 * connection at exit, when it is made or in progress (non-blocking). */
SEC("tp/syscalls/sys_exit_connect")
int net_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task;
	__u64 arg1, arg2, now, start;
	__u32 fd, tgid;

	if (ctx->ret != 0 && ctx->ret != -NETPROF_EINPROGRESS)
		return 0;
	task = bpf_get_current_task_btf();
	tgid = task->tgid;
	if (!is_net(tgid))
		return 0;
	syscall_args(task, ctx->id, &arg1, &arg2);
	fd = arg1;
	now = bpf_ktime_get_ns();
	start = net_take_connect(task, fd);
	net_open(tgid, fd, HTTPMON_ROLE_CLIENT, ctx->ret == 0 && start ? now - start : 0, now);
	return 0;
}

/* The retransmits counted so far for c's 4-tuple move into c (a closed
 * connection's tuple means nothing to user space any more). */
static __always_inline void net_take_retransmits(struct netprof_conn *c)
{
	struct netprof_tuple t = {};
	__u32 *n;

	__builtin_memcpy(t.saddr, c->local.addr, 16);
	__builtin_memcpy(t.daddr, c->remote.addr, 16);
	t.sport = c->local.port;
	t.dport = c->remote.port;
	n = bpf_map_lookup_elem(&retrans, &t);
	if (!n)
		return;
	c->retransmits += *n;
	bpf_map_delete_elem(&retrans, &t);
}

SEC("tp/syscalls/sys_enter_close")
int net_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 fd = ctx->args[0];
	struct netprof_closed *r;
	struct netprof_slot *s;
	struct netprof_conn *c;
	__u64 key = (__u64)tgid << 32 | fd;
	__u32 i = 0;

	/* nginx closes the file it served on every request: no slot. */
	if (!is_net(tgid) || !net_fd_maybe(tgid, fd))
		return 0;
	s = net_find_idx(tgid, fd, &i);
	if (!s || __sync_val_compare_and_swap(&s->key, key, NETPROF_SLOT_BUSY) != key)
		return 0;
	c = &s->conn;
	net_take_retransmits(c);
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (r) {
		r->pid = tgid;
		r->fd = fd;
		r->role = c->role;
		r->kind = NETPROF_REC_CLOSED;
		r->close_ns = bpf_ktime_get_ns();
		__builtin_memcpy(&r->conn, c, sizeof(*c));
		bpf_ringbuf_submit(r, 0);
	} else {
		count(HTTPMON_CNT_RING_FULL, 1);
	}
	/* The used bit goes first: user space never reads a free slot. */
	__sync_fetch_and_and(&net_slot_used[(i / 64) & (NETPROF_CONNS_MAX / 64 - 1)],
			     ~(1ULL << (i % 64)));
	__sync_lock_test_and_set(&s->key, 0);
	return 0;
}

SEC("tp/tcp/tcp_retransmit_skb")
int net_retransmit(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	struct netprof_tuple t = {};
	__u32 one = 1, *n;

	/* The context allows fixed-offset loads only: copy the arrays. */
	if (bpf_probe_read_kernel(t.saddr, 16, ctx->saddr_v6) ||
	    bpf_probe_read_kernel(t.daddr, 16, ctx->daddr_v6))
		return 0;
	t.sport = ctx->sport;
	t.dport = ctx->dport;
	n = bpf_map_lookup_elem(&retrans, &t);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&retrans, &t, &one, BPF_NOEXIST);
	return 0;
}

#endif
