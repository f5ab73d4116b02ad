/* routes_query: the query API of DESIGN.md section 7 for services,
 * policies, processes, metric history and the monitoring summary, plus
 * /healthz and /metrics; and the query-string helpers every query route
 * shares (times, paging).
 *
 * Policies are validated by the core (core/policy.h) — the same code the
 * agent evaluates with — and stored in canonical form with their version;
 * every change wakes the agents' policy sync. Writes need the token when
 * one is configured. Tasks, flame graphs and topology: routes_tasks.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"
#include "server/context.h"
#include "server/jsonin.h"
#include "util/parse.h"

int query_time_param(const struct http_request *req, struct http_response *resp, const char *key,
		     int64_t def_ms, int64_t *ret_ms)
{
	const char *v = http_query(req, key);
	int64_t ms;
	size_t n;

	if (!v) {
		*ret_ms = def_ms;
		return 0;
	}
	n = strlen(v);
	if (n > 0 && strchr("smhd", v[n - 1]) && parse_duration_ms(v, &ms) == 0) {
		*ret_ms = req->now_ms - ms; /* "48h": that long before now */
		return 0;
	}
	if (parse_i64(v, &ms) == 0 && ms >= 0) {
		*ret_ms = ms;
		return 0;
	}
	http_reply_error(resp, 400,
			 "%s: expected Unix milliseconds or a duration before now like 48h, "
			 "not '%.64s'",
			 key, v);
	return -EINVAL;
}

int query_page(const struct http_request *req, struct http_response *resp, uint32_t def,
	       uint32_t max, struct store_page *ret)
{
	const char *limit = http_query(req, "limit"), *offset = http_query(req, "offset");
	uint32_t l = def;
	uint64_t o = 0;

	if (limit && (parse_u32(limit, &l) < 0 || l == 0 || l > max)) {
		http_reply_error(resp, 400, "limit: expected an integer in [1, %u]", max);
		return -EINVAL;
	}
	if (offset && (parse_u64(offset, &o) < 0 || o > INT64_MAX)) {
		http_reply_error(resp, 400, "offset: expected a non-negative integer");
		return -EINVAL;
	}
	ret->limit = l;
	ret->offset = o;
	return 0;
}

void reply_page(struct http_response *resp, json_t *rows, const struct store_page *page)
{
	size_t n = json_array_size(rows);

	http_reply_json(resp, 200, rows);
	if (n >= page->limit) {
		resp->header_name = "X-Next-Offset";
		snprintf(resp->header_value, sizeof(resp->header_value), "%llu",
			 (unsigned long long)(page->offset + n));
	}
}

static struct server_ctx *ctx_of(struct http_request *req)
{
	return req->ctx;
}

static void healthz(struct http_request *req, struct http_response *resp)
{
	(void)req;
	http_reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static void metrics(struct http_request *req, struct http_response *resp)
{
	size_t len = 0;
	char *text = prom_render(ctx_of(req)->prom, ctx_of(req)->store, &len);

	if (!text) {
		http_reply_error(resp, 500, "cannot render metrics; see the server log");
		return;
	}
	http_reply_body(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

static void services(struct http_request *req, struct http_response *resp)
{
	json_t *list = NULL;
	int r = store_list_services(ctx_of(req)->store, &list);

	if (r < 0)
		http_reply_store_error(resp, r, "services", "");
	else
		http_reply_json(resp, 200, list);
}

static bool service_name_ok(struct http_response *resp, const char *service)
{
	if (strlen(service) > POLICY_SERVICE_MAX_LEN) {
		http_reply_error(resp, 400, "service name longer than %d bytes",
				 POLICY_SERVICE_MAX_LEN);
		return false;
	}
	return true;
}

/* Sends a canonical policy document with its version as ETag. */
static void reply_policy(struct http_response *resp, int status, const char *doc,
			 const char *version)
{
	char *body = strdup(doc);

	if (!body) {
		http_reply_error(resp, 503, "out of memory");
		return;
	}
	http_reply_body(resp, status, "application/json", body, strlen(body));
	resp->header_name = "ETag";
	snprintf(resp->header_value, sizeof(resp->header_value), "\"%s\"", version);
}

static void policy_get(struct http_request *req, struct http_response *resp)
{
	const char *service = req->params[0];
	char version[65], *doc = NULL;
	int r;

	if (!service_name_ok(resp, service))
		return;
	r = store_get_policy(ctx_of(req)->store, service, &doc, version);
	if (r == -ENOENT) {
		http_reply_error(resp, 404, "service '%s' has no policy", service);
		return;
	}
	if (r < 0) {
		http_reply_store_error(resp, r, "policy", service);
		return;
	}
	reply_policy(resp, 200, doc, version);
	free(doc);
}

/* Adds the path/body service mismatch to the reasons of an invalid
 * document, so a refusal lists every problem at once. */
static void append_service_mismatch(const struct http_request *req, const char *service,
				    json_t *list)
{
	json_t *doc = json_loadb(req->body, req->body_len, 0, NULL);
	const char *in_doc = json_string_value(json_object_get(doc, "service"));
	char msg[600];

	if (in_doc && strcmp(in_doc, service) != 0) {
		snprintf(msg, sizeof(msg),
			 "service: '%.255s' in the document does not match '%.255s' in the path",
			 in_doc, service);
		json_array_append_new(list, json_string(msg));
	}
	json_decref(doc);
}

static void policy_put(struct http_request *req, struct http_response *resp)
{
	struct server_ctx *ctx = ctx_of(req);
	const char *service = req->params[0];
	struct policy_errors errs = {0};
	struct policy *policy = NULL;
	char version[POLICY_VERSION_HEX_LEN + 1], *doc = NULL;
	int r;

	if (!service_name_ok(resp, service))
		return;
	if (!req->body) {
		http_reply_error(resp, 400, "request body is empty: a policy document is expected");
		return;
	}
	r = policy_parse(req->body, req->body_len, &policy, &errs);
	if (r == -EINVAL) {
		json_t *list = json_array();

		for (size_t i = 0; i < errs.n; i++)
			json_array_append_new(list, json_string(errs.reasons[i]));
		if (errs.n == 0)
			json_array_append_new(list, json_string("invalid policy document"));
		append_service_mismatch(req, service, list);
		http_reply_errors(resp, 400, list);
		goto out;
	}
	if (r < 0) {
		http_reply_error(resp, 503, "out of memory");
		goto out;
	}
	if (strcmp(policy->service, service) != 0) {
		http_reply_error(resp, 400,
				 "service: '%s' in the document does not match '%s' in the path",
				 policy->service, service);
		goto out;
	}
	doc = policy_canonical(policy);
	if (!doc || policy_version(policy, version) < 0) {
		http_reply_error(resp, 503, "out of memory");
		goto out;
	}
	r = store_put_policy(ctx->store, service, version, doc, req->now_ms);
	if (r < 0) {
		http_reply_store_error(resp, r, "policy", service);
		goto out;
	}
	sync_notify(&ctx->sync);
	reply_policy(resp, 200, doc, version);
out:
	free(doc);
	policy_free(policy);
	policy_errors_clear(&errs);
}

static void policy_delete(struct http_request *req, struct http_response *resp)
{
	struct server_ctx *ctx = ctx_of(req);
	const char *service = req->params[0];
	int r;

	if (!service_name_ok(resp, service))
		return;
	r = store_delete_policy(ctx->store, service);
	if (r == -ENOENT) {
		http_reply_error(resp, 404, "service '%s' has no policy", service);
		return;
	}
	if (r < 0) {
		http_reply_store_error(resp, r, "policy", service);
		return;
	}
	sync_notify(&ctx->sync);
	http_reply_json(resp, 200, json_pack("{s:s, s:b}", "service", service, "deleted", 1));
}

/* True when the service has a policy or a process. */
static int service_known(struct store *st, const char *service, bool *ret)
{
	json_t *list = NULL, *row;
	size_t i;
	int r = store_list_services(st, &list);

	if (r < 0)
		return r;
	*ret = false;
	json_array_foreach(list, i, row)
	{
		if (strcmp(json_string_value(json_object_get(row, "name")), service) == 0)
			*ret = true;
	}
	json_decref(list);
	return 0;
}

static void monitoring(struct http_request *req, struct http_response *resp)
{
	struct server_ctx *ctx = ctx_of(req);
	const char *service = req->params[0], *target = http_query(req, "target");
	json_t *out = NULL;
	int64_t to;
	bool known = false;
	int r;

	if (!service_name_ok(resp, service))
		return;
	if (target && policy_target_from_name(target) < 0) {
		http_reply_error(resp, 400,
				 "target: must be ON_CPU, OFF_CPU or NETWORK, not '%.32s'", target);
		return;
	}
	if (query_time_param(req, resp, "to", req->now_ms, &to) < 0)
		return;
	r = service_known(ctx->store, service, &known);
	if (r == 0 && !known) {
		http_reply_error(resp, 404, "unknown service '%s'", service);
		return;
	}
	if (r == 0)
		r = store_monitoring_summary(ctx->store, service, target,
					     to - SERVER_MONITORING_WINDOW_MS, to, &out);
	if (r < 0) {
		http_reply_store_error(resp, r, "service", service);
		return;
	}
	http_reply_json(resp, 200, out);
}

static void processes(struct http_request *req, struct http_response *resp)
{
	const char *service = http_query(req, "service");
	struct store_page page;
	json_t *rows = NULL;
	int r;

	if (query_page(req, resp, SERVER_PAGE_DEFAULT, SERVER_PAGE_MAX, &page) < 0)
		return;
	if (service && !service_name_ok(resp, service))
		return;
	r = store_list_processes(ctx_of(req)->store, service, &page, &rows);
	if (r < 0) {
		http_reply_store_error(resp, r, "processes", "");
		return;
	}
	reply_page(resp, rows, &page);
}

static void process_get(struct http_request *req, struct http_response *resp)
{
	json_t *row = NULL;
	int r = store_get_process(ctx_of(req)->store, req->params[0], &row);

	if (r < 0)
		http_reply_store_error(resp, r, "process", req->params[0]);
	else
		http_reply_json(resp, 200, row);
}

static void process_metrics(struct http_request *req, struct http_response *resp)
{
	struct server_ctx *ctx = ctx_of(req);
	const char *monitor = http_query(req, "monitor"), *uri = http_query(req, "uri");
	struct store_page page;
	int64_t from, to;
	json_t *rows = NULL;
	int r;

	if (!monitor || policy_monitor_from_name(monitor) < 0) {
		http_reply_error(resp, 400,
				 "monitor: required, one of PROCESS_CPU, PROCESS_THREAD_COUNT, "
				 "SYSTEM_LOAD, HTTP_ERROR_RATE, HTTP_AVG_RESPONSE_TIME");
		return;
	}
	if (query_time_param(req, resp, "from", req->now_ms - STORE_DEFAULT_RAW_METRICS_MS, &from) <
		0 ||
	    query_time_param(req, resp, "to", req->now_ms, &to) < 0 ||
	    query_page(req, resp, SERVER_METRIC_PAGE_DEFAULT, SERVER_METRIC_PAGE_MAX, &page) < 0)
		return;
	if (from > to) {
		http_reply_error(resp, 400, "from (%lld) is after to (%lld)", (long long)from,
				 (long long)to);
		return;
	}
	if (uri && strlen(uri) > POLICY_URI_MAX_LEN) {
		http_reply_error(resp, 400, "uri: longer than %d bytes", POLICY_URI_MAX_LEN);
		return;
	}
	r = store_metric_history(ctx->store, req->params[0], monitor, uri ? uri : "", from, to,
				 req->now_ms, &page, &rows);
	if (r < 0) {
		http_reply_store_error(resp, r, "process", req->params[0]);
		return;
	}
	reply_page(resp, rows, &page);
}

const struct http_route routes_query[] = {
    {"GET", "/healthz", healthz, 0, 0},
    {"GET", "/metrics", metrics, 0, 0},
    {"GET", "/api/v1/services", services, 0, 0},
    {"GET", "/api/v1/services/{}/policy", policy_get, 0, 0},
    {"PUT", "/api/v1/services/{}/policy", policy_put, HTTP_ROUTE_WRITE, POLICY_DOC_MAX_BYTES},
    {"DELETE", "/api/v1/services/{}/policy", policy_delete, HTTP_ROUTE_WRITE, 0},
    {"GET", "/api/v1/services/{}/monitoring", monitoring, 0, 0},
    {"GET", "/api/v1/processes", processes, 0, 0},
    {"GET", "/api/v1/processes/{}", process_get, 0, 0},
    {"GET", "/api/v1/processes/{}/metrics", process_metrics, 0, 0},
};
const size_t routes_query_count = sizeof(routes_query) / sizeof(routes_query[0]);
