/* agent_procevents: the agent's side of exec/exit events and rescans —
 * records are held for AGENT_PROCEVENTS_BATCH_MS after the ring wakes the
 * loop, then handed to discover in order (the exec of a process that exited
 * in the same batch is skipped); a loss of events forces a full rescan; the
 * periodic rescan. Part of the agent module (agent_impl.h); runs on the loop
 * thread. */
#include "agent/agent_impl.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>

#include "agent/discover.h"
#include "agent/procevents.h"
#include "util/evloop.h"
#include "util/log.h"

/* Events the kernel could not queue mean a missed exec or exit: rescan now
 * rather than at the next periodic scan. Checked every tick. */
void agent_check_procevents_dropped(struct agent *a)
{
	uint64_t dropped = procevents_dropped(a->procevents);

	if (dropped == a->procevents_dropped_seen)
		return;
	log_warn("agent: %" PRIu64 " exec/exit events dropped; rescanning /proc",
		 dropped - a->procevents_dropped_seen);
	a->procevents_dropped_seen = dropped;
	a->rescans_forced++;
	if (discover_scan_full(a->discover) < 0)
		log_warn("agent: cannot scan /proc");
}

/* Held records are packed in a->events, each at an 8-byte boundary. */
_Static_assert(AGENT_PROCEVENTS_BATCH_BYTES >=
		   sizeof(struct procevent_record) + PROCEVENT_CMDLINE_MAX,
	       "a batch holds the largest record");
static size_t event_span(const struct procevent_record *r)
{
	return (procevent_record_size(r) + 7) & ~(size_t)7;
}

/* Hands the held records to discover in order, but for the exec of a
 * process whose exit is in the same batch: it is gone, and probing it would
 * cost a failed /proc lookup (a busy host runs many short commands). */
static void deliver_procevents(struct agent *a)
{
	for (size_t i = 0; i < a->events_used;) {
		const struct procevent_record *r = (const void *)(a->events + i);
		size_t next = i + event_span(r);
		bool exited = false;

		for (size_t j = next; r->kind == PROCEVENT_EXEC && j < a->events_used && !exited;) {
			const struct procevent_record *later = (const void *)(a->events + j);

			exited = later->kind == PROCEVENT_EXIT && later->pid == r->pid;
			j += event_span(later);
		}
		if (!exited)
			discover_handle_event(a->discover, r);
		i = next;
	}
	a->events_used = 0;
}

void agent_on_procevent(const struct procevent_record *r, void *ctx)
{
	struct agent *a = ctx;
	size_t span = event_span(r);

	if (a->events_used + span > sizeof(a->events))
		deliver_procevents(a);
	memcpy(a->events + a->events_used, r, procevent_record_size(r));
	a->events_used += span;
}

/* Takes every pending exec/exit record and applies them. */
static void consume_procevents(struct agent *a)
{
	procevents_consume(a->procevents);
	deliver_procevents(a);
}

/* The end of a batching pause: take what came meanwhile, listen again. */
static void on_procevents_batch(struct evloop *loop, uint64_t expirations, void *ctx)
{
	struct agent *a = ctx;

	(void)expirations;
	consume_procevents(a);
	if (evloop_mod_fd(loop, procevents_fd(a->procevents), EPOLLIN) < 0)
		log_error("agent: cannot listen to exec/exit events any more");
}

/* Exec/exit events: handled at once, then the fd rests for
 * AGENT_PROCEVENTS_BATCH_MS, so a host that starts many short processes
 * wakes the agent a few times a second, not once per process. The pause's
 * one-shot timer is made once and armed again for each pause. */
void agent_on_procevents_ready(struct evloop *loop, int fd, uint32_t events, void *ctx)
{
	struct agent *a = ctx;
	int err;

	(void)events;
	consume_procevents(a);
	if (a->procevents_batch)
		err = evloop_arm_timer(loop, a->procevents_batch, AGENT_PROCEVENTS_BATCH_MS);
	else
		err = evloop_add_timer(loop, AGENT_PROCEVENTS_BATCH_MS, 0, on_procevents_batch, a,
				       &a->procevents_batch);
	if (err == 0)
		evloop_mod_fd(loop, fd, 0);
}

void agent_on_rescan(struct evloop *loop, uint64_t expirations, void *ctx)
{
	struct agent *a = ctx;

	(void)loop;
	(void)expirations;
	/* Exits that came meanwhile first: the scan trusts them, unless some
	 * were lost (then the scan is a full one). */
	if (a->procevents) {
		consume_procevents(a);
		if (procevents_dropped(a->procevents) != a->procevents_dropped_seen) {
			agent_check_procevents_dropped(a);
			return;
		}
	}
	if (discover_scan(a->discover) < 0)
		log_warn("agent: cannot scan /proc");
}
