/* Unit tests for agent/health: the Prometheus text of the agent's figures
 * (every figure once, with HELP and TYPE, values as given) and the reading of
 * the process's own CPU time and RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/health.h"
#include "harness.h"

/* The value of the sample line `name` in `text`, or -1 when absent. */
static double sample_of(const char *text, const char *name)
{
	char key[128];
	const char *at;

	snprintf(key, sizeof(key), "\n%s ", name);
	at = strstr(text, key);
	return at ? strtod(at + strlen(key), NULL) : -1;
}

static size_t count_of(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *at = strstr(text, needle); at; at = strstr(at + 1, needle))
		n++;
	return n;
}

TEST(render_every_figure_with_help_type_and_value)
{
	struct health_figures f = {
	    .discovered_processes = 120,
	    .watched_processes = 100,
	    .policies = 10,
	    .ticks = 61,
	    .tick_overruns = 2,
	    .tick_last_s = 0.0015,
	    .tick_max_s = 0.12,
	    .tasks_running = 3,
	    .tasks_started = 7,
	    .tasks_failed = 1,
	    .uplink = {.spool_records = 4,
		       .spool_bytes = 4096,
		       .metrics_buffered = 300,
		       .metrics_dropped = 20000,
		       .metrics_sent = 123456,
		       .messages_sent = 11,
		       .messages_rejected = 5,
		       .spool_full_dropped = 6,
		       .spool_write_errors = 9,
		       .profile_samples_spooled = 4242,
		       .server_reachable = true},
	    .procevents_active = true,
	    .httpmon_loading = true,
	    .httpmon_load_s = 0.75,
	    .procevents_dropped = 8,
	    .rescans_forced = 2,
	    .discover_dropped = 9,
	    .cpu_seconds = 12.5,
	    .cpu_percent = 0.25,
	    .rss_bytes = 15 * 1024 * 1024,
	};
	size_t len = 0;
	char *text = health_render(&f, &len);

	if (!CHECK(text != NULL))
		return;
	CHECK_INT_EQ(len, strlen(text));
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_discovered_processes"), 120);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_watched_processes"), 100);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_policies"), 10);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_ticks_total"), 61);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_tick_overruns_total"), 2);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_tick_duration_seconds"), 0.0015);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_tick_duration_max_seconds"), 0.12);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_tasks_running"), 3);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_tasks_started_total"), 7);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_tasks_failed_total"), 1);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_spool_records"), 4);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_spool_bytes"), 4096);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_metrics_buffered"), 300);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_metrics_dropped_total"), 20000);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_metrics_sent_total"), 123456);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_messages_sent_total"), 11);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_messages_rejected_total"), 5);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_spool_full_dropped_total"), 6);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_spool_write_errors_total"), 9);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_profile_samples_spooled_total"), 4242);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_server_reachable"), 1);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_procevents_active"), 1);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_httpmon_loading"), 1);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_httpmon_loaded"), 0);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_httpmon_load_seconds"), 0.75);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_procevents_dropped_total"), 8);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_rescans_forced_total"), 2);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_discover_dropped_total"), 9);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_cpu_seconds_total"), 12.5);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_cpu_percent"), 0.25);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_resident_memory_bytes"), 15 * 1024 * 1024);
	/* One HELP and one TYPE per figure, counters named _total. */
	CHECK_INT_EQ(count_of(text, "# HELP "), count_of(text, "# TYPE "));
	CHECK_INT_EQ(count_of(text, "# HELP "), 31);
	CHECK(strstr(text, "# TYPE contprof_agent_metrics_dropped_total counter\n") != NULL);
	CHECK(strstr(text, "# TYPE contprof_agent_spool_records gauge\n") != NULL);
	CHECK(text[len - 1] == '\n');
	free(text);
}

TEST(render_zero_figures)
{
	struct health_figures f;
	size_t len = 0;
	char *text;

	memset(&f, 0, sizeof(f));
	text = health_render(&f, &len);
	if (!CHECK(text != NULL))
		return;
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_server_reachable"), 0);
	CHECK_DBL_EQ(sample_of(text, "contprof_agent_watched_processes"), 0);
	free(text);
}

TEST(self_usage_reads_cpu_and_rss)
{
	volatile unsigned long sink = 0;
	double cpu_before = 0, cpu_after = 0;
	uint64_t rss = 0;

	CHECK_INT_EQ(health_self_usage(&cpu_before, &rss), 0);
	CHECK(rss > 100 * 1024);
	for (unsigned long i = 0; i < 200000000UL; i++)
		sink += i;
	CHECK_INT_EQ(health_self_usage(&cpu_after, &rss), 0);
	CHECK(cpu_after > cpu_before);
}

int main(void)
{
	RUN(render_every_figure_with_help_type_and_value);
	RUN(render_zero_figures);
	RUN(self_usage_reads_cpu_and_rss);
	return harness_finish();
}
