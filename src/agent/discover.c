/* discover: see discover.h. The table is an array of pointers sorted by pid.
 * A "probe" reads one process and matches it into a candidate entry; scans
 * (discover_scan.c) and events (here) reconcile candidates with the table in
 * one place (discover_reconcile / discover_add_new) so both paths name
 * processes identically. */
#include "agent/discover_impl.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/pidset.h"
#include "agent/procevents.h"
#include "agent/procstat.h"
#include "util/readfile.h"
#include "util/fnv.h"

_Static_assert(PROCEVENT_CMDLINE_MAX == DISCOVER_CMDLINE_MAX,
	       "an exec event carries what a read of /proc/PID/cmdline gives");

static uint64_t identity_hash(const char *host, const char *service, const char *instance,
			      const char *name)
{
	uint64_t h = FNV_OFFSET;

	h = fnv_add(h, host);
	h = fnv_add(h, service);
	h = fnv_add(h, instance);
	return fnv_add(h, name);
}

void discover_identity(const char *host, const char *service, const char *instance,
		       const char *name, char ret[DISCOVER_ID_LEN + 1])
{
	snprintf(ret, DISCOVER_ID_LEN + 1, "%016llx",
		 (unsigned long long)identity_hash(host, service, instance, name));
}

const char *discover_cgroup_name(const char *unified, const char *systemd_v1, const char *cpu_v1)
{
	if (unified[0] && strcmp(unified, "/") != 0)
		return unified;
	if (systemd_v1[0])
		return systemd_v1;
	if (cpu_v1[0])
		return cpu_v1;
	return unified[0] ? unified : "/";
}

void discover_proc_free(struct discover_proc *p)
{
	if (!p)
		return;
	free(p->exe);
	free(p->cmdline);
	free(p->cgroup);
	for (size_t i = 0; i < p->n_labels; i++) {
		free(p->labels[i].key);
		free(p->labels[i].value);
	}
	free(p->labels);
	free(p);
}

int discover_new(const struct config *config, const struct discover_options *options,
		 discover_fn fn, void *ctx, struct discover **ret)
{
	struct discover *d = calloc(1, sizeof(*d));
	const char *root = options ? options->root : NULL;
	const char *host = options ? options->hostname : NULL;

	if (!d)
		return -ENOMEM;
	d->config = config;
	d->ticks_per_s = sysconf(_SC_CLK_TCK);
	d->fn = fn;
	d->ctx = ctx;
	if (root && strcmp(root, "/") != 0) {
		if (strlen(root) >= sizeof(d->root)) {
			free(d);
			return -ENAMETOOLONG;
		}
		strcpy(d->root, root);
	}
	if (host)
		snprintf(d->hostname, sizeof(d->hostname), "%s", host);
	else if (gethostname(d->hostname, sizeof(d->hostname) - 1) < 0)
		snprintf(d->hostname, sizeof(d->hostname), "localhost");
	*ret = d;
	return 0;
}

struct discover *discover_free(struct discover *d)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->n_procs; i++)
		discover_proc_free(d->procs[i]);
	free(d->procs);
	pidset_release(&d->unmatched);
	pidset_release(&d->unmatched_next);
	free(d);
	return NULL;
}

static bool was_unmatched(const struct discover *d, uint32_t pid, uint64_t start_time_ticks)
{
	const struct pidset_entry *u = pidset_find(&d->unmatched, pid);

	return u && u->start_time_ticks == start_time_ticks;
}

/* Remembers an unmatched process for the next scan: in the scan's new set,
 * or, outside a scan (an exec event's probe), in the current one (best
 * effort: when full, it is simply probed again). */
void discover_note_unmatched(struct discover *d, uint32_t pid, uint64_t start_time_ticks)
{
	if (d->scanning)
		pidset_append(&d->unmatched_next, pid, start_time_ticks);
	else
		pidset_insert(&d->unmatched, pid, start_time_ticks);
}

size_t discover_count(const struct discover *d)
{
	return d->n_procs;
}

const struct discover_proc *discover_at(const struct discover *d, size_t i)
{
	return i < d->n_procs ? d->procs[i] : NULL;
}

const char *discover_hostname(const struct discover *d)
{
	return d->hostname;
}

uint64_t discover_dropped(const struct discover *d)
{
	return d->dropped;
}

/* Index of pid in the table, or of where it would go (*found = 0). */
size_t discover_find_index(const struct discover *d, uint32_t pid, int *found)
{
	size_t lo = 0, hi = d->n_procs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->procs[mid]->pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < d->n_procs && d->procs[lo]->pid == pid;
	return lo;
}

const struct discover_proc *discover_find_pid(const struct discover *d, uint32_t pid)
{
	int found;
	size_t i = discover_find_index(d, pid, &found);

	return found ? d->procs[i] : NULL;
}

const struct discover_proc *discover_find_id(const struct discover *d, const char *id)
{
	for (size_t i = 0; i < d->n_procs; i++)
		if (strcmp(d->procs[i]->id, id) == 0)
			return d->procs[i];
	return NULL;
}

/* ---- probing one process ---- */

/* The command line as rules see it: the n bytes of the argument area
 * (NUL-separated), trailing NULs dropped, the others made spaces; buf has
 * room for n + 1 bytes. */
static void join_cmdline(char *buf, size_t n)
{
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
}

static char *read_cmdline(const struct discover *d, uint32_t pid)
{
	char *buf = malloc(DISCOVER_CMDLINE_MAX + 1);
	ssize_t n;

	if (!buf)
		return NULL;
	n = readfile_fmt(buf, DISCOVER_CMDLINE_MAX + 1, "%s/proc/%u/cmdline", d->root, pid);
	join_cmdline(buf, n < 0 ? 0 : (size_t)n);
	return buf;
}

static char *read_exe(const struct discover *d, uint32_t pid)
{
	static const char deleted[] = " (deleted)";
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;
	size_t len;

	n = snprintf(path, sizeof(path), "%s/proc/%u/exe", d->root, pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return strdup("");
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		n = 0;
	target[n] = '\0';
	/* A binary replaced on disk (an upgrade) still names the same program. */
	len = (size_t)n;
	if (len > sizeof(deleted) - 1 && strcmp(target + len - (sizeof(deleted) - 1), deleted) == 0)
		target[len - (sizeof(deleted) - 1)] = '\0';
	return strdup(target);
}

static char *read_cgroup(const struct discover *d, uint32_t pid)
{
	struct procstat_cgroups *cg = malloc(sizeof(*cg));
	char *buf = malloc(DISCOVER_CGROUP_FILE_MAX);
	char *name = NULL;

	if (!cg || !buf) {
		free(cg);
		free(buf);
		return NULL;
	}
	if (readfile_fmt(buf, DISCOVER_CGROUP_FILE_MAX, "%s/proc/%u/cgroup", d->root, pid) >= 0 &&
	    procstat_parse_cgroup(buf, cg) == 0)
		name = strdup(discover_cgroup_name(cg->unified, cg->systemd_v1, cg->cpu_v1));
	else
		name = strdup("/");
	free(buf);
	free(cg);
	return name;
}

static const char *match_subject(const struct discover_proc *p, enum config_match_field field)
{
	switch (field) {
	case CONFIG_MATCH_CMDLINE:
		return p->cmdline;
	case CONFIG_MATCH_EXE:
		return p->exe;
	case CONFIG_MATCH_COMM:
		return p->comm;
	}
	return "";
}

/* Expands t; an empty result becomes the comm so that no name is empty. */
static void expand_name(const struct template *t, const struct template_vars *vars, char *buf,
			size_t size)
{
	template_expand(t, vars, buf, size);
	if (!buf[0])
		snprintf(buf, size, "%s", vars->comm);
}

static int expand_labels(const struct config_rule *rule, const struct template_vars *vars,
			 struct discover_proc *p)
{
	char value[DISCOVER_NAME_MAX];

	if (!rule->n_labels)
		return 0;
	p->labels = calloc(rule->n_labels, sizeof(*p->labels));
	if (!p->labels)
		return -ENOMEM;
	for (size_t i = 0; i < rule->n_labels; i++) {
		template_expand(rule->labels[i].value, vars, value, sizeof(value));
		p->labels[i].key = strdup(rule->labels[i].key);
		p->labels[i].value = strdup(value);
		p->n_labels++;
		if (!p->labels[i].key || !p->labels[i].value)
			return -ENOMEM;
	}
	return 0;
}

/* The exe and cgroup of a process that a scan already knows (same pid and
 * start time) are taken from its entry: exe changes only by exec, which
 * comes with an event and a full probe; cgroup moves are picked up by the
 * full rescan every DISCOVER_FULL_PROBE_EVERY scans. */
static int fill_exe(const struct discover *d, struct discover_proc *p,
		    const struct discover_proc *known)
{
	if (!p->exe)
		p->exe = known ? strdup(known->exe) : read_exe(d, p->pid);
	return p->exe ? 0 : -ENOMEM;
}

static int fill_cmdline(const struct discover *d, struct discover_proc *p)
{
	if (!p->cmdline)
		p->cmdline = read_cmdline(d, p->pid);
	return p->cmdline ? 0 : -ENOMEM;
}

/* Tries the rules in order, reading only the fields they look at (most
 * processes match no rule; a comm rule needs no read beyond stat). Returns
 * the index of the first matching rule, n_rules for none, or -ENOMEM. */
static int first_matching_rule(const struct discover *d, struct discover_proc *p,
			       const struct discover_proc *known)
{
	const struct config *c = d->config;
	size_t rule;

	for (rule = 0; rule < c->n_rules; rule++) {
		enum config_match_field field = c->rules[rule]->field;

		if ((field == CONFIG_MATCH_CMDLINE && fill_cmdline(d, p) < 0) ||
		    (field == CONFIG_MATCH_EXE && fill_exe(d, p, known) < 0))
			return -ENOMEM;
		if (config_rule_matches(c->rules[rule], match_subject(p, field)))
			break;
	}
	return (int)rule;
}

/* Reads pid and matches it. known: its table entry when the caller may reuse
 * the slow-changing fields (see fill_exe), else NULL. exec: what its exec
 * event carried (the command line is taken from it when the process is still
 * the one that event saw), else NULL. Returns 1 with *ret (a candidate
 * without ordinal and id), 0 when it is not a candidate (kernel thread,
 * zombie, no rule matches, gone), or -ENOMEM. */
int discover_probe(struct discover *d, uint32_t pid, const struct discover_proc *known,
		   const struct discover_exec_view *exec, struct discover_proc **ret)
{
	const struct config *c = d->config;
	struct template_vars vars;
	struct procstat_stat st;
	struct discover_proc *p;
	char buf[1024];
	int rule;

	if (readfile_fmt(buf, sizeof(buf), "%s/proc/%u/stat", d->root, pid) < 0 ||
	    procstat_parse_stat(buf, &st) < 0)
		return 0;
	if (st.flags & PROCSTAT_PF_KTHREAD) {
		/* Becomes a user process only by exec, which an event reports. */
		discover_note_unmatched(d, pid, st.start_time_ticks);
		return 0;
	}
	if (procstat_stat_is_dead(&st))
		return 0; /* not noted: its pid is free again once reaped */
	if (known && known->start_time_ticks != st.start_time_ticks)
		known = NULL; /* another process under the same pid */
	if (d->scanning_partial && !known && was_unmatched(d, pid, st.start_time_ticks)) {
		discover_note_unmatched(d, pid, st.start_time_ticks);
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	p->ppid = st.ppid;
	p->start_time_ticks = st.start_time_ticks;
	snprintf(p->comm, sizeof(p->comm), "%s", st.comm);
	if (exec && exec->cmdline && exec->start_time_ticks == st.start_time_ticks &&
	    !(p->cmdline = strdup(exec->cmdline)))
		goto oom;
	rule = first_matching_rule(d, p, known);
	if (rule < 0)
		goto oom;
	if ((size_t)rule == c->n_rules) {
		discover_note_unmatched(d, pid, st.start_time_ticks);
		discover_proc_free(p);
		return 0;
	}
	if (fill_cmdline(d, p) < 0 || fill_exe(d, p, known) < 0)
		goto oom;
	p->cgroup = known ? strdup(known->cgroup) : read_cgroup(d, pid);
	if (!p->cgroup)
		goto oom;
	p->rule_index = (size_t)rule;
	vars = (struct template_vars){.hostname = d->hostname,
				      .pid = pid,
				      .comm = p->comm,
				      .exe = p->exe,
				      .cgroup = p->cgroup};
	expand_name(c->rules[rule]->service, &vars, p->service, sizeof(p->service));
	expand_name(c->instance, &vars, p->instance, sizeof(p->instance));
	expand_name(c->rules[rule]->process, &vars, p->name, DISCOVER_NAME_MAX);
	if (expand_labels(c->rules[rule], &vars, p) < 0)
		goto oom;
	p->base_hash = identity_hash(d->hostname, p->service, p->instance, p->name);
	*ret = p;
	return 1;
oom:
	discover_proc_free(p);
	return -ENOMEM;
}

/* ---- the table ---- */

static void report(struct discover *d, enum discover_change change, const struct discover_proc *p)
{
	if (d->fn)
		d->fn(change, p, d->ctx);
}

void discover_remove_at(struct discover *d, size_t i)
{
	struct discover_proc *p = d->procs[i];

	report(d, DISCOVER_GONE, p);
	memmove(&d->procs[i], &d->procs[i + 1], (d->n_procs - i - 1) * sizeof(*d->procs));
	d->n_procs--;
	discover_proc_free(p);
}

/* The lowest ordinal no live process of base_hash holds: one pass over the
 * table marking the ordinals taken (at most one per member). 0 on ENOMEM. */
static uint32_t free_ordinal(const struct discover *d, uint64_t base_hash)
{
	size_t members = 0;
	unsigned char *taken;
	uint32_t ordinal = 1;

	for (size_t i = 0; i < d->n_procs; i++)
		members += d->procs[i]->base_hash == base_hash;
	if (!members)
		return 1;
	/* With n members, some ordinal in 1..n+1 is free. */
	taken = calloc(members + 2, 1);
	if (!taken)
		return 0;
	for (size_t i = 0; i < d->n_procs; i++)
		if (d->procs[i]->base_hash == base_hash && d->procs[i]->ordinal <= members + 1)
			taken[d->procs[i]->ordinal] = 1;
	while (taken[ordinal])
		ordinal++;
	free(taken);
	return ordinal;
}

/* Names the candidate, inserts it (taking ownership) and reports ADDED. */
int discover_add_new(struct discover *d, struct discover_proc *p)
{
	size_t len = strlen(p->name), i;
	int found;

	if (d->n_procs >= DISCOVER_MAX_PROCS) {
		d->dropped++;
		discover_proc_free(p);
		return 0;
	}
	if (d->n_procs == d->cap_procs) {
		size_t cap = d->cap_procs ? d->cap_procs * 2 : 64;
		struct discover_proc **grown = realloc(d->procs, cap * sizeof(*grown));

		if (!grown) {
			discover_proc_free(p);
			return -ENOMEM;
		}
		d->procs = grown;
		d->cap_procs = cap;
	}
	p->ordinal = free_ordinal(d, p->base_hash);
	if (!p->ordinal) {
		discover_proc_free(p);
		return -ENOMEM;
	}
	if (p->ordinal > 1)
		snprintf(p->name + len, sizeof(p->name) - len, "#%u", p->ordinal);
	discover_identity(d->hostname, p->service, p->instance, p->name, p->id);
	i = discover_find_index(d, p->pid, &found);
	memmove(&d->procs[i + 1], &d->procs[i], (d->n_procs - i) * sizeof(*d->procs));
	d->procs[i] = p;
	d->n_procs++;
	report(d, DISCOVER_ADDED, p);
	return 1;
}

static int same_str(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static int same_attributes(const struct discover_proc *a, const struct discover_proc *b)
{
	if (!same_str(a->comm, b->comm) || !same_str(a->exe, b->exe) ||
	    !same_str(a->cmdline, b->cmdline) || !same_str(a->cgroup, b->cgroup) ||
	    a->rule_index != b->rule_index || a->n_labels != b->n_labels)
		return 0;
	for (size_t i = 0; i < a->n_labels; i++)
		if (!same_str(a->labels[i].key, b->labels[i].key) ||
		    !same_str(a->labels[i].value, b->labels[i].value))
			return 0;
	return 1;
}

/* The table entry at i has the pid of cand: keeps it when nothing changed,
 * replaces it when only attributes changed, removes it when the process or its
 * identity changed. */
enum discover_reconcile_result discover_reconcile(struct discover *d, size_t i,
						  struct discover_proc *cand)
{
	struct discover_proc *old = d->procs[i];

	if (old->start_time_ticks != cand->start_time_ticks || old->base_hash != cand->base_hash) {
		discover_remove_at(d, i);
		return DISCOVER_RECONCILE_REMOVED;
	}
	if (same_attributes(old, cand)) {
		old->ppid = cand->ppid;
		discover_proc_free(cand);
		return DISCOVER_RECONCILE_KEPT;
	}
	cand->ordinal = old->ordinal;
	memcpy(cand->name, old->name, sizeof(cand->name));
	memcpy(cand->id, old->id, sizeof(cand->id));
	d->procs[i] = cand;
	discover_proc_free(old);
	report(d, DISCOVER_CHANGED, cand);
	return DISCOVER_RECONCILE_REPLACED;
}

/* Brings pid's entry in line with a fresh probe. Returns changes or -errno. */
static int refresh_pid(struct discover *d, uint32_t pid, const struct discover_exec_view *exec)
{
	struct discover_proc *cand = NULL;
	int found, r, changes = 0;
	size_t i;

	r = discover_probe(d, pid, NULL, exec, &cand);
	if (r < 0)
		return r;
	i = discover_find_index(d, pid, &found);
	if (found && !cand) {
		discover_remove_at(d, i);
		return 1;
	}
	if (found) {
		switch (discover_reconcile(d, i, cand)) {
		case DISCOVER_RECONCILE_KEPT:
			return 0;
		case DISCOVER_RECONCILE_REPLACED:
			return 1;
		case DISCOVER_RECONCILE_REMOVED:
			changes = 1;
			break;
		}
	}
	if (!cand)
		return changes;
	r = discover_add_new(d, cand);
	return r < 0 ? r : changes + r;
}

/* Matches an exec from what its record carries (comm, command line, start
 * time), reading /proc only for what it lacks: the exe when a rule tests it,
 * the command line when the kernel could not copy it. A process that no rule
 * matches costs no other read; one that matches is probed (its stat for
 * liveness, exe, cgroup), matched again with the same command line. Returns
 * changes or -errno. */
static int handle_exec(struct discover *d, const struct procevent_record *r)
{
	struct discover_exec_view view = {0};
	struct discover_proc *p;
	int found, rule;
	size_t i;

	if (procevent_start_time_ticks(r, d->ticks_per_s, &view.start_time_ticks) < 0 ||
	    (r->task_flags & PROCSTAT_PF_KTHREAD))
		return refresh_pid(d, r->pid, NULL);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = r->pid;
	memcpy(p->comm, r->comm, PROCEVENT_COMM_LEN);
	p->comm[PROCEVENT_COMM_LEN] = '\0';
	if (r->flags & PROCEVENT_F_CMDLINE) {
		p->cmdline = malloc((size_t)r->cmdline_copied + 1);
		if (!p->cmdline) {
			discover_proc_free(p);
			return -ENOMEM;
		}
		memcpy(p->cmdline, r->cmdline, r->cmdline_copied);
		join_cmdline(p->cmdline, r->cmdline_copied);
	}
	rule = first_matching_rule(d, p, NULL);
	if (rule >= 0 && (size_t)rule < d->config->n_rules) {
		view.cmdline = p->cmdline;
		rule = refresh_pid(d, r->pid, &view);
		discover_proc_free(p);
		return rule;
	}
	discover_proc_free(p);
	if (rule < 0)
		return rule;
	discover_note_unmatched(d, r->pid, view.start_time_ticks);
	i = discover_find_index(d, r->pid, &found);
	if (!found)
		return 0;
	discover_remove_at(d, i); /* it runs another program now, which no rule matches */
	return 1;
}

int discover_handle_event(struct discover *d, const struct procevent_record *record)
{
	struct pidset_entry *u;
	int found;
	size_t i;

	switch (record->kind) {
	case PROCEVENT_EXEC:
		return handle_exec(d, record);
	case PROCEVENT_EXIT:
		u = pidset_find(&d->unmatched, record->pid);
		if (u)
			u->exited = true; /* the pid may come back as another process */
		i = discover_find_index(d, record->pid, &found);
		if (!found)
			return 0;
		discover_remove_at(d, i);
		return 1;
	default:
		return 0;
	}
}

void discover_trust_events(struct discover *d, bool trusted)
{
	d->events_trusted = trusted;
}
