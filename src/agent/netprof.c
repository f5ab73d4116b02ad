/* netprof: see netprof.h. */
#include "agent/netprof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/netpeer.h"
#include "agent/tasks.h"
#include "util/readfile.h"

struct profiler_session {
	struct profiler_session *next;
	char task_id[TASK_ID_MAX];
	uint32_t pids[TASK_PIDS_MAX];
	size_t n_pids;
	struct netagg *agg;
	uint64_t floor_ns; /* this session's share of the kernel's slow floor */
};

static struct {
	struct httpmon *hm;
	struct netpeer *peer;
	netprof_describe_fn describe;
	void *describe_ctx;
	struct profiler_session *sessions;
	uint64_t retry_ns; /* last forced look-up of a loopback peer */
} G;

#define NETPROF_RETRY_MS 10

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool is_loopback(const struct netprof_addr *a)
{
	static const uint8_t v6_loopback[16] = {[15] = 1};
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};

	return memcmp(a->addr, v6_loopback, 16) == 0 ||
	       (memcmp(a->addr, mapped, 12) == 0 && a->addr[12] == 127);
}

static int64_t wall_offset_ns(void)
{
	struct timespec r, m;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((int64_t)r.tv_sec - (int64_t)m.tv_sec) * 1000000000 +
	       ((int64_t)r.tv_nsec - (int64_t)m.tv_nsec);
}

static bool has_pid(const struct profiler_session *s, uint32_t pid)
{
	for (size_t i = 0; i < s->n_pids; i++)
		if (s->pids[i] == pid)
			return true;
	return false;
}

static struct profiler_session *session_of(uint32_t pid)
{
	for (struct profiler_session *s = G.sessions; s; s = s->next)
		if (has_pid(s, pid))
			return s;
	return NULL;
}

/* ---- netagg ops ---- */

static int describe_pid(void *ctx, uint32_t pid, struct netagg_node *ret)
{
	struct profiler_session *s = ctx;
	struct netagg_node n = {0};
	char comm[64];
	ssize_t len;

	if (!G.describe || G.describe(G.describe_ctx, pid, &n) != 0) {
		memset(&n, 0, sizeof(n));
		len = readfile_fmt(comm, sizeof(comm), "/proc/%u/comm", pid);
		if (len <= 0)
			snprintf(comm, sizeof(comm), "?");
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(n.process, sizeof(n.process), "%s", comm);
		snprintf(n.id, sizeof(n.id), "local:%u", pid);
	}
	n.pid = pid;
	n.in_instance = has_pid(s, pid);
	*ret = n;
	return 0;
}

static int find_peer(void *ctx, const struct netprof_conn *c, struct netagg_node *ret)
{
	uint32_t pid;

	if (G.peer && netpeer_other_end(G.peer, &c->local, &c->remote, c->open_ns, &pid) == 0)
		return describe_pid(ctx, pid, ret);
	/* A client whose server has not accepted yet: the listener's process. */
	if (G.peer && c->role == HTTPMON_ROLE_CLIENT &&
	    netpeer_listener(G.peer, &c->remote, c->open_ns, &pid) == 0)
		return describe_pid(ctx, pid, ret);
	/* A loopback peer is a local process, unless it is gone already: look
	 * once more in fresh tables (at most every NETPROF_RETRY_MS). */
	if (G.peer && is_loopback(&c->remote) &&
	    mono_ns() - G.retry_ns >= NETPROF_RETRY_MS * 1000000) {
		G.retry_ns = mono_ns();
		if (netpeer_other_end(G.peer, &c->local, &c->remote, G.retry_ns, &pid) == 0)
			return describe_pid(ctx, pid, ret);
	}
	memset(ret, 0, sizeof(*ret));
	/* A client's ephemeral port names nothing: servers see its address. */
	netagg_format_addr(&c->remote, c->role == HTTPMON_ROLE_CLIENT, ret->address,
			   sizeof(ret->address));
	snprintf(ret->id, sizeof(ret->id), "%s", ret->address);
	return 0;
}

static int lookup_conn(void *ctx, uint32_t pid, uint32_t fd, struct netprof_conn *ret)
{
	(void)ctx;
	if (!G.peer)
		return -ENOENT;
	return netpeer_conn_of_fd(G.peer, pid, fd, ret);
}

/* ---- records from the monitor ---- */

void netprof_on_request(const struct httpmon_request *req)
{
	struct profiler_session *s = session_of(req->pid);

	if (s)
		netagg_request(s->agg, req, wall_offset_ns());
}

static void on_net_record(const void *record, size_t size, void *ctx)
{
	const struct netprof_closed *c = record;
	struct profiler_session *s;

	(void)ctx;
	if (size < offsetof(struct netprof_closed, close_ns))
		return;
	s = session_of(c->pid);
	if (!s)
		return;
	switch (c->kind) {
	case NETPROF_REC_OPENED:
		if (size >= sizeof(*c))
			netagg_conn_opened(s->agg, c->pid, c->fd, &c->conn);
		break;
	case NETPROF_REC_CLOSED:
		if (size >= sizeof(*c))
			netagg_conn_closed(s->agg, c->pid, c->fd, &c->conn);
		break;
	case NETPROF_REC_HEADS:
		if (size >= sizeof(struct netprof_heads))
			netagg_heads(s->agg, record);
		break;
	default:
		break;
	}
}

static void on_monitor_ready(int err, void *ctx);

void netprof_init(struct httpmon *hm, netprof_describe_fn describe, void *ctx)
{
	G.hm = hm;
	G.describe = describe;
	G.describe_ctx = ctx;
	if (hm) {
		httpmon_set_net_fn(hm, on_net_record, NULL);
		httpmon_set_ready_fn(hm, on_monitor_ready, NULL);
	}
	if (hm && !G.peer)
		G.peer = netpeer_new("/proc");
	if (!hm)
		G.peer = netpeer_free(G.peer);
}

/* ---- the session ---- */

static void seed_conn(uint32_t pid, uint32_t fd, const struct netprof_conn *conn, void *ctx)
{
	struct profiler_session *s = ctx;

	/* Counted from now on, when the kernel did not see it opened already. */
	if (httpmon_net_add_conn(G.hm, pid, fd, conn) == 0)
		netagg_conn_opened(s->agg, pid, fd, conn);
}

static int watch(struct profiler_session *s, uint32_t pid)
{
	int err = httpmon_net_watch(G.hm, pid);

	if (err)
		return err;
	netagg_add_process(s->agg, pid);
	/* While the programs load, on_monitor_ready() seeds. */
	if (G.peer && httpmon_ready(G.hm))
		netpeer_each_conn(G.peer, pid, seed_conn, s);
	return 0;
}

/* The programs are loaded: seeds the connections of every pid watched while
 * they loaded (they were open before the kernel could see them opened). */
static void on_monitor_ready(int err, void *ctx)
{
	(void)ctx;
	if (err || !G.peer)
		return;
	for (struct profiler_session *s = G.sessions; s; s = s->next)
		for (size_t i = 0; i < s->n_pids; i++)
			netpeer_each_conn(G.peer, s->pids[i], seed_conn, s);
}

static void set_floor(void)
{
	uint64_t floor = UINT64_MAX;

	for (struct profiler_session *s = G.sessions; s; s = s->next)
		if (s->floor_ns < floor)
			floor = s->floor_ns;
	if (floor == UINT64_MAX || floor < NETPROF_SLOW_FLOOR_MIN_NS)
		floor = NETPROF_SLOW_FLOOR_MIN_NS;
	httpmon_net_set_heads(G.hm, floor, NETPROF_HEADS_PER_FLUSH);
}

static void session_free(struct profiler_session *s)
{
	struct profiler_session **p;

	for (p = &G.sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	for (size_t i = 0; i < s->n_pids; i++)
		httpmon_net_unwatch(G.hm, s->pids[i]);
	netagg_free(s->agg);
	free(s);
}

static int np_start(const char *task_id, const pid_t *pids, size_t n_pids,
		    struct profiler_session **ret, char *reason, size_t reason_len)
{
	struct netagg_ops ops = {
	    .describe_pid = describe_pid, .find_peer = find_peer, .lookup_conn = lookup_conn};
	struct profiler_session *s;
	int err;

	if (!G.hm) {
		snprintf(reason, reason_len,
			 "NETWORK profiler not available: the HTTP monitor (eBPF) is not");
		return -ENOTSUP;
	}
	if (n_pids == 0 || n_pids > TASK_PIDS_MAX)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	ops.ctx = s;
	s->agg = netagg_new(&ops);
	if (!s->agg) {
		free(s);
		return -ENOMEM;
	}
	snprintf(s->task_id, sizeof(s->task_id), "%s", task_id);
	s->next = G.sessions;
	G.sessions = s;
	for (size_t i = 0; i < n_pids; i++) {
		err = watch(s, (uint32_t)pids[i]);
		if (err) {
			snprintf(reason, reason_len, "cannot watch pid %d: %s", (int)pids[i],
				 strerror(-err));
			session_free(s);
			return err;
		}
		s->pids[s->n_pids++] = (uint32_t)pids[i];
	}
	set_floor();
	*ret = s;
	return 0;
}

static int np_update_pids(struct profiler_session *s, const pid_t *pids, size_t n_pids)
{
	uint32_t kept[TASK_PIDS_MAX];
	size_t n = 0;

	if (n_pids > TASK_PIDS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < s->n_pids; i++) {
		bool stays = false;

		for (size_t k = 0; k < n_pids; k++)
			stays |= (uint32_t)pids[k] == s->pids[i];
		if (stays)
			kept[n++] = s->pids[i];
		else
			httpmon_net_unwatch(G.hm, s->pids[i]);
	}
	memcpy(s->pids, kept, n * sizeof(*kept));
	s->n_pids = n;
	for (size_t k = 0; k < n_pids; k++) {
		if (has_pid(s, (uint32_t)pids[k]))
			continue;
		/* In the set first: the seeded connections are of the task. */
		s->pids[s->n_pids++] = (uint32_t)pids[k];
		if (watch(s, (uint32_t)pids[k]) != 0)
			s->n_pids--;
	}
	return 0;
}

static void live_conn(uint32_t pid, uint32_t fd, const struct netprof_conn *conn, void *ctx)
{
	(void)ctx;
	struct profiler_session *s = session_of(pid);

	if (s)
		netagg_conn_update(s->agg, pid, fd, conn);
}

static void retransmitted(const struct netprof_tuple *t, uint32_t count, void *ctx)
{
	(void)ctx;
	for (struct profiler_session *s = G.sessions; s; s = s->next)
		netagg_retransmits(s->agg, t, count);
}

/* While the programs load (in the background) nothing is measured yet: the
 * first upload waits for them, so it still means "monitoring is live";
 * a task stopped before that uploads what it has. */
static int flush(struct profiler_session *s, const struct profile_sink *sink, bool final)
{
	json_t *doc;

	if (!final && !httpmon_ready(G.hm))
		return 0;
	/* Records first: a connection closed since is no longer live. */
	httpmon_consume(G.hm);
	httpmon_net_conns(G.hm, live_conn, NULL);
	httpmon_net_retransmits(G.hm, retransmitted, NULL);
	s->floor_ns = netagg_slow_floor(s->agg) / 2;
	netagg_end_interval(s->agg);
	set_floor();
	if (!sink || !sink->topology)
		return 0;
	doc = netagg_to_json(s->agg);
	if (!doc)
		return -ENOMEM;
	sink->topology(sink->ctx, s->task_id, doc);
	json_decref(doc);
	return 0;
}

static void np_stop(struct profiler_session *s, const struct profile_sink *sink)
{
	if (!s)
		return;
	flush(s, sink, true);
	session_free(s);
}

static int np_flush(struct profiler_session *s, const struct profile_sink *sink)
{
	return flush(s, sink, false);
}

const struct profiler_ops netprof_profiler = {
    .target = POLICY_TARGET_NETWORK,
    .name = "network",
    .start = np_start,
    .update_pids = np_update_pids,
    .flush = np_flush,
    .stop = np_stop,
};
