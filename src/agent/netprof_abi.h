/* netprof ABI: what the NETWORK profiler's kernel part (netprof.bpf.h,
 * compiled into httpmon.bpf.c: one set of programs, one connection
 * tracking) shares with user space (netprof.c). Fixed-width types only.
 *
 * For processes whose HTTPMON_PID_NET bit is set in `pid_bits` (a subset of
 * the watched ones) the kernel keeps one `struct netprof_conn` per TCP
 * socket fd in a slot of the `netconns` array (struct netprof_slot, mmap'd
 * by user space; see netprof_slot()): addresses read from the socket at
 * accept/connect, bytes and calls each way, time spent in the read/write
 * syscalls (a log2 histogram each way) and retransmits. close(2) sends the
 * final value through the httpmon ring as a NETPROF_REC_CLOSED record and
 * frees its slot; accept/connect send a NETPROF_REC_OPENED one; user space
 * reads the live ones (bits of `net_slot_used`) at each flush.
 *
 * Slow or failed requests of those processes also get a NETPROF_REC_HEADS
 * record: the first bytes of the request and of the response (each at most
 * NETPROF_HEAD_MAX), right after the request's own httpmon record.
 */
#ifndef CONTPROF_AGENT_NETPROF_ABI_H
#define CONTPROF_AGENT_NETPROF_ABI_H

#define NETPROF_HEAD_MAX     1024
#define NETPROF_HIST_BUCKETS 32	   /* bucket b: [2^b, 2^(b+1)) ns; 0 holds < 2 ns */
#define NETPROF_CONNS_MAX    16384 /* slots of `netconns`: a power of two */
#define NETPROF_RETRANS_MAX  4096
/* A filter of the (tgid, fd) pairs that may have a `netconns` slot: bit
 * NETPROF_FD_BIT(tgid, fd) of `net_fd_bits` is set (by the kernel at
 * accept/connect, by user space when it adds a connection) before the entry
 * is made and never cleared. A clear bit lets close(2) and the read/write
 * programs skip the hash lookup for files and pipes. */
#define NETPROF_FD_BITS		 (1u << 20)
#define NETPROF_FD_BIT(tgid, fd) (((__u32)(tgid)*2654435761u + (__u32)(fd)) & (NETPROF_FD_BITS - 1))

/* httpmon_event.kind of the ring's records. */
enum netprof_record_kind {
	NETPROF_REC_REQUEST = 0, /* struct httpmon_event */
	NETPROF_REC_CLOSED = 1,	 /* struct netprof_closed */
	NETPROF_REC_HEADS = 2,	 /* struct netprof_heads */
	NETPROF_REC_OPENED = 3,	 /* struct netprof_closed, close_ns 0 */
};

enum netprof_dir {
	NETPROF_IN = 0, /* read family */
	NETPROF_OUT = 1,
	NETPROF_DIRS
};

/* Addresses: IPv4 as ::ffff:a.b.c.d; ports in host order. */
struct netprof_addr {
	__u8 addr[16];
	__u16 port;
	__u16 pad[3];
};

struct netprof_conn {
	__u8 role;   /* enum httpmon_role: accepted = SERVER, connected = CLIENT */
	__u8 family; /* AF_INET / AF_INET6, 0 when unknown */
	__u8 pad[6];
	__u64 open_ns;	  /* CLOCK_MONOTONIC of the accept/connect */
	__u64 connect_ns; /* time in connect(2) (blocking), 0 otherwise */
	struct netprof_addr local;
	struct netprof_addr remote;
	__u64 bytes[NETPROF_DIRS];
	__u64 calls[NETPROF_DIRS];
	__u64 syscall_ns[NETPROF_DIRS];
	__u32 hist[NETPROF_DIRS][NETPROF_HIST_BUCKETS];
	__u32 retransmits;
	__u32 pad2;
};

/* A connection (tgid, fd) lives in one of two slots of `netconns`, which
 * holds its key: netprof_slot(tgid, fd, 0), where sequential fds of one
 * process take sequential slots, or netprof_slot(tgid, fd, 1), scattered.
 * A slot is taken by swapping its key atomically from 0 (free) or from a
 * process no longer net-watched to NETPROF_SLOT_BUSY, filled, then given its
 * key; freed (key 0) at close. A new connection whose two slots are held by
 * live ones is not tracked (counted as net_conn_collisions). */
#define NETPROF_SLOT_BUSY (~0ULL)

/* The two places a connection may live in a table of slots (the HTTP
 * monitor's and this one), before masking to its size: sequential fds of
 * one process take sequential first slots; the second is scattered. */
static inline __u32 slot_hash(__u32 tgid, __u32 fd, int which)
{
	__u32 h;

	if (!which)
		return tgid * 2654435761u + fd;
	h = (tgid ^ (fd * 0x9e3779b1u)) * 0x85ebca6bu;
	return h ^ (h >> 15);
}

static inline __u32 netprof_slot(__u32 tgid, __u32 fd, int which)
{
	return slot_hash(tgid, fd, which) & (NETPROF_CONNS_MAX - 1);
}

struct netprof_slot {
	__u64 key; /* tgid << 32 | fd; 0 free; NETPROF_SLOT_BUSY being filled */
	/* The read (IN) or write (OUT) syscall in progress on it: its start and
	 * the thread in it (kernel only; 0: none). */
	__u64 start_ns[NETPROF_DIRS];
	__u32 start_tid[NETPROF_DIRS];
	struct netprof_conn conn;
};

/* A closed connection's last value. `kind` sits where httpmon_event has it. */
struct netprof_closed {
	__u32 pid;
	__u32 fd;
	__u8 role;
	__u8 pad0;
	__u16 pad1;
	__u16 pad2;
	__u16 kind; /* NETPROF_REC_CLOSED */
	__u64 close_ns;
	struct netprof_conn conn;
};

/* First bytes of a slow or failed request's request and response. */
struct netprof_heads {
	__u32 pid;
	__u32 fd;
	__u8 role;
	__u8 pad0;
	__u16 status;
	__u16 pad2;
	__u16 kind;	/* NETPROF_REC_HEADS */
	__u64 start_ns; /* the request's, to match its httpmon record */
	__u16 req_len;
	__u16 resp_len;
	__u32 pad3;
	char req[NETPROF_HEAD_MAX];
	char resp[NETPROF_HEAD_MAX];
};

/* Retransmits by 4-tuple (sock tracepoints carry no pid). */
struct netprof_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 pad;
};

#endif
