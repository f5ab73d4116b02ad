/* Unit tests for agent/uplink against a small HTTP server of the test's own
 * (libmicrohttpd on loopback) that records every request: task reports and
 * ends made while the server is away arrive exactly once and in order when it
 * returns; metrics beyond the buffer bound are dropped, counted, and the
 * newest kept; uplink_close() ends by its flush bound with the server away or
 * hanging, leaving what is unsent in the spool. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "agent/uplink.h"
#include "harness.h"
#include "util/spool.h"

#define MAX_SEEN 4096

/* ---- the recording server ---- */

struct fake_server {
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;
	char *seen[MAX_SEEN]; /* "METHOD PATH BODY" */
	size_t n_seen;
	volatile int hang_tasks; /* task endpoints block while set */
};

static struct fake_server fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

struct upload {
	char *data;
	size_t len;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **req_cls)
{
	struct upload *up = *req_cls;
	const char *answer = "{}";
	struct MHD_Response *r;
	enum MHD_Result ok;
	char *line;

	(void)cls;
	(void)version;
	if (!up) {
		*req_cls = calloc(1, sizeof(struct upload));
		return *req_cls ? MHD_YES : MHD_NO;
	}
	if (*data_size) {
		char *grown = realloc(up->data, up->len + *data_size + 1);

		if (!grown)
			return MHD_NO;
		memcpy(grown + up->len, data, *data_size);
		up->data = grown;
		up->len += *data_size;
		up->data[up->len] = '\0';
		*data_size = 0;
		return MHD_YES;
	}
	if (strstr(url, "/agent/sync")) {
		struct timespec ts = {0, 100 * 1000000}; /* a short long poll */

		nanosleep(&ts, NULL);
		answer = "{\"policies\": [], \"tasks\": []}";
	} else if (strstr(url, "/agent/tasks")) {
		while (fake.hang_tasks) {
			struct timespec ts = {0, 20 * 1000000};

			nanosleep(&ts, NULL);
		}
	}
	if (asprintf(&line, "%s %s %s", method, url, up->data ? up->data : "") >= 0) {
		pthread_mutex_lock(&fake.lock);
		if (fake.n_seen < MAX_SEEN)
			fake.seen[fake.n_seen++] = line;
		else
			free(line);
		pthread_mutex_unlock(&fake.lock);
	}
	r = MHD_create_response_from_buffer(strlen(answer), (void *)answer, MHD_RESPMEM_PERSISTENT);
	ok = MHD_queue_response(
	    conn, strstr(url, "/agent/tasks") && !strstr(url, "/finish") ? 201 : 200, r);
	MHD_destroy_response(r);
	return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode code)
{
	struct upload *up = *req_cls;

	(void)cls;
	(void)conn;
	(void)code;
	if (up) {
		free(up->data);
		free(up);
	}
	*req_cls = NULL;
}

static void fake_start(uint16_t port)
{
	fake.daemon = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, port, NULL, NULL,
	    on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
	CHECK(fake.daemon != NULL);
}

static void fake_stop(void)
{
	if (fake.daemon)
		MHD_stop_daemon(fake.daemon);
	fake.daemon = NULL;
}

static void fake_forget(void)
{
	pthread_mutex_lock(&fake.lock);
	for (size_t i = 0; i < fake.n_seen; i++)
		free(fake.seen[i]);
	fake.n_seen = 0;
	pthread_mutex_unlock(&fake.lock);
}

/* ---- helpers ---- */

static uint16_t free_port(void)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint16_t port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
		port = ntohs(addr.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static char spool_dir[64];
static char url[64];

static struct uplink *open_uplink(uint16_t port, size_t metrics_max_points)
{
	struct uplink_options o;
	struct uplink *ul = NULL;

	snprintf(spool_dir, sizeof(spool_dir), "/tmp/contprof-uplink-test-XXXXXX");
	CHECK(mkdtemp(spool_dir) != NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	uplink_options_default(&o);
	o.server_url = url;
	o.agent_id = "test-agent";
	o.host = "test-host";
	o.spool_dir = spool_dir;
	o.metrics_max_points = metrics_max_points;
	o.metrics_interval_ms = 200;
	o.register_interval_ms = 1000;
	o.sync_wait_ms = 100;
	CHECK_INT_EQ(uplink_open(&o, &ul), 0);
	return ul;
}

static void remove_spool(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", spool_dir);
	CHECK_INT_EQ(system(cmd), 0);
}

static struct task_info task(int n)
{
	struct task_info t = {.status = TASK_FINISHED};

	snprintf(t.id, sizeof(t.id), "task-%d", n);
	t.decision.target = POLICY_TARGET_ON_CPU;
	t.decision.duration_s = 1;
	snprintf(t.decision.service, sizeof(t.decision.service), "svc");
	snprintf(t.decision.process_id, sizeof(t.decision.process_id), "proc-1");
	snprintf(t.decision.cause.message, sizeof(t.decision.cause.message), "test");
	t.start_wall_ms = 1764000000000 + n * 1000;
	t.end_wall_ms = t.start_wall_ms + 500;
	return t;
}

static bool wait_spool_empty(struct uplink *ul, int ms)
{
	struct uplink_stats st;

	for (int64_t until = now_ms() + ms; now_ms() < until; sleep_ms(50)) {
		uplink_get_stats(ul, &st);
		if (st.spool_records == 0 && st.metrics_buffered == 0)
			return true;
	}
	return false;
}

/* ---- tests ---- */

TEST(server_away_then_back_every_task_message_once_in_order)
{
	uint16_t port = free_port();
	struct uplink *ul = open_uplink(port, 50);
	struct uplink_stats st;
	char want[64];
	size_t next = 0, points = 0;
	int64_t newest_seen = 0, oldest_seen = INT64_MAX;

	fake_forget();
	for (int n = 0; n < 5; n++) {
		struct task_info t = task(n);

		CHECK_INT_EQ(uplink_task_started(ul, &t), 0);
		CHECK_INT_EQ(uplink_task_ended(ul, &t), 0);
	}
	for (int i = 0; i < 120; i++)
		uplink_metric(ul, "proc-1", "PROCESS_CPU", NULL, 1764000000000 + i * 1000, i);
	uplink_get_stats(ul, &st);
	CHECK_INT_EQ(st.spool_records, 10);
	CHECK(st.metrics_buffered <= 50);
	CHECK_INT_EQ(st.metrics_dropped + st.metrics_buffered, 120);
	CHECK(st.metrics_dropped >= 70);

	sleep_ms(1500); /* the sender tries, fails, backs off */
	fake_start(port);
	CHECK(wait_spool_empty(ul, 20000));
	uplink_get_stats(ul, &st);
	CHECK_INT_EQ(st.messages_sent, 10);
	CHECK_INT_EQ(st.messages_rejected, 0);
	ul = uplink_close(ul, 1000);
	fake_stop();

	pthread_mutex_lock(&fake.lock);
	for (size_t i = 0; i < fake.n_seen; i++) {
		const char *line = fake.seen[i];
		json_t *body;

		if (strncmp(line, "POST /api/v1/agent/tasks", 24) == 0) {
			/* Expected order: report n, finish n, report n+1... */
			int n = (int)(next / 2);

			if (next % 2 == 0) {
				snprintf(want, sizeof(want), "\"id\":\"task-%d\"", n);
				harness_context("message %zu: %.120s", next, line);
				CHECK(strncmp(line, "POST /api/v1/agent/tasks {", 26) == 0 &&
				      strstr(line, want));
			} else {
				snprintf(want, sizeof(want),
					 "POST /api/v1/agent/tasks/task-%d/finish", n);
				harness_context("message %zu: %.120s", next, line);
				CHECK(strncmp(line, want, strlen(want)) == 0);
			}
			next++;
		} else if (strncmp(line, "POST /api/v1/agent/metrics ", 27) == 0) {
			json_t *series, *point;
			size_t j;

			body = json_loads(line + 27, 0, NULL);
			series = json_array_get(json_object_get(body, "series"), 0);
			json_array_foreach(json_object_get(series, "points"), j, point)
			{
				int64_t t = json_integer_value(json_array_get(point, 0));

				points++;
				if (t > newest_seen)
					newest_seen = t;
				if (t < oldest_seen)
					oldest_seen = t;
			}
			json_decref(body);
		}
	}
	pthread_mutex_unlock(&fake.lock);
	CHECK_INT_EQ(next, 10); /* each report and end exactly once */
	CHECK_INT_EQ(points, 120 - st.metrics_dropped);
	CHECK_INT_EQ(newest_seen, 1764000000000 + 119 * 1000); /* the newest are kept */
	CHECK(oldest_seen >= 1764000000000 + 70 * 1000);       /* the oldest dropped */
	remove_spool();
}

/* The samples of each spooled slice count once, when spooled: not again
 * when the sender delivers it after the server returns. */
TEST(slice_samples_count_once_when_spooled)
{
	uint16_t port = free_port();
	struct uplink *ul = open_uplink(port, 50);
	const struct profile_stack a[] = {{.folded = "main;f", .count = 3},
					  {.folded = "main;g", .count = 4}};
	const struct profile_stack b[] = {{.folded = "main;f", .count = 5}};
	struct uplink_stats st;

	fake_forget();
	CHECK_INT_EQ(uplink_slice(ul, "task-0", 0, 1764000000000, 1764000001000, a, 2, NULL), 0);
	CHECK_INT_EQ(uplink_slice(ul, "task-0", 1, 1764000001000, 1764000002000, b, 1, NULL), 0);
	CHECK_INT_EQ(uplink_slice(ul, "task-0", 2, 1764000002000, 1764000003000, NULL, 0, NULL), 0);
	uplink_get_stats(ul, &st);
	CHECK_INT_EQ(st.spool_records, 3);
	CHECK_INT_EQ(st.profile_samples_spooled, 12);
	sleep_ms(1200); /* the sender tries, fails, backs off */
	fake_start(port);
	CHECK(wait_spool_empty(ul, 20000));
	uplink_get_stats(ul, &st);
	CHECK_INT_EQ(st.messages_sent, 3);
	CHECK_INT_EQ(st.profile_samples_spooled, 12);
	ul = uplink_close(ul, 1000);
	fake_stop();
	remove_spool();
}

TEST(close_with_the_server_away_ends_by_its_bound_and_keeps_the_spool)
{
	uint16_t port = free_port();
	struct uplink *ul = open_uplink(port, 100);
	struct task_info t = task(7);
	struct spool *spool = NULL;
	int64_t started;

	CHECK_INT_EQ(uplink_task_started(ul, &t), 0);
	sleep_ms(300);
	started = now_ms();
	ul = uplink_close(ul, 500);
	CHECK(now_ms() - started < 2500);
	CHECK_INT_EQ(spool_open(spool_dir, 1 << 20, &spool), 0);
	CHECK_INT_EQ(spool_records(spool), 1);
	spool = spool_close(spool);
	remove_spool();
}

TEST(close_with_a_hanging_server_is_cut_short_at_its_bound)
{
	uint16_t port = free_port();
	struct uplink *ul;
	struct task_info t = task(8);
	int64_t started;

	fake_start(port);
	ul = open_uplink(port, 100);
	fake.hang_tasks = 1;
	CHECK_INT_EQ(uplink_task_started(ul, &t), 0);
	sleep_ms(300); /* the sender is inside the hanging request */
	started = now_ms();
	ul = uplink_close(ul, 700);
	CHECK(now_ms() - started < 3000);
	fake.hang_tasks = 0;
	fake_stop();
	fake_forget();
	remove_spool();
}

TEST(close_flushes_what_waits_when_the_server_answers)
{
	uint16_t port = free_port();
	struct uplink *ul;
	struct task_info t = task(9);
	bool finish_seen = false;

	fake_start(port);
	fake_forget();
	ul = open_uplink(port, 100);
	CHECK_INT_EQ(uplink_task_started(ul, &t), 0);
	CHECK_INT_EQ(uplink_task_ended(ul, &t), 0);
	uplink_metric(ul, "proc-1", "PROCESS_CPU", NULL, 1764000000000, 1.0);
	ul = uplink_close(ul, 3000);
	fake_stop();
	pthread_mutex_lock(&fake.lock);
	for (size_t i = 0; i < fake.n_seen; i++)
		if (strncmp(fake.seen[i], "POST /api/v1/agent/tasks/task-9/finish", 38) == 0)
			finish_seen = true;
	pthread_mutex_unlock(&fake.lock);
	CHECK(finish_seen);
	fake_forget();
	remove_spool();
}

int main(void)
{
	RUN(server_away_then_back_every_task_message_once_in_order);
	RUN(slice_samples_count_once_when_spooled);
	RUN(close_with_the_server_away_ends_by_its_bound_and_keeps_the_spool);
	RUN(close_with_a_hanging_server_is_cut_short_at_its_bound);
	RUN(close_flushes_what_waits_when_the_server_answers);
	return harness_finish();
}
