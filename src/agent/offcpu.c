/* offcpu: see offcpu.h. */
#include "agent/offcpu.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/bpfutil.h"
#include "agent/snapunwind.h"
#include "agent/unwind_abi.h"
#include "agent/stackprof.h"
#include "util/log.h"
#include "offcpu.skel.h"

struct offcpu_state {
	struct offcpu_bpf *skel;
	struct snapunwind *unwound;
	const char *mode;
};

static const char *current_mode;

static void offcpu_close(void *p)
{
	struct offcpu_state *st = p;

	if (!st)
		return;
	if (st->unwound) {
		snapunwind_log_stats(st->unwound, "off-CPU profiler",
				     st->skel->bss->unwind_dropped);
		st->unwound = snapunwind_stop(st->unwound);
	}
	offcpu_bpf__destroy(st->skel);
	free(st);
	current_mode = NULL;
}

/* Opens, loads and attaches with one of the two programs. */
static int try_mode(struct offcpu_state *st, bool btf)
{
	int err;

	st->skel = offcpu_bpf__open();
	if (!st->skel)
		return -errno ? -errno : -ENOMEM;
	st->skel->rodata->min_block_ns = profiler_get_config()->offcpu_min_block_ns;
	if (!profiler_get_config()->frame_pointers_only)
		st->skel->rodata->unwind_stack_max = UNWIND_STACK_MAX;
	bpf_program__set_autoload(st->skel->progs.offcpu_switch_btf, btf);
	bpf_program__set_autoload(st->skel->progs.offcpu_switch_raw, !btf);
	err = profiler_size_stack_maps(st->skel->maps.stacks_0, st->skel->maps.stacks_1);
	if (!err)
		err = offcpu_bpf__load(st->skel);
	if (!err)
		err = offcpu_bpf__attach(st->skel);
	if (err) {
		offcpu_bpf__destroy(st->skel);
		st->skel = NULL;
		return err;
	}
	st->mode = btf ? "tp_btf" : "raw_tp";
	return 0;
}

static int offcpu_open(void **ret_state, struct stackdrain_maps *maps, int *ret_pids_fd,
		       char *reason, size_t reason_len)
{
	struct offcpu_state *st = calloc(1, sizeof(*st));
	int err;

	if (!st) {
		snprintf(reason, reason_len, "off-CPU profiler: out of memory");
		return -ENOMEM;
	}
	err = bpfutil_setup();
	if (err) {
		snprintf(reason, reason_len, "off-CPU profiler: tracefs: %s", strerror(-err));
		goto fail;
	}
	if (profiler_get_config()->offcpu_raw_tp_only) {
		err = try_mode(st, false);
	} else {
		err = try_mode(st, true);
		if (err) {
			log_debug("offcpu: tp_btf sched_switch unavailable (%s), trying raw "
				  "tracepoint",
				  strerror(-err));
			err = try_mode(st, false);
		}
	}
	if (err) {
		snprintf(reason, reason_len,
			 "off-CPU profiler: cannot load or attach sched_switch (tp_btf nor raw "
			 "tracepoint): %s",
			 strerror(-err));
		goto fail;
	}
	if (st->skel->rodata->unwind_stack_max) {
		st->unwound = snapunwind_start(bpf_map__fd(st->skel->maps.snapshots),
					       bpf_map__fd(st->skel->maps.fp_complete),
					       bpf_map__fd(st->skel->maps.unwind_sites));
		if (!st->unwound) {
			err = -errno;
			snprintf(reason, reason_len, "off-CPU profiler: cannot start unwinding: %s",
				 strerror(-err));
			goto fail;
		}
	}
	maps->unwound = st->unwound;
	maps->counts_fd[0] = bpf_map__fd(st->skel->maps.counts_0);
	maps->counts_fd[1] = bpf_map__fd(st->skel->maps.counts_1);
	maps->stacks_fd[0] = bpf_map__fd(st->skel->maps.stacks_0);
	maps->stacks_fd[1] = bpf_map__fd(st->skel->maps.stacks_1);
	maps->starts_fd = bpf_map__fd(st->skel->maps.starts);
	maps->gen = &st->skel->bss->gen;
	maps->counts_max = bpf_map__max_entries(st->skel->maps.counts_0);
	*ret_pids_fd = bpf_map__fd(st->skel->maps.pids);
	current_mode = st->mode;
	*ret_state = st;
	return 0;
fail:
	offcpu_close(st);
	return err < 0 ? err : -EINVAL;
}

const char *offcpu_attach_mode(void)
{
	return current_mode;
}

static const struct stackprof_backend offcpu_backend = {
    .target = POLICY_TARGET_OFF_CPU,
    .name = "off-CPU profiler",
    .open = offcpu_open,
    .close = offcpu_close,
};

static int offcpu_start(const char *task_id, const pid_t *pids, size_t n_pids,
			struct profiler_session **ret, char *reason, size_t reason_len)
{
	return stackprof_start(&offcpu_backend, task_id, pids, n_pids, ret, reason, reason_len);
}

const struct profiler_ops offcpu_profiler = {
    .target = POLICY_TARGET_OFF_CPU,
    .name = "offcpu",
    .start = offcpu_start,
    .update_pids = stackprof_update_pids,
    .flush = stackprof_flush,
    .stop = stackprof_stop,
};
