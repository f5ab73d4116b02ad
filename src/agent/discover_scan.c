/* discover_scan: the scans of /proc (discover_scan, discover_scan_full):
 * every pid is probed — or, when events are trusted and the scan is partial,
 * only the pids the table and the unmatched set do not know — and the
 * candidates are reconciled with the table in three phases (drop the gone,
 * update the kept, add the new oldest first) so ordinals are taken back in
 * start order. Part of the discover module (discover_impl.h). */
#include "agent/discover_impl.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/parse.h"

static int cmp_pid(const void *a, const void *b)
{
	const struct discover_proc *x = *(struct discover_proc *const *)a;
	const struct discover_proc *y = *(struct discover_proc *const *)b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

static int cmp_start(const void *a, const void *b)
{
	const struct discover_proc *x = *(struct discover_proc *const *)a;
	const struct discover_proc *y = *(struct discover_proc *const *)b;

	if (x->start_time_ticks != y->start_time_ticks)
		return (x->start_time_ticks > y->start_time_ticks) -
		       (x->start_time_ticks < y->start_time_ticks);
	return cmp_pid(a, b);
}

/* Every candidate of this scan, in pid order (read_dir sorts). */
struct cand_list {
	struct discover_proc **items;
	size_t n, cap;
};

static int cand_push(struct cand_list *l, struct discover_proc *p)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct discover_proc **grown = realloc(l->items, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		l->items = grown;
		l->cap = cap;
	}
	l->items[l->n++] = p;
	return 0;
}

/* With trusted events, a pid the table holds or the last scan found
 * unmatched (and no exit came for since) is still that process, unchanged but
 * for a rename (the full probe's job): marks it seen, reads nothing. */
static bool skip_known(struct discover *d, uint32_t pid)
{
	const struct pidset_entry *u;
	int found;
	size_t i = discover_find_index(d, pid, &found);

	if (found) {
		d->procs[i]->seen_scan = d->scan_serial;
		return true;
	}
	u = pidset_find(&d->unmatched, pid);
	if (!u || u->exited)
		return false;
	discover_note_unmatched(d, pid, u->start_time_ticks);
	return true;
}

static int collect(struct discover *d, struct cand_list *l, int full)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int r = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/proc", d->root) >= sizeof(path))
		return -ENAMETOOLONG;
	dir = opendir(path);
	if (!dir)
		return -errno;
	d->unmatched_next.n = 0;
	d->scanning = true;
	d->scanning_partial = !full;
	while ((de = readdir(dir)) != NULL) {
		struct discover_proc *p = NULL;
		uint32_t pid;

		if (parse_u32(de->d_name, &pid) < 0 || pid == 0)
			continue;
		if (!full && d->events_trusted && skip_known(d, pid))
			continue;
		r = discover_probe(d, pid, full ? NULL : discover_find_pid(d, pid), NULL, &p);
		if (r < 0)
			break;
		if (r == 1 && (r = cand_push(l, p)) < 0) {
			discover_proc_free(p);
			break;
		}
		r = 0;
	}
	closedir(dir);
	d->scanning = false;
	d->scanning_partial = false;
	if (r == 0) {
		/* This scan's unmatched set replaces the last one. */
		struct pidset old = d->unmatched;

		pidset_sort(&d->unmatched_next);
		d->unmatched = d->unmatched_next;
		d->unmatched_next = old;
		d->unmatched_next.n = 0;
	}
	if (l->n)
		qsort(l->items, l->n, sizeof(*l->items), cmp_pid);
	return r;
}

static struct discover_proc *cand_find(struct cand_list *l, uint32_t pid, size_t *ret_index)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->items[mid]->pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < l->n && l->items[lo]->pid == pid) {
		*ret_index = lo;
		return l->items[lo];
	}
	return NULL;
}

static int scan(struct discover *d, bool full)
{
	struct cand_list l = {0};
	size_t n_new = 0;
	int r, changes = 0;

	d->scan_serial++;
	r = collect(d, &l, full || d->scans++ % DISCOVER_FULL_PROBE_EVERY == 0);
	if (r < 0)
		goto out;
	/* 1: drop entries whose process is gone or changed identity, freeing
	 * their ordinals before anyone new takes one. */
	for (size_t i = d->n_procs; i-- > 0;) {
		struct discover_proc *old = d->procs[i];
		size_t ci;
		struct discover_proc *c = cand_find(&l, old->pid, &ci);

		if (!c && old->seen_scan == d->scan_serial)
			continue; /* skipped by a partial scan: unchanged */
		if (!c || c->start_time_ticks != old->start_time_ticks ||
		    c->base_hash != old->base_hash) {
			discover_remove_at(d, i);
			changes++;
		}
	}
	/* 2: update the entries that stay; 3: add the rest oldest first. */
	for (size_t ci = 0; ci < l.n; ci++) {
		int found;
		size_t i = discover_find_index(d, l.items[ci]->pid, &found);

		if (found) {
			/* Phase 1 removed every mismatch: kept or replaced. */
			changes +=
			    discover_reconcile(d, i, l.items[ci]) == DISCOVER_RECONCILE_REPLACED;
			l.items[ci] = NULL;
		} else {
			l.items[n_new++] = l.items[ci];
		}
	}
	l.n = n_new;
	if (l.n)
		qsort(l.items, l.n, sizeof(*l.items), cmp_start);
	for (size_t ci = 0; ci < l.n; ci++) {
		r = discover_add_new(d, l.items[ci]);
		l.items[ci] = NULL;
		if (r < 0)
			goto out;
		changes += r;
	}
	r = 0;
out:
	for (size_t ci = 0; ci < l.n; ci++)
		discover_proc_free(l.items[ci]);
	free(l.items);
	return r < 0 ? r : changes;
}

int discover_scan(struct discover *d)
{
	return scan(d, false);
}

int discover_scan_full(struct discover *d)
{
	return scan(d, true);
}
