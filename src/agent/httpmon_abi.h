/* httpmon ABI shared by httpmon.bpf.c and httpmon.c: one record
 * per completed HTTP/1.x request of a watched process, sent through a ring
 * buffer, plus the kernel's counters. Fixed-width types only.
 *
 * A request is "completed" when its response's status line was written
 * (server role) or read (client role). Times are CLOCK_MONOTONIC ns:
 *   server: start = return of the read that brought the request line,
 *           end   = entry of the write that carries the status line;
 *   client: start = entry of the write that carries the request line,
 *           end   = return of the read that brought the status line.
 * The URI is the first bytes after the method (HTTPMON_URI_MAX at most);
 * uri_len counts the bytes the kernel copied that were inside the buffer
 * (the URI ends at the first space, CR or LF among them; user space cuts it).
 */
#ifndef CONTPROF_AGENT_HTTPMON_ABI_H
#define CONTPROF_AGENT_HTTPMON_ABI_H

#define HTTPMON_URI_MAX 128
/* Bytes of one buffer the kernel scans for pipelined requests/responses. */
#define HTTPMON_SCAN_BYTES 1024
/* Requests one connection may have waiting for their responses. */
#define HTTPMON_QUEUE_DEPTH 8
/* Requests/responses recognised in one buffer (the first and up to 7 more). */
#define HTTPMON_PER_BUFFER 8
/* Iovecs of one vectored write whose first bytes are checked for a status
 * line (pipelined responses written together). */
#define HTTPMON_IOV_HEADS 8
/* The watched-pid bitmaps cover every pid up to the kernel's PID_MAX_LIMIT.
 * They are interleaved in `pid_bits`: per 64 pids, the word of the watched
 * ones then the word of those in a running NETWORK task (a subset), so that
 * both tests of a watched process read one cache line. */
#define HTTPMON_PID_LIMIT	     (4 * 1024 * 1024)
#define HTTPMON_BITMAP_WORDS	     (HTTPMON_PID_LIMIT / 64)
#define HTTPMON_PID_WATCHED	     0
#define HTTPMON_PID_NET		     1
#define HTTPMON_PID_WORD(pid, which) (2 * ((pid) / 64) + (which))

enum httpmon_role {
	HTTPMON_ROLE_UNKNOWN = 0,
	HTTPMON_ROLE_SERVER = 1,
	HTTPMON_ROLE_CLIENT = 2,
};

enum httpmon_method {
	HTTPMON_METHOD_UNKNOWN = 0,
	HTTPMON_METHOD_GET,
	HTTPMON_METHOD_POST,
	HTTPMON_METHOD_PUT,
	HTTPMON_METHOD_DELETE,
	HTTPMON_METHOD_HEAD,
	HTTPMON_METHOD_PATCH,
	HTTPMON_METHOD_OPTIONS,
	HTTPMON_METHOD_CONNECT,
	HTTPMON_METHOD_TRACE,
	HTTPMON_METHOD_COUNT
};

/* Kernel counters (per-CPU array, summed by user space). */
enum httpmon_counter {
	HTTPMON_CNT_REQUESTS,		/* request lines recognised */
	HTTPMON_CNT_RESPONSES,		/* final status lines recognised */
	HTTPMON_CNT_EMITTED,		/* completed requests sent to user space */
	HTTPMON_CNT_RING_FULL,		/* completed requests lost: ring buffer full */
	HTTPMON_CNT_UNPAIRED_REQUESTS,	/* requests dropped without their response */
	HTTPMON_CNT_UNPAIRED_RESPONSES, /* responses with no request to pair */
	HTTPMON_CNT_DESYNC,		/* times a connection lost certain pairing */
	HTTPMON_CNT_CONN_COLLIDE,	/* new connections not tracked: both their
					 * slots held by live connections */
	HTTPMON_CNT_NET_COLLIDE,	/* NETWORK connections not tracked: the
					 * same for `netconns` */
	HTTPMON_CNT_COUNT
};

/* A record in the ring is this struct cut after uri[uri_len rounded up to 8]. */
struct httpmon_event {
	__u32 pid; /* thread group id */
	__u32 fd;
	__u8 role;   /* enum httpmon_role */
	__u8 method; /* enum httpmon_method */
	__u16 status;
	__u16 uri_len; /* valid bytes in uri[] (<= HTTPMON_URI_MAX) */
	__u16 kind;    /* enum netprof_record_kind: 0 for this record */
	__u64 start_ns;
	__u64 end_ns;
	char uri[HTTPMON_URI_MAX];
};

#endif
