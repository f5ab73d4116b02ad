/* window: see window.h. A ring of slots indexed by second modulo capacity;
 * each slot remembers the second its value belongs to, which is what makes
 * gaps, stale data and out-of-order samples exact without any clock. */
#include "core/window.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "core/policy.h"

void *(*window_calloc)(size_t nmemb, size_t size) = calloc;

static bool capacity_valid(uint32_t capacity_s)
{
	return capacity_s >= 1 && capacity_s <= POLICY_PERIOD_MAX_S;
}

/* Non-negative remainder of second / capacity_s, for any second. */
static uint32_t slot_index(int64_t second, uint32_t capacity_s)
{
	int64_t r = second % (int64_t)capacity_s;

	if (r < 0)
		r += capacity_s;
	return (uint32_t)r;
}

static struct window_slot *slots_new(uint32_t capacity_s)
{
	struct window_slot *slots = window_calloc(capacity_s, sizeof(*slots));

	if (!slots)
		return NULL;
	for (uint32_t i = 0; i < capacity_s; i++)
		slots[i].second = INT64_MIN;
	return slots;
}

/* Stores (second, value) unless its slot holds a newer second. */
static int slot_put(struct window_slot *slots, uint32_t capacity_s, int64_t second, double value)
{
	struct window_slot *slot = &slots[slot_index(second, capacity_s)];

	if (slot->second > second)
		return -ESTALE;
	slot->second = second;
	slot->value = value;
	return 0;
}

struct window *window_new(uint32_t capacity_s)
{
	struct window *w;

	if (!capacity_valid(capacity_s))
		return NULL;
	w = window_calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->slots = slots_new(capacity_s);
	if (!w->slots)
		return window_free(w);
	w->capacity_s = capacity_s;
	return w;
}

struct window *window_free(struct window *w)
{
	if (w) {
		free(w->slots);
		free(w);
	}
	return NULL;
}

int window_reserve(struct window *w, uint32_t capacity_s)
{
	struct window_slot *slots;

	if (!capacity_valid(capacity_s))
		return -EINVAL;
	if (capacity_s <= w->capacity_s)
		return 0;
	slots = slots_new(capacity_s);
	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->capacity_s; i++) {
		const struct window_slot *old = &w->slots[i];

		if (old->second != INT64_MIN)
			(void)slot_put(slots, capacity_s, old->second, old->value);
	}
	free(w->slots);
	w->slots = slots;
	w->capacity_s = capacity_s;
	return 0;
}

int window_record(struct window *w, int64_t second, double value)
{
	if (second == INT64_MIN || isnan(value))
		return -EINVAL;
	return slot_put(w->slots, w->capacity_s, second, value);
}

void window_evaluate(const struct window *w, int64_t now_s, uint32_t period_s, uint32_t count,
		     double threshold, struct window_result *ret)
{
	struct window_result r = {0};
	/* Seconds above INT64_MIN at or below now_s: now_s - i is one of
	 * them while i < above_min (unsigned, so it cannot overflow). */
	uint64_t above_min = (uint64_t)now_s - (uint64_t)INT64_MIN;

	if (period_s > w->capacity_s)
		period_s = w->capacity_s;
	for (uint32_t i = 0; i < period_s && i < above_min; i++) {
		int64_t second = now_s - (int64_t)i;
		const struct window_slot *slot = &w->slots[slot_index(second, w->capacity_s)];

		if (slot->second != second)
			continue;
		if (r.valued == 0) {
			r.has_current = true;
			r.current = slot->value;
			r.peak = slot->value;
		} else if (slot->value > r.peak) {
			r.peak = slot->value;
		}
		r.valued++;
		if (slot->value >= threshold)
			r.matched++;
	}
	r.holds = r.matched >= (count ? count : 1);
	*ret = r;
}
