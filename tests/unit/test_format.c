/* Unit tests of cli/format: relative times, spans, byte sizes, values and
 * local times as the tables show them. */
#include <stdlib.h>
#include <time.h>

#include "harness.h"

#include "cli/format.h"

#define NOW_MS 1764061200000LL

TEST(ago_picks_the_largest_whole_unit)
{
	char buf[FORMAT_BUF_LEN];

	CHECK_STR_EQ(format_ago(NOW_MS, NOW_MS - 3000, buf), "3s ago");
	CHECK_STR_EQ(format_ago(NOW_MS, NOW_MS - 59999, buf), "59s ago");
	CHECK_STR_EQ(format_ago(NOW_MS, NOW_MS - 60000, buf), "1m ago");
	CHECK_STR_EQ(format_ago(NOW_MS, NOW_MS - 3599999, buf), "59m ago");
	CHECK_STR_EQ(format_ago(NOW_MS, NOW_MS - 5 * 3600000LL, buf), "5h ago");
	CHECK_STR_EQ(format_ago(NOW_MS, NOW_MS - 49 * 3600000LL, buf), "2d ago");
	CHECK_STR_EQ(format_ago(NOW_MS, NOW_MS - 400, buf), "just now");
	CHECK_STR_EQ(format_ago(NOW_MS, NOW_MS + 400, buf), "just now");
	CHECK_STR_EQ(format_ago(NOW_MS, NOW_MS + 4000, buf), "in 4s");
	CHECK_STR_EQ(format_ago(NOW_MS, 0, buf), "-");
}

TEST(durations_keep_two_units)
{
	char buf[FORMAT_BUF_LEN];

	CHECK_STR_EQ(format_duration_ms(850, buf), "850ms");
	CHECK_STR_EQ(format_duration_ms(12000, buf), "12s");
	CHECK_STR_EQ(format_duration_ms(303000, buf), "5m03s");
	CHECK_STR_EQ(format_duration_ms(3720000, buf), "1h02m");
	CHECK_STR_EQ(format_duration_ms(2 * 86400000LL + 3 * 3600000LL, buf), "2d03h");
	CHECK_STR_EQ(format_duration_ms(-1, buf), "-");
}

TEST(bytes_in_binary_units)
{
	char buf[FORMAT_BUF_LEN];

	CHECK_STR_EQ(format_bytes(512, buf), "512 B");
	CHECK_STR_EQ(format_bytes(1536, buf), "1.5 KiB");
	CHECK_STR_EQ(format_bytes(3.2 * 1024 * 1024, buf), "3.2 MiB");
	CHECK_STR_EQ(format_bytes(7.0 * 1024 * 1024 * 1024, buf), "7.0 GiB");
	CHECK_STR_EQ(format_bytes(0, buf), "0 B");
}

TEST(values_in_their_shortest_form)
{
	char buf[FORMAT_BUF_LEN];

	CHECK_STR_EQ(format_value(80, buf), "80");
	CHECK_STR_EQ(format_value(0.5, buf), "0.5");
	CHECK_STR_EQ(format_value(47.4505, buf), "47.45");
	CHECK_STR_EQ(format_value(91.5, buf), "91.5");
	CHECK_STR_EQ(format_value(4.1, buf), "4.1");
	CHECK_STR_EQ(format_value(99.999, buf), "100");
	CHECK_STR_EQ(format_value(1.0 / 3, buf), "0.333");
	CHECK_STR_EQ(format_value(0.00412, buf), "0.00412");
	CHECK_STR_EQ(format_value(-2, buf), "-2");
	CHECK_STR_EQ(format_value(-12.5, buf), "-12.5");
}

TEST(local_time)
{
	char buf[FORMAT_BUF_LEN];

	setenv("TZ", "UTC", 1);
	tzset();
	CHECK_STR_EQ(format_time_ms(NOW_MS + 3500, buf), "2025-11-25 09:00:03");
	CHECK_STR_EQ(format_time_ms(0, buf), "-");
	CHECK(format_now_ms() > NOW_MS);
}

int main(void)
{
	RUN(ago_picks_the_largest_whole_unit);
	RUN(durations_keep_two_units);
	RUN(bytes_in_binary_units);
	RUN(values_in_their_shortest_form);
	RUN(local_time);
	return harness_finish();
}
