/* routes_agent: the agent API under /api/v1/agent/ (docs/agent-api.md).
 *
 * Owns: validating what agents upload (every reason at once, bounded sizes)
 * and handing checked values to the store; the policy sync long poll. Every
 * route here needs the token when one is configured. Does not own: storage
 * (store.h), the HTTP plumbing (http.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/policy.h"
#include "server/context.h"
#include "server/jsonin.h"

#define TIME_MAX_MS	   4102444800000LL /* 2100-01-01 */
#define MAX_REPLY_ERRORS   20
#define AGENT_COUNT_MAX	   (1LL << 53)
#define AGENT_DURATION_MAX ((int64_t)SERVER_TASK_DURATION_MAX_S)

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct server_ctx *ctx_of(struct http_request *req)
{
	return req->ctx;
}

/* Replies 400 with the collected errors when there are any; true if so. */
static bool refuse_if_errors(struct http_response *resp, json_t *errors)
{
	if (json_array_size(errors) == 0)
		return false;
	while (json_array_size(errors) > MAX_REPLY_ERRORS)
		json_array_remove(errors, MAX_REPLY_ERRORS);
	http_reply_errors(resp, 400, json_incref(errors));
	return true;
}

/* POST /api/v1/agent/register — keepalive with the host's processes. */
static void agent_register(struct http_request *req, struct http_response *resp)
{
	json_t *errors = json_array(), *doc, *procs = NULL, *labels;
	const char *agent_id = NULL, *host = NULL;
	struct store_process *list = NULL;
	size_t n = 0;
	int r;

	doc = jsonin_parse_object(req->body, req->body_len, errors);
	if (doc) {
		jsonin_id(errors, doc, "", "agent_id", true, &agent_id);
		jsonin_string(errors, doc, "", "host", true, JSONIN_NAME_MAX_LEN, &host);
		jsonin_array(errors, doc, "", "processes", true, SERVER_MAX_PROCESSES, &procs);
	}
	n = json_array_size(procs);
	list = calloc(n ? n : 1, sizeof(*list));
	if (!list) {
		http_reply_error(resp, 503, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && json_array_size(errors) <= MAX_REPLY_ERRORS; i++) {
		json_t *p = json_array_get(procs, i), *value;
		struct store_process *sp = &list[i];
		const char *key;
		char where[48];

		snprintf(where, sizeof(where), "processes[%zu]", i);
		if (!json_is_object(p)) {
			jsonin_error(errors, "%s: must be an object", where);
			continue;
		}
		jsonin_id(errors, p, where, "id", true, &sp->id);
		jsonin_string(errors, p, where, "service", true, POLICY_SERVICE_MAX_LEN,
			      &sp->service);
		jsonin_string(errors, p, where, "instance", true, JSONIN_NAME_MAX_LEN,
			      &sp->instance);
		jsonin_string(errors, p, where, "name", true, JSONIN_NAME_MAX_LEN, &sp->name);
		jsonin_int(errors, p, where, "pid", true, 0, INT32_MAX, &sp->pid);
		labels = NULL;
		if (jsonin_object(errors, p, where, "labels", false, &labels)) {
			if (json_object_size(labels) > SERVER_MAX_LABELS)
				jsonin_error(errors, "%s.labels: more than %d labels", where,
					     SERVER_MAX_LABELS);
			json_object_foreach(labels, key, value)
			{
				if (!json_is_string(value) ||
				    json_string_length(value) > SERVER_MAX_LABEL_LEN ||
				    strlen(key) > JSONIN_NAME_MAX_LEN)
					jsonin_error(errors,
						     "%s.labels.%.64s: must be a string of at most "
						     "%d bytes",
						     where, key, SERVER_MAX_LABEL_LEN);
			}
		}
		sp->labels = labels;
		if (sp->service && !*sp->service)
			jsonin_error(errors, "%s.service: must not be empty", where);
	}
	if (refuse_if_errors(resp, errors))
		goto out;
	r = store_upsert_processes(ctx_of(req)->store, agent_id, host, list, n, req->now_ms);
	if (r < 0) {
		http_reply_store_error(resp, r, "agent", agent_id);
		goto out;
	}
	prom_add(ctx_of(req)->prom, PROM_AGENT_REGISTRATIONS, 1);
	http_reply_json(resp, 200,
			json_pack("{s:s, s:I, s:I}", "agent_id", agent_id, "server_time",
				  (json_int_t)req->now_ms, "processes", (json_int_t)n));
out:
	free(list);
	json_decref(doc);
	json_decref(errors);
}

/* Appends to `changes` every service whose stored version differs from the
 * agent's. 0 or a store error. */
static int policy_changes(struct store *st, json_t *services, json_t *changes)
{
	const char *service;
	json_t *known;

	json_object_foreach(services, service, known)
	{
		const char *have = json_is_string(known) ? json_string_value(known) : "";
		char version[65] = "", *doc = NULL;
		int r = store_get_policy(st, service, &doc, version);

		if (r == -ENOENT) {
			if (*have)
				json_array_append_new(changes,
						      json_pack("{s:s, s:n, s:n}", "service",
								service, "version", "policy"));
			continue;
		}
		if (r < 0)
			return r;
		if (strcmp(have, version) != 0) {
			json_t *policy = json_loads(doc, 0, NULL);

			json_array_append_new(changes,
					      json_pack("{s:s, s:s, s:o*}", "service", service,
							"version", version, "policy", policy));
		}
		free(doc);
	}
	return 0;
}

/* POST /api/v1/agent/sync — policies by version hash and manual tasks;
 * long-polls up to wait_ms when nothing is new. */
static void agent_sync(struct http_request *req, struct http_response *resp)
{
	struct server_ctx *ctx = ctx_of(req);
	json_t *errors = json_array(), *doc, *services = NULL, *value;
	json_t *changes = NULL, *tasks = NULL;
	const char *agent_id = NULL, *key;
	int64_t wait_ms = SERVER_SYNC_WAIT_DEFAULT_MS, deadline_ms;
	bool last_look = false;
	int r = 0;

	doc = jsonin_parse_object(req->body, req->body_len, errors);
	if (doc) {
		jsonin_id(errors, doc, "", "agent_id", true, &agent_id);
		jsonin_object(errors, doc, "", "services", true, &services);
		jsonin_int(errors, doc, "", "wait_ms", false, 0, SERVER_SYNC_WAIT_MAX_MS, &wait_ms);
	}
	if (services && json_object_size(services) > SERVER_MAX_SYNC_SERVICES)
		jsonin_error(errors, "services: more than %d services", SERVER_MAX_SYNC_SERVICES);
	if (services) {
		json_object_foreach(services, key, value)
		{
			if (!(json_is_string(value) || json_is_null(value)) ||
			    json_string_length(value) > POLICY_VERSION_HEX_LEN)
				jsonin_error(errors,
					     "services.%.64s: must be the version string the agent "
					     "holds, or \"\"/null for none",
					     key);
			if (strlen(key) == 0 || strlen(key) > POLICY_SERVICE_MAX_LEN)
				jsonin_error(errors, "services: bad service name '%.64s'", key);
		}
	}
	if (refuse_if_errors(resp, errors))
		goto out;
	deadline_ms = mono_ms() + wait_ms;
	for (;;) {
		uint64_t gen = sync_generation(&ctx->sync);
		int64_t left;

		json_decref(changes);
		json_decref(tasks);
		changes = json_array();
		tasks = NULL;
		if (!changes) {
			r = -ENOMEM;
			break;
		}
		r = policy_changes(ctx->store, services, changes);
		if (r == 0)
			r = store_pending_tasks(ctx->store, agent_id, &tasks);
		if (r < 0 || json_array_size(changes) || json_array_size(tasks) || last_look)
			break;
		left = deadline_ms - mono_ms();
		/* Nothing new: sleep until a policy or manual task changes (then
		 * look again) or the wait is over (then one last look). */
		if (left <= 0 || !sync_wait(&ctx->sync, gen, left))
			last_look = true;
	}
	if (r < 0) {
		http_reply_store_error(resp, r, "agent", agent_id);
		goto out;
	}
	prom_add(ctx->prom, PROM_SYNC_REPLIES, 1);
	http_reply_json(resp, 200,
			json_pack("{s:I, s:O, s:O}", "server_time", (json_int_t)wall_ms(),
				  "policies", changes, "tasks", tasks));
out:
	json_decref(changes);
	json_decref(tasks);
	json_decref(doc);
	json_decref(errors);
}

/* Reads one series of a metrics upload into the batch arrays. */
static void read_series(json_t *errors, json_t *s, size_t idx, struct store_metric_series *ser,
			struct store_metric_point *points, size_t *n_points, size_t max_points)
{
	json_t *pts = NULL;
	const char *monitor = NULL;
	char where[48];

	snprintf(where, sizeof(where), "series[%zu]", idx);
	if (!json_is_object(s)) {
		jsonin_error(errors, "%s: must be an object", where);
		return;
	}
	jsonin_id(errors, s, where, "process_id", true, &ser->process_id);
	if (jsonin_string(errors, s, where, "monitor", true, 64, &monitor)) {
		if (policy_monitor_from_name(monitor) < 0)
			jsonin_error(errors, "%s.monitor: unknown monitor '%s'", where, monitor);
		ser->monitor = monitor;
	}
	ser->uri = "";
	jsonin_string(errors, s, where, "uri", false, POLICY_URI_MAX_LEN, &ser->uri);
	if (!jsonin_array(errors, s, where, "points", true, max_points, &pts))
		return;
	for (size_t i = 0; i < json_array_size(pts); i++) {
		json_t *p = json_array_get(pts, i), *t = json_array_get(p, 0), *v;

		v = json_array_get(p, 1);
		if (*n_points >= max_points) {
			jsonin_error(errors, "more than %zu points in one upload", max_points);
			return;
		}
		if (!json_is_array(p) || json_array_size(p) != 2 || !json_is_integer(t) ||
		    !json_is_number(v) || json_integer_value(t) < 0 ||
		    json_integer_value(t) > TIME_MAX_MS) {
			jsonin_error(errors, "%s.points[%zu]: must be [time_ms, value]", where, i);
			if (json_array_size(errors) > MAX_REPLY_ERRORS)
				return;
			continue;
		}
		points[*n_points].series = (uint32_t)idx;
		points[*n_points].time_ms = json_integer_value(t);
		points[*n_points].value = json_number_value(v);
		(*n_points)++;
	}
}

/* POST /api/v1/agent/metrics — per-second values per process and monitor. */
static void agent_metrics(struct http_request *req, struct http_response *resp)
{
	struct server_ctx *ctx = ctx_of(req);
	json_t *errors = json_array(), *doc, *series = NULL;
	struct store_metric_series *ser = NULL;
	struct store_metric_point *points = NULL;
	size_t n_series, total = 0, n_points = 0;
	const char *unknown = NULL;
	uint64_t inserted = 0;
	int r;

	doc = jsonin_parse_object(req->body, req->body_len, errors);
	if (doc)
		jsonin_array(errors, doc, "", "series", true, SERVER_MAX_SERIES, &series);
	n_series = json_array_size(series);
	for (size_t i = 0; i < n_series; i++)
		total += json_array_size(json_object_get(json_array_get(series, i), "points"));
	if (total > SERVER_MAX_POINTS) {
		jsonin_error(errors, "more than %d points in one upload", SERVER_MAX_POINTS);
		total = 0;
		n_series = 0;
	}
	ser = calloc(n_series ? n_series : 1, sizeof(*ser));
	points = calloc(total ? total : 1, sizeof(*points));
	if (!ser || !points) {
		http_reply_error(resp, 503, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_series && json_array_size(errors) <= MAX_REPLY_ERRORS; i++)
		read_series(errors, json_array_get(series, i), i, &ser[i], points, &n_points,
			    total);
	if (refuse_if_errors(resp, errors))
		goto out;
	r = store_add_metrics(ctx->store, ser, n_series, points, n_points, req->now_ms, &inserted,
			      &unknown);
	if (r == -ENOENT) {
		http_reply_error(resp, 404, "unknown process '%s': register it first", unknown);
		goto out;
	}
	if (r < 0) {
		http_reply_store_error(resp, r, "metrics", "");
		goto out;
	}
	prom_add(ctx->prom, PROM_METRIC_POINTS, inserted);
	prom_add(ctx->prom, PROM_METRIC_POINTS_DUPLICATE, n_points - inserted);
	http_reply_json(resp, 200,
			json_pack("{s:I, s:I}", "inserted", (json_int_t)inserted, "duplicates",
				  (json_int_t)(n_points - inserted)));
out:
	free(ser);
	free(points);
	json_decref(doc);
	json_decref(errors);
}

/* Copies the known fields of a task cause, checking their types. */
static json_t *read_cause(json_t *errors, json_t *cause)
{
	static const char *const ints[] = {"period", "count", "matched"};
	static const char *const nums[] = {"threshold", "current", "peak"};
	json_t *out = json_object();
	const char *s;
	double d;
	int64_t i;

	if (!out)
		return NULL;
	if (jsonin_string(errors, cause, "cause", "monitor", false, 64, &s)) {
		if (policy_monitor_from_name(s) < 0)
			jsonin_error(errors, "cause.monitor: unknown monitor '%s'", s);
		json_object_set_new(out, "monitor", json_string(s));
	}
	for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++)
		if (jsonin_number(errors, cause, "cause", nums[k], false, &d))
			json_object_set_new(out, nums[k], json_real(d));
	for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
		if (jsonin_int(errors, cause, "cause", ints[k], false, 0, POLICY_PERIOD_MAX_S, &i))
			json_object_set_new(out, ints[k], json_integer(i));
	if (jsonin_string(errors, cause, "cause", "uri", false, POLICY_URI_MAX_LEN, &s))
		json_object_set_new(out, "uri", json_string(s));
	if (jsonin_string(errors, cause, "cause", "message", false, SERVER_MAX_REASON_LEN, &s))
		json_object_set_new(out, "message", json_string(s));
	/* When the condition held (the agent's wall clock, ms). */
	if (jsonin_int(errors, cause, "cause", "held_at", false, 0, TIME_MAX_MS, &i))
		json_object_set_new(out, "held_at", json_integer(i));
	return out;
}

/* POST /api/v1/agent/tasks — a task the agent started (idempotent by id). */
static void agent_task_report(struct http_request *req, struct http_response *resp)
{
	json_t *errors = json_array(), *doc, *cause_in = NULL, *cause = NULL;
	struct store_task t = {0};
	const char *trigger = NULL;
	int64_t start = 0, duration = 0;
	int r;

	doc = jsonin_parse_object(req->body, req->body_len, errors);
	if (doc) {
		jsonin_id(errors, doc, "", "id", true, &t.id);
		jsonin_id(errors, doc, "", "agent_id", false, &t.agent_id);
		jsonin_id(errors, doc, "", "process_id", false, &t.process_id);
		jsonin_string(errors, doc, "", "service", false, POLICY_SERVICE_MAX_LEN,
			      &t.service);
		jsonin_string(errors, doc, "", "instance", false, JSONIN_NAME_MAX_LEN, &t.instance);
		if (jsonin_string(errors, doc, "", "target", true, 16, &t.target) &&
		    policy_target_from_name(t.target) < 0)
			jsonin_error(errors, "target: must be ON_CPU, OFF_CPU or NETWORK");
		if (jsonin_string(errors, doc, "", "trigger", true, 16, &trigger) &&
		    strcmp(trigger, "POLICY") != 0 && strcmp(trigger, "MANUAL") != 0)
			jsonin_error(errors, "trigger: must be POLICY or MANUAL");
		t.trigger = trigger;
		jsonin_int(errors, doc, "", "start_time", true, 0, TIME_MAX_MS, &start);
		jsonin_int(errors, doc, "", "duration", true, 1, AGENT_DURATION_MAX, &duration);
		if (jsonin_object(errors, doc, "", "cause", false, &cause_in))
			cause = read_cause(errors, cause_in);
		if (!t.process_id && (!t.service || !t.instance))
			jsonin_error(errors, "process_id, or service and instance, are required");
	}
	if (refuse_if_errors(resp, errors))
		goto out;
	t.cause = cause;
	t.start_ms = start;
	t.duration_s = (uint32_t)duration;
	r = store_add_task(ctx_of(req)->store, &t, req->now_ms);
	if (r == -EEXIST) {
		http_reply_error(resp, 409,
				 "task '%s' already exists for another process or target", t.id);
		goto out;
	}
	if (r == -ENOENT) {
		http_reply_error(resp, 404, "unknown process '%s': register it first",
				 t.process_id);
		goto out;
	}
	if (r < 0) {
		http_reply_store_error(resp, r, "task", t.id);
		goto out;
	}
	prom_add(ctx_of(req)->prom, PROM_TASK_REPORTS, 1);
	http_reply_json(resp, 201, json_pack("{s:s, s:s}", "id", t.id, "status", "RUNNING"));
out:
	json_decref(cause);
	json_decref(doc);
	json_decref(errors);
}

/* POST /api/v1/agent/tasks/{id}/finish and /fail. */
static void task_end(struct http_request *req, struct http_response *resp, bool failed)
{
	json_t *errors = json_array(), *doc = NULL;
	const char *reason = NULL, *id = req->params[0];
	int64_t end = req->now_ms;
	int r;

	if (req->body_len) {
		doc = jsonin_parse_object(req->body, req->body_len, errors);
		if (doc) {
			jsonin_int(errors, doc, "", "end_time", false, 0, TIME_MAX_MS, &end);
			jsonin_string(errors, doc, "", "reason", failed, SERVER_MAX_REASON_LEN,
				      &reason);
		}
	} else if (failed) {
		jsonin_error(errors, "reason: is required");
	}
	if (!jsonin_is_id(id))
		jsonin_error(errors, "task id: must be 1-%d characters of [A-Za-z0-9._:-]",
			     JSONIN_ID_MAX_LEN);
	if (refuse_if_errors(resp, errors))
		goto out;
	r = store_finish_task(ctx_of(req)->store, id, failed ? "FAILED" : "FINISHED", reason, end);
	if (r < 0) {
		http_reply_store_error(resp, r, "task", id);
		goto out;
	}
	prom_add(ctx_of(req)->prom, PROM_TASK_REPORTS, 1);
	{
		json_t *task = NULL;

		if (store_get_task(ctx_of(req)->store, id, &task) == 0)
			http_reply_json(resp, 200, task);
		else
			http_reply_json(resp, 200, json_pack("{s:s}", "id", id));
	}
out:
	json_decref(doc);
	json_decref(errors);
}

static void agent_task_finish(struct http_request *req, struct http_response *resp)
{
	task_end(req, resp, false);
}

static void agent_task_fail(struct http_request *req, struct http_response *resp)
{
	task_end(req, resp, true);
}

/* Checks one folded stack as the core reads it (core/flame.h): frames
 * non-empty, no line breaks, at most SERVER_MAX_FRAMES frames. */
static bool stack_ok(json_t *errors, const char *where, const char *text, size_t len)
{
	size_t frames = 1;

	if (len == 0) {
		jsonin_error(errors, "%s.stack: must not be empty", where);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (text[i] == ';') {
			frames++;
			if (i == 0 || i + 1 == len || text[i + 1] == ';') {
				jsonin_error(errors, "%s.stack: has an empty frame", where);
				return false;
			}
		} else if (text[i] == '\n' || text[i] == '\r' || text[i] == '\0') {
			jsonin_error(errors, "%s.stack: contains a line break or NUL", where);
			return false;
		}
	}
	if (frames > SERVER_MAX_FRAMES) {
		jsonin_error(errors, "%s.stack: more than %d frames", where, SERVER_MAX_FRAMES);
		return false;
	}
	return true;
}

/* A slice's stack_stats: {samples, truncated, lost}, integers >= 0, the
 * last two at most samples. False (with the reasons) when refused. */
static bool read_stack_stats(json_t *errors, const json_t *in, struct store_stack_stats *ret)
{
	int64_t samples = 0, truncated = 0, lost = 0;
	bool ok = true;

	ok &= jsonin_int(errors, in, "stack_stats", "samples", true, 0, AGENT_COUNT_MAX, &samples);
	ok &= jsonin_int(errors, in, "stack_stats", "truncated", true, 0, AGENT_COUNT_MAX,
			 &truncated);
	ok &= jsonin_int(errors, in, "stack_stats", "lost", true, 0, AGENT_COUNT_MAX, &lost);
	if (!ok)
		return false;
	if (truncated > samples) {
		jsonin_error(errors, "stack_stats.truncated: more than samples (%lld)",
			     (long long)samples);
		ok = false;
	}
	if (lost > samples) {
		jsonin_error(errors, "stack_stats.lost: more than samples (%lld)",
			     (long long)samples);
		ok = false;
	}
	*ret = (struct store_stack_stats){(uint64_t)samples, (uint64_t)truncated, (uint64_t)lost};
	return ok;
}

/* POST /api/v1/agent/tasks/{id}/slices — one slice of folded stacks. */
static void agent_slice(struct http_request *req, struct http_response *resp)
{
	json_t *errors = json_array(), *doc, *stacks = NULL;
	struct store_slice sl = {.task_id = req->params[0]};
	struct store_stack *list = NULL;
	struct store_stack_stats stats;
	json_t *stats_in = NULL;
	uint64_t samples = 0;
	bool duplicate = false;
	size_t n;
	int r;

	doc = jsonin_parse_object(req->body, req->body_len, errors);
	if (doc) {
		jsonin_int(errors, doc, "", "slice", true, 0, INT32_MAX, &sl.slice);
		jsonin_int(errors, doc, "", "start_time", true, 0, TIME_MAX_MS, &sl.start_ms);
		jsonin_int(errors, doc, "", "end_time", true, 0, TIME_MAX_MS, &sl.end_ms);
		jsonin_array(errors, doc, "", "stacks", true, SERVER_MAX_STACKS, &stacks);
		if (sl.end_ms < sl.start_ms)
			jsonin_error(errors, "end_time: before start_time");
		if (jsonin_object(errors, doc, "", "stack_stats", false, &stats_in) &&
		    read_stack_stats(errors, stats_in, &stats))
			sl.stats = &stats;
	}
	n = json_array_size(stacks);
	list = calloc(n ? n : 1, sizeof(*list));
	if (!list) {
		http_reply_error(resp, 503, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && json_array_size(errors) <= MAX_REPLY_ERRORS; i++) {
		json_t *s = json_array_get(stacks, i);
		const char *text = NULL;
		int64_t count = 0, dur = 0;
		char where[48];

		snprintf(where, sizeof(where), "stacks[%zu]", i);
		if (!json_is_object(s)) {
			jsonin_error(errors, "%s: must be an object", where);
			continue;
		}
		if (jsonin_string(errors, s, where, "stack", true, SERVER_MAX_STACK_BYTES, &text))
			stack_ok(errors, where, text, strlen(text));
		jsonin_int(errors, s, where, "count", true, 0, AGENT_COUNT_MAX, &count);
		jsonin_int(errors, s, where, "duration_ns", false, 0, INT64_MAX, &dur);
		list[i] = (struct store_stack){text, text ? strlen(text) : 0, (uint64_t)count,
					       (uint64_t)dur};
		samples += (uint64_t)count;
	}
	if (!jsonin_is_id(sl.task_id))
		jsonin_error(errors, "task id: must be 1-%d characters of [A-Za-z0-9._:-]",
			     JSONIN_ID_MAX_LEN);
	if (refuse_if_errors(resp, errors))
		goto out;
	sl.stacks = list;
	sl.n_stacks = n;
	r = store_add_profile_slice(ctx_of(req)->store, &sl, &duplicate);
	if (r < 0) {
		http_reply_store_error(resp, r, "task", sl.task_id);
		goto out;
	}
	if (duplicate) {
		prom_add(ctx_of(req)->prom, PROM_PROFILE_SLICES_DUPLICATE, 1);
		http_reply_json(resp, 200, json_pack("{s:b}", "duplicate", 1));
		goto out;
	}
	prom_add(ctx_of(req)->prom, PROM_PROFILE_SLICES, 1);
	prom_add(ctx_of(req)->prom, PROM_STACK_SAMPLES, samples);
	http_reply_json(resp, 201,
			json_pack("{s:b, s:I, s:I}", "duplicate", 0, "stacks", (json_int_t)n,
				  "samples", (json_int_t)samples));
out:
	free(list);
	json_decref(doc);
	json_decref(errors);
}

/* PUT /api/v1/agent/tasks/{id}/topology — the task's whole network view. */
static void agent_topology(struct http_request *req, struct http_response *resp)
{
	static const char *const parts[] = {"nodes", "edges", "samples"};
	json_t *errors = json_array(), *doc, *out = NULL, *arr;
	const char *id = req->params[0];
	int r;

	doc = jsonin_parse_object(req->body, req->body_len, errors);
	if (doc) {
		out = json_object();
		for (size_t k = 0; k < 3; k++) {
			arr = NULL;
			if (!jsonin_array(errors, doc, "", parts[k], k < 2,
					  SERVER_MAX_TOPOLOGY_ITEMS, &arr))
				arr = NULL;
			for (size_t i = 0; arr && i < json_array_size(arr); i++)
				if (!json_is_object(json_array_get(arr, i))) {
					jsonin_error(errors, "%s[%zu]: must be an object", parts[k],
						     i);
					break;
				}
			json_object_set_new(out, parts[k], arr ? json_incref(arr) : json_array());
		}
	}
	if (!jsonin_is_id(id))
		jsonin_error(errors, "task id: must be 1-%d characters of [A-Za-z0-9._:-]",
			     JSONIN_ID_MAX_LEN);
	if (refuse_if_errors(resp, errors))
		goto done;
	r = store_put_topology(ctx_of(req)->store, id, out, req->now_ms);
	if (r < 0) {
		http_reply_store_error(resp, r, "task", id);
		goto done;
	}
	prom_add(ctx_of(req)->prom, PROM_TOPOLOGY_UPLOADS, 1);
	http_reply_json(resp, 200,
			json_pack("{s:s, s:I, s:I}", "id", id, "nodes",
				  (json_int_t)json_array_size(json_object_get(out, "nodes")),
				  "edges",
				  (json_int_t)json_array_size(json_object_get(out, "edges"))));
done:
	json_decref(out);
	json_decref(doc);
	json_decref(errors);
}

const struct http_route routes_agent[] = {
    {"POST", "/api/v1/agent/register", agent_register, HTTP_ROUTE_AGENT, SERVER_AGENT_BODY_MAX},
    {"POST", "/api/v1/agent/sync", agent_sync, HTTP_ROUTE_AGENT, SERVER_QUERY_BODY_MAX * 4},
    {"POST", "/api/v1/agent/metrics", agent_metrics, HTTP_ROUTE_AGENT, SERVER_AGENT_BODY_MAX},
    {"POST", "/api/v1/agent/tasks", agent_task_report, HTTP_ROUTE_AGENT, SERVER_QUERY_BODY_MAX},
    {"POST", "/api/v1/agent/tasks/{}/finish", agent_task_finish, HTTP_ROUTE_AGENT,
     SERVER_QUERY_BODY_MAX},
    {"POST", "/api/v1/agent/tasks/{}/fail", agent_task_fail, HTTP_ROUTE_AGENT,
     SERVER_QUERY_BODY_MAX},
    {"POST", "/api/v1/agent/tasks/{}/slices", agent_slice, HTTP_ROUTE_AGENT, SERVER_AGENT_BODY_MAX},
    {"PUT", "/api/v1/agent/tasks/{}/topology", agent_topology, HTTP_ROUTE_AGENT,
     SERVER_AGENT_BODY_MAX},
};
const size_t routes_agent_count = sizeof(routes_agent) / sizeof(routes_agent[0]);
