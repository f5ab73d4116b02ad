/* netagg: see netagg.h. */
#include "agent/netagg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONN_BUCKETS 4096
#define NS_PER_MS    1e6

/* One direction's traffic. */
struct traffic {
	uint64_t bytes[NETPROF_DIRS];
	uint64_t calls[NETPROF_DIRS];
	uint64_t syscall_ns[NETPROF_DIRS];
	uint64_t hist[NETPROF_DIRS][NETPROF_HIST_BUCKETS];
	uint64_t retransmits;
};

struct sample {
	uint32_t pid, fd;
	uint64_t start_ns;
	uint64_t duration_ns;
	int64_t time_ms;
	uint16_t status;
	enum httpmon_method method;
	char uri[HTTPMON_URI_MAX + 1];
	char from[NETAGG_ID_MAX], to[NETAGG_ID_MAX];
	uint8_t role;
	char *req_head, *resp_head; /* owned, NULL when none */
};

struct edge {
	size_t observer, peer; /* node indexes */
	uint8_t role;
	uint64_t opened, closed;
	uint64_t connect_ns, connects;
	struct traffic done; /* closed connections */
	uint64_t requests, status[6], latency_sum_ns;
	uint32_t latency[NETAGG_HIST_BUCKETS];
	/* This interval's candidates: slowest first, then failed. */
	struct sample slowest[NETAGG_SLOWEST_N];
	size_t n_slowest;
	struct sample failed[NETAGG_FAILED_N];
	size_t n_failed;
};

struct conn {
	struct conn *next;
	uint32_t pid, fd;
	size_t edge;
	struct netprof_conn last; /* cumulative values last seen */
};

struct netagg {
	struct netagg_ops ops;
	struct netagg_node *nodes;
	size_t n_nodes;
	struct edge *edges;
	size_t n_edges;
	struct conn *buckets[CONN_BUCKETS];
	size_t n_conns;
	struct sample *kept; /* ring of NETAGG_SAMPLES_KEPT */
	size_t n_kept, kept_next;
};

size_t netagg_hist_bucket(uint64_t ns)
{
	int e;

	if (ns < 16)
		return (size_t)ns;
	e = 63 - __builtin_clzll(ns);
	return 16 + (size_t)(e - 4) * 8 + ((ns >> (e - 3)) & 7);
}

uint64_t netagg_hist_value(size_t b)
{
	size_t e, sub;

	if (b < 16)
		return b;
	e = (b - 16) / 8 + 4;
	sub = (b - 16) % 8;
	return ((8 + sub) << (e - 3)) + ((1ull << (e - 3)) >> 1);
}

uint64_t netagg_hist_quantile(const uint32_t *hist, size_t n, double q)
{
	uint64_t total = 0, rank, seen = 0;

	for (size_t i = 0; i < n; i++)
		total += hist[i];
	if (total == 0)
		return 0;
	rank = (uint64_t)(q * (double)total + 0.999999);
	if (rank < 1)
		rank = 1;
	for (size_t i = 0; i < n; i++) {
		seen += hist[i];
		if (seen >= rank)
			return netagg_hist_value(i);
	}
	return netagg_hist_value(n - 1);
}

void netagg_format_addr(const struct netprof_addr *a, bool with_port, char *buf, size_t len)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char text[INET6_ADDRSTRLEN] = "?";
	bool v4 = memcmp(a->addr, mapped, sizeof(mapped)) == 0;

	if (v4)
		inet_ntop(AF_INET, a->addr + 12, text, sizeof(text));
	else
		inet_ntop(AF_INET6, a->addr, text, sizeof(text));
	if (!with_port)
		snprintf(buf, len, "%s", text);
	else
		snprintf(buf, len, v4 ? "%s:%u" : "[%s]:%u", text, a->port);
}

struct netagg *netagg_new(const struct netagg_ops *ops)
{
	struct netagg *ag = calloc(1, sizeof(*ag));

	if (!ag)
		return NULL;
	ag->ops = *ops;
	ag->nodes = calloc(NETAGG_NODES_MAX, sizeof(*ag->nodes));
	ag->edges = calloc(NETAGG_EDGES_MAX, sizeof(*ag->edges));
	ag->kept = calloc(NETAGG_SAMPLES_KEPT, sizeof(*ag->kept));
	if (!ag->nodes || !ag->edges || !ag->kept)
		return netagg_free(ag);
	return ag;
}

static void sample_clear(struct sample *s)
{
	free(s->req_head);
	free(s->resp_head);
	s->req_head = s->resp_head = NULL;
}

struct netagg *netagg_free(struct netagg *ag)
{
	if (!ag)
		return NULL;
	for (size_t b = 0; b < CONN_BUCKETS; b++)
		while (ag->buckets[b]) {
			struct conn *c = ag->buckets[b];

			ag->buckets[b] = c->next;
			free(c);
		}
	for (size_t i = 0; ag->edges && i < ag->n_edges; i++) {
		for (size_t k = 0; k < ag->edges[i].n_slowest; k++)
			sample_clear(&ag->edges[i].slowest[k]);
		for (size_t k = 0; k < ag->edges[i].n_failed; k++)
			sample_clear(&ag->edges[i].failed[k]);
	}
	for (size_t i = 0; ag->kept && i < ag->n_kept; i++)
		sample_clear(&ag->kept[i]);
	free(ag->kept);
	free(ag->edges);
	free(ag->nodes);
	free(ag);
	return NULL;
}

static size_t bucket_of(uint32_t pid, uint32_t fd)
{
	return ((size_t)pid * 2654435761u ^ fd * 40503u) % CONN_BUCKETS;
}

static struct conn *conn_find(const struct netagg *ag, uint32_t pid, uint32_t fd)
{
	for (struct conn *c = ag->buckets[bucket_of(pid, fd)]; c; c = c->next)
		if (c->pid == pid && c->fd == fd)
			return c;
	return NULL;
}

/* The index of the node with n's id, added when new; SIZE_MAX when full. */
static size_t node_index(struct netagg *ag, const struct netagg_node *n)
{
	for (size_t i = 0; i < ag->n_nodes; i++)
		if (strcmp(ag->nodes[i].id, n->id) == 0) {
			ag->nodes[i].in_instance |= n->in_instance;
			return i;
		}
	if (ag->n_nodes == NETAGG_NODES_MAX)
		return SIZE_MAX;
	ag->nodes[ag->n_nodes] = *n;
	return ag->n_nodes++;
}

static size_t edge_index(struct netagg *ag, size_t observer, size_t peer, uint8_t role)
{
	for (size_t i = 0; i < ag->n_edges; i++)
		if (ag->edges[i].observer == observer && ag->edges[i].peer == peer &&
		    ag->edges[i].role == role)
			return i;
	if (ag->n_edges == NETAGG_EDGES_MAX)
		return SIZE_MAX;
	memset(&ag->edges[ag->n_edges], 0, sizeof(ag->edges[0]));
	ag->edges[ag->n_edges].observer = observer;
	ag->edges[ag->n_edges].peer = peer;
	ag->edges[ag->n_edges].role = role;
	return ag->n_edges++;
}

static void traffic_add(struct traffic *t, const struct netprof_conn *c)
{
	for (int d = 0; d < NETPROF_DIRS; d++) {
		t->bytes[d] += c->bytes[d];
		t->calls[d] += c->calls[d];
		t->syscall_ns[d] += c->syscall_ns[d];
		for (int b = 0; b < NETPROF_HIST_BUCKETS; b++)
			t->hist[d][b] += c->hist[d][b];
	}
	t->retransmits += c->retransmits;
}

/* Removes (pid, fd), adding its last values to its edge. */
static void conn_retire(struct netagg *ag, uint32_t pid, uint32_t fd)
{
	struct conn **p = &ag->buckets[bucket_of(pid, fd)];

	for (; *p; p = &(*p)->next) {
		struct conn *c = *p;

		if (c->pid != pid || c->fd != fd)
			continue;
		traffic_add(&ag->edges[c->edge].done, &c->last);
		ag->edges[c->edge].closed++;
		*p = c->next;
		free(c);
		ag->n_conns--;
		return;
	}
}

int netagg_add_process(struct netagg *ag, uint32_t pid)
{
	struct netagg_node self = {0};
	int err = ag->ops.describe_pid(ag->ops.ctx, pid, &self);

	if (err)
		return err;
	return node_index(ag, &self) == SIZE_MAX ? -ENOSPC : 0;
}

int netagg_conn_opened(struct netagg *ag, uint32_t pid, uint32_t fd,
		       const struct netprof_conn *conn)
{
	struct netagg_node self = {0}, peer = {0};
	size_t si, pi, ei, b;
	struct conn *c;
	int err;

	if (conn_find(ag, pid, fd))
		conn_retire(ag, pid, fd);
	if (ag->n_conns >= NETAGG_CONNS_MAX)
		return -ENOSPC;
	err = ag->ops.describe_pid(ag->ops.ctx, pid, &self);
	if (err)
		return err;
	err = ag->ops.find_peer(ag->ops.ctx, conn, &peer);
	if (err)
		return err;
	si = node_index(ag, &self);
	pi = node_index(ag, &peer);
	if (si == SIZE_MAX || pi == SIZE_MAX)
		return -ENOSPC;
	ei = edge_index(ag, si, pi, conn->role);
	if (ei == SIZE_MAX)
		return -ENOSPC;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pid = pid;
	c->fd = fd;
	c->edge = ei;
	c->last = *conn;
	b = bucket_of(pid, fd);
	c->next = ag->buckets[b];
	ag->buckets[b] = c;
	ag->n_conns++;
	ag->edges[ei].opened++;
	if (conn->connect_ns) {
		ag->edges[ei].connect_ns += conn->connect_ns;
		ag->edges[ei].connects++;
	}
	return 0;
}

int netagg_conn_update(struct netagg *ag, uint32_t pid, uint32_t fd,
		       const struct netprof_conn *conn)
{
	struct conn *c = conn_find(ag, pid, fd);

	if (!c || c->last.open_ns != conn->open_ns)
		return netagg_conn_opened(ag, pid, fd, conn);
	c->last = *conn;
	return 0;
}

int netagg_conn_closed(struct netagg *ag, uint32_t pid, uint32_t fd,
		       const struct netprof_conn *conn)
{
	int err = netagg_conn_update(ag, pid, fd, conn);

	if (err)
		return err;
	conn_retire(ag, pid, fd);
	return 0;
}

/* The connection of a request: known, or looked up (opened before the
 * task). NULL when it cannot be placed. */
static struct conn *conn_of_request(struct netagg *ag, uint32_t pid, uint32_t fd)
{
	struct netprof_conn found;
	struct conn *c = conn_find(ag, pid, fd);

	if (c)
		return c;
	if (ag->ops.lookup_conn(ag->ops.ctx, pid, fd, &found) != 0)
		return NULL;
	if (netagg_conn_opened(ag, pid, fd, &found) != 0)
		return NULL;
	return conn_find(ag, pid, fd);
}

static void sample_fill(const struct netagg *ag, const struct edge *e, struct sample *s,
			const struct httpmon_request *r, int64_t wall_offset_ns)
{
	const char *obs = ag->nodes[e->observer].id, *peer = ag->nodes[e->peer].id;
	bool client = e->role == HTTPMON_ROLE_CLIENT;

	memset(s, 0, sizeof(*s));
	snprintf(s->from, sizeof(s->from), "%s", client ? obs : peer);
	snprintf(s->to, sizeof(s->to), "%s", client ? peer : obs);
	s->role = e->role;
	s->pid = r->pid;
	s->fd = r->fd;
	s->start_ns = r->start_ns;
	s->duration_ns = r->end_ns - r->start_ns;
	s->time_ms = ((int64_t)r->end_ns + wall_offset_ns) / 1000000;
	s->status = r->status;
	s->method = r->method;
	snprintf(s->uri, sizeof(s->uri), "%s", r->uri);
}

void netagg_request(struct netagg *ag, const struct httpmon_request *r, int64_t wall_offset_ns)
{
	struct conn *c = conn_of_request(ag, r->pid, r->fd);
	uint64_t dur = r->end_ns > r->start_ns ? r->end_ns - r->start_ns : 0;
	struct edge *e;
	size_t cls;

	if (!c)
		return;
	e = &ag->edges[c->edge];
	e->requests++;
	cls = r->status / 100;
	e->status[cls < 6 ? cls : 0]++;
	e->latency_sum_ns += dur;
	e->latency[netagg_hist_bucket(dur)]++;
	if (r->status >= 400) {
		if (e->n_failed < NETAGG_FAILED_N)
			sample_fill(ag, e, &e->failed[e->n_failed++], r, wall_offset_ns);
		return;
	}
	/* Keep the slowest N, slowest first. */
	if (e->n_slowest == NETAGG_SLOWEST_N) {
		if (dur <= e->slowest[NETAGG_SLOWEST_N - 1].duration_ns)
			return;
		sample_clear(&e->slowest[--e->n_slowest]);
	}
	size_t at = e->n_slowest;

	while (at > 0 && e->slowest[at - 1].duration_ns < dur) {
		e->slowest[at] = e->slowest[at - 1];
		at--;
	}
	sample_fill(ag, e, &e->slowest[at], r, wall_offset_ns);
	e->n_slowest++;
}

static char *head_text(const char *data, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)data[i];

		s[i] = (ch < 0x20 && ch != '\r' && ch != '\n' && ch != '\t') || ch >= 0x7f
			   ? '.'
			   : (char)ch;
	}
	s[len] = '\0';
	return s;
}

void netagg_heads(struct netagg *ag, const struct netprof_heads *h)
{
	struct conn *c = conn_find(ag, h->pid, h->fd);
	struct edge *e;
	struct sample *s = NULL;

	if (!c)
		return;
	e = &ag->edges[c->edge];
	for (size_t i = 0; !s && i < e->n_failed; i++)
		if (e->failed[i].start_ns == h->start_ns)
			s = &e->failed[i];
	for (size_t i = 0; !s && i < e->n_slowest; i++)
		if (e->slowest[i].start_ns == h->start_ns)
			s = &e->slowest[i];
	if (!s)
		return;
	sample_clear(s);
	if (h->req_len)
		s->req_head = head_text(h->req, h->req_len < NETPROF_HEAD_MAX ? h->req_len
									      : NETPROF_HEAD_MAX);
	if (h->resp_len)
		s->resp_head = head_text(
		    h->resp, h->resp_len < NETPROF_HEAD_MAX ? h->resp_len : NETPROF_HEAD_MAX);
}

void netagg_retransmits(struct netagg *ag, const struct netprof_tuple *t, uint32_t count)
{
	for (size_t b = 0; b < CONN_BUCKETS; b++)
		for (struct conn *c = ag->buckets[b]; c; c = c->next)
			if (c->last.local.port == t->sport && c->last.remote.port == t->dport &&
			    memcmp(c->last.local.addr, t->saddr, 16) == 0 &&
			    memcmp(c->last.remote.addr, t->daddr, 16) == 0) {
				ag->edges[c->edge].done.retransmits += count;
				return;
			}
}

static void keep(struct netagg *ag, struct sample *s)
{
	struct sample *slot = &ag->kept[ag->kept_next];

	if (ag->n_kept == NETAGG_SAMPLES_KEPT)
		sample_clear(slot);
	else
		ag->n_kept++;
	*slot = *s;
	s->req_head = s->resp_head = NULL;
	ag->kept_next = (ag->kept_next + 1) % NETAGG_SAMPLES_KEPT;
}

void netagg_end_interval(struct netagg *ag)
{
	for (size_t i = 0; i < ag->n_edges; i++) {
		struct edge *e = &ag->edges[i];

		for (size_t k = 0; k < e->n_failed; k++)
			keep(ag, &e->failed[k]);
		for (size_t k = 0; k < e->n_slowest; k++)
			keep(ag, &e->slowest[k]);
		e->n_failed = e->n_slowest = 0;
	}
}

uint64_t netagg_slow_floor(const struct netagg *ag)
{
	uint64_t floor = UINT64_MAX;

	for (size_t i = 0; i < ag->n_edges; i++) {
		const struct edge *e = &ag->edges[i];

		if (e->n_slowest < NETAGG_SLOWEST_N)
			return 0;
		if (e->slowest[NETAGG_SLOWEST_N - 1].duration_ns < floor)
			floor = e->slowest[NETAGG_SLOWEST_N - 1].duration_ns;
	}
	return floor == UINT64_MAX ? 0 : floor;
}

/* {avg, p50, p90, p99} in ms of a histogram of `n` buckets. */
static json_t *latency_json(const uint32_t *hist, size_t n, uint64_t sum_ns, uint64_t count,
			    uint64_t (*value)(const uint32_t *, size_t, double))
{
	if (count == 0)
		return json_object();
	return json_pack("{s:f, s:f, s:f, s:f}", "avg", (double)sum_ns / (double)count / NS_PER_MS,
			 "p50", (double)value(hist, n, 0.50) / NS_PER_MS, "p90",
			 (double)value(hist, n, 0.90) / NS_PER_MS, "p99",
			 (double)value(hist, n, 0.99) / NS_PER_MS);
}

/* The kernel's log2 buckets: a value is reported as 1.5 * 2^b (its
 * bucket's middle: within a factor of 2). */
static uint64_t log2_quantile(const uint32_t *hist, size_t n, double q)
{
	uint64_t total = 0, seen = 0, rank;

	for (size_t i = 0; i < n; i++)
		total += hist[i];
	if (total == 0)
		return 0;
	rank = (uint64_t)(q * (double)total + 0.999999);
	for (size_t i = 0; i < n; i++) {
		seen += hist[i];
		if (seen >= (rank ? rank : 1))
			return (3ull << i) >> 1;
	}
	return (3ull << (n - 1)) >> 1;
}

static json_t *node_json(const struct netagg_node *n)
{
	json_t *o = json_pack("{s:s, s:b}", "id", n->id, "in_instance", n->in_instance);

	if (!o)
		return NULL;
	if (n->pid) {
		json_object_set_new(o, "pid", json_integer(n->pid));
		json_object_set_new(o, "process", json_string(n->process));
		if (n->service[0])
			json_object_set_new(o, "service", json_string(n->service));
		if (n->instance[0])
			json_object_set_new(o, "instance", json_string(n->instance));
	} else {
		json_object_set_new(o, "address", json_string(n->address));
	}
	return o;
}

/* An edge's traffic: its closed connections plus its open ones. */
static void edge_traffic(const struct netagg *ag, size_t ei, struct traffic *t)
{
	*t = ag->edges[ei].done;
	for (size_t b = 0; b < CONN_BUCKETS; b++)
		for (const struct conn *c = ag->buckets[b]; c; c = c->next)
			if (c->edge == ei)
				traffic_add(t, &c->last);
}

static json_t *syscall_json(const struct traffic *t, int dir)
{
	uint32_t hist[NETPROF_HIST_BUCKETS];

	for (int b = 0; b < NETPROF_HIST_BUCKETS; b++)
		hist[b] = t->hist[dir][b] > UINT32_MAX ? UINT32_MAX : (uint32_t)t->hist[dir][b];
	return latency_json(hist, NETPROF_HIST_BUCKETS, t->syscall_ns[dir], t->calls[dir],
			    log2_quantile);
}

static json_t *edge_json(const struct netagg *ag, size_t ei)
{
	const struct edge *e = &ag->edges[ei];
	const struct netagg_node *obs = &ag->nodes[e->observer], *peer = &ag->nodes[e->peer];
	bool client = e->role == HTTPMON_ROLE_CLIENT;
	struct traffic *t = malloc(sizeof(*t));
	json_t *o, *http;

	if (!t)
		return NULL;
	edge_traffic(ag, ei, t);
	/* Edges point from the client to the server. */
	o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:{s:I, s:I}, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:o, "
	    "s:o}}",
	    "from", client ? obs->id : peer->id, "to", client ? peer->id : obs->id, "role",
	    httpmon_role_name(e->role), "observer", obs->id, "connections", "opened",
	    (json_int_t)e->opened, "closed", (json_int_t)e->closed, "bytes_out",
	    (json_int_t)t->bytes[NETPROF_OUT], "bytes_in", (json_int_t)t->bytes[NETPROF_IN],
	    "calls", (json_int_t)(t->calls[NETPROF_OUT] + t->calls[NETPROF_IN]), "calls_out",
	    (json_int_t)t->calls[NETPROF_OUT], "calls_in", (json_int_t)t->calls[NETPROF_IN],
	    "retransmits", (json_int_t)t->retransmits, "syscall_ms", "read",
	    syscall_json(t, NETPROF_IN), "write", syscall_json(t, NETPROF_OUT));
	if (o && e->connects)
		json_object_set_new(
		    o, "connect_ms",
		    json_real((double)e->connect_ns / (double)e->connects / NS_PER_MS));
	if (o && e->requests) {
		static const char *const classes[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
		json_t *status = json_object();

		for (int k = 2; k < 6; k++)
			json_object_set_new(status, classes[k],
					    json_integer((json_int_t)e->status[k]));
		if (e->status[1] || e->status[0])
			json_object_set_new(
			    status, "other",
			    json_integer((json_int_t)(e->status[0] + e->status[1])));
		http = json_pack("{s:I, s:o, s:o}", "requests", (json_int_t)e->requests, "status",
				 status, "latency_ms",
				 latency_json(e->latency, NETAGG_HIST_BUCKETS, e->latency_sum_ns,
					      e->requests, netagg_hist_quantile));
		json_object_set_new(o, "http", http);
	}
	free(t);
	return o;
}

static json_t *sample_json(const struct sample *s)
{
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:I, s:s}", "from", s->from, "to", s->to, "role",
	    httpmon_role_name(s->role), "method", httpmon_method_name(s->method), "uri", s->uri,
	    "status", s->status, "duration_ms", (double)s->duration_ns / NS_PER_MS, "time",
	    (json_int_t)s->time_ms, "reason", s->status >= 400 ? "failed" : "slow");

	if (!o)
		return NULL;
	if (s->req_head)
		json_object_set_new(o, "headers", json_string(s->req_head));
	if (s->resp_head)
		json_object_set_new(o, "response_headers", json_string(s->resp_head));
	return o;
}

json_t *netagg_to_json(const struct netagg *ag)
{
	json_t *doc = json_pack("{s:[], s:[], s:[]}", "nodes", "edges", "samples");
	json_t *nodes, *edges, *samples;

	if (!doc)
		return NULL;
	nodes = json_object_get(doc, "nodes");
	edges = json_object_get(doc, "edges");
	samples = json_object_get(doc, "samples");
	for (size_t i = 0; i < ag->n_nodes; i++)
		json_array_append_new(nodes, node_json(&ag->nodes[i]));
	for (size_t i = 0; i < ag->n_edges; i++)
		json_array_append_new(edges, edge_json(ag, i));
	for (size_t k = 0; k < ag->n_kept; k++) {
		size_t i =
		    (ag->kept_next + NETAGG_SAMPLES_KEPT - ag->n_kept + k) % NETAGG_SAMPLES_KEPT;
		json_t *s = sample_json(&ag->kept[i]);

		if (s)
			json_array_append_new(samples, s);
	}
	return doc;
}
