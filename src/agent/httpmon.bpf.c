// SPDX-License-Identifier: GPL-2.0
/* httpmon (kernel side): recognises HTTP/1.x requests and responses on the
 * sockets of watched processes and sends each completed request (method, URI
 * start, status, start and end time) to user space through a ring buffer.
 *
 * Hooks: per-syscall tracepoints (never raw_syscalls: those run for every
 * syscall of the machine). Data syscalls: read/readv/recvfrom/recvmsg at
 * exit only (the arguments are read back from the saved user registers) and
 * write/writev/sendto/sendmsg at entry. accept/accept4/connect reset a
 * connection.
 * sendfile only carries bodies and *mmsg is for datagrams: neither starts an
 * HTTP/1.x message, so neither is hooked.
 *
 * A process is watched when its bit is set in `pid_bits` (user space writes the
 * mmap'd .bss directly): the one test every event of every process pays.
 * Per request of a watched server: one read exit (window copy, word-at-a-time
 * header scan, queue) and one write entry (status test, one ring record with
 * only the URI bytes it has). Connections live in an array of CONN_SLOTS
 * entries, each (tgid, fd) in one of two slots given by hashes of it, its key
 * stored and checked (an array lookup is inlined by the verifier: no helper
 * call, where a hash lookup cost 50-100 ns here). A new connection whose two
 * slots are held by other live connections is not tracked (counted as
 * conn_collisions): unknown, never paired wrongly.
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
 * response), so pairing is right or counted. Assumed (docs/httpmon.md): a
 * status line starts a write or one of its first HTTPMON_IOV_HEADS iovecs,
 * and no body chunk starting a buffer looks like a request line.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "agent/httpmon_abi.h"
#include "agent/netprof_abi.h"

char LICENSE[] SEC("license") = "GPL";

/* A record wakes the consumer when it is the Nth one emitted on its CPU
 * (0 or 1: every record); in between user space drains on its own tick. */
const volatile __u32 wakeup_every = 0;

/* Bit n of word HTTPMON_PID_WORD(n, HTTPMON_PID_WATCHED) set: tgid n is
 * watched (HTTPMON_PID_NET: see netprof.bpf.h). Written by user space
 * through the mmap. */
__u64 pid_bits[2 * HTTPMON_BITMAP_WORDS];

/* Slots of the connection array (a power of two) and how long a connection
 * may stay idle before its slot goes to a new one that needs it. */
#define CONN_SLOTS_LOG2 12
#define CONN_SLOTS	(1u << CONN_SLOTS_LOG2)
#define CONN_IDLE_NS	(30ULL * 1000000000ULL)

struct conn {
	__u64 key;     /* tgid << 32 | fd; 0: free */
	__u64 last_ns; /* last request queued or answered */
	__u8 role;
	__u8 desync;	/* pairing suspended until the peers alternate */
	__u8 answered;	/* a response was seen since the last request buffer */
	__u8 head;	/* index of the oldest waiting request */
	__u8 count;	/* requests waiting */
	__u8 tail_body; /* the last request queued may carry a body */
	__u8 pad[2];
	/* Waiting requests, already laid out as the records they will become. */
	struct httpmon_event queue[HTTPMON_QUEUE_DEPTH];
	/* Processes of a NETWORK task only: the first bytes of the last
	 * request buffer (pipelined requests but the last get none), for the
	 * heads of a slow or failed request (netprof.bpf.h). */
	__u64 req_head_start_ns; /* that request's start_ns */
	__u32 req_head_len;	 /* 0: none */
	__u32 req_head_pad;
	char req_head[NETPROF_HEAD_MAX];
};

/* Offsets a scan can note: one word past HTTPMON_PER_BUFFER matches never
 * wraps this. */
#define SCAN_AT_SLOTS (2 * HTTPMON_PER_BUFFER)

/* The window of one buffer, plus room for fixed-size reads past its end,
 * and the state of the header-end scan over it (in map memory, so that the
 * verifier does not follow its values from word to word). */
struct scratch {
	__u8 data[HTTPMON_SCAN_BYTES + HTTPMON_URI_MAX + 32];
	__u64 roll;
	__u32 found;
	__u32 at[SCAN_AT_SLOTS]; /* the first HTTPMON_PER_BUFFER - 1 used */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CONN_SLOTS);
	__type(key, __u32);
	__type(value, struct conn);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

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
	/* Masked too: the verifier sees the bound whatever copy clang uses. */
	return pid_bits[(2 * word + HTTPMON_PID_WATCHED) & (2 * HTTPMON_BITMAP_WORDS - 1)] &
	       (1ULL << (tgid & 63));
}

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* The saved user registers of the current thread `task` at the exit of
 * syscall `nr`, without a helper call where the kernel lays them out as
 * x86-64 does without FRED or KASAN (at the top of a 16 KiB stack): read
 * through bpf_rdonly_cast (inlined; faulting loads give 0) and used only
 * when they hold that syscall's number and a 64-bit user code segment;
 * else, and on other architectures, bpf_task_pt_regs (a call: ~45-90 ns). */
static __always_inline void syscall_args(struct task_struct *task, long nr, __u64 *arg1,
					 __u64 *arg2)
{
	struct pt_regs *regs;

#if defined(__TARGET_ARCH_x86)
	regs = bpf_rdonly_cast((void *)((__u64)task->stack + 16384 - sizeof(struct pt_regs)),
			       bpf_core_type_id_kernel(struct pt_regs));
	if (regs->orig_ax == nr && regs->cs == 0x33) {
		*arg1 = PT_REGS_PARM1_SYSCALL(regs);
		*arg2 = PT_REGS_PARM2_SYSCALL(regs);
		return;
	}
#endif
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	*arg1 = PT_REGS_PARM1_SYSCALL(regs);
	*arg2 = PT_REGS_PARM2_SYSCALL(regs);
}

/* The two slots a connection may live in (slot_hash, netprof_abi.h). */
static __always_inline __u32 conn_slot(__u32 tgid, __u32 fd, int which)
{
	return slot_hash(tgid, fd, which) & (CONN_SLOTS - 1);
}

static __always_inline __u64 conn_key(__u32 tgid, __u32 fd)
{
	return (__u64)tgid << 32 | fd;
}

/* The connection (tgid, fd), or NULL when it is not tracked. */
static __always_inline struct conn *conn_find(__u32 tgid, __u32 fd)
{
	__u64 key = conn_key(tgid, fd);
	struct conn *c;
	__u32 i;

	i = conn_slot(tgid, fd, 0);
	c = bpf_map_lookup_elem(&conns, &i);
	if (c && c->key == key)
		return c;
	i = conn_slot(tgid, fd, 1);
	c = bpf_map_lookup_elem(&conns, &i);
	if (c && c->key == key)
		return c;
	return NULL;
}

/* Empties connection c (its waiting requests are unpaired): a new
 * connection on its fd starts from nothing. */
static __always_inline void conn_reset(struct conn *c)
{
	if (c->count)
		count(HTTPMON_CNT_UNPAIRED_REQUESTS, c->count);
	c->role = HTTPMON_ROLE_UNKNOWN;
	c->desync = 0;
	c->answered = 0;
	c->head = 0;
	c->count = 0;
	c->tail_body = 0;
	c->req_head_len = 0;
	c->req_head_start_ns = 0;
}

/* Takes slot `which` of (tgid, fd) for it if the slot is free or its holder
 * is gone (process not watched any more, or idle for CONN_IDLE_NS). The key
 * is swapped atomically: two CPUs never take one slot. */
static __always_inline struct conn *conn_take(__u32 tgid, __u32 fd, int which, __u64 now)
{
	__u32 i = conn_slot(tgid, fd, which);
	struct conn *c = bpf_map_lookup_elem(&conns, &i);
	__u64 old;

	if (!c)
		return NULL;
	old = c->key;
	if (old && is_watched(old >> 32) && (__s64)(now - c->last_ns) < (__s64)CONN_IDLE_NS)
		return NULL;
	if (__sync_val_compare_and_swap(&c->key, old, conn_key(tgid, fd)) != old)
		return NULL;
	conn_reset(c);
	c->last_ns = now;
	return c;
}

/* A slot for the new connection (tgid, fd), or NULL (counted) when both
 * are held by live connections. */
static __always_inline struct conn *conn_claim(__u32 tgid, __u32 fd, __u64 now)
{
	struct conn *c = conn_take(tgid, fd, 0, now);

	if (!c)
		c = conn_take(tgid, fd, 1, now);
	if (!c)
		count(HTTPMON_CNT_CONN_COLLIDE, 1);
	return c;
}

#include "agent/netprof.bpf.h"

#include "agent/httpmon_parse.h"

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

/* Forgets what was known of connection (tgid, fd) (its waiting requests
 * are unpaired); it keeps its slot, as the socket it now is. */
static __always_inline void forget_conn(__u32 tgid, __u32 fd)
{
	struct conn *c = conn_find(tgid, fd);

	if (c)
		conn_reset(c);
}

/* Scan state for bpf_loop over a response window: the offsets (beyond 0)
 * where another status line starts. Only pipelined responses get here. */
struct scan_ctx {
	__u8 *data;
	__u32 n;
	__u32 found;
	__u32 at[SCAN_AT_SLOTS]; /* the first HTTPMON_PER_BUFFER - 1 used */
	__u64 roll;
};

#define ROLL_HTTP1 0x485454502f312e00ULL /* "HTTP/1." then any byte */

static long scan_byte(__u64 i, void *arg)
{
	struct scan_ctx *s = arg;
	__u32 start;

	s->roll = (s->roll << 8) | s->data[i & (HTTPMON_SCAN_BYTES - 1)];
	if ((s->roll & ~0xffULL) != ROLL_HTTP1 || i < 8)
		return 0;
	start = i - 7;
	if (start + 16 > s->n)
		return 0;
	/* Keep HTTPMON_PER_BUFFER - 1 offsets; one more means "too many". */
	if (s->found < HTTPMON_PER_BUFFER - 1)
		s->at[s->found & (SCAN_AT_SLOTS - 1)] = start;
	s->found++;
	return s->found >= HTTPMON_PER_BUFFER;
}

#define BYTES_01 0x0101010101010101ULL
#define BYTES_80 0x8080808080808080ULL
#define BYTES_LF 0x0a0a0a0a0a0a0a0aULL

/* Header ends ("\r\n\r\n") followed by at least 16 bytes in the first n
 * bytes of the window: w->found of them, the offsets after them in w->at.
 * A plain loop, no bpf_loop: a callback per word cost a call and a return
 * each (~50 ns apiece on this kernel's mitigations). Words without a LF
 * (most) cost one test; the others are handled without branches (x == 0 is
 * (x - 1) >> 63 for x < 2^32). The state lives in the scratch and is read
 * through a volatile pointer: at the loop head only the word index is in a
 * register, so the two paths of a word verify as one state. Matches past n
 * involve stale bytes and so fail the "16 bytes follow" test. Stops at
 * HTTPMON_PER_BUFFER matches. A global function: verified once, not once
 * per state of each caller. */
__noinline int scan_header_ends(struct scratch *w, __u32 n)
{
	volatile struct scratch *v = w;
	__u32 words = (n + 7) / 8;

	if (!w)
		return 0;
	v->roll = 0;
	v->found = 0;
#pragma clang loop unroll(disable)
	for (__u32 wi = 0; wi < HTTPMON_SCAN_BYTES / 8; wi++) {
		__u64 word, x;

		if (wi >= words || v->found >= HTTPMON_PER_BUFFER)
			break;
		word = *(__u64 *)(w->data + wi * 8);
		x = word ^ BYTES_LF;
		if (!((x - BYTES_01) & ~x & BYTES_80)) {
			v->roll = __builtin_bswap64(word);
			continue;
		}
		for (int k = 0; k < 8; k++) {
			__u64 start = wi * 8 + k + 1;
			__u64 roll = (v->roll << 8) | ((word >> (8 * k)) & 0xff);
			__u64 tail = (roll & 0xffffffffULL) ^ 0x0d0a0d0aULL;
			__u64 left = (__u64)n - start - 16;
			__u32 found = v->found;
			__u64 hit, room;

			/* Opaque to clang, which would turn the shifts back into
			 * compares and branches, one path each for the verifier. */
			barrier_var(tail);
			barrier_var(left);
			hit = (tail - 1) >> 63;
			room = 1 + (__u64)((__s64)left >> 63);

			v->roll = roll;
			v->at[found & (SCAN_AT_SLOTS - 1)] = start;
			v->found = found + (hit & room);
		}
	}
	return 0;
}

/* Reads min(len, HTTPMON_SCAN_BYTES) bytes of `ubuf` into the scratch and
 * returns it (NULL on failure); *n gets the count. */
static __always_inline struct scratch *load_window(__u64 ubuf, __u64 len, __u32 *n)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	__u32 size = len < HTTPMON_SCAN_BYTES ? len : HTTPMON_SCAN_BYTES;

	if (!s || size == 0 || size > HTTPMON_SCAN_BYTES)
		return NULL;
	if (bpf_probe_read_user(s->data, size, (const void *)ubuf))
		return NULL;
	*n = size;
	return s;
}

/* Queues the request starting at `at` of the window, if one does, and notes
 * in c->tail_body whether it may carry a body. */
static __always_inline void push_request(struct conn *c, __u32 tgid, __u32 fd, __u8 *win, __u32 n,
					 __u32 at, __u64 ts)
{
	__u32 mlen = 0, uri_at;
	struct httpmon_event *p;
	__u8 method;

	/* The scratch has room for 16 bytes past any masked offset, and for
	 * HTTPMON_URI_MAX past the URI start: direct reads, no helper. */
	at &= HTTPMON_SCAN_BYTES - 1;
	method = parse_method(win + at, &mlen);
	if (method == HTTPMON_METHOD_UNKNOWN)
		return;
	count(HTTPMON_CNT_REQUESTS, 1);
	/* In map memory, not a register: the verifier need not follow it. */
	c->tail_body = method_has_body(method);
	if (c->desync)
		return;
	if (c->count >= HTTPMON_QUEUE_DEPTH) {
		drop_queue(c);
		return;
	}
	p = &c->queue[(c->head + c->count) & (HTTPMON_QUEUE_DEPTH - 1)];
	uri_at = (at + mlen + 1) & (HTTPMON_SCAN_BYTES - 1);
	p->pid = tgid;
	p->fd = fd;
	p->role = c->role;
	p->start_ns = ts;
	p->method = method;
	p->uri_len = n > uri_at ? (n - uri_at < HTTPMON_URI_MAX ? n - uri_at : HTTPMON_URI_MAX) : 0;
	__builtin_memcpy(p->uri, win + uri_at, HTTPMON_URI_MAX);
	c->count++;
}

/* A request-side buffer: `len` readable bytes at user address `ubuf`, part
 * of a message of `total` bytes (more when other iovecs follow). ts: the
 * time, or 0 to take it only if the buffer is a request. */
static __always_inline void on_request_side(struct conn *c, __u32 tgid, __u32 fd, __u8 role,
					    __u64 ubuf, __u64 len, __u64 total, __u64 ts)
{
	__u32 mlen = 0, n = 0;
	struct scratch *w;
	__u8 *win;

	/* One copy of the window serves the method test and the scan. */
	if (len < 16)
		return;
	w = load_window(ubuf, len, &n);
	if (!w || parse_method(w->data, &mlen) == HTTPMON_METHOD_UNKNOWN)
		return;
	win = w->data;
	if (!ts)
		ts = bpf_ktime_get_ns();
	if (!c) {
		if (!fd_is_socket(fd))
			return;
		c = conn_claim(tgid, fd, ts);
		if (!c)
			return;
	}
	if (c->role == HTTPMON_ROLE_UNKNOWN)
		c->role = role;
	if (c->role != role)
		return;
	c->last_ns = ts;
	if (c->desync && c->answered && c->count == 0)
		c->desync = 0;
	c->answered = 0;
	push_request(c, tgid, fd, win, n, 0, ts);
	if (is_net(tgid))
		net_keep_request_head(c, w, n, ts);
	scan_header_ends(w, n);
	for (int i = 0; i < HTTPMON_PER_BUFFER - 1; i++) {
		if (i >= w->found)
			break;
		push_request(c, tgid, fd, win, n, w->at[i], ts);
	}
	if (w->found >= HTTPMON_PER_BUFFER) {
		/* More requests in this buffer than one scan records. */
		if (!c->desync)
			drop_queue(c);
		return;
	}
	/* Past the window a bodiless request can only be followed by more
	 * requests we cannot see. */
	if (total > n && !c->tail_body && !c->desync)
		drop_queue(c);
}

/* Sends the oldest waiting request, completed by `status` at `ts`: only
 * the URI bytes it has are copied into the ring. */
static __always_inline void emit(struct conn *c, __u16 status, __u64 ts)
{
	struct httpmon_event *p = &c->queue[c->head & (HTTPMON_QUEUE_DEPTH - 1)];
	__u32 which = HTTPMON_CNT_EMITTED;
	__u64 size, flags = 0, *emitted;

	p->status = status;
	p->end_ns = ts;
	c->last_ns = ts;
	size = offsetof(struct httpmon_event, uri) + ((p->uri_len + 7) & ~7);
	if (size > sizeof(*p))
		size = sizeof(*p);
	emitted = bpf_map_lookup_elem(&counters, &which);
	if (!emitted)
		return;
	if (wakeup_every > 1)
		flags = (*emitted + 1) % wakeup_every ? BPF_RB_NO_WAKEUP : BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, p, size, flags) == 0)
		*emitted += 1;
	else
		count(HTTPMON_CNT_RING_FULL, 1);
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
	emit(c, status, ts);
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
 * in a message of `total` bytes. ts: the time, or 0 to take it only if the
 * buffer can complete a request. */
static __always_inline void on_response_side(struct conn *c, __u32 tgid, __u32 fd, __u8 role,
					     __u64 ubuf, __u64 len, __u64 total, __u64 iov,
					     __u64 iovcnt, __u64 ts)
{
	struct scan_ctx s = {};
	struct scratch *w;
	bool sure = true;
	__u8 head[16];
	__u32 n = 0;
	__u16 status;

	if (!c || c->role != role)
		return;
	if (len < 16 || bpf_probe_read_user(head, sizeof(head), (const void *)ubuf))
		return;
	status = parse_status(head);
	/* A body write with nothing waiting (see below): nothing to do. */
	if (!status && (c->desync || c->count == 0))
		return;
	if (!ts)
		ts = bpf_ktime_get_ns();
	if (status) {
		__u32 oldest = c->head & (HTTPMON_QUEUE_DEPTH - 1);
		bool pairs = !c->desync && c->count && (status >= 200 || status == 101);

		c->answered = 1;
		pop_response(c, tgid, fd, status, ts);
		/* The popped request's record (status, end set) stays in the
		 * queue slot it was sent from. */
		if (pairs && is_net(tgid))
			net_send_heads(c, &c->queue[oldest], ubuf, len);
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
	w = load_window(ubuf, len, &n);
	if (!w)
		return;
	s.data = w->data;
	s.n = n;
	bpf_loop(n, scan_byte, &s, 0);
	for (int i = 0; i < HTTPMON_PER_BUFFER - 1; i++) {
		__u8 more[16];

		if (i >= s.found)
			break;
		if (bpf_probe_read_kernel(more, sizeof(more),
					  w->data + (s.at[i] & (HTTPMON_SCAN_BYTES - 1))))
			break;
		status = parse_status(more);
		if (status)
			pop_response(c, tgid, fd, status, ts);
	}
	if ((!sure || total > n || s.found >= HTTPMON_PER_BUFFER) && c->count && !c->desync)
		drop_queue(c);
}

/* ---- reads: inspected at exit ---- */

/* At a read's exit the syscall's arguments are still in the thread's saved
 * user registers: no entry program (which every read of every process on
 * the machine would run) and no per-thread state are needed. */
static __always_inline int read_exit(long nr, long ret, bool vectored)
{
	struct task_struct *task;
	struct conn *c;
	__u64 arg1, buf, len, now = 0;
	__u32 fd, tgid;

	/* Failed reads (EAGAIN) return before any helper call. */
	if (ret <= 0)
		return 0;
	task = bpf_get_current_task_btf();
	tgid = task->tgid;
	if (!is_watched(tgid))
		return 0;
	syscall_args(task, nr, &arg1, &buf);
	fd = arg1;
	len = ret;
	if (vectored) {
		struct iovec first;

		if (bpf_probe_read_user(&first, sizeof(first), (const void *)buf))
			return 0;
		buf = (__u64)first.iov_base;
		if (first.iov_len < len)
			len = first.iov_len;
	}
	if (is_net(tgid))
		now = net_read_done(task, tgid, fd, ret);
	c = conn_find(tgid, fd);
	if (c && c->role == HTTPMON_ROLE_CLIENT)
		on_response_side(c, tgid, fd, HTTPMON_ROLE_CLIENT, buf, len, ret, 0, 0, now);
	else
		on_request_side(c, tgid, fd, HTTPMON_ROLE_SERVER, buf, len, ret, now);
	return 0;
}

SEC("tp/syscalls/sys_exit_read")
int exit_read(struct trace_event_raw_sys_exit *ctx)
{
	return read_exit(ctx->id, ctx->ret, false);
}

SEC("tp/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	return read_exit(ctx->id, ctx->ret, false);
}

SEC("tp/syscalls/sys_exit_readv")
int exit_readv(struct trace_event_raw_sys_exit *ctx)
{
	return read_exit(ctx->id, ctx->ret, true);
}

/* recvmsg's second argument is a msghdr: its iovec array is one step away. */
SEC("tp/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task;
	struct user_msghdr msg;
	struct iovec first;
	struct conn *c;
	long ret = ctx->ret;
	__u64 arg1, msgp, len = ret, now = 0;
	__u32 tgid, fd;

	if (ret <= 0)
		return 0;
	task = bpf_get_current_task_btf();
	tgid = task->tgid;
	if (!is_watched(tgid))
		return 0;
	syscall_args(task, ctx->id, &arg1, &msgp);
	fd = arg1;
	if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)msgp) || !msg.msg_iov ||
	    bpf_probe_read_user(&first, sizeof(first), msg.msg_iov))
		return 0;
	if (first.iov_len < len)
		len = first.iov_len;
	if (is_net(tgid))
		now = net_read_done(task, tgid, fd, ret);
	c = conn_find(tgid, fd);
	if (c && c->role == HTTPMON_ROLE_CLIENT)
		on_response_side(c, tgid, fd, HTTPMON_ROLE_CLIENT, (__u64)first.iov_base, len, ret,
				 0, 0, now);
	else
		on_request_side(c, tgid, fd, HTTPMON_ROLE_SERVER, (__u64)first.iov_base, len, ret,
				now);
	return 0;
}

/* ---- writes: inspect the buffer at entry ---- */

/* A write by thread id = tgid << 32 | tid of a watched process. */
static __always_inline int on_write(__u64 id, __u64 fd, __u64 buf, __u64 len, __u64 total,
				    __u64 iov, __u64 iovcnt)
{
	__u32 tgid = id >> 32;
	struct conn *c;
	__u64 now = 0;

	if (is_net(tgid))
		now = net_write_starts(id, fd);
	c = conn_find(tgid, fd);
	if (c && c->role == HTTPMON_ROLE_SERVER)
		on_response_side(c, tgid, fd, HTTPMON_ROLE_SERVER, buf, len, len, iov, iovcnt, now);
	else
		on_request_side(c, tgid, fd, HTTPMON_ROLE_CLIENT, buf, len, total, now);
	return 0;
}

/* The first iovec is inspected; later ones only make the message longer. */
static __always_inline int on_write_iov(__u64 id, __u64 fd, const struct iovec *iov, __u64 iovcnt)
{
	struct iovec first;

	if (iovcnt < 1 || bpf_probe_read_user(&first, sizeof(first), iov))
		return 0;
	return on_write(id, fd, (__u64)first.iov_base, first.iov_len,
			iovcnt > 1 ? ~0ULL : first.iov_len, (__u64)iov, iovcnt);
}

/* The calling thread (tgid << 32 | tid), if its process is watched; 0 if
 * not. */
static __always_inline __u64 watched_id(void)
{
	__u64 id = bpf_get_current_pid_tgid();

	return is_watched(id >> 32) ? id : 0;
}

SEC("tp/syscalls/sys_enter_write")
int enter_write(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = watched_id();

	if (!id)
		return 0;
	return on_write(id, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[2], 0, 0);
}

SEC("tp/syscalls/sys_enter_sendto")
int enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = watched_id();

	if (!id)
		return 0;
	return on_write(id, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[2], 0, 0);
}

SEC("tp/syscalls/sys_enter_writev")
int enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = watched_id();

	if (!id)
		return 0;
	return on_write_iov(id, ctx->args[0], (const struct iovec *)ctx->args[1], ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = watched_id();
	struct user_msghdr msg;

	if (!id)
		return 0;
	if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)ctx->args[1]) || !msg.msg_iov)
		return 0;
	return on_write_iov(id, ctx->args[0], msg.msg_iov, msg.msg_iovlen);
}

/* ---- connection boundaries: a new connection's fd starts from nothing ----
 * close(2) is not hooked: nginx closes a file per request, and every fd that
 * becomes a socket again goes through accept or connect, which reset it.
 * Requests waiting on a connection that closed are counted unpaired then. */

/* A new connection on fd: forgotten by httpmon; for a NETWORK task's
 * process, an accepted one (server) is opened now, a connecting one notes
 * its start (opened at connect's exit, netprof.bpf.h). */
static __always_inline int reset_fd(long fd, bool accepted)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (fd < 0 || !is_watched(tgid))
		return 0;
	forget_conn(tgid, fd);
	if (is_net(tgid)) {
		if (accepted)
			net_open(tgid, fd, HTTPMON_ROLE_SERVER, 0, bpf_ktime_get_ns());
		else
			net_note_connect(bpf_get_current_task_btf(), fd, bpf_ktime_get_ns());
	}
	return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return reset_fd(ctx->ret, true);
}

SEC("tp/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return reset_fd(ctx->ret, true);
}

SEC("tp/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	return reset_fd(ctx->args[0], false);
}
