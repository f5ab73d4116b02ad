/* routes_tasks: the query API's tasks — listing, one task, manual tasks
 * (POST /api/v1/tasks, delivered to the right agent through the policy
 * sync), flame graphs and topologies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"
#include "server/context.h"
#include "server/flamegraph.h"
#include "server/jsonin.h"

static struct server_ctx *ctx_of(struct http_request *req)
{
	return req->ctx;
}

static void tasks_list(struct http_request *req, struct http_response *resp)
{
	const char *service = http_query(req, "service"), *process = http_query(req, "process");
	struct store_page page;
	int64_t since;
	json_t *rows = NULL;
	int r;

	if (query_page(req, resp, SERVER_PAGE_DEFAULT, SERVER_PAGE_MAX, &page) < 0 ||
	    query_time_param(req, resp, "since", 0, &since) < 0)
		return;
	if ((service && strlen(service) > POLICY_SERVICE_MAX_LEN) ||
	    (process && !jsonin_is_id(process))) {
		http_reply_error(resp, 400, "service or process filter is malformed");
		return;
	}
	r = store_list_tasks(ctx_of(req)->store, service, process, since, &page, &rows);
	if (r < 0) {
		http_reply_store_error(resp, r, "tasks", "");
		return;
	}
	reply_page(resp, rows, &page);
}

static void task_get(struct http_request *req, struct http_response *resp)
{
	json_t *task = NULL;
	int r = store_get_task(ctx_of(req)->store, req->params[0], &task);

	if (r < 0)
		http_reply_store_error(resp, r, "task", req->params[0]);
	else
		http_reply_json(resp, 200, task);
}

static void task_create(struct http_request *req, struct http_response *resp)
{
	static const char *const fields[] = {"process_id", "target", "duration", NULL};
	struct server_ctx *ctx = ctx_of(req);
	json_t *errors = json_array(), *doc, *task = NULL;
	const char *process_id = NULL, *target = NULL;
	int64_t duration = SERVER_MANUAL_DURATION_DEF_S;
	char *id = NULL;
	int r;

	doc = jsonin_parse_object(req->body, req->body_len, errors);
	if (doc) {
		jsonin_id(errors, doc, "", "process_id", true, &process_id);
		if (jsonin_string(errors, doc, "", "target", true, 16, &target) &&
		    policy_target_from_name(target) < 0)
			jsonin_error(errors, "target: must be ON_CPU, OFF_CPU or NETWORK");
		jsonin_int(errors, doc, "", "duration", false, 1, SERVER_TASK_DURATION_MAX_S,
			   &duration);
		jsonin_known_fields(errors, doc, "", fields);
	}
	if (json_array_size(errors)) {
		http_reply_errors(resp, 400, json_incref(errors));
		goto out;
	}
	r = store_create_manual_task(ctx->store, process_id, target, (uint32_t)duration,
				     req->now_ms, &id);
	if (r == 0)
		r = store_get_task(ctx->store, id, &task);
	if (r < 0) {
		http_reply_store_error(resp, r, "process", process_id);
		goto out;
	}
	sync_notify(&ctx->sync);
	http_reply_json(resp, 201, task);
out:
	free(id);
	json_decref(doc);
	json_decref(errors);
}

static void flame(struct http_request *req, struct http_response *resp)
{
	const char *format = http_query(req, "format"), *aggregate = http_query(req, "aggregate");
	struct flamegraph_output out = {0};
	enum flamegraph_format fmt = FLAMEGRAPH_JSON;
	json_t *task = NULL;
	bool by_duration = false;
	int64_t from, to;
	int r;

	if (format && strcmp(format, "json") == 0)
		fmt = FLAMEGRAPH_JSON;
	else if (format && strcmp(format, "folded") == 0)
		fmt = FLAMEGRAPH_FOLDED;
	else if (format && strcmp(format, "pprof") == 0)
		fmt = FLAMEGRAPH_PPROF;
	else if (format) {
		http_reply_error(resp, 400, "format: must be json, folded or pprof, not '%.32s'",
				 format);
		return;
	}
	if (aggregate && strcmp(aggregate, "duration") == 0)
		by_duration = true;
	else if (aggregate && strcmp(aggregate, "count") != 0) {
		http_reply_error(resp, 400, "aggregate: must be count or duration, not '%.32s'",
				 aggregate);
		return;
	}
	if (query_time_param(req, resp, "from", 0, &from) < 0 ||
	    query_time_param(req, resp, "to", INT64_MAX, &to) < 0)
		return;
	if (from > to) {
		http_reply_error(resp, 400, "from (%lld) is after to (%lld)", (long long)from,
				 (long long)to);
		return;
	}
	r = store_get_task(ctx_of(req)->store, req->params[0], &task);
	if (r == 0) {
		struct flamegraph_task ft = {
		    .id = req->params[0],
		    .target = json_string_value(json_object_get(task, "target")),
		    .start_ms = json_integer_value(json_object_get(task, "start_time")),
		    .duration_s = (uint32_t)json_integer_value(json_object_get(task, "duration")),
		};

		r = flamegraph_render(ctx_of(req)->store, &ft, from, to, by_duration, fmt, &out);
	}
	json_decref(task);
	if (r == -ENOSYS) {
		http_reply_error(resp, 501, "this build cannot encode pprof yet");
		return;
	}
	if (r == -E2BIG || r == -EOVERFLOW) {
		http_reply_error(resp, 422, "flame graph too large: narrow from/to");
		return;
	}
	if (r < 0) {
		http_reply_store_error(resp, r, "task", req->params[0]);
		return;
	}
	http_reply_body(resp, 200, out.content_type, out.body, out.len);
	resp->content_encoding = out.content_encoding;
}

static void topology(struct http_request *req, struct http_response *resp)
{
	json_t *doc = NULL;
	int r = store_get_topology(ctx_of(req)->store, req->params[0], &doc);

	if (r < 0)
		http_reply_store_error(resp, r, "task", req->params[0]);
	else
		http_reply_json(resp, 200, doc);
}

const struct http_route routes_tasks[] = {
    {"GET", "/api/v1/tasks", tasks_list, 0, 0},
    {"POST", "/api/v1/tasks", task_create, HTTP_ROUTE_WRITE, SERVER_QUERY_BODY_MAX},
    {"GET", "/api/v1/tasks/{}", task_get, 0, 0},
    {"GET", "/api/v1/tasks/{}/flamegraph", flame, 0, 0},
    {"GET", "/api/v1/tasks/{}/topology", topology, 0, 0},
};
const size_t routes_tasks_count = sizeof(routes_tasks) / sizeof(routes_tasks[0]);
