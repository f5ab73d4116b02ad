/* fuzz_agent_api: every upload the server parses from agents (routes_agent.c
 * over jsonin.c) and the policy and manual-task writes, from untrusted bytes.
 *
 * The first input byte picks the route and the path parameter, the rest is
 * the request body. Handlers run as the HTTP layer runs them (a filled
 * struct http_request, a real SQLite store in a temporary directory, the
 * sync hub stopped so a long poll returns at once). Every answer must be
 * 2xx or 4xx — a 5xx means validation let through what the store refused —
 * with a JSON body, and a 4xx must carry at least one readable reason.
 * The store is recreated every STORE_RUNS inputs so it stays small.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "server/context.h"
#include "util/log.h"

#define STORE_RUNS 5000

static const char *const task_ids[] = {"task-1", "task-2", "bad id", ""};

struct route_pick {
	const struct http_route *route;
	const char *param;
};

static struct server_ctx ctx;
static char dir[] = "/tmp/contprof-fuzz-api-XXXXXX";
static char store_url[sizeof(dir) + 32];
static const struct http_route *routes[64];
static size_t n_routes;
static unsigned long runs;

/* Closes the store and removes its files. */
static void drop_store(void)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char path[sizeof(store_url) + 16];

	if (!ctx.store)
		return;
	ctx.store = store_close(ctx.store);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", store_url + strlen("sqlite:"), suffixes[i]);
		unlink(path);
	}
}

static void remove_dir(void)
{
	drop_store();
	rmdir(dir);
}

static void open_store(void)
{
	struct store_options opts;
	char err[256];

	drop_store();
	snprintf(store_url, sizeof(store_url), "sqlite:%s/store.db", dir);
	store_options_default(&opts);
	ctx.store = store_open(store_url, &opts, err, sizeof(err));
	if (!ctx.store) {
		fprintf(stderr, "fuzz_agent_api: cannot open %s: %s\n", store_url, err);
		abort();
	}
}

static void add_routes(const struct http_route *table, size_t n, bool all)
{
	for (size_t i = 0; i < n && n_routes < sizeof(routes) / sizeof(routes[0]); i++)
		if (all || strcmp(table[i].pattern, "/api/v1/services/{}/policy") == 0 ||
		    strcmp(table[i].pattern, "/api/v1/tasks") == 0)
			if (table[i].body_max > 0)
				routes[n_routes++] = &table[i];
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	if (!mkdtemp(dir) || sync_init(&ctx.sync) < 0 || !(ctx.prom = prom_new()))
		abort();
	/* A stopped hub never waits: sync answers with its last look at once. */
	sync_stop(&ctx.sync);
	open_store();
	atexit(remove_dir);
	add_routes(routes_agent, routes_agent_count, true);
	add_routes(routes_query, routes_query_count, false);
	add_routes(routes_tasks, routes_tasks_count, false);
	return 0;
}

static const char *param_for(const struct http_route *route, uint8_t pick)
{
	if (strstr(route->pattern, "/services/"))
		return pick & 1 ? "checkout" : "svc with space";
	return task_ids[pick % (sizeof(task_ids) / sizeof(task_ids[0]))];
}

static void check_response(const struct http_response *resp)
{
	json_t *body, *errors;

	FUZZ_CHECK(resp->status >= 200 && resp->status < 500);
	FUZZ_CHECK(resp->body && resp->len == strlen(resp->body));
	body = json_loadb(resp->body, resp->len, 0, NULL);
	FUZZ_CHECK(body);
	if (resp->status >= 400) {
		errors = json_object_get(body, "errors");
		FUZZ_CHECK(json_array_size(errors) >= 1);
		for (size_t i = 0; i < json_array_size(errors); i++)
			FUZZ_CHECK(json_string_length(json_array_get(errors, i)) > 0);
	}
	json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response resp = {0};
	struct http_request req = {0};
	const struct http_route *route;
	struct timespec now;
	char *body;

	if (size < 1 || size > 256 * 1024)
		return 0;
	route = routes[(data[0] & 0x1f) % n_routes];
	if (size - 1 > route->body_max)
		return 0;
	if (++runs % STORE_RUNS == 0)
		open_store();
	/* The HTTP layer hands handlers a NUL-terminated body, NULL when empty. */
	body = malloc(size);
	FUZZ_CHECK(body);
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	clock_gettime(CLOCK_REALTIME, &now);
	req.method = route->method;
	req.path = route->pattern;
	req.params[0] = param_for(route, data[0] >> 5);
	req.body = size > 1 ? body : NULL;
	req.body_len = size - 1;
	req.now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	req.ctx = &ctx;
	route->fn(&req, &resp);
	check_response(&resp);
	free(resp.body);
	free(body);
	return 0;
}
