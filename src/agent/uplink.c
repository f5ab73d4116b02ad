/* uplink: see uplink.h.
 *
 * Threads: the loop thread enqueues (spool appends happen on it, so a task
 * report is on disk before the call returns); the sender thread registers,
 * drains the spool in order and posts metric batches; the sync thread long
 * polls. Shared state is guarded by one mutex; the sender sleeps on a
 * condition variable, the loop is woken through an eventfd. */
#include "agent/uplink.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent/metricbuf.h"
#include "agent/uplink_http.h"
#include "util/log.h"
#include "util/spool.h"

struct uplink {
	struct uplink_options opts;
	char *server_url, *token, *agent_id, *host, *spool_dir;
	struct uplink_http_tls tls; /* owned copies */
	struct spool *spool;
	int wake_fd;

	pthread_mutex_t lock;
	pthread_cond_t sender_cond;
	pthread_t sender, syncer;
	bool sender_started, syncer_started;
	volatile bool stopping;
	volatile bool sync_restart; /* the services changed: restart the poll */
	volatile bool sender_abort; /* the final flush ran out of time */
	int64_t stop_deadline_ms;   /* monotonic; the final flush ends by then */
	unsigned head_not_found;    /* sender only: 404s for the oldest spooled message */

	/* guarded by lock */
	json_t *processes; /* latest list; NULL once sent and unchanged */
	json_t *processes_sent;
	char *register_text; /* sender only: the register body of processes_sent */
	bool processes_dirty;
	json_t *services;
	json_t *sync_results; /* array of sync answers for the loop */
	struct metricbuf *metrics;
	bool spool_kick;
	bool spool_failing;		  /* the last append failed on a write */
	uint64_t spool_errors_at_failure; /* spool_write_errors when it started */
	struct uplink_stats stats;
};

void uplink_options_default(struct uplink_options *o)
{
	memset(o, 0, sizeof(*o));
	o->spool_max_bytes = UPLINK_DEFAULT_SPOOL_MAX_BYTES;
	o->metrics_max_points = UPLINK_DEFAULT_METRICS_MAX_POINTS;
	o->metrics_interval_ms = UPLINK_DEFAULT_METRICS_INTERVAL_MS;
	o->register_interval_ms = UPLINK_DEFAULT_REGISTER_INTERVAL_MS;
	o->sync_wait_ms = UPLINK_DEFAULT_SYNC_WAIT_MS;
	o->backoff_max_ms = UPLINK_BACKOFF_MAX_MS;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t next_backoff(const struct uplink *ul, uint32_t current)
{
	uint32_t next = current ? current * 2 : UPLINK_BACKOFF_MIN_MS;
	uint32_t max = ul->opts.backoff_max_ms >= UPLINK_BACKOFF_MIN_MS ? ul->opts.backoff_max_ms
									: UPLINK_BACKOFF_MIN_MS;
	uint32_t jitter = 0;

	if (next > max)
		next = max;
	if (getrandom(&jitter, sizeof(jitter), GRND_NONBLOCK) != sizeof(jitter))
		jitter = (uint32_t)mono_ms();
	/* 75 % .. 125 % of the step, so agents do not retry in lockstep. */
	return next * 3 / 4 + jitter % (next / 2 + 1);
}

/* A request's time limit: the normal one, or what is left of the final
 * flush once stopping. */
static uint32_t request_timeout_ms(const struct uplink *ul)
{
	int64_t left;

	if (!ul->stopping)
		return UPLINK_REQUEST_TIMEOUT_MS;
	left = ul->stop_deadline_ms - mono_ms();
	if (left < 1)
		return 1;
	return left < UPLINK_REQUEST_TIMEOUT_MS ? (uint32_t)left : UPLINK_REQUEST_TIMEOUT_MS;
}

/* Waits on the sender condition until `deadline` (monotonic ms) or a kick.
 * Called with the lock held. */
static void sender_wait(struct uplink *ul, int64_t deadline_ms)
{
	struct timespec ts;
	int64_t now = mono_ms();

	if (deadline_ms <= now)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t ns = ts.tv_nsec + (deadline_ms - now) % 1000 * 1000000;
	ts.tv_sec += (deadline_ms - now) / 1000 + ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	pthread_cond_timedwait(&ul->sender_cond, &ul->lock, &ts);
}

/* One request; classifies the answer: 0 delivered, 1 rejected (drop),
 * -errno retry later. */
static int exchange(struct uplink *ul, struct uplink_http *h, const char *method, const char *path,
		    const char *body, uint32_t timeout_ms, long *ret_status, char **ret_body)
{
	long status = 0;
	char *resp = NULL;
	int err;

	(void)ul;
	err = uplink_http_send(h, method, path, body, body ? strlen(body) : 0, timeout_ms, &status,
			       &resp);

	if (err) {
		log_debug("uplink: %s", uplink_http_error(h));
		return err;
	}
	if (ret_status)
		*ret_status = status;
	if (status >= 500 || status == 404 || status == 408 || status == 429) {
		log_debug("uplink: %s %s: HTTP %ld: %.200s", method, path, status, resp);
		free(resp);
		return -EAGAIN;
	}
	if (status >= 400) {
		log_warn("uplink: server refused %s %s (HTTP %ld): %.300s", method, path, status,
			 resp);
		free(resp);
		return 1;
	}
	if (ret_body)
		*ret_body = resp;
	else
		free(resp);
	return 0;
}

/* Registers the latest process list; the body of an unchanged list (the
 * periodic register) is the one built before. */
static int send_register(struct uplink *ul, struct uplink_http *h)
{
	json_t *body = NULL;
	int r;

	pthread_mutex_lock(&ul->lock);
	if (ul->processes) {
		json_decref(ul->processes_sent);
		ul->processes_sent = ul->processes;
		ul->processes = NULL;
		free(ul->register_text);
		ul->register_text = NULL;
	}
	if (!ul->register_text)
		body = json_pack(
		    "{s:s, s:s, s:o}", "agent_id", ul->agent_id, "host", ul->host, "processes",
		    ul->processes_sent ? json_incref(ul->processes_sent) : json_array());
	ul->processes_dirty = false;
	pthread_mutex_unlock(&ul->lock);
	if (!ul->register_text) {
		ul->register_text = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		if (!ul->register_text)
			return -ENOMEM;
	}
	r = exchange(ul, h, "POST", "/api/v1/agent/register", ul->register_text,
		     request_timeout_ms(ul), NULL, NULL);
	if (r < 0) {
		pthread_mutex_lock(&ul->lock);
		ul->processes_dirty = true;
		pthread_mutex_unlock(&ul->lock);
	}
	return r < 0 ? r : 0;
}

/* Sends spooled messages in order until the spool is empty or a send fails.
 * A 404 (the process is not registered yet) re-registers first. */
static int drain_spool(struct uplink *ul, struct uplink_http *h)
{
	for (;;) {
		void *data = NULL;
		size_t len;
		json_t *msg;
		int r;

		if (ul->stopping && mono_ms() >= ul->stop_deadline_ms)
			return -ETIMEDOUT;
		pthread_mutex_lock(&ul->lock);
		r = spool_peek(ul->spool, &data, &len);
		pthread_mutex_unlock(&ul->lock);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		msg = json_loadb(data, len, 0, NULL);
		free(data);
		if (!msg) {
			r = 1; /* unreadable record: drop it */
		} else {
			char *body = json_dumps(json_object_get(msg, "body"), JSON_COMPACT);
			long status = 0;

			r = exchange(ul, h, json_string_value(json_object_get(msg, "method")),
				     json_string_value(json_object_get(msg, "path")), body,
				     request_timeout_ms(ul), &status, NULL);
			free(body);
			json_decref(msg);
			if (r == -EAGAIN && status == 404) {
				/* The server does not know the process (or task)
				 * yet: register, retry later. A message still
				 * unknown after several fresh registrations can
				 * never be delivered: drop it (counted) rather
				 * than hold back everything behind it. */
				if (send_register(ul, h) == 0 &&
				    ++ul->head_not_found >= UPLINK_NOT_FOUND_ATTEMPTS) {
					log_warn("uplink: dropping a message the server keeps "
						 "answering 404 to");
					r = 1;
				} else {
					return r;
				}
			}
		}
		if (r < 0)
			return r;
		ul->head_not_found = 0;
		pthread_mutex_lock(&ul->lock);
		spool_ack(ul->spool);
		if (r == 1)
			ul->stats.messages_rejected++;
		else
			ul->stats.messages_sent++;
		pthread_mutex_unlock(&ul->lock);
	}
}

/* Posts every buffered point as one batch; keeps them on failure. */
static int send_metrics(struct uplink *ul, struct uplink_http *h)
{
	size_t n;
	char *text;
	int r;

	pthread_mutex_lock(&ul->lock);
	n = metricbuf_count(ul->metrics);
	text = n ? metricbuf_encode(ul->metrics, ul->agent_id, n) : NULL;
	pthread_mutex_unlock(&ul->lock);
	if (!n)
		return 0;
	if (!text)
		return -ENOMEM;
	r = exchange(ul, h, "POST", "/api/v1/agent/metrics", text, request_timeout_ms(ul), NULL,
		     NULL);
	free(text);
	if (r < 0)
		return r;
	/* Delivered (or refused for good): drop the points sent. New points
	 * arrived after them. */
	pthread_mutex_lock(&ul->lock);
	metricbuf_consume(ul->metrics, n);
	if (r == 0)
		ul->stats.metrics_sent += n;
	else
		ul->stats.metrics_dropped += n;
	pthread_mutex_unlock(&ul->lock);
	return 0;
}

static void *sender_main(void *arg)
{
	struct uplink *ul = arg;
	struct uplink_http *h =
	    uplink_http_new(ul->server_url, ul->token, &ul->tls, &ul->sender_abort);
	int64_t next_register = 0, next_metrics = mono_ms() + ul->opts.metrics_interval_ms;
	int64_t retry_at = 0;
	uint32_t backoff = 0;
	int reachable_logged = -1; /* -1 before the first exchange */

	if (!h) {
		log_error("uplink: cannot create an HTTP client");
		return NULL;
	}
	for (;;) {
		int64_t now = mono_ms();
		bool stopping = ul->stopping;
		int err = 0;

		if (now >= retry_at || stopping) {
			if (ul->processes_dirty || now >= next_register) {
				err = send_register(ul, h);
				if (!err)
					next_register = now + ul->opts.register_interval_ms;
			}
			if (!err)
				err = drain_spool(ul, h);
			if (!err && (now >= next_metrics || stopping)) {
				err = send_metrics(ul, h);
				next_metrics = now + ul->opts.metrics_interval_ms;
			}
			bool reachable = err != -ECONNREFUSED && err != -ETIMEDOUT &&
					 err != -EHOSTUNREACH && err != -EIO;
			pthread_mutex_lock(&ul->lock);
			ul->stats.server_reachable = reachable;
			pthread_mutex_unlock(&ul->lock);
			/* Once per change, not per retry. */
			if (!reachable && reachable_logged != 0)
				log_warn("uplink: cannot reach the server at %s (%s): tasks and "
					 "profiles wait in the spool, retrying",
					 ul->server_url, strerror(-err));
			else if (reachable && reachable_logged == 0)
				log_info("uplink: server at %s reachable again", ul->server_url);
			reachable_logged = reachable;
			if (err) {
				backoff = next_backoff(ul, backoff);
				retry_at = mono_ms() + backoff;
			} else {
				backoff = 0;
				retry_at = 0;
			}
		}
		if (stopping)
			break;
		pthread_mutex_lock(&ul->lock);
		int64_t deadline = next_metrics < next_register ? next_metrics : next_register;
		if (retry_at > deadline)
			deadline = retry_at;
		/* New work waits for the end of a backoff: a server that is
		 * away must not make this loop spin. */
		bool work_now = (ul->spool_kick || ul->processes_dirty) && retry_at <= mono_ms();
		if (!work_now && !ul->stopping)
			sender_wait(ul, deadline);
		ul->spool_kick = false;
		pthread_mutex_unlock(&ul->lock);
	}
	uplink_http_free(h);
	return NULL;
}

static void *syncer_main(void *arg)
{
	struct uplink *ul = arg;
	struct uplink_http *h =
	    uplink_http_new(ul->server_url, ul->token, &ul->tls, &ul->sync_restart);
	uint32_t backoff = 0;

	if (!h) {
		log_error("uplink: cannot create an HTTP client");
		return NULL;
	}
	while (!ul->stopping) {
		json_t *body;
		char *text, *resp = NULL;
		int r;

		pthread_mutex_lock(&ul->lock);
		ul->sync_restart = false;
		body = json_pack("{s:s, s:O, s:i}", "agent_id", ul->agent_id, "services",
				 ul->services, "wait_ms", (int)ul->opts.sync_wait_ms);
		pthread_mutex_unlock(&ul->lock);
		text = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		if (!text)
			break;
		r = exchange(ul, h, "POST", "/api/v1/agent/sync", text,
			     ul->opts.sync_wait_ms + UPLINK_REQUEST_TIMEOUT_MS, NULL, &resp);
		free(text);
		if (r == -ECANCELED)
			continue; /* services changed or stopping */
		if (r != 0) {
			struct timespec ts;

			backoff = next_backoff(ul, backoff);
			/* Sleep in short steps so a stop or a restart is seen. */
			for (uint32_t slept = 0;
			     slept < backoff && !ul->stopping && !ul->sync_restart; slept += 100) {
				ts = (struct timespec){.tv_sec = 0, .tv_nsec = 100000000};
				nanosleep(&ts, NULL);
			}
			continue;
		}
		backoff = 0;
		json_t *answer = json_loads(resp, 0, NULL);

		free(resp);
		if (!answer)
			continue;
		if (json_array_size(json_object_get(answer, "policies")) ||
		    json_array_size(json_object_get(answer, "tasks"))) {
			uint64_t one = 1;

			pthread_mutex_lock(&ul->lock);
			json_array_append(ul->sync_results, answer);
			pthread_mutex_unlock(&ul->lock);
			(void)!write(ul->wake_fd, &one, sizeof(one));
			/* Wait for the loop to apply and name new versions, or
			 * the same answer would come back at once. */
			for (int i = 0; i < 50 && !ul->stopping && !ul->sync_restart; i++) {
				struct timespec ts = {.tv_sec = 0, .tv_nsec = 20000000};

				nanosleep(&ts, NULL);
			}
		}
		json_decref(answer);
	}
	uplink_http_free(h);
	return NULL;
}

int uplink_open(const struct uplink_options *opts, struct uplink **ret)
{
	struct uplink *ul = calloc(1, sizeof(*ul));
	int err;

	if (!ul)
		return -ENOMEM;
	ul->opts = *opts;
	ul->wake_fd = -1;
	pthread_mutex_init(&ul->lock, NULL);
	{
		pthread_condattr_t attr;

		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&ul->sender_cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	ul->server_url = strdup(opts->server_url);
	ul->token = opts->token ? strdup(opts->token) : NULL;

	ul->agent_id = strdup(opts->agent_id);
	ul->host = strdup(opts->host);
	ul->spool_dir = strdup(opts->spool_dir);
	ul->services = json_object();
	ul->sync_results = json_array();
	ul->metrics = metricbuf_new(opts->metrics_max_points);
	ul->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!ul->server_url || !ul->agent_id || !ul->host || !ul->spool_dir || !ul->services ||
	    !ul->sync_results || !ul->metrics || (opts->token && !ul->token) ||
	    uplink_http_tls_copy(&opts->tls, &ul->tls) < 0) {
		err = -ENOMEM;
		goto fail;
	}
	if (ul->wake_fd < 0) {
		err = -errno;
		goto fail;
	}
	err = spool_open(opts->spool_dir, opts->spool_max_bytes, &ul->spool);
	if (err)
		goto fail;
	ul->processes_dirty = true;
	if (pthread_create(&ul->sender, NULL, sender_main, ul) != 0) {
		err = -EAGAIN;
		goto fail;
	}
	ul->sender_started = true;
	if (pthread_create(&ul->syncer, NULL, syncer_main, ul) != 0) {
		err = -EAGAIN;
		goto fail;
	}
	ul->syncer_started = true;
	*ret = ul;
	return 0;
fail:
	uplink_close(ul, 0);
	return err;
}

struct uplink *uplink_close(struct uplink *ul, uint32_t flush_ms)
{
	if (!ul)
		return NULL;
	pthread_mutex_lock(&ul->lock);
	ul->stop_deadline_ms = mono_ms() + flush_ms;
	ul->stopping = true;
	ul->sync_restart = true;
	pthread_cond_broadcast(&ul->sender_cond);
	pthread_mutex_unlock(&ul->lock);
	if (ul->sender_started) {
		/* The sender makes one last pass (register, spool, metrics),
		 * its requests bounded by the deadline; past it, cut short. */
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until); /* a wall clock step changes nothing */
		until.tv_sec += flush_ms / 1000;
		until.tv_nsec += (long)(flush_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		if (pthread_clockjoin_np(ul->sender, NULL, CLOCK_MONOTONIC, &until) != 0) {
			ul->sender_abort = true;
			pthread_join(ul->sender, NULL);
		}
	}
	if (ul->syncer_started)
		pthread_join(ul->syncer, NULL);
	if (ul->spool && spool_records(ul->spool))
		log_info("uplink: %llu messages (%llu bytes) stay in the spool for the next start",
			 (unsigned long long)spool_records(ul->spool),
			 (unsigned long long)spool_bytes(ul->spool));
	if (ul->metrics && metricbuf_count(ul->metrics))
		log_info("uplink: %zu metric points not delivered", metricbuf_count(ul->metrics));
	spool_close(ul->spool);
	if (ul->wake_fd >= 0)
		close(ul->wake_fd);
	json_decref(ul->processes);
	json_decref(ul->processes_sent);
	free(ul->register_text);
	json_decref(ul->services);
	json_decref(ul->sync_results);
	ul->metrics = metricbuf_free(ul->metrics);
	free(ul->server_url);
	free(ul->token);
	uplink_http_tls_clear(&ul->tls);
	free(ul->agent_id);
	free(ul->host);
	free(ul->spool_dir);
	pthread_cond_destroy(&ul->sender_cond);
	pthread_mutex_destroy(&ul->lock);
	free(ul);
	return NULL;
}

/* Appends a message to the spool and wakes the sender. Takes `body`. */
static int enqueue(struct uplink *ul, const char *method, const char *path, json_t *body)
{
	json_t *msg = json_pack("{s:s, s:s, s:o}", "method", method, "path", path, "body", body);
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	int err;

	json_decref(msg);
	if (!text)
		return -ENOMEM;
	pthread_mutex_lock(&ul->lock);
	err = spool_append(ul->spool, text, strlen(text));
	if (err == -ENOBUFS)
		ul->stats.spool_full_dropped++;
	else if (err)
		ul->stats.spool_write_errors++;
	ul->spool_kick = true;
	pthread_cond_signal(&ul->sender_cond);
	pthread_mutex_unlock(&ul->lock);
	free(text);
	/* Once when writes start failing (a full disk), once when they work
	 * again: the counter says how many were lost in between. */
	if (err && err != -ENOBUFS && !ul->spool_failing) {
		ul->spool_failing = true;
		ul->spool_errors_at_failure = ul->stats.spool_write_errors - 1;
		log_error("uplink: cannot write to the spool in %s (%s): task reports and "
			  "profiles are dropped until it can (counted in "
			  "contprof_agent_spool_write_errors_total); first lost: %s %s",
			  ul->spool_dir, strerror(-err), method, path);
	} else if (!err && ul->spool_failing) {
		ul->spool_failing = false;
		log_info("uplink: the spool is writable again; %llu messages were lost",
			 (unsigned long long)(ul->stats.spool_write_errors -
					      ul->spool_errors_at_failure));
	}
	return err;
}

static json_t *cause_json(const struct task_info *t)
{
	const struct engine_cause *c = &t->decision.cause;

	if (t->manual)
		return json_pack("{s:s}", "message", c->message[0] ? c->message : "manual");
	json_t *cause = json_pack("{s:s, s:f, s:i, s:i, s:i, s:f, s:f, s:s?, s:s}", "monitor",
				  policy_monitor_name(c->monitor), "threshold", c->threshold,
				  "period", (int)c->period_s, "count", (int)c->count, "matched",
				  (int)c->matched, "current", c->current, "peak", c->peak, "uri",
				  c->uri[0] ? c->uri : NULL, "message", c->message);

	if (cause && c->held_wall_ms > 0)
		json_object_set_new(cause, "held_at", json_integer((json_int_t)c->held_wall_ms));
	return cause;
}

int uplink_register_spooled(struct uplink *ul, json_t *processes)
{
	json_t *body = json_pack("{s:s, s:s, s:o}", "agent_id", ul->agent_id, "host", ul->host,
				 "processes", processes);

	return body ? enqueue(ul, "POST", "/api/v1/agent/register", body) : -ENOMEM;
}

int uplink_task_started(struct uplink *ul, const struct task_info *t)
{
	const struct engine_decision *d = &t->decision;
	json_t *body = json_pack(
	    "{s:s, s:s, s:s, s:s, s:I, s:i, s:o}", "id", t->id, "agent_id", ul->agent_id, "target",
	    policy_target_name(d->target), "trigger", t->manual ? "MANUAL" : "POLICY", "start_time",
	    (json_int_t)t->start_wall_ms, "duration", (int)d->duration_s, "cause", cause_json(t));
	char path[256];

	if (!body)
		return -ENOMEM;
	if (d->target == POLICY_TARGET_NETWORK && !t->manual) {
		json_object_set_new(body, "service", json_string(d->service));
		json_object_set_new(body, "instance", json_string(d->instance));
	} else {
		json_object_set_new(body, "process_id", json_string(d->process_id));
	}
	snprintf(path, sizeof(path), "/api/v1/agent/tasks");
	return enqueue(ul, "POST", path, body);
}

int uplink_task_ended(struct uplink *ul, const struct task_info *t)
{
	char path[256];
	json_t *body;

	if (t->status == TASK_FAILED) {
		snprintf(path, sizeof(path), "/api/v1/agent/tasks/%s/fail", t->id);
		body = json_pack("{s:I, s:s}", "end_time", (json_int_t)t->end_wall_ms, "reason",
				 t->reason[0] ? t->reason : "failed");
	} else {
		snprintf(path, sizeof(path), "/api/v1/agent/tasks/%s/finish", t->id);
		body = json_pack("{s:I}", "end_time", (json_int_t)t->end_wall_ms);
		if (body && t->reason[0])
			json_object_set_new(body, "note", json_string(t->reason));
	}
	return body ? enqueue(ul, "POST", path, body) : -ENOMEM;
}

int uplink_slice(struct uplink *ul, const char *task_id, uint32_t slice_no, int64_t start_ms,
		 int64_t end_ms, const struct profile_stack *stacks, size_t n_stacks,
		 const struct profile_slice_stats *stats)
{
	json_t *list = json_array();
	uint64_t samples = 0;
	json_t *body;
	char path[256];
	int r;

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < n_stacks; i++) {
		samples += stacks[i].count;
		json_t *s = json_pack("{s:s, s:I}", "stack", stacks[i].folded, "count",
				      (json_int_t)stacks[i].count);

		if (s && stacks[i].duration_ns)
			json_object_set_new(s, "duration_ns",
					    json_integer((json_int_t)stacks[i].duration_ns));
		if (!s || json_array_append_new(list, s)) {
			json_decref(list);
			return -ENOMEM;
		}
	}
	body = json_pack("{s:i, s:I, s:I, s:o}", "slice", (int)slice_no, "start_time",
			 (json_int_t)start_ms, "end_time", (json_int_t)end_ms, "stacks", list);
	if (body && stats &&
	    json_object_set_new(body, "stack_stats",
				json_pack("{s:I, s:I, s:I}", "samples", (json_int_t)stats->samples,
					  "truncated", (json_int_t)stats->truncated, "lost",
					  (json_int_t)stats->lost)) != 0) {
		json_decref(body);
		return -ENOMEM;
	}
	if (!body)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/api/v1/agent/tasks/%s/slices", task_id);
	r = enqueue(ul, "POST", path, body);
	if (r == 0) {
		pthread_mutex_lock(&ul->lock);
		ul->stats.profile_samples_spooled += samples;
		pthread_mutex_unlock(&ul->lock);
	}
	return r;
}

int uplink_topology(struct uplink *ul, const char *task_id, const json_t *topology)
{
	char path[256];

	snprintf(path, sizeof(path), "/api/v1/agent/tasks/%s/topology", task_id);
	return enqueue(ul, "PUT", path, json_deep_copy(topology));
}

void uplink_metric(struct uplink *ul, const char *process_id, const char *monitor, const char *uri,
		   int64_t time_ms, double value)
{
	size_t dropped;
	int r;

	pthread_mutex_lock(&ul->lock);
	r = metricbuf_add(ul->metrics, process_id, monitor, uri, time_ms, value, &dropped);
	ul->stats.metrics_dropped += dropped + (r < 0);
	pthread_mutex_unlock(&ul->lock);
}

void uplink_set_processes(struct uplink *ul, json_t *processes)
{
	pthread_mutex_lock(&ul->lock);
	if (ul->processes_sent && json_equal(processes, ul->processes_sent) && !ul->processes) {
		json_decref(processes);
	} else {
		json_decref(ul->processes);
		ul->processes = processes;
		ul->processes_dirty = true;
		pthread_cond_signal(&ul->sender_cond);
	}
	pthread_mutex_unlock(&ul->lock);
}

void uplink_set_services(struct uplink *ul, json_t *services)
{
	pthread_mutex_lock(&ul->lock);
	if (json_equal(services, ul->services)) {
		json_decref(services);
	} else {
		json_decref(ul->services);
		ul->services = services;
		ul->sync_restart = true;
	}
	pthread_mutex_unlock(&ul->lock);
}

int uplink_fd(const struct uplink *ul)
{
	return ul->wake_fd;
}

void uplink_drain(struct uplink *ul, const struct uplink_handlers *h)
{
	json_t *results;
	uint64_t v;
	size_t i, j;
	json_t *answer, *item;

	(void)!read(ul->wake_fd, &v, sizeof(v));
	pthread_mutex_lock(&ul->lock);
	results = ul->sync_results;
	ul->sync_results = json_array();
	pthread_mutex_unlock(&ul->lock);
	json_array_foreach(results, i, answer)
	{
		json_array_foreach(json_object_get(answer, "policies"), j, item)
		{
			const char *service = json_string_value(json_object_get(item, "service"));
			const char *version = json_string_value(json_object_get(item, "version"));

			if (service && h->policy)
				h->policy(h->ctx, service, version,
					  version ? json_object_get(item, "policy") : NULL);
		}
		json_array_foreach(json_object_get(answer, "tasks"), j, item)
		{
			if (h->manual_task)
				h->manual_task(h->ctx, item);
		}
	}
	json_decref(results);
}

void uplink_get_stats(struct uplink *ul, struct uplink_stats *ret)
{
	pthread_mutex_lock(&ul->lock);
	*ret = ul->stats;
	ret->spool_records = spool_records(ul->spool);
	ret->spool_bytes = spool_bytes(ul->spool);
	ret->metrics_buffered = metricbuf_count(ul->metrics);
	pthread_mutex_unlock(&ul->lock);
}
