/* pidset: see pidset.h. A sorted array; insertion in place is O(n), which
 * suits the few processes an exec event adds between two scans. */
#include "agent/pidset.h"

#include <stdlib.h>
#include <string.h>

/* The index where pid is or would go. */
static size_t lower_bound(const struct pidset *set, uint32_t pid)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (set->items[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct pidset_entry *pidset_find(const struct pidset *set, uint32_t pid)
{
	size_t i = lower_bound(set, pid);

	return i < set->n && set->items[i].pid == pid ? &set->items[i] : NULL;
}

/* Room for one more entry; false when full or out of memory. */
static bool reserve(struct pidset *set)
{
	struct pidset_entry *grown;
	size_t cap;

	if (set->n >= PIDSET_MAX)
		return false;
	if (set->n < set->cap)
		return true;
	cap = set->cap ? set->cap * 2 : 256;
	grown = realloc(set->items, cap * sizeof(*grown));
	if (!grown)
		return false;
	set->items = grown;
	set->cap = cap;
	return true;
}

void pidset_insert(struct pidset *set, uint32_t pid, uint64_t start_time_ticks)
{
	struct pidset_entry e = {.pid = pid, .start_time_ticks = start_time_ticks};
	size_t i = lower_bound(set, pid);

	if (i < set->n && set->items[i].pid == pid) {
		set->items[i] = e;
		return;
	}
	if (!reserve(set))
		return;
	memmove(&set->items[i + 1], &set->items[i], (set->n - i) * sizeof(*set->items));
	set->items[i] = e;
	set->n++;
}

void pidset_append(struct pidset *set, uint32_t pid, uint64_t start_time_ticks)
{
	if (reserve(set))
		set->items[set->n++] =
		    (struct pidset_entry){.pid = pid, .start_time_ticks = start_time_ticks};
}

static int cmp_pid(const void *a, const void *b)
{
	uint32_t x = ((const struct pidset_entry *)a)->pid;
	uint32_t y = ((const struct pidset_entry *)b)->pid;

	return x < y ? -1 : x > y;
}

void pidset_sort(struct pidset *set)
{
	if (set->n > 1)
		qsort(set->items, set->n, sizeof(*set->items), cmp_pid);
}

void pidset_release(struct pidset *set)
{
	free(set->items);
	memset(set, 0, sizeof(*set));
}
