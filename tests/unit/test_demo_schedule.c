/* Unit tests of the demo's schedule (src/demo/schedule.c). */
#include <errno.h>

#include "demo/demo.h"
#include "harness.h"

TEST(schedule_parses_three_numbers)
{
	struct demo_schedule s = {0};

	CHECK_INT_EQ(demo_schedule_parse("20,40,30", &s), 0);
	CHECK_INT_EQ(s.warmup_s, 20);
	CHECK_INT_EQ(s.trouble_s, 40);
	CHECK_INT_EQ(s.calm_s, 30);
	CHECK_INT_EQ(demo_schedule_parse("0,1,0", &s), 0);
	CHECK_INT_EQ(s.trouble_s, 1);
	CHECK_INT_EQ(demo_cycle_ms(&s), 4000);
}

TEST(schedule_refuses_bad_text)
{
	static const char *const bad[] = {
	    "",
	    "20,40",
	    "20,40,30,1",
	    "20,0,30",
	    "a,1,2",
	    "-1,2,3",
	    "1,3601,1",
	    "1,,2",
	    NULL,
	    "1111111111111111111111111111111111111111111111111111111111111111111111,1,1"};
	struct demo_schedule s = {.warmup_s = 7};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		harness_context("text %s", bad[i] ? bad[i] : "(null)");
		CHECK_INT_EQ(demo_schedule_parse(bad[i], &s), -EINVAL);
	}
	CHECK_INT_EQ(s.warmup_s, 7);
}

TEST(phases_follow_warmup_then_trouble_and_calm_in_turn)
{
	struct demo_schedule s = {.warmup_s = 6, .trouble_s = 10, .calm_s = 5};
	static const struct {
		int64_t at_ms;
		enum demo_phase phase;
		int64_t end_ms;
	} rows[] = {
	    {0, DEMO_PHASE_CALM, 6000},
	    {5999, DEMO_PHASE_CALM, 6000},
	    {6000, DEMO_PHASE_CPU, 16000},
	    {15999, DEMO_PHASE_CPU, 16000},
	    {16000, DEMO_PHASE_CALM, 21000},
	    {21000, DEMO_PHASE_ERRORS, 31000},
	    {31000, DEMO_PHASE_CALM, 36000},
	    {36000, DEMO_PHASE_SLOW, 46000},
	    {51000, DEMO_PHASE_THREADS, 61000},
	    {61000, DEMO_PHASE_CALM, 66000},
	    {66000, DEMO_PHASE_CPU, 76000}, /* the next cycle */
	    {66000 + 60000 * 9, DEMO_PHASE_CPU, 76000 + 60000 * 9},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t end = -1;

		harness_context("row %zu at %lld ms", i, (long long)rows[i].at_ms);
		CHECK_INT_EQ(demo_phase_at(&s, rows[i].at_ms, &end), rows[i].phase);
		harness_context("row %zu at %lld ms", i, (long long)rows[i].at_ms);
		CHECK_INT_EQ(end, rows[i].end_ms);
	}
	CHECK_INT_EQ(demo_phase_at(&s, 7000, NULL), DEMO_PHASE_CPU);
}

TEST(phase_names)
{
	CHECK_STR_EQ(demo_phase_name(DEMO_PHASE_CALM), "calm");
	CHECK_STR_EQ(demo_phase_name(DEMO_PHASE_CPU), "cpu");
	CHECK_STR_EQ(demo_phase_name(DEMO_PHASE_ERRORS), "errors");
	CHECK_STR_EQ(demo_phase_name(DEMO_PHASE_SLOW), "slow");
	CHECK_STR_EQ(demo_phase_name(DEMO_PHASE_THREADS), "threads");
	CHECK_STR_EQ(demo_phase_name((enum demo_phase)99), "?");
}

int main(void)
{
	RUN(schedule_parses_three_numbers);
	RUN(schedule_refuses_bad_text);
	RUN(phases_follow_warmup_then_trouble_and_calm_in_turn);
	RUN(phase_names);
	return harness_finish();
}
