/* Tests for agent/httpmon against the real kernel: this process talks HTTP
 * to itself over loopback TCP, so one watched pid is both the client and the
 * server of each exchange. Needs root and BPF (as the agent does); without
 * root it says so and checks nothing else. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent/bpfutil.h"
#include "agent/httpmon.h"
#include "harness.h"

#define MAX_SEEN 32

struct seen {
	struct httpmon_request r[MAX_SEEN];
	int n;
};

static void collect(const struct httpmon_request *req, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < MAX_SEEN)
		s->r[s->n] = *req;
	s->n++;
}

struct pair {
	int client, server;
};

static int tcp_pair(struct pair *p)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t len = sizeof(addr);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len))
		return -1;
	p->client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->client < 0 || connect(p->client, (struct sockaddr *)&addr, sizeof(addr)))
		return -1;
	p->server = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	return p->server < 0 ? -1 : 0;
}

static void send_all(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Reads until `want` bytes arrived (in as few reads as they come). */
static void recv_bytes(int fd, size_t want)
{
	char buf[4096];

	while (want) {
		ssize_t r = read(fd, buf, want < sizeof(buf) ? want : sizeof(buf));

		if (r <= 0)
			return;
		want -= (size_t)r;
	}
}

/* Consumes until `n` records arrived or ~2 s passed. */
static void wait_for(struct httpmon *hm, struct seen *s, int n)
{
	for (int i = 0; i < 40 && s->n < n; i++)
		httpmon_poll(hm, 50);
	httpmon_consume(hm);
}

static int count_role(const struct seen *s, enum httpmon_role role)
{
	int n = 0;

	for (int i = 0; i < s->n && i < MAX_SEEN; i++)
		n += s->r[i].role == role;
	return n;
}

static const char *REQ = "GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\n";
static const char *RESP = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";

static void exchange(const struct pair *p)
{
	send_all(p->client, REQ);
	recv_bytes(p->server, strlen(REQ));
	send_all(p->server, RESP);
	recv_bytes(p->client, strlen(RESP));
}

static struct httpmon *hm;
static struct seen seen;
static struct pair conn;

TEST(both_roles_of_one_exchange_are_reported)
{
	struct httpmon_stats st;

	seen.n = 0;
	CHECK_INT_EQ(httpmon_watch(hm, (uint32_t)getpid()), 0);
	CHECK_INT_EQ(httpmon_watched_count(hm), 1);
	/* Returned with the load pending: the verifier did not run on this
	 * thread (loading is cleared only by a consume on this thread). */
	CHECK_INT_EQ(httpmon_stats(hm, &st), 0);
	CHECK(st.loading);
	CHECK(!st.loaded);
	CHECK(!st.attached);
	CHECK(!httpmon_ready(hm));
	CHECK_INT_EQ(httpmon_wait_ready(hm, -1), 0);
	CHECK(httpmon_ready(hm));
	CHECK_INT_EQ(httpmon_stats(hm, &st), 0);
	CHECK(!st.loading);
	CHECK(st.loaded);
	CHECK(st.attached);
	CHECK(st.load_ns > 0);
	CHECK_INT_EQ(st.error, 0);
	CHECK_INT_EQ(httpmon_take_error(hm), 0);
	exchange(&conn);
	wait_for(hm, &seen, 2);
	CHECK_INT_EQ(seen.n, 2);
	CHECK_INT_EQ(count_role(&seen, HTTPMON_ROLE_SERVER), 1);
	CHECK_INT_EQ(count_role(&seen, HTTPMON_ROLE_CLIENT), 1);
	for (int i = 0; i < seen.n && i < MAX_SEEN; i++) {
		CHECK_STR_EQ(seen.r[i].uri, "/a?x=1");
		CHECK_INT_EQ(seen.r[i].status, 503);
		CHECK_INT_EQ(seen.r[i].method, HTTPMON_METHOD_GET);
		CHECK_INT_EQ(seen.r[i].pid, getpid());
		CHECK(seen.r[i].end_ns >= seen.r[i].start_ns);
	}
}

TEST(pipelined_requests_and_coalesced_responses_pair_in_order)
{
	const char *reqs = "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
			   "GET /2 HTTP/1.1\r\nHost: t\r\n\r\n"
			   "GET /3 HTTP/1.1\r\nHost: t\r\n\r\n";
	const char *resps = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			    "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"
			    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	static const struct {
		const char *uri;
		int status;
	} want[] = {{"/1", 200}, {"/2", 500}, {"/3", 404}};
	int k[3] = {0};

	seen.n = 0;
	send_all(conn.client, reqs);
	recv_bytes(conn.server, strlen(reqs));
	send_all(conn.server, resps);
	recv_bytes(conn.client, strlen(resps));
	wait_for(hm, &seen, 6);
	CHECK_INT_EQ(seen.n, 6);
	for (int i = 0; i < seen.n && i < MAX_SEEN; i++) {
		int role = seen.r[i].role == HTTPMON_ROLE_SERVER ? 0 : 1;
		int j = k[role]++;

		if (j < 3) {
			CHECK_STR_EQ(seen.r[i].uri, want[j].uri);
			CHECK_INT_EQ(seen.r[i].status, want[j].status);
		}
	}
	CHECK_INT_EQ(k[0], 3);
	CHECK_INT_EQ(k[1], 3);
}

TEST(interim_responses_do_not_complete_a_request)
{
	const char *req = "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
			  "Expect: 100-continue\r\n\r\n";
	const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
	const char *done = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";

	seen.n = 0;
	send_all(conn.client, req);
	recv_bytes(conn.server, strlen(req));
	send_all(conn.server, cont);
	recv_bytes(conn.client, strlen(cont));
	send_all(conn.client, "body");
	recv_bytes(conn.server, 4);
	send_all(conn.server, done);
	recv_bytes(conn.client, strlen(done));
	wait_for(hm, &seen, 2);
	CHECK_INT_EQ(seen.n, 2);
	for (int i = 0; i < seen.n && i < MAX_SEEN; i++) {
		CHECK_INT_EQ(seen.r[i].status, 201);
		CHECK_INT_EQ(seen.r[i].method, HTTPMON_METHOD_POST);
	}
}

TEST(unwatched_traffic_is_not_seen_and_rewatching_does_not_duplicate)
{
	struct httpmon_stats st;

	seen.n = 0;
	CHECK_INT_EQ(httpmon_unwatch(hm, (uint32_t)getpid()), 0);
	CHECK_INT_EQ(httpmon_unwatch(hm, (uint32_t)getpid()), -ENOENT);
	CHECK_INT_EQ(httpmon_watched_count(hm), 0);
	exchange(&conn); /* while the old links may still be going away */
	wait_for(hm, &seen, 1);
	CHECK_INT_EQ(seen.n, 0);
	httpmon_wait_detached(hm);
	CHECK_INT_EQ(httpmon_stats(hm, &st), 0);
	CHECK(!st.attached);
	CHECK(st.loaded);

	CHECK_INT_EQ(httpmon_watch(hm, (uint32_t)getpid()), 0);
	CHECK_INT_EQ(httpmon_watch(hm, (uint32_t)getpid()), 0); /* twice: no-op */
	CHECK_INT_EQ(httpmon_watched_count(hm), 1);
	exchange(&conn);
	wait_for(hm, &seen, 3);
	CHECK_INT_EQ(seen.n, 2);
	CHECK_INT_EQ(httpmon_stats(hm, &st), 0);
	CHECK(st.attached);
	CHECK_INT_EQ(st.counters[HTTPMON_CNT_UNPAIRED_RESPONSES], 0);
	CHECK_INT_EQ(st.counters[HTTPMON_CNT_RING_FULL], 0);
	CHECK_INT_EQ(st.counters[HTTPMON_CNT_EMITTED], 12);
}

struct ready_seen {
	struct httpmon *hm;
	int calls, err, add_err;
	bool ready;
};

/* netprof's use: seed a connection once the programs are loaded. */
static void on_ready(int err, void *ctx)
{
	struct ready_seen *rs = ctx;
	struct netprof_conn c = {.role = HTTPMON_ROLE_CLIENT, .family = AF_INET};

	rs->calls++;
	rs->err = err;
	rs->ready = httpmon_ready(rs->hm);
	rs->add_err = httpmon_net_add_conn(rs->hm, (uint32_t)getpid(), (uint32_t)conn.client, &c);
}

TEST(unwatching_while_loading_leaves_the_programs_loaded_not_attached)
{
	struct ready_seen rs = {0};
	struct seen mine = {0};
	struct httpmon_stats st;

	CHECK_INT_EQ(httpmon_open(collect, &mine, 0, &rs.hm), 0);
	httpmon_set_ready_fn(rs.hm, on_ready, &rs);
	CHECK_INT_EQ(httpmon_watch(rs.hm, (uint32_t)getpid()), 0);
	CHECK_INT_EQ(httpmon_net_watch(rs.hm, (uint32_t)getpid()), 0);
	CHECK_INT_EQ(httpmon_net_watched_count(rs.hm), 1);
	CHECK_INT_EQ(httpmon_unwatch(rs.hm, (uint32_t)getpid()), 0);
	CHECK_INT_EQ(httpmon_unwatch(rs.hm, (uint32_t)getpid()), -ENOENT);
	CHECK_INT_EQ(httpmon_net_unwatch(rs.hm, (uint32_t)getpid()), 0);
	CHECK_INT_EQ(httpmon_net_watched_count(rs.hm), 0);
	CHECK_INT_EQ(httpmon_wait_ready(rs.hm, -1), 0);
	CHECK_INT_EQ(rs.calls, 1);
	CHECK_INT_EQ(rs.err, 0);
	CHECK_INT_EQ(httpmon_stats(rs.hm, &st), 0);
	CHECK(st.loaded);
	CHECK(!st.attached);
	exchange(&conn);
	wait_for(rs.hm, &mine, 1);
	CHECK_INT_EQ(mine.n, 0);
	/* Loaded already: the next watch attaches at once, no callback. */
	CHECK_INT_EQ(httpmon_watch(rs.hm, (uint32_t)getpid()), 0);
	CHECK(httpmon_ready(rs.hm));
	exchange(&conn);
	wait_for(rs.hm, &mine, 2);
	CHECK_INT_EQ(mine.n, 2);
	CHECK_INT_EQ(rs.calls, 1);
	CHECK_INT_EQ(httpmon_unwatch(rs.hm, (uint32_t)getpid()), 0);
	rs.hm = httpmon_close(rs.hm);
}

static void count_fd(uint32_t pid, uint32_t fd, const struct netprof_conn *c, void *ctx)
{
	int *n = ctx;

	(void)c;
	*n += pid == (uint32_t)getpid() && fd == (uint32_t)conn.client;
}

TEST(net_pids_watched_while_loading_are_seeded_from_the_ready_callback)
{
	struct netprof_conn c = {0};
	struct ready_seen rs = {0};
	struct seen mine = {0};
	int n = 0;

	CHECK_INT_EQ(httpmon_open(collect, &mine, 0, &rs.hm), 0);
	httpmon_set_ready_fn(rs.hm, on_ready, &rs);
	CHECK_INT_EQ(httpmon_net_watch(rs.hm, (uint32_t)getpid()), 0);
	CHECK_INT_EQ(httpmon_net_add_conn(rs.hm, (uint32_t)getpid(), 1, &c), -ENOENT);
	CHECK_INT_EQ(httpmon_wait_ready(rs.hm, -1), 0);
	CHECK_INT_EQ(rs.calls, 1);
	CHECK_INT_EQ(rs.err, 0);
	CHECK(rs.ready);
	CHECK_INT_EQ(rs.add_err, 0);
	httpmon_net_conns(rs.hm, count_fd, &n);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(httpmon_net_unwatch(rs.hm, (uint32_t)getpid()), 0);
	httpmon_wait_detached(rs.hm);
	rs.hm = httpmon_close(rs.hm);
}

TEST(closing_while_loading_joins_the_loader)
{
	struct httpmon *m;
	struct httpmon_stats st;

	CHECK_INT_EQ(httpmon_open(collect, NULL, 0, &m), 0);
	CHECK_INT_EQ(httpmon_watch(m, (uint32_t)getpid()), 0);
	CHECK_INT_EQ(httpmon_stats(m, &st), 0);
	CHECK(st.loading);
	/* The sanitizer build finds a skeleton or thread left behind. */
	CHECK(httpmon_close(m) == NULL);
}

/* In a child without capabilities (root still, but no CAP_BPF): the load
 * fails for real. Returns 0, or the number of the first failed expectation. */
static int failed_load_in_child(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {0};
	struct httpmon_stats st;
	struct httpmon *m;
	int err;

	if (syscall(SYS_capset, &hdr, data) || httpmon_open(collect, NULL, 0, &m))
		return 1;
	if (httpmon_watch(m, (uint32_t)getpid()) != 0) /* pending */
		return 2;
	err = httpmon_wait_ready(m, -1);
	if (err >= 0)
		return 3;
	if (httpmon_stats(m, &st) != 0 || st.error != err || st.loaded || st.loading)
		return 4;
	if (httpmon_take_error(m) != err || httpmon_take_error(m) != 0) /* once */
		return 5;
	if (httpmon_watched_count(m) != 1 || httpmon_ready(m))
		return 6;
	/* A later watch retries. */
	if (httpmon_watch(m, (uint32_t)getppid()) != 0)
		return 7;
	if (httpmon_stats(m, &st) != 0 || !st.loading)
		return 8;
	if (httpmon_wait_ready(m, -1) >= 0 || httpmon_take_error(m) >= 0)
		return 9;
	httpmon_close(m);
	return 0;
}

TEST(a_failed_load_is_kept_reported_once_and_retried)
{
	int status = -1;
	pid_t child = fork();

	if (child == 0)
		_exit(failed_load_in_child());
	CHECK(child > 0);
	CHECK_INT_EQ(waitpid(child, &status, 0), child);
	CHECK(WIFEXITED(status));
	CHECK_INT_EQ(WEXITSTATUS(status), 0);
}

TEST(bad_pids_are_refused)
{
	CHECK_INT_EQ(httpmon_watch(hm, 0), -EINVAL);
	CHECK_INT_EQ(httpmon_watch(hm, HTTPMON_PID_LIMIT), -EINVAL);
	CHECK_INT_EQ(httpmon_unwatch(hm, 12345678), -ENOENT);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("test_httpmon: needs root for BPF; not run\n");
		return 0;
	}
	if (bpfutil_setup() || httpmon_open(collect, &seen, 0, &hm) || tcp_pair(&conn)) {
		fprintf(stderr, "test_httpmon: setup failed: %s\n", strerror(errno));
		return 1;
	}
	RUN(both_roles_of_one_exchange_are_reported);
	RUN(pipelined_requests_and_coalesced_responses_pair_in_order);
	RUN(interim_responses_do_not_complete_a_request);
	RUN(unwatched_traffic_is_not_seen_and_rewatching_does_not_duplicate);
	RUN(bad_pids_are_refused);
	RUN(unwatching_while_loading_leaves_the_programs_loaded_not_attached);
	RUN(net_pids_watched_while_loading_are_seeded_from_the_ready_callback);
	RUN(closing_while_loading_joins_the_loader);
	RUN(a_failed_load_is_kept_reported_once_and_retried);
	close(conn.client);
	close(conn.server);
	httpmon_close(hm);
	return harness_finish();
}
