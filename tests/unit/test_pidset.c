/* Unit tests for pidset: sorted insertion and replacement, append then
 * sort, lookups, the PIDSET_MAX bound, release. */
#include "harness.h"

#include "agent/pidset.h"

TEST(pidset_insert_keeps_pid_order_and_replaces)
{
	struct pidset set = {0};

	CHECK(pidset_find(&set, 1) == NULL);
	pidset_insert(&set, 30, 3);
	pidset_insert(&set, 10, 1);
	pidset_insert(&set, 20, 2);
	CHECK_INT_EQ(set.n, 3);
	for (size_t i = 0; i < set.n; i++)
		CHECK_INT_EQ(set.items[i].pid, (i + 1) * 10);
	pidset_find(&set, 20)->exited = true;
	pidset_insert(&set, 20, 7); /* the pid's next process */
	CHECK_INT_EQ(set.n, 3);
	CHECK_INT_EQ(pidset_find(&set, 20)->start_time_ticks, 7);
	CHECK(!pidset_find(&set, 20)->exited);
	CHECK(pidset_find(&set, 25) == NULL);
	pidset_release(&set);
	CHECK_INT_EQ(set.n, 0);
	CHECK(set.items == NULL);
}

TEST(pidset_append_sort_and_bound)
{
	struct pidset set = {0};

	for (uint32_t pid = PIDSET_MAX + 10; pid > 0; pid--)
		pidset_append(&set, pid, pid * 2ULL);
	CHECK_INT_EQ(set.n, PIDSET_MAX); /* the last ten were dropped */
	pidset_sort(&set);
	CHECK_INT_EQ(set.items[0].pid, 11);
	CHECK_INT_EQ(pidset_find(&set, 500)->start_time_ticks, 1000);
	CHECK(pidset_find(&set, 5) == NULL);
	pidset_insert(&set, 1, 1); /* full: not added */
	CHECK(pidset_find(&set, 1) == NULL);
	pidset_release(&set);
}

int main(void)
{
	RUN(pidset_insert_keeps_pid_order_and_replaces);
	RUN(pidset_append_sort_and_bound);
	return harness_finish();
}
