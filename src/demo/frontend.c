/* frontend: the demo's "frontend" role — the shop's HTTP server the load
 * generator calls. It answers from the backend (demo.h):
 *   GET /               the shop's page (no backend call)
 *   GET /api/checkout   asks the backend's /api/inventory; 502 when it fails
 *   GET /api/search     asks the backend's /api/recommend; 502 when it fails
 * Each connection thread keeps its own keep-alive connection to the backend
 * (demo_call_backend), so the topology shows the frontend -> backend edge.
 * It has no misbehaviour of its own: it suffers the backend's. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo/demo.h"
#include "demo/demo_http.h"

struct frontend {
	struct demo_role_options opts;
	pthread_key_t client_key; /* each connection thread's backend client */
};

static void client_destroy(void *p)
{
	struct demo_client *c = p;

	demo_client_close(c);
	free(c);
}

/* One call to the backend on this thread's connection; the status or -errno. */
static DEMO_NAMED int demo_call_backend(struct frontend *f, const char *path)
{
	struct demo_client *c = pthread_getspecific(f->client_key);

	if (!c) {
		c = malloc(sizeof(*c));
		if (!c)
			return -12;
		demo_client_init(c, f->opts.peer_port);
		if (pthread_setspecific(f->client_key, c) != 0) {
			free(c);
			return -12;
		}
	}
	return demo_client_get(c, path);
}

static void proxy(struct frontend *f, const char *backend_path, const char *what, int *status,
		  char *body, size_t body_len)
{
	int got = demo_call_backend(f, backend_path);

	if (got >= 200 && got < 300) {
		*status = 200;
		snprintf(body, body_len, "%s: ok\n", what);
	} else {
		*status = 502;
		snprintf(body, body_len, "%s: the backend failed (%d)\n", what, got);
	}
}

static void handle(const char *method, const char *path, int *status, char *body, size_t body_len,
		   void *ctx)
{
	struct frontend *f = ctx;
	size_t path_len = strcspn(path, "?");

	(void)method;
	if (path_len == 1 && path[0] == '/') {
		*status = 200;
		snprintf(body, body_len, "contprof demo shop: try /api/checkout and /api/search\n");
	} else if (path_len == strlen("/api/checkout") &&
		   strncmp(path, "/api/checkout", path_len) == 0) {
		proxy(f, "/api/inventory?item=42", "checkout", status, body, body_len);
	} else if (path_len == strlen("/api/search") &&
		   strncmp(path, "/api/search", path_len) == 0) {
		proxy(f, "/api/recommend?q=tea", "search", status, body, body_len);
	} else {
		*status = 404;
		snprintf(body, body_len, "not found\n");
	}
}

int demo_frontend_main(int argc, char **argv)
{
	static struct frontend f;

	if (demo_role_setup(argc, argv, &f.opts) < 0)
		return 2;
	if (f.opts.listen_fd < 0 || !f.opts.peer_port) {
		fprintf(stderr, "contprof %s: --listen-fd and --peer-port are required\n", argv[0]);
		return 2;
	}
	if (pthread_key_create(&f.client_key, client_destroy) != 0)
		return 1;
	return demo_http_serve(f.opts.listen_fd, handle, &f);
}
