/* Unit tests of core/window: the exact check of DESIGN.md section 2. */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "core/policy.h"
#include "core/window.h"

#define HIGH	  90.0
#define LOW	  10.0
#define THRESHOLD 80.0

struct sample {
	int64_t second;
	double value;
};

/* A window of `capacity_s` with `value` recorded for every second of
 * [first, last]. */
static struct window *window_filled(uint32_t capacity_s, int64_t first, int64_t last, double value)
{
	struct window *w = window_new(capacity_s);

	if (!CHECK(w))
		abort();
	for (int64_t s = first; s <= last; s++)
		CHECK_INT_EQ(window_record(w, s, value), 0);
	return w;
}

static struct window_result evaluate(const struct window *w, int64_t now_s, uint32_t period_s,
				     uint32_t count, double threshold)
{
	struct window_result r;

	memset(&r, 0xa5, sizeof(r));
	window_evaluate(w, now_s, period_s, count, threshold, &r);
	return r;
}

TEST(window_count_boundary)
{
	static const struct {
		uint32_t matching; /* seconds with a value >= threshold */
		uint32_t count;
		bool holds;
	} rows[] = {
	    {0, 1, false}, {1, 1, true},   {4, 5, false},  {5, 5, true},
	    {6, 5, true},  {9, 10, false}, {10, 10, true},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct window *w = window_new(10);
		struct window_result r;

		harness_context("row %zu: %u matching, count %u", i, rows[i].matching,
				rows[i].count);
		for (int64_t s = 91; s <= 100; s++) {
			double v =
			    (uint32_t)(s - 91) < rows[i].matching ? THRESHOLD : THRESHOLD - 0.001;

			CHECK_INT_EQ(window_record(w, s, v), 0);
		}
		r = evaluate(w, 100, 10, rows[i].count, THRESHOLD);
		CHECK_INT_EQ(r.matched, rows[i].matching);
		CHECK_INT_EQ(r.valued, 10);
		CHECK(r.holds == rows[i].holds);
		window_free(w);
	}
}

TEST(window_value_equal_to_threshold_matches)
{
	static const struct {
		double value, threshold;
		bool matches;
	} rows[] = {
	    {80.0, 80.0, true},	  {79.999999, 80.0, false}, {80.000001, 80.0, true},
	    {100.0, 100.0, true}, {0.5, 0.5, true},	    {0.1 + 0.2, 0.3, true},
	    {1e6, 1e6, true},	  {-1.0, 0.0, false},	    {INFINITY, 1e300, true},
	    {0.0, 0.0, true},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct window *w = window_filled(5, 7, 7, rows[i].value);
		struct window_result r = evaluate(w, 7, 5, 1, rows[i].threshold);

		harness_context("row %zu: %g >= %g", i, rows[i].value, rows[i].threshold);
		CHECK_INT_EQ(r.matched, rows[i].matches ? 1 : 0);
		CHECK(r.holds == rows[i].matches);
		window_free(w);
	}
}

TEST(window_periods_share_one_window)
{
	/* High at 75..79, low at 80..100: a 30 s item still sees the burst,
	 * a 10 s item no longer does. */
	struct window *w = window_filled(30, 75, 79, HIGH);
	struct window_result r;

	for (int64_t s = 80; s <= 100; s++)
		CHECK_INT_EQ(window_record(w, s, LOW), 0);

	r = evaluate(w, 100, 10, 5, THRESHOLD);
	CHECK_INT_EQ(r.matched, 0);
	CHECK_INT_EQ(r.valued, 10);
	CHECK(!r.holds);

	r = evaluate(w, 100, 30, 5, THRESHOLD);
	CHECK_INT_EQ(r.matched, 5);
	CHECK_INT_EQ(r.valued, 26);
	CHECK(r.holds);
	CHECK_DBL_EQ(r.peak, HIGH);
	CHECK_DBL_EQ(r.current, LOW);

	/* Back at 79: a 3 s item holds 3 of 3, a 10 s item only 5 of 6. */
	r = evaluate(w, 79, 3, 3, THRESHOLD);
	CHECK_INT_EQ(r.matched, 3);
	CHECK(r.holds);
	r = evaluate(w, 79, 10, 6, THRESHOLD);
	CHECK_INT_EQ(r.matched, 5);
	CHECK_INT_EQ(r.valued, 5);
	CHECK(!r.holds);
	window_free(w);
}

TEST(window_gap_longer_than_period_clears)
{
	struct window *w = window_filled(30, 1, 10, HIGH);
	struct window_result r;

	r = evaluate(w, 10, 10, 10, THRESHOLD);
	CHECK(r.holds);
	/* 11 s later the 10 s item sees nothing, the 30 s item everything. */
	r = evaluate(w, 21, 10, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 0);
	CHECK(!r.holds);
	CHECK(!r.has_current);
	r = evaluate(w, 21, 30, 10, THRESHOLD);
	CHECK_INT_EQ(r.valued, 10);
	CHECK(r.holds);
	window_free(w);
}

TEST(window_gap_longer_than_capacity_clears)
{
	struct window *w = window_filled(10, 1, 10, HIGH);
	struct window_result r;

	/* One new sample after a 20 s gap: the old seconds still sit in
	 * their slots but belong to no second of the period. */
	CHECK_INT_EQ(window_record(w, 30, LOW), 0);
	r = evaluate(w, 30, 10, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 1);
	CHECK_INT_EQ(r.matched, 0);
	CHECK(!r.holds);
	CHECK_DBL_EQ(r.current, LOW);
	CHECK_DBL_EQ(r.peak, LOW);
	r = evaluate(w, 1000000, 10, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 0);
	window_free(w);
}

TEST(window_stale_after_traffic_stops)
{
	static const struct {
		int64_t now_s;
		uint32_t matched;
		bool holds;
	} rows[] = {
	    {100, 10, true}, {104, 6, true},  {105, 5, true},
	    {106, 4, false}, {109, 1, false}, {110, 0, false},
	};
	struct window *w = window_filled(10, 91, 100, HIGH);

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct window_result r = evaluate(w, rows[i].now_s, 10, 5, THRESHOLD);

		harness_context("row %zu: now %lld", i, (long long)rows[i].now_s);
		CHECK_INT_EQ(r.matched, rows[i].matched);
		CHECK_INT_EQ(r.valued, rows[i].matched);
		CHECK(r.holds == rows[i].holds);
	}
	window_free(w);
}

TEST(window_same_second_twice_last_wins)
{
	static const struct {
		double first, second;
		uint32_t matched;
	} rows[] = {
	    {HIGH, LOW, 0},
	    {LOW, HIGH, 1},
	    {HIGH, HIGH, 1},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct window *w = window_filled(10, 100, 100, rows[i].first);
		struct window_result r;

		harness_context("row %zu", i);
		CHECK_INT_EQ(window_record(w, 100, rows[i].second), 0);
		r = evaluate(w, 100, 10, 1, THRESHOLD);
		CHECK_INT_EQ(r.valued, 1);
		CHECK_INT_EQ(r.matched, rows[i].matched);
		CHECK_DBL_EQ(r.current, rows[i].second);
		CHECK_DBL_EQ(r.peak, rows[i].second);
		window_free(w);
	}
}

TEST(window_out_of_order_within_capacity)
{
	static const struct sample samples[] = {
	    {100, 81}, {95, 95}, {98, 20}, {91, 99}, {99, 85}, {93, 80},
	};
	struct window *w = window_new(10);
	struct window_result r;

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		CHECK_INT_EQ(window_record(w, samples[i].second, samples[i].value), 0);
	r = evaluate(w, 100, 10, 5, THRESHOLD);
	CHECK_INT_EQ(r.valued, 6);
	CHECK_INT_EQ(r.matched, 5);
	CHECK(r.holds);
	CHECK_DBL_EQ(r.current, 81);
	CHECK_DBL_EQ(r.peak, 99);
	window_free(w);
}

TEST(window_too_old_is_stale)
{
	struct window *w = window_filled(10, 91, 100, HIGH);
	struct window_result r;

	/* 90 and 80 share slot 0 with 100. */
	CHECK_INT_EQ(window_record(w, 90, LOW), -ESTALE);
	CHECK_INT_EQ(window_record(w, 80, LOW), -ESTALE);
	CHECK_INT_EQ(window_record(w, INT64_MIN + 1, LOW), -ESTALE);
	r = evaluate(w, 100, 10, 10, THRESHOLD);
	CHECK_INT_EQ(r.matched, 10);
	CHECK(r.holds);
	CHECK_DBL_EQ(r.current, HIGH);
	/* 101 replaces 91; 91 is then stale. */
	CHECK_INT_EQ(window_record(w, 101, LOW), 0);
	CHECK_INT_EQ(window_record(w, 91, HIGH), -ESTALE);
	r = evaluate(w, 101, 10, 10, THRESHOLD);
	CHECK_INT_EQ(r.valued, 10);
	CHECK_INT_EQ(r.matched, 9);
	window_free(w);

	/* An old sample into an empty slot is kept but outside any period
	 * ending at the newer seconds; a newer one then replaces it. */
	w = window_filled(10, 100, 100, HIGH);
	CHECK_INT_EQ(window_record(w, 89, HIGH), 0);
	r = evaluate(w, 100, 10, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 1);
	CHECK_INT_EQ(window_record(w, 99, LOW), 0);
	CHECK_INT_EQ(window_record(w, 89, HIGH), -ESTALE);
	r = evaluate(w, 100, 10, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 2);
	CHECK_INT_EQ(r.matched, 1);
	window_free(w);
}

TEST(window_future_samples_ignored)
{
	struct window *w = window_filled(10, 95, 100, LOW);
	struct window_result r;

	for (int64_t s = 101; s <= 104; s++)
		CHECK_INT_EQ(window_record(w, s, HIGH), 0);
	r = evaluate(w, 100, 10, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 6);
	CHECK_INT_EQ(r.matched, 0);
	CHECK(!r.holds);
	CHECK_DBL_EQ(r.current, LOW);
	CHECK_DBL_EQ(r.peak, LOW);
	r = evaluate(w, 104, 10, 4, THRESHOLD);
	CHECK_INT_EQ(r.valued, 10);
	CHECK_INT_EQ(r.matched, 4);
	CHECK(r.holds);
	CHECK_DBL_EQ(r.current, HIGH);
	/* A future sample displaces the older second sharing its slot. */
	CHECK_INT_EQ(window_record(w, 105, HIGH), 0);
	r = evaluate(w, 100, 10, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 5);
	window_free(w);
}

TEST(window_period_clamped_to_capacity)
{
	static const struct {
		uint32_t period_s, count;
		uint32_t valued;
		bool holds;
	} rows[] = {
	    {3600, 5, 5, true}, {3600, 6, 5, false}, {5, 5, 5, true},  {6, 6, 5, false},
	    {2, 2, 2, true},	{0, 1, 0, false},    {0, 0, 0, false}, {1, 0, 1, true},
	};
	struct window *w = window_filled(5, 1, 10, HIGH);
	struct window_result r;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = evaluate(w, 10, rows[i].period_s, rows[i].count, THRESHOLD);

		harness_context("row %zu: period %u count %u", i, rows[i].period_s, rows[i].count);
		CHECK_INT_EQ(r.valued, rows[i].valued);
		CHECK_INT_EQ(r.matched, rows[i].valued);
		CHECK(r.holds == rows[i].holds);
	}
	window_free(w);

	/* Unclamped, a period of capacity + 1 would reach second 5, which
	 * still sits in the slot of second 10. */
	w = window_filled(5, 5, 5, HIGH);
	r = evaluate(w, 10, 6, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 0);
	CHECK(!r.holds);
	window_free(w);
}

TEST(window_count_zero_needs_a_match)
{
	struct window *w = window_filled(10, 1, 10, LOW);
	struct window_result r = evaluate(w, 10, 10, 0, THRESHOLD);

	CHECK_INT_EQ(r.matched, 0);
	CHECK(!r.holds);
	window_free(w);
}

TEST(window_current_and_peak)
{
	static const struct sample samples[] = {
	    {1, 500}, {5, 20}, {6, 70}, {7, 40}, {9, 30}, {12, 999},
	};
	struct window *w = window_new(10);
	struct window_result r;

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		CHECK_INT_EQ(window_record(w, samples[i].second, samples[i].value), 0);
	/* (1, 10]: 500 at 1 is out, 999 at 12 is in the future. */
	r = evaluate(w, 10, 9, 1, THRESHOLD);
	CHECK(r.has_current);
	CHECK_DBL_EQ(r.current, 30);
	CHECK_DBL_EQ(r.peak, 70);
	CHECK_INT_EQ(r.valued, 4);
	/* The newest valued second, not the newest second, is current. */
	r = evaluate(w, 8, 3, 1, THRESHOLD);
	CHECK_DBL_EQ(r.current, 40);
	CHECK_DBL_EQ(r.peak, 70);
	r = evaluate(w, 10, 10, 1, THRESHOLD);
	CHECK_DBL_EQ(r.peak, 500);
	/* Nothing in the period. */
	r = evaluate(w, 4, 2, 1, THRESHOLD);
	CHECK(!r.has_current);
	CHECK_INT_EQ(r.valued, 0);
	CHECK_DBL_EQ(r.current, 0);
	CHECK_DBL_EQ(r.peak, 0);
	window_free(w);

	/* All negative: the peak is the largest value, not 0. */
	w = window_new(4);
	CHECK_INT_EQ(window_record(w, 1, -5), 0);
	CHECK_INT_EQ(window_record(w, 2, -3), 0);
	CHECK_INT_EQ(window_record(w, 3, -9), 0);
	r = evaluate(w, 3, 4, 1, -4);
	CHECK_DBL_EQ(r.peak, -3);
	CHECK_DBL_EQ(r.current, -9);
	CHECK_INT_EQ(r.matched, 1);
	window_free(w);
}

TEST(window_negative_and_huge_seconds)
{
	struct window *w = window_new(10);
	struct window_result r;

	/* Around zero. */
	for (int64_t s = -3; s <= 3; s++)
		CHECK_INT_EQ(window_record(w, s, HIGH), 0);
	r = evaluate(w, 2, 5, 5, THRESHOLD);
	CHECK_INT_EQ(r.valued, 5);
	CHECK(r.holds);
	/* -13 shares the slot of -3 and is older. */
	CHECK_INT_EQ(window_record(w, -13, HIGH), -ESTALE);
	r = evaluate(w, -1, 10, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 3);
	window_free(w);

	/* At the top of the range. */
	w = window_new(7);
	CHECK_INT_EQ(window_record(w, INT64_MAX, HIGH), 0);
	CHECK_INT_EQ(window_record(w, INT64_MAX - 1, LOW), 0);
	CHECK_INT_EQ(window_record(w, INT64_MAX - 7, LOW), -ESTALE);
	r = evaluate(w, INT64_MAX, 7, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 2);
	CHECK_INT_EQ(r.matched, 1);
	CHECK_DBL_EQ(r.current, HIGH);
	r = evaluate(w, INT64_MAX - 1, 7, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 1);
	CHECK_DBL_EQ(r.current, LOW);
	window_free(w);

	/* At the bottom: INT64_MIN marks "no value" and cannot be recorded;
	 * a period reaching below the range stops at INT64_MIN + 1. */
	w = window_new(7);
	CHECK_INT_EQ(window_record(w, INT64_MIN, HIGH), -EINVAL);
	CHECK_INT_EQ(window_record(w, INT64_MIN + 1, HIGH), 0);
	CHECK_INT_EQ(window_record(w, INT64_MIN + 2, HIGH), 0);
	r = evaluate(w, INT64_MIN + 2, 7, 2, THRESHOLD);
	CHECK_INT_EQ(r.valued, 2);
	CHECK(r.holds);
	r = evaluate(w, INT64_MIN + 1, 7, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 1);
	r = evaluate(w, INT64_MIN, 7, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 0);
	CHECK(!r.holds);
	window_free(w);
}

TEST(window_nan_refused)
{
	struct window *w = window_filled(3, 5, 5, HIGH);
	struct window_result r;

	CHECK_INT_EQ(window_record(w, 5, NAN), -EINVAL);
	CHECK_INT_EQ(window_record(w, 6, NAN), -EINVAL);
	r = evaluate(w, 6, 3, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 1);
	CHECK_DBL_EQ(r.current, HIGH);
	window_free(w);
}

TEST(window_capacity_one)
{
	struct window *w = window_filled(1, 5, 5, HIGH);
	struct window_result r;

	CHECK_INT_EQ(window_record(w, 6, LOW), 0);
	CHECK_INT_EQ(window_record(w, 5, HIGH), -ESTALE);
	r = evaluate(w, 6, 10, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 1);
	CHECK(!r.holds);
	r = evaluate(w, 5, 1, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 0);
	window_free(w);
}

TEST(window_reserve_grows_keeping_data)
{
	struct window *w = window_filled(10, 91, 100, HIGH);
	struct window_result r;

	CHECK_INT_EQ(window_reserve(w, 30), 0);
	CHECK_INT_EQ(w->capacity_s, 30);
	r = evaluate(w, 100, 30, 10, THRESHOLD);
	CHECK_INT_EQ(r.valued, 10);
	CHECK(r.holds);
	/* The older seconds that did not fit before now do. */
	for (int64_t s = 71; s <= 90; s++)
		CHECK_INT_EQ(window_record(w, s, LOW), 0);
	r = evaluate(w, 100, 30, 10, THRESHOLD);
	CHECK_INT_EQ(r.valued, 30);
	CHECK_INT_EQ(r.matched, 10);
	r = evaluate(w, 90, 30, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 20);
	CHECK_INT_EQ(r.matched, 0);

	/* Shrinking or the same capacity changes nothing. */
	CHECK_INT_EQ(window_reserve(w, 5), 0);
	CHECK_INT_EQ(window_reserve(w, 30), 0);
	CHECK_INT_EQ(w->capacity_s, 30);
	r = evaluate(w, 100, 30, 10, THRESHOLD);
	CHECK_INT_EQ(r.valued, 30);

	/* Bad capacities are refused. */
	CHECK_INT_EQ(window_reserve(w, 0), -EINVAL);
	CHECK_INT_EQ(window_reserve(w, POLICY_PERIOD_MAX_S + 1), -EINVAL);
	CHECK_INT_EQ(w->capacity_s, 30);
	CHECK_INT_EQ(window_reserve(w, POLICY_PERIOD_MAX_S), 0);
	r = evaluate(w, 100, POLICY_PERIOD_MAX_S, 10, THRESHOLD);
	CHECK_INT_EQ(r.valued, 30);
	window_free(w);
}

TEST(window_reserve_collision_keeps_newer)
{
	/* Capacity 3: 0 in slot 0, 4 in slot 1. Capacity 4 puts both in
	 * slot 0; the newer second wins. */
	struct window *w = window_new(3);
	struct window_result r;

	CHECK_INT_EQ(window_record(w, 0, HIGH), 0);
	CHECK_INT_EQ(window_record(w, 4, LOW), 0);
	CHECK_INT_EQ(window_reserve(w, 4), 0);
	r = evaluate(w, 4, 4, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 1);
	CHECK_DBL_EQ(r.current, LOW);
	r = evaluate(w, 0, 4, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 0);
	CHECK_INT_EQ(window_record(w, 0, HIGH), -ESTALE);
	window_free(w);

	/* The same with the newer second in the lower old slot. */
	w = window_new(3);
	CHECK_INT_EQ(window_record(w, 1, HIGH), 0);
	CHECK_INT_EQ(window_record(w, 9, LOW), 0);
	CHECK_INT_EQ(window_reserve(w, 8), 0);
	r = evaluate(w, 9, 8, 1, THRESHOLD);
	CHECK_INT_EQ(r.valued, 1);
	CHECK_DBL_EQ(r.current, LOW);
	window_free(w);
}

TEST(window_bad_capacities)
{
	static const struct {
		uint32_t capacity_s;
		bool ok;
	} rows[] = {
	    {0, false},
	    {1, true},
	    {POLICY_PERIOD_MAX_S, true},
	    {POLICY_PERIOD_MAX_S + 1, false},
	    {UINT32_MAX, false},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct window *w = window_new(rows[i].capacity_s);

		harness_context("row %zu: capacity %u", i, rows[i].capacity_s);
		CHECK((w != NULL) == rows[i].ok);
		if (w) {
			struct window_result r = evaluate(w, 0, rows[i].capacity_s, 1, 0);

			CHECK_INT_EQ(w->capacity_s, rows[i].capacity_s);
			CHECK_INT_EQ(r.valued, 0);
		}
		CHECK(window_free(w) == NULL);
	}
	CHECK(window_free(NULL) == NULL);
}

/* Fails the allocation numbered `fail_at` (1-based) from now on. */
static unsigned alloc_calls, alloc_fail_at;

static void *failing_calloc(size_t nmemb, size_t size)
{
	if (++alloc_calls == alloc_fail_at)
		return NULL;
	return calloc(nmemb, size);
}

static void fail_allocation(unsigned nth)
{
	alloc_calls = 0;
	alloc_fail_at = nth;
	window_calloc = failing_calloc;
}

TEST(window_allocation_failures)
{
	struct window *w;
	struct window_result r;

	/* window_new makes two allocations; fail each in turn. */
	for (unsigned nth = 1; nth <= 2; nth++) {
		harness_context("failing allocation %u", nth);
		fail_allocation(nth);
		CHECK(window_new(10) == NULL);
		CHECK_INT_EQ(alloc_calls, nth);
	}
	fail_allocation(3);
	w = window_new(10);
	CHECK(w != NULL);

	/* A failed reserve leaves the window as it was. */
	for (int64_t s = 91; s <= 100; s++)
		CHECK_INT_EQ(window_record(w, s, HIGH), 0);
	/* Same or smaller capacities allocate nothing. */
	CHECK_INT_EQ(window_reserve(w, 10), 0);
	CHECK_INT_EQ(window_reserve(w, 1), 0);
	CHECK_INT_EQ(alloc_calls, 2);
	CHECK_INT_EQ(window_reserve(w, 20), -ENOMEM);
	CHECK_INT_EQ(w->capacity_s, 10);
	r = evaluate(w, 100, 10, 10, THRESHOLD);
	CHECK(r.holds);
	CHECK_INT_EQ(window_reserve(w, 20), 0);
	CHECK_INT_EQ(w->capacity_s, 20);
	window_calloc = calloc;
	window_free(w);
}

/* The window against a naive model: samples recorded in nondecreasing
 * second order (jittered, with repeats and gaps), evaluated at the newest
 * second, must see exactly the last value recorded for each second. */
TEST(window_matches_naive_model)
{
	enum {
		SECONDS = 400,
		CAPACITY = 60
	};
	static double model[SECONDS];
	static bool has[SECONDS];
	static const uint32_t periods[] = {1, 2, 7, 30, 59, 60, 61};
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	struct window *w = window_new(CAPACITY);
	int64_t second = 0;

	for (int step = 0; step < 2000 && second < SECONDS; step++) {
		uint32_t x;

		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		x = (uint32_t)(rng >> 33);
		/* Mostly the next second, sometimes a repeat or a gap. */
		if (x % 10 == 0)
			second += 1 + x % 90;
		else if (x % 10 > 2)
			second += 1;
		if (second >= SECONDS)
			break;
		model[second] = (double)(x % 101);
		has[second] = true;
		CHECK_INT_EQ(window_record(w, second, model[second]), 0);

		for (size_t p = 0; p < sizeof(periods) / sizeof(periods[0]); p++) {
			uint32_t period = periods[p] < CAPACITY ? periods[p] : CAPACITY;
			uint32_t valued = 0, matched = 0;
			double current = 0, peak = 0;
			struct window_result r;

			for (int64_t s = second; s > second - (int64_t)period && s >= 0; s--) {
				if (!has[s])
					continue;
				if (valued++ == 0)
					current = peak = model[s];
				else
					peak = fmax(peak, model[s]);
				matched += model[s] >= 50.0;
			}
			r = evaluate(w, second, periods[p], 3, 50.0);
			harness_context("second %lld period %u", (long long)second, periods[p]);
			CHECK_INT_EQ(r.valued, valued);
			CHECK_INT_EQ(r.matched, matched);
			CHECK(r.holds == (matched >= 3));
			CHECK(r.has_current == (valued > 0));
			CHECK_DBL_EQ(r.current, current);
			CHECK_DBL_EQ(r.peak, peak);
		}
	}
	CHECK(second >= 100);
	window_free(w);
}

int main(void)
{
	RUN(window_count_boundary);
	RUN(window_value_equal_to_threshold_matches);
	RUN(window_periods_share_one_window);
	RUN(window_gap_longer_than_period_clears);
	RUN(window_gap_longer_than_capacity_clears);
	RUN(window_stale_after_traffic_stops);
	RUN(window_same_second_twice_last_wins);
	RUN(window_out_of_order_within_capacity);
	RUN(window_too_old_is_stale);
	RUN(window_future_samples_ignored);
	RUN(window_period_clamped_to_capacity);
	RUN(window_count_zero_needs_a_match);
	RUN(window_current_and_peak);
	RUN(window_negative_and_huge_seconds);
	RUN(window_nan_refused);
	RUN(window_capacity_one);
	RUN(window_reserve_grows_keeping_data);
	RUN(window_reserve_collision_keeps_newer);
	RUN(window_bad_capacities);
	RUN(window_allocation_failures);
	RUN(window_matches_naive_model);
	return harness_finish();
}
