/* backend: the demo's "backend" role — an HTTP server the frontend calls,
 * with the misbehaviours of the schedule built in (demo.h):
 *   GET /api/inventory   stock of an item (fails in the errors phase)
 *   GET /api/recommend   recommendations for a search
 * plus background threads: the pricing job, which burns CPU in
 * demo_compute_discount() during the cpu phase, and the pool watcher, which
 * lets DEMO_PILEUP_THREADS threads pile up in demo_wait_for_db_connection()
 * during the threads phase. The named functions are kept out of line and
 * built with frame pointers (Makefile) so the flame graphs show them. */
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "demo/demo.h"
#include "demo/demo_http.h"

#define PRICING_CHUNK_ITERATIONS 2000000ull /* a few ms of work between clock checks */
#define PRICING_PUBLISH_MASK	 0xffffull  /* publish every 65536 iterations */
#define PRICING_IDLE_MS		 200
#define POOL_WAIT_MS		 100 /* a piled-up thread's timed wait */
#define WATCH_INTERVAL_MS	 250

struct backend {
	struct demo_role_options opts;
	uint32_t pool_free; /* free database connections: always 0 */
	unsigned requests;
};

static double discount_sink;

/* Publishes a discount: out of line, so demo_compute_discount() is no leaf
 * and gcc 12 keeps its frame (it drops leaves' frames whatever the flags),
 * which unwinding needs to show its caller. */
static DEMO_NAMED void demo_publish_discount(double discount)
{
	__atomic_store(&discount_sink, &discount, __ATOMIC_RELAXED);
}

/* The guilty function of the cpu phase: a pointless discount computation on
 * registers, so nearly every sample lands right here. */
static DEMO_NAMED double demo_compute_discount(uint64_t basket, uint64_t iterations)
{
	double discount = 0;
	uint64_t x = basket | 1;

	for (uint64_t i = 0; i < iterations; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		discount += (double)(x & 0xffff) * 1e-9;
		if ((i & PRICING_PUBLISH_MASK) == 0)
			demo_publish_discount(discount);
	}
	return discount;
}

static void *pricing_job(void *arg)
{
	struct backend *b = arg;
	uint64_t basket = 1;

	for (;;) {
		int64_t end_ms;

		if (demo_phase_now(&b->opts, &end_ms) != DEMO_PHASE_CPU) {
			demo_sleep_ms(PRICING_IDLE_MS);
			continue;
		}
		while (demo_now_ms() < end_ms) {
			demo_publish_discount(
			    demo_compute_discount(basket++, PRICING_CHUNK_ITERATIONS));
		}
	}
	return NULL;
}

/* Sleeps until the pool has a free connection or timeout_ms pass: a futex
 * wait through syscall(2), one of the few libc functions that leave the
 * frame pointer alone, so off-CPU stacks unwind through here to the caller
 * (pthread_cond_timedwait's futex code does not). */
static DEMO_NAMED void demo_pool_wait(struct backend *b, long timeout_ms)
{
	struct timespec ts = {.tv_sec = timeout_ms / 1000,
			      .tv_nsec = (timeout_ms % 1000) * 1000000L};

	syscall(SYS_futex, &b->pool_free, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
}

/* Waits for a database connection from a pool that has none left, until the
 * phase ends: what a thread piled up on an exhausted pool does. */
static DEMO_NAMED void demo_wait_for_db_connection(struct backend *b, int64_t until_ms)
{
	while (demo_now_ms() < until_ms && !__atomic_load_n(&b->pool_free, __ATOMIC_RELAXED))
		demo_pool_wait(b, POOL_WAIT_MS);
}

struct pileup_args {
	struct backend *b;
	int64_t until_ms;
};

static void *piled_up_request(void *arg)
{
	struct pileup_args *a = arg;

	demo_wait_for_db_connection(a->b, a->until_ms);
	return NULL;
}

/* Starts the pile-up at the threads phase and joins it when the phase ends. */
static void *pool_watcher(void *arg)
{
	struct backend *b = arg;

	for (;;) {
		pthread_t threads[DEMO_PILEUP_THREADS];
		struct pileup_args a = {.b = b};
		int n = 0;

		if (demo_phase_now(&b->opts, &a.until_ms) != DEMO_PHASE_THREADS) {
			demo_sleep_ms(WATCH_INTERVAL_MS);
			continue;
		}
		for (; n < DEMO_PILEUP_THREADS; n++)
			if (pthread_create(&threads[n], NULL, piled_up_request, &a) != 0)
				break;
		for (int i = 0; i < n; i++)
			pthread_join(threads[i], NULL);
	}
	return NULL;
}

/* The slow phase's cause: every query waits on a slow database. */
static DEMO_NAMED void demo_slow_database_query(void)
{
	demo_sleep_ms(DEMO_SLOW_MS);
}

static void handle(const char *method, const char *path, int *status, char *body, size_t body_len,
		   void *ctx)
{
	struct backend *b = ctx;
	enum demo_phase phase = demo_phase_now(&b->opts, NULL);
	unsigned n = __atomic_fetch_add(&b->requests, 1, __ATOMIC_RELAXED);
	size_t path_len = strcspn(path, "?");

	(void)method;
	if (phase == DEMO_PHASE_SLOW)
		demo_slow_database_query();
	if (path_len == strlen("/api/inventory") &&
	    strncmp(path, "/api/inventory", path_len) == 0) {
		if (phase == DEMO_PHASE_ERRORS && n % 100 < DEMO_ERROR_PERCENT) {
			*status = 503;
			snprintf(body, body_len, "inventory database unavailable\n");
			return;
		}
		*status = 200;
		snprintf(body, body_len, "{\"in_stock\": %u}\n", n % 17);
	} else if (path_len == strlen("/api/recommend") &&
		   strncmp(path, "/api/recommend", path_len) == 0) {
		*status = 200;
		snprintf(body, body_len, "{\"items\": [\"tea\", \"mug\", \"kettle\"]}\n");
	} else {
		*status = 404;
		snprintf(body, body_len, "not found\n");
	}
}

int demo_backend_main(int argc, char **argv)
{
	static struct backend b;
	pthread_t t;

	if (demo_role_setup(argc, argv, &b.opts) < 0)
		return 2;
	if (b.opts.listen_fd < 0) {
		fprintf(stderr, "contprof %s: --listen-fd is required\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < DEMO_CPU_THREADS; i++)
		if (pthread_create(&t, NULL, pricing_job, &b) == 0)
			pthread_detach(t);
	if (pthread_create(&t, NULL, pool_watcher, &b) == 0)
		pthread_detach(t);
	return demo_http_serve(b.opts.listen_fd, handle, &b);
}
