/* trigger: see trigger.h. Every entry point first clamps the time to the last
 * start, then the phase only moves forward: running -> silenced -> idle. */
#include "core/trigger.h"

#include <errno.h>

#define MS_PER_S 1000

static int64_t add_saturating(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* A time before the last start is the start itself. */
static int64_t clamp_time(const struct trigger_state *t, int64_t now_ms)
{
	return now_ms < t->start_ms ? t->start_ms : now_ms;
}

static void end_task(struct trigger_state *t, int64_t ended_ms)
{
	t->ended_ms = ended_ms;
	if (t->silence_until_ms < ended_ms)
		t->silence_until_ms = ended_ms;
	t->phase = TRIGGER_SILENCED;
}

/* The phase at now_ms, which is already clamped. */
static enum trigger_phase advance(struct trigger_state *t, int64_t now_ms)
{
	if (t->phase == TRIGGER_RUNNING && now_ms >= t->planned_end_ms)
		end_task(t, t->planned_end_ms);
	if (t->phase == TRIGGER_SILENCED && now_ms >= t->silence_until_ms)
		t->phase = TRIGGER_IDLE;
	return t->phase;
}

void trigger_init(struct trigger_state *t)
{
	t->phase = TRIGGER_IDLE;
	t->start_ms = INT64_MIN;
	t->planned_end_ms = INT64_MIN;
	t->ended_ms = INT64_MIN;
	t->silence_until_ms = INT64_MIN;
}

enum trigger_phase trigger_update(struct trigger_state *t, int64_t now_ms)
{
	return advance(t, clamp_time(t, now_ms));
}

bool trigger_may_start(struct trigger_state *t, int64_t now_ms)
{
	return trigger_update(t, now_ms) == TRIGGER_IDLE;
}

int trigger_start(struct trigger_state *t, int64_t now_ms, uint32_t duration_s, uint32_t silence_s)
{
	if (duration_s == 0)
		return -EINVAL;
	now_ms = clamp_time(t, now_ms);
	if (advance(t, now_ms) != TRIGGER_IDLE)
		return -EBUSY;
	t->phase = TRIGGER_RUNNING;
	t->start_ms = now_ms;
	t->planned_end_ms = add_saturating(now_ms, (int64_t)duration_s * MS_PER_S);
	t->ended_ms = INT64_MAX;
	t->silence_until_ms = add_saturating(now_ms, (int64_t)silence_s * MS_PER_S);
	return 0;
}

void trigger_task_ended(struct trigger_state *t, int64_t now_ms)
{
	now_ms = clamp_time(t, now_ms);
	if (advance(t, now_ms) != TRIGGER_RUNNING)
		return;
	end_task(t, now_ms);
	advance(t, now_ms);
}

const char *trigger_phase_name(enum trigger_phase phase)
{
	switch (phase) {
	case TRIGGER_IDLE:
		return "idle";
	case TRIGGER_RUNNING:
		return "running";
	case TRIGGER_SILENCED:
		return "silenced";
	}
	return "unknown";
}
