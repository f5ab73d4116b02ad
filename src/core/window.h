/* window: one-second slots of one metric series and the exact check of
 * DESIGN.md section 2.
 *
 * A window keeps the values of the last `capacity_s` seconds of one series
 * (one process and monitor, or one process and HTTP item). Several items with
 * different periods evaluate the same window, each over its own last `period`
 * slots. Time is a second number handed in by the caller (no clock reads):
 * a slot holds a value only for the exact second it was recorded for, so gaps,
 * stale data and out-of-order samples need no bookkeeping.
 *
 * Rules: recording a second twice keeps the last value; a sample older than
 * what the slot already holds (more than capacity behind) is refused with
 * -ESTALE; samples "in the future" of an evaluation are not looked at.
 * Evaluation at `now_s` considers seconds (now_s - period_s, now_s].
 */
#ifndef CONTPROF_CORE_WINDOW_H
#define CONTPROF_CORE_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

struct window_slot {
	int64_t second; /* the second this value belongs to; INT64_MIN: none */
	double value;
};

struct window {
	uint32_t capacity_s;
	struct window_slot *slots;
};

struct window_result {
	uint32_t matched; /* slots with a value >= threshold */
	uint32_t valued;  /* slots with any value */
	bool holds;	  /* matched >= count */
	bool has_current; /* some slot in the period has a value */
	double current;	  /* value of the newest valued slot in the period */
	double peak;	  /* largest value in the period */
};

/* Allocates a window of `capacity_s` (1..POLICY_PERIOD_MAX_S) seconds.
 * Returns NULL on a bad capacity or ENOMEM. */
struct window *window_new(uint32_t capacity_s);
struct window *window_free(struct window *w);

/* Grows (never shrinks) the capacity, keeping recorded values. 0 or -errno. */
int window_reserve(struct window *w, uint32_t capacity_s);

/* Records `value` for `second`. 0, or -ESTALE when a newer second already
 * occupies the slot. */
int window_record(struct window *w, int64_t second, double value);

/* Checks "value >= threshold in `count` of the last `period_s` seconds" at
 * `now_s`. period_s is clamped to the capacity. */
void window_evaluate(const struct window *w, int64_t now_s, uint32_t period_s, uint32_t count,
		     double threshold, struct window_result *ret);

#endif
