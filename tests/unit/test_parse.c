/* Unit tests of util/parse: checked numbers, durations and points in time
 * (absolute Unix ms, "now", relative "-10m"). Outputs are written only on
 * success. */
#include <errno.h>
#include <stdint.h>

#include "harness.h"

#include "util/parse.h"

#define NOW_MS 1764061200000LL /* 2025-11-25 09:00:00 UTC */

TEST(u32_and_u64_accept_whole_numbers_only)
{
	uint32_t v32 = 7;
	uint64_t v64 = 7;

	CHECK_INT_EQ(parse_u32("0", &v32), 0);
	CHECK_INT_EQ(v32, 0);
	CHECK_INT_EQ(parse_u32("4294967295", &v32), 0);
	CHECK_INT_EQ(v32, UINT32_MAX);
	CHECK_INT_EQ(parse_u32("4294967296", &v32), -ERANGE);
	CHECK_INT_EQ(v32, UINT32_MAX);
	CHECK_INT_EQ(parse_u32("-1", &v32), -EINVAL);
	CHECK_INT_EQ(parse_u32(" 1", &v32), -EINVAL);
	CHECK_INT_EQ(parse_u32("1x", &v32), -EINVAL);
	CHECK_INT_EQ(parse_u32("", &v32), -EINVAL);
	CHECK_INT_EQ(parse_u32(NULL, &v32), -EINVAL);
	CHECK_INT_EQ(parse_u64("18446744073709551615", &v64), 0);
	CHECK(v64 == UINT64_MAX);
	CHECK_INT_EQ(parse_u64("18446744073709551616", &v64), -ERANGE);
}

TEST(i64_and_double)
{
	int64_t i = 0;
	double d = 0;

	CHECK_INT_EQ(parse_i64("-42", &i), 0);
	CHECK_INT_EQ(i, -42);
	CHECK_INT_EQ(parse_i64("-", &i), -EINVAL);
	CHECK_INT_EQ(parse_i64("9223372036854775808", &i), -ERANGE);
	CHECK_INT_EQ(parse_double("0.25", &d), 0);
	CHECK_DBL_EQ(d, 0.25);
	CHECK_INT_EQ(parse_double("nan", &d), -ERANGE);
	CHECK_INT_EQ(parse_double("1e400", &d), -ERANGE);
	CHECK_INT_EQ(parse_double(" 1", &d), -EINVAL);
	CHECK_INT_EQ(parse_double("1.5kg", &d), -EINVAL);
}

TEST(durations_with_units)
{
	static const struct {
		const char *text;
		int64_t ms;
	} ok[] = {{"90", 90000},      {"90s", 90000},	 {"15m", 900000},
		  {"48h", 172800000}, {"7d", 604800000}, {"0", 0}};
	int64_t ms = -1;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		harness_context("%s", ok[i].text);
		CHECK_INT_EQ(parse_duration_ms(ok[i].text, &ms), 0);
		CHECK_INT_EQ(ms, ok[i].ms);
	}
	ms = -1;
	CHECK_INT_EQ(parse_duration_ms("3x", &ms), -EINVAL);
	CHECK_INT_EQ(parse_duration_ms("3hh", &ms), -EINVAL);
	CHECK_INT_EQ(parse_duration_ms("h", &ms), -EINVAL);
	CHECK_INT_EQ(parse_duration_ms("-5m", &ms), -EINVAL);
	CHECK_INT_EQ(parse_duration_ms("106751991167301d", &ms), -ERANGE);
	CHECK_INT_EQ(ms, -1);
}

TEST(time_absolute_now_and_relative)
{
	int64_t t = -1;

	CHECK_INT_EQ(parse_time_ms("1764061200000", NOW_MS, &t), 0);
	CHECK_INT_EQ(t, 1764061200000LL);
	CHECK_INT_EQ(parse_time_ms("now", NOW_MS, &t), 0);
	CHECK_INT_EQ(t, NOW_MS);
	CHECK_INT_EQ(parse_time_ms("-10m", NOW_MS, &t), 0);
	CHECK_INT_EQ(t, NOW_MS - 600000);
	CHECK_INT_EQ(parse_time_ms("-90", NOW_MS, &t), 0);
	CHECK_INT_EQ(t, NOW_MS - 90000);
	CHECK_INT_EQ(parse_time_ms("-48h", NOW_MS, &t), 0);
	CHECK_INT_EQ(t, NOW_MS - 48LL * 3600 * 1000);
}

TEST(time_refuses_garbage_and_out_of_range)
{
	int64_t t = 5;

	CHECK_INT_EQ(parse_time_ms("", NOW_MS, &t), -EINVAL);
	CHECK_INT_EQ(parse_time_ms(NULL, NOW_MS, &t), -EINVAL);
	CHECK_INT_EQ(parse_time_ms("-", NOW_MS, &t), -EINVAL);
	CHECK_INT_EQ(parse_time_ms("-10x", NOW_MS, &t), -EINVAL);
	CHECK_INT_EQ(parse_time_ms("+10m", NOW_MS, &t), -EINVAL);
	CHECK_INT_EQ(parse_time_ms("yesterday", NOW_MS, &t), -EINVAL);
	CHECK_INT_EQ(parse_time_ms("12.5", NOW_MS, &t), -EINVAL);
	CHECK_INT_EQ(parse_time_ms("0", NOW_MS, &t), -ERANGE);
	CHECK_INT_EQ(parse_time_ms("--10m", NOW_MS, &t), -EINVAL);
	/* Further back than the epoch. */
	CHECK_INT_EQ(parse_time_ms("-100000d", NOW_MS, &t), -ERANGE);
	CHECK_INT_EQ(t, 5);
}

int main(void)
{
	RUN(u32_and_u64_accept_whole_numbers_only);
	RUN(i64_and_double);
	RUN(durations_with_units);
	RUN(time_absolute_now_and_relative);
	RUN(time_refuses_garbage_and_out_of_range);
	return harness_finish();
}
