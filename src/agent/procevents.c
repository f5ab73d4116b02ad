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

	if (size < sizeof(struct procevent_record))
		return 0;
	pe->fn(data, pe->ctx);
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
