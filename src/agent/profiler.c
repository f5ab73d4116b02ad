/* profiler: the registry of profilers by target (see profiler.h). Each
 * profiler module adds its ops here when it lands; a target with none is
 * reported honestly as not available, so its tasks fail with that reason. */
#include "agent/profiler.h"

#include <bpf/libbpf.h>
#include <stdio.h>

#include "agent/netprof.h"
#include "agent/offcpu.h"
#include "agent/oncpu.h"

static const struct profiler_ops *const registry[POLICY_TARGET_COUNT] = {
    [POLICY_TARGET_ON_CPU] = &oncpu_profiler,
    [POLICY_TARGET_OFF_CPU] = &offcpu_profiler,
    [POLICY_TARGET_NETWORK] = &netprof_profiler,
};

static struct profiler_config config = {
    .oncpu_hz = PROFILER_DEFAULT_ONCPU_HZ,
    .offcpu_min_block_ns = PROFILER_DEFAULT_OFFCPU_MIN_BLOCK_NS,
    .stack_map_entries = PROFILER_DEFAULT_STACK_MAP_ENTRIES,
};

void profiler_configure(const struct profiler_config *c)
{
	config.oncpu_hz = c->oncpu_hz ? c->oncpu_hz : PROFILER_DEFAULT_ONCPU_HZ;
	if (config.oncpu_hz > PROFILER_ONCPU_HZ_MAX)
		config.oncpu_hz = PROFILER_ONCPU_HZ_MAX;
	config.offcpu_min_block_ns = c->offcpu_min_block_ns;
	config.frame_pointers_only = c->frame_pointers_only;
	config.stack_map_entries =
	    c->stack_map_entries ? c->stack_map_entries : PROFILER_DEFAULT_STACK_MAP_ENTRIES;
	if (config.stack_map_entries > PROFILER_STACK_MAP_ENTRIES_MAX)
		config.stack_map_entries = PROFILER_STACK_MAP_ENTRIES_MAX;
	config.offcpu_raw_tp_only = c->offcpu_raw_tp_only;
}

const struct profiler_config *profiler_get_config(void)
{
	return &config;
}

int profiler_size_stack_maps(struct bpf_map *stacks_0, struct bpf_map *stacks_1)
{
	int err = bpf_map__set_max_entries(stacks_0, config.stack_map_entries);

	return err ? err : bpf_map__set_max_entries(stacks_1, config.stack_map_entries);
}

const struct profiler_ops *profiler_for(enum policy_target target, char *reason, size_t reason_len)
{
	if ((unsigned)target >= POLICY_TARGET_COUNT) {
		snprintf(reason, reason_len, "unknown target");
		return NULL;
	}
	if (!registry[target])
		snprintf(reason, reason_len, "%s profiler not available in this build",
			 policy_target_name(target));
	return registry[target];
}
