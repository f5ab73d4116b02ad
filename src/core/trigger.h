/* trigger: the state of one (process or instance, target) pair —
 * idle -> running -> silenced -> idle.
 *
 * "No new task while one runs, nor within `silence` of its start." A task runs
 * from its start for its duration or until it ends early; the pair stays
 * silenced until start + silence (or until the task ends, if later). Pure
 * functions of the time handed in, in milliseconds of a monotonic clock.
 * Does not own: starting or stopping profilers, the clock, policies.
 *
 * Rules, for a task started at T with duration D > 0 and silence S >= 0 (ms):
 * - It runs over [T, T + D): at T + D - 1 it is running, at T + D it has
 *   ended (trigger_update() moves it on; the caller stops the task when it
 *   sees the phase leave TRIGGER_RUNNING).
 * - A task that ended at E (E = T + D, or earlier through
 *   trigger_task_ended()) leaves the pair silenced over [E, max(T + S, E)) and
 *   idle from max(T + S, E) on. So a new task may not start at T + S - 1 but
 *   may at T + S, if the first one has ended by then; with S < D the pair
 *   stays running until the task ends and becomes idle right then; with S = 0
 *   it is idle as soon as the task ends. A running task may go straight to
 *   idle, skipping silenced, when its end is at or after T + S.
 * - Phases only move forward, and time never goes back: a time earlier than
 *   the last task's start is treated as that start (a new task started with
 *   such a time starts at the previous start). Sums saturate at INT64_MAX.
 *
 * Not thread-safe: one state belongs to one loop.
 */
#ifndef CONTPROF_CORE_TRIGGER_H
#define CONTPROF_CORE_TRIGGER_H

#include <stdbool.h>
#include <stdint.h>

enum trigger_phase {
	TRIGGER_IDLE,
	TRIGGER_RUNNING,
	TRIGGER_SILENCED
};

struct trigger_state {
	enum trigger_phase phase;
	int64_t start_ms;	  /* start of the last task; INT64_MIN before any */
	int64_t planned_end_ms;	  /* start + duration */
	int64_t ended_ms;	  /* when the task ended; INT64_MAX while running */
	int64_t silence_until_ms; /* start + silence, raised to ended_ms once ended */
};

/* An idle pair that never ran a task. */
void trigger_init(struct trigger_state *t);

/* Advances the phase to `now_ms` and returns it. A running task whose planned
 * end has come (now_ms >= start + duration) is ended at its planned end and
 * the pair becomes silenced, or idle if start + silence has passed too. */
enum trigger_phase trigger_update(struct trigger_state *t, int64_t now_ms);

/* Advances the phase to `now_ms` (as trigger_update()) and returns true when
 * a new task may start then, i.e. the pair is idle. */
bool trigger_may_start(struct trigger_state *t, int64_t now_ms);

/* Records a task started at `now_ms` for `duration_s` with `silence_s`.
 * Returns 0; -EBUSY while running or silenced at now_ms (the phase is only
 * advanced to now_ms); -EINVAL for a duration of 0 (nothing changes). */
int trigger_start(struct trigger_state *t, int64_t now_ms, uint32_t duration_s, uint32_t silence_s);

/* Records that the running task ended at `now_ms` (finished early, failed,
 * target gone). If its planned end came first, it ended then. Does nothing
 * when no task is running. */
void trigger_task_ended(struct trigger_state *t, int64_t now_ms);

/* "idle", "running", "silenced"; "unknown" for any other value. */
const char *trigger_phase_name(enum trigger_phase phase);

#endif
