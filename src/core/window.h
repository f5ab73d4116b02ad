/* window: one-second slots of one metric series and the exact check of
 * DESIGN.md section 2.
 *
 * A window keeps the values of the last `capacity_s` seconds of one series
 * (one process and monitor, or one process and HTTP item). Several items with
 * different periods evaluate the same window, each over its own last `period`
 * slots. Time is a second number handed in by the caller (no clock reads):
 * a slot holds a value only for the exact second it was recorded for, so gaps,
 * stale data and out-of-order samples need no bookkeeping.
 * Does not own: reading metrics, the clock, policies, trigger state.
 *
 * Rules:
 * - Second `s` lives in slot s mod capacity (the non-negative remainder, so
 *   negative seconds work). Any second except INT64_MIN (the "no value" mark)
 *   may be recorded; any value except NaN.
 * - Recording a second twice keeps the last value. A sample whose slot already
 *   holds a newer second (the sample is at least `capacity_s` behind it) is
 *   refused with -ESTALE and changes nothing. A sample replaces an older second
 *   sharing its slot, even when the sample lies in the future of the next
 *   evaluation.
 * - Evaluation at `now_s` with `period_s` considers exactly the seconds
 *   (now_s - period_s, now_s]; period_s is clamped to the capacity, and seconds
 *   at or below INT64_MIN are not looked at. A slot counts only when it holds a
 *   value for exactly one of those seconds: slots never recorded, overwritten,
 *   older than the period or newer than now_s ("future" samples) are ignored.
 *   So a gap longer than the period empties it without any bookkeeping.
 * - A slot matches when value >= threshold; the item holds when matched >=
 *   count. A count of 0 is treated as 1: an item never holds without a match.
 *   A count above the (clamped) period never holds.
 * - window_reserve() with a larger capacity re-places every kept value by its
 *   second modulo the new capacity; if two kept values land on one new slot
 *   (they are at least the new capacity apart) the newer second wins, as it
 *   would have on recording. A smaller or equal capacity changes nothing.
 *
 * Not thread-safe: one window belongs to one loop.
 */
#ifndef CONTPROF_CORE_WINDOW_H
#define CONTPROF_CORE_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct window_slot {
	int64_t second; /* the second this value belongs to; INT64_MIN: none */
	double value;
};

struct window {
	uint32_t capacity_s;
	struct window_slot *slots; /* capacity_s of them, owned */
};

struct window_result {
	uint32_t matched; /* slots in the period with a value >= threshold */
	uint32_t valued;  /* slots in the period with any value */
	bool holds;	  /* matched >= max(count, 1) */
	bool has_current; /* valued > 0 */
	double current;	  /* value of the newest valued second in the period; 0 if none */
	double peak;	  /* largest value in the period; 0 if none */
};

/* Allocates a window of `capacity_s` (1..POLICY_PERIOD_MAX_S) seconds with no
 * values; free it with window_free(). Returns NULL on a bad capacity or
 * ENOMEM. */
struct window *window_new(uint32_t capacity_s);

/* Accepts NULL; returns NULL so `w = window_free(w)` is always safe. */
struct window *window_free(struct window *w);

/* Grows (never shrinks) the capacity to `capacity_s`, keeping recorded values
 * (see the rules above). Returns 0; -EINVAL for a capacity outside
 * 1..POLICY_PERIOD_MAX_S; -ENOMEM, leaving the window as it was. */
int window_reserve(struct window *w, uint32_t capacity_s);

/* Records `value` for `second`. Returns 0; -ESTALE when a newer second
 * already occupies the slot; -EINVAL for second INT64_MIN or a NaN value.
 * Nothing changes on error. */
int window_record(struct window *w, int64_t second, double value);

/* Checks "value >= threshold in `count` of the last `period_s` seconds" at
 * `now_s` and fills *ret (always). period_s is clamped to the capacity. */
void window_evaluate(const struct window *w, int64_t now_s, uint32_t period_s, uint32_t count,
		     double threshold, struct window_result *ret);

/* Fault injection for tests: the allocator window_new() and window_reserve()
 * use (calloc by default). Set it back to calloc after use. */
extern void *(*window_calloc)(size_t nmemb, size_t size);

#endif
