/* oncpu: see oncpu.h. */
#include "agent/oncpu.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/bpfutil.h"
#include "agent/cpus.h"
#include "agent/snapunwind.h"
#include "agent/unwind_abi.h"
#include "agent/stackprof.h"
#include "oncpu.skel.h"

struct oncpu_state {
	struct oncpu_bpf *skel;
	struct snapunwind *unwound;
	struct bpf_link **links;
	int *fds;
	size_t n;
};

static void oncpu_close(void *p)
{
	struct oncpu_state *st = p;

	if (!st)
		return;
	if (st->unwound) {
		snapunwind_log_stats(st->unwound, "on-CPU profiler", st->skel->bss->unwind_dropped);
		st->unwound = snapunwind_stop(st->unwound);
	}
	for (size_t i = 0; i < st->n; i++) {
		bpf_link__destroy(st->links[i]);
		if (st->fds[i] >= 0)
			close(st->fds[i]);
	}
	free(st->links);
	free(st->fds);
	oncpu_bpf__destroy(st->skel);
	free(st);
}

static int open_cpu_clock(int cpu, uint32_t hz)
{
	struct perf_event_attr attr = {
	    .type = PERF_TYPE_SOFTWARE,
	    .size = sizeof(attr),
	    .config = PERF_COUNT_SW_CPU_CLOCK,
	    .sample_freq = hz,
	    .freq = 1,
	};
	long fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : (int)fd;
}

static int oncpu_open(void **ret_state, struct stackdrain_maps *maps, int *ret_pids_fd,
		      char *reason, size_t reason_len)
{
	uint32_t hz = profiler_get_config()->oncpu_hz;
	struct oncpu_state *st = calloc(1, sizeof(*st));
	int *cpus = NULL, n_cpus, err;

	if (!st) {
		snprintf(reason, reason_len, "on-CPU profiler: out of memory");
		return -ENOMEM;
	}
	err = bpfutil_setup();
	if (err) {
		snprintf(reason, reason_len, "on-CPU profiler: tracefs: %s", strerror(-err));
		goto fail;
	}
	n_cpus = cpus_online(&cpus);
	if (n_cpus <= 0) {
		err = n_cpus < 0 ? n_cpus : -ENODEV;
		snprintf(reason, reason_len, "on-CPU profiler: cannot list online CPUs: %s",
			 strerror(-err));
		goto fail;
	}
	st->links = calloc((size_t)n_cpus, sizeof(*st->links));
	st->fds = calloc((size_t)n_cpus, sizeof(*st->fds));
	st->skel = oncpu_bpf__open();
	if (!st->links || !st->fds || !st->skel) {
		err = -ENOMEM;
		snprintf(reason, reason_len, "on-CPU profiler: cannot open the BPF object");
		goto fail;
	}
	if (!profiler_get_config()->frame_pointers_only)
		st->skel->rodata->unwind_stack_max = UNWIND_STACK_MAX;
	err = profiler_size_stack_maps(st->skel->maps.stacks_0, st->skel->maps.stacks_1);
	if (!err)
		err = oncpu_bpf__load(st->skel);
	if (err) {
		snprintf(reason, reason_len, "on-CPU profiler: cannot load the BPF program: %s",
			 strerror(-err));
		goto fail;
	}
	if (st->skel->rodata->unwind_stack_max) {
		st->unwound = snapunwind_start(bpf_map__fd(st->skel->maps.snapshots),
					       bpf_map__fd(st->skel->maps.fp_complete),
					       bpf_map__fd(st->skel->maps.unwind_sites));
		if (!st->unwound) {
			err = -errno;
			snprintf(reason, reason_len, "on-CPU profiler: cannot start unwinding: %s",
				 strerror(-err));
			goto fail;
		}
	}
	for (int i = 0; i < n_cpus; i++) {
		int fd = open_cpu_clock(cpus[i], hz);

		if (fd == -ENODEV)
			continue; /* went offline meanwhile */
		if (fd < 0) {
			err = fd;
			snprintf(reason, reason_len,
				 "on-CPU profiler: perf_event_open(cpu-clock, cpu %d): %s", cpus[i],
				 strerror(-err));
			goto fail;
		}
		st->fds[st->n] = fd;
		st->links[st->n] = bpf_program__attach_perf_event(st->skel->progs.oncpu_sample, fd);
		st->n++;
		if (!st->links[st->n - 1]) {
			err = -errno;
			snprintf(reason, reason_len,
				 "on-CPU profiler: cannot attach to cpu-clock of cpu %d: %s",
				 cpus[i], strerror(-err));
			goto fail;
		}
	}
	maps->counts_fd[0] = bpf_map__fd(st->skel->maps.counts_0);
	maps->counts_fd[1] = bpf_map__fd(st->skel->maps.counts_1);
	maps->stacks_fd[0] = bpf_map__fd(st->skel->maps.stacks_0);
	maps->stacks_fd[1] = bpf_map__fd(st->skel->maps.stacks_1);
	maps->starts_fd = -1;
	maps->unwound = st->unwound;
	maps->gen = &st->skel->bss->gen;
	maps->counts_max = bpf_map__max_entries(st->skel->maps.counts_0);
	*ret_pids_fd = bpf_map__fd(st->skel->maps.pids);
	free(cpus);
	*ret_state = st;
	return 0;
fail:
	free(cpus);
	oncpu_close(st);
	return err < 0 ? err : -EINVAL;
}

static const struct stackprof_backend oncpu_backend = {
    .target = POLICY_TARGET_ON_CPU,
    .name = "on-CPU profiler",
    .open = oncpu_open,
    .close = oncpu_close,
};

static int oncpu_start(const char *task_id, const pid_t *pids, size_t n_pids,
		       struct profiler_session **ret, char *reason, size_t reason_len)
{
	return stackprof_start(&oncpu_backend, task_id, pids, n_pids, ret, reason, reason_len);
}

const struct profiler_ops oncpu_profiler = {
    .target = POLICY_TARGET_ON_CPU,
    .name = "oncpu",
    .start = oncpu_start,
    .update_pids = stackprof_update_pids,
    .flush = stackprof_flush,
    .stop = stackprof_stop,
};
