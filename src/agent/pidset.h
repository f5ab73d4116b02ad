/* pidset: a bounded set of processes known by (pid, start time), kept in pid
 * order — discover's memory of the processes a scan found matching no rule.
 * Entries are appended in any order during a scan and sorted once after it
 * (pidset_append + pidset_sort), or inserted in place between scans
 * (pidset_insert). Holds at most PIDSET_MAX entries: beyond, additions are
 * dropped (the process is then simply probed again). Not thread-safe. */
#ifndef CONTPROF_AGENT_PIDSET_H
#define CONTPROF_AGENT_PIDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PIDSET_MAX 65536 /* entries */

struct pidset_entry {
	uint32_t pid;
	bool exited; /* an exit was reported for it since it was added */
	uint64_t start_time_ticks;
};

struct pidset {
	struct pidset_entry *items;
	size_t n, cap;
};

/* The entry of pid, or NULL. The set must be sorted. */
struct pidset_entry *pidset_find(const struct pidset *set, uint32_t pid);
/* Adds or replaces the entry of pid keeping pid order (exited cleared). */
void pidset_insert(struct pidset *set, uint32_t pid, uint64_t start_time_ticks);
/* Adds at the end, unsorted until pidset_sort(). */
void pidset_append(struct pidset *set, uint32_t pid, uint64_t start_time_ticks);
void pidset_sort(struct pidset *set);
/* Frees the entries; the set is empty and usable again. */
void pidset_release(struct pidset *set);

#endif
