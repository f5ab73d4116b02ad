/* Unit tests of core/trigger: "no new task while one runs, nor within
 * `silence` of its start". Most tests are timelines: a list of calls at given
 * times, each with the result and phase it must give. */
#include "harness.h"

#include <errno.h>

#include "core/trigger.h"

#define T	  1000000LL /* a task's start, ms */
#define SEC	  1000LL
#define MAX_STEPS 16

enum op {
	OP_NONE,      /* the end of a timeline (zeroed trailing steps) */
	OP_UPDATE,    /* trigger_update(); want: unused */
	OP_MAY_START, /* trigger_may_start(); want: 1 or 0 */
	OP_START,     /* trigger_start(); want: return code */
	OP_END,	      /* trigger_task_ended(); want: unused */
};

struct step {
	enum op op;
	int64_t at_ms;
	int want;
	enum trigger_phase phase; /* after the call */
};

struct timeline {
	const char *name;
	uint32_t duration_s, silence_s; /* for every OP_START */
	struct step steps[MAX_STEPS];	/* up to the first OP_NONE */
};

static void run_timeline(const struct timeline *tl)
{
	struct trigger_state t;

	trigger_init(&t);
	for (size_t i = 0; i < MAX_STEPS && tl->steps[i].op != OP_NONE; i++) {
		const struct step *s = &tl->steps[i];
		int got = 0;

		harness_context("%s, step %zu at T%+lld ms", tl->name, i,
				(long long)(s->at_ms - T));
		switch (s->op) {
		case OP_UPDATE:
			CHECK_STR_EQ(trigger_phase_name(trigger_update(&t, s->at_ms)),
				     trigger_phase_name(s->phase));
			break;
		case OP_MAY_START:
			got = trigger_may_start(&t, s->at_ms);
			CHECK_INT_EQ(got, s->want);
			break;
		case OP_START:
			got = trigger_start(&t, s->at_ms, tl->duration_s, tl->silence_s);
			CHECK_INT_EQ(got, s->want);
			break;
		case OP_END:
			trigger_task_ended(&t, s->at_ms);
			break;
		case OP_NONE:
			break;
		}
		CHECK_STR_EQ(trigger_phase_name(t.phase), trigger_phase_name(s->phase));
	}
}

static const struct timeline timelines[] = {
    {
	.name = "silence boundaries (D 600 s, S 1200 s)",
	.duration_s = 600,
	.silence_s = 1200,
	.steps = {{OP_MAY_START, T, 1, TRIGGER_IDLE},
		  {OP_START, T, 0, TRIGGER_RUNNING},
		  {OP_MAY_START, T, 0, TRIGGER_RUNNING},
		  {OP_START, T + 1, -EBUSY, TRIGGER_RUNNING},
		  {OP_UPDATE, T + 600 * SEC - 1, 0, TRIGGER_RUNNING},
		  {OP_UPDATE, T + 600 * SEC, 0, TRIGGER_SILENCED},
		  {OP_START, T + 600 * SEC, -EBUSY, TRIGGER_SILENCED},
		  {OP_MAY_START, T + 1200 * SEC - 1, 0, TRIGGER_SILENCED},
		  {OP_START, T + 1200 * SEC - 1, -EBUSY, TRIGGER_SILENCED},
		  {OP_MAY_START, T + 1200 * SEC, 1, TRIGGER_IDLE},
		  {OP_START, T + 1200 * SEC, 0, TRIGGER_RUNNING},
		  /* The second task is measured from its own start. */
		  {OP_UPDATE, T + 1800 * SEC - 1, 0, TRIGGER_RUNNING},
		  {OP_UPDATE, T + 1800 * SEC, 0, TRIGGER_SILENCED},
		  {OP_START, T + 2400 * SEC - 1, -EBUSY, TRIGGER_SILENCED},
		  {OP_START, T + 2400 * SEC, 0, TRIGGER_RUNNING}},
    },
    {
	.name = "start exactly at T + S without a call in between",
	.duration_s = 10,
	.silence_s = 20,
	.steps = {{OP_START, T, 0, TRIGGER_RUNNING},
		  {OP_START, T + 20 * SEC, 0, TRIGGER_RUNNING},
		  {OP_UPDATE, T + 30 * SEC - 1, 0, TRIGGER_RUNNING}},
    },
    {
	.name = "early end stays silenced until T + S",
	.duration_s = 600,
	.silence_s = 1200,
	.steps = {{OP_START, T, 0, TRIGGER_RUNNING},
		  {OP_END, T + 5 * SEC, 0, TRIGGER_SILENCED},
		  {OP_START, T + 5 * SEC, -EBUSY, TRIGGER_SILENCED},
		  /* Past the planned end: still silenced, nothing ends twice. */
		  {OP_UPDATE, T + 600 * SEC, 0, TRIGGER_SILENCED},
		  {OP_END, T + 700 * SEC, 0, TRIGGER_SILENCED},
		  {OP_MAY_START, T + 1200 * SEC - 1, 0, TRIGGER_SILENCED},
		  {OP_MAY_START, T + 1200 * SEC, 1, TRIGGER_IDLE}},
    },
    {
	.name = "silence < duration: running until the planned end, then idle",
	.duration_s = 600,
	.silence_s = 60,
	.steps = {{OP_START, T, 0, TRIGGER_RUNNING},
		  {OP_MAY_START, T + 60 * SEC, 0, TRIGGER_RUNNING},
		  {OP_START, T + 300 * SEC, -EBUSY, TRIGGER_RUNNING},
		  {OP_UPDATE, T + 600 * SEC - 1, 0, TRIGGER_RUNNING},
		  {OP_UPDATE, T + 600 * SEC, 0, TRIGGER_IDLE},
		  {OP_START, T + 600 * SEC, 0, TRIGGER_RUNNING}},
    },
    {
	.name = "silence < duration: early end after T + S is idle at once",
	.duration_s = 600,
	.silence_s = 60,
	.steps = {{OP_START, T, 0, TRIGGER_RUNNING},
		  {OP_END, T + 100 * SEC, 0, TRIGGER_IDLE},
		  {OP_START, T + 100 * SEC, 0, TRIGGER_RUNNING}},
    },
    {
	.name = "silence < duration: early end before T + S",
	.duration_s = 600,
	.silence_s = 60,
	.steps = {{OP_START, T, 0, TRIGGER_RUNNING},
		  {OP_END, T + 30 * SEC, 0, TRIGGER_SILENCED},
		  {OP_MAY_START, T + 60 * SEC - 1, 0, TRIGGER_SILENCED},
		  {OP_MAY_START, T + 60 * SEC, 1, TRIGGER_IDLE}},
    },
    {
	.name = "silence == duration: idle right at the end",
	.duration_s = 60,
	.silence_s = 60,
	.steps = {{OP_START, T, 0, TRIGGER_RUNNING},
		  {OP_UPDATE, T + 60 * SEC - 1, 0, TRIGGER_RUNNING},
		  {OP_UPDATE, T + 60 * SEC, 0, TRIGGER_IDLE}},
    },
    {
	.name = "silence 0",
	.duration_s = 30,
	.silence_s = 0,
	.steps = {{OP_START, T, 0, TRIGGER_RUNNING},
		  {OP_START, T, -EBUSY, TRIGGER_RUNNING},
		  {OP_UPDATE, T + 30 * SEC - 1, 0, TRIGGER_RUNNING},
		  {OP_UPDATE, T + 30 * SEC, 0, TRIGGER_IDLE},
		  {OP_START, T + 31 * SEC, 0, TRIGGER_RUNNING},
		  {OP_END, T + 31 * SEC, 0, TRIGGER_IDLE},
		  {OP_START, T + 31 * SEC, 0, TRIGGER_RUNNING}},
    },
    {
	.name = "ended late without an update: ended at the planned end",
	.duration_s = 10,
	.silence_s = 15,
	.steps = {{OP_START, T, 0, TRIGGER_RUNNING},
		  {OP_END, T + 12 * SEC, 0, TRIGGER_SILENCED},
		  {OP_UPDATE, T + 15 * SEC - 1, 0, TRIGGER_SILENCED},
		  {OP_UPDATE, T + 15 * SEC, 0, TRIGGER_IDLE}},
    },
    {
	.name = "ending while idle does nothing",
	.duration_s = 10,
	.silence_s = 15,
	.steps = {{OP_END, T, 0, TRIGGER_IDLE},
		  {OP_START, T + 1, 0, TRIGGER_RUNNING},
		  {OP_UPDATE, T + 20 * SEC, 0, TRIGGER_IDLE},
		  {OP_END, T + 21 * SEC, 0, TRIGGER_IDLE},
		  {OP_START, T + 21 * SEC, 0, TRIGGER_RUNNING}},
    },
    {
	.name = "clock going back is the start",
	.duration_s = 10,
	.silence_s = 20,
	.steps = {{OP_START, T, 0, TRIGGER_RUNNING},
		  {OP_UPDATE, T - 60 * SEC, 0, TRIGGER_RUNNING},
		  {OP_START, T - 60 * SEC, -EBUSY, TRIGGER_RUNNING},
		  {OP_UPDATE, T + 10 * SEC, 0, TRIGGER_SILENCED},
		  /* Phases never go back. */
		  {OP_UPDATE, T + 1, 0, TRIGGER_SILENCED},
		  {OP_MAY_START, T - 1, 0, TRIGGER_SILENCED},
		  {OP_UPDATE, T + 20 * SEC, 0, TRIGGER_IDLE},
		  {OP_UPDATE, T - 1, 0, TRIGGER_IDLE}},
    },
    {
	.name = "clock going back before an early end",
	.duration_s = 10,
	.silence_s = 20,
	.steps = {{OP_START, T, 0, TRIGGER_RUNNING},
		  {OP_END, T - 5 * SEC, 0, TRIGGER_SILENCED},
		  {OP_MAY_START, T + 20 * SEC - 1, 0, TRIGGER_SILENCED},
		  {OP_MAY_START, T + 20 * SEC, 1, TRIGGER_IDLE}},
    },
    {
	.name = "duration 0 is refused",
	.duration_s = 0,
	.silence_s = 20,
	.steps = {{OP_START, T, -EINVAL, TRIGGER_IDLE}, {OP_MAY_START, T, 1, TRIGGER_IDLE}},
    },
};

TEST(trigger_timelines)
{
	for (size_t i = 0; i < sizeof(timelines) / sizeof(timelines[0]); i++)
		run_timeline(&timelines[i]);
}

TEST(trigger_init_is_idle)
{
	struct trigger_state t;

	trigger_init(&t);
	CHECK_INT_EQ(t.phase, TRIGGER_IDLE);
	CHECK_INT_EQ(t.start_ms, INT64_MIN);
	CHECK(trigger_may_start(&t, INT64_MIN));
	CHECK(trigger_may_start(&t, -5 * SEC));
	CHECK(trigger_may_start(&t, INT64_MAX));
	CHECK_INT_EQ(trigger_update(&t, 0), TRIGGER_IDLE);
}

TEST(trigger_start_records_the_task)
{
	struct trigger_state t;

	trigger_init(&t);
	CHECK_INT_EQ(trigger_start(&t, T, 600, 1200), 0);
	CHECK_INT_EQ(t.start_ms, T);
	CHECK_INT_EQ(t.planned_end_ms, T + 600 * SEC);
	CHECK_INT_EQ(t.ended_ms, INT64_MAX);
	CHECK_INT_EQ(t.silence_until_ms, T + 1200 * SEC);

	/* A refused start changes nothing but the phase's advance. */
	CHECK_INT_EQ(trigger_start(&t, T + 700 * SEC, 5, 5), -EBUSY);
	CHECK_INT_EQ(t.phase, TRIGGER_SILENCED);
	CHECK_INT_EQ(t.start_ms, T);
	CHECK_INT_EQ(t.ended_ms, T + 600 * SEC);
	CHECK_INT_EQ(t.silence_until_ms, T + 1200 * SEC);

	/* An early end after start + silence raises silence_until to it. */
	trigger_init(&t);
	CHECK_INT_EQ(trigger_start(&t, T, 600, 60), 0);
	trigger_task_ended(&t, T + 90 * SEC);
	CHECK_INT_EQ(t.ended_ms, T + 90 * SEC);
	CHECK_INT_EQ(t.silence_until_ms, T + 90 * SEC);
	CHECK_INT_EQ(t.phase, TRIGGER_IDLE);
}

TEST(trigger_start_before_previous_start)
{
	struct trigger_state t;

	trigger_init(&t);
	CHECK_INT_EQ(trigger_start(&t, T, 1, 0), 0);
	CHECK_INT_EQ(trigger_update(&t, T + SEC), TRIGGER_IDLE);
	/* The clock went back past the previous start: the new task starts
	 * at the previous start, so time in the state never goes back. */
	CHECK_INT_EQ(trigger_start(&t, T - 100 * SEC, 2, 3), 0);
	CHECK_INT_EQ(t.start_ms, T);
	CHECK_INT_EQ(t.planned_end_ms, T + 2 * SEC);
	CHECK_INT_EQ(trigger_update(&t, T + 2 * SEC - 1), TRIGGER_RUNNING);
	CHECK_INT_EQ(trigger_update(&t, T + 2 * SEC), TRIGGER_SILENCED);
	CHECK_INT_EQ(trigger_update(&t, T + 3 * SEC), TRIGGER_IDLE);
}

TEST(trigger_extreme_times)
{
	struct trigger_state t;

	/* Negative times are ordinary times. */
	trigger_init(&t);
	CHECK_INT_EQ(trigger_start(&t, -50 * SEC, 10, 20), 0);
	CHECK_INT_EQ(trigger_update(&t, -40 * SEC - 1), TRIGGER_RUNNING);
	CHECK_INT_EQ(trigger_update(&t, -40 * SEC), TRIGGER_SILENCED);
	CHECK_INT_EQ(trigger_update(&t, -30 * SEC), TRIGGER_IDLE);

	/* At the top, ends saturate at INT64_MAX. */
	trigger_init(&t);
	CHECK_INT_EQ(trigger_start(&t, INT64_MAX - 1000, 600, 1200), 0);
	CHECK_INT_EQ(t.planned_end_ms, INT64_MAX);
	CHECK_INT_EQ(t.silence_until_ms, INT64_MAX);
	CHECK_INT_EQ(trigger_update(&t, INT64_MAX - 1), TRIGGER_RUNNING);
	trigger_task_ended(&t, INT64_MAX - 1);
	CHECK_INT_EQ(t.phase, TRIGGER_SILENCED);
	CHECK_INT_EQ(trigger_update(&t, INT64_MAX), TRIGGER_IDLE);

	/* The largest duration and silence do not overflow. */
	trigger_init(&t);
	CHECK_INT_EQ(trigger_start(&t, 0, UINT32_MAX, UINT32_MAX), 0);
	CHECK_INT_EQ(t.planned_end_ms, (int64_t)UINT32_MAX * SEC);
	CHECK_INT_EQ(t.silence_until_ms, (int64_t)UINT32_MAX * SEC);
	CHECK_INT_EQ(trigger_update(&t, (int64_t)UINT32_MAX * SEC - 1), TRIGGER_RUNNING);
	CHECK_INT_EQ(trigger_update(&t, (int64_t)UINT32_MAX * SEC), TRIGGER_IDLE);

	/* A start at INT64_MIN right after init. */
	trigger_init(&t);
	CHECK_INT_EQ(trigger_start(&t, INT64_MIN, 1, 1), 0);
	CHECK_INT_EQ(t.start_ms, INT64_MIN);
	CHECK_INT_EQ(trigger_update(&t, INT64_MIN + SEC), TRIGGER_IDLE);
}

TEST(trigger_phase_names)
{
	static const struct {
		enum trigger_phase phase;
		const char *name;
	} rows[] = {
	    {TRIGGER_IDLE, "idle"},
	    {TRIGGER_RUNNING, "running"},
	    {TRIGGER_SILENCED, "silenced"},
	    {(enum trigger_phase)3, "unknown"},
	    {(enum trigger_phase) - 1, "unknown"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		harness_context("row %zu", i);
		CHECK_STR_EQ(trigger_phase_name(rows[i].phase), rows[i].name);
	}
}

int main(void)
{
	RUN(trigger_timelines);
	RUN(trigger_init_is_idle);
	RUN(trigger_start_records_the_task);
	RUN(trigger_start_before_previous_start);
	RUN(trigger_extreme_times);
	RUN(trigger_phase_names);
	return harness_finish();
}
