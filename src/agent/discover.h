/* discover: the agent's process table — which processes on this host the
 * config's rules match, and under which names.
 *
 * A full scan of /proc at start and on demand (discover_scan; the agent loop
 * rescans every DISCOVER_RESCAN_INTERVAL_MS to catch fork-without-exec
 * children and renamed processes), plus exec/exit events from procevents
 * (discover_handle_event) so that a new or restarted process is matched
 * within a second. Kernel threads and zombies are skipped. The rules are
 * tried in order (first match wins), reading only the fields they test; a
 * matching process's comm, exe, full command line and cgroup are kept and the
 * templates give service, instance, process name and labels. A rescan takes
 * exe and cgroup of an already known process (same pid and start time) from
 * its entry, except every DISCOVER_FULL_PROBE_EVERY-th scan (exe changes only
 * by exec, which an event reports; cgroup moves are rare). When the owner
 * trusts its events (discover_trust_events: every exec and exit reaches
 * discover_handle_event, and a loss is followed by discover_scan_full), a
 * partial scan reads nothing of a pid it knows — matched, or unmatched with
 * no exit since — and probes only new pids (fork-without-exec children): a
 * renamed process or a rewritten command line then waits for the full probe.
 * An exec record that carries the process's details (procevent.h: start
 * time, comm, command line) is matched from them alone: a process no rule
 * matches costs no /proc read (the exe is read only for an exe rule, the
 * command line only when the kernel could not copy it); a matching one is
 * then probed, matched with the command line of its exec.
 *
 * Identity: id = 64-bit FNV-1a hash, in hex, of (host, service, instance,
 * process name), so a restarted process (new pid) of the same name keeps its
 * id. When several live processes map to one name, each holds an ordinal: the
 * first keeps the plain name, the others become "name#2", "name#3"... An
 * arriving process takes the lowest ordinal not held by a live process of that
 * name and keeps it for its life; a scan gives ordinals to new processes in
 * order of start time (then pid). So a restarted member of a group takes back
 * the ordinal — and the id — its predecessor freed.
 *
 * Changes are reported through a callback: ADDED (a process entered the
 * table; possibly an id seen before), CHANGED (same pid and id, other
 * attributes changed), GONE (exited, no longer matches, or its name changed —
 * then an ADDED with the new id follows). The callback must not call back
 * into discover. Not thread-safe: one owner (the agent loop). */
#ifndef CONTPROF_AGENT_DISCOVER_H
#define CONTPROF_AGENT_DISCOVER_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/procevent.h"
#include "agent/template.h"

#define DISCOVER_RESCAN_INTERVAL_MS 5000
#define DISCOVER_FULL_PROBE_EVERY   12 /* scans; the others reuse exe and cgroup */
#define DISCOVER_NAME_MAX	    TEMPLATE_MAX_OUTPUT
#define DISCOVER_ID_LEN		    16	  /* hex digits */
#define DISCOVER_CMDLINE_MAX	    4096  /* bytes read of /proc/PID/cmdline */
#define DISCOVER_MAX_PROCS	    32768 /* matched processes kept */
#define DISCOVER_HOST_MAX	    256
#define DISCOVER_CGROUP_FILE_MAX    (64 * 1024) /* bytes read of /proc/PID/cgroup */
#define DISCOVER_UNMATCHED_MAX	    65536	/* unmatched processes remembered */

struct discover;

struct discover_label {
	char *key;
	char *value;
};

/* One matched, live process. Owned by discover; valid until the next call
 * into discover. */
struct discover_proc {
	uint32_t pid;
	uint32_t ppid;
	uint64_t start_time_ticks;
	char id[DISCOVER_ID_LEN + 1];
	char service[DISCOVER_NAME_MAX];
	char instance[DISCOVER_NAME_MAX];
	char name[DISCOVER_NAME_MAX + 16]; /* with "#N" when N > 1 */
	uint32_t ordinal;		   /* 1 = the plain name */
	char comm[PROCEVENT_COMM_LEN + 1];
	char *exe;     /* "" when unreadable */
	char *cmdline; /* arguments joined by spaces, at most DISCOVER_CMDLINE_MAX */
	char *cgroup;  /* see discover_cgroup_name() */
	size_t rule_index;
	struct discover_label *labels;
	size_t n_labels;
	uint64_t base_hash; /* (host, service, instance, name without "#N") */
	uint64_t seen_scan; /* discover's own: the last scan that skipped it */
};

enum discover_change {
	DISCOVER_ADDED,
	DISCOVER_CHANGED,
	DISCOVER_GONE,
};

typedef void (*discover_fn)(enum discover_change change, const struct discover_proc *proc,
			    void *ctx);

struct discover_options {
	const char *root;     /* prefix of /proc; NULL or "" = this host */
	const char *hostname; /* NULL = gethostname() */
};

/* config must outlive the discover object. fn may be NULL. Does not scan.
 * Returns 0 and *ret, or -errno. */
int discover_new(const struct config *config, const struct discover_options *options,
		 discover_fn fn, void *ctx, struct discover **ret);
/* Accepts NULL; returns NULL. No callbacks. */
struct discover *discover_free(struct discover *d);

/* Scans /proc, reports every change since the last scan. Returns the number
 * of changes, or -errno when /proc cannot be listed. */
int discover_scan(struct discover *d);
/* The same, probing every process afresh (after lost events). */
int discover_scan_full(struct discover *d);
/* trusted: the caller hands every exec and exit to discover_handle_event
 * (see the header comment); partial scans then skip known pids. */
void discover_trust_events(struct discover *d, bool trusted);
/* Applies one exec/exit record: exec re-reads and matches the process now,
 * exit removes it. Returns the number of changes (0 or more) or -errno. */
int discover_handle_event(struct discover *d, const struct procevent_record *record);

size_t discover_count(const struct discover *d);
/* The i-th process in pid order. */
const struct discover_proc *discover_at(const struct discover *d, size_t i);
const struct discover_proc *discover_find_pid(const struct discover *d, uint32_t pid);
const struct discover_proc *discover_find_id(const struct discover *d, const char *id);
const char *discover_hostname(const struct discover *d);
/* Matched processes not kept because the table was full (DISCOVER_MAX_PROCS). */
uint64_t discover_dropped(const struct discover *d);

/* The identity hash of (host, service, instance, name), as DISCOVER_ID_LEN
 * hex digits plus NUL into ret. */
void discover_identity(const char *host, const char *service, const char *instance,
		       const char *name, char ret[DISCOVER_ID_LEN + 1]);
/* The {cgroup} of a process: its cgroup v2 path unless that is "/" (a hybrid
 * host), then the v1 name=systemd path, then the v1 cpu path, else "/". */
const char *discover_cgroup_name(const char *unified, const char *systemd_v1, const char *cpu_v1);

#endif
