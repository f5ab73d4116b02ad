/* demo: the demo system `contprof up --demo` runs — a small shop of our own
 * on 127.0.0.1: a "frontend" HTTP server that calls a "backend" HTTP server,
 * and a load generator. They are hidden roles of the contprof binary itself
 * (`contprof demo-frontend|demo-backend|demo-load`), so the binary alone runs
 * the demo.
 *
 * Every role follows one schedule from one start time, so they misbehave
 * together without talking to each other: after a calm warm-up, each
 * misbehaviour in turn lasts `trouble_s`, followed by `calm_s` of calm, and
 * the cycle repeats:
 *   cpu      the backend burns CPU in demo_compute_discount()
 *   errors   the backend fails most /api/inventory calls, so the frontend
 *            answers 502 on /api/checkout
 *   slow     the backend takes DEMO_SLOW_MS per call, so the frontend is slow
 *   threads  DEMO_PILEUP_THREADS backend threads pile up waiting for a
 *            connection from an exhausted pool
 * Owns: the schedule and the roles. Does not own: launching them and the
 * demo's policies and agent config (cli/up_demo.c). */
#ifndef CONTPROF_DEMO_DEMO_H
#define CONTPROF_DEMO_DEMO_H

#include <stdint.h>

#define DEMO_SCHEDULE_ENV     "CONTPROF_DEMO_SCHEDULE"
#define DEMO_SCHEDULE_DEFAULT "20,40,30" /* warm-up, trouble, calm (seconds) */
#define DEMO_SCHEDULE_MAX_S   3600	 /* each of the three */

#define DEMO_CPU_THREADS     2	 /* threads burning CPU in the cpu phase */
#define DEMO_ERROR_PERCENT   60	 /* of /api/inventory calls failing in the errors phase */
#define DEMO_SLOW_MS	     250 /* added to every backend call in the slow phase */
#define DEMO_PILEUP_THREADS  40	 /* extra backend threads in the threads phase */
#define DEMO_LOAD_CONNS	     4	 /* load generator connections to the frontend */
#define DEMO_LOAD_PAUSE_MS   40	 /* between two requests of one connection */
#define DEMO_MAX_CONNECTIONS 64	 /* served at once by the frontend or the backend */

/* For the functions flame graphs must show by their own name: never inlined
 * nor cloned (a clone would be named "f.constprop.0"). */
#if defined(__clang__)
#define DEMO_NAMED __attribute__((noinline))
#else
#define DEMO_NAMED __attribute__((noinline, noclone))
#endif

#define DEMO_STR_(x) #x
#define DEMO_STR(x)  DEMO_STR_(x)

enum demo_phase {
	DEMO_PHASE_CALM,
	DEMO_PHASE_CPU,
	DEMO_PHASE_ERRORS,
	DEMO_PHASE_SLOW,
	DEMO_PHASE_THREADS,
};
#define DEMO_TROUBLE_PHASES 4 /* cpu .. threads, in this order */

struct demo_schedule {
	uint32_t warmup_s;
	uint32_t trouble_s;
	uint32_t calm_s;
};

/* Parses "WARMUP,TROUBLE,CALM" (seconds; trouble >= 1, each <= DEMO_SCHEDULE_MAX_S).
 * 0 and *ret, or -EINVAL. */
int demo_schedule_parse(const char *text, struct demo_schedule *ret);
/* Length of one cycle of the four misbehaviours, in ms. */
int64_t demo_cycle_ms(const struct demo_schedule *s);
/* The phase `elapsed_ms` after the start, and when it ends (ms after the start). */
enum demo_phase demo_phase_at(const struct demo_schedule *s, int64_t elapsed_ms,
			      int64_t *ret_end_ms);
/* "calm", "cpu", "errors", "slow", "threads". */
const char *demo_phase_name(enum demo_phase phase);

/* The hidden roles; argv[0] is the role name. Exit codes as commands. */
int demo_frontend_main(int argc, char **argv);
int demo_backend_main(int argc, char **argv);
int demo_load_main(int argc, char **argv);

#endif
