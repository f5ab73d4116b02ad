/* Unit tests for agent/netagg (the NETWORK task's aggregation: edges,
 * totals over flushes, HTTP counts and percentiles, samples and their
 * heads, retransmits) and netpeer's /proc/net/tcp line parser. The peers
 * come from a table here instead of the host's sockets (netprof.test.mjs
 * runs the real thing). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/netagg.h"
#include "agent/netpeer.h"
#include "harness.h"

#define MS 1000000ull

/* pid 10 and 11 are "local processes"; peers on port 8080 are pid 11. */
static int describe(void *ctx, uint32_t pid, struct netagg_node *ret)
{
	(void)ctx;
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->id, sizeof(ret->id), "proc-%u", pid);
	snprintf(ret->process, sizeof(ret->process), "p%u", pid);
	snprintf(ret->service, sizeof(ret->service), "svc");
	ret->pid = pid;
	ret->in_instance = pid == 10;
	return 0;
}

static int peer(void *ctx, const struct netprof_conn *c, struct netagg_node *ret)
{
	if (c->remote.port == 8080)
		return describe(ctx, 11, ret);
	memset(ret, 0, sizeof(*ret));
	netagg_format_addr(&c->remote, c->role == HTTPMON_ROLE_CLIENT, ret->address,
			   sizeof(ret->address));
	snprintf(ret->id, sizeof(ret->id), "%s", ret->address);
	return 0;
}

static int lookups;

static int lookup(void *ctx, uint32_t pid, uint32_t fd, struct netprof_conn *ret)
{
	(void)ctx;
	(void)pid;
	lookups++;
	if (fd != 99)
		return -ENOENT;
	memset(ret, 0, sizeof(*ret));
	ret->role = HTTPMON_ROLE_CLIENT;
	ret->remote.port = 8080;
	return 0;
}

static struct netagg *new_agg(void)
{
	struct netagg_ops ops = {
	    .describe_pid = describe, .find_peer = peer, .lookup_conn = lookup};

	return netagg_new(&ops);
}

static struct netprof_conn conn_to(uint16_t port, uint8_t role, uint64_t open_ns)
{
	struct netprof_conn c = {0};

	c.role = role;
	c.open_ns = open_ns;
	c.local.addr[10] = c.local.addr[11] = 0xff;
	c.local.addr[12] = 127;
	c.local.addr[15] = 1;
	c.local.port = 40000;
	c.remote = c.local;
	c.remote.port = port;
	return c;
}

static struct httpmon_request req(uint32_t fd, uint16_t status, uint64_t start, uint64_t dur,
				  const char *uri)
{
	struct httpmon_request r = {0};

	r.pid = 10;
	r.fd = fd;
	r.role = HTTPMON_ROLE_CLIENT;
	r.method = HTTPMON_METHOD_GET;
	r.status = status;
	r.start_ns = start;
	r.end_ns = start + dur;
	snprintf(r.uri, sizeof(r.uri), "%s", uri);
	return r;
}

static const json_t *edge_to(const json_t *doc, const char *to)
{
	const json_t *edges = json_object_get(doc, "edges");

	for (size_t i = 0; i < json_array_size(edges); i++) {
		const json_t *e = json_array_get(edges, i);

		if (strcmp(json_string_value(json_object_get(e, "to")), to) == 0)
			return e;
	}
	return NULL;
}

static double num(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	return json_number_value(v);
}

TEST(histogram_buckets_are_within_a_sixteenth)
{
	for (uint64_t v = 1; v < (1ull << 40); v = v * 3 + 1) {
		uint64_t got = netagg_hist_value(netagg_hist_bucket(v));

		CHECK(netagg_hist_bucket(v) < NETAGG_HIST_BUCKETS);
		CHECK((double)got >= (double)v * (1 - 1.0 / 16) && (double)got <= (double)v * 1.07);
	}
	CHECK_INT_EQ(netagg_hist_value(netagg_hist_bucket(7)), 7);
	uint32_t h[NETAGG_HIST_BUCKETS] = {0};

	for (uint64_t i = 1; i <= 100; i++)
		h[netagg_hist_bucket(i * MS)]++;
	CHECK(netagg_hist_quantile(h, NETAGG_HIST_BUCKETS, 0.5) / MS >= 47 &&
	      netagg_hist_quantile(h, NETAGG_HIST_BUCKETS, 0.5) / MS <= 53);
	CHECK(netagg_hist_quantile(h, NETAGG_HIST_BUCKETS, 0.99) / MS >= 93);
	CHECK_INT_EQ(netagg_hist_quantile((uint32_t[4]){0}, 4, 0.5), 0);
}

TEST(requests_make_an_edge_with_counts_classes_and_percentiles)
{
	struct netagg *ag = new_agg();
	struct netprof_conn c = conn_to(8080, HTTPMON_ROLE_CLIENT, 1);
	json_t *doc;
	const json_t *e;

	CHECK_INT_EQ(netagg_add_process(ag, 10), 0);
	CHECK_INT_EQ(netagg_conn_opened(ag, 10, 5, &c), 0);
	for (int i = 0; i < 90; i++) {
		struct httpmon_request r = req(5, 200, 1000 + i, 10 * MS, "/ok");

		netagg_request(ag, &r, 0);
	}
	for (int i = 0; i < 10; i++) {
		struct httpmon_request r = req(5, i < 7 ? 503 : 404, 5000 + i, 100 * MS, "/x");

		netagg_request(ag, &r, 0);
	}
	doc = netagg_to_json(ag);
	e = edge_to(doc, "proc-11");
	CHECK(e != NULL);
	CHECK_STR_EQ(json_string_value(json_object_get(e, "from")), "proc-10");
	CHECK_STR_EQ(json_string_value(json_object_get(e, "role")), "client");
	CHECK_INT_EQ(num(json_object_get(e, "http"), "requests", NULL), 100);
	CHECK_INT_EQ(num(json_object_get(e, "http"), "status", "2xx"), 90);
	CHECK_INT_EQ(num(json_object_get(e, "http"), "status", "4xx"), 3);
	CHECK_INT_EQ(num(json_object_get(e, "http"), "status", "5xx"), 7);
	CHECK_INT_EQ(num(json_object_get(e, "http"), "status", "3xx"), 0);
	e = json_object_get(json_object_get(e, "http"), "latency_ms");
	CHECK(num(e, "avg", NULL) > 18.99 && num(e, "avg", NULL) < 19.01);
	CHECK(num(e, "p50", NULL) > 9.3 && num(e, "p50", NULL) < 10.7);
	CHECK(num(e, "p99", NULL) > 93 && num(e, "p99", NULL) < 107);
	CHECK_INT_EQ(json_array_size(json_object_get(doc, "nodes")), 2);
	CHECK(json_is_true(
	    json_object_get(json_array_get(json_object_get(doc, "nodes"), 0), "in_instance")));
	json_decref(doc);
	netagg_free(ag);
}

TEST(totals_are_closed_plus_live_and_never_counted_twice)
{
	struct netagg *ag = new_agg();
	struct netprof_conn a = conn_to(8080, HTTPMON_ROLE_CLIENT, 1);
	struct netprof_conn b = conn_to(8080, HTTPMON_ROLE_CLIENT, 2);
	json_t *doc;
	const json_t *e;

	netagg_conn_opened(ag, 10, 5, &a);
	netagg_conn_opened(ag, 10, 6, &b);
	a.bytes[NETPROF_OUT] = 100, a.calls[NETPROF_OUT] = 1;
	netagg_conn_update(ag, 10, 5, &a);
	a.bytes[NETPROF_OUT] = 300, a.calls[NETPROF_OUT] = 3; /* cumulative */
	netagg_conn_update(ag, 10, 5, &a);
	netagg_conn_closed(ag, 10, 5, &a);
	b.bytes[NETPROF_IN] = 50, b.calls[NETPROF_IN] = 2;
	b.hist[NETPROF_IN][10] = 2, b.syscall_ns[NETPROF_IN] = 3000;
	netagg_conn_update(ag, 10, 6, &b);
	netagg_conn_update(ag, 10, 6, &b);
	/* fd 5 reused by a new connection: counted as one more. */
	struct netprof_conn c = conn_to(8080, HTTPMON_ROLE_CLIENT, 3);

	c.bytes[NETPROF_OUT] = 7;
	netagg_conn_update(ag, 10, 5, &c);
	doc = netagg_to_json(ag);
	e = edge_to(doc, "proc-11");
	CHECK_INT_EQ(num(e, "bytes_out", NULL), 307);
	CHECK_INT_EQ(num(e, "bytes_in", NULL), 50);
	CHECK_INT_EQ(num(e, "calls", NULL), 5);
	CHECK_INT_EQ(num(e, "connections", "opened"), 3);
	CHECK_INT_EQ(num(e, "connections", "closed"), 1);
	CHECK(num(json_object_get(e, "syscall_ms"), "read", "avg") > 0.0014 &&
	      num(json_object_get(e, "syscall_ms"), "read", "avg") < 0.0016);
	CHECK_INT_EQ(json_array_size(json_object_get(doc, "edges")), 1);
	json_decref(doc);
	netagg_free(ag);
}

TEST(server_side_peers_are_addresses_and_edges_point_to_the_server)
{
	struct netagg *ag = new_agg();
	struct netprof_conn c = conn_to(51000, HTTPMON_ROLE_SERVER, 1);
	json_t *doc;
	const json_t *e;

	netagg_conn_opened(ag, 10, 7, &c);
	doc = netagg_to_json(ag);
	e = json_array_get(json_object_get(doc, "edges"), 0);
	CHECK_STR_EQ(json_string_value(json_object_get(e, "from")), "127.0.0.1");
	CHECK_STR_EQ(json_string_value(json_object_get(e, "to")), "proc-10");
	CHECK_STR_EQ(json_string_value(json_object_get(e, "observer")), "proc-10");
	CHECK_STR_EQ(json_string_value(json_object_get(e, "role")), "server");
	json_decref(doc);
	netagg_free(ag);
}

TEST(unknown_connections_are_looked_up_or_dropped)
{
	struct netagg *ag = new_agg();
	struct httpmon_request known = req(99, 200, 1, MS, "/a");
	struct httpmon_request unknown = req(98, 200, 1, MS, "/a");
	json_t *doc;

	lookups = 0;
	netagg_request(ag, &known, 0);
	netagg_request(ag, &known, 0);
	netagg_request(ag, &unknown, 0);
	CHECK_INT_EQ(lookups, 2);
	doc = netagg_to_json(ag);
	CHECK_INT_EQ(num(json_object_get(edge_to(doc, "proc-11"), "http"), "requests", NULL), 2);
	CHECK_INT_EQ(json_array_size(json_object_get(doc, "edges")), 1);
	json_decref(doc);
	netagg_free(ag);
}

TEST(samples_keep_the_slowest_n_and_every_failed_one_with_heads)
{
	struct netagg *ag = new_agg();
	struct netprof_conn c = conn_to(8080, HTTPMON_ROLE_CLIENT, 1);
	struct netprof_heads *h = calloc(1, sizeof(*h));
	json_t *doc, *s;
	size_t i, slow = 0, failed = 0;

	netagg_conn_opened(ag, 10, 5, &c);
	for (int k = 0; k < 30; k++) {
		struct httpmon_request r = req(5, 200, 100 + k, (uint64_t)(k + 1) * MS, "/s");

		netagg_request(ag, &r, 0);
	}
	CHECK_INT_EQ(netagg_slow_floor(ag), 21 * MS);
	for (int k = 0; k < 25; k++) {
		struct httpmon_request r = req(5, 500, 1000 + k, MS, "/f");

		netagg_request(ag, &r, 1000 * MS);
	}
	h->pid = 10, h->fd = 5, h->start_ns = 1003, h->status = 500;
	memcpy(h->req, "GET /f HTTP/1.1\r\n\x01", 18);
	h->req_len = 18;
	memcpy(h->resp, "HTTP/1.1 500 X\r\n", 16);
	h->resp_len = 16;
	netagg_heads(ag, h);
	netagg_end_interval(ag);
	CHECK_INT_EQ(netagg_slow_floor(ag), 0);
	doc = netagg_to_json(ag);
	json_array_foreach(json_object_get(doc, "samples"), i, s)
	{
		const char *reason = json_string_value(json_object_get(s, "reason"));

		if (strcmp(reason, "slow") == 0) {
			CHECK(num(s, "duration_ms", NULL) >= 21);
			slow++;
		} else {
			failed++;
			CHECK_INT_EQ(num(s, "time", NULL), 1001);
			if (num(s, "time", NULL) == 1001 && json_object_get(s, "headers") != NULL) {
				CHECK_STR_EQ(json_string_value(json_object_get(s, "headers")),
					     "GET /f HTTP/1.1\r\n.");
				CHECK_STR_EQ(
				    json_string_value(json_object_get(s, "response_headers")),
				    "HTTP/1.1 500 X\r\n");
			}
		}
	}
	CHECK_INT_EQ(slow, NETAGG_SLOWEST_N);
	CHECK_INT_EQ(failed, NETAGG_FAILED_N);
	json_decref(doc);
	free(h);
	netagg_free(ag);
}

TEST(kept_samples_are_bounded_newest_last)
{
	struct netagg *ag = new_agg();
	struct netprof_conn c = conn_to(8080, HTTPMON_ROLE_CLIENT, 1);
	json_t *doc, *arr;

	netagg_conn_opened(ag, 10, 5, &c);
	for (int round = 0; round < 60; round++) {
		for (int k = 0; k < 20; k++) {
			struct httpmon_request r = req(5, 500, (uint64_t)round, MS, "/f");

			netagg_request(ag, &r, (int64_t)round * 1000 * (int64_t)MS);
		}
		netagg_end_interval(ag);
	}
	doc = netagg_to_json(ag);
	arr = json_object_get(doc, "samples");
	CHECK_INT_EQ(json_array_size(arr), NETAGG_SAMPLES_KEPT);
	CHECK_INT_EQ(num(json_array_get(arr, json_array_size(arr) - 1), "time", NULL), 59001);
	json_decref(doc);
	netagg_free(ag);
}

TEST(retransmits_go_to_the_connection_of_their_tuple)
{
	struct netagg *ag = new_agg();
	struct netprof_conn c = conn_to(8080, HTTPMON_ROLE_CLIENT, 1);
	struct netprof_tuple t = {0}, other;
	json_t *doc;

	netagg_conn_opened(ag, 10, 5, &c);
	memcpy(t.saddr, c.local.addr, 16);
	memcpy(t.daddr, c.remote.addr, 16);
	t.sport = c.local.port;
	t.dport = c.remote.port;
	other = t;
	other.dport = 9;
	netagg_retransmits(ag, &t, 3);
	netagg_retransmits(ag, &other, 5);
	doc = netagg_to_json(ag);
	CHECK_INT_EQ(num(edge_to(doc, "proc-11"), "retransmits", NULL), 3);
	json_decref(doc);
	netagg_free(ag);
}

TEST(proc_net_tcp_lines_parse)
{
	struct netpeer_sock s;
	char text[64];

	CHECK_INT_EQ(
	    netpeer_parse_line("   5: 0100007F:9AE7 0100007F:D682 01 00000000:00000000 "
			       "00:00000000 00000000     0        0 174680 2 0 20 4 29 13 -1",
			       &s),
	    0);
	netagg_format_addr(&s.local, true, text, sizeof(text));
	CHECK_STR_EQ(text, "127.0.0.1:39655");
	netagg_format_addr(&s.remote, false, text, sizeof(text));
	CHECK_STR_EQ(text, "127.0.0.1");
	CHECK_INT_EQ(s.remote.port, 0xD682);
	CHECK_INT_EQ(s.state, NETPEER_TCP_ESTABLISHED);
	CHECK_INT_EQ(s.inode, 174680);
	CHECK_INT_EQ(
	    netpeer_parse_line("   0: 00000000000000000000000001000000:1F90 "
			       "00000000000000000000000000000000:0000 0A 00000000:00000000 "
			       "00:00000000 00000000     0        0 999 1 0 100 0 0 10 0",
			       &s),
	    0);
	netagg_format_addr(&s.local, true, text, sizeof(text));
	CHECK_STR_EQ(text, "[::1]:8080");
	CHECK_INT_EQ(s.state, NETPEER_TCP_LISTEN);
	CHECK_INT_EQ(netpeer_parse_line("  sl  local_address rem_address   st tx_queue", &s),
		     -EINVAL);
	CHECK_INT_EQ(netpeer_parse_line("   5: 0100007G:9AE7 0100007F:D682 01 0:0 0:0 0 0 0 1", &s),
		     -EINVAL);
}

int main(void)
{
	RUN(histogram_buckets_are_within_a_sixteenth);
	RUN(requests_make_an_edge_with_counts_classes_and_percentiles);
	RUN(totals_are_closed_plus_live_and_never_counted_twice);
	RUN(server_side_peers_are_addresses_and_edges_point_to_the_server);
	RUN(unknown_connections_are_looked_up_or_dropped);
	RUN(samples_keep_the_slowest_n_and_every_failed_one_with_heads);
	RUN(kept_samples_are_bounded_newest_last);
	RUN(retransmits_go_to_the_connection_of_their_tuple);
	RUN(proc_net_tcp_lines_parse);
	return harness_finish();
}
