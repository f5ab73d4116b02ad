/* discover_impl: the discover module's state and the functions its files
 * share (discover.c: the table, probing and events; discover_scan.c: the
 * scans of /proc). Internal to src/agent/discover*.c; one owner thread, as
 * discover.h says. */
#ifndef CONTPROF_AGENT_DISCOVER_IMPL_H
#define CONTPROF_AGENT_DISCOVER_IMPL_H

#include <limits.h>
#include <stdbool.h>

#include "agent/discover.h"
#include "agent/pidset.h"

struct discover {
	const struct config *config;
	char root[PATH_MAX];
	char hostname[DISCOVER_HOST_MAX];
	discover_fn fn;
	void *ctx;
	struct discover_proc **procs; /* sorted by pid */
	size_t n_procs, cap_procs;
	uint64_t dropped;
	uint64_t scans;
	/* Processes the last scan saw match no rule, sorted by pid: a partial
	 * scan skips their cmdline and exe reads (a rule can only start to
	 * match by exec — an event and a probe — or by a process renaming
	 * itself, which the full probe every DISCOVER_FULL_PROBE_EVERY scans
	 * catches). */
	struct pidset unmatched, unmatched_next;
	bool scanning, scanning_partial;
	/* The owner hands over every exec and exit (discover_trust_events):
	 * a partial scan then reads nothing of a process it already knows. */
	bool events_trusted;
	uint64_t scan_serial; /* of the scan running or last run, from 1 */
	long ticks_per_s;     /* of /proc/PID/stat's start time */
};

/* An exec event's view of a process, used in place of /proc reads. */
struct discover_exec_view {
	uint64_t start_time_ticks;
	const char *cmdline; /* NULL: not carried */
};

enum discover_reconcile_result {
	DISCOVER_RECONCILE_KEPT,     /* nothing changed; cand freed */
	DISCOVER_RECONCILE_REPLACED, /* CHANGED reported; cand is the entry now */
	DISCOVER_RECONCILE_REMOVED,  /* GONE reported; cand still needs discover_add_new() */
};

/* Frees an entry or candidate; accepts NULL. */
void discover_proc_free(struct discover_proc *p);
/* Index of pid in the table, or of where it would go (*found = 0). */
size_t discover_find_index(const struct discover *d, uint32_t pid, int *found);
/* Remembers an unmatched process (see discover.c). */
void discover_note_unmatched(struct discover *d, uint32_t pid, uint64_t start_time_ticks);
/* Reads pid and matches it (see discover.c). 1 with *ret, 0, or -ENOMEM. */
int discover_probe(struct discover *d, uint32_t pid, const struct discover_proc *known,
		   const struct discover_exec_view *exec, struct discover_proc **ret);
/* Reports GONE for the entry at i and frees it. */
void discover_remove_at(struct discover *d, size_t i);
/* Names the candidate, inserts it (taking ownership) and reports ADDED.
 * 1, 0 when the table is full (counted), or -ENOMEM. */
int discover_add_new(struct discover *d, struct discover_proc *p);
/* The entry at i has cand's pid: kept, replaced or removed (see the enum). */
enum discover_reconcile_result discover_reconcile(struct discover *d, size_t i,
						  struct discover_proc *cand);

#endif
