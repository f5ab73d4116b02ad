/* procevents (user side): loads procevent.bpf.c and delivers process exec and
 * exit events to a callback. The caller owns the loop: it polls the fd from
 * procevents_fd() (epoll) and calls procevents_consume() when readable. A
 * record handed to the callback is valid during the call only (copy
 * procevent_record_size() bytes to keep it). Not thread-safe; one owner. */
#ifndef CONTPROF_AGENT_PROCEVENTS_H
#define CONTPROF_AGENT_PROCEVENTS_H

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/procevent.h"

struct procevents;

typedef void (*procevents_fn)(const struct procevent_record *record, void *ctx);

/* Opens, loads and attaches the programs. Returns 0 and *ret, or -errno. */
int procevents_open(procevents_fn fn, void *ctx, struct procevents **ret);
/* Detaches and frees; accepts NULL; returns NULL. */
struct procevents *procevents_close(struct procevents *pe);
int procevents_fd(const struct procevents *pe);
/* Delivers every pending record; returns how many, or -errno. */
int procevents_consume(struct procevents *pe);
/* Waits up to timeout_ms for records and delivers them. */
int procevents_poll(struct procevents *pe, int timeout_ms);
/* Records the kernel could not queue (ring buffer full). */
uint64_t procevents_dropped(const struct procevents *pe);

/* A record's bytes: the header and its command line. */
size_t procevent_record_size(const struct procevent_record *r);
/* An exec record's start time in clock ticks since boot, as
 * /proc/PID/stat's field 22 gives it (ticks_per_s: sysconf(_SC_CLK_TCK)).
 * 0, or -ENODATA when the record has no details. */
int procevent_start_time_ticks(const struct procevent_record *r, long ticks_per_s,
			       uint64_t *ret_ticks);

#endif
