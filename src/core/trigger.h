/* trigger: the state of one (process or instance, target) pair —
 * idle -> running -> silenced -> idle.
 *
 * "No new task while one runs, nor within `silence` of its start." A task runs
 * from its start for its duration or until it ends early; the pair stays
 * silenced until start + silence (or until the task ends, if later). Pure
 * functions of the time handed in, in milliseconds of a monotonic clock; a
 * time earlier than the task's start is treated as the start itself.
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
	int64_t start_ms;
	int64_t planned_end_ms; /* start + duration */
	int64_t ended_ms;	/* when the task ended; INT64_MAX while running */
	int64_t silence_until_ms;
};

void trigger_init(struct trigger_state *t);

/* Advances the phase to `now_ms` and returns it. A running task whose planned
 * end has passed becomes silenced (the caller stops the task when it sees
 * the phase change). */
enum trigger_phase trigger_update(struct trigger_state *t, int64_t now_ms);

/* True when a new task may start at `now_ms` (after trigger_update). */
bool trigger_may_start(struct trigger_state *t, int64_t now_ms);

/* Records a task started at `now_ms`. -EBUSY if one may not start now. */
int trigger_start(struct trigger_state *t, int64_t now_ms, uint32_t duration_s, uint32_t silence_s);

/* Records that the running task ended (finished early, failed, target gone). */
void trigger_task_ended(struct trigger_state *t, int64_t now_ms);

const char *trigger_phase_name(enum trigger_phase phase);

#endif
