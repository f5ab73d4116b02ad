/* procevents: see procevents.h. */
#include "agent/procevents.h"

#include <errno.h>
#include <stdlib.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "procevent.skel.h"

struct procevents {
	struct procevent_bpf *skel;
	struct ring_buffer *ring;
	procevents_fn fn;
	void *ctx;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct procevents *pe = ctx;
	const struct procevent_record *r = data;

	if (size < sizeof(*r) || r->cmdline_copied > size - sizeof(*r) ||
	    r->cmdline_copied > PROCEVENT_CMDLINE_MAX)
		return 0;
	pe->fn(r, pe->ctx);
	return 0;
}

int procevents_open(procevents_fn fn, void *ctx, struct procevents **ret)
{
	struct procevents *pe = calloc(1, sizeof(*pe));
	int err;

	if (!pe)
		return -ENOMEM;
	pe->fn = fn;
	pe->ctx = ctx;
	pe->skel = procevent_bpf__open();
	if (!pe->skel) {
		err = -errno;
		goto fail;
	}
	err = procevent_bpf__load(pe->skel);
	if (err)
		goto fail;
	err = procevent_bpf__attach(pe->skel);
	if (err)
		goto fail;
	pe->ring = ring_buffer__new(bpf_map__fd(pe->skel->maps.events), on_record, pe, NULL);
	if (!pe->ring) {
		err = -errno;
		goto fail;
	}
	*ret = pe;
	return 0;
fail:
	procevents_close(pe);
	return err < 0 ? err : -EINVAL;
}

struct procevents *procevents_close(struct procevents *pe)
{
	if (!pe)
		return NULL;
	ring_buffer__free(pe->ring);
	procevent_bpf__destroy(pe->skel);
	free(pe);
	return NULL;
}

int procevents_fd(const struct procevents *pe)
{
	return ring_buffer__epoll_fd(pe->ring);
}

int procevents_consume(struct procevents *pe)
{
	return ring_buffer__consume(pe->ring);
}

int procevents_poll(struct procevents *pe, int timeout_ms)
{
	return ring_buffer__poll(pe->ring, timeout_ms);
}

uint64_t procevents_dropped(const struct procevents *pe)
{
	__u32 zero = 0;
	__u64 n = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(pe->skel->maps.dropped), &zero, &n))
		return 0;
	return n;
}

size_t procevent_record_size(const struct procevent_record *r)
{
	return sizeof(*r) + r->cmdline_copied;
}

int procevent_start_time_ticks(const struct procevent_record *r, long ticks_per_s,
			       uint64_t *ret_ticks)
{
	if (!(r->flags & PROCEVENT_F_DETAILS) || ticks_per_s <= 0 || 1000000000L % ticks_per_s != 0)
		return -ENODATA;
	/* What /proc/PID/stat shows: the kernel's nsec_to_clock_t(). */
	*ret_ticks = r->start_boottime_ns / (uint64_t)(1000000000L / ticks_per_s);
	return 0;
}
