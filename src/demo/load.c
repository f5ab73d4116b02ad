/* load: the demo's load generator role — DEMO_LOAD_CONNS keep-alive
 * connections to the frontend, each cycling through its pages with a pause
 * of DEMO_LOAD_PAUSE_MS, for ever. Its main thread narrates the schedule on
 * stderr: one line when each phase begins, with what to expect and its
 * start time in Unix ms (the acceptance test reads them). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include "demo/demo.h"
#include "demo/demo_http.h"

#define NARRATE_INTERVAL_MS 100

static const char *const load_paths[] = {"/", "/api/checkout", "/api/search"};
#define N_LOAD_PATHS (sizeof(load_paths) / sizeof(load_paths[0]))

static void *load_connection(void *arg)
{
	const struct demo_role_options *o = arg;
	struct demo_client c;

	demo_client_init(&c, o->peer_port);
	for (unsigned i = 0;; i++) {
		if (demo_client_get(&c, load_paths[i % N_LOAD_PATHS]) < 0)
			demo_sleep_ms(500); /* the frontend is not there (yet) */
		demo_sleep_ms(DEMO_LOAD_PAUSE_MS);
	}
	return NULL;
}

static const char *expectation(enum demo_phase phase)
{
	switch (phase) {
	case DEMO_PHASE_CALM:
		return "calm: nothing should trigger";
	case DEMO_PHASE_CPU:
		return "cpu spike: the backend burns CPU in demo_compute_discount() — expect an "
		       "ON_CPU task on backend (PROCESS_CPU)";
	case DEMO_PHASE_ERRORS:
		return "errors: the backend fails /api/inventory, the frontend answers 502 on "
		       "/api/checkout — expect a NETWORK task on frontend (HTTP_ERROR_RATE)";
	case DEMO_PHASE_SLOW:
		return "slow: every backend call takes " DEMO_STR(
		    DEMO_SLOW_MS) " ms more — expect an "
				  "OFF_CPU task on frontend (HTTP_AVG_RESPONSE_TIME)";
	case DEMO_PHASE_THREADS:
		return "threads: " DEMO_STR(
		    DEMO_PILEUP_THREADS) " backend threads pile up waiting "
					 "for a database connection — expect an OFF_CPU task on "
					 "backend "
					 "(PROCESS_THREAD_COUNT)";
	}
	return "?";
}

int demo_load_main(int argc, char **argv)
{
	static struct demo_role_options o;
	int64_t shown_end_ms = -1;

	if (demo_role_setup(argc, argv, &o) < 0)
		return 2;
	if (!o.peer_port) {
		fprintf(stderr, "contprof %s: --peer-port is required\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < DEMO_LOAD_CONNS; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, load_connection, &o) == 0)
			pthread_detach(t);
	}
	for (;;) {
		int64_t end_ms, now = demo_now_ms();
		enum demo_phase phase = demo_phase_now(&o, &end_ms);

		if (end_ms != shown_end_ms) {
			int64_t begin_ms = shown_end_ms < 0 ? o.start_ms : shown_end_ms;

			shown_end_ms = end_ms;
			fprintf(stderr,
				"demo: [+%" PRId64 "s] %s, for %" PRId64 " s [phase %s %" PRId64
				"..%" PRId64 "]\n",
				(now - o.start_ms) / 1000, expectation(phase),
				(end_ms - now + 500) / 1000, demo_phase_name(phase), begin_ms,
				end_ms);
		}
		demo_sleep_ms(NARRATE_INTERVAL_MS);
	}
}
