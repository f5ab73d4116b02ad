/* netpeer: see netpeer.h. */
#include "agent/netpeer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/parse.h"

struct inode_pid {
	uint64_t inode;
	uint32_t pid;
};

struct netpeer {
	char *proc_root;
	struct netpeer_sock *socks;
	size_t n_socks;
	int64_t taken_ms; /* monotonic; 0: never */
	struct inode_pid *links;
	size_t n_links;
	bool links_valid;
	int64_t links_ms; /* monotonic time of the last build */
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct netpeer *netpeer_new(const char *proc_root)
{
	struct netpeer *np = calloc(1, sizeof(*np));

	if (!np)
		return NULL;
	np->proc_root = strdup(proc_root);
	if (!np->proc_root)
		return netpeer_free(np);
	return np;
}

struct netpeer *netpeer_free(struct netpeer *np)
{
	if (!np)
		return NULL;
	free(np->proc_root);
	free(np->socks);
	free(np->links);
	free(np);
	return NULL;
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "0100007F:1F90" (IPv4) or 32 hex digits ":" port (IPv6): each 32-bit
 * word of the address is printed in host order (little-endian here). */
static int parse_endpoint(const char *s, size_t len, struct netprof_addr *ret)
{
	const char *colon = memchr(s, ':', len);
	size_t hex, words;
	uint32_t port = 0;

	if (!colon)
		return -EINVAL;
	hex = (size_t)(colon - s);
	if (hex != 8 && hex != 32)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	words = hex / 8;
	for (size_t w = 0; w < words; w++) {
		uint32_t v = 0;

		for (size_t k = 0; k < 8; k++) {
			int n = hex_nibble(s[w * 8 + k]);

			if (n < 0)
				return -EINVAL;
			v = v << 4 | (uint32_t)n;
		}
		/* The word's bytes in memory order (little-endian host). */
		uint8_t *dst = words == 1 ? ret->addr + 12 : ret->addr + w * 4;

		dst[0] = v & 0xff;
		dst[1] = (v >> 8) & 0xff;
		dst[2] = (v >> 16) & 0xff;
		dst[3] = v >> 24;
	}
	if (words == 1)
		ret->addr[10] = ret->addr[11] = 0xff;
	for (const char *p = colon + 1; p < s + len; p++) {
		int n = hex_nibble(*p);

		if (n < 0 || port > 0xfff)
			return -EINVAL;
		port = port << 4 | (uint32_t)n;
	}
	if (colon + 1 == s + len)
		return -EINVAL;
	ret->port = (uint16_t)port;
	return 0;
}

int netpeer_parse_line(const char *line, struct netpeer_sock *ret)
{
	const char *field[10];
	size_t flen[10], n = 0;
	const char *p = line;
	struct netpeer_sock s;
	char num[32];
	uint64_t inode;
	int st;

	/* sl local rem st queues tr:when retrnsmt uid timeout inode */
	while (*p && n < 10) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		field[n] = p;
		while (*p && *p != ' ' && *p != '\n')
			p++;
		flen[n] = (size_t)(p - field[n]);
		n++;
	}
	if (n < 10)
		return -EINVAL;
	if (parse_endpoint(field[1], flen[1], &s.local) ||
	    parse_endpoint(field[2], flen[2], &s.remote) || flen[3] != 2)
		return -EINVAL;
	st = hex_nibble(field[3][0]) * 16 + hex_nibble(field[3][1]);
	if (st < 0 || flen[9] >= sizeof(num))
		return -EINVAL;
	memcpy(num, field[9], flen[9]);
	num[flen[9]] = '\0';
	if (parse_u64(num, &inode))
		return -EINVAL;
	s.state = (uint8_t)st;
	s.inode = inode;
	*ret = s;
	return 0;
}

static int read_table(struct netpeer *np, const char *name)
{
	char path[PATH_MAX], line[512];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/net/%s", np->proc_root, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	if (!fgets(line, sizeof(line), f)) { /* header */
		fclose(f);
		return 0;
	}
	while (np->n_socks < NETPEER_SOCKETS_MAX && fgets(line, sizeof(line), f)) {
		struct netpeer_sock s;

		if (netpeer_parse_line(line, &s) == 0)
			np->socks[np->n_socks++] = s;
	}
	fclose(f);
	return 0;
}

static int refresh(struct netpeer *np)
{
	int err;

	if (!np->socks) {
		np->socks = calloc(NETPEER_SOCKETS_MAX, sizeof(*np->socks));
		if (!np->socks)
			return -ENOMEM;
	}
	np->n_socks = 0;
	np->links_valid = false;
	err = read_table(np, "tcp");
	if (err && err != -ENOENT)
		return err;
	err = read_table(np, "tcp6");
	if (err && err != -ENOENT)
		return err;
	np->taken_ms = mono_ms();
	return 0;
}

/* The snapshot may miss a socket made at `since_ns` (monotonic; 0: any
 * time), or is older than NETPEER_MAX_AGE_MS. */
static bool stale(const struct netpeer *np, uint64_t since_ns)
{
	return !np->taken_ms || (int64_t)(since_ns / 1000000) >= np->taken_ms ||
	       mono_ms() - np->taken_ms >= NETPEER_MAX_AGE_MS;
}

static bool links_stale(const struct netpeer *np, uint64_t since_ns)
{
	return (int64_t)(since_ns / 1000000) >= np->links_ms ||
	       mono_ms() - np->links_ms >= NETPEER_MAX_AGE_MS;
}

static bool addr_eq(const struct netprof_addr *a, const struct netprof_addr *b)
{
	return a->port == b->port && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static const struct netpeer_sock *find_pair(const struct netpeer *np,
					    const struct netprof_addr *local,
					    const struct netprof_addr *remote)
{
	for (size_t i = 0; i < np->n_socks; i++)
		if (np->socks[i].state != NETPEER_TCP_LISTEN &&
		    addr_eq(&np->socks[i].local, local) && addr_eq(&np->socks[i].remote, remote))
			return &np->socks[i];
	return NULL;
}

static int cmp_link(const void *a, const void *b)
{
	const struct inode_pid *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* "socket:[N]" -> N, else 0. */
static uint64_t socket_inode(const char *link)
{
	uint64_t inode;
	char num[32];
	size_t len;

	if (strncmp(link, "socket:[", 8) != 0)
		return 0;
	len = strlen(link + 8);
	if (len < 2 || len - 1 >= sizeof(num) || link[8 + len - 1] != ']')
		return 0;
	memcpy(num, link + 8, len - 1);
	num[len - 1] = '\0';
	return parse_u64(num, &inode) == 0 ? inode : 0;
}

/* Every socket fd of every process: inode -> pid, sorted. */
static int build_links(struct netpeer *np)
{
	char path[PATH_MAX], link[64];
	struct dirent *de;
	DIR *proc;

	if (!np->links) {
		np->links = calloc(NETPEER_INODES_MAX, sizeof(*np->links));
		if (!np->links)
			return -ENOMEM;
	}
	np->n_links = 0;
	proc = opendir(np->proc_root);
	if (!proc)
		return -errno;
	while ((de = readdir(proc)) && np->n_links < NETPEER_INODES_MAX) {
		uint32_t pid;
		struct dirent *fe;
		DIR *fds;

		if (parse_u32(de->d_name, &pid) || pid == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%u/fd", np->proc_root, pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((fe = readdir(fds)) && np->n_links < NETPEER_INODES_MAX) {
			ssize_t n;
			uint64_t inode;

			if (fe->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%u/fd/%s", np->proc_root, pid, fe->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			inode = socket_inode(link);
			if (inode)
				np->links[np->n_links++] = (struct inode_pid){inode, pid};
		}
		closedir(fds);
	}
	closedir(proc);
	qsort(np->links, np->n_links, sizeof(*np->links), cmp_link);
	np->links_valid = true;
	np->links_ms = mono_ms();
	return 0;
}

static int pid_of_inode(struct netpeer *np, uint64_t inode, uint32_t *pid)
{
	struct inode_pid key = {.inode = inode}, *hit;
	int err;

	if (!np->links_valid) {
		err = build_links(np);
		if (err)
			return err;
	}
	hit = bsearch(&key, np->links, np->n_links, sizeof(*np->links), cmp_link);
	if (!hit)
		return -ENOENT;
	*pid = hit->pid;
	return 0;
}

/* pid_of_inode(), reading the socket links again when they are older than
 * since_ns: the process may have opened the socket after they were read. */
static int pid_of_inode_fresh(struct netpeer *np, uint64_t inode, uint64_t since_ns, uint32_t *pid)
{
	int err = pid_of_inode(np, inode, pid);

	if (err == -ENOENT && links_stale(np, since_ns)) {
		err = build_links(np);
		if (!err)
			err = pid_of_inode(np, inode, pid);
	}
	return err;
}

int netpeer_other_end(struct netpeer *np, const struct netprof_addr *local,
		      const struct netprof_addr *remote, uint64_t since_ns, uint32_t *pid)
{
	const struct netpeer_sock *s = np->socks ? find_pair(np, remote, local) : NULL;
	int err;

	if ((!s || !s->inode) && stale(np, since_ns)) {
		err = refresh(np);
		if (err)
			return err;
		s = find_pair(np, remote, local);
	}
	if (!s || s->inode == 0)
		return -ENOENT;
	return pid_of_inode_fresh(np, s->inode, since_ns, pid);
}

static bool addr_is_any(const struct netprof_addr *a)
{
	static const uint8_t zero[16], mapped_any[16] = {[10] = 0xff, [11] = 0xff};

	return memcmp(a->addr, zero, 16) == 0 || memcmp(a->addr, mapped_any, 16) == 0;
}

static const struct netpeer_sock *find_listener(const struct netpeer *np,
						const struct netprof_addr *at)
{
	for (size_t i = 0; i < np->n_socks; i++) {
		const struct netpeer_sock *s = &np->socks[i];

		if (s->state == NETPEER_TCP_LISTEN && s->local.port == at->port && s->inode &&
		    (addr_is_any(&s->local) || memcmp(s->local.addr, at->addr, 16) == 0))
			return s;
	}
	return NULL;
}

int netpeer_listener(struct netpeer *np, const struct netprof_addr *at, uint64_t since_ns,
		     uint32_t *pid)
{
	const struct netpeer_sock *s = np->socks ? find_listener(np, at) : NULL;
	int err;

	if (!s && stale(np, since_ns)) {
		err = refresh(np);
		if (err)
			return err;
		s = find_listener(np, at);
	}
	if (!s)
		return -ENOENT;
	return pid_of_inode_fresh(np, s->inode, since_ns, pid);
}

static const struct netpeer_sock *sock_of_inode(const struct netpeer *np, uint64_t inode)
{
	for (size_t i = 0; i < np->n_socks; i++)
		if (np->socks[i].inode == inode)
			return &np->socks[i];
	return NULL;
}

static bool listens_on(const struct netpeer *np, uint16_t port)
{
	for (size_t i = 0; i < np->n_socks; i++)
		if (np->socks[i].state == NETPEER_TCP_LISTEN && np->socks[i].local.port == port)
			return true;
	return false;
}

static void conn_from_sock(const struct netpeer *np, const struct netpeer_sock *s,
			   struct netprof_conn *ret)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(ret, 0, sizeof(*ret));
	ret->local = s->local;
	ret->remote = s->remote;
	ret->family = memcmp(s->local.addr, mapped, sizeof(mapped)) == 0 ? 2 : 10;
	ret->role = listens_on(np, s->local.port) ? 1 /* server */ : 2 /* client */;
}

int netpeer_conn_of_fd(struct netpeer *np, uint32_t pid, uint32_t fd, struct netprof_conn *ret)
{
	char path[PATH_MAX], link[64];
	const struct netpeer_sock *s;
	uint64_t inode;
	ssize_t n;
	int err;

	snprintf(path, sizeof(path), "%s/%u/fd/%u", np->proc_root, pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return -ENOENT;
	link[n] = '\0';
	inode = socket_inode(link);
	if (!inode)
		return -ENOENT;
	s = np->socks ? sock_of_inode(np, inode) : NULL;
	if (!s && stale(np, 0)) {
		err = refresh(np);
		if (err)
			return err;
		s = sock_of_inode(np, inode);
	}
	if (!s || s->state != NETPEER_TCP_ESTABLISHED)
		return -ENOENT;
	conn_from_sock(np, s, ret);
	return 0;
}

int netpeer_each_conn(struct netpeer *np, uint32_t pid,
		      void (*fn)(uint32_t pid, uint32_t fd, const struct netprof_conn *conn,
				 void *ctx),
		      void *ctx)
{
	char path[PATH_MAX];
	struct dirent *fe;
	int n = 0, err;
	DIR *fds;

	err = refresh(np);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/%u/fd", np->proc_root, pid);
	fds = opendir(path);
	if (!fds)
		return -errno;
	while ((fe = readdir(fds))) {
		struct netprof_conn conn;
		uint32_t fd;

		if (parse_u32(fe->d_name, &fd))
			continue;
		if (netpeer_conn_of_fd(np, pid, fd, &conn) == 0) {
			fn(pid, fd, &conn, ctx);
			n++;
		}
	}
	closedir(fds);
	return n;
}
