/* Unit tests for agent/engine: the trigger semantics of DESIGN.md section 2
 * driven through real policies and hand-fed seconds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/engine.h"
#include "harness.h"

#define MAX_SEEN 16

struct seen {
	struct engine_decision d[MAX_SEEN];
	int n;
};

static void collect(const struct engine_decision *d, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < MAX_SEEN)
		s->d[s->n] = *d;
	s->n++;
}

static struct policy *parse(const char *json)
{
	struct policy *p = NULL;
	struct policy_errors errs = {0};

	if (policy_parse(json, strlen(json), &p, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "policy: %s\n", errs.reasons[i]);
		policy_errors_clear(&errs);
	}
	CHECK(p != NULL);
	return p;
}

static int tick(struct engine *e, int64_t second, struct seen *s)
{
	s->n = 0;
	return engine_tick(e, second, second * 1000, collect, s);
}

static const char *CPU_POLICY =
    "{\"service\":\"web\",\"targets\":[{\"target\":\"ON_CPU\",\"duration\":30,"
    "\"silence\":60,\"items\":[{\"monitor\":\"PROCESS_CPU\",\"threshold\":80,"
    "\"period\":5,\"count\":3}]}]}";

TEST(triggers_on_the_count_th_matching_second_with_cause)
{
	struct engine *e = engine_new(600, 1200);
	struct seen s;

	CHECK_INT_EQ(engine_set_policy(e, parse(CPU_POLICY)), 0);
	CHECK_INT_EQ(engine_add_process(e, "p1", "web", "host-a"), 0);
	CHECK_INT_EQ(engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, 100, 90), 0);
	CHECK_INT_EQ(tick(e, 100, &s), 0);
	CHECK_INT_EQ(engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, 101, 50), 0);
	CHECK_INT_EQ(tick(e, 101, &s), 0);
	CHECK_INT_EQ(engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, 102, 80), 0);
	CHECK_INT_EQ(tick(e, 102, &s), 0);
	CHECK_INT_EQ(engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, 103, 95), 0);
	CHECK_INT_EQ(tick(e, 103, &s), 1);
	CHECK_INT_EQ(s.d[0].target, POLICY_TARGET_ON_CPU);
	CHECK_STR_EQ(s.d[0].process_id, "p1");
	CHECK_STR_EQ(s.d[0].service, "web");
	CHECK_STR_EQ(s.d[0].instance, "host-a");
	CHECK_INT_EQ(s.d[0].duration_s, 30);
	CHECK_INT_EQ(s.d[0].silence_s, 60);
	CHECK_INT_EQ(s.d[0].cause.monitor, POLICY_MONITOR_PROCESS_CPU);
	CHECK_INT_EQ(s.d[0].cause.matched, 3);
	CHECK_INT_EQ(s.d[0].cause.count, 3);
	CHECK_INT_EQ(s.d[0].cause.period_s, 5);
	CHECK_DBL_EQ(s.d[0].cause.current, 95);
	CHECK_DBL_EQ(s.d[0].cause.peak, 95);
	CHECK_DBL_EQ(s.d[0].cause.threshold, 80);
	CHECK(strstr(s.d[0].cause.message, "PROCESS_CPU >= 80 % in 3 of the last 5 s") != NULL);
	engine_free(e);
}

TEST(no_new_task_within_silence_of_the_start)
{
	struct engine *e = engine_new(600, 1200);
	struct seen s;
	int64_t t;

	engine_set_policy(e, parse(CPU_POLICY));
	engine_add_process(e, "p1", "web", "host-a");
	for (t = 100; t < 103; t++)
		engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, t, 99);
	CHECK_INT_EQ(tick(e, 102, &s), 1);
	/* The condition keeps holding: silence is 60 s from the start at 102. */
	for (t = 103; t < 162; t++) {
		engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, t, 99);
		harness_context("second %lld", (long long)t);
		CHECK_INT_EQ(tick(e, t, &s), 0);
	}
	engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, 162, 99);
	CHECK_INT_EQ(tick(e, 162, &s), 1);
	engine_free(e);
}

TEST(items_with_different_periods_share_one_series)
{
	static const char *json =
	    "{\"service\":\"web\",\"targets\":["
	    "{\"target\":\"ON_CPU\",\"items\":[{\"monitor\":\"PROCESS_CPU\",\"threshold\":50,"
	    "\"period\":10,\"count\":6}]},"
	    "{\"target\":\"OFF_CPU\",\"items\":[{\"monitor\":\"PROCESS_CPU\",\"threshold\":50,"
	    "\"period\":3,\"count\":3}]}]}";
	struct engine *e = engine_new(600, 1200);
	struct seen s;

	engine_set_policy(e, parse(json));
	engine_add_process(e, "p1", "web", "i");
	for (int64_t t = 1; t <= 3; t++)
		engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, t, 60);
	CHECK_INT_EQ(tick(e, 3, &s), 1);
	CHECK_INT_EQ(s.d[0].target, POLICY_TARGET_OFF_CPU);
	for (int64_t t = 4; t <= 6; t++)
		engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, t, 60);
	CHECK_INT_EQ(tick(e, 6, &s), 1);
	CHECK_INT_EQ(s.d[0].target, POLICY_TARGET_ON_CPU);
	CHECK_INT_EQ(s.d[0].cause.matched, 6);
	engine_free(e);
}

TEST(network_triggers_once_per_instance)
{
	static const char *json =
	    "{\"service\":\"web\",\"targets\":[{\"target\":\"NETWORK\",\"items\":["
	    "{\"monitor\":\"PROCESS_THREAD_COUNT\",\"threshold\":10,\"period\":1,\"count\":1}]}]}";
	struct engine *e = engine_new(600, 1200);
	struct seen s;

	engine_set_policy(e, parse(json));
	engine_add_process(e, "a1", "web", "inst-a");
	engine_add_process(e, "a2", "web", "inst-a");
	engine_add_process(e, "b1", "web", "inst-b");
	engine_record(e, "a1", POLICY_MONITOR_PROCESS_THREAD_COUNT, 5, 20);
	engine_record(e, "a2", POLICY_MONITOR_PROCESS_THREAD_COUNT, 5, 30);
	engine_record(e, "b1", POLICY_MONITOR_PROCESS_THREAD_COUNT, 5, 3);
	CHECK_INT_EQ(tick(e, 5, &s), 1);
	CHECK_STR_EQ(s.d[0].instance, "inst-a");
	CHECK_STR_EQ(s.d[0].process_id, "a1");
	engine_record(e, "b1", POLICY_MONITOR_PROCESS_THREAD_COUNT, 6, 11);
	CHECK_INT_EQ(tick(e, 6, &s), 1);
	CHECK_STR_EQ(s.d[0].instance, "inst-b");
	engine_free(e);
}

TEST(system_load_holds_for_every_process_of_the_service)
{
	static const char *json =
	    "{\"service\":\"web\",\"targets\":[{\"target\":\"ON_CPU\",\"items\":["
	    "{\"monitor\":\"SYSTEM_LOAD\",\"threshold\":1.5,\"period\":2,\"count\":2}]}]}";
	struct engine *e = engine_new(600, 1200);
	struct seen s;

	engine_set_policy(e, parse(json));
	engine_add_process(e, "p1", "web", "i");
	engine_add_process(e, "p2", "web", "i");
	engine_add_process(e, "q1", "other", "i");
	engine_record_system_load(e, 10, 1.5);
	CHECK_INT_EQ(tick(e, 10, &s), 0);
	engine_record_system_load(e, 11, 2.25);
	CHECK_INT_EQ(tick(e, 11, &s), 2);
	CHECK_STR_EQ(s.d[0].process_id, "p1");
	CHECK_STR_EQ(s.d[1].process_id, "p2");
	CHECK_DBL_EQ(s.d[1].cause.peak, 2.25);
	CHECK_INT_EQ(s.d[1].duration_s, 600);
	CHECK_INT_EQ(s.d[1].silence_s, 1200);
	engine_free(e);
}

TEST(http_items_are_per_target_series)
{
	static const char *json =
	    "{\"service\":\"api\",\"targets\":[{\"target\":\"NETWORK\",\"items\":["
	    "{\"monitor\":\"HTTP_ERROR_RATE\",\"threshold\":10,\"period\":3,\"count\":2,"
	    "\"uri_regex\":\"^/api/\"}]}]}";
	struct engine *e = engine_new(600, 1200);
	struct seen s;

	engine_set_policy(e, parse(json));
	engine_add_process(e, "p", "api", "i");
	CHECK_INT_EQ(engine_record_http(e, "p", POLICY_TARGET_NETWORK,
					POLICY_MONITOR_HTTP_ERROR_RATE, 1, 50),
		     0);
	CHECK_INT_EQ(
	    engine_record_http(e, "p", POLICY_TARGET_ON_CPU, POLICY_MONITOR_HTTP_ERROR_RATE, 2, 50),
	    0); /* no item reads it: ignored */
	CHECK_INT_EQ(tick(e, 2, &s), 0);
	engine_record_http(e, "p", POLICY_TARGET_NETWORK, POLICY_MONITOR_HTTP_ERROR_RATE, 3, 12);
	CHECK_INT_EQ(tick(e, 3, &s), 1);
	CHECK_STR_EQ(s.d[0].cause.uri, "^/api/");
	CHECK(strstr(s.d[0].cause.message, "uri ^/api/") != NULL);
	CHECK_INT_EQ(
	    engine_record_http(e, "p", POLICY_TARGET_NETWORK, POLICY_MONITOR_PROCESS_CPU, 3, 1),
	    -EINVAL);
	engine_free(e);
}

TEST(manual_tasks_share_the_trigger_state)
{
	struct engine *e = engine_new(600, 1200);
	struct engine_decision d;
	struct seen s;

	engine_set_policy(e, parse(CPU_POLICY));
	engine_add_process(e, "p1", "web", "i");
	CHECK_INT_EQ(engine_start_manual(e, "nope", POLICY_TARGET_ON_CPU, 10, 0, &d), -ENOENT);
	CHECK_INT_EQ(engine_start_manual(e, "p1", POLICY_TARGET_ON_CPU, 10, 1000, &d), 0);
	CHECK_STR_EQ(d.cause.message, "manual");
	CHECK_INT_EQ(d.duration_s, 10);
	CHECK_INT_EQ(engine_start_manual(e, "p1", POLICY_TARGET_ON_CPU, 10, 5000, &d), -EBUSY);
	/* The policy cannot start a second ON_CPU task while the manual one runs. */
	for (int64_t t = 1; t <= 5; t++)
		engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, t, 99);
	CHECK_INT_EQ(tick(e, 5, &s), 0);
	/* After it ends (10 s), the policy may trigger. */
	for (int64_t t = 6; t <= 11; t++)
		engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, t, 99);
	CHECK_INT_EQ(tick(e, 11, &s), 1);
	CHECK_INT_EQ(engine_start_manual(e, "p1", POLICY_TARGET_OFF_CPU, 10, 11000, &d), 0);
	CHECK_INT_EQ(engine_start_manual(e, "p1", POLICY_TARGET_NETWORK, 10, 11000, &d), 0);
	CHECK_STR_EQ(d.instance, "i");
	CHECK_INT_EQ(engine_start_manual(e, "p1", POLICY_TARGET_NETWORK, 0, 11000, &d), -EINVAL);
	engine_free(e);
}

TEST(task_ended_early_keeps_silence_from_start)
{
	struct engine *e = engine_new(600, 1200);
	struct seen s;

	engine_set_policy(e, parse(CPU_POLICY)); /* duration 30, silence 60 */
	engine_add_process(e, "p1", "web", "i");
	for (int64_t t = 1; t <= 3; t++)
		engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, t, 99);
	CHECK_INT_EQ(tick(e, 3, &s), 1);
	engine_task_ended(e, "web", "p1", POLICY_TARGET_ON_CPU, 5000);
	for (int64_t t = 4; t <= 62; t++)
		engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, t, 99);
	CHECK_INT_EQ(tick(e, 62, &s), 0);
	engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, 63, 99);
	CHECK_INT_EQ(tick(e, 63, &s), 1);
	engine_free(e);
}

TEST(policy_replacement_and_removal)
{
	static const char *looser =
	    "{\"service\":\"web\",\"targets\":[{\"target\":\"ON_CPU\",\"items\":["
	    "{\"monitor\":\"PROCESS_CPU\",\"threshold\":40,\"period\":5,\"count\":2}]}]}";
	struct engine *e = engine_new(600, 1200);
	struct seen s;

	engine_set_policy(e, parse(CPU_POLICY));
	engine_add_process(e, "p1", "web", "i");
	CHECK(engine_watches_service(e, "web"));
	CHECK(!engine_watches_service(e, "db"));
	engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, 1, 45);
	engine_record(e, "p1", POLICY_MONITOR_PROCESS_CPU, 2, 45);
	CHECK_INT_EQ(tick(e, 2, &s), 0);
	/* Recorded seconds are kept across the policy change. */
	CHECK_INT_EQ(engine_set_policy(e, parse(looser)), 0);
	CHECK_INT_EQ(tick(e, 2, &s), 1);
	engine_remove_policy(e, "web");
	CHECK(engine_policy(e, "web") == NULL);
	CHECK_INT_EQ(tick(e, 3, &s), 0);
	engine_remove_policy(e, "web");
	engine_free(e);
}

TEST(bad_input_is_refused)
{
	struct engine *e = engine_new(600, 1200);
	char long_id[ENGINE_ID_MAX + 8];

	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	CHECK_INT_EQ(engine_add_process(e, long_id, "web", "i"), -ENAMETOOLONG);
	CHECK_INT_EQ(engine_record(e, "nope", POLICY_MONITOR_PROCESS_CPU, 1, 1), -ENOENT);
	CHECK_INT_EQ(engine_record(e, "nope", POLICY_MONITOR_SYSTEM_LOAD, 1, 1), -EINVAL);
	CHECK_INT_EQ(engine_record_system_load(e, 1, 1), 0); /* nobody reads it */
	engine_add_process(e, "p1", "web", "i");
	engine_add_process(e, "p0", "web", "i");
	CHECK_INT_EQ(engine_process_count(e), 2);
	engine_remove_process(e, "p1");
	engine_remove_process(e, "p1");
	CHECK_INT_EQ(engine_process_count(e), 1);
	CHECK(engine_free(NULL) == NULL);
	engine_free(e);
}

int main(void)
{
	RUN(triggers_on_the_count_th_matching_second_with_cause);
	RUN(no_new_task_within_silence_of_the_start);
	RUN(items_with_different_periods_share_one_series);
	RUN(network_triggers_once_per_instance);
	RUN(system_load_holds_for_every_process_of_the_service);
	RUN(http_items_are_per_target_series);
	RUN(manual_tasks_share_the_trigger_state);
	RUN(task_ended_early_keeps_silence_from_start);
	RUN(policy_replacement_and_removal);
	RUN(bad_input_is_refused);
	return harness_finish();
}
