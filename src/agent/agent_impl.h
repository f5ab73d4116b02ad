/* agent_impl: the agent's state, shared by the files of the agent module
 * (agent.c: the loop, watch and discovery; agent_procevents.c: exec/exit
 * events and rescans; agent_policies.c: policies from
 * the server and on disk; agent_tasks.c: starting tasks, manual tasks and
 * task events). Internal to src/agent/agent*.c; everything runs on the loop
 * thread. */
#ifndef CONTPROF_AGENT_AGENT_IMPL_H
#define CONTPROF_AGENT_AGENT_IMPL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "agent/agent.h"
#include "agent/discover.h"
#include "agent/engine.h"
#include "agent/health.h"
#include "agent/procevent.h"
#include "agent/procstat.h"
#include "agent/taskjournal.h"
#include "agent/tasks.h"
#include "util/evloop.h"

#define AGENT_UNREPORTED_MAX 64 /* tasks remembered as not yet reported */

struct watched {
	char id[DISCOVER_ID_LEN + 1];
	char service[DISCOVER_NAME_MAX];
	char instance[DISCOVER_NAME_MAX];
	uint32_t pid; /* 0 while the process is gone */
	int64_t gone_mono_ms;
	struct procstat_proc stat;
};

struct agent {
	struct agent_options opts;
	char *policy_dir;
	struct evloop *loop;
	struct procevents *procevents;
	struct discover *discover;
	struct procstat *procstat;
	struct engine *engine;
	struct taskmgr *tasks;
	struct uplink *uplink;
	struct taskjournal *journal; /* running tasks on disk; NULL if unavailable */
	struct httpmon *httpmon;     /* NULL when BPF is unavailable */
	struct httpagg *httpagg;
	struct watched *watched;
	size_t n_watched, cap_watched;
	json_t *versions; /* service -> version held ("" none) */
	bool processes_changed;
	char *manual_ids[AGENT_MANUAL_IDS_REMEMBERED];
	/* Running tasks whose start report could not be spooled (disk full):
	 * it is spooled again before their next slice or their end. */
	char unreported[AGENT_UNREPORTED_MAX][TASK_ID_MAX];
	size_t n_unreported;
	/* Ended tasks whose end could not be spooled yet: tried again every
	 * tick, so no task stays RUNNING on the server for a full disk. Their
	 * journal entries stay until then. */
	struct task_info pending_ends[AGENT_UNREPORTED_MAX];
	size_t n_pending_ends;
	uint64_t ends_lost; /* pending list full: left to the journal or the server */
	size_t manual_next;
	uint64_t ticks, tick_overruns;
	int64_t tick_second;  /* the engine's slot of the current tick */
	int64_t tick_wall_ms; /* wall clock when the current tick began */
	int64_t tick_last_ns, tick_max_ns;
	uint64_t tasks_started, tasks_failed;
	uint64_t procevents_dropped_seen, rescans_forced;
	struct evloop_timer *procevents_batch; /* the events fd's pause; armed while it rests */
	/* The records of one consume, delivered after it (see agent.c). */
	_Alignas(8) unsigned char events[AGENT_PROCEVENTS_BATCH_BYTES]; /* records, 8-aligned */
	size_t events_used;
	int64_t next_publish_boot_ms; /* a young process becomes reportable then; 0 none */
	struct health_server *health;
	/* The agent's CPU time at the last ticks, for its CPU % (only with health). */
	double cpu_ring_s[HEALTH_CPU_WINDOW_TICKS + 1];
	int64_t cpu_ring_ms[HEALTH_CPU_WINDOW_TICKS + 1];
	size_t cpu_ring_len, cpu_ring_next;
	sigset_t stop_signals;
};

static inline int64_t agent_clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* agent.c */
struct watched *agent_find_watched(struct agent *a, const char *id);
/* A process as register shows it (new reference, NULL on ENOMEM). */
json_t *agent_process_json(const struct discover_proc *p);
/* Watches exactly the live processes whose service has a policy. */
void agent_rewatch_all(struct agent *a);

/* agent_procevents.c */
/* procevents handler: holds one record for the next delivery. */
void agent_on_procevent(const struct procevent_record *r, void *ctx);
/* The ring's fd is readable: delivers, then pauses it for a batch. */
void agent_on_procevents_ready(struct evloop *loop, int fd, uint32_t events, void *ctx);
/* The periodic rescan timer (DISCOVER_RESCAN_INTERVAL_MS). */
void agent_on_rescan(struct evloop *loop, uint64_t expirations, void *ctx);
/* Rescans in full when the kernel dropped events since the last check. */
void agent_check_procevents_dropped(struct agent *a);

/* agent_policies.c */
/* Installs (doc != NULL) or removes a service's policy, keeping it on disk
 * when `persist`; a refused document is logged and changes nothing. */
void agent_apply_policy(struct agent *a, const char *service, const char *version,
			const json_t *doc, bool persist);
/* Applies every policy kept in the policy directory. */
void agent_load_persisted_policies(struct agent *a);
/* uplink handler: a policy changed on the server. */
void agent_on_policy(void *ctx, const char *service, const char *version, const json_t *doc);

/* agent_tasks.c */
void agent_on_manual_task(void *ctx, const json_t *task);
void agent_on_task_started(void *ctx, const struct task_info *t);
void agent_on_task_ended(void *ctx, const struct task_info *t);
void agent_on_topology(void *ctx, const char *task_id, const json_t *doc);
void agent_on_slice(void *ctx, const char *task_id, uint32_t slice_no, int64_t start_ms,
		    int64_t end_ms, const struct profile_stack *stacks, size_t n_stacks,
		    const struct profile_slice_stats *stats);
void agent_on_decision(const struct engine_decision *d, void *ctx);
/* Reports FAILED every task an earlier run of the agent left running (it was
 * killed or crashed): they are in the task journal. */
void agent_fail_abandoned_tasks(struct agent *a);
/* Spools the task ends that could not be spooled when the tasks ended. */
void agent_retry_pending_ends(struct agent *a);

#endif
