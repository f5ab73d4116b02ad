// SPDX-License-Identifier: GPL-2.0
/* httpmon (kernel side): recognises HTTP/1.x requests and responses on the
 * sockets of watched processes and sends each completed request (method, URI
 * start, status, start and end time) to user space through a ring buffer.
 *
 * Hooks: per-syscall tracepoints (never raw_syscalls: those run for every
 * syscall of the machine). Data syscalls: read/readv/recvfrom/recvmsg (buffer
 * noted at entry, inspected at exit) and write/writev/sendto/sendmsg
 * (inspected at entry). accept/accept4/connect/close reset a connection.
 * sendfile only carries bodies and *mmsg is for datagrams: neither starts an
 * HTTP/1.x message, so neither is hooked.
 *
 * A process is watched when its bit is set in `watched` (user space writes the
 * mmap'd .bss directly): the one test every event of every process pays.
 *
 * Pairing, per connection (tgid, fd): a request-side buffer (server: read,
 * client: write) that starts with a method queues the request; a response-side
 * buffer that starts with "HTTP/1.x NNN" pops the oldest one. Pipelined
 * requests/responses inside the first HTTPMON_SCAN_BYTES of one buffer are
 * found by a scan. Whenever the order can no longer be known for sure (queue
 * full, a bodiless request in a buffer longer than the scan, responses that
 * may hide past the scan while requests wait) the connection is marked
 * desynchronised: its waiting requests are counted unpaired and nothing is
 * paired until the peers alternate again (a request-side buffer after a
 * response), so pairing is right or counted, never wrong.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "agent/httpmon_abi.h"

char LICENSE[] SEC("license") = "GPL";

/* Ring occupancy (bytes) from which a submit wakes the consumer; 0 wakes on
 * every record. Below it user space drains on its own tick. */
const volatile __u64 wakeup_bytes = 0;

/* Bit n set: tgid n is watched. Written by user space through the mmap. */
__u64 watched[HTTPMON_BITMAP_WORDS];

struct conn_key {
	__u32 tgid;
	__u32 fd;
};

struct pending {
	__u64 start_ns;
	__u8 method;
	__u8 pad;
	__u16 uri_len;
	__u32 pad2;
	char uri[HTTPMON_URI_MAX];
};

struct conn {
	__u8 role;
	__u8 desync;   /* pairing suspended until the peers alternate */
	__u8 answered; /* a response was seen since the last request buffer */
	__u8 head;     /* index of the oldest waiting request */
	__u8 count;    /* requests waiting */
	__u8 pad[3];
	struct pending queue[HTTPMON_QUEUE_DEPTH];
};

/* A read in progress: where the data will land. */
struct read_args {
	__u64 buf;
	__u32 fd;
	__u32 cap; /* bytes of the first iovec (readv/recvmsg), else ~0 */
};

/* The window of one buffer, plus room for fixed-size reads past its end. */
struct scratch {
	__u8 data[HTTPMON_SCAN_BYTES + HTTPMON_URI_MAX + 32];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct conn_key);
	__type(value, struct conn);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct read_args);
} reads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

/* All zero, never written: the initial value of a connection (too large for
 * the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct conn);
} conn_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HTTPMON_CNT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		*c += n;
}

static __always_inline bool is_watched(__u32 tgid)
{
	__u32 word = tgid >> 6;

	/* Keep the compiler from checking a copy the verifier did not bound. */
	barrier_var(word);
	if (word >= HTTPMON_BITMAP_WORDS)
		return false;
	return watched[word] & (1ULL << (tgid & 63));
}

/* Method at the start of `b` (16 readable bytes): its enum and, in *len, the
 * length of the method token. The token must be followed by a space and the
 * start of a request target. */
static __always_inline __u8 parse_method(const __u8 *b, __u32 *len)
{
	__u8 m = HTTPMON_METHOD_UNKNOWN;
	__u32 n = 0;

	switch (b[0]) {
	case 'G':
		if (b[1] == 'E' && b[2] == 'T')
			m = HTTPMON_METHOD_GET, n = 3;
		break;
	case 'P':
		if (b[1] == 'O' && b[2] == 'S' && b[3] == 'T')
			m = HTTPMON_METHOD_POST, n = 4;
		else if (b[1] == 'U' && b[2] == 'T')
			m = HTTPMON_METHOD_PUT, n = 3;
		else if (b[1] == 'A' && b[2] == 'T' && b[3] == 'C' && b[4] == 'H')
			m = HTTPMON_METHOD_PATCH, n = 5;
		break;
	case 'H':
		if (b[1] == 'E' && b[2] == 'A' && b[3] == 'D')
			m = HTTPMON_METHOD_HEAD, n = 4;
		break;
	case 'D':
		if (b[1] == 'E' && b[2] == 'L' && b[3] == 'E' && b[4] == 'T' && b[5] == 'E')
			m = HTTPMON_METHOD_DELETE, n = 6;
		break;
	case 'O':
		if (b[1] == 'P' && b[2] == 'T' && b[3] == 'I' && b[4] == 'O' && b[5] == 'N' &&
		    b[6] == 'S')
			m = HTTPMON_METHOD_OPTIONS, n = 7;
		break;
	case 'C':
		if (b[1] == 'O' && b[2] == 'N' && b[3] == 'N' && b[4] == 'E' && b[5] == 'C' &&
		    b[6] == 'T')
			m = HTTPMON_METHOD_CONNECT, n = 7;
		break;
	case 'T':
		if (b[1] == 'R' && b[2] == 'A' && b[3] == 'C' && b[4] == 'E')
			m = HTTPMON_METHOD_TRACE, n = 5;
		break;
	}
	if (m == HTTPMON_METHOD_UNKNOWN)
		return m;
	n &= 7;
	if (b[n] != ' ' || b[n + 1] <= ' ' || b[n + 1] >= 0x7f)
		return HTTPMON_METHOD_UNKNOWN;
	if (m != HTTPMON_METHOD_CONNECT && b[n + 1] != '/' && b[n + 1] != '*' && b[n + 1] != 'h')
		return HTTPMON_METHOD_UNKNOWN;
	*len = n;
	return m;
}

/* Status of a status line at the start of `b` (16 readable bytes), 0 if the
 * bytes are not "HTTP/1.x NNN" followed by a space or CR. */
static __always_inline __u16 parse_status(const __u8 *b)
{
	if (b[0] != 'H' || b[1] != 'T' || b[2] != 'T' || b[3] != 'P' || b[4] != '/' ||
	    b[5] != '1' || b[6] != '.' || (b[7] != '0' && b[7] != '1') || b[8] != ' ')
		return 0;
	if (b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' || b[11] < '0' || b[11] > '9' ||
	    (b[12] != ' ' && b[12] != '\r'))
		return 0;
	return (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
}

static __always_inline bool method_has_body(__u8 m)
{
	return m == HTTPMON_METHOD_POST || m == HTTPMON_METHOD_PUT || m == HTTPMON_METHOD_PATCH;
}

static __always_inline bool fd_is_socket(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;
	umode_t mode;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return false;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return false;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	return (mode & 00170000) == 00140000;
}

static __always_inline void drop_queue(struct conn *c)
{
	if (c->count)
		count(HTTPMON_CNT_UNPAIRED_REQUESTS, c->count);
	c->count = 0;
	c->desync = 1;
	count(HTTPMON_CNT_DESYNC, 1);
}

/* Forgets the connection (tgid, fd): its waiting requests are unpaired. */
static __always_inline void forget_conn(__u32 tgid, __u32 fd)
{
	struct conn_key key = {.tgid = tgid, .fd = fd};
	struct conn *c = bpf_map_lookup_elem(&conns, &key);

	if (!c)
		return;
	if (c->count)
		count(HTTPMON_CNT_UNPAIRED_REQUESTS, c->count);
	bpf_map_delete_elem(&conns, &key);
}

/* Scan state for bpf_loop: the offsets (beyond 0) where another message
 * starts inside the window. */
struct scan_ctx {
	__u8 *data;
	__u32 n;
	__u32 found;
	__u32 at[HTTPMON_PER_BUFFER]; /* the first HTTPMON_PER_BUFFER - 1 used */
	__u64 roll;
	bool responses; /* look for "HTTP/1.x" rather than header ends */
};

#define ROLL_HTTP1 0x485454502f312e00ULL /* "HTTP/1." then any byte */

static long scan_byte(__u64 i, void *arg)
{
	struct scan_ctx *s = arg;
	__u32 start;

	s->roll = (s->roll << 8) | s->data[i & (HTTPMON_SCAN_BYTES - 1)];
	if (s->responses) {
		if ((s->roll & ~0xffULL) != ROLL_HTTP1 || i < 8)
			return 0;
		start = i - 7;
	} else {
		if ((s->roll & 0xffffffffULL) != 0x0d0a0d0aULL)
			return 0;
		start = i + 1;
	}
	if (start + 16 > s->n)
		return 0;
	/* Keep HTTPMON_PER_BUFFER - 1 offsets; one more means "too many". */
	if (s->found < HTTPMON_PER_BUFFER - 1)
		s->at[s->found & (HTTPMON_PER_BUFFER - 1)] = start;
	s->found++;
	return s->found >= HTTPMON_PER_BUFFER;
}

/* Reads min(len, HTTPMON_SCAN_BYTES) bytes of `ubuf` into the scratch and
 * returns it (NULL on failure); *n gets the count. */
static __always_inline __u8 *load_window(__u64 ubuf, __u64 len, __u32 *n)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	__u32 size = len < HTTPMON_SCAN_BYTES ? len : HTTPMON_SCAN_BYTES;

	if (!s || size == 0 || size > HTTPMON_SCAN_BYTES)
		return NULL;
	if (bpf_probe_read_user(s->data, size, (const void *)ubuf))
		return NULL;
	*n = size;
	return s->data;
}

static __always_inline void push_request(struct conn *c, __u8 *win, __u32 n, __u32 at, __u64 ts)
{
	__u8 head[16];
	__u32 mlen = 0, uri_at;
	struct pending *p;
	__u8 method;

	at &= HTTPMON_SCAN_BYTES - 1;
	if (bpf_probe_read_kernel(head, sizeof(head), win + at))
		return;
	method = parse_method(head, &mlen);
	if (method == HTTPMON_METHOD_UNKNOWN)
		return;
	count(HTTPMON_CNT_REQUESTS, 1);
	if (c->desync)
		return;
	if (c->count >= HTTPMON_QUEUE_DEPTH) {
		drop_queue(c);
		return;
	}
	p = &c->queue[(c->head + c->count) & (HTTPMON_QUEUE_DEPTH - 1)];
	uri_at = (at + mlen + 1) & (HTTPMON_SCAN_BYTES - 1);
	p->start_ns = ts;
	p->method = method;
	p->uri_len = n > uri_at ? (n - uri_at < HTTPMON_URI_MAX ? n - uri_at : HTTPMON_URI_MAX) : 0;
	if (bpf_probe_read_kernel(p->uri, HTTPMON_URI_MAX, win + uri_at))
		p->uri_len = 0;
	c->count++;
}

/* A request-side buffer: `len` readable bytes at user address `ubuf`, part
 * of a message of `total` bytes (more when other iovecs follow). */
static __always_inline void on_request_side(__u32 tgid, __u32 fd, __u8 role, __u64 ubuf, __u64 len,
					    __u64 total, __u64 ts)
{
	struct conn_key key = {.tgid = tgid, .fd = fd};
	struct scan_ctx s = {};
	__u8 head[16];
	__u32 mlen = 0, n = 0, last_at = 0;
	struct conn *c;
	__u8 *win;
	__u8 m;

	if (len < 16 || bpf_probe_read_user(head, sizeof(head), (const void *)ubuf))
		return;
	m = parse_method(head, &mlen);
	if (m == HTTPMON_METHOD_UNKNOWN)
		return;
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c) {
		__u32 zero = 0;
		struct conn *fresh = bpf_map_lookup_elem(&conn_zero, &zero);

		if (!fresh || !fd_is_socket(fd))
			return;
		bpf_map_update_elem(&conns, &key, fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&conns, &key);
		if (!c) {
			count(HTTPMON_CNT_CONN_FULL, 1);
			return;
		}
		if (c->role == HTTPMON_ROLE_UNKNOWN)
			c->role = role;
	}
	if (c->role != role)
		return;
	if (c->desync && c->answered && c->count == 0)
		c->desync = 0;
	c->answered = 0;
	win = load_window(ubuf, len, &n);
	if (!win)
		return;
	push_request(c, win, n, 0, ts);
	s.data = win;
	s.n = n;
	bpf_loop(n, scan_byte, &s, 0);
	for (int i = 0; i < HTTPMON_PER_BUFFER - 1; i++) {
		if (i >= s.found)
			break;
		last_at = s.at[i];
		push_request(c, win, n, last_at, ts);
	}
	if (s.found >= HTTPMON_PER_BUFFER) {
		/* More requests in this buffer than one scan records. */
		if (!c->desync)
			drop_queue(c);
		return;
	}
	/* Past the window a bodiless request can only be followed by more
	 * requests we cannot see. */
	if (total > n) {
		__u8 last[16];
		__u32 l = 0;

		if (bpf_probe_read_kernel(last, sizeof(last),
					  win + (last_at & (HTTPMON_SCAN_BYTES - 1))))
			return;
		m = parse_method(last, &l);
		if (!method_has_body(m) && !c->desync)
			drop_queue(c);
	}
}

static __always_inline void emit(struct conn *c, __u32 tgid, __u32 fd, __u16 status, __u64 ts)
{
	struct pending *p = &c->queue[c->head & (HTTPMON_QUEUE_DEPTH - 1)];
	struct httpmon_event *e;
	__u64 flags = 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->pid = tgid;
		e->fd = fd;
		e->role = c->role;
		e->method = p->method;
		e->status = status;
		e->uri_len = p->uri_len;
		e->pad = 0;
		e->start_ns = p->start_ns;
		e->end_ns = ts;
		__builtin_memcpy(e->uri, p->uri, HTTPMON_URI_MAX);
		if (wakeup_bytes)
			flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes
				    ? BPF_RB_FORCE_WAKEUP
				    : BPF_RB_NO_WAKEUP;
		bpf_ringbuf_submit(e, flags);
		count(HTTPMON_CNT_EMITTED, 1);
	} else {
		count(HTTPMON_CNT_RING_FULL, 1);
	}
	c->head = (c->head + 1) & (HTTPMON_QUEUE_DEPTH - 1);
	c->count--;
}

/* One status line: 1xx are interim (except 101, which ends HTTP on the
 * connection and so completes the request). */
static __always_inline void pop_response(struct conn *c, __u32 tgid, __u32 fd, __u16 status,
					 __u64 ts)
{
	if (status < 200 && status != 101)
		return;
	count(HTTPMON_CNT_RESPONSES, 1);
	if (c->desync || c->count == 0) {
		count(HTTPMON_CNT_UNPAIRED_RESPONSES, 1);
		return;
	}
	emit(c, tgid, fd, status, ts);
}

/* Status lines at the start of iovecs 1.. of a vectored write: servers put
 * each response's header in its own buffer, so pipelined responses written
 * together show there. Returns false when the vector is longer than we look. */
static __always_inline bool pop_iov_heads(struct conn *c, __u32 tgid, __u32 fd, __u64 iov,
					  __u64 iovcnt, __u64 ts)
{
	for (int i = 1; i < HTTPMON_IOV_HEADS; i++) {
		struct iovec v;
		__u8 head[16];
		__u16 status;

		if (i >= iovcnt)
			return true;
		if (bpf_probe_read_user(&v, sizeof(v), (const void *)(iov + i * sizeof(v))))
			return false;
		if (v.iov_len < 16 || bpf_probe_read_user(head, sizeof(head), v.iov_base))
			continue;
		status = parse_status(head);
		if (status)
			pop_response(c, tgid, fd, status, ts);
	}
	return iovcnt <= HTTPMON_IOV_HEADS;
}

/* A response-side buffer: `len` readable bytes at `ubuf`, the first of
 * `iovcnt` iovecs at user address `iov` (iovcnt 0: not a vectored write),
 * in a message of `total` bytes. */
static __always_inline void on_response_side(__u32 tgid, __u32 fd, __u8 role, __u64 ubuf, __u64 len,
					     __u64 total, __u64 iov, __u64 iovcnt, __u64 ts)
{
	struct conn_key key = {.tgid = tgid, .fd = fd};
	struct scan_ctx s = {.responses = true};
	bool sure = true;
	__u8 head[16];
	__u32 n = 0;
	struct conn *c;
	__u16 status;
	__u8 *win;

	c = bpf_map_lookup_elem(&conns, &key);
	if (!c || c->role != role)
		return;
	if (len < 16 || bpf_probe_read_user(head, sizeof(head), (const void *)ubuf))
		return;
	status = parse_status(head);
	if (status) {
		c->answered = 1;
		pop_response(c, tgid, fd, status, ts);
	}
	/* More status lines matter only while pipelined requests wait for
	 * them (or after an interim one): else none could pair. */
	if (c->desync || (c->count == 0 && (!status || status >= 200)))
		return;
	if (iovcnt > 1)
		sure = pop_iov_heads(c, tgid, fd, iov, iovcnt, ts);
	if (!status) {
		/* A body write: only iovec heads are looked at. */
		if (!sure && c->count && !c->desync)
			drop_queue(c);
		return;
	}
	win = load_window(ubuf, len, &n);
	if (!win)
		return;
	s.data = win;
	s.n = n;
	bpf_loop(n, scan_byte, &s, 0);
	for (int i = 0; i < HTTPMON_PER_BUFFER - 1; i++) {
		__u8 more[16];

		if (i >= s.found)
			break;
		if (bpf_probe_read_kernel(more, sizeof(more),
					  win + (s.at[i] & (HTTPMON_SCAN_BYTES - 1))))
			break;
		status = parse_status(more);
		if (status)
			pop_response(c, tgid, fd, status, ts);
	}
	if ((!sure || total > n || s.found >= HTTPMON_PER_BUFFER) && c->count && !c->desync)
		drop_queue(c);
}

/* ---- reads: note the buffer at entry, inspect it at exit ---- */

static __always_inline void note_read(__u32 fd, __u64 buf, __u32 cap)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct read_args a = {.buf = buf, .fd = fd, .cap = cap};

	bpf_map_update_elem(&reads, &id, &a, BPF_ANY);
}

static __always_inline int read_enter(__u64 fd, __u64 buf)
{
	if (!is_watched(bpf_get_current_pid_tgid() >> 32))
		return 0;
	note_read(fd, buf, 0xffffffff);
	return 0;
}

static __always_inline int readv_enter(__u64 fd, const struct iovec *iov)
{
	struct iovec first;

	if (!is_watched(bpf_get_current_pid_tgid() >> 32))
		return 0;
	if (bpf_probe_read_user(&first, sizeof(first), iov))
		return 0;
	note_read(fd, (__u64)first.iov_base,
		  first.iov_len > 0xffffffff ? 0xffffffff : first.iov_len);
	return 0;
}

static __always_inline int read_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct read_args *a;
	struct read_args args;
	struct conn_key key;
	struct conn *c;
	__u64 len;

	if (!is_watched(tgid))
		return 0;
	a = bpf_map_lookup_elem(&reads, &id);
	if (!a)
		return 0;
	args = *a;
	bpf_map_delete_elem(&reads, &id);
	if (ret <= 0)
		return 0;
	len = (__u64)ret < args.cap ? (__u64)ret : args.cap;
	key.tgid = tgid;
	key.fd = args.fd;
	c = bpf_map_lookup_elem(&conns, &key);
	if (c && c->role == HTTPMON_ROLE_CLIENT)
		on_response_side(tgid, args.fd, HTTPMON_ROLE_CLIENT, args.buf, len, ret, 0, 0,
				 bpf_ktime_get_ns());
	else
		on_request_side(tgid, args.fd, HTTPMON_ROLE_SERVER, args.buf, len, ret,
				bpf_ktime_get_ns());
	return 0;
}

SEC("tp/syscalls/sys_enter_read")
int enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return read_enter(ctx->args[0], ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return read_enter(ctx->args[0], ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_readv")
int enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] < 1)
		return 0;
	return readv_enter(ctx->args[0], (const struct iovec *)ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	struct user_msghdr *msg = (struct user_msghdr *)ctx->args[1];
	struct iovec *iov = NULL;

	if (!is_watched(bpf_get_current_pid_tgid() >> 32))
		return 0;
	if (bpf_probe_read_user(&iov, sizeof(iov), &msg->msg_iov) || !iov)
		return 0;
	return readv_enter(ctx->args[0], iov);
}

SEC("tp/syscalls/sys_exit_read")
int exit_read(struct trace_event_raw_sys_exit *ctx)
{
	return read_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	return read_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_readv")
int exit_readv(struct trace_event_raw_sys_exit *ctx)
{
	return read_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	return read_exit(ctx->ret);
}

/* ---- writes: inspect the buffer at entry ---- */

static __always_inline int on_write(__u64 fd, __u64 buf, __u64 len, __u64 total, __u64 iov,
				    __u64 iovcnt)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct conn_key key = {.tgid = tgid, .fd = fd};
	struct conn *c;

	if (!is_watched(tgid))
		return 0;
	c = bpf_map_lookup_elem(&conns, &key);
	if (c && c->role == HTTPMON_ROLE_SERVER)
		on_response_side(tgid, fd, HTTPMON_ROLE_SERVER, buf, len, len, iov, iovcnt,
				 bpf_ktime_get_ns());
	else
		on_request_side(tgid, fd, HTTPMON_ROLE_CLIENT, buf, len, total, bpf_ktime_get_ns());
	return 0;
}

/* The first iovec is inspected; later ones only make the message longer. */
static __always_inline int on_write_iov(__u64 fd, const struct iovec *iov, __u64 iovcnt)
{
	struct iovec first;

	if (iovcnt < 1 || bpf_probe_read_user(&first, sizeof(first), iov))
		return 0;
	return on_write(fd, (__u64)first.iov_base, first.iov_len,
			iovcnt > 1 ? ~0ULL : first.iov_len, (__u64)iov, iovcnt);
}

SEC("tp/syscalls/sys_enter_write")
int enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return on_write(ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[2], 0, 0);
}

SEC("tp/syscalls/sys_enter_sendto")
int enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return on_write(ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[2], 0, 0);
}

SEC("tp/syscalls/sys_enter_writev")
int enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	if (!is_watched(bpf_get_current_pid_tgid() >> 32))
		return 0;
	return on_write_iov(ctx->args[0], (const struct iovec *)ctx->args[1], ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	struct user_msghdr msg;

	if (!is_watched(bpf_get_current_pid_tgid() >> 32))
		return 0;
	if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)ctx->args[1]) || !msg.msg_iov)
		return 0;
	return on_write_iov(ctx->args[0], msg.msg_iov, msg.msg_iovlen);
}

/* ---- connection boundaries: a new or closed fd starts from nothing ---- */

static __always_inline int reset_fd(long fd)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (fd < 0 || !is_watched(tgid))
		return 0;
	forget_conn(tgid, fd);
	return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return reset_fd(ctx->ret);
}

SEC("tp/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return reset_fd(ctx->ret);
}

SEC("tp/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	return reset_fd(ctx->args[0]);
}

SEC("tp/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return reset_fd(ctx->args[0]);
}
