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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETPROF_CONNS_MAX);
	__type(key, struct netprof_conn_key);
	__type(value, struct netprof_conn);
} netconns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETPROF_RETRANS_MAX);
	__type(key, struct netprof_tuple);
	__type(value, __u32);
} retrans SEC(".maps");

/* The syscall a thread is in: start time and fd (0 ts: none noted). */
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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netprof_conn);
} netconn_zero SEC(".maps");

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

/* Notes that the current thread, `task`, starts a syscall on fd at ts. */
static __always_inline void net_note_start(struct task_struct *task, __u32 fd, __u64 ts)
{
	struct inflight *f =
	    bpf_task_storage_get(&inflight, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (f) {
		f->ts = ts;
		f->fd = fd;
	}
}

/* Start time of the syscall on `fd` this thread is in, consumed; 0 none. */
static __always_inline __u64 net_take_start(struct task_struct *task, __u32 fd)
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

/* One completed read (dir IN) or write (OUT) of `bytes` on who = tgid << 32
 * | fd, at `now`, in a syscall that started at `start` (0: unknown). The
 * callers test net_fd_maybe() first: files and pipes cost no lookup.
 * Global functions (here and below) are verified once, apart from their
 * callers: the HTTP programs' verification does not grow with them. */
__noinline int net_io(__u64 who, __u32 dir, __u64 bytes, __u64 now, __u64 start)
{
	struct netprof_conn_key key = {.tgid = who >> 32, .fd = (__u32)who};
	struct netprof_conn *c;

	c = bpf_map_lookup_elem(&netconns, &key);
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

static __always_inline void v4_mapped(__u8 *dst, __be32 a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &a, 4);
}

/* Opens a connection of role `role` for socket fd (tgid, fd): addresses
 * from the socket. Non-TCP or unreadable fds are not tracked. */
static __always_inline void net_open(__u32 tgid, __u32 fd, __u8 role, __u64 connect_ns, __u64 now)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct netprof_conn_key key = {.tgid = tgid, .fd = fd};
	struct netprof_closed *r;
	struct netprof_conn *c;
	struct file **fds, *file = NULL;
	struct socket *sock;
	struct sock *sk;
	__u32 zero = 0, fd_bit;
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
	c = bpf_map_lookup_elem(&netconn_zero, &zero);
	if (!c)
		return;
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
	bpf_map_update_elem(&netconns, &key, c, BPF_ANY);
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

/* Keeps the first n bytes of a request (window w) in its connection, for
 * its heads: one copy, no lookup. */
static __always_inline void net_keep_request_head(struct conn *c, struct scratch *w, __u32 n,
						  __u64 ts)
{
	if (n == 0)
		return;
	n = bounded_len(n);
	if (bpf_probe_read_kernel(c->req_head, n, w->data))
		return;
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
	struct task_struct *task = bpf_get_current_task_btf();

	if (is_net(task->tgid))
		net_note_start(task, fd, bpf_ktime_get_ns());
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
	if (net_fd_maybe(tgid, fd))
		net_io((__u64)tgid << 32 | fd, NETPROF_OUT, ret, bpf_ktime_get_ns(),
		       net_take_start(task, fd));
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
	start = net_take_start(task, fd);
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
	struct netprof_conn_key key = {.tgid = tgid, .fd = ctx->args[0]};
	struct netprof_closed *r;
	struct netprof_conn *c;

	/* nginx closes the file it served on every request: no lookup. */
	if (!is_net(tgid) || !net_fd_maybe(tgid, key.fd))
		return 0;
	c = bpf_map_lookup_elem(&netconns, &key);
	if (!c)
		return 0;
	net_take_retransmits(c);
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (r) {
		r->pid = tgid;
		r->fd = key.fd;
		r->role = c->role;
		r->kind = NETPROF_REC_CLOSED;
		r->close_ns = bpf_ktime_get_ns();
		__builtin_memcpy(&r->conn, c, sizeof(*c));
		bpf_ringbuf_submit(r, 0);
	} else {
		count(HTTPMON_CNT_RING_FULL, 1);
	}
	bpf_map_delete_elem(&netconns, &key);
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
